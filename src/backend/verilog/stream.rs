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

use std::collections::HashMap;

use super::{Design, Interface, LayerReport, Options, Port, generate_named};
use crate::arch::line_buffer::{CollectBuffers, LineBufferKind, accumulator, collector, dilator, fifo, line_buffer, per_position, repeater, splitter};
use crate::arch::netlist::{Cmp, Module, NetId};
use crate::arch::timing::{self, Pipeline};
use crate::arch::schedule::schedule;
use crate::arch::stream::{Src, Stage, stream_plan};
use crate::arch::stream_fifos::{fifo_capacity, fifo_depths, joins_inputs};
use crate::error::Result;
use crate::ir::Graph;
use crate::passes::config::Config;
use crate::plan::{Plan, StepOp};

/// TDATA bits for `bits` data bits.
fn bytes(bits: usize) -> u32 {
    super::tdata_width(bits as u32)
}

/// A stream in the top: data, valid, and the ready its readers drive.
#[derive(Clone, Copy)]
struct Link {
    data: NetId,
    valid: NetId,
    /// Placeholder wire, driven once the readers exist.
    ready: NetId,
}

/// One input of a node in the top: valid and data in, ready out.
#[derive(Clone, Copy)]
struct Edge {
    valid: NetId,
    data: NetId,
    ready: NetId,
}

