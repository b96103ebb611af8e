//! The exact timing of a streaming design at full rate, by simulating its
//! handshakes cycle by cycle.
//!
//! A streaming design's interval and latencies come from how its stages'
//! valid/ready handshakes, line buffers and FIFOs interact (a line buffer
//! stalls while a slow stage downstream holds its window, a join waits for
//! its slower branch): a sum of per-stage figures misses them by a factor
//! of several. So `gen` runs the design's own netlist, as the Verilog
//! says it, on the control nets alone: the cells that valid, ready and
//! the beat counters depend on (never the data), flattened through the
//! netlist modules it instantiates. The beat stages are the handshake
//! template of the interface contract around a datapath ([`Pipeline`]),
//! whose control is its phase counter, valid shift register and output
//! skid buffer; they are simulated by that model. The input is offered
//! at full rate and the output always taken, as `verify`'s steady run
//! does, so the figures are exactly what it measures.

use std::collections::HashMap;

use super::netlist::{Cell, Cmp, Module, NetId, NetKind};

/// The handshake template of a beat stage (`templates/verilog/top.v`,
/// one input port): a sample is taken when the output skid buffer has
/// room and, at an initiation interval above 1, at phase 0; it leaves the
/// datapath `depth` cycles later into the skid buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pipeline {
    pub ii: usize,
    /// Pipeline stages before the skid buffer (the template's `latency`).
    pub depth: usize,
}

/// What [`full_rate`] measures, defined as the `verify` harness defines
/// it: over the samples, the largest first-input-beat → first-output-beat
/// and last-input-beat → last-output-beat latencies and the largest
/// interval between the first input beats of consecutive samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullRate {
    pub latency_first: u64,
    /// Negative where a sample's output is complete before its last input
    /// beats go in: the model never reads them (a valid convolution or a
    /// pooling that drops the last rows), so the design does not wait.
    pub latency_last: i64,
    pub interval: u64,
    /// The samples a run needs to see all three largest values and every
    /// watched probe's largest value (a shorter run can see less).
    pub samples: usize,
    /// The largest value of each watched probe over the run (a FIFO's
    /// occupancy: what sizes it).
    pub probe_max: Vec<i64>,
    /// Whether the timing repeated. If not (stages whose intervals drift
    /// against each other over a very long cycle), the figures are the
    /// largest over the samples simulated: a longer run can see more.
    pub repeated: bool,
    /// The steady state, where the timing repeated: `samples` samples
    /// every `cycles` cycles (one period of the repeating timing). The
    /// throughput: the largest interval (`interval`) can be a sample of
    /// the pipeline filling (n08 of cross-check batch 8 at R = 4: 395
    /// cycles at most, 200 a sample from its eighth on).
    pub steady: Option<Steady>,
}

/// The steady state of a streaming design at full rate: `samples` samples
/// every `cycles` cycles (between their first input beats), from sample
/// `from` on (the timing simulation's run when it found the cycle; the
/// cycle holds from there for ever, the design's whole state repeating).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Steady {
    pub samples: usize,
    pub cycles: u64,
    pub from: usize,
}

impl Steady {
    /// Whether this steady state takes fewer cycles a sample than `other`.
    pub fn faster_than(&self, other: &Steady) -> bool {
        u128::from(self.cycles) * (other.samples as u128) < u128::from(other.cycles) * (self.samples as u128)
    }

    /// Cycles a sample (the mean over the period).
    pub fn per_sample(&self) -> f64 {
        self.cycles as f64 / self.samples.max(1) as f64
    }

    /// The samples a full-rate run needs to measure one period of it:
    /// `from`, then the period and the sample before it.
    pub fn samples_to_check(&self) -> usize {
        self.from + self.samples + 1
    }

    /// Whether it takes fewer cycles a sample than the largest interval
    /// `interval` (which the pipeline filling then set).
    pub fn below(&self, interval: u64) -> bool {
        self.faster_than(&Steady { samples: 1, cycles: interval, from: 0 })
    }
}

/// "N samples every C cycles", as every note and report says it.
impl std::fmt::Display for Steady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} sample{} every {} cycles", self.samples, if self.samples == 1 { "" } else { "s" }, self.cycles)
    }
}

/// The top's handshake nets `full_rate` drives and watches.
#[derive(Debug, Clone)]
pub struct Ports {
    pub rst: NetId,
    /// The value of `rst` that resets (0 for an active-low `aresetn`).
    pub rst_on: i128,
    /// Every input port (several where the model has several inputs).
    pub ins: Vec<InPort>,
    pub out_valid: NetId,
    pub out_ready: NetId,
}

/// An input port's handshake and its beats per sample.
#[derive(Debug, Clone, Copy)]
pub struct InPort {
    pub valid: NetId,
    pub ready: NetId,
    pub beats: usize,
}

/// The most samples [`full_rate`] simulates looking for the design's
/// steady cycle.
pub const MAX_SAMPLES: usize = 4096;

/// What a negative last-beat latency means, said after the figure: the
/// output is complete before the sample's last input beats go in.
pub fn last_latency_note(latency_last: i64) -> &'static str {
    if latency_last < 0 { " (negative: the output is complete before the sample's last input beats, which the model never reads)" } else { "" }
}

