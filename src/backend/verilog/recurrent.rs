//! The `Recurrent` architecture in Verilog: each direction of a recurrent
//! layer as one cell that iterates over the time steps, its state in
//! registers, instead of a copy of the cell per time step.
//!
//! - The **cell** is a module built like any layer (the same `build_step`
//!   on the cell plan of [`crate::arch::recurrent::cell_plan`], whose
//!   ranges hold every time step's values), with `L` clock-enabled pipeline
//!   registers. Its inputs are one row of the input projection and the
//!   state (h, and the LSTM's c); its output the next state and h.
//! - The **iterating block** (a netlist module) starts when the layer's
//!   input projection is valid: a time step presents the row the step
//!   reads (a multiplexer tree on the step counter) and the state to the
//!   cell, waits its `L` registers and loads the new state, so each time
//!   step takes `L + 1` cycles and a sequence `T·(L + 1)`. The state is
//!   zero at the first step (cleared after the last one, and by reset): the
//!   cell with a zero state is exactly the plan's first time step.
//! - The output (the last h, or with `return_sequences` every h in its
//!   place) is loaded into an output register after the last step and
//!   held there until the next sequence ends, so the next layer reads a
//!   stable value for the whole initiation interval.

use super::*;
use crate::arch::netlist::{Cmp, Module, NetId};
use crate::arch::recurrent::{Recurrence, cell_plan, recurrences};

/// One direction's cell, built: what its iterating block needs.
pub(super) struct Cell {
    pub rec: Recurrence,
    module: String,
    /// Clock-enabled registers in the cell: a time step takes one more cycle.
    latency: u32,
    clocked: bool,
    /// It holds folded blocks (the recurrent projections): `rst` and a
    /// `start` at the first cycle of each time step.
    control: bool,
    /// Bits of the row port and of each state port.
    row: (usize, u32),
    state_bits: Vec<u32>,
    /// One h in the output: elements, width, range.
    h: (usize, u32, i128, i128),
    counts: Counts,
}

impl Cell {
    /// Cycles per sequence.
    pub fn cycles(&self) -> usize {
        self.rec.time_steps() * (self.latency as usize + 1)
    }
}

fn internal(layer: &str, what: &str) -> Error {
    Error::Internal(format!("layer `{layer}`: {what} (the schedule made it a recurrent block)"))
}

/// The cells of the recurrent layer whose steps are `first..=last`, each a
/// module file named `{prefix}_cell{d}`.
#[allow(clippy::too_many_arguments)]
pub(super) fn cells(
    g: &Graph,
    plan: &Plan,
    (first, last): (usize, usize),
    prefix: &str,
    layer: &str,
    p: u32,
    reuse: usize,
    opts: &Options,
    files: &mut Vec<(String, String)>,
    memories: &mut Vec<(String, String)>,
) -> Result<Vec<Cell>> {
    let dirs = recurrences(plan, first, last).ok_or_else(|| internal(layer, "its steps are not a recurrence"))?;
    let mut out = vec![];
    for (d, rec) in dirs.into_iter().enumerate() {
        let cp = cell_plan(plan, &rec).map_err(|e| internal(layer, &e))?;
        let mut m = ModuleBuild::new();
        let cell = rec.cell();
        let row = m.input(&cp, cell.start).len();
        for &o in &rec.state {
            m.input(&cp, rec.state_input(o));
        }
        let module = format!("{prefix}_cell{d}");
        for i in cell.start + 1..cell.end {
            // The recurrent projections fold too (weights in ROMs), each
            // block started when its input is valid in the cell's pipeline.
            let y = if crate::arch::recurrent::cell_folds(&cp, i, reuse) {
                folded_step(&cp, i, &format!("{module}_fold{}", i - cell.start), &mut m, reuse, None, opts, files, memories)?
            } else {
                build_step(g, &cp, i, layer, &mut m, p, opts)?
            };
            m.elems.insert(i, y);
            m.ready.insert(i, m.latency);
        }
        let mut outs = vec![];
        let mut state_bits = vec![];
        for &o in &rec.state {
            let st = &cp.steps[cell.start + o];
            let e = m.input(&cp, cell.start + o);
            state_bits.push(st.fmt.width * e.len() as u32);
            outs.push((e, st.fmt.width, st.lo, st.hi));
        }
        // h in the direction output's own format.
        let o = &plan.steps[rec.output];
        let h = m.input(&cp, cell.start + rec.h);
        let h_shape = (h.len(), o.fmt.width, o.lo, o.hi);
        outs.push((h, o.fmt.width, o.lo, o.hi));
        let (text, _, clocked) = finish_module(&mut m, &cp, outs, &opts.header, &module, layer)?;
        files.push((format!("{module}.v"), text));
        let row_w = cp.steps[cell.start].fmt.width;
        if row_w != plan.steps[rec.projection].fmt.width {
            return Err(internal(layer, "a row of the cell is not in its projection's format"));
        }
        out.push(Cell { rec, module, latency: m.latency, clocked, control: m.control, row: (row, row_w), state_bits, h: h_shape, counts: m.rtl.counts.clone() });
    }
    Ok(out)
}