/// The streaming design of `plan` and the notes to print.
pub fn generate_stream(
    g: &Graph,
    plan: &Plan,
    opts: &Options,
    cfg: &Config,
) -> Result<(Design, Vec<String>)> {
    let sp = stream_plan(plan)?;
    let mut namer = super::keywords::Namer::new(&["clk", "rst", "aclk", "aresetn"]);
    let top = namer.name(&g.name);
    let mut files: Vec<(String, String)> = vec![];
    let mut memories = vec![];
    let mut layers = vec![];
    // The fabric of the stages: a beat stage's whole design (its layers
    // and its own top), the other stages' modules.
    let mut stage_fabric = crate::arch::fabric::Fabric::default();
    let mut notes = vec![];
    // The window stages by line buffer kind: [serial, sliding].
    let mut kinds: [Vec<String>; 2] = Default::default();
    let mut t = Module::new(&top);
    t.header.push(opts.header.clone());
    t.header.push("Top of the streaming design (--io stream): pixel-serial AXI-Stream-compatible ports, one pixel".into());
    t.header.push("(every channel) per beat, row by row; TLAST on the last beat of a sample. Generated; do not edit.".into());
    let (clk_name, rst_name, ip, op) = if opts.axis_names {
        ("aclk", "aresetn", "s_axis", "m_axis")
    } else {
        ("clk", "rst", "input", "output")
    };
    let clk = t.clock_input(clk_name);
    let rst_in = t.input_bit(rst_name);
    let rst = if opts.axis_names {
        t.not(rst_in)
    } else {
        rst_in
    };
    // One port pair per model input (`input_<name>_*` where there are
    // several, as in the parallel design).
    let several = sp.inputs.len() > 1;
    let mut in_ports = vec![];
    let mut inputs: Vec<(Link, usize)> = vec![];
    let mut port_nets = vec![];
    for (k, si) in sp.inputs.iter().enumerate() {
        let st = &plan.steps[si.step];
        let bits = si.elems * st.fmt.width as usize;
        let name = st.layer.clone().unwrap_or_else(|| format!("in{k}"));
        let prefix = if several { namer.name(&format!("{ip}_{name}")) } else { ip.to_string() };
        let tdata = t.input(&format!("{prefix}_tdata"), 0, 0, bytes(bits));
        let valid = t.input_bit(&format!("{prefix}_tvalid"));
        let last = t.input_bit(&format!("{prefix}_tlast"));
        t.sink(last);
        let data = t.slice(tdata, 0, bits as u32, 0, 0);
        let ready = t.instance_output(0, 1, 1);
        inputs.push((Link { data, valid, ready }, bits));
        port_nets.push((prefix.clone(), valid, ready, si.beats));
        let p = Port::of(st, bytes(bits), Some((vec![si.elems], si.beats)));
        in_ports.push(if several { Port { name: Some(name), port: Some(prefix), ..p } } else { p });
    }
    let out_ready = t.input_bit(&format!("{op}_tready"));
    // Each node's output stream and its width.
    let mut outs: Vec<(Link, usize)> = vec![];
    let mut ii_est = sp.inputs.iter().map(|i| i.beats).max().unwrap_or(1).max(sp.out_beats);
    // Each stage's cycles per sample at full rate, and whether a reuse
    // factor changes them (a beat stage's).
    let mut stage_cycles: Vec<(String, usize, bool)> = vec![];
    let mut latency_est = 0usize;
    let mut fifo_slots: Vec<FifoSlot> = vec![];
    let mut collect_slots: Vec<CollectSlot> = vec![];
    let mut taps = vec![];
    let mut top_ff_bits = 0;
    // What the timing simulation runs: the netlist modules and the beat
    // stages' handshake templates, by module name.
    let mut modules: HashMap<String, Module> = HashMap::new();
    let mut pipelines: HashMap<String, Pipeline> = HashMap::new();
    // Edges into node k (input p), made when node k is built.
    let mut edges: HashMap<(usize, usize), Edge> = Default::default();
    let link_of = |src: Src, outs: &Vec<(Link, usize)>| match src {
        Src::Input(k) => inputs[k],
        Src::Node(j) => outs[j],
    };
    for (k, node) in sp.nodes.iter().enumerate() {
        let name = format!("{top}_s{k}");
        // This node's inputs, through a FIFO where a join needs one.
        let (minimum, depths) = fifo_depths(&sp, k, opts.fifo_minimum);
        let mut ins = vec![];
        for (p, &src) in node.inputs.iter().enumerate() {
            let (l, bits) = link_of(src, &outs);
            let e = Edge {
                valid: t.instance_output(0, 1, 1),
                data: l.data,
                ready: t.instance_output(0, 1, 1),
            };
            let e = if depths[p] > 0 {
                let fname = format!("{name}_fifo{p}");
                let (fv, fd, fr) = (
                    t.instance_output(0, 1, 1),
                    t.instance_output(0, 0, bits as u32),
                    t.instance_output(0, 1, 1),
                );
                let instance = format!("u_s{k}_fifo{p}");
                stream_instance(&mut t, &fname, &instance, (clk, rst), (e.data, e.valid, e.ready), (fd, fv, fr));
                // Named by the join layer and the stream it buffers.
                let join = match &node.stage {
                    Stage::Beat { plan, .. } => plan.steps.iter().find(|s| !matches!(s.op, StepOp::Input)).and_then(|s| s.layer.clone()),
                    _ => None,
                };
                let from = match src {
                    Src::Input(i) if several => format!("input `{}`", in_ports[i].name.as_deref().unwrap_or_default()),
                    Src::Input(_) => "the input".to_string(),
                    Src::Node(j) => sp.nodes[j].stage.name().to_string(),
                };
                let fifo_name = format!("{} input {p} (from {from})", join.as_deref().unwrap_or(node.stage.name()));
                // Sized once the design is whole (by its timing
                // simulation); its report and file go here.
                modules.insert(fname.clone(), fifo(&fname, depths[p], bits as u32));
                fifo_slots.push(FifoSlot { layer: layers.len(), file: files.len(), bits, info: super::FifoInfo { name: fifo_name, instance, module: fname.clone(), capacity: depths[p], minimum: minimum[p], full_rate_held: None, across_inputs: joins_inputs(&sp, k), full_at_full_rate: false }, layer_name: format!("{}_fifo{p}", node.stage.name()) });
                layers.push(LayerReport { layer: String::new(), module: String::new(), stage: 0, latency: 0, counts: Default::default() });
                files.push((String::new(), String::new()));
                edges.insert((k, p), e);
                Edge {
                    valid: fv,
                    data: fd,
                    ready: fr,
                }
            } else {
                edges.insert((k, p), e);
                e
            };
            ins.push(e);
        }
        // Several inputs meet in one beat (input 0 in the low bits).
        let (in_link, bits_in) = if ins.len() == 1 {
            (
                Link {
                    data: ins[0].data,
                    valid: ins[0].valid,
                    ready: ins[0].ready,
                },
                node.inputs.first().map_or(0, |&s| link_of(s, &outs).1),
            )
        } else {
            let data = t.concat(ins.iter().map(|e| e.data).collect());
            let mut valid = ins[0].valid;
            for e in &ins[1..] {
                valid = t.and(valid, e.valid);
            }
            let ready = t.instance_output(0, 1, 1);
            for (p, e) in ins.iter().enumerate() {
                let mut r = ready;
                for (q, f) in ins.iter().enumerate() {
                    if q != p {
                        r = t.and(r, f.valid);
                    }
                }
                t.assign(e.ready, r);
            }
            let bits: usize = node.inputs.iter().map(|&s| link_of(s, &outs).1).sum();
            (Link { data, valid, ready }, bits)
        };
        let out_ready = t.instance_output(0, 1, 1);
        let (out_link, out_bits, cycles, latency) = match &node.stage {
            Stage::Beat {
                plan: sub, beats, step, ..
            } => {
                let sched = schedule(sub, opts.reuse_factor, cfg);
                notes.extend(sched.notes.iter().cloned());
                let sub_opts = Options {
                    axis_names: false,
                    budget: None,
                    ..opts.clone()
                };
                let d = generate_named(g, &name, sub, &sub_opts, &sched)?;
                let out_bits = d.interface.output.shape.iter().product::<usize>()
                    * d.interface.output.width as usize;
                let tin = t.bus_extend(in_link.data, bytes(bits_in));
                let tw = d.interface.output.tdata_width;
                let tout = t.instance_output(0, 0, tw);
                let (ovalid, olast, zero) = (
                    t.instance_output(0, 1, 1),
                    t.instance_output(0, 1, 1),
                    t.constant(0),
                );
                t.sink(olast);
                t.instance(
                    &d.top,
                    &format!("u_s{k}"),
                    vec![],
                    vec![
                        ("clk".into(), clk),
                        ("rst".into(), rst),
                        ("input_tdata".into(), tin),
                        ("input_tvalid".into(), in_link.valid),
                        ("input_tready".into(), in_link.ready),
                        ("input_tlast".into(), zero),
                        ("output_tdata".into(), tout),
                        ("output_tvalid".into(), ovalid),
                        ("output_tready".into(), out_ready),
                        ("output_tlast".into(), olast),
                    ],
                );
                let odata = t.slice(tout, 0, out_bits as u32, 0, 0);
                if tw > out_bits as u32 {
                    let pad = t.slice(tout, out_bits as u32, tw - out_bits as u32, 0, 0);
                    t.sink(pad);
                }
                // A tap on the stage's output beats (`verify` localizes a
                // mismatch to the first layer whose beats differ).
                let fire = t.and(ovalid, out_ready);
                t.probe(&format!("tap_s{k}_data"), odata);
                t.probe(&format!("tap_s{k}_fire"), fire);
                taps.push(super::Tap {
                    layer: plan.steps[*step].layer.clone().unwrap_or_else(|| node.stage.name().to_string()),
                    signal: format!("tap_s{k}_data"),
                    step: *step,
                    stage: 0,
                    elements: d.interface.output.shape.iter().product(),
                    width: d.interface.output.width,
                    signed: d.interface.output.signed,
                    beats: *beats,
                    fire: format!("tap_s{k}_fire"),
                });
                let ii = d.interface.initiation_interval as usize;
                let lat = d.interface.latency_cycles as usize;
                if d.interface.inputs.is_empty() {
                    // The template's pipeline, without its skid buffer.
                    pipelines.insert(d.top.clone(), Pipeline { ii, depth: lat - 1 });
                }
                for f in d.files {
                    if !files.iter().any(|(n, _)| *n == f.0) {
                        files.push(f);
                    }
                }
                memories.extend(d.memories);
                stage_fabric.add(&d.fabric);
                layers.extend(d.layers);
                top_ff_bits += d.top_ff_bits;
                (
                    Link {
                        data: odata,
                        valid: ovalid,
                        ready: out_ready,
                    },
                    out_bits,
                    beats * ii,
                    lat + ii,
                )
            }
            stage => {
                let (m, cycles, latency) = match stage {
                    Stage::Window { geo, width, pad, .. } => {
                        let kind = sp.window_kind(k, geo, opts.reuse_factor, cfg);
                        kinds[usize::from(kind == LineBufferKind::Sliding)].push(stage.name().to_string());
                        let lb = line_buffer(&format!("{name}_line_buffer"), geo, *width, kind, *pad);
                        let c = lb.cycles_per_image;
                        (
                            lb.module,
                            c,
                            geo.in_w * ((geo.kh - 1) * geo.dh + 1) * 2 + lb.cycles_per_window,
                        )
                    }
                    Stage::Accumulate {
                        in_h,
                        in_w,
                        c,
                        width,
                        lo,
                        hi,
                        rows,
                        cols,
                        max,
                        ..
                    } => (
                        accumulator(
                            &format!("{name}_accumulate"),
                            *in_h,
                            *in_w,
                            *c,
                            *width,
                            (*lo, *hi),
                            *rows,
                            *cols,
                            *max,
                        ),
                        in_h * in_w,
                        2,
                    ),
                    Stage::Repeat { in_h, in_w, c, width, uh, uw, .. } => (
                        repeater(&format!("{name}_repeat"), *in_h, *in_w, *c, *width, (*uh, *uw)),
                        in_h * uh * in_w * uw,
                        3,
                    ),
                    Stage::Split { beats, elems, width, .. } => (splitter(&format!("{name}_split"), *beats, *elems, *width), *beats, 2),
                    Stage::Dilate { in_h, in_w, c, width, sh, sw, .. } => (
                        dilator(&format!("{name}_dilate"), *in_h, *in_w, *c, *width, (*sh, *sw)),
                        ((in_h - 1) * sh + 1) * ((in_w - 1) * sw + 1),
                        2,
                    ),
                    Stage::PerPosition { geo, values, c, in_elems, in_width, lo, hi, .. } => (
                        per_position(&format!("{name}_factor"), geo, values, *c, *in_elems as u32 * in_width, (*lo, *hi)),
                        values.len(),
                        2,
                    ),
                    Stage::Collect {
                        beats,
                        elems,
                        width,
                        ..
                    } => {
                        if *beats > 1 {
                            collect_slots.push(CollectSlot { layer: layers.len(), file: files.len(), beats: *beats, elems: *elems, width: *width, module: format!("{name}_collect") });
                        }
                        (collector(&format!("{name}_collect"), *beats, *elems, *width, CollectBuffers::One), *beats, beats + 2)
                    }
                    Stage::Beat { .. } => unreachable!(),
                };
                let out_bits = m
                    .nets
                    .iter()
                    .find(|n| n.name == "m_data")
                    .map_or(0, |n| n.width as usize);
                let data = t.instance_output(0, 0, out_bits as u32);
                let valid = t.instance_output(0, 1, 1);
                stream_instance(&mut t, &m.name, &format!("u_s{k}"), (clk, rst), (in_link.data, in_link.valid, in_link.ready), (data, valid, out_ready));
                let counts = super::Counts { cycles, ..super::Counts::of_cells(&m) };
                // A collector of several beats is counted once its buffers
                // are chosen.
                if !matches!(stage, Stage::Collect { beats, .. } if *beats > 1) {
                    stage_fabric.add(&counts.fabric);
                }
                layers.push(LayerReport {
                    layer: stage.name().to_string(),
                    module: m.name.clone(),
                    stage: 0,
                    latency: 0,
                    counts,
                });
                files.push((format!("{}.v", m.name), m.verilog()));
                modules.insert(m.name.clone(), m);
                (
                    Link {
                        data,
                        valid,
                        ready: out_ready,
                    },
                    out_bits,
                    cycles,
                    latency,
                )
            }
        };
        ii_est = ii_est.max(cycles);
        latency_est += latency;
        outs.push((out_link, out_bits));
        stage_cycles.push((node.stage.name().to_string(), cycles, matches!(node.stage, Stage::Beat { .. })));
    }
    // Forks: a stream read by several edges is offered to all at once and
    // taken when all take it.
    let out_link = link_of(sp.output, &outs);
    let mut port_valid = None;
    let mut srcs: Vec<Src> = (0..sp.inputs.len()).map(Src::Input).collect();
    srcs.extend((0..sp.nodes.len()).map(Src::Node));
    for src in srcs {
        let (l, _) = link_of(src, &outs);
        let mut readers: Vec<(NetId, NetId)> = sp
            .readers(src)
            .iter()
            .map(|rk| (edges[rk].valid, edges[rk].ready))
            .collect();
        if src == sp.output {
            let ov = t.instance_output(0, 1, 1);
            readers.push((ov, out_ready));
            port_valid = Some(ov);
        }
        if readers.is_empty() {
            return Err(crate::error::Error::Internal(format!(
                "stream {src:?} has no reader"
            )));
        }
        let mut all = readers[0].1;
        for r in &readers[1..] {
            all = t.and(all, r.1);
        }
        t.assign(l.ready, all);
        for (p, (v, _)) in readers.iter().enumerate() {
            let mut val = l.valid;
            for (q, r) in readers.iter().enumerate() {
                if q != p {
                    val = t.and(val, r.1);
                }
            }
            t.assign(*v, val);
        }
    }
    // The output: TLAST by counting beats.
    let (ol, out_bits) = out_link;
    let ovalid = port_valid.unwrap_or(ol.valid);
    let beats = sp.out_beats as i128;
    let cnt = t.reg_later(0, beats - 1, None, Some((rst, 0)));
    let fire = t.and(ovalid, out_ready);
    let lastc = t.constant(beats - 1);
    let is_last = t.compare(Cmp::Eq, cnt, lastc);
    let (zero, one) = (t.constant(0), t.constant(1));
    let inc = t.add(cnt, one);
    let next = t.mux(is_last, zero, inc);
    let next = t.mux(fire, next, cnt);
    let next = t.narrow(next, 0, beats - 1);
    t.drive(cnt, next);
    let mut ins = vec![];
    for (prefix, valid, ready, beats) in port_nets {
        let ready = t.output(&format!("{prefix}_tready"), ready, 1);
        ins.push(timing::InPort { valid, ready, beats });
    }
    let od = t.bus_extend(ol.data, bytes(out_bits));
    t.output(&format!("{op}_tdata"), od, bytes(out_bits));
    let out_valid = t.output(&format!("{op}_tvalid"), ovalid, 1);
    t.output(&format!("{op}_tlast"), is_last, 1);
    files.push((format!("{top}.v"), t.verilog()));
    let ports = timing::Ports { rst: rst_in, rst_on: i128::from(!opts.axis_names), ins, out_valid, out_ready };
    // Up to timing::MAX_SAMPLES samples at twice the estimated interval,
    // and at most 4 M cycles (about 3 s).
    let limit = (64 + (timing::MAX_SAMPLES * ii_est + latency_est) as u64 * 2).min(4_000_000);
    // The exact timing at full rate, or the estimates where the design
    // cannot be simulated (said in a note); the FIFOs sized by it.
    let watch: Vec<String> = fifo_slots.iter().map(|f| format!("{}.level", f.info.instance)).collect();
    let simulate = |modules: &HashMap<String, Module>| timing::full_rate(&t, modules, &pipelines, &ports, sp.out_beats, limit, &watch);
    let mut run = simulate(&modules);
    // Collectors of several beats get a second buffer where that makes the
    // design faster (decided before the FIFOs are sized, which the
    // collectors' timing moves).
    let mut collect_note = None;
    if let (false, Ok(Some(one))) = (collect_slots.is_empty(), run.as_ref().map(|r| r.steady)) {
        let set = |modules: &mut HashMap<String, Module>, b: CollectBuffers| {
            for c in &collect_slots {
                modules.insert(c.module.clone(), collector(&c.module, c.beats, c.elems, c.width, b));
            }
        };
        set(&mut modules, CollectBuffers::Two);
        let two = simulate(&modules);
        if let Some(faster) = two.as_ref().ok().and_then(|r| r.steady).filter(|s| s.faster_than(&one)) {
            let names: Vec<&str> = collect_slots.iter().map(|c| layers[c.layer].layer.as_str()).collect();
            collect_note = Some(format!(
                "--io stream: the collectors {} hold two samples (the next one's beats come in while the finished one waits for the stage after it): {:.1} cycles a sample in steady state, {:.1} with one buffer",
                names.join(", "),
                faster.per_sample(),
                one.per_sample()
            ));
            run = two;
        } else {
            set(&mut modules, CollectBuffers::One);
        }
    }
    let mut sized = false;
    if !opts.fifo_minimum && !fifo_slots.is_empty() {
        // A FIFO that may have been full (its RAM's words all held) may
        // have held the run back: it gets twice the room and the design
        // runs again (a few rounds), kept where that made it faster. A
        // FIFO before a slower stage fills whatever its room (the
        // backlog of a full-rate input): more room buys nothing there,
        // and it was doubled four times and then sized by what it held
        // (merges_conv streamed under `dsp=16,bram=8`: 513 words where 72
        // ran as fast).
        let mut full_before: Vec<usize> = vec![];
        for _ in 0..4 {
            let Some(r) = run.as_ref().ok().filter(|r| r.repeated) else { break };
            let full: Vec<usize> = (0..fifo_slots.len()).filter(|&i| !fifo_slots[i].info.across_inputs && r.probe_max[i] as usize + 1 >= fifo_slots[i].info.capacity).collect();
            if full.is_empty() {
                break;
            }
            let resize = |modules: &mut HashMap<String, Module>, f: &FifoSlot| {
                modules.insert(f.info.module.clone(), fifo(&f.info.module, f.info.capacity, f.bits as u32));
            };
            for &i in &full {
                fifo_slots[i].info.capacity *= 2;
                resize(&mut modules, &fifo_slots[i]);
            }
            let doubled = simulate(&modules);
            let faster = match (&doubled, &run) {
                (Ok(d), Ok(r)) => matches!((d.steady, r.steady), (Some(a), Some(b)) if a.faster_than(&b)),
                _ => false,
            };
            if !faster {
                for &i in &full {
                    fifo_slots[i].info.capacity /= 2;
                    resize(&mut modules, &fifo_slots[i]);
                }
                full_before = full;
                break;
            }
            run = doubled;
        }
        if let Some(r) = run.as_ref().ok().filter(|r| r.repeated) {
            // Room for a word more than the most it held: it never
            // refuses one, so the design runs exactly as simulated (a
            // FIFO full before a slower stage keeps its room).
            for (i, (f, &held)) in fifo_slots.iter_mut().zip(&r.probe_max).enumerate() {
                f.info.full_rate_held = Some(held as usize);
                f.info.full_at_full_rate = full_before.contains(&i);
                if f.info.across_inputs || f.info.full_at_full_rate {
                    continue;
                }
                let c = fifo_capacity(held as usize, f.info.minimum);
                if c != f.info.capacity {
                    f.info.capacity = c;
                    sized = true;
                    modules.insert(f.info.module.clone(), fifo(&f.info.module, c, f.bits as u32));
                }
            }
        }
    }
    if sized {
        run = simulate(&modules);
        // What each FIFO holds as sized (one before a slower stage holds
        // what its room allows).
        if let Ok(r) = &run {
            for (f, &held) in fifo_slots.iter_mut().zip(&r.probe_max) {
                if f.info.full_rate_held.is_some() {
                    f.info.full_rate_held = Some(held as usize);
                }
            }
        }
    }
    // Too few samples where the limit leaves room for many more at the
    // estimated rate: the design stalls, and would in any simulator (a
    // design that deadlocked this way was written out with a note).
    if let Err(e) = &run
        && let Some(why) = stalls(e, ii_est, latency_est)
    {
        return Err(crate::error::Error::Internal(format!("--io stream: the streamed design of `{top}` stalls: {why}; use --io parallel")));
    }
    let steady = run.as_ref().ok().and_then(|r| r.steady);
    let (timing_note, latency, latency_last, timing_samples, ii) = match run {
        Ok(r) if !r.repeated => (
            format!("--io stream: at full rate at least {} cycles per sample, latency at least {} cycles from a sample's first input beat to its first output beat and {} from its last input beat to its last output beat{}: the largest over the samples simulated cycle by cycle (up to {} samples or 4 M cycles), whose timing had not repeated (its stages' intervals drift against each other over a longer cycle), so a longer run can see a few cycles more; `verify` measures them", r.interval, r.latency_first, r.latency_last, timing::last_latency_note(r.latency_last), timing::MAX_SAMPLES),
            r.latency_first as u32,
            Some(r.latency_last),
            None,
            r.interval.max(1) as u32,
        ),
        Ok(r) => (
            format!(
                "--io stream: at full rate {} cycles per sample, latency {} cycles from a sample's first input beat to its first output beat and {} from its last input beat to its last output beat{}, the largest over any run of {} samples or more (the netlist's handshakes simulated cycle by cycle until the samples' timing repeats; `verify` checks them){}",
                r.interval,
                r.latency_first,
                r.latency_last,
                timing::last_latency_note(r.latency_last),
                r.samples,
                steady_clause(r.steady, r.interval)
            ),
            r.latency_first as u32,
            Some(r.latency_last),
            Some(r.samples as u32),
            r.interval.max(1) as u32,
        ),
        Err(why) => (
            format!("--io stream: about {ii_est} cycles per sample (the slowest stage) and a latency of about {latency_est} cycles: estimates, since the timing could not be simulated ({why}); `verify` measures them"),
            latency_est as u32,
            None,
            None,
            ii_est as u32,
        ),
    };
    // The collectors as chosen, and the FIFOs as sized: their modules,
    // reports and notes.
    for c in &collect_slots {
        let m = &modules[&c.module];
        let counts = super::Counts { cycles: c.beats, ..super::Counts::of_cells(m) };
        stage_fabric.add(&counts.fabric);
        layers[c.layer].counts = counts;
        files[c.file] = (format!("{}.v", m.name), m.verilog());
    }
    let mut fifos = vec![];
    let mut fifo_rows = vec![];
    for f in fifo_slots {
        let m = &modules[&f.info.module];
        let counts = super::Counts::of_cells(m);
        stage_fabric.add(&counts.fabric);
        layers[f.layer] = LayerReport { layer: f.layer_name, module: m.name.clone(), stage: 0, latency: 0, counts };
        files[f.file] = (format!("{}.v", m.name), m.verilog());
        let how = match f.info.full_rate_held {
            _ if f.info.across_inputs && !opts.fifo_minimum => format!("a whole sample in a RAM of a power of two words: its join meets streams of different inputs, whose ports run independently, so at full rate the faster one fills it ({} held) and waits", f.info.full_rate_held.map_or("?".to_string(), |h| h.to_string())),
            Some(h) if f.info.full_at_full_rate => format!("{h} held at most at full rate in the timing simulation: full, where twice the room ran no faster (a FIFO before a slower stage fills whatever its room)"),
            Some(h) => format!("{h} held at most at full rate in the timing simulation, sized to hold a word more in a RAM of a power of two words"),
            None if opts.fifo_minimum => "the deadlock-free minimum, as asked".to_string(),
            None => "twice the deadlock-free minimum, since the timing simulation did not settle".to_string(),
        };
        fifo_rows.push(format!("--io stream: {}: FIFO of {} words of {} bits (the deadlock-free minimum is {}; {how})", f.info.name, f.info.capacity, f.bits, f.info.minimum));
        fifos.push(f.info);
    }
    // The top's cells, the beat stages whole, the other stages' modules.
    let mut fabric = crate::arch::fabric::Fabric::of(&t);
    fabric.add(&stage_fabric);
    let ost = &plan.steps[plan.outputs[0]];
    let port = |st: &crate::plan::Step,
                bits: usize,
                beat_shape: Vec<usize>,
                beats: usize| Port::of(st, bytes(bits), Some((beat_shape, beats)));
    let interface = Interface {
        top: top.clone(),
        clock: clk_name.into(),
        reset: rst_name.into(),
        reset_active_low: opts.axis_names,
        input: in_ports[0].clone(),
        inputs: if several { in_ports } else { vec![] },
        output: Port {
            parts: plan.parts.clone(),
            ..port(ost, out_bits, sp.out_beat_shape.clone(), sp.out_beats)
        },
        latency_cycles: latency,
        latency_last_cycles: latency_last,
        timing_samples,
        steady,
        initiation_interval: ii,
        internal_sigmoid: opts.internal_sigmoid,
    };
    notes.push(format!("--io stream: {} stages", sp.nodes.len()));
    if kinds.iter().any(|k| !k.is_empty()) {
        let list = |k: &Vec<String>| if k.is_empty() { "none".to_string() } else { k.join(", ") };
        notes.push(format!(
            "--io stream: line buffers: sliding (a window a cycle) for {}; serial (a tap a cycle, a narrower RAM; where the stage after it takes a window no faster) for {}",
            list(&kinds[1]),
            list(&kinds[0])
        ));
    }
    notes.push(timing_note);
    notes.extend(collect_note);
    // Against the throughput: the largest interval can be the pipeline
    // filling.
    if let Some(n) = fold_headroom(&stage_cycles, interface.cycles_per_sample().round() as usize, opts.reuse_factor) {
        notes.push(n);
    }
    notes.extend(fifo_rows);
    super::dsps_as_mapped(&mut layers, opts.no_dsp);
    Ok((
        Design {
            top,
            files,
            interface,
            layers,
            taps,
            memories,
            fifos,
            fabric,
            // The beat stages' tops, and this top's own registers (its
            // beat counter).
            top_ff_bits: top_ff_bits + t.resources().ff_bits,
        },
        notes,
    ))
}