/// One sample's timing: (first-beat latency, last-beat latency, interval
/// from the previous sample's first beat, 0 for the first sample).
type Sample = (u64, i64, u64);

/// Why [`full_rate`] gives no timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsimulated {
    /// Fewer than three samples came out within the limit (`through` of
    /// them in `limit` cycles): a design too slow for the limit, or one
    /// that stalls.
    TooFew { through: usize, limit: u64 },
    /// The netlist has what the simulation does not model (a control net
    /// wider than 62 bits or read from a memory, an instance of another
    /// kind, a watched probe that does not exist).
    Unsupported(String),
}

impl std::fmt::Display for Unsimulated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unsimulated::TooFew { through, limit } => write!(f, "{through} samples through after {limit} cycles"),
            Unsimulated::Unsupported(why) => f.write_str(why),
        }
    }
}

impl From<String> for Unsimulated {
    fn from(why: String) -> Unsimulated {
        Unsimulated::Unsupported(why)
    }
}

/// Simulate `top` (whose instances are the netlist `modules` or the beat
/// stages `pipelines`, by module name) with every input port's beats
/// offered every cycle and the output (`out_beats` beats per sample)
/// always ready, until the
/// samples' timing repeats, within `limit` cycles and [`MAX_SAMPLES`].
///
/// The pipeline fills with the first sample and back-pressure reaches the
/// input by the third or fourth; after that the samples time alike, or in
/// a cycle: a folded stage's phase counter runs on while it waits, so
/// stages of different intervals drift against each other (`cnn_bn` at
/// R = 7 repeats every 72 samples, its first-beat latency between 575
/// and 590 cycles; a ResNet-8 balanced by `--budget` every five). The
/// cycle must be seen three times over; the figures are the largest up to
/// then (or, where it is not seen within the limits, over the samples
/// simulated: [`FullRate::repeated`]). An error says why the design
/// cannot be simulated (a control net wider than 62 bits or read from a
/// memory, an instance of another kind, fewer than three samples through,
/// a watched probe that does not exist).
///
/// With several inputs, a sample's first input beat is the latest of its
/// ports' first beats (a port can run samples ahead of another, as far as
/// the design buffers, which says nothing of the design's latency) and
/// its last input beat the latest of their last beats.
///
/// `watch` names probe nets ([`NetKind::Probe`]) by instance path and
/// name (`u_s5_fifo0.level`); their largest values come back in
/// [`FullRate::probe_max`].
pub fn full_rate(top: &Module, modules: &HashMap<String, Module>, pipelines: &HashMap<String, Pipeline>, ports: &Ports, out_beats: usize, limit: u64, watch: &[String]) -> Result<FullRate, Unsimulated> {
    let mut flat = Flat::default();
    let ids = flat.add(top, modules, pipelines, "")?;
    let watched: Vec<NetId> = watch
        .iter()
        .map(|w| flat.probes.get(w).copied().ok_or_else(|| format!("no probe {w} (a qkhw bug)")))
        .collect::<Result<_, String>>()?;
    let p = Ports {
        rst: ids[ports.rst.0],
        ins: ports.ins.iter().map(|i| InPort { valid: ids[i.valid.0], ready: ids[i.ready.0], beats: i.beats.max(1) }).collect(),
        out_valid: ids[ports.out_valid.0],
        out_ready: ids[ports.out_ready.0],
        rst_on: ports.rst_on,
    };
    let mut sim = Sim::new(flat, &p, &watched)?;
    let mut probe_max = vec![i64::MIN; watched.len()];
    let (mut accepted, mut given): (Vec<Vec<u64>>, Vec<u64>) = (vec![vec![]; p.ins.len()], vec![]);
    let mut in_fire = vec![false; p.ins.len()];
    // Reset as the harness does: four cycles, nothing offered or taken.
    let mut drive: Vec<(NetId, i128)> = vec![(p.rst, p.rst_on), (p.out_ready, 0)];
    drive.extend(p.ins.iter().map(|i| (i.valid, 0)));
    for _ in 0..4 {
        sim.cycle(&drive, &mut in_fire);
    }
    let rst_off = 1 - p.rst_on;
    // The samples a run (as `verify` makes: each port offered its samples'
    // beats, then nothing) needs to hold what a FIFO holds now: at least
    // `done`, and every sample any port has begun (a port can run ahead,
    // its beats waiting in a FIFO). The timing figures need only the
    // samples up to theirs: later samples never delay earlier ones.
    let needed = |accepted: &[Vec<u64>], done: usize| p.ins.iter().zip(accepted).map(|(i, a)| a.len().div_ceil(i.beats)).max().unwrap_or(0).max(done);
    let mut probe_need = vec![0usize; watched.len()];
    let mut drive: Vec<(NetId, i128)> = vec![(p.rst, rst_off), (p.out_ready, 1)];
    drive.extend(p.ins.iter().map(|i| (i.valid, 1)));
    // A sample's first and last input beats over the ports.
    let first_in = |accepted: &[Vec<u64>], s: usize| p.ins.iter().zip(accepted).map(|(i, a)| a.get(s * i.beats).copied()).collect::<Option<Vec<u64>>>().and_then(|v| v.into_iter().max());
    let last_in = |accepted: &[Vec<u64>], s: usize| p.ins.iter().zip(accepted).map(|(i, a)| a.get((s + 1) * i.beats - 1).copied()).collect::<Option<Vec<u64>>>().and_then(|v| v.into_iter().max());
    let mut each: Vec<Sample> = vec![];
    // The design's state as each sample's last output beat leaves.
    let mut states: Vec<u64> = vec![];
    let mut cycle = 0u64;
    let mut steady = None;
    loop {
        if cycle >= limit {
            if each.len() < 3 {
                return Err(Unsimulated::TooFew { through: each.len(), limit });
            }
            break;
        }
        let out_fire = sim.cycle(&drive, &mut in_fire);
        for (a, &f) in accepted.iter_mut().zip(&in_fire) {
            if f {
                a.push(cycle);
            }
        }
        for ((m, n), need) in probe_max.iter_mut().zip(&watched).zip(&mut probe_need) {
            // The value this cycle settled to (registers clocked after).
            if sim.v[n.0] > *m {
                *m = sim.v[n.0];
                *need = needed(&accepted, each.len() + 1);
            }
        }
        if out_fire {
            given.push(cycle);
        }
        cycle += 1;
        // A sample's timing is known once its output and its input are
        // both complete: its output can be, before its last input beats
        // go in, where the model never reads them (cross-check batch 11:
        // a pooling dropped the last two rows of a 16x16 image).
        let s = each.len();
        if given.len() < (s + 1) * out_beats {
            continue;
        }
        let (Some(first), Some(last)) = (first_in(&accepted, s), last_in(&accepted, s)) else {
            continue;
        };
        let last_out = given[(s + 1) * out_beats - 1];
        each.push((
            given[s * out_beats].saturating_sub(first),
            last_out as i64 - last as i64,
            if s > 0 { first - first_in(&accepted, s - 1).unwrap_or(first) } else { 0 },
        ));
        states.push(sim.state_hash());
        if let Some(p) = repeats(&each, &states) {
            steady = Some(Steady { samples: p, cycles: each[each.len() - p..].iter().map(|e| e.2).sum(), from: each.len() });
            break;
        }
        if each.len() == MAX_SAMPLES {
            break;
        }
    }
    // Each figure's largest value and the run that first sees it.
    fn largest<T: Ord + Copy + Default>(each: &[Sample], f: fn(&Sample) -> T) -> (T, usize) {
        let m = each.iter().map(f).max().unwrap_or_default();
        (m, each.iter().position(|e| f(e) == m).unwrap_or(0) + 1)
    }
    let (first, a) = largest(&each, |e| e.0);
    let (last, b) = largest(&each, |e| e.1);
    let (interval, c) = largest(&each, |e| e.2);
    let probes = probe_need.iter().copied().max().unwrap_or(0);
    Ok(FullRate { latency_first: first, latency_last: last, interval, samples: a.max(b).max(c).max(probes), probe_max, repeated: steady.is_some(), steady })
}

