//! The Verilog backend: an annotated [`Plan`] becomes a latency-first,
//! fully unrolled Verilog-2005 design with an AXI-Stream-compatible top.
//!
//! All arithmetic decisions (widths, constants, rounding) come from the
//! plan; [`rtl`] builds each layer module as a netlist
//! ([`crate::arch::netlist`]) of exact-width cells, which its one writer
//! prints; the top's handshake is the Askama template `templates/verilog/top.v`.

mod cmvm;
pub mod files;
pub mod keywords;
mod recurrent;
pub mod rtl;
pub mod stream;
pub mod synth;

use askama::Template;
use serde::Serialize;

use self::keywords::Namer;
use self::rtl::{width, Counts, Rtl, Sig, Term};
use crate::arch::fabric::Fabric;
use crate::arch::netlist::{Cell, Cmp, NetId, Requant};
use crate::error::{Error, Result};
use crate::fxp::FixedFormat;
use crate::ir::Graph;
use crate::arch::schedule::{Arch, Schedule};
use crate::plan::{Act, MergeKind, Plan, StepOp};

/// Target options of `qkhw gen --target verilog`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Register every N adder-tree levels (a stage is N adder levels deep).
    pub pipeline_levels: u32,
    /// Constant multiplies as canonical-signed-digit shift-adds (no DSPs).
    pub no_dsp: bool,
    /// Folded layers: two output lanes' products in one DSP48 slice where
    /// they fit it ([`crate::arch::folded::Packing`]).
    pub pack_dsp: bool,
    /// Ports `aclk`, `aresetn`, `s_axis_*`, `m_axis_*` (Vivado infers AXIS).
    pub axis_names: bool,
    /// `set_internal_sigmoid`, recorded in the interface.
    pub internal_sigmoid: crate::quant::InternalSigmoid,
    /// qkhw version and model SHA-256 for file headers.
    pub header: String,
    /// `--reuse-factor`: every foldable layer's reuse factor (the
    /// `--config` tables override it per layer).
    pub reuse_factor: Option<usize>,
    /// The nominal clock period (ns) for the constraints and the report.
    pub clock_period: f64,
    /// The part the report compares resources with.
    pub part: crate::arch::part::Part,
    /// Folded layers' ROMs: contents inline (default) or `$readmemh` files.
    pub rom_init_file: bool,
    /// `rom_style` attribute on the ROMs (`block`, `distributed`).
    pub rom_style: Option<crate::arch::netlist::RomStyle>,
    /// `--budget`: choose the reuse factors (the smallest initiation
    /// interval whose estimate fits) instead of `reuse_factor`.
    pub budget: Option<crate::arch::schedule::Budget>,
    /// `--io`: whole samples per transfer, or the streaming architecture.
    pub io: Io,
    /// Streaming joins: FIFOs of exactly the deadlock-free minimum instead
    /// of twice it (which keeps every stage at full rate; the minimum can
    /// throttle the fork: resnet8 at R = 256 takes 1,072,512 cycles per
    /// image with minimal FIFOs, 294,912 with doubled ones).
    pub fifo_minimum: bool,
    /// Layers whose constant products are shift-adds in the default mode
    /// too: those `--budget` unrolls, which it counts no DSP48 (a
    /// constant multiplier of 9 bits or more is a DSP48 to Yosys:
    /// cross-check batch 11's 120 estimated took 280).
    pub shift_add_layers: std::collections::BTreeSet<String>,
    /// Every constant product a shift-add: where `--budget` found the
    /// constant multipliers of the layers that do not fold take more DSP48
    /// than it leaves them ([`BudgetEstimate::const_shift_adds`]).
    pub const_shift_adds: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pipeline_levels: 4,
            no_dsp: false,
            pack_dsp: false,
            axis_names: false,
            internal_sigmoid: crate::quant::InternalSigmoid::Hard,
            header: String::new(),
            reuse_factor: None,
            clock_period: 5.0,
            part: Default::default(),
            rom_init_file: false,
            rom_style: None,
            budget: None,
            io: Io::Parallel,
            fifo_minimum: false,
            shift_add_layers: Default::default(),
            const_shift_adds: false,
        }
    }
}

/// One port of the top, as `interface.json` states it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Port {
    pub shape: Vec<usize>,
    pub width: u32,
    pub frac: i32,
    pub signed: bool,
    pub tdata_width: u32,
    /// A model with several outputs: where each lies in this port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<crate::plan::OutputPart>,
    /// How a sample crosses the port: whole (`parallel`) or in beats.
    #[serde(default, skip_serializing_if = "Io::is_parallel")]
    pub io: Io,
    /// A streamed port: the elements of one beat (C order) and the beats
    /// of one sample.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub beat_shape: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beats: Option<usize>,
    /// An input port of a model with several inputs: the model input's
    /// name and the port's signal prefix (`input_<name>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
}

/// How samples cross a port of the design (`--io`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Io {
    /// One whole sample per transfer.
    #[default]
    #[value(help = "One whole sample per transfer")]
    Parallel,
    /// Pixel by pixel: `beats` transfers of `beat_shape` elements, TLAST
    /// on a sample's last beat.
    #[value(help = "Pixel by pixel (rows of a sequence), TLAST on a sample's last beat")]
    Stream,
}

impl Io {
    pub fn is_parallel(&self) -> bool {
        *self == Io::Parallel
    }
}

impl Port {
    /// The port of a plan step's tensor, `tdata_width` bits per transfer;
    /// `beats` (beat shape, beats per sample) for a streamed port.
    pub fn of(st: &crate::plan::Step, tdata_width: u32, beats: Option<(Vec<usize>, usize)>) -> Port {
        // A streaming design's port streams even where a sample is one
        // beat: its TLAST marks each sample's last beat, where a parallel
        // port's travels with the sample the input's marked (an MLP
        // streamed in one beat each way was verified as parallel, and its
        // TLAST failed).
        let (io, beat_shape, beats) = match beats {
            Some((shape, n)) => (Io::Stream, shape, Some(n)),
            None => (Io::Parallel, vec![], None),
        };
        Port { shape: st.shape.clone(), width: st.fmt.width, frac: st.fmt.frac, signed: st.fmt.signed, tdata_width, parts: vec![], io, beat_shape, beats, name: None, port: None }
    }

    /// Elements and beats of one transfer (1 beat for a parallel port).
    pub fn beat(&self) -> (usize, usize) {
        match self.io {
            Io::Parallel => (self.shape.iter().product(), 1),
            Io::Stream => (self.beat_shape.iter().product(), self.beats.unwrap_or(1).max(1)),
        }
    }
}

/// The contract of a generated design (`interface.json`): what users wire
/// into their RTL and their own benches test against, so it is written
/// into every design folder and read back by `verify --design`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Interface {
    pub top: String,
    pub clock: String,
    pub reset: String,
    pub reset_active_low: bool,
    /// The input port (the first, where the model has several).
    pub input: Port,
    /// A model with several inputs: one port per input, in model order,
    /// each with its `name` and `port` prefix (DESIGN.md, several inputs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Port>,
    pub output: Port,
    /// The cycles from an accepted sample's first input beat to its
    /// output's first beat (one beat each unless a port streams).
    pub latency_cycles: u32,
    /// A streaming design: the cycles from a sample's last input beat to
    /// its output's last beat, at full rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_last_cycles: Option<i64>,
    /// A streaming design: the samples a run at full rate needs to see
    /// the largest latencies and interval stated here (they can vary by a
    /// few cycles from sample to sample while folded stages drift against
    /// each other); a shorter run sees at most these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing_samples: Option<u32>,
    /// A streaming design whose timing repeats: its steady state (the
    /// throughput). `initiation_interval` is the largest interval, which a
    /// sample of the pipeline filling can set (n08 of cross-check batch 8
    /// at R = 4: 395 cycles at most, 200 a sample from its eighth on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady: Option<crate::arch::timing::Steady>,
    pub initiation_interval: u32,
    pub internal_sigmoid: crate::quant::InternalSigmoid,
}

impl Interface {
    /// Cycles a sample at full rate: the steady state's (its throughput)
    /// where stated, else the initiation interval.
    pub fn cycles_per_sample(&self) -> f64 {
        self.steady.map_or(f64::from(self.initiation_interval.max(1)), |st| st.per_sample().min(f64::from(self.initiation_interval.max(1))))
    }

    /// Each input port with its signal prefix, in model order (one, named
    /// `input` or `s_axis`, unless the model has several inputs).
    pub fn input_ports(&self) -> Vec<(String, &Port)> {
        if self.inputs.is_empty() {
            let prefix = if self.reset_active_low { "s_axis" } else { "input" };
            return vec![(prefix.to_string(), &self.input)];
        }
        self.inputs.iter().map(|p| (p.port.clone().unwrap_or_default(), p)).collect()
    }

    /// Whether a port streams a sample in beats (a streaming design).
    pub fn streams(&self) -> bool {
        self.input_ports().iter().any(|(_, p)| !p.io.is_parallel()) || !self.output.io.is_parallel()
    }
}

/// A per-layer line of the report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LayerReport {
    pub layer: String,
    pub module: String,
    /// Cycles from the input register to this layer's output.
    pub stage: u32,
    pub latency: u32,
    #[serde(flatten)]
    pub counts: Counts,
}

/// A layer output the verify harness can watch (`QKHW_TAPS` builds).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Tap {
    pub layer: String,
    pub signal: String,
    pub step: usize,
    pub stage: u32,
    pub elements: usize,
    pub width: u32,
    pub signed: bool,
    /// 0: the whole value, read `stage` cycles after the sample's input;
    /// else a streamed layer: `elements` per beat, `beats` beats a sample,
    /// each read when the probe `fire` is high.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub beats: usize,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fire: String,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A generated Verilog design in memory: its files, its interface and the
/// per-layer report, before [`files::write`] lays it out as a folder.
#[derive(Debug, Clone)]
pub struct Design {
    pub top: String,
    /// (file name, contents), in filelist order.
    pub files: Vec<(String, String)>,
    pub interface: Interface,
    pub layers: Vec<LayerReport>,
    pub taps: Vec<Tap>,
    /// ROM contents for `$readmemh` (`--rom-init file`): (file, text).
    pub memories: Vec<(String, String)>,
    /// The FIFOs of a streaming design (in `report.json`), whose
    /// occupancy `verify` reports and whose fill it names on a stall.
    pub fifos: Vec<FifoInfo>,
    /// The whole design's fabric (every module's cells, the top's
    /// included): its LUT and FF estimate.
    pub fabric: Fabric,
    /// Flip-flop bits of the top's datapath (the registers that align
    /// the layers' inputs), which no layer's row counts.
    pub top_ff_bits: usize,
}

impl Design {
    /// The design's DSP48 and BRAM36 by the estimate, summed over its
    /// layers (report.json's), which `--budget` weighs candidates by.
    pub fn estimate(&self) -> crate::arch::schedule::Estimate {
        crate::arch::schedule::Estimate { dsp: self.layers.iter().map(|l| l.counts.dsp_estimate).sum(), bram36: self.layers.iter().map(|l| l.counts.bram36_estimate).sum() }
    }
}

/// A FIFO of a streaming design, as `report.json` lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FifoInfo {
    /// What it buffers: `<join stage> input <k>`.
    pub name: String,
    /// Its instance in the top module (its probes are `<instance>.level`,
    /// the words held, and `<instance>.full`).
    pub instance: String,
    /// Its module (and file, `<module>.v`).
    pub module: String,
    /// Words it holds.
    pub capacity: usize,
    /// The deadlock-free minimum (fewer words can deadlock the design).
    pub minimum: usize,
    /// The most words it holds with the input offered at full rate and
    /// the output always taken, by the generator's timing simulation
    /// (what sized it; `verify`'s steady run must see no more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_rate_held: Option<usize>,
    /// Its join meets streams of different model inputs, whose ports run
    /// independently: at full rate the faster input fills any FIFO, so it
    /// holds the minimum (a whole sample), not what a simulation saw, and
    /// that port waits on it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub across_inputs: bool,
    /// It is full at full rate, and twice the room ran no faster (a
    /// FIFO before a slower stage fills whatever its room: the backlog of
    /// a full-rate input), so it keeps the room it has.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full_at_full_rate: bool,
}