/// A FIFO of the design while it is sized: where its report and file go
/// in the design's lists, and its word width.
/// The timing note's words on the steady state, where its cycles a sample
/// are fewer than the largest interval (which the pipeline filling or
/// stages drifting against each other can set).
fn steady_clause(steady: Option<timing::Steady>, interval: u64) -> String {
    match steady {
        Some(s) if s.below(interval) => format!(
            "; in the steady state {s} ({:.1} a sample: the throughput; the largest interval is a sample of the pipeline filling or of stages drifting against each other)",
            s.per_sample()
        ),
        _ => String::new(),
    }
}

/// A collector of several beats, built with one buffer and given a second
/// where the timing simulation finds that faster.
struct CollectSlot {
    layer: usize,
    file: usize,
    beats: usize,
    elems: usize,
    width: u32,
    module: String,
}

struct FifoSlot {
    layer: usize,
    file: usize,
    bits: usize,
    info: super::FifoInfo,
    layer_name: String,
}

/// An instance of a block with `s_*` / `m_*` stream ports (line buffer,
/// collector, accumulator, FIFO): its TLAST output is not needed, the top
/// counts beats.
fn stream_instance(t: &mut Module, module: &str, name: &str, (clk, rst): (NetId, NetId), s: (NetId, NetId, NetId), m: (NetId, NetId, NetId)) {
    let last = t.instance_output(0, 1, 1);
    t.sink(last);
    let conns = [("clk", clk), ("rst", rst), ("s_data", s.0), ("s_valid", s.1), ("s_ready", s.2), ("m_data", m.0), ("m_valid", m.1), ("m_ready", m.2), ("m_last", last)];
    t.instance(module, name, vec![], conns.iter().map(|(p, n)| (p.to_string(), *n)).collect());
}