/// The period `p` (in samples) of the cycle the samples' timing has
/// settled into, if it has: the last three periods (at least five samples) repeat, none of
/// them among the first two samples (the pipeline filling), and so does
/// the design's whole state (`states`, as each sample left) at their
/// ends. Timings alone can repeat for a while where two stages' phase
/// counters drift against each other (a cross-check's model repeated 714
/// cycles per image with a first-beat latency of 1,191 for three periods;
/// later samples took 1,193).
fn repeats(each: &[Sample], states: &[u64]) -> Option<usize> {
    let m = each.len();
    (1..=m / 3).find(|&p| {
        let w = (2 * p).max(4);
        m >= w + p + 2
            && each[m - 1] == each[m - 1 - p]
            && (m - w..m).all(|s| each[s] == each[s - p])
            && states[m - 1] == states[m - 1 - p]
            && states[m - 1 - p] == states[m - 1 - 2 * p]
    })
}

/// A net of the flattened design: its width and whether it is signed.
#[derive(Debug, Clone, Copy)]
struct Wire {
    width: u32,
    signed: bool,
}

/// A beat stage in the flattened design: its model and its four
/// handshake nets.
#[derive(Debug, Clone)]
struct Stage {
    p: Pipeline,
    in_valid: NetId,
    in_ready: NetId,
    out_valid: NetId,
    out_ready: NetId,
}

/// The design with every netlist instance inlined.
#[derive(Debug, Default)]
struct Flat {
    wires: Vec<Wire>,
    cells: Vec<Cell>,
    stages: Vec<Stage>,
    /// Each probe net by instance path and name.
    probes: HashMap<String, NetId>,
}