#[derive(Template)]
#[template(path = "verilog/top.v", escape = "none")]
struct TopTemplate<'a> {
    header: &'a str,
    name: &'a str,
    clk: &'a str,
    rst_port: &'a str,
    rst_expr: &'a str,
    i: &'a str,
    o: &'a str,
    in_tdata: u32,
    in_bits: u32,
    out_tdata: u32,
    out_bits: u32,
    latency: u32,
    /// The initiation interval and the width of its phase counter.
    ii: u32,
    phase_w: u32,
    /// Windows of `ii` cycles a sample spends in the datapath, and the
    /// phase it leaves at (for `ii` > 1).
    win: u32,
    out_phase: u32,
    /// The datapath ([`crate::arch::netlist::Module::body`]).
    body: &'a str,
    out_expr: &'a str,
    taps: &'a [Tap],
    /// The input ports: one, or one per model input (`join`).
    ins: Vec<InPort>,
    join: bool,
    /// The holding registers side by side, the first input in the low bits.
    hold_cat: String,
}

/// An input port of the top: its signal prefix, `tdata` width and the bits
/// of a sample it carries.
struct InPort {
    prefix: String,
    tdata: u32,
    bits: u32,
}

fn unsupported(g: &Graph, layer: &str, what: &str) -> Error {
    Error::Model {
        path: g.source.clone(),
        layer: Some(layer.to_string()),
        msg: format!(
            "{what}: the Verilog backend does not generate this yet (it takes dense, convolution, depthwise, \
             separable, transposed convolution, pooling, batch norm, every activation quantizer, \
             Flatten/Reshape/ZeroPadding/Cropping/UpSampling/Permute and every merge)"
        ),
    }
}

/// A non-grid activation whose comparison table cannot be made (too many
/// steps, a float function not monotone where it must be): not a layer
/// the backend lacks, so not [`unsupported`]'s list.
fn table_error(g: &Graph, layer: &str, what: &str) -> Error {
    Error::Model { path: g.source.clone(), layer: Some(layer.to_string()), msg: format!("the comparison table of its activation: {what}") }
}

/// One module in construction: its netlist and its external inputs.
struct ModuleBuild {
    /// The `rst` and `start` ports, made when the module gets a folded block.
    control: Option<(NetId, NetId)>,
    rtl: Rtl,
    /// Steps outside the module it reads: (step, port name, the port's
    /// whole bus, which a folded block at the module's start takes as it is).
    ports: Vec<(usize, String, Sig)>,
    /// The element signals of each step built so far.
    elems: std::collections::HashMap<usize, Vec<Sig>>,
    /// The module latency at which each built step's elements are valid
    /// (ports: 0). A step reading an earlier one gets it delayed to the
    /// current latency, so a module whose steps are not one chain (a
    /// recurrent layer unrolled over time) stays aligned.
    ready: std::collections::HashMap<usize, u32>,
    /// Register chains of delayed elements: (step, delay) → signals.
    delayed: std::collections::HashMap<(usize, u32), Vec<Sig>>,
    /// Its inputs are held for a whole pass (a recurrent cell's time
    /// step), so every value stays valid after its stage until the pass
    /// ends: a later step reads it without a delay line.
    held: bool,
    latency: u32,
    /// Activation tables per step, over the input step's whole range
    /// (each element takes its own range's part).
    tables: std::collections::HashMap<usize, Vec<(i128, i128)>>,
}

impl ModuleBuild {
    fn new(name: &str) -> ModuleBuild {
        ModuleBuild {
            control: None,
            rtl: Rtl::new(name),
            ports: vec![],
            elems: Default::default(),
            ready: Default::default(),
            delayed: Default::default(),
            held: false,
            latency: 0,
            tables: Default::default(),
        }
    }

    /// The clock, reset, clock enable and start nets a sub-block takes
    /// (the ports are made on first use).
    fn control(&mut self) -> [(String, NetId); 4] {
        let (clk, ce) = self.rtl.clocking();
        let (rst, start) = match self.control {
            Some(c) => c,
            None => {
                let c = (self.rtl.m.input_bit("rst"), self.rtl.m.input_bit("start"));
                self.control = Some(c);
                c
            }
        };
        [("clk".into(), clk), ("rst".into(), rst), ("ce".into(), ce), ("start".into(), start)]
    }

    /// The element signals of step `s`, unpacked from a port on first use.
    fn input(&mut self, plan: &Plan, s: usize) -> Vec<Sig> {
        if let Some(e) = self.elems.get(&s) {
            let late = self.latency.saturating_sub(self.ready.get(&s).copied().unwrap_or(self.latency));
            if late == 0 || self.held {
                return e.clone();
            }
            let mut cur = e.clone();
            for d in 1..=late {
                cur = match self.delayed.get(&(s, d)) {
                    Some(v) => v.clone(),
                    None => {
                        let v: Vec<Sig> = cur.iter().map(|x| self.rtl.reg(x)).collect();
                        self.delayed.insert((s, d), v.clone());
                        v
                    }
                };
            }
            return cur;
        }
        let port = format!("x{}", self.ports.len());
        let st = &plan.steps[s];
        let n: usize = st.shape.iter().product();
        let bus = self.rtl.port(&port, st.fmt.width * n as u32);
        self.ports.push((s, port, bus));
        let e = unpack(&mut self.rtl, &bus, n, st.fmt.width, st.lo, st.hi);
        self.elems.insert(s, e);
        self.ready.insert(s, 0);
        // A port is valid at latency 0: a first read at a later latency (a
        // bidirectional layer's second direction, after the first's steps)
        // takes it through the delay line too, or it would see the next
        // sample's input.
        self.input(plan, s)
    }
}

/// The `n` elements of `w` bits each (element 0 in the low bits) a bus
/// carries, holding `lo..=hi`.
fn unpack(r: &mut Rtl, bus: &Sig, n: usize, w: u32, lo: i128, hi: i128) -> Vec<Sig> {
    (0..n).map(|k| r.slice(bus, k as u32 * w, w, lo, hi)).collect()
}

/// Elements packed into one bus at `w` bits each (element 0 in the low
/// bits; their values, `lo..=hi`, fit `w` bits).
fn pack(r: &mut Rtl, elems: &[Sig], w: u32, lo: i128, hi: i128) -> Sig {
    let parts: Vec<NetId> = elems.iter().map(|e| fit(r, e, w, lo, hi).net).collect();
    let bits = w * parts.len().max(1) as u32;
    Sig { net: r.m.concat(parts), lo: 0, hi: 0, bits }
}

/// Generate the design for `plan` (made with the hardware input format).
/// A model with several inputs gets one port pair per input.
pub fn generate(g: &Graph, plan: &Plan, opts: &Options, sched: &Schedule) -> Result<Design> {
    generate_top(g, &g.name, plan, opts, sched, true)
}

/// [`generate`] with the top module named `name` and one input port (a
/// streaming design's stages are designs of their own; a join stage takes
/// its inputs side by side in that port).
pub fn generate_named(g: &Graph, name: &str, plan: &Plan, opts: &Options, sched: &Schedule) -> Result<Design> {
    generate_top(g, name, plan, opts, sched, false)
}