/// The iterating block of `cell` as a netlist module named `name`: ports
/// `clk`, `rst`, `ce`, `start`, `x` (the whole projection) and `y`.
fn block(cell: &Cell, name: &str, header: &str, delay: u32) -> Module {
    let r = &cell.rec;
    let t = r.time_steps();
    let period = cell.latency as usize + 1;
    let mut m = Module::new(name);
    m.header = vec![header.to_string(), format!("Recurrent block: one cell iterating over {t} time steps, {period} cycle(s) each. Generated; do not edit.")];
    let clk = m.clock_input("clk");
    let rst = m.input_bit("rst");
    let ce = m.input_bit("ce");
    let start = m.input_bit("start");
    // The projection is valid `delay` cycles after the layer starts (the
    // delay line is reset: an unknown bit in it would start a sequence).
    let start = m.delay_reset(start, delay as usize, ce, rst);
    let row_bits = cell.row.0 as u32 * cell.row.1;
    let x = m.input("x", 0, 0, t as u32 * row_bits);
    // A counter 0..=top and its last count (none when top is 0).
    let counter = |m: &mut Module, top: usize| {
        if top == 0 {
            let (z, one) = (m.constant(0), m.constant(1));
            return (z, one);
        }
        let q = m.reg_later(0, top as i128, Some(ce), Some((rst, 0)));
        let c = m.constant(top as i128);
        let last = m.compare(Cmp::Eq, q, c);
        (q, last)
    };
    // Advance `q` when `go` (back to 0 after `top`).
    let advance = |m: &mut Module, q: NetId, last: NetId, go: NetId, top: usize| {
        let one = m.constant(1);
        let zero = m.constant(0);
        let next = m.add(q, one);
        let wrapped = m.mux(last, zero, next);
        let d = m.mux(go, wrapped, q);
        let d = m.low_bits(d, m.get(q).width);
        let d = m.narrow(d, 0, top as i128);
        m.drive(q, d);
    };
    let busy = m.reg_later(0, 1, Some(ce), Some((rst, 0)));
    let run = m.or(start, busy);
    let (sub, last_sub) = counter(&mut m, period - 1);
    let latch = m.and(run, last_sub);
    let (k, last_k) = counter(&mut m, t - 1);
    let done = m.and(latch, last_k);
    let not_done = m.not(done);
    let busy_d = m.and(run, not_done);
    m.drive(busy, busy_d);
    if period > 1 {
        advance(&mut m, sub, last_sub, run, period - 1);
    }
    advance(&mut m, k, last_k, latch, t - 1);
    let step = m.and(ce, latch);
    let finish = m.and(ce, done);
    // The row time step k reads: a multiplexer tree on k's bits.
    let rows: Vec<NetId> = r.rows.iter().map(|&row| m.slice(x, row as u32 * row_bits, row_bits, 0, 0)).collect();
    let row = m.bus_mux_tree(rows, k);
    // The state registers, and the cell.
    let ybits: u32 = cell.state_bits.iter().sum::<u32>() + cell.h.0 as u32 * cell.h.1;
    let y = m.instance_output(0, 0, ybits);
    let mut conns: Vec<(String, NetId)> = if cell.clocked { vec![("clk".into(), clk), ("ce".into(), ce)] } else { vec![] };
    if cell.control {
        // Each time step starts the cell's folded blocks once.
        let first = if period > 1 {
            let z = m.constant(0);
            m.compare(Cmp::Eq, sub, z)
        } else {
            m.constant(1)
        };
        let go = m.and(run, first);
        let go = m.and(ce, go);
        conns.push(("rst".into(), rst));
        conns.push(("start".into(), go));
    }
    conns.push(("x0".into(), row));
    let mut off = 0;
    for (j, &bits) in cell.state_bits.iter().enumerate() {
        let q = m.bus_reg_later(bits, Some(step), Some((rst, 0)));
        let next = m.slice(y, off, bits, 0, 0);
        let zero = m.constant(0);
        let zero = m.bus_extend(zero, bits);
        let d = m.bus_mux(last_k, zero, next);
        m.drive(q, d);
        conns.push((format!("x{}", j + 1), q));
        off += bits;
    }
    conns.push(("y".into(), y));
    m.instance(&cell.module, "u_cell", vec![], conns);
    let h_bits = cell.h.0 as u32 * cell.h.1;
    let h = m.slice(y, off, h_bits, 0, 0);
    let out = match &r.places {
        None => h,
        Some(places) => {
            // Every h but the last waits in a register of its own.
            let mut held = vec![];
            for kk in 0..t - 1 {
                let c = m.constant(kk as i128);
                let at = m.compare(Cmp::Eq, k, c);
                let en = m.and(step, at);
                let q = m.bus_reg_later(h_bits, Some(en), None);
                m.drive(q, h);
                held.push(q);
            }
            held.push(h);
            let mut by_place = vec![h; t];
            for (kk, &pl) in places.iter().enumerate() {
                by_place[pl] = held[kk];
            }
            m.concat(by_place)
        }
    };
    let out_bits = m.get(out).width;
    let q = m.bus_reg_later(out_bits, Some(finish), None);
    m.drive(q, out);
    m.output("y", q, out_bits);
    m
}