impl Flat {
    /// Inline `m`; returns the flat id of each of its nets.
    fn add(&mut self, m: &Module, modules: &HashMap<String, Module>, pipelines: &HashMap<String, Pipeline>, path: &str) -> Result<Vec<NetId>, String> {
        let base = self.wires.len();
        self.wires.extend(m.nets.iter().map(|n| Wire { width: n.width, signed: n.signed() }));
        let ids: Vec<NetId> = (0..m.nets.len()).map(|i| NetId(base + i)).collect();
        for (n, id) in m.nets.iter().zip(&ids) {
            if n.kind == NetKind::Probe {
                self.probes.insert(format!("{path}{}", n.name), *id);
            }
        }
        for c in &m.cells {
            match c {
                Cell::Instance { module, name, conns, .. } => {
                    let conn = |port: &str| conns.iter().find(|c| c.0 == port).map(|c| ids[c.1.0]);
                    if let Some(sub) = modules.get(module) {
                        let inner = self.add(sub, modules, pipelines, &format!("{path}{name}."))?;
                        for (port, outer) in conns {
                            let Some(k) = sub.nets.iter().position(|n| n.name == *port) else {
                                return Err(format!("{path}{name}: module {module} has no port {port}"));
                            };
                            let (outer, inner) = (ids[outer.0], inner[k]);
                            match sub.nets[k].kind {
                                NetKind::Input => self.cells.push(Cell::Extend { y: inner, a: outer }),
                                NetKind::Output => self.cells.push(Cell::Extend { y: outer, a: inner }),
                                _ => return Err(format!("{path}{name}: {port} of {module} is not a port")),
                            }
                        }
                    } else if let Some(&p) = pipelines.get(module) {
                        let need = |port: &str| conn(port).ok_or_else(|| format!("{path}{name}: no {port}"));
                        self.stages.push(Stage { p, in_valid: need("input_tvalid")?, in_ready: need("input_tready")?, out_valid: need("output_tvalid")?, out_ready: need("output_tready")? });
                    }
                    // Any other instance (a requantizer) drives data
                    // only: its outputs are driven by nothing here, and a
                    // handshake that read one could not be simulated.
                }
                c => self.cells.push(renumber(c, &ids)),
            }
        }
        Ok(ids)
    }
}

/// `c` with its nets renumbered by `ids`.
fn renumber(c: &Cell, ids: &[NetId]) -> Cell {
    let f = |n: &NetId| ids[n.0];
    match c {
        Cell::Const { y, value } => Cell::Const { y: f(y), value: *value },
        Cell::Add { y, a, b } => Cell::Add { y: f(y), a: f(a), b: f(b) },
        Cell::Sub { y, a, b } => Cell::Sub { y: f(y), a: f(a), b: f(b) },
        Cell::Mul { y, a, b, tile } => Cell::Mul { y: f(y), a: f(a), b: f(b), tile: *tile },
        Cell::Compare { y, op, a, b } => Cell::Compare { y: f(y), op: *op, a: f(a), b: f(b) },
        Cell::Mux { y, sel, one, zero } => Cell::Mux { y: f(y), sel: f(sel), one: f(one), zero: f(zero) },
        Cell::Slice { y, a, lsb } => Cell::Slice { y: f(y), a: f(a), lsb: *lsb },
        Cell::Extend { y, a } => Cell::Extend { y: f(y), a: f(a) },
        Cell::Shl { y, a, s } => Cell::Shl { y: f(y), a: f(a), s: *s },
        Cell::Concat { y, parts } => Cell::Concat { y: f(y), parts: parts.iter().map(f).collect() },
        Cell::Reg { q, d, en, reset } => Cell::Reg { q: f(q), d: f(d), en: en.as_ref().map(f), reset: reset.map(|(r, v)| (f(&r), v)) },
        Cell::Rom { q, addr, en, words, elem_width, init } => Cell::Rom { q: f(q), addr: f(addr), en: en.as_ref().map(f), words: words.clone(), elem_width: *elem_width, init: init.clone() },
        Cell::Ram { q, raddr, ren, waddr, wdata, we, depth } => Cell::Ram { q: f(q), raddr: f(raddr), ren: f(ren), waddr: f(waddr), wdata: f(wdata), we: f(we), depth: *depth },
        Cell::Instance { .. } => c.clone(),
    }
}

/// The state of a beat stage's handshake template.
#[derive(Debug, Clone, Hash)]
struct StageState {
    phase: usize,
    /// The valid bits in flight, newest first (the template's `valid_sr`,
    /// or `valid_w` with one bit per interval).
    valid: Vec<bool>,
    /// The skid buffer's output and spare registers.
    out: bool,
    spare: bool,
}

impl StageState {
    fn new(p: Pipeline) -> StageState {
        let n = if p.ii > 1 { (p.depth.max(1) - 1) / p.ii + 1 } else { p.depth.max(1) };
        StageState { phase: 0, valid: vec![false; n], out: false, spare: false }
    }

    fn ready(&self) -> bool {
        !self.spare && self.phase == 0
    }