fn generate_top(g: &Graph, name: &str, plan: &Plan, opts: &Options, sched: &Schedule, port_per_input: bool) -> Result<Design> {
    let mut ii = sched.initiation_interval.max(1);
    let mut namer = Namer::new(&[
        "clk", "rst", "ce", "aclk", "aresetn", "c_clk", "c_rst", "in_r", "valid_sr", "last_sr", "skid_out", "u_skid", "slot", "take", "all_in", "in_valid",
        "in_last", "hold_last", "unused_tlast", "phase", "valid_w", "last_w", "out_valid", "out_last",
    ]);
    let top = namer.name(name);
    let header = opts.header.as_str();
    let p = opts.pipeline_levels.max(1);
    // Stage (registers since the input) of each step's output.
    let mut stage: Vec<u32> = vec![0; plan.steps.len()];
    let mut files = vec![];
    // The top's datapath (layer instances, the delay lines that align
    // their inputs, the folded blocks' starts), inside the handshake of
    // `templates/verilog/top.v`, which declares the extern nets.
    let mut body = crate::arch::netlist::Module::new(top.as_str());
    let c_clk = body.extern_net("c_clk", 1);
    body.clock = Some(c_clk);
    let ce = body.extern_net("ce", 1);
    let c_rst = body.extern_net("c_rst", 1);
    let mut phase = None;
    // `ce` at each phase a register of the top loads at (see `held_until`).
    let mut phase_enables = std::collections::HashMap::new();
    let mut layers = vec![];
    let mut taps = vec![];
    let mut signal_of: Vec<Option<NetId>> = vec![None; plan.steps.len()];
    let mut memories = vec![];
    // Recurrent layers that iterate over time: their cells first, whose
    // pipelines set the cycles per sequence (and so the interval).
    let mut recurrent_cells = std::collections::HashMap::new();
    for n in sched.nodes.iter().filter(|n| matches!(n.arch, Arch::Recurrent { .. })) {
        let Arch::Recurrent { reuse } = n.arch else { continue };
        let cells = recurrent::cells(g, plan, &n.recurrences, &mut |raw| sub_module(&mut namer, &top, raw), &n.layer, p, reuse, opts, &mut files, &mut memories)?;
        ii = ii.max(cells.iter().map(recurrent::Cell::cycles).max().unwrap_or(1));
        recurrent_cells.insert(n.first, cells);
    }
    let phase_w = width(0, ii as i128 - 1);
    if plan.steps.first().map(|s| &s.op) != Some(&StepOp::Input) {
        return Err(Error::Usage("plan without an input step".into()));
    }
    let in_step = &plan.steps[0];
    // The input steps lead the plan; several (a streaming design's join
    // stage) lie side by side in the one input port, the first in the low bits.
    let n_inputs = plan.steps.iter().take_while(|s| s.op == StepOp::Input).count();
    let in_bits: u32 = plan.steps[..n_inputs].iter().map(|st| st.shape.iter().product::<usize>() as u32 * st.fmt.width).sum();
    let in_r = body.extern_net("in_r", in_bits);
    let mut at = 0u32;
    for (s, st) in plan.steps.iter().enumerate().take(n_inputs) {
        let bits = st.shape.iter().product::<usize>() as u32 * st.fmt.width;
        stage[s] = 1;
        signal_of[s] = Some(if n_inputs == 1 { in_r } else { body.slice(in_r, at, bits, 0, 0) });
        at += bits;
    }
    // Steps the outputs depend on (a dropped softmax is not).
    let live = plan.live();
    let mut start = n_inputs;
    while start < plan.steps.len() {
        // A layer: its inner steps, then the labelled output step.
        // The schedule's block (a separable convolution's depthwise half is
        // one of its own, so both halves fold).
        let named = (start..plan.steps.len()).find(|&i| plan.steps[i].layer.is_some()).unwrap_or(plan.steps.len() - 1);
        let mut end = crate::arch::schedule::block_end(plan, start);
        let mut part = (end != named).then(|| crate::arch::schedule::block_name(plan, end).0);
        // An inner step a later layer reads (the exact sum of an average
        // that a quantizer divides itself) ends a module of its own: a
        // module's only output is its last step.
        let read_later = (start..end).find(|&k| plan.steps[end + 1..].iter().any(|s| s.inputs.contains(&k)));
        if let Some(k) = read_later {
            end = k;
            part = Some(format!("{}_part", plan.steps[(k..plan.steps.len()).find(|&i| plan.steps[i].layer.is_some()).unwrap_or(k)].layer.clone().unwrap_or_default()));
        }
        if !(start..=end).any(|i| live[i]) {
            start = end + 1;
            continue;
        }
        let arch = sched.nodes.iter().find(|n| n.first == start).map_or(Arch::Unrolled, |n| n.arch);
        // A folded layer applies the activation after it per lane (inside
        // the block, before its results are stored): its own, or the next
        // layer's when that is a lone activation of this layer's output.
        let mut layer = part.unwrap_or_else(|| plan.steps[end].layer.clone().unwrap_or_else(|| format!("step{end}")));
        let mut fused = None;
        if matches!(arch, Arch::Folded { .. }) {
            if end == start + 1 {
                fused = fusable(plan, end).map(|p| (p, end));
            } else if end == start && end + 1 < plan.steps.len() && plan.steps[end + 1].layer.is_some() {
                let only_reader = plan.steps.iter().enumerate().all(|(k, s)| k == end + 1 || !s.inputs.contains(&end)) && !plan.outputs.contains(&end);
                if only_reader && let Some(p) = fusable(plan, end + 1) {
                    fused = Some((p, end + 1));
                    end += 1;
                    layer = format!("{layer}+{}", plan.steps[end].layer.clone().unwrap_or_default());
                }
            }
        }
        // The layer's module; its sub-blocks' names start with it.
        let lname = namer.name(&layer);
        let mname = format!("{top}_{lname}");
        let mut m = ModuleBuild::new(&mname);
        // Inputs at the same stage: delay the earlier ones in the top.
        let ext_inputs: Vec<usize> = (start..=end).flat_map(|i| plan.steps[i].inputs.clone()).filter(|&x| x < start).collect();
        let base = ext_inputs.iter().map(|&x| stage[x]).max().unwrap_or(1);
        // A recurrent layer: its input projections, then its directions'
        // iterating blocks side by side, then what joins them.
        let cells = recurrent_cells.remove(&start).unwrap_or_default();
        let order: Vec<usize> = if cells.is_empty() {
            (start..=end).collect()
        } else {
            let mut o: Vec<usize> = cells.iter().map(|c| c.rec.projection).collect();
            o.extend(cells.iter().map(|c| c.rec.starts[0]));
            o.extend((start..=end).filter(|&i| !cells.iter().any(|c| c.rec.projection == i || c.rec.covers(i))));
            o
        };
        let mut blocks_ready = 0;
        // Every direction's input projection folds from the module's start.
        let (proj_base, mut proj_ready) = (m.latency, m.latency);
        for i in order {
            // A dead step (an average whose quantizer reads its sum) is not
            // built: a module's steps form one chain of stages.
            if !live[i] && i != end {
                continue;
            }
            if let Arch::Recurrent { reuse } = arch
                && reuse > 1
                && let Some(d) = cells.iter().position(|c| c.rec.projection == i)
            {
                m.latency = proj_base;
                let name = sub_module(&mut namer, &top, &if d == 0 { format!("{lname}_fold") } else { format!("{lname}_fold{d}") });
                let out = folded_step(plan, i, &name, &mut m, (reuse, 1), None, opts, &mut files, &mut memories)?;
                m.elems.insert(i, out);
                m.ready.insert(i, m.latency);
                proj_ready = proj_ready.max(m.latency);
                m.latency = proj_ready;
                continue;
            }
            if let Some((d, c)) = cells.iter().enumerate().find(|(_, c)| c.rec.starts[0] == i) {
                let name = sub_module(&mut namer, &top, &format!("{lname}_rnn{d}"));
                let (y, cycles) = recurrent::instance(c, plan, &name, d, &mut m, header, &mut files)?;
                m.elems.insert(c.rec.output, y);
                m.ready.insert(c.rec.output, m.latency + cycles);
                blocks_ready = blocks_ready.max(m.latency + cycles);
                continue;
            }
            m.latency = m.latency.max(blocks_ready);
            let out = match arch {
                Arch::Folded { reuse, parallel } if i == start => {
                    let name = sub_module(&mut namer, &top, &format!("{lname}_fold"));
                    folded_step(plan, i, &name, &mut m, (reuse, parallel), fused, opts, &mut files, &mut memories)?
                }
                // The fused activation's output is the block's.
                _ if fused.is_some_and(|f| f.1 == i) => m.elems[&start].clone(),
                _ => build_step(g, plan, i, &layer, &mut m, p, opts)?,
            };
            m.elems.insert(i, out);
            m.ready.insert(i, m.latency);
        }
        m.latency = m.latency.max(blocks_ready);
        let out = m.elems[&end].clone();
        let st = &plan.steps[end];
        let w = st.fmt.width;
        let (text, out_bits, clocked) = finish_module(&mut m, vec![(out.clone(), w, st.lo, st.hi)], header, &layer);
        files.push((format!("{mname}.v"), text));
        // Instance in the top, inputs aligned to `base`.
        let out_sig = format!("y_{}", namer.name(&layer));
        let y = body.shared(&out_sig, 0, 0, out_bits);
        let mut conns: Vec<(String, NetId)> = if clocked { vec![("clk".into(), c_clk), ("ce".into(), ce)] } else { vec![] };
        if m.control.is_some() {
            // The block starts when its input (valid from cycle `base` after
            // the sample's acceptance at phase 0) is there.
            let ph = *phase.get_or_insert_with(|| body.extern_net("phase", phase_w));
            conns.push(("rst".into(), c_rst));
            conns.push(("start".into(), phase_enable(&mut body, (ph, phase_w), ce, base as usize % ii, &mut phase_enables)));
        }
        for (s, port, _) in &m.ports {
            let input = signal_of[*s].ok_or_else(|| Error::Internal(format!("layer `{layer}` reads step {s} before it is built")))?;
            let sig = if ii == 1 {
                // Delayed to `base` by clock-enabled registers.
                (stage[*s]..base).fold(input, |x, _| body.reg(x, Some(ce)))
            } else {
                let ph = *phase.get_or_insert_with(|| body.extern_net("phase", phase_w));
                held_until(&mut body, input, (stage[*s] as usize, base as usize), (ii, ph, phase_w), ce, &mut phase_enables)
            };
            conns.push((port.clone(), sig));
        }
        conns.push(("y".into(), y));
        body.instance(&mname, &namer.name(&format!("u_{layer}")), vec![], conns);
        for i in start..=end {
            stage[i] = base + m.latency;
            signal_of[i] = Some(y);
        }
        layers.push(LayerReport { layer: layer.clone(), module: mname, stage: base + m.latency, latency: m.latency, counts: m.rtl.totals() });
        taps.push(Tap { layer, signal: format!("tap_{out_sig}"), step: end, stage: base + m.latency, elements: out.len(), width: w, signed: st.fmt.signed, beats: 0, fire: String::new() });
        start = end + 1;
    }
    let o = *plan.outputs.first().ok_or_else(|| Error::Usage("the model has no output".into()))?;
    if plan.outputs.len() != 1 {
        return Err(unsupported(g, "", "several outputs: render a hardware_plan, which joins them (a qkhw bug)"));
    }
    let ost = &plan.steps[o];
    let out_n: usize = ost.shape.iter().product();
    let out_bits = out_n as u32 * ost.fmt.width;
    let latency = stage[o];
    let bytes = tdata_width;
    let (clk, rst_port, rst_expr, i, o_) = if opts.axis_names {
        ("aclk", "aresetn", "~aresetn", "s_axis", "m_axis")
    } else {
        ("clk", "rst", "rst", "input", "output")
    };
    // One port pair per model input (DESIGN.md, several inputs), or one.
    let join = port_per_input && n_inputs > 1;
    let mut in_ports = vec![];
    let mut ins = vec![];
    if join {
        for k in 0..n_inputs {
            let st = &plan.steps[k];
            let bits = st.shape.iter().product::<usize>() as u32 * st.fmt.width;
            let input_name = st.layer.clone().unwrap_or_else(|| format!("in{k}"));
            let prefix = namer.name(&format!("{i}_{input_name}"));
            ins.push(InPort { prefix: prefix.clone(), tdata: bytes(bits), bits });
            in_ports.push(Port { name: Some(input_name), port: Some(prefix), ..Port::of(st, bytes(bits), None) });
        }
    } else {
        ins.push(InPort { prefix: i.to_string(), tdata: bytes(in_bits), bits: in_bits });
    }
    let hold_cat = (0..ins.len()).rev().map(|k| format!("hold_{k}")).collect::<Vec<_>>().join(", ");
    // A sample waits one holding cycle (one initiation interval) after its
    // last part is accepted.
    let wait = if join { ii as u32 } else { 0 };
    for t in &mut taps {
        t.stage += wait;
    }
    body.prune();
    let mut fabric = Fabric::handshake(in_bits as usize * if join { 2 } else { 1 }, 2 * ((latency as usize).saturating_sub(1) / ii + 1), out_bits as usize);
    fabric.add(&Fabric::of(&body));
    layers.iter().for_each(|l| fabric.add(&l.counts.fabric));
    let text = TopTemplate {
        header,
        name: &top,
        clk,
        rst_port,
        rst_expr,
        i,
        o: o_,
        in_tdata: bytes(in_bits),
        in_bits,
        out_tdata: bytes(out_bits),
        out_bits,
        latency,
        ii: ii as u32,
        phase_w,
        win: (latency - 1) / ii as u32 + 1,
        out_phase: latency % ii as u32,
        body: &body.body(),
        out_expr: &body.get(signal_of[o].ok_or_else(|| Error::Internal("the output step is not built".into()))?).name,
        taps: &taps,
        ins,
        join,
        hold_cat,
    }
    .render()
    .map_err(Error::Template)?
        + "\n";
    files.push((format!("{top}.v"), text));
    for (name, text) in [("qkhw_requant.v", include_str!("../../../hw/qkhw_requant.v")), ("qkhw_skid.v", include_str!("../../../hw/qkhw_skid.v"))] {
        files.push((name.to_string(), text.to_string()));
    }
    let port = |st: &crate::plan::Step, bits: u32| Port::of(st, bytes(bits), None);
    let interface = Interface {
        top: top.clone(),
        clock: clk.into(),
        reset: rst_port.into(),
        reset_active_low: opts.axis_names,
        input: in_ports.first().cloned().unwrap_or_else(|| port(in_step, in_bits)),
        inputs: in_ports,
        output: Port { parts: plan.parts.clone(), ..port(ost, out_bits) },
        // The skid buffer at the output adds one cycle.
        latency_cycles: latency + 1 + wait,
        latency_last_cycles: None,
        timing_samples: None,
        steady: None,
        initiation_interval: ii as u32,
        internal_sigmoid: opts.internal_sigmoid,
    };
    let top_ff_bits = body.resources().ff_bits;
    dsps_as_mapped(&mut layers, opts.no_dsp);
    Ok(Design { top, files, interface, layers, taps, memories, fifos: vec![], fabric, top_ff_bits })
}

/// With `--no-dsp` Yosys maps no multiplier to a DSP48 (`synth_xilinx
/// -nodsp`): the layers' estimates say none.
pub(super) fn dsps_as_mapped(layers: &mut [LayerReport], no_dsp: bool) {
    if no_dsp {
        layers.iter_mut().for_each(|l| (l.counts.dsp_estimate, l.counts.folded_dsp) = (0, 0));
    }
}

/// `x`, valid from cycle `from` of each sample (counted from its
/// acceptance at phase 0) for the initiation interval `ii`, brought to
/// cycle `to` at an interval above 1. Every value of the top holds for the
/// interval (the input register, the pipelines it feeds, the folded
/// blocks' output registers), so each register of the line loads once per
/// interval, at the last cycle its input holds the sample: a delay of `d`
/// cycles takes ceil(d / ii) registers, not `d` (a residual skip across
/// two layers folded at R = 3 took 390 stages of its 1,536 bits).
fn held_until(body: &mut crate::arch::netlist::Module, x: NetId, (from, to): (usize, usize), (ii, phase, phase_w): (usize, NetId, u32), ce: NetId, enables: &mut std::collections::HashMap<usize, NetId>) -> NetId {
    let (mut x, mut at) = (x, from);
    while at < to {
        // Held from `at` to `at + ii - 1`: load at its last cycle (a whole
        // interval later) or at the cycle before `to`.
        let step = (to - at).min(ii);
        let en = phase_enable(body, (phase, phase_w), ce, (at + step - 1) % ii, enables);
        x = body.reg(x, Some(en));
        at += step;
    }
    x
}

/// `ce` at phase `k` of the interval, made once per phase: the folded
/// blocks' starts and the loads of [`held_until`]'s registers share it.
fn phase_enable(body: &mut crate::arch::netlist::Module, (phase, phase_w): (NetId, u32), ce: NetId, k: usize, enables: &mut std::collections::HashMap<usize, NetId>) -> NetId {
    *enables.entry(k).or_insert_with(|| {
        let c = body.constant_at(k as i128, phase_w);
        let now = body.compare(Cmp::Eq, phase, c);
        body.and(ce, now)
    })
}

