//! The streaming design (`--io stream`): the stages of
//! [`crate::arch::stream::stream_plan`] joined by valid/ready handshakes in
//! a top module built as a netlist. A `Beat` stage is an ordinary design
//! of its sub-plan ([`super::generate_named`], unrolled or folded, with the
//! interface contract's ports and skid buffer); line buffers and
//! collectors come from [`crate::arch::line_buffer`].
//!
//! TLAST: the top counts its output beats and raises TLAST on a sample's
//! last beat; it ignores the input's TLAST (the line buffers count pixels),
//! so a reset is the only way to restart a sample.

use super::{generate_named, Design, Interface, LayerReport, Options, Port};
use crate::arch::line_buffer::{accumulator, collector, line_buffer};
use crate::arch::netlist::{Cmp, Module, NetId};
use crate::arch::schedule::schedule;
use crate::arch::stream::{stream_plan, Stage};
use crate::error::Result;
use crate::ir::Graph;
use crate::passes::config::Config;
use crate::passes::precision::Plan;

fn bytes(bits: usize) -> u32 {
    (bits.div_ceil(8) * 8).max(8) as u32
}

/// One stage's ports in the top: the stream it gives.
struct Link {
    data: NetId,
    valid: NetId,
    last: NetId,
}

/// The streaming design of `plan` and the notes to print.
pub fn generate_stream(g: &Graph, plan: &Plan, opts: &Options, cfg: &Config) -> Result<(Design, Vec<String>)> {
    let sp = stream_plan(plan)?;
    let mut namer = super::keywords::Namer::new(&["clk", "rst", "aclk", "aresetn"]);
    let top = namer.name(&g.name);
    let mut files: Vec<(String, String)> = vec![];
    let mut memories = vec![];
    let mut layers = vec![];
    let mut notes = vec![];
    let mut t = Module::new(&top);
    t.header.push(opts.header.clone());
    t.header.push("Top of the streaming design (--io stream): pixel-serial AXI-Stream-compatible ports, one pixel".into());
    t.header.push("(every channel) per beat, row by row; TLAST on the last beat of a sample. Generated; do not edit.".into());
    let (clk_name, rst_name, ip, op) = if opts.axis_names { ("aclk", "aresetn", "s_axis", "m_axis") } else { ("clk", "rst", "input", "output") };
    let clk = t.clock_input(clk_name);
    let rst_in = t.input_bit(rst_name);
    let rst = if opts.axis_names { t.not(rst_in) } else { rst_in };
    let in_step = &plan.steps[0];
    let in_bits = sp.in_elems * in_step.fmt.width as usize;
    let in_tdata = t.input(&format!("{ip}_tdata"), 0, 0, bytes(in_bits));
    let in_valid = t.input_bit(&format!("{ip}_tvalid"));
    let in_last = t.input_bit(&format!("{ip}_tlast"));
    let out_ready = t.input_bit(&format!("{op}_tready"));
    let data = t.slice(in_tdata, 0, in_bits as u32, 0, 0);
    let mut link = Link { data, valid: in_valid, last: in_last };
    // Each stage's input ready, driven by its instance.
    let readies: Vec<NetId> = sp.stages.iter().map(|_| t.instance_output(0, 1, 1)).collect();
    let mut ii_est = sp.in_beats.max(sp.out_beats);
    let mut latency_est = 0usize;
    let mut bits_in = in_bits;
    for (k, stage) in sp.stages.iter().enumerate() {
        let m_ready = readies.get(k + 1).copied().unwrap_or(out_ready);
        let name = format!("{top}_s{k}");
        let (out_bits, cycles, latency) = match stage {
            Stage::Beat { plan: sub, beats, name: layer } => {
                let sched = schedule(sub, opts.reuse_factor, cfg);
                notes.extend(sched.notes.iter().cloned());
                let sub_opts = Options { axis_names: false, budget: None, ..opts.clone() };
                let d = generate_named(g, &name, sub, &sub_opts, &sched)?;
                let out_bits = d.interface.output.shape.iter().product::<usize>() * d.interface.output.width as usize;
                let tin = t.bus_extend(link.data, bytes(bits_in));
                let tout = t.instance_output(0, 0, d.interface.output.tdata_width);
                let (ovalid, olast) = (t.instance_output(0, 1, 1), t.instance_output(0, 1, 1));
                t.instance(
                    &d.top,
                    &format!("u_s{k}"),
                    vec![],
                    vec![
                        ("clk".into(), clk),
                        ("rst".into(), rst),
                        ("input_tdata".into(), tin),
                        ("input_tvalid".into(), link.valid),
                        ("input_tready".into(), readies[k]),
                        ("input_tlast".into(), link.last),
                        ("output_tdata".into(), tout),
                        ("output_tvalid".into(), ovalid),
                        ("output_tready".into(), m_ready),
                        ("output_tlast".into(), olast),
                    ],
                );
                let odata = t.slice(tout, 0, out_bits as u32, 0, 0);
                let tw = d.interface.output.tdata_width;
                if tw > out_bits as u32 {
                    let pad = t.slice(tout, out_bits as u32, tw - out_bits as u32, 0, 0);
                    t.sink(pad);
                }
                link = Link { data: odata, valid: ovalid, last: olast };
                let ii = d.interface.initiation_interval as usize;
                let lat = d.interface.latency_cycles as usize;
                for f in d.files {
                    if !files.iter().any(|(n, _)| *n == f.0) {
                        files.push(f);
                    }
                }
                memories.extend(d.memories);
                let _ = layer;
                layers.extend(d.layers);
                (out_bits, beats * ii, lat + ii)
            }
            Stage::Window { geo, width, name: layer } => {
                let lb = line_buffer(&format!("{name}_line_buffer"), geo, *width);
                let out_bits = stage.out_elems() * *width as usize;
                let lat = lb.cycles_per_window * geo.out_h * geo.out_w;
                let link2 = instance(&mut t, &lb.module, k, clk, rst, &link, readies[k], m_ready, out_bits);
                let r = lb.module.resources();
                layers.push(LayerReport {
                    layer: layer.clone(),
                    module: lb.module.name.clone(),
                    stage: 0,
                    latency: 0,
                    counts: super::Counts { ff_bits: r.ff_bits, memory_bits: r.memory_bits, cycles: lat, comparisons: r.comparisons, adders: r.adders, ..Default::default() },
                });
                files.push((format!("{}.v", lb.module.name), lb.module.verilog()));
                link = link2;
                (out_bits, lat, (geo.in_w * ((geo.kh - 1) * geo.dh + 1)) * 2 + lb.cycles_per_window)
            }
            Stage::Accumulate { name: layer, in_h, in_w, c, width, lo, hi, rows, cols, max } => {
                let a = accumulator(&format!("{name}_accumulate"), *in_h, *in_w, *c, *width, (*lo, *hi), *rows, *cols, *max);
                let (alo, ahi) = Stage::accumulated(*lo, *hi, (rows.1 - rows.0 + 1) * (cols.1 - cols.0 + 1), *max);
                let out_bits = c * crate::arch::netlist::width_of(alo, ahi) as usize;
                let link2 = instance(&mut t, &a, k, clk, rst, &link, readies[k], m_ready, out_bits);
                let r = a.resources();
                layers.push(LayerReport {
                    layer: layer.clone(),
                    module: a.name.clone(),
                    stage: 0,
                    latency: 0,
                    counts: super::Counts { ff_bits: r.ff_bits, adders: r.adders, comparisons: r.comparisons, cycles: in_h * in_w, ..Default::default() },
                });
                files.push((format!("{}.v", a.name), a.verilog()));
                link = link2;
                (out_bits, in_h * in_w, 2)
            }
            Stage::Collect { beats, elems, width, name: layer } => {
                let c = collector(&format!("{name}_collect"), *beats, *elems, *width);
                let out_bits = beats * elems * *width as usize;
                let link2 = instance(&mut t, &c, k, clk, rst, &link, readies[k], m_ready, out_bits);
                let r = c.resources();
                layers.push(LayerReport {
                    layer: layer.clone(),
                    module: c.name.clone(),
                    stage: 0,
                    latency: 0,
                    counts: super::Counts { ff_bits: r.ff_bits, cycles: *beats, ..Default::default() },
                });
                files.push((format!("{}.v", c.name), c.verilog()));
                link = link2;
                (out_bits, *beats, *beats + 2)
            }
        };
        ii_est = ii_est.max(cycles);
        latency_est += latency;
        bits_in = out_bits;
    }
    // TLAST by counting output beats.
    let beats = sp.out_beats as i128;
    let cnt = t.reg_later(0, beats - 1, None, Some((rst, 0)));
    let fire = t.and(link.valid, out_ready);
    let lastc = t.constant(beats - 1);
    let is_last = t.compare(Cmp::Eq, cnt, lastc);
    let (zero, one) = (t.constant(0), t.constant(1));
    let inc = t.add(cnt, one);
    let next = t.mux(is_last, zero, inc);
    let next = t.mux(fire, next, cnt);
    let next = t.narrow(next, 0, beats - 1);
    t.drive(cnt, next);
    t.output(&format!("{ip}_tready"), readies[0], 1);
    let out_bits = bits_in;
    let od = t.bus_extend(link.data, bytes(out_bits));
    t.output(&format!("{op}_tdata"), od, bytes(out_bits));
    t.output(&format!("{op}_tvalid"), link.valid, 1);
    t.output(&format!("{op}_tlast"), is_last, 1);
    if link.last != in_last {
        t.sink(link.last);
    }
    files.push((format!("{top}.v"), t.verilog()));
    let ost = &plan.steps[plan.outputs[0]];
    let port = |st: &crate::passes::precision::Step, bits: usize, beat_shape: Vec<usize>, beats: usize| Port::of(st, bytes(bits), Some((beat_shape, beats)));
    let interface = Interface {
        top: top.clone(),
        clock: clk_name.into(),
        reset: rst_name.into(),
        reset_active_low: opts.axis_names,
        input: port(in_step, in_bits, sp.in_beat_shape.clone(), sp.in_beats),
        output: Port { parts: plan.parts.clone(), ..port(ost, out_bits, sp.out_beat_shape.clone(), sp.out_beats) },
        latency_cycles: latency_est as u32,
        initiation_interval: ii_est as u32,
        internal_sigmoid: opts.internal_sigmoid.clone(),
    };
    notes.push(format!(
        "--io stream: {} stages; about {ii_est} cycles per sample (the slowest stage); latency and interval in interface.json are the generator's estimates, `verify` measures them",
        sp.stages.len()
    ));
    Ok((Design { top, files, interface, layers, taps: vec![], memories }, notes))
}

/// Instantiate a line buffer or collector (`s_*` / `m_*` ports).
#[allow(clippy::too_many_arguments)]
fn instance(t: &mut Module, m: &Module, k: usize, clk: NetId, rst: NetId, link: &Link, s_ready: NetId, m_ready: NetId, out_bits: usize) -> Link {
    let data = t.instance_output(0, 0, out_bits as u32);
    let (valid, last) = (t.instance_output(0, 1, 1), t.instance_output(0, 1, 1));
    t.instance(
        &m.name,
        &format!("u_s{k}"),
        vec![],
        vec![
            ("clk".into(), clk),
            ("rst".into(), rst),
            ("s_data".into(), link.data),
            ("s_valid".into(), link.valid),
            ("s_ready".into(), s_ready),
            ("m_data".into(), data),
            ("m_valid".into(), valid),
            ("m_ready".into(), m_ready),
            ("m_last".into(), last),
        ],
    );
    // The line buffer and collector count beats; the incoming TLAST is not needed.
    t.sink(link.last);
    Link { data, valid, last }
}