    /// One clock edge, given the stage's input valid and output ready.
    fn clock(&mut self, p: Pipeline, rst: bool, in_valid: bool, m_ready: bool) {
        if rst {
            *self = StageState::new(p);
            return;
        }
        let ce = !self.spare;
        let last = *self.valid.last().unwrap_or(&false);
        let leaving = if p.ii > 1 { last && self.phase == p.depth % p.ii } else { last };
        if m_ready || !self.out {
            self.out = self.spare || leaving;
            self.spare = false;
        } else if leaving && !self.spare {
            self.spare = true;
        }
        if ce && self.phase == 0 {
            self.valid.rotate_right(1);
            self.valid[0] = in_valid;
        }
        if p.ii > 1 && ce {
            self.phase = if self.phase + 1 == p.ii { 0 } else { self.phase + 1 };
        }
    }
}

/// One operation of the compiled cone: `y = f(a, b, c)` on the nets'
/// values, wrapped to `y`'s width.
#[derive(Debug, Clone, Copy)]
struct Op {
    code: Code,
    y: u32,
    a: u32,
    b: u32,
    c: u32,
}

#[derive(Debug, Clone, Copy)]
enum Code {
    Add,
    Sub,
    Cmp(Cmp),
    /// `a ? b : c`.
    Mux,
    /// `a >> b` (a slice's low bit).
    Shr,
    Copy,
    /// `a << b`.
    Shl,
    /// Parts `a..a + b` of the concatenation table.
    Concat,
}

/// A register of the cone: `q <= rst_net ? value : en ? d : q`.
#[derive(Debug, Clone, Copy)]
struct Reg {
    q: u32,
    d: u32,
    en: Option<u32>,
    reset: Option<(u32, i64)>,
}

/// The control cone of a flattened design, compiled to a flat list of
/// operations on 62-bit values (control nets are counters and flags) and
/// evaluated by events: an operation runs only when a net it reads has
/// changed (in a cycle most stages are busy and few counters move), so a
/// ResNet-8's million cycles take a second or two.
struct Sim {
    wires: Vec<Wire>,
    /// Combinational operations in evaluation order.
    ops: Vec<Op>,
    /// The operations that read each net.
    fanout: Vec<Vec<u32>>,
    /// The operations to run this cycle, one bit each.
    dirty: Vec<u64>,
    /// (net, width) of each concatenated part.
    parts: Vec<(u32, u32)>,
    regs: Vec<Reg>,
    next: Vec<i64>,
    stages: Vec<(Stage, StageState)>,
    v: Vec<i64>,
    ports: Ports,
}

impl Sim {
    fn new(flat: Flat, ports: &Ports, watched: &[NetId]) -> Result<Sim, String> {
        let Flat { wires, cells, stages, .. } = flat;
        let mut driver: Vec<Option<usize>> = vec![None; wires.len()];
        for (k, c) in cells.iter().enumerate() {
            if let Some(y) = c.drives() {
                driver[y.0] = Some(k);
            }
        }
        let stage_outs: Vec<NetId> = stages.iter().flat_map(|s| [s.in_ready, s.out_valid]).collect();
        let free = |n: NetId| n == ports.rst || ports.ins.iter().any(|i| i.valid == n) || n == ports.out_ready || stage_outs.contains(&n);
        // The cone: what the handshakes read, back through every cell.
        let mut roots: Vec<NetId> = ports.ins.iter().map(|i| i.ready).collect();
        roots.push(ports.out_valid);
        roots.extend(stages.iter().flat_map(|s| [s.in_valid, s.out_ready]));
        roots.extend(watched);
        let mut needed = vec![false; cells.len()];
        let mut seen = vec![false; wires.len()];
        let mut stack = roots.clone();
        while let Some(n) = stack.pop() {
            if std::mem::replace(&mut seen[n.0], true) {
                continue;
            }
            let w = wires[n.0];
            if w.width > 62 {
                return Err(format!("a handshake depends on a data net (net {}, {} bits)", n.0, w.width));
            }
            match driver[n.0] {
                Some(k) => {
                    if matches!(cells[k], Cell::Rom { .. } | Cell::Ram { .. } | Cell::Mul { .. }) {
                        return Err("a handshake depends on a memory".into());
                    }
                    needed[k] = true;
                    stack.extend(cells[k].reads());
                }
                None if free(n) => {}
                None => return Err(format!("a handshake depends on the data of an instance (net {})", n.0)),
            }
        }
        // Evaluation order of the combinational cells (registers cut loops).
        let mut order = vec![];
        let mut mark = vec![0u8; cells.len()];
        for (k, _) in needed.iter().enumerate().filter(|n| *n.1) {
            visit(k, &cells, &driver, &mut mark, &mut order)?;
        }
        let mut v = vec![0i64; wires.len()];
        let (mut ops, mut parts, mut regs) = (vec![], vec![], vec![]);
        let u = |n: &NetId| n.0 as u32;
        for &k in &order {
            let op = |code, y: &NetId, a: &NetId, b: u32, c: u32| Op { code, y: u(y), a: u(a), b, c };
            ops.push(match &cells[k] {
                Cell::Const { y, value } => {
                    // Constants never change: set once.
                    v[y.0] = wrap(*value as i64, wires[y.0]);
                    continue;
                }
                Cell::Add { y, a, b } => op(Code::Add, y, a, u(b), 0),
                Cell::Sub { y, a, b } => op(Code::Sub, y, a, u(b), 0),
                Cell::Compare { y, op: o, a, b } => op(Code::Cmp(*o), y, a, u(b), 0),
                Cell::Mux { y, sel, one, zero } => op(Code::Mux, y, sel, u(one), u(zero)),
                Cell::Slice { y, a, lsb } => op(Code::Shr, y, a, *lsb, 0),
                Cell::Extend { y, a } => op(Code::Copy, y, a, 0, 0),
                Cell::Shl { y, a, s } => op(Code::Shl, y, a, *s, 0),
                Cell::Concat { y, parts: ps } => {
                    let at = parts.len() as u32;
                    parts.extend(ps.iter().map(|p| (u(p), wires[p.0].width)));
                    Op { code: Code::Concat, y: u(y), a: at, b: ps.len() as u32, c: 0 }
                }
                c => return Err(format!("a {c:?} among the combinational cells (a qkhw bug)")),
            });
        }
        for (k, c) in cells.iter().enumerate() {
            if let (true, Cell::Reg { q, d, en, reset }) = (needed[k], c) {
                regs.push(Reg { q: u(q), d: u(d), en: en.as_ref().map(u), reset: reset.map(|(r, x)| (u(&r), wrap(x as i64, wires[q.0]))) });
            }
        }
        let stages = stages.into_iter().map(|s| (s.clone(), StageState::new(s.p))).collect();
        let mut fanout = vec![vec![]; wires.len()];
        for (k, op) in ops.iter().enumerate() {
            let reads = match op.code {
                Code::Concat => parts[op.a as usize..(op.a + op.b) as usize].iter().map(|p| p.0).collect(),
                Code::Mux => vec![op.a, op.b, op.c],
                Code::Add | Code::Sub | Code::Cmp(_) => vec![op.a, op.b],
                Code::Shr | Code::Copy | Code::Shl => vec![op.a],
            };
            for r in reads {
                let f: &mut Vec<u32> = &mut fanout[r as usize];
                if f.last() != Some(&(k as u32)) {
                    f.push(k as u32);
                }
            }
        }
        // Everything runs in the first cycle.
        let dirty = (0..ops.len().div_ceil(64)).map(|w| if (w + 1) * 64 <= ops.len() { u64::MAX } else { (1u64 << (ops.len() % 64)) - 1 }).collect();
        Ok(Sim { next: vec![0; regs.len()], wires, ops, fanout, dirty, parts, regs, stages, v, ports: ports.clone() })
    }