/// Instantiate the iterating block of `cell` (direction `d` of layer
/// module `mname`) in `m`, starting `m.latency` cycles after the layer's
/// `start`. Returns the direction output's elements and the cycles until
/// they are valid.
pub(super) fn instance(cell: &Cell, plan: &Plan, mname: &str, d: usize, m: &mut ModuleBuild, header: &str, files: &mut Vec<(String, String)>) -> Result<(Vec<Sig>, u32)> {
    let name = format!("{mname}_rnn{d}");
    let blk = block(cell, &name, header, m.latency);
    files.push((format!("{name}.v"), blk.verilog()));
    let xs = m.input(plan, cell.rec.projection);
    let w = cell.row.1;
    let (lo, hi) = (plan.steps[cell.rec.projection].lo, plan.steps[cell.rec.projection].hi);
    let mut parts = vec![];
    for e in xs.iter().rev() {
        parts.push(fit(m, e, w, lo, hi));
    }
    let x = format!("rx{d}");
    m.rtl.decls.push(format!("wire [{}:0] {x};", xs.len() as u32 * w - 1));
    m.rtl.assigns.push(format!("assign {x} = {{{}}};", parts.join(", ")));
    let o = &plan.steps[cell.rec.output];
    let n: usize = o.shape.iter().product();
    let y = format!("ry{d}");
    m.rtl.decls.push(format!("wire [{}:0] {y};", n as u32 * o.fmt.width - 1));
    m.instances.push(format!("{name} u_rnn{d} (.clk(clk), .rst(rst), .ce(ce), .start(start), .x({x}), .y({y}));"));
    m.control = true;
    let r = blk.resources();
    let c = &mut m.rtl.counts;
    c.add(&cell.counts);
    c.ff_bits += r.ff_bits;
    c.adders += r.adders;
    c.comparisons += r.comparisons;
    c.cycles = c.cycles.max(cell.cycles());
    let w = o.fmt.width;
    let elems = (0..n).map(|k| m.rtl.wire(o.lo, o.hi, w, format!("{y}[{}:{}]", (k as u32 + 1) * w - 1, k as u32 * w))).collect();
    Ok((elems, cell.cycles() as u32))
}