/// The name of a module of the design `top`: every module name (a layer's,
/// its folded block's, a recurrent layer's cell's) comes from the one
/// namer, so none collides with another whatever the layers are called.
fn sub_module(namer: &mut Namer, top: &str, raw: &str) -> String {
    format!("{top}_{}", namer.name(raw))
}

/// Close module `m`: pack `outs` (each element list at its width, holding
/// `lo..=hi`; the first in the low bits) into the output `y`, and print
/// it (the writer names the inputs nothing reads, for lint). Returns the
/// text, the bits of `y` and whether the module has a clock.
fn finish_module(m: &mut ModuleBuild, outs: Vec<(Vec<Sig>, u32, i128, i128)>, header: &str, layer: &str) -> (String, u32, bool) {
    let mut parts = vec![];
    for (out, w, lo, hi) in &outs {
        for e in out {
            parts.push(fit(&mut m.rtl, e, *w, *lo, *hi).net);
        }
    }
    let y = m.rtl.m.concat(parts);
    let out_bits = m.rtl.m.get(y).width;
    m.rtl.m.output("y", y, out_bits);
    // Logic nothing reads (an arg-max's winning value, the gates a zero
    // weight leaves unused) is not written.
    m.rtl.m.prune();
    m.rtl.m.header = vec![
        header.to_string(),
        format!("Layer `{layer}`: combinational logic and clock-enabled pipeline registers (no reset: datapath only). Generated; do not edit."),
    ];
    (m.rtl.m.verilog(), out_bits, m.rtl.clocked())
}

/// `e` on exactly `w` bits (its values, `lo..=hi`, fit them: the plan's
/// exact range can be tighter than a tree's own bound).
fn fit(r: &mut Rtl, e: &Sig, w: u32, lo: i128, hi: i128) -> Sig {
    if e.bits > w { r.slice(e, 0, w, lo, hi) } else { r.extend(e, w) }
}

/// Each output's summands with its bias (a constant summand, when not 0).
fn with_bias(rtl: &mut Rtl, products: Vec<Vec<Term>>, b: &[i128]) -> Vec<Vec<Term>> {
    products
        .into_iter()
        .zip(b)
        .map(|(mut terms, &bj)| {
            if bj != 0 {
                terms.push(Term { sig: rtl.constant(bj), neg: false });
            }
            terms
        })
        .collect()
}

/// Whether a constant matrix's products are built as shared shift-adds
/// (`cmvm`), and the depth bound (adders) of its shared signals: with
/// `--no-dsp`, and in the default mode too when no weight has more than 3
/// canonical signed digits (a DSP48 or a LUT multiplier for a product of
/// at most 2 adders is waste). The bound is the depth of the deepest
/// unshared product, so the adder trees start no later.
fn shift_adds(w: &[i128], no_dsp: bool) -> (bool, u32) {
    let digits = w.iter().map(|&c| rtl::csd(c).len()).max().unwrap_or(1).max(1);
    (no_dsp || digits <= 3, digits.next_power_of_two().trailing_zeros())
}

/// The element signals of step `i`, built into `m`.
fn build_step(g: &Graph, plan: &Plan, i: usize, layer: &str, m: &mut ModuleBuild, p: u32, opts: &Options) -> Result<Vec<Sig>> {
    let st = &plan.steps[i];
    let no_dsp = opts.no_dsp || opts.const_shift_adds || opts.shift_add_layers.contains(layer);
    let xs = |m: &mut ModuleBuild, k: usize| m.input(plan, st.inputs[k]);
    Ok(match &st.op {
        StepOp::Dense { rows, n_in, n_out, w, b } => {
            // A Dense on an (..., n_in) tensor: the same weights on each row.
            let x = xs(m, 0);
            let mut outs = vec![];
            let (shift_add, depth) = shift_adds(w, no_dsp);
            for r in 0..*rows {
                let xr = &x[r * n_in..(r + 1) * n_in];
                let products: Vec<Vec<Term>> = if shift_add {
                    cmvm::shared_terms(&mut m.rtl, xr, w, *n_out, depth)
                } else {
                    (0..*n_out).map(|j| xr.iter().enumerate().flat_map(|(ii, xi)| m.rtl.times_const(xi, w[ii * n_out + j], false)).collect()).collect()
                };
                outs.extend(with_bias(&mut m.rtl, products, b));
            }
            let (sums, stages) = m.rtl.adder_trees(outs, p);
            m.latency += stages;
            sums
        }
        StepOp::Affine { sub, mul, add } => {
            let x = xs(m, 0);
            let c = mul.len().max(1);
            let mut outs = vec![];
            for (k, xi) in x.iter().enumerate() {
                let ch = k % c;
                let mut terms = m.rtl.times_const(xi, mul[ch], no_dsp);
                let k0 = add[ch] - sub[ch] * mul[ch];
                if k0 != 0 {
                    terms.push(Term { sig: m.rtl.constant(k0), neg: false });
                }
                outs.push(terms);
            }
            let (sums, stages) = m.rtl.adder_trees(outs, p);
            m.latency += stages;
            sums
        }
        StepOp::Identity => xs(m, 0),
        StepOp::Act(a @ (Act::Generic { .. } | Act::Float { .. } | Act::Mean { .. })) => {
            let x = xs(m, 0);
            let in_fmt = plan.steps[st.inputs[0]].fmt;
            piecewise(g, plan, i, layer, m, &x, a, in_fmt, p)?
        }
        StepOp::Act(a) => {
            let x = xs(m, 0);
            let in_fmt = plan.steps[st.inputs[0]].fmt;
            x.iter().map(|e| activation(m, plan, i, e, a, in_fmt)).collect::<Result<_>>()?
        }
        StepOp::Merge { kind, shifts } => {
            let ins: Vec<Vec<Sig>> = (0..st.inputs.len()).map(|k| xs(m, k)).collect();
            if ins.is_empty() {
                return Err(unsupported(g, layer, "an empty merge"));
            }
            let mut out = vec![];
            for e in 0..ins[0].len() {
                let v: Vec<Sig> = ins.iter().enumerate().map(|(k, x)| m.rtl.shifted(&x[e], shifts[k])).collect();
                out.push(match kind {
                    // Average: the sum; the plan's fraction bits hold the division.
                    MergeKind::Add | MergeKind::Subtract | MergeKind::Average(_) => {
                        let mut terms = v.into_iter().enumerate().map(|(k, sig)| Term { sig, neg: *kind == MergeKind::Subtract && k == 1 });
                        let first = terms.next().ok_or_else(|| unsupported(g, layer, "an empty merge"))?;
                        let t = terms.fold(first, |a, t| m.rtl.add2(&a, &t));
                        m.rtl.value(t)
                    }
                    MergeKind::Maximum => extreme_of(&mut m.rtl, v, true),
                    MergeKind::Minimum => extreme_of(&mut m.rtl, v, false),
                    MergeKind::Multiply => {
                        let mut it = v.into_iter();
                        let first = it.next().ok_or_else(|| unsupported(g, layer, "an empty merge"))?;
                        it.fold(first, |a, b| m.rtl.product(&a, &b))
                    }
                });
            }
            out
        }
        StepOp::Exceptions { fixes } => {
            // `--bn qkeras`: per element, its channel's listed input codes
            // replace the quantizer's output (a short chain of equality
            // comparisons and multiplexers, no register).
            let (x, ys) = (xs(m, 0), xs(m, 1));
            let c = fixes.len().max(1);
            let mut out = vec![];
            for (k, (xk, y)) in x.iter().zip(&ys).enumerate() {
                let ow = st.fmt.width.max(y.w());
                let mut o = *y;
                for &(code, val) in &fixes[k % c] {
                    if code < xk.lo || code > xk.hi {
                        continue;
                    }
                    let code = m.rtl.constant(code);
                    let hit = m.rtl.compare(Cmp::Eq, xk, &code);
                    let val = m.rtl.constant_at(val, ow);
                    o = m.rtl.mux(&hit, &val, &o, ow);
                }
                out.push(o);
            }
            out
        }
        StepOp::Concat { axis, shifts } => {
            // C order: for each index before the axis, each input's block of
            // everything from the axis on, in input order.
            let outer: usize = st.shape[..*axis].iter().product();
            let ins: Vec<Vec<Sig>> = (0..st.inputs.len()).map(|k| xs(m, k)).collect();
            let mut out = vec![];
            for o in 0..outer {
                for (k, x) in ins.iter().enumerate() {
                    let inner = x.len() / outer.max(1);
                    for e in &x[o * inner..(o + 1) * inner] {
                        out.push(m.rtl.shifted(e, shifts[k]));
                    }
                }
            }
            out
        }
        StepOp::Conv { geo, w, b } if shift_adds(w, no_dsp).0 => {
            // Per output position, the window's constant matrix with shared
            // subexpressions across the output channels (`cmvm`).
            let x = xs(m, 0);
            let depth = shift_adds(w, no_dsp).1;
            let mut outs = vec![];
            for oy in 0..geo.out_h {
                for ox in 0..geo.out_w {
                    let (mut win, mut rows) = (vec![], vec![]);
                    geo.taps(oy, ox, |iy, ix, k| {
                        for ci in 0..geo.cin {
                            win.push(x[(iy * geo.in_w + ix) * geo.cin + ci]);
                            rows.extend_from_slice(&w[(k * geo.cin + ci) * geo.cout..(k * geo.cin + ci + 1) * geo.cout]);
                        }
                    });
                    let products = cmvm::shared_terms(&mut m.rtl, &win, &rows, geo.cout, depth);
                    outs.extend(with_bias(&mut m.rtl, products, b));
                }
            }
            let (sums, stages) = m.rtl.adder_trees(outs, p);
            m.latency += stages;
            sums
        }
        StepOp::Conv { geo, w, b } | StepOp::Depthwise { geo, w, b, .. } => {
            let x = xs(m, 0);
            let mult = if let StepOp::Depthwise { mult, .. } = &st.op { Some(*mult) } else { None };
            let mut outs = vec![];
            for oy in 0..geo.out_h {
                for ox in 0..geo.out_w {
                    for o in 0..geo.cout {
                        let mut terms = vec![];
                        geo.taps(oy, ox, |iy, ix, k| {
                            let base = (iy * geo.in_w + ix) * geo.cin;
                            match mult {
                                Some(mu) => terms.extend(m.rtl.times_const(&x[base + o / mu], w[k * geo.cout + o], no_dsp)),
                                None => {
                                    for ci in 0..geo.cin {
                                        terms.extend(m.rtl.times_const(&x[base + ci], w[(k * geo.cin + ci) * geo.cout + o], no_dsp));
                                    }
                                }
                            }
                        });
                        if b[o] != 0 {
                            terms.push(Term { sig: m.rtl.constant(b[o]), neg: false });
                        }
                        outs.push(terms);
                    }
                }
            }
            let (sums, stages) = m.rtl.adder_trees(outs, p);
            m.latency += stages;
            sums
        }
        StepOp::ConvT { geo, w, b } => {
            let x = xs(m, 0);
            let n_out = geo.out_h * geo.out_w * geo.cout;
            let mut outs: Vec<Vec<Term>> = (0..n_out)
                .map(|k| if b[k % geo.cout] != 0 { vec![Term { sig: m.rtl.constant(b[k % geo.cout]), neg: false }] } else { vec![] })
                .collect();
            for iy in 0..geo.in_h {
                for ix in 0..geo.in_w {
                    for ky in 0..geo.kh {
                        let Some(oy) = geo.out_row(iy, ky) else { continue };
                        for kx in 0..geo.kw {
                            let Some(ox) = geo.out_col(ix, kx) else { continue };
                            for o in 0..geo.cout {
                                for ci in 0..geo.cin {
                                    let t = m.rtl.times_const(&x[(iy * geo.in_w + ix) * geo.cin + ci], w[((ky * geo.kw + kx) * geo.cout + o) * geo.cin + ci], no_dsp);
                                    outs[(oy * geo.out_w + ox) * geo.cout + o].extend(t);
                                }
                            }
                        }
                    }
                }
            }
            let (sums, stages) = m.rtl.adder_trees(outs, p);
            m.latency += stages;
            sums
        }
        StepOp::Pool { geo, max, mult } => {
            let x = xs(m, 0);
            let mut windows = vec![];
            for oy in 0..geo.out_h {
                for ox in 0..geo.out_w {
                    for o in 0..geo.cout {
                        let mut win = vec![];
                        geo.taps(oy, ox, |iy, ix, _| win.push(x[(iy * geo.in_w + ix) * geo.cin + o]));
                        windows.push(win);
                    }
                }
            }
            pooled(m, windows, *max, |k| mult[k / geo.cout], p, no_dsp)
        }
        StepOp::GlobalPool { hw, c, max, mult, .. } => {
            let x = xs(m, 0);
            let windows = (0..*c).map(|o| (0..*hw).map(|k| x[k * c + o]).collect()).collect();
            pooled(m, windows, *max, |_| *mult, p, no_dsp)
        }
        StepOp::ArgMax { .. } => {
            let x = xs(m, 0);
            vec![argmax(m, &x, p)]
        }
        StepOp::Gather { idx } => {
            let x = xs(m, 0);
            idx.iter().map(|&j| x[j as usize]).collect()
        }
        StepOp::ZeroPad { in_shape, pads } => {
            let x = xs(m, 0);
            let c = *in_shape.last().unwrap_or(&1);
            let (ih, iw, (pt, pb), (pl, pr)) = if in_shape.len() == 3 { (in_shape[0], in_shape[1], pads[0], pads[1]) } else { (1, in_shape[0], (0, 0), pads[0]) };
            let (oh, ow) = (ih + pt + pb, iw + pl + pr);
            let zero = m.rtl.constant(0);
            let mut out = vec![zero; oh * ow * c];
            for iy in 0..ih {
                for ix in 0..iw {
                    for o in 0..c {
                        out[((iy + pt) * ow + ix + pl) * c + o] = x[(iy * iw + ix) * c + o];
                    }
                }
            }
            out
        }
        StepOp::Input => return Err(unsupported(g, layer, "a second input")),
    })
}