/// A note where `--reuse-factor R` folded the beat stages below the
/// interval a stage no reuse factor changes sets (a line buffer's
/// windows, a repeater's beats): the folding bought no throughput, and
/// the stages could fold further at the same interval (cross-check batch
/// 7: a residual CNN at R = 3 took the same 924 cycles per sample as at
/// R = 1, its kernels moved from shift-adds into 884 multipliers).
fn fold_headroom(stages: &[(String, usize, bool)], per_sample: usize, reuse: Option<usize>) -> Option<String> {
    let ii = per_sample;
    let r = reuse.filter(|&r| r > 1)?;
    let (fixed, fixed_cycles) = stages.iter().filter(|s| !s.2).max_by_key(|s| s.1).map(|s| (s.0.as_str(), s.1))?;
    let beat = stages.iter().filter(|s| s.2).map(|s| s.1).max()?;
    // The stage sets the interval only where it nearly fills it: above
    // that the stages' interplay sets it, and folding further lengthened
    // it (cross-check batch 8's n08: 320 cycles an image beside a 252-cycle
    // window stage, 400 at twice the reuse factor).
    (beat.max(1) * 2 <= fixed_cycles && fixed_cycles <= ii && fixed_cycles * 10 >= ii * 9).then(|| {
        format!(
            "--io stream: the throughput, {ii} cycles per sample, is set by `{fixed}` ({fixed_cycles} cycles per sample, which no reuse factor changes); at --reuse-factor {r} the folded stages take at most {beat}, so they could fold about {}x further at the same interval with fewer multipliers (--budget dsp=N folds each layer up to it)",
            fixed_cycles / beat.max(1)
        )
    })
}

