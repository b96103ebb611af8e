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
use crate::arch::recurrent::{Recurrence, cell_plan};

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

/// The cells of a recurrent layer's directions `dirs` (from its schedule
/// node), each a module file named by `names` (the top's namer, so no
/// module name collides with another layer's).
#[allow(clippy::too_many_arguments)]
pub(super) fn cells(
    g: &Graph,
    plan: &Plan,
    dirs: &[Recurrence],
    names: &mut dyn FnMut(&str) -> String,
    layer: &str,
    p: u32,
    reuse: usize,
    opts: &Options,
    files: &mut Vec<(String, String)>,
    memories: &mut Vec<(String, String)>,
) -> Result<Vec<Cell>> {
    let mut out = vec![];
    if dirs.is_empty() {
        return Err(internal(layer, "its steps are not a recurrence"));
    }
    for (d, rec) in dirs.iter().cloned().enumerate() {
        let cp = cell_plan(plan, &rec).map_err(|e| internal(layer, &e))?;
        let module = names(&format!("{layer}_rec_cell{d}"));
        let mut m = ModuleBuild::new(&module);
        // The block holds the row and the state for the whole time step.
        m.held = true;
        let cell = rec.cell();
        let row = m.input(&cp, cell.start).len();
        for &o in &rec.state {
            m.input(&cp, rec.state_input(o));
        }
        for i in cell.start + 1..cell.end {
            // The recurrent projections fold too (weights in ROMs), each
            // block started when its input is valid in the cell's pipeline.
            let y = if crate::arch::recurrent::cell_folds(&cp, i, reuse) {
                let name = names(&format!("{layer}_rec_cell{d}_fold{}", i - cell.start));
                folded_step(&cp, i, &name, &mut m, (reuse, 1), None, opts, files, memories)?
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
        let (text, _, clocked) = finish_module(&mut m, outs, &opts.header, layer);
        files.push((format!("{module}.v"), text));
        let row_w = cp.steps[cell.start].fmt.width;
        if row_w != plan.steps[rec.projection].fmt.width {
            return Err(internal(layer, "a row of the cell is not in its projection's format"));
        }
        out.push(Cell { rec, module, latency: m.latency, clocked, control: m.control.is_some(), row: (row, row_w), state_bits, h: h_shape, counts: m.rtl.totals() });
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
    // The sub-step counter runs while the block is busy; the step counter
    // advances when a time step ends (`latch`).
    let busy = m.reg_later(0, 1, Some(ce), Some((rst, 0)));
    let run = m.or(start, busy);
    let run_ce = m.and(ce, run);
    let (sub, last_sub) = m.counter(period, run_ce, None, rst);
    let latch = m.and(run, last_sub);
    let latch_ce = m.and(ce, latch);
    let (k, last_k) = m.counter(t, latch_ce, None, rst);
    let done = m.and(latch, last_k);
    let not_done = m.not(done);
    let busy_d = m.and(run, not_done);
    m.drive(busy, busy_d);
    let step = latch_ce;
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

/// Instantiate the iterating block of `cell` (direction `d`), a module
/// named `name`, in `m`, starting `m.latency` cycles after the layer's
/// `start`. Returns the direction output's elements and the cycles until
/// they are valid.
pub(super) fn instance(cell: &Cell, plan: &Plan, name: &str, d: usize, m: &mut ModuleBuild, header: &str, files: &mut Vec<(String, String)>) -> Result<(Vec<Sig>, u32)> {
    let blk = block(cell, name, header, m.latency);
    files.push((format!("{name}.v"), blk.verilog()));
    let xs = m.input(plan, cell.rec.projection);
    let (lo, hi) = (plan.steps[cell.rec.projection].lo, plan.steps[cell.rec.projection].hi);
    let x = pack(&mut m.rtl, &xs, cell.row.1, lo, hi);
    let o = &plan.steps[cell.rec.output];
    let (n, w): (usize, u32) = (o.shape.iter().product(), o.fmt.width);
    let y = sub_block(m, name, &format!("u_rnn{d}"), x, n as u32 * w);
    let c = &mut m.rtl.counts;
    c.add(&cell.counts);
    c.add_cells(&blk);
    c.cycles = c.cycles.max(cell.cycles());
    Ok((unpack(&mut m.rtl, &y, n, w, o.lo, o.hi), cell.cycles() as u32))
}