/// A pooling layer's outputs from its windows: the maximum of each
/// (registered once, like the other layers' outputs), or the sum of each
/// times its factor `mult(output index)`.
fn pooled(m: &mut ModuleBuild, windows: Vec<Vec<Sig>>, max: bool, mult: impl Fn(usize) -> i128, p: u32, no_dsp: bool) -> Vec<Sig> {
    if max {
        let out: Vec<Sig> = windows.into_iter().map(|w| extreme_of(&mut m.rtl, w, true)).collect();
        m.latency += 1;
        return out.iter().map(|s| if s.lo == s.hi { *s } else { m.rtl.reg(s) }).collect();
    }
    let terms = windows.into_iter().map(|w| w.into_iter().map(|sig| Term { sig, neg: false }).collect()).collect();
    let (sums, stages) = m.rtl.adder_trees(terms, p);
    m.latency += stages;
    let scaled = sums.iter().enumerate().map(|(k, s)| m.rtl.times_const(s, mult(k), no_dsp)).collect();
    let (prods, stages) = m.rtl.adder_trees(scaled, p);
    m.latency += stages;
    prods
}

/// The largest (`max`) or smallest element, by a tree of signed comparisons.
fn extreme_of(r: &mut Rtl, v: Vec<Sig>, max: bool) -> Sig {
    let mut cur = v;
    while cur.len() > 1 {
        let mut next = vec![];
        let mut it = cur.into_iter();
        while let Some(a) = it.next() {
            match it.next() {
                Some(b) => {
                    // The low end stays the smaller one's (for a maximum too):
                    // a tighter range could make the wire look like a constant.
                    let (lo, hi) = (a.lo.min(b.lo), if max { a.hi.max(b.hi) } else { a.hi.min(b.hi) });
                    let first = r.compare(if max { Cmp::Gt } else { Cmp::Lt }, &a, &b);
                    let s = r.mux(&first, &a, &b, a.w().max(b.w()));
                    next.push(Sig { lo, hi, ..s });
                }
                None => next.push(a),
            }
        }
        cur = next;
    }
    cur.into_iter().next().unwrap_or_else(|| r.constant(0))
}

/// One element through an activation requantizer (combinational).
fn activation(m: &mut ModuleBuild, plan: &Plan, i: usize, x: &Sig, a: &Act, in_fmt: FixedFormat) -> Result<Sig> {
    let st = &plan.steps[i];
    match a {
        Act::Relu => {
            let y = m.rtl.m.relu(x.net, x.lo, x.hi, x.w());
            Ok(Sig { net: y, lo: x.lo.max(0), hi: x.hi.max(0), bits: m.rtl.m.get(y).width })
        }
        Act::Grid { .. } | Act::Requant { .. } => {
            let (shift, q) = requant_of(a, in_fmt.frac, st.fmt).ok_or_else(|| Error::Internal("a grid activation without a requantizer".into()))?;
            requant(m, x, shift, q)
        }
        Act::Generic { .. } | Act::Float { .. } | Act::Mean { .. } => Err(Error::Internal("a step-function activation goes through `piecewise`".into())),
    }
}

/// Step `i` folded by `reuse` (see [`crate::arch::folded`]): its block
/// becomes the module `name` (a netlist, printed by the netlist writer),
/// instantiated in `m` on the step's input: a port at the module's start,
/// else its elements packed, with the block's start delayed to when they
/// are valid.
#[allow(clippy::too_many_arguments, reason = "the step, its layer module, the reuse factor and the file lists it adds to")]
fn folded_step(
    plan: &Plan,
    i: usize,
    name: &str,
    m: &mut ModuleBuild,
    (reuse, rows_at_once): (usize, usize),
    fused: Option<(crate::arch::folded::Post, usize)>,
    opts: &Options,
    files: &mut Vec<(String, String)>,
    memories: &mut Vec<(String, String)>,
) -> Result<Vec<Sig>> {
    let header = opts.header.as_str();
    let st = &plan.steps[i];
    let Some(fo) = crate::arch::folded::foldable(&st.op) else {
        return Err(Error::Internal(format!("step {i} is folded but has no folded form")));
    };
    let (rows, n_in, n_out) = (fo.rows, fo.n_in, fo.n_out);
    let xs = &plan.steps[st.inputs[0]];
    let elems = m.input(plan, st.inputs[0]);
    // The input bus: a port of the module at its start, else the elements
    // packed (a block inside a pipeline, started `m.latency` cycles later).
    let x = match m.ports.iter().find(|p| p.0 == st.inputs[0]) {
        Some(&(_, _, bus)) if m.latency == 0 => bus,
        _ => pack(&mut m.rtl, &elems, xs.fmt.width, xs.lo, xs.hi),
    };
    let x_elems = xs.shape.iter().product();
    // The stored values: the fused activation's, else the sums.
    let ys = fused.map_or(st, |(_, a)| &plan.steps[a]);
    let spec = crate::arch::folded::DenseSpec {
        rows,
        n_in,
        n_out,
        w: &fo.w,
        b: &fo.b,
        x: (xs.lo, xs.hi, xs.fmt.width),
        y: (ys.lo, ys.hi, ys.fmt.width),
        x_elems,
        gather: crate::arch::folded::gather(&st.op),
        post: fused.map(|f| f.0),
        start_delay: m.latency as usize,
        rows_at_once,
        pack_dsp: opts.pack_dsp,
    };
    let name = name.to_string();
    let init = crate::arch::netlist::RomInit { file: opts.rom_init_file.then(|| format!("{name}.mem")), style: opts.rom_style };
    let fd = crate::arch::folded::lower(&name, &spec, reuse, vec![header.to_string()], init);
    files.push((format!("{name}.v"), fd.module.verilog()));
    memories.extend(fd.module.rom_files());
    let w = ys.fmt.width;
    let n = rows * n_out;
    let y = sub_block(m, &name, &format!("u_fold{i}"), x, n as u32 * w);
    m.latency += fd.latency;
    let c = &mut m.rtl.counts;
    c.add_cells(&fd.module);
    c.folded_dsp += fd.module.resources().dsp48;
    c.cycles = c.cycles.max(fd.cycles);
    c.packed_multipliers += fd.packed_multipliers;
    c.bram36_estimate += fd.bram36;
    Ok(unpack(&mut m.rtl, &y, n, w, ys.lo, ys.hi))
}

/// An instance `inst` of the sub-block `module` (ports `clk`, `rst`, `ce`,
/// `start`, `x` and `y`) on the bus `x`; returns its `y` bus of `y_bits`.
fn sub_block(m: &mut ModuleBuild, module: &str, inst: &str, x: Sig, y_bits: u32) -> Sig {
    let y = Sig { net: m.rtl.m.instance_output(0, 0, y_bits), lo: 0, hi: 0, bits: y_bits };
    let mut conns = m.control().to_vec();
    conns.push(("x".into(), x.net));
    conns.push(("y".into(), y.net));
    m.rtl.m.instance(module, inst, vec![], conns);
    y
}

/// The per-lane form of activation step `a` (on a folded block's sums),
/// where it has one: a ReLU, or a requantizer that drops fraction bits.
fn fusable(plan: &Plan, a: usize) -> Option<crate::arch::folded::Post> {
    use crate::arch::folded::Post;
    let st = &plan.steps[a];
    let StepOp::Act(act) = &st.op else { return None };
    if st.inputs.len() != 1 || st.inputs[0] + 1 != a {
        return None;
    }
    match act {
        Act::Relu => Some(Post::Relu),
        _ => requant_of(act, plan.steps[st.inputs[0]].fmt.frac, st.fmt).filter(|(shift, _)| *shift > 0).map(|(_, q)| Post::Requant(q)),
    }
}

/// The requantizer of a grid activation `a` whose input has `in_frac`
/// fraction bits and whose step has format `fmt`: the fraction bits it
/// drops (negative: a left shift) and the primitive's rounding,
/// saturation and output range (a wrapping one's range is the output
/// format's). None for other activations. The one reading of an
/// activation's requantizer for the unrolled and the folded lowerings.
fn requant_of(a: &Act, in_frac: i32, fmt: FixedFormat) -> Option<(i32, Requant)> {
    let (out_frac, round, sat, min, max, out_width) = match a {
        Act::Grid { out_frac, min, max } => (*out_frac, crate::fxp::Rounding::TiesEven, true, *min, *max, fmt.width),
        Act::Requant { out, rounding, overflow } => (out.frac, *rounding, *overflow == crate::fxp::Overflow::Saturate, out.min_code(), out.max_code(), out.width),
        _ => return None,
    };
    let shift = in_frac - out_frac;
    Some((shift, Requant { shift: shift.max(0) as u32, round: round.hw_mode(), sat, min, max, out_width }))
}

/// The index of the largest element of `x`, the first on ties: a balanced
/// tree of (value, index) pairs in which the right (higher-index) side wins
/// only when strictly larger, registered every `p` levels.
fn argmax(m: &mut ModuleBuild, x: &[Sig], p: u32) -> Sig {
    let n = x.len();
    let iw = width(0, n as i128 - 1);
    let mut cur: Vec<(Sig, Sig)> = x.iter().enumerate().map(|(k, v)| (*v, m.rtl.constant_at(k as i128, iw))).collect();
    let mut level = 0;
    while cur.len() > 1 {
        level += 1;
        let mut next = Vec::with_capacity(cur.len().div_ceil(2));
        let mut it = std::mem::take(&mut cur).into_iter();
        while let Some((lv, li)) = it.next() {
            match it.next() {
                Some((rv, ri)) => {
                    let gt = m.rtl.compare(Cmp::Gt, &rv, &lv);
                    let v = m.rtl.mux(&gt, &rv, &lv, 0);
                    let i = m.rtl.mux(&gt, &ri, &li, iw);
                    next.push((v, i));
                }
                None => next.push((lv, li)),
            }
        }
        cur = next;
        if level % p == 0 && cur.len() > 1 {
            cur = cur.into_iter().map(|(v, i)| (if v.lo == v.hi { v } else { m.rtl.reg(&v) }, if i.lo == i.hi { i } else { m.rtl.reg(&i) })).collect();
            m.latency += 1;
        }
    }
    m.rtl.counts.compare_levels = m.rtl.counts.compare_levels.max(level);
    // The winning value itself is not needed (the writer names it unused).
    cur.pop().map_or_else(|| m.rtl.constant_at(0, iw), |(_, i)| i)
}