    /// Set net `n` to `x`; if it changed, its readers run.
    fn set(&mut self, n: usize, x: i64) {
        if self.v[n] != x {
            self.v[n] = x;
            for &k in &self.fanout[n] {
                self.dirty[k as usize / 64] |= 1 << (k % 64);
            }
        }
    }

    /// One clock cycle with the top inputs `drive`: settles the
    /// combinational cone, then clocks every register and stage. Returns
    /// whether the output transferred, and in `in_fire` whether each input did.
    /// A hash of the whole state (every net's value and every beat
    /// stage's): with the inputs always offered and the output always
    /// taken the design runs on its own, so equal states repeat the same
    /// future.
    fn state_hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.v.hash(&mut h);
        self.stages.iter().for_each(|(_, st)| st.hash(&mut h));
        h.finish()
    }

    fn cycle(&mut self, drive: &[(NetId, i128)], in_fire: &mut [bool]) -> bool {
        for &(n, x) in drive {
            self.set(n.0, x as i64);
        }
        for k in 0..self.stages.len() {
            let (s, st) = &self.stages[k];
            let (r, o, ready, out) = (s.in_ready.0, s.out_valid.0, st.ready(), st.out);
            self.set(r, i64::from(ready));
            self.set(o, i64::from(out));
        }
        // The dirty operations in order: an operation's readers come after
        // it, so one pass settles the cone.
        for w in 0..self.dirty.len() {
            while self.dirty[w] != 0 {
                let bit = self.dirty[w].trailing_zeros();
                self.dirty[w] &= !(1u64 << bit);
                let op = self.ops[w * 64 + bit as usize];
                let x = self.eval(op);
                self.set(op.y as usize, x);
            }
        }
        let v = &self.v;
        let p = &self.ports;
        let fire = |a: NetId, b: NetId| v[a.0] != 0 && v[b.0] != 0;
        for (f, i) in in_fire.iter_mut().zip(&p.ins) {
            *f = fire(i.valid, i.ready);
        }
        let out_fire = fire(p.out_valid, p.out_ready);
        let rst_net = p.rst;
        let rst_on = p.rst_on;
        for (r, next) in self.regs.iter().zip(&mut self.next) {
            *next = match r.reset {
                Some((rst, x)) if v[rst as usize] != 0 => x,
                _ if r.en.is_none_or(|e| v[e as usize] != 0) => wrap(v[r.d as usize], self.wires[r.q as usize]),
                _ => v[r.q as usize],
            };
        }
        for k in 0..self.regs.len() {
            self.set(self.regs[k].q as usize, self.next[k]);
        }
        let v = &self.v;
        let rst = i128::from(v[rst_net.0]) == rst_on;
        for (s, st) in &mut self.stages {
            st.clock(s.p, rst, v[s.in_valid.0] != 0, v[s.out_ready.0] != 0);
        }
        out_fire
    }

    /// The value operation `op` gives `y`.
    fn eval(&self, op: Op) -> i64 {
        let v = &self.v;
        {
            let (a, b, c) = (op.a as usize, op.b as usize, op.c as usize);
            let x = match op.code {
                Code::Add => v[a] + v[b],
                Code::Sub => v[a] - v[b],
                Code::Cmp(o) => i64::from(match o {
                    Cmp::Lt => v[a] < v[b],
                    Cmp::Ge => v[a] >= v[b],
                    Cmp::Gt => v[a] > v[b],
                    Cmp::Eq => v[a] == v[b],
                }),
                Code::Mux => {
                    if v[a] != 0 {
                        v[b]
                    } else {
                        v[c]
                    }
                }
                Code::Shr => v[a] >> b,
                Code::Copy => v[a],
                Code::Shl => v[a] << b,
                Code::Concat => {
                    let (mut x, mut at) = (0i64, 0u32);
                    for &(p, w) in &self.parts[a..a + b] {
                        x |= (v[p as usize] & ((1i64 << w) - 1)) << at;
                        at += w;
                    }
                    x
                }
            };
            wrap(x, self.wires[op.y as usize])
        }
    }
}