/// Whether a timing simulation that gave too few samples shows a design
/// that stalls: its limit left room for 16 samples or more at the
/// estimated rate (`ii_est` cycles per sample after `latency_est`).
fn stalls(e: &timing::Unsimulated, ii_est: usize, latency_est: usize) -> Option<String> {
    let timing::Unsimulated::TooFew { through, limit } = *e else { return None };
    let expected = (limit as usize).saturating_sub(latency_est) / ii_est.max(1);
    (expected >= 16).then(|| format!("{through} samples came out of its cycle-by-cycle simulation in {limit} cycles, where about {ii_est} cycles per sample gives {expected}"))
}

#[cfg(test)]
mod stall_tests {
    use super::*;

    /// The note names the stage that sets the interval and how much
    /// further the beat stages could fold; none without a reuse factor,
    /// where a beat stage is (nearly) the slowest, or where the interval is
    /// more than a tenth above the stage's cycles.
    #[test]
    fn folding_below_a_fixed_interval_is_noted() {
        let stages = vec![("c1_window".to_string(), 924, false), ("c1".to_string(), 143, true), ("out".to_string(), 3, true)];
        let n = fold_headroom(&stages, 924, Some(3)).unwrap();
        assert!(n.contains("set by `c1_window` (924 cycles") && n.contains("at most 143") && n.contains("about 6x further"), "{n}");
        assert!(fold_headroom(&stages, 924, None).is_none());
        assert!(fold_headroom(&stages, 924, Some(1)).is_none());
        let busy = vec![("c1_window".to_string(), 924, false), ("c1".to_string(), 900, true)];
        assert!(fold_headroom(&busy, 924, Some(3)).is_none());
        // An interval well above every stage's cycles is not the window's.
        let above = vec![("ca_window".to_string(), 252, false), ("c2".to_string(), 80, true)];
        assert!(fold_headroom(&above, 320, Some(2)).is_none());
        assert!(fold_headroom(&above, 270, Some(2)).is_some());
    }

    /// Too few samples in a limit that leaves room for many is a stall; in
    /// a limit too short for the design's rate, or for another reason, it
    /// is not.
    #[test]
    fn too_few_samples_in_a_long_run_is_a_stall() {
        let few = |through, limit| timing::Unsimulated::TooFew { through, limit };
        let s = stalls(&few(0, 4_000_000), 1080, 289).unwrap();
        assert!(s.starts_with("0 samples came out") && s.ends_with("gives 3703"), "{s}");
        assert!(stalls(&few(2, 4_000_000), 300_000, 600_000).is_none());
        assert!(stalls(&timing::Unsimulated::Unsupported("a handshake depends on a memory".into()), 10, 10).is_none());
    }
}