/// The `qkhw_requant` primitive on one element (or a left shift and clamp
/// when the output has more fraction bits than the input: `shift` < 0).
fn requant(m: &mut ModuleBuild, x: &Sig, shift: i32, q: Requant) -> Result<Sig> {
    let (min, max, ow) = (q.min, q.max, q.out_width);
    if shift <= 0 {
        // Exact: x << -shift, then clamp (or wrap).
        let s = m.rtl.shifted(x, (-shift) as u32);
        let (lo, hi) = (s.lo.clamp(min, max), s.hi.clamp(min, max));
        let (mn, mx) = (m.rtl.constant(min), m.rtl.constant(max));
        let (below, above) = (m.rtl.compare(Cmp::Lt, &s, &mn), m.rtl.compare(Cmp::Gt, &s, &mx));
        let w = s.w().max(ow);
        let upper = m.rtl.mux(&above, &mx, &s, w);
        let c = m.rtl.mux(&below, &mn, &upper, w);
        return Ok(m.rtl.slice(&c, 0, ow, lo, hi));
    }
    let k = m.rtl.m.cells.iter().filter(|c| matches!(c, Cell::Instance { .. })).count();
    let y = m.rtl.m.requant(&format!("u_rq{k}"), x.net, x.lo, x.hi, x.w(), q);
    Ok(Sig { net: y, lo: min, hi: max, bits: ow })
}

/// A quantizer that is not a fixed grid (tanh, sigmoid, po2, ulaw, hswish,
/// binary, ...): the golden model's own function tabulated over the input
/// range (its change points), emitted per element as a balanced tree of
/// comparisons (depth log2 of the number of pieces, not a chain), built
/// level by level from the leaves and registered every `p` levels like the
/// adder trees, so every element of the step has the same latency.
#[allow(clippy::too_many_arguments)]
fn piecewise(g: &Graph, plan: &Plan, i: usize, layer: &str, m: &mut ModuleBuild, xs: &[Sig], a: &Act, in_fmt: FixedFormat, p: u32) -> Result<Vec<Sig>> {
    let st = &plan.steps[i];
    let xs_step = &plan.steps[st.inputs[0]];
    /// A subtree: the first input value it covers and its output.
    struct Node {
        start: i128,
        sig: Sig,
    }
    let mut trees: Vec<(Sig, Vec<Node>, u32)> = vec![];
    for x in xs {
        let segs = if x.lo >= xs_step.lo && x.hi <= xs_step.hi {
            if let std::collections::hash_map::Entry::Vacant(v) = m.tables.entry(i) {
                v.insert(crate::passes::segments::segments(a, in_fmt.frac, xs_step.lo, xs_step.hi).map_err(|e| table_error(g, layer, &e))?);
            }
            crate::passes::segments::restrict(&m.tables[&i], x.lo, x.hi)
        } else {
            crate::passes::segments::segments(a, in_fmt.frac, x.lo, x.hi).map_err(|e| table_error(g, layer, &e))?
        };
        let (lo, hi) = (segs.iter().map(|s| s.1).min().unwrap_or(0), segs.iter().map(|s| s.1).max().unwrap_or(0));
        let ow = st.fmt.width.max(width(lo, hi));
        // Each leaf literal at the tree's width: a one-leaf tree (a
        // constant output) is packed into the output bus as it is.
        let leaves = segs.iter().map(|&(start, v)| Node { start, sig: m.rtl.constant_at(v, ow) }).collect();
        trees.push((*x, leaves, ow));
    }
    let mut level = 0;
    let mut stages = 0;
    while trees.iter().any(|t| t.1.len() > 1) {
        level += 1;
        for (x, nodes, ow) in trees.iter_mut() {
            if nodes.len() < 2 {
                continue;
            }
            let mut next = Vec::with_capacity(nodes.len().div_ceil(2));
            let mut it = std::mem::take(nodes).into_iter();
            while let Some(l) = it.next() {
                match it.next() {
                    Some(r) => {
                        let start = m.rtl.constant(r.start);
                        let right = m.rtl.compare(Cmp::Ge, x, &start);
                        let sig = m.rtl.mux(&right, &r.sig, &l.sig, *ow);
                        next.push(Node { start: l.start, sig });
                    }
                    None => next.push(l),
                }
            }
            *nodes = next;
        }
        if level % p == 0 && trees.iter().any(|t| t.1.len() > 1) {
            for (x, nodes, _) in trees.iter_mut() {
                for n in nodes.iter_mut() {
                    if n.sig.lo != n.sig.hi {
                        n.sig = m.rtl.reg(&n.sig);
                    }
                }
                if nodes.len() > 1 {
                    *x = m.rtl.reg(x);
                }
            }
            stages += 1;
        }
    }
    m.rtl.counts.compare_levels = m.rtl.counts.compare_levels.max(level);
    m.latency += stages;
    Ok(trees.into_iter().map(|(_, mut nodes, ow)| nodes.pop().map(|n| n.sig).unwrap_or_else(|| m.rtl.constant_at(0, ow))).collect())
}

/// The hardware plan of `g` (input per the numeric contract) and its design.
pub fn from_graph(
    g: &Graph,
    input_format: Option<crate::fxp::InputFormat>,
    config: &crate::passes::config::Config,
    opts: &Options,
) -> Result<(Design, Plan, Vec<String>)> {
    let (plan, mut notes) = crate::golden::hardware_plan(g, input_format, config)?;
    let chosen = opts.budget.as_ref().map(|b| budget_config(g, &plan, config, opts, b, true)).transpose()?;
    let budgeted;
    let opts = match &chosen {
        Some((c, est)) => {
            budgeted = est.options(opts, config, c);
            &budgeted
        }
        None => opts,
    };
    let config = chosen.as_ref().map_or(config, |c| &c.0);
    let d = if opts.io == Io::Stream {
        let (d, more) = stream::generate_stream(g, &plan, opts, config)?;
        notes.extend(more);
        d
    } else {
        let sched = crate::arch::schedule::schedule(&plan, if chosen.is_some() { None } else { opts.reuse_factor }, config);
        notes.extend(sched.notes.iter().cloned());
        generate(g, &plan, opts, &sched)?
    };
    if opts.pack_dsp && d.layers.iter().all(|l| l.counts.packed_multipliers == 0) {
        notes.push(
            "--pack-dsp: nothing packed: no folded layer has two output lanes reading one input element whose products take one DSP48 each and fit one together (the packed weight within 25 bits, the input within 18); unrolled layers multiply by constants"
                .into(),
        );
    }
    if let (Some(b), Some((cfg, est))) = (&opts.budget, &chosen) {
        let (lut, ff) = (d.fabric.luts(opts.no_dsp), d.fabric.ffs(opts.no_dsp));
        // The design's interval: a recurrent cell's pipeline can lengthen
        // the schedule's.
        // The design's own counts (report.json's), and the estimate the
        // budget chose it by where that differs (its ROM shapes and the
        // FIFOs at twice their deadlock-free minimum, before the timing
        // simulation sizes them; cross-check batch 11: the note said 1.0
        // BRAM36 where the report said 0.5).
        let crate::arch::schedule::Estimate { dsp, bram36: bram } = d.estimate();
        let chosen_by = if dsp != est.dsp || (bram - est.bram36).abs() >= 0.05 {
            let fixed = if est.fixed_bram36 > 0.0 { format!(", {:.1} of them line buffers and FIFOs", est.fixed_bram36) } else { String::new() };
            format!(" (the budget's estimate, by which it chose the design: {} DSP48 and {:.1} BRAM36{fixed})", est.dsp, est.bram36)
        } else {
            String::new()
        };
        notes.push(format!(
            "--budget: reuse factors {} (balanced cycles per sample), initiation interval {}, with an estimated {dsp} DSP48, {bram:.1} BRAM36, {lut} LUT and {ff} FF{chosen_by}",
            budget_folds(cfg),
            d.interface.initiation_interval,
        ));
        // What the budget leaves open can still exceed the part.
        let p = &opts.part;
        match est.unrolled {
            Some(Unrolled::Multipliers) => notes.push("--budget: the unrolled design (what gen makes without a budget, every layer at R = 1) fits it, at the shortest interval".into()),
            Some(Unrolled::ShiftAdds) => notes.push("--budget: the unrolled design fits it, at the shortest interval, its constant products as shift-adds in the fabric (as multipliers they exceed it); give lut= to hold the fabric, or a smaller part, to fold".into()),
            None => {}
        }
        if let Some(sa) = est.const_shift_adds {
            notes.push(format!(
                "--budget: the constant products of the layers it does not fold are shift-adds in the fabric: as multipliers they take an estimated {} DSP48, {}",
                sa.dsp,
                if sa.multipliers_fit { "with which the folded layers fit at a longer interval only" } else { "with which no design fits" }
            ));
        }
        let unrolled: Vec<String> = opts.shift_add_layers.iter().cloned().collect();
        if !unrolled.is_empty() && (b.lut.is_none() || b.ff.is_none()) {
            notes.push(format!(
                "--budget: {} unrolled (constant products as shift-adds in the fabric, no DSP48): a design that unrolls a layer is held to the part's {} LUT and {} FF ({}, --part) where the budget names no lut= or ff=",
                unrolled.join(", "),
                p.luts,
                p.ffs,
                p.name
            ));
        }
        let over: Vec<(String, String)> = [
            (b.lut.is_none() && lut > p.luts, format!("{lut} LUT (it has {})", p.luts), format!("lut={}", p.luts)),
            (b.ff.is_none() && ff > p.ffs, format!("{ff} FF (it has {})", p.ffs), format!("ff={}", p.ffs)),
            (b.dsp.is_none() && dsp > p.dsps, format!("{dsp} DSP48 (it has {})", p.dsps), format!("dsp={}", p.dsps)),
            (b.bram36.is_none() && bram > p.bram36 as f64, format!("{bram:.1} BRAM36 (it has {})", p.bram36), format!("bram={}", p.bram36)),
        ]
        .into_iter()
        .filter_map(|(o, have, add)| o.then_some((have, add)))
        .collect();
        if !over.is_empty() {
            let (have, add): (Vec<String>, Vec<String>) = over.into_iter().unzip();
            notes.push(format!(
                "--budget: the design's estimated {} exceed the part {} (--part); add {} to --budget to fold within it",
                have.join(" and "),
                p.name,
                add.join(",")
            ));
        }
    }
    Ok((d, plan, notes))
}

/// `--budget`: the per-layer reuse factors (as a configuration) and the
/// DSP and BRAM estimate of [`crate::arch::schedule::budget_config`]; a
/// streaming design's line buffers and FIFOs take the same block RAM at
/// any folding, so the layers fold within the rest. When the budget names
/// LUTs or FFs, each candidate that fits the rest is generated (not
/// written) and its netlist's fabric weighed ([`Fabric`]). The HLS
/// target folds by the same choice.
///
/// `positions_at_once`: a folded convolution may compute several output
/// positions at once (the parallel Verilog; not the HLS, which keeps them
/// one loop, nor a streaming stage, which computes one window per beat).
pub fn budget_config(g: &Graph, plan: &Plan, config: &crate::passes::config::Config, opts: &Options, b: &crate::arch::schedule::Budget, positions_at_once: bool) -> Result<(crate::passes::config::Config, BudgetEstimate)> {
    if opts.no_dsp && b.lut.is_none() && b.ff.is_none() && b.bram36.is_none() {
        return Err(Error::Usage("--budget: with --no-dsp no multiplier is a DSP48, so a dsp= budget alone constrains nothing: give lut=, ff= or bram= too, or drop --no-dsp".into()));
    }
    let (folded, shift_adds) = budget_folded(g, plan, config, opts, b, positions_at_once)?;
    match unrolled_within(g, plan, config, opts, b, positions_at_once, &folded, shift_adds)? {
        Some(unrolled) => unrolled.into_result(None),
        None => folded.into_result(shift_adds),
    }
}