/// Depth-first topological order of combinational cell `k` and what it
/// reads (0: not seen, 1: on the path, 2: placed).
fn visit(k: usize, cells: &[Cell], driver: &[Option<usize>], mark: &mut [u8], order: &mut Vec<usize>) -> Result<(), String> {
    if matches!(cells[k], Cell::Reg { .. }) || mark[k] == 2 {
        return Ok(());
    }
    if mark[k] == 1 {
        return Err("a combinational loop".into());
    }
    mark[k] = 1;
    for r in cells[k].reads() {
        if let Some(j) = driver[r.0] {
            visit(j, cells, driver, mark, order)?;
        }
    }
    mark[k] = 2;
    order.push(k);
    Ok(())
}

/// `x` as the net `w` holds it: its low `width` bits, signed or not.
fn wrap(x: i64, w: Wire) -> i64 {
    if w.width == 0 {
        return 0;
    }
    let u = x & ((1i64 << w.width) - 1);
    if w.signed && (u >> (w.width - 1)) & 1 == 1 { u - (1i64 << w.width) } else { u }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A top of one beat stage (`stage`) between the ports, and its ports.
    fn one_stage() -> (Module, Ports) {
        let mut t = Module::new("top");
        let clk = t.clock_input("clk");
        let rst = t.input_bit("rst");
        let in_valid = t.input_bit("input_tvalid");
        let out_ready = t.input_bit("output_tready");
        let (ir, ov) = (t.instance_output(0, 1, 1), t.instance_output(0, 1, 1));
        let conns = [("clk", clk), ("rst", rst), ("input_tvalid", in_valid), ("input_tready", ir), ("output_tvalid", ov), ("output_tready", out_ready)];
        t.instance("stage", "u", vec![], conns.iter().map(|(p, n)| (p.to_string(), *n)).collect());
        let in_ready = t.output("input_tready", ir, 1);
        let out_valid = t.output("output_tvalid", ov, 1);
        (t, Ports { rst, rst_on: 1, ins: vec![InPort { valid: in_valid, ready: in_ready, beats: 1 }], out_valid, out_ready })
    }

    /// The model of the handshake template gives what the interface
    /// contract states for a parallel design (and `verify` checks on
    /// every one): its pipeline plus the skid buffer's cycle, one sample
    /// per interval.
    #[test]
    fn a_beat_stage_takes_its_interval_and_latency() {
        let (t, ports) = one_stage();
        for (ii, depth) in [(1, 1), (1, 6), (3, 1), (3, 7), (4, 8), (5, 3)] {
            let pipes = HashMap::from([("stage".to_string(), Pipeline { ii, depth })]);
            let r = full_rate(&t, &HashMap::new(), &pipes, &ports, 1, 10_000, &[]).unwrap();
            assert!(r.repeated);
            let lat = depth as u64 + 1;
            assert_eq!((r.latency_first, r.latency_last, r.interval), (lat, lat as i64, ii as u64), "II {ii}, depth {depth}");
            // Every sample alike: the second sample's interval is the first seen.
            assert_eq!(r.samples, 2, "II {ii}, depth {depth}");
            // The steady state: one sample an interval.
            let st = r.steady.unwrap();
            assert_eq!((st.samples, st.cycles), (1, ii as u64), "II {ii}, depth {depth}");
            // Beats: the stage takes one per interval.
            let mut four = ports.clone();
            four.ins[0].beats = 4;
            let r = full_rate(&t, &HashMap::new(), &pipes, &four, 4, 10_000, &[]).unwrap();
            assert_eq!(r.interval, 4 * ii as u64, "II {ii}, depth {depth}");
        }
    }

    /// Steady states compare by cycles a sample, whatever their periods.
    #[test]
    fn steady_states_compare_by_cycles_a_sample() {
        let st = |samples, cycles| Steady { samples, cycles, from: 0 };
        assert!(st(9, 800).faster_than(&st(1, 89)) && !st(1, 89).faster_than(&st(9, 800)));
        assert!(!st(2, 200).faster_than(&st(1, 100)) && !st(1, 100).faster_than(&st(2, 200)));
        assert_eq!(st(9, 800).per_sample(), 800.0 / 9.0);
        assert!(st(9, 800).below(89) && !st(9, 800).below(88) && !st(1, 200).below(200));
        assert_eq!((st(9, 800).to_string(), st(1, 200).to_string()), ("9 samples every 800 cycles".to_string(), "1 sample every 200 cycles".to_string()));
    }

    /// A run cut short before the timing repeats gives the largest seen,
    /// marked as not repeated (a streaming design then states them as
    /// lower bounds and sizes no FIFO by them).
    #[test]
    fn a_run_that_does_not_repeat_says_so() {
        let (t, ports) = one_stage();
        let pipes = HashMap::from([("stage".to_string(), Pipeline { ii: 3, depth: 1 })]);
        let r = full_rate(&t, &HashMap::new(), &pipes, &ports, 1, 16, &[]).unwrap();
        assert!(!r.repeated && r.interval == 3 && r.steady.is_none(), "{r:?}");
        let r = full_rate(&t, &HashMap::new(), &pipes, &ports, 1, 1_000, &[]).unwrap();
        assert!(r.repeated, "{r:?}");
    }

    /// A FIFO between the port and the stage: inlined, and its own
    /// registers add to the latency, not to the interval.
    #[test]
    fn netlist_modules_are_inlined() {
        let (mut t, ports) = one_stage();
        let f = super::super::line_buffer::fifo("f", 4, 8);
        let (clk, rst) = (t.clock.unwrap(), ports.rst);
        // input -> FIFO -> the stage's input valid/ready.
        let (fv, fr) = (t.instance_output(0, 1, 1), t.instance_output(0, 1, 1));
        let (data, fd, last) = (t.input("input_tdata", 0, 255, 8), t.instance_output(0, 255, 8), t.instance_output(0, 1, 1));
        let Cell::Instance { conns, .. } = &mut t.cells[0] else { panic!() };
        let stage_valid = std::mem::replace(&mut conns.iter_mut().find(|c| c.0 == "input_tvalid").unwrap().1, fv);
        let stage_ready = std::mem::replace(&mut conns.iter_mut().find(|c| c.0 == "input_tready").unwrap().1, fr);
        let conns = [("clk", clk), ("rst", rst), ("s_data", data), ("s_valid", stage_valid), ("s_ready", stage_ready), ("m_data", fd), ("m_valid", fv), ("m_ready", fr), ("m_last", last)];
        t.instance("f", "u_f", vec![], conns.iter().map(|(p, n)| (p.to_string(), *n)).collect());
        let pipes = HashMap::from([("stage".to_string(), Pipeline { ii: 3, depth: 4 })]);
        let modules = HashMap::from([("f".to_string(), f)]);
        let r = full_rate(&t, &modules, &pipes, &ports, 1, 10_000, &["u_f.level".into()]).unwrap();
        assert_eq!(r.interval, 3);
        // Offered a word a cycle and drained one per 3, it fills.
        assert_eq!(r.probe_max, [4]);
        let e = full_rate(&t, &modules, &pipes, &ports, 1, 10_000, &["u_f.nothing".into()]).unwrap_err();
        assert!(e.to_string().contains("no probe u_f.nothing"), "{e}");
        assert!(r.latency_first > 5, "{r:?}");
        // Without the FIFO's module the design cannot be simulated.
        let e = full_rate(&t, &HashMap::new(), &pipes, &ports, 1, 10_000, &[]).unwrap_err();
        assert!(e.to_string().contains("data of an instance"), "{e}");
    }

    /// A handshake that reads data is refused (the cone holds control
    /// only), as is a design that never gives its output.
    #[test]
    fn what_cannot_be_simulated_is_said() {
        let (mut t, mut ports) = one_stage();
        let wide = t.input("wide", 0, 0, 200);
        let bit = t.slice(wide, 199, 1, 0, 1);
        ports.out_valid = t.output("v", bit, 1);
        let pipes = HashMap::from([("stage".to_string(), Pipeline { ii: 1, depth: 2 })]);
        let e = full_rate(&t, &HashMap::new(), &pipes, &ports, 1, 1_000, &[]).unwrap_err();
        assert!(e.to_string().contains("data net"), "{e}");
        let (mut t, mut ports) = one_stage();
        let zero = t.constant(0);
        ports.out_valid = t.output("v", zero, 1);
        let e = full_rate(&t, &HashMap::new(), &pipes, &ports, 1, 1_000, &[]).unwrap_err();
        assert_eq!(e, Unsimulated::TooFew { through: 0, limit: 1_000 });
        assert_eq!(e.to_string(), "0 samples through after 1000 cycles");
    }
}