/// The folded design of [`budget_config`] (the search folds from an
/// interval of 2), and whether its constant products are shift-adds.
fn budget_folded(g: &Graph, plan: &Plan, config: &crate::passes::config::Config, opts: &Options, b: &crate::arch::schedule::Budget, positions_at_once: bool) -> Result<(Search, Option<ShiftAdds>)> {
    let search = |o: &Options, outside: usize| budget_search(g, plan, config, o, b, positions_at_once, outside);
    let mut first = search(opts, 0)?;
    if opts.no_dsp || b.dsp.is_none() {
        // The estimate counts every multiplier, as the design's does
        // (cross-check batch 15: "the budget's estimate, by which it chose
        // the design: 60 DSP48" where the design takes 70).
        if !opts.no_dsp && let Search::Fits { cfg, est, .. } = &mut first {
            est.dsp += outside_dsp(g, plan, config, opts, cfg)?;
        }
        return Ok((first, None));
    }
    // The DSP48 outside the folded layers: the constant multipliers of
    // the layers that do not fold (a standalone batch norm's scales,
    // unrolled over the positions) and products of two signals, the same
    // whatever the reuse factors (a layer the budget unrolls multiplies
    // by shift-adds). Cross-check batch 14: under `dsp=2` a batch norm's
    // 216 constant multipliers were 216 DSP48 more than the estimate.
    // Either they stay multipliers, beside the folded layers' DSP48, or
    // they are shift-adds in the fabric: the shorter interval wins, the
    // multipliers where both give the same.
    let outside = |o: &Options| outside_dsp(g, plan, config, o, first.cfg());
    let multipliers = outside(opts)?;
    if multipliers == 0 {
        return Ok((first, None));
    }
    let shift = Options { const_shift_adds: true, ..opts.clone() };
    let products = outside(&shift)?;
    let (a, s) = (search(opts, multipliers)?, search(&shift, products)?);
    let interval = |o: &Options, c: &crate::passes::config::Config| budget_interval(g, plan, &budget_options(o, config, c), c, None);
    // The constant multipliers' DSP48 (the rest are products of two
    // signals, which shift-adds do not replace).
    let shifted = |multipliers_fit| Some(ShiftAdds { dsp: multipliers - products, multipliers_fit });
    Ok(match (&a, &s) {
        (Search::Fits { .. }, Search::Fits { .. }) if interval(&shift, s.cfg())? < interval(opts, a.cfg())? => (s, shifted(true)),
        (Search::Fits { .. }, _) => (a, None),
        (_, Search::Fits { .. }) => (s, shifted(false)),
        (Search::Over { excess: ea, .. }, Search::Over { excess: es, .. }) => {
            if es < ea {
                (s, shifted(false))
            } else {
                (a, None)
            }
        }
    })
}

/// The interval by which `--budget` compares designs: a streaming
/// design's cycles a sample in its steady state (its timing
/// simulation), else the schedule's initiation interval. `opts` are the
/// design's own (which products are shift-adds); `built`, the design
/// where the caller has it (a stream's is not generated again).
fn budget_interval(g: &Graph, plan: &Plan, opts: &Options, chosen: &crate::passes::config::Config, built: Option<&Design>) -> Result<f64> {
    Ok(if opts.io == Io::Stream {
        match built {
            Some(d) => d.interface.cycles_per_sample(),
            None => design_of(g, plan, opts, chosen)?.interface.cycles_per_sample(),
        }
    } else {
        crate::arch::schedule::schedule(plan, None, chosen).initiation_interval as f64
    })
}

/// The unrolled design, every layer without a reuse factor of its own
/// at R = 1 (what `gen` makes without a budget), where it fits the budget
/// and its interval is shorter than the folded choice's `folded`; where
/// nothing folded fits, it fitting or else closer to the budget. The
/// search folds from an interval of 2, so without it a budget the
/// unrolled design fits got a longer interval and more DSP48
/// (cross-check batch 15: w3_bn under `dsp=60` took II 2 on 60 DSP48
/// where the unrolled design takes II 1 on 57; `dsp=0` said no design
/// fits where the unrolled one with shift-adds takes none). Its constant
/// products are multipliers (as without a budget), else shift-adds
/// (weighed in the fabric, held to `lut=` or the part's LUTs): taken only
/// where nothing folded fits, a looser budget gave a slower design
/// (cross-check batch 17: one Dense under `dsp=0` took II 1, under
/// `dsp=1` II 12). Held to the part where the budget names no limit (a
/// design with no folded layer to trade), and not built where its
/// nonzero weights alone, a LUT or more each, exceed the LUTs (a ResNet-8
/// unrolled).
#[allow(clippy::too_many_arguments)]
fn unrolled_within(g: &Graph, plan: &Plan, config: &crate::passes::config::Config, opts: &Options, b: &crate::arch::schedule::Budget, positions_at_once: bool, folded: &Search, folded_shift_adds: Option<ShiftAdds>) -> Result<Option<Search>> {
    let stream = opts.io == Io::Stream;
    let (cfg, floor) = crate::arch::schedule::unrolled_config(plan, config, positions_at_once && !stream);
    let p = &opts.part;
    if floor > b.lut.unwrap_or(p.luts) {
        return Ok(None);
    }
    let folded_excess = match folded {
        Search::Over { excess, .. } => Some(*excess),
        Search::Fits { .. } => None,
    };
    let kinds = if opts.no_dsp { vec![Unrolled::Multipliers] } else { vec![Unrolled::Multipliers, Unrolled::ShiftAdds] };
    let mut closest: Option<Search> = None;
    for kind in kinds {
        let o = Search::options(Some(kind), None, opts, config, &cfg);
        // A design that cannot be generated is not the budget's choice.
        let Ok(d) = design_of(g, plan, &o, &cfg) else { continue };
        let est = d.estimate();
        let (lut, ff) = (d.fabric.luts(opts.no_dsp), d.fabric.ffs(opts.no_dsp));
        // Over the part in an item the budget leaves open: not a candidate
        // (over a named item it can still be the closest; cross-check
        // batch 17: `ff=183` named a design of 281 FF where the unrolled
        // one takes 184).
        if b.dsp.is_none() && est.dsp > p.dsps || b.bram36.is_none() && est.bram36 > p.bram36 as f64 || b.lut.is_none() && lut > p.luts || b.ff.is_none() && ff > p.ffs {
            continue;
        }
        let (over, excess) = over_budget(b, est.dsp, est.bram36, 0.0, Some((lut, ff)));
        if !over.is_empty() {
            if folded_excess.is_some_and(|f| excess < f) && closest.as_ref().is_none_or(|c| matches!(c, Search::Over { excess: e, .. } if excess < *e)) {
                closest = Some(Search::Over { cfg: cfg.clone(), over, excess });
            }
            continue;
        }
        let shorter = match folded {
            Search::Over { .. } => true,
            Search::Fits { cfg: f, .. } => budget_interval(g, plan, &o, &cfg, Some(&d))? < budget_interval(g, plan, &Search::options(None, folded_shift_adds, opts, config, f), f, None)?,
        };
        // The other kind has the same interval.
        return Ok(shorter.then_some(Search::Fits { cfg, est, fixed: 0.0, unrolled: Some(kind) }));
    }
    Ok(closest)
}

/// The DSP48 outside the folded layers of the design `opts` gives for
/// the chosen configuration `chosen` (by the report's estimate).
fn outside_dsp(g: &Graph, plan: &Plan, user: &crate::passes::config::Config, opts: &Options, chosen: &crate::passes::config::Config) -> Result<usize> {
    let d = budget_design(g, plan, user, opts, chosen)?;
    Ok(d.layers.iter().map(|l| l.counts.dsp_estimate - l.counts.folded_dsp).sum())
}

/// What a design takes over the budget `b` (its DSP48, block RAM in all,
/// `fixed` of it line buffers and FIFOs, and its weighed LUTs and FFs),
/// each item as the error names it, and how far ([`Budget::excess`]):
/// nothing where it fits.
///
/// [`Budget::excess`]: crate::arch::schedule::Budget::excess
fn over_budget(b: &crate::arch::schedule::Budget, dsp: usize, bram36: f64, fixed: f64, fabric: Option<(usize, usize)>) -> (Vec<String>, f64) {
    let mut over = vec![];
    if let Some(n) = b.dsp.filter(|&n| dsp > n) {
        over.push(format!("{dsp} DSP48 (dsp={n})"));
    }
    if let Some(n) = b.bram36.filter(|&n| bram36 > n) {
        over.push(format!("{bram36:.1} BRAM36 (bram={n}{})", if fixed > 0.0 { format!("; {fixed:.1} of them line buffers and FIFOs") } else { String::new() }));
    }
    if let Some((lut, ff)) = fabric {
        if let Some(n) = b.lut.filter(|&n| lut > n) {
            over.push(format!("{lut} LUT (lut={n})"));
        }
        if let Some(n) = b.ff.filter(|&n| ff > n) {
            over.push(format!("{ff} FF (ff={n})"));
        }
    }
    (over, b.excess(dsp, bram36, fabric))
}

/// The design a configuration `chosen` by `--budget` gives (from the
/// user's configuration `user`; parallel or streamed by `opts.io`): what
/// each of the budget's weighings builds.
fn budget_design(g: &Graph, plan: &Plan, user: &crate::passes::config::Config, opts: &Options, chosen: &crate::passes::config::Config) -> Result<Design> {
    design_of(g, plan, &budget_options(opts, user, chosen), chosen)
}

/// The design of configuration `cfg` with options `o` (parallel or
/// streamed by `o.io`), not written.
fn design_of(g: &Graph, plan: &Plan, o: &Options, cfg: &crate::passes::config::Config) -> Result<Design> {
    if o.io == Io::Stream { Ok(stream::generate_stream(g, plan, o, cfg)?.0) } else { generate(g, plan, o, &crate::arch::schedule::schedule(plan, None, cfg)) }
}

/// What a [`budget_search`] found: a design that fits, or the one
/// closest to the budget (what it takes over, and its relative excess).
enum Search {
    Fits { cfg: crate::passes::config::Config, est: crate::arch::schedule::Estimate, fixed: f64, unrolled: Option<Unrolled> },
    Over { cfg: crate::passes::config::Config, over: Vec<String>, excess: f64 },
}

impl Search {
    /// `opts` for a design of the budget's, configuration `chosen` from the
    /// user's `user`: unrolled (its constant products multipliers as
    /// without a budget, or shift-adds), else the layers the budget
    /// unrolled as shift-adds, and the constant products of the rest where
    /// `const_shift_adds` says so.
    fn options(unrolled: Option<Unrolled>, const_shift_adds: Option<ShiftAdds>, opts: &Options, user: &crate::passes::config::Config, chosen: &crate::passes::config::Config) -> Options {
        match unrolled {
            Some(Unrolled::Multipliers) => opts.clone(),
            Some(Unrolled::ShiftAdds) => Options { const_shift_adds: true, ..budget_options(opts, user, chosen) },
            None => Options { const_shift_adds: const_shift_adds.is_some(), ..budget_options(opts, user, chosen) },
        }
    }

    fn cfg(&self) -> &crate::passes::config::Config {
        match self {
            Search::Fits { cfg, .. } | Search::Over { cfg, .. } => cfg,
        }
    }

    /// The chosen configuration and its estimate (`const_shift_adds`: its
    /// constant products are shift-adds), or the error naming the closest.
    fn into_result(self, const_shift_adds: Option<ShiftAdds>) -> Result<(crate::passes::config::Config, BudgetEstimate)> {
        match self {
            Search::Fits { cfg, est, fixed, unrolled } => Ok((cfg, BudgetEstimate { dsp: est.dsp, bram36: est.bram36 + fixed, fixed_bram36: fixed, const_shift_adds, unrolled })),
            Search::Over { over, .. } => Err(Error::Usage(format!(
                "--budget: no design fits it: the closest takes an estimated {}; give a larger budget, or choose reuse factors with --reuse-factor or --config",
                over.join(", ")
            ))),
        }
    }
}

/// The search of [`budget_config`] with `outside` DSP48 beside the folded
/// layers (the budget's DSP48 less them for the folded layers; the
/// estimate it returns counts them).
fn budget_search(g: &Graph, plan: &Plan, config: &crate::passes::config::Config, opts: &Options, b: &crate::arch::schedule::Budget, positions_at_once: bool, outside: usize) -> Result<Search> {
    let stream = opts.io == Io::Stream;
    let sp = if stream { Some(crate::arch::stream::stream_plan(plan)?) } else { None };
    // The RAM of a candidate's line buffers and FIFOs, which the reuse
    // factors change only through the line buffers' kinds (a reader fast
    // enough gets a sliding line buffer, whose RAM is wider). Weighed per
    // candidate (cross-check batch 11: set aside as the fastest design's
    // wide line buffers take, the block RAM left forced every candidate's
    // layers to fold further, 816 cycles a sample where 144 fit).
    // Its FIFOs at their deadlock-free minimum with `fifo_minimum`, else
    // at twice that (the timing simulation sizes them between the two).
    let fixed_of = |c: &crate::passes::config::Config, fifo_minimum: bool| -> f64 {
        sp.as_ref().map_or(0.0, |sp| crate::arch::stream_fifos::ram_bram36(plan, sp, fifo_minimum, &|k, geo| sp.window_kind(k, geo, opts.reuse_factor, c)))
    };
    // With --no-dsp every multiplier is fabric: a DSP48 budget holds.
    let rest = crate::arch::schedule::Budget { dsp: b.dsp.filter(|_| !opts.no_dsp).map(|n| n.saturating_sub(outside)), ..*b };
    let fabric = |c: &crate::passes::config::Config| -> Result<(usize, usize)> {
        let d = budget_design(g, plan, config, opts, c)?;
        Ok((d.fabric.luts(opts.no_dsp), d.fabric.ffs(opts.no_dsp)))
    };
    // The budget's LUTs and FFs, else the part's: a design that unrolls a
    // layer (its products all in the fabric, no DSP48 by the estimate) is
    // weighed even where the budget names neither, and held to the part;
    // not built where its unrolled products alone exceed the LUTs.
    let (lut_limit, ff_limit) = (b.lut.unwrap_or(opts.part.luts), b.ff.unwrap_or(opts.part.ffs));
    // Weighed once a configuration: neighbouring targets often give the
    // same design, and the stream's relaxation asks again.
    let mut weighed: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    let mut fabric_fits = |c: &crate::passes::config::Config, floor: usize| {
        floor <= lut_limit && *weighed.entry(format!("{:?}", c.layers)).or_insert_with(|| fabric(c).is_ok_and(|(lut, ff)| lut <= lut_limit && ff <= ff_limit))
    };
    let mut choose = |rest: &crate::arch::schedule::Budget, fifo_minimum: bool| {
        let fixed_of = |c: &crate::passes::config::Config| fixed_of(c, fifo_minimum);
        let (mut cfg, mut est) = crate::arch::schedule::budget_config(plan, config, rest, positions_at_once && !stream, opts.pack_dsp, 0, &mut crate::arch::schedule::Weigh { fixed_bram36: &fixed_of, fabric_fits: &mut fabric_fits });
        if stream {
            // A stream's interval can be set by what the tightest fit does not
            // shorten (a pooling, a zero-inserting dilator, a line buffer, the
            // stages' interplay): layers folded for a shorter
            // time spend DSP48 that buy nothing (cross-check batch 13: a
            // convolution at R = 6 where R = 36 gave the same interval). So fold
            // up to the interval the chosen design has, and keep that only if
            // its own timing simulation gives no longer an interval.
            // A design folded right up to the interval can miss it, its stages'
            // real cycles above their foldings' (conv_t at dsp=48: folded up to
            // the tightest fit's 605 cycles, it took 846), so the target is
            // the interval, else searched below it (halvings, each a timing
            // simulation) for the largest whose design keeps the interval.
            // Intervals compared as throughputs (the steady state's cycles a
            // sample).
            // With the largest interval (a sample of the pipeline filling):
            // relaxed up to the steady interval, cnn_bn's head took 77
            // cycles for its first samples where 64 were stated before.
            let interval = |c: &crate::passes::config::Config| budget_design(g, plan, config, opts, c).map(|d| (d.interface.cycles_per_sample(), d.interface.initiation_interval));
            // A lower target folds less: where it is the tightest fit's design
            // or saves nothing on it (fewer DSP48, else as many and less
            // block RAM), no lower one gains anything. Block RAM alone is
            // not compared: a deeper ROM can take a BRAM36 where a shallow
            // one took LUTs (cross-check batch 10: 69 DSP48 and 1.5 BRAM36
            // at the 80 cycles 369 DSP48 and none gave, kept the latter).
            // The layers the tightest fit unrolled stay unrolled: at a
            // longer target they would fold, and a layer folded within it
            // takes DSP48 its unrolled form does not (stream_resnet under
            // `dsp=64`: its convolutions folded to the 100 cycles the fit
            // takes would need more than 64, so the relaxation found
            // nothing and `out` kept R = 2 on 40 DSP48, where R = 80 takes
            // one at the same interval).
            let mut pinned = config.clone();
            for l in budget_unrolled(config, &cfg) {
                pinned.layers.entry(l).or_default().reuse_factor = Some(1);
            }
            if let Ok((t, largest)) = interval(&cfg) {
                let (mut lo, mut hi) = (2usize, t as usize);
                let mut target = hi;
                let mut best = None;
                for _ in 0..7 {
                    let (relaxed, e) = crate::arch::schedule::budget_config(plan, &pinned, rest, false, opts.pack_dsp, target, &mut crate::arch::schedule::Weigh { fixed_bram36: &fixed_of, fabric_fits: &mut fabric_fits });
                    if relaxed == cfg || e.dsp > est.dsp || e.dsp == est.dsp && e.bram36 >= est.bram36 {
                        hi = target.saturating_sub(1);
                        if best.is_none() {
                            break;
                        }
                    } else if interval(&relaxed).is_ok_and(|(r, l)| r <= t && l <= largest) {
                        best = Some((relaxed, e));
                        lo = target + 1;
                    } else {
                        hi = target.saturating_sub(1);
                    }
                    if lo > hi {
                        break;
                    }
                    target = (lo + hi).div_ceil(2);
                }
                if let Some(b) = best {
                    (cfg, est) = b;
                }
            }
        }
        (cfg, est)
    };
    // A design's own block RAM in all (its FIFOs sized by the timing
    // simulation): its layers' by the estimate, the rest its line
    // buffers' and FIFOs'.
    let own_bram36 = |c: &crate::passes::config::Config| -> Option<f64> { Some(budget_design(g, plan, config, opts, c).ok()?.estimate().bram36) };
    let no_dsp = |mut e: crate::arch::schedule::Estimate| {
        e.dsp = if opts.no_dsp { 0 } else { e.dsp + outside };
        e
    };
    // What a design takes over the budget, and how far (relative to each
    // item): nothing where it fits.
    let over = |cfg: &crate::passes::config::Config, est: &crate::arch::schedule::Estimate, fixed: f64| -> Result<(Vec<String>, f64)> {
        // A design that cannot be generated says why here.
        let weighed = if b.lut.is_some() || b.ff.is_some() { Some(fabric(cfg)?) } else { None };
        Ok(over_budget(b, est.dsp, est.bram36 + fixed, fixed, weighed))
    };
    // A streamed budget short of block RAM first counts the FIFOs at their
    // minimum, and keeps that choice where the generated design's own
    // block RAM (its FIFOs sized by the timing simulation) fits (batch
    // 13: m4 streamed under `bram=0` said no design fits, a FIFO at twice
    // its minimum reaching a block RAM, where the design has 33 words of
    // LUT RAM); else they count at twice the minimum.
    let optimistic = (stream && !opts.fifo_minimum && b.bram36.is_some())
        .then(|| {
            let (c, e) = choose(&rest, true);
            let own = own_bram36(&c)?;
            Some((c, no_dsp(e), (own - e.bram36).max(0.0)))
        })
        .flatten();
    Ok(match optimistic {
        Some(o) if over(&o.0, &o.1, o.2)?.0.is_empty() => Search::Fits { cfg: o.0, est: o.1, fixed: o.2, unrolled: None },
        optimistic => {
            let (c, e) = choose(&rest, opts.fifo_minimum);
            let (e, fixed) = (no_dsp(e), fixed_of(&c, opts.fifo_minimum));
            if over(&c, &e, fixed)?.0.is_empty() {
                Search::Fits { cfg: c, est: e, fixed, unrolled: None }
            } else {
                // Its FIFOs as sized (counted at twice their minimum, it
                // was over where the generated design is not: merges_conv
                // streamed under `dsp=16,bram=6`).
                let sized = if stream { own_bram36(&c).map_or(fixed, |own| (own - e.bram36).max(0.0)) } else { fixed };
                let at_sized = over(&c, &e, sized)?;
                if at_sized.0.is_empty() {
                    Search::Fits { cfg: c, est: e, fixed: sized, unrolled: None }
                } else {
                    // Nothing fits: the closest design to the budget, its
                    // FIFOs as sized (merges_conv streamed under
                    // `dsp=4,bram=4` named 7.5 BRAM36, where `bram=6` fits).
                    let (over, excess) = match optimistic.map(|o| over(&o.0, &o.1, o.2)).transpose()? {
                        Some(other) if other.1 < at_sized.1 => other,
                        _ => at_sized,
                    };
                    Search::Over { cfg: c, over, excess }
                }
            }
        }
    })
}

/// The layers `--budget` unrolled (`chosen` gives them reuse factor 1,
/// `user`'s configuration none): it counts them no DSP48, so their
/// constant products are shift-adds.
pub fn budget_unrolled(user: &crate::passes::config::Config, chosen: &crate::passes::config::Config) -> std::collections::BTreeSet<String> {
    chosen.layers.iter().filter(|(l, c)| c.reuse_factor == Some(1) && user.layer(l).and_then(|u| u.reuse_factor).is_none()).map(|(l, _)| l.clone()).collect()
}

/// `opts` for the design `--budget` chose (`chosen`, from `user`'s
/// configuration): its unrolled layers' products as shift-adds.
fn budget_options(opts: &Options, user: &crate::passes::config::Config, chosen: &crate::passes::config::Config) -> Options {
    Options { shift_add_layers: budget_unrolled(user, chosen), ..opts.clone() }
}

/// The reuse factors (and positions at once) a `--budget` chose, layer by
/// layer, as its note says them; a layer it unrolled (it cannot fold
/// within the interval) is said so.
pub fn budget_folds(cfg: &crate::passes::config::Config) -> String {
    let mut folds: Vec<String> = cfg
        .layers
        .iter()
        .filter_map(|(l, c)| {
            let p = c.parallelization_factor.filter(|&p| p > 1).map(|p| format!(" ({p} positions at once)")).unwrap_or_default();
            c.reuse_factor.map(|r| if r > 1 { format!("{l} {r}{p}") } else { format!("{l} 1 (unrolled)") })
        })
        .collect();
    folds.sort();
    if folds.is_empty() { "none".to_string() } else { folds.join(", ") }
}

/// The DSP and BRAM estimate of a `--budget` choice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetEstimate {
    pub dsp: usize,
    /// BRAM36, line buffers and FIFOs included.
    pub bram36: f64,
    /// The BRAM36 of a streaming design's line buffers and FIFOs.
    pub fixed_bram36: f64,
    /// The constant products of the layers that do not fold are
    /// shift-adds ([`budget_config`]).
    pub const_shift_adds: Option<ShiftAdds>,
    /// The design is the unrolled one ([`budget_config`]).
    pub unrolled: Option<Unrolled>,
}

/// How the unrolled design a `--budget` chose multiplies by constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrolled {
    /// By multipliers, as `gen` makes it without a budget.
    Multipliers,
    /// By shift-adds in the fabric: as multipliers they exceed the budget.
    ShiftAdds,
}

impl BudgetEstimate {
    /// `opts` for the design this estimate is of ([`Search::options`]).
    fn options(&self, opts: &Options, user: &crate::passes::config::Config, chosen: &crate::passes::config::Config) -> Options {
        Search::options(self.unrolled, self.const_shift_adds, opts, user, chosen)
    }
}

/// Why `--budget` made the constant products of the layers that do not
/// fold shift-adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShiftAdds {
    /// The DSP48 they take as multipliers.
    pub dsp: usize,
    /// As multipliers a design fit too, at a longer interval (else none fit).
    pub multipliers_fit: bool,
}

/// TDATA bits for `bits` bits of data: padded to whole bytes (DESIGN.md).
pub fn tdata_width(bits: u32) -> u32 {
    bits.div_ceil(8).max(1) * 8
}

/// The header line of every generated file.
pub fn header(g: &Graph, sigmoid: crate::quant::InternalSigmoid) -> String {
    format!(
        "qkhw {}; model {} (sha256 {}); internal_sigmoid={sigmoid}",
        env!("CARGO_PKG_VERSION"),
        g.source.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default(),
        g.sha256
    )
}
