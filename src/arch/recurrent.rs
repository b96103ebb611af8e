//! A recurrent layer as a block that iterates over time: one copy of the
//! cell, its state in registers, T passes per sequence.
//!
//! The plan writes a recurrent layer unrolled over time (see
//! `plan::recurrent`): the input projection of every time
//! step (one Dense with T rows), then for each time step in iteration order
//! a Gather of its row of that projection followed by the cell's steps.
//! From the second time step on, every time step has the same steps: the
//! same operations on the same formats, reading its own steps, the
//! previous time step's state (h, and the LSTM's c) and its row. The first
//! time step is the same cell with a zero state, written without the
//! terms that vanish.
//!
//! [`recurrences`] finds that structure in a layer's steps and checks it
//! step by step, so the hardware never assumes it: a layer whose steps do
//! not match stays unrolled. [`cell_plan`] gives the one cell every time
//! step runs: the last time step's steps with each value range widened to
//! hold every time step's values, so one datapath is exact at every step.

use crate::plan::{Plan, StepOp, fmt_for};

/// One direction of a recurrent layer, found in the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Recurrence {
    /// The input projection of every time step (a Dense with T rows).
    pub projection: usize,
    /// The first step of each time step, in iteration order: the Gather of
    /// its row of the projection.
    pub starts: Vec<usize>,
    /// The row each time step reads (T−1−k going backwards).
    pub rows: Vec<usize>,
    /// Steps per time step (from the second on).
    pub len: usize,
    /// Offsets in a time step of the state the next time step reads.
    pub state: Vec<usize>,
    /// Offset of the cell output h in a time step.
    pub h: usize,
    /// The step holding the direction's output: the Concat of every h
    /// (`return_sequences`) or the last h.
    pub output: usize,
    /// With `return_sequences`: the place of each time step's h in the
    /// output sequence.
    pub places: Option<Vec<usize>>,
}

impl Recurrence {
    pub fn time_steps(&self) -> usize {
        self.starts.len()
    }

    /// The steps of the last time step: the cell every time step runs.
    pub fn cell(&self) -> std::ops::Range<usize> {
        let s = *self.starts.last().unwrap_or(&0);
        s..s + self.len
    }

    /// The step the cell reads for state offset `o` (in the time step
    /// before the last).
    pub fn state_input(&self, o: usize) -> usize {
        self.starts[self.starts.len() - 2] + o
    }

    /// Every step the iterating block computes (the projection excluded).
    pub fn covers(&self, s: usize) -> bool {
        (self.starts[0]..self.cell().end).contains(&s) || (self.places.is_some() && s == self.output)
    }
}

/// The directions of the recurrent layer whose steps are `first..=last`,
/// when every step of it is one of them (a projection, a time step, a
/// direction's output) or, with two directions, the merge that ends it.
/// `None` when the steps are not a recurrent layer this architecture runs
/// (fewer than three time steps, or anything that does not match).
pub fn recurrences(plan: &Plan, first: usize, last: usize) -> Option<Vec<Recurrence>> {
    let mut dirs = vec![];
    for p in first..=last {
        if let StepOp::Dense { rows, n_out, .. } = plan.steps[p].op
            && rows >= 3
            && let Some(r) = direction(plan, p, rows, n_out, last)
        {
            dirs.push(r);
        }
    }
    if dirs.is_empty() || dirs.len() > 2 {
        return None;
    }
    // Every step of the layer is explained, and nothing outside a
    // direction reads inside it but its output.
    let explained = |s: usize| dirs.iter().any(|d| d.projection == s || d.covers(s)) || (dirs.len() == 2 && s == last);
    if !(first..=last).all(explained) {
        return None;
    }
    for (s, st) in plan.steps.iter().enumerate() {
        for d in &dirs {
            if !d.covers(s) && st.inputs.iter().any(|&i| d.covers(i) && i != d.output) {
                return None;
            }
        }
    }
    Some(dirs)
}

/// The direction whose input projection is step `p` (T rows of `n`).
fn direction(plan: &Plan, p: usize, t: usize, n: usize, last: usize) -> Option<Recurrence> {
    let readers: Vec<usize> = (p + 1..=last).filter(|&s| plan.steps[s].inputs.contains(&p)).collect();
    if readers.len() != t {
        return None;
    }
    let mut rows = vec![];
    for &g in &readers {
        let st = &plan.steps[g];
        let StepOp::Gather { idx } = &st.op else { return None };
        let row = *idx.first()? as usize / n.max(1);
        if st.inputs != [p] || idx.len() != n || idx.iter().enumerate().any(|(j, &i)| i as usize != row * n + j) {
            return None;
        }
        rows.push(row);
    }
    let mut seen = rows.clone();
    seen.sort_unstable();
    if seen != (0..t).collect::<Vec<_>>() {
        return None;
    }
    let starts = readers;
    let len = starts[t - 1] - starts[t - 2];
    let cell = starts[t - 1]..starts[t - 1] + len;
    if cell.end > last + 1 {
        return None;
    }
    // Time steps 1.. match the last one step by step.
    for k in 1..t - 1 {
        if starts[k + 1] - starts[k] != len {
            return None;
        }
    }
    let mut state = std::collections::BTreeSet::new();
    // Time 0's step for each state offset.
    let mut t0 = std::collections::BTreeMap::new();
    for k in 1..t {
        for j in 0..len {
            let (s, c) = (&plan.steps[starts[k] + j], &plan.steps[cell.start + j]);
            let same_op = j == 0 || s.op == c.op;
            if !same_op || s.fmt.frac != c.fmt.frac || s.shape != c.shape || s.inputs.len() != c.inputs.len() {
                return None;
            }
            if j == 0 {
                continue;
            }
            for (&i, &ci) in s.inputs.iter().zip(&c.inputs) {
                if ci >= cell.start {
                    // Its own time step, at the same offset.
                    if i < starts[k] || i - starts[k] != ci - cell.start {
                        return None;
                    }
                } else if ci >= starts[t - 2] && ci < cell.start {
                    // The previous time step's state.
                    let o = ci - starts[t - 2];
                    state.insert(o);
                    if k >= 2 && i != starts[k - 1] + o {
                        return None;
                    }
                    if k == 1 {
                        // Every reader of a state takes the same time-0 step.
                        if !(starts[0]..starts[1]).contains(&i) || t0.insert(o, i).is_some_and(|prev| prev != i) {
                            return None;
                        }
                    }
                } else {
                    return None;
                }
            }
        }
    }
    // The time-0 steps read only the row and themselves.
    for s in starts[0] + 1..starts[1] {
        if plan.steps[s].inputs.iter().any(|&i| !(starts[0]..s).contains(&i)) {
            return None;
        }
    }
    let ends_in = |s: usize, k: usize| s >= starts[k] && s < starts[k] + len;
    // The output: the Concat of every h, or the last h.
    let after: Vec<usize> = (cell.end..plan.steps.len()).filter(|&s| plan.steps[s].inputs.iter().any(|&i| cell.contains(&i))).collect();
    let (output, h, places) = match after[..] {
        [c] if matches!(&plan.steps[c].op, StepOp::Concat { axis: 0, .. }) && plan.steps[c].inputs.len() == t => {
            let ins = &plan.steps[c].inputs;
            let h = ins.iter().find(|&&i| cell.contains(&i))? - cell.start;
            // The cell gives every h in the sequence's format (the first
            // one, written without the vanishing terms, may be shifted).
            let StepOp::Concat { shifts, .. } = &plan.steps[c].op else { return None };
            if plan.steps[c].fmt.frac != plan.steps[cell.start + h].fmt.frac || ins.iter().zip(shifts).any(|(&i, &s)| s != 0 && !(starts[0]..starts[1]).contains(&i)) {
                return None;
            }
            let mut places = vec![];
            for k in 0..t {
                let place = if k == 0 {
                    ins.iter().position(|&i| (starts[0]..starts[1]).contains(&i))?
                } else {
                    ins.iter().position(|&i| ends_in(i, k) && i - starts[k] == h)?
                };
                places.push(place);
            }
            let mut sorted = places.clone();
            sorted.sort_unstable();
            // Time 0's h is the one time 1 reads as its state.
            if sorted != (0..t).collect::<Vec<_>>() || t0.get(&h).is_some_and(|&s| ins[places[0]] != s) {
                return None;
            }
            (c, h, Some(places))
        }
        _ => {
            // The last h, read after the layer (or by the merge).
            let outs: Vec<usize> = cell.clone().filter(|&s| (cell.end..plan.steps.len()).any(|r| plan.steps[r].inputs.contains(&s)) || plan.outputs.contains(&s)).collect();
            let [o] = outs[..] else { return None };
            (o, o - cell.start, None)
        }
    };
    Some(Recurrence { projection: p, starts, rows, len, state: state.into_iter().collect(), h, output, places })
}

/// Whether step `i` of a recurrent cell is a projection of the state the
/// cell folds at `reuse` (a Dense of one row whose folding takes more
/// than one cycle).
pub fn cell_folds(plan: &Plan, i: usize, reuse: usize) -> bool {
    let StepOp::Dense { rows: 1, n_in, n_out, .. } = plan.steps[i].op else { return false };
    reuse > 1 && super::folded::Fold::new(1, n_in, n_out, reuse).cycles() > 1
}

/// The folded blocks of a recurrent layer iterating at `reuse`: (step,
/// block name) of each direction's input projection (`fold`, `fold1`)
/// and each cell's folded projections of the state (`rec_cell{d}_fold{j}`,
/// `j` the step's place in a time step). One list for the Verilog, the
/// ROM files, HLS and the budget.
pub fn folded_blocks(dirs: &[Recurrence], plan: &Plan, reuse: usize) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (d, r) in dirs.iter().enumerate() {
        out.push((r.projection, if d == 0 { "fold".to_string() } else { format!("fold{d}") }));
    }
    for (d, r) in dirs.iter().enumerate() {
        let cell = r.cell();
        out.extend(cell.clone().skip(1).filter(|&i| cell_folds(plan, i, reuse)).map(|i| (i, format!("rec_cell{d}_fold{}", i - cell.start))));
    }
    out
}

/// Whether the steps `first..=last` look like a recurrent layer (a Dense
/// over T rows read a row at a time), so that a layer that does not
/// iterate can say so.
pub fn looks_recurrent(plan: &Plan, first: usize, last: usize) -> bool {
    (first..=last).any(|s| {
        matches!(plan.steps[s].op, StepOp::Gather { .. })
            && plan.steps[s].inputs.first().is_some_and(|&p| p >= first && matches!(plan.steps[p].op, StepOp::Dense { rows, .. } if rows >= 2))
    })
}

/// `plan` with the cell of `r` (its last time step) and the state it
/// reads widened to every time step's values, so that one datapath
/// computes every time step exactly; `Err` says why a layer cannot
/// iterate (a state whose range excludes the zero it starts from).
pub fn cell_plan(plan: &Plan, r: &Recurrence) -> Result<Plan, String> {
    let mut p = plan.clone();
    let t = r.time_steps();
    let cell = r.cell();
    // Each range in the target's fraction (the first time step's state
    // can have another: the cell computes it at the cell's).
    let widen = |p: &mut Plan, target: usize, from: &[usize]| {
        let frac = plan.steps[target].fmt.frac;
        let at = |s: usize| at_frac(plan.steps[s].lo, plan.steps[s].hi, plan.steps[s].fmt.frac, frac);
        let lo = from.iter().map(|&s| at(s).0).min().unwrap_or(0);
        let hi = from.iter().map(|&s| at(s).1).max().unwrap_or(0);
        let signed = lo < 0 || from.iter().any(|&s| plan.steps[s].fmt.signed);
        // At least each time step's own width (a quantizer's format), one
        // more where an unsigned one joins signed ones.
        let own = from.iter().map(|&s| plan.steps[s].fmt.width + u32::from(signed && !plan.steps[s].fmt.signed)).max().unwrap_or(1);
        let st = &mut p.steps[target];
        st.lo = lo;
        st.hi = hi;
        st.fmt.width = own.max(fmt_for(lo, hi, frac).width);
        st.fmt.signed = signed;
    };
    for j in 0..r.len {
        let from: Vec<usize> = (1..t).map(|k| r.starts[k] + j).collect();
        widen(&mut p, cell.start + j, &from);
    }
    // The state the cell reads: every time step's, the first's included
    // (the step of time 0 that time 1 reads at the same place).
    let mut at0 = vec![];
    for &o in &r.state {
        at0.push(time0_state(plan, r, o).ok_or("the first time step's state is not where the cell reads it")?);
    }
    for (&o, &s0) in r.state.iter().zip(&at0) {
        let mut from: Vec<usize> = (1..t).map(|k| r.starts[k] + o).collect();
        from.push(s0);
        widen(&mut p, r.state_input(o), &from);
        widen(&mut p, cell.start + o, &from);
    }
    // The cell starts from a zero state: exact where some time step's
    // ranges were derived from a state that includes zero (interval
    // arithmetic is monotone, so the zero state's values lie inside them).
    let state_at = |k: usize, j: usize| if k == 0 { at0[j] } else { r.starts[k] + r.state[j] };
    let zero_inside = (0..t - 1).any(|k| (0..r.state.len()).all(|j| plan.steps[state_at(k, j)].lo <= 0 && plan.steps[state_at(k, j)].hi >= 0));
    if !zero_inside {
        return Err("its state never ranges over the zero it starts from".into());
    }
    Ok(p)
}

/// Every recurrent layer of `plan` whose cell can iterate (see
/// [`recurrences`] and [`cell_plan`]), each direction once, and `plan`
/// with every such cell widened: what C and HLS write as a loop over time
/// (one copy of the cell, however long the sequence). Layers that cannot
/// iterate stay unrolled there, as they are in the Verilog.
pub fn time_loops(plan: &Plan) -> (Vec<Recurrence>, Plan) {
    let mut loops = vec![];
    let mut widened = plan.clone();
    for (first, last) in crate::arch::schedule::layer_ranges(plan) {
        let Some(dirs) = recurrences(plan, first, last) else { continue };
        let cells: Result<Vec<Plan>, String> = dirs.iter().map(|d| cell_plan(plan, d)).collect();
        let Ok(cells) = cells else { continue };
        for (d, cp) in dirs.into_iter().zip(cells) {
            // The cell and the state it reads, as widened.
            let state = d.state.iter().map(|&o| d.state_input(o));
            for s in d.cell().chain(state) {
                widened.steps[s] = cp.steps[s].clone();
            }
            loops.push(d);
        }
    }
    (loops, widened)
}

/// The step of time 0 that time 1 reads as state offset `o`.
fn time0_state(plan: &Plan, r: &Recurrence, o: usize) -> Option<usize> {
    let cell = r.cell();
    for j in 0..r.len {
        for (q, &ci) in plan.steps[cell.start + j].inputs.iter().enumerate() {
            if ci == r.state_input(o) {
                return plan.steps[r.starts[1] + j].inputs.get(q).copied();
            }
        }
    }
    None
}

/// The codes `lo..=hi` at fraction `from` as codes at fraction `to` (the
/// same values; outward where `to` is coarser).
fn at_frac(lo: i128, hi: i128, from: i32, to: i32) -> (i128, i128) {
    if to >= from {
        let k = (to - from).min(100) as u32;
        (lo << k, hi << k)
    } else {
        let k = (from - to).min(120) as u32;
        (lo >> k, -((-hi) >> k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(name: &str) -> Plan {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/models/{name}.keras"));
        let g = crate::load_graph(path, Default::default()).unwrap();
        crate::backend::verilog::from_graph(&g, None, &Default::default(), &Default::default()).unwrap().1
    }

    /// The steps of `layer` in the schedule.
    fn layer(plan: &Plan, layer: &str) -> (usize, usize) {
        let s = crate::arch::schedule::schedule(plan, None, &Default::default());
        let n = s.nodes.iter().find(|n| n.layer == layer).unwrap();
        (n.first, n.last)
    }

    #[test]
    fn finds_each_direction_and_its_order() {
        let plan = plan_of("rnn_bilstm");
        let (a, b) = layer(&plan, "bilstm");
        let dirs = recurrences(&plan, a, b).unwrap();
        assert_eq!(dirs.len(), 2);
        let t = dirs[0].time_steps();
        assert_eq!(dirs[0].rows, (0..t).collect::<Vec<_>>());
        assert_eq!(dirs[1].rows, (0..t).rev().collect::<Vec<_>>());
        // An LSTM carries h and c.
        assert_eq!(dirs[0].state.len(), 2);
        // go_backwards alone: the rows from the end, the last h out.
        let plan = plan_of("rnn_simple");
        let (a, b) = layer(&plan, "q_simple_rnn");
        let d = &recurrences(&plan, a, b).unwrap()[0];
        assert_eq!(d.rows, (0..d.time_steps()).rev().collect::<Vec<_>>());
        assert!(d.places.is_none());
        assert_eq!(d.output, b);
        // A Dense is not a recurrence.
        let (a, b) = layer(&plan, "out");
        assert!(recurrences(&plan, a, b).is_none());
    }

    #[test]
    fn a_time_step_unlike_the_others_is_not_a_recurrence() {
        let mut plan = plan_of("rnn_lstm");
        let (a, b) = layer(&plan, "qlstm");
        let d = recurrences(&plan, a, b).unwrap().remove(0);
        plan.steps[d.starts[2] + 1].fmt.frac += 1;
        assert!(recurrences(&plan, a, b).is_none());
    }

    #[test]
    fn a_state_whose_ranges_exclude_zero_cannot_iterate() {
        let mut plan = plan_of("rnn_lstm");
        let (a, b) = layer(&plan, "qlstm");
        let d = recurrences(&plan, a, b).unwrap().remove(0);
        let p = cell_plan(&plan, &d).unwrap();
        // The widened cell holds every time step's range.
        for j in 0..d.len {
            let c = &p.steps[d.cell().start + j];
            for k in 1..d.time_steps() {
                let s = &plan.steps[d.starts[k] + j];
                assert!(c.lo <= s.lo && c.hi >= s.hi && c.fmt.frac == s.fmt.frac, "offset {j}, time {k}");
            }
        }
        for k in 0..d.time_steps() - 1 {
            for &o in &d.state {
                let s = if k == 0 { time0_state(&plan, &d, o).unwrap() } else { d.starts[k] + o };
                plan.steps[s].lo = plan.steps[s].lo.max(1);
                plan.steps[s].hi = plan.steps[s].hi.max(1);
            }
        }
        let e = cell_plan(&plan, &d).unwrap_err();
        assert!(e.contains("zero"), "{e}");
    }

    #[test]
    fn ranges_change_fraction_exactly() {
        assert_eq!(at_frac(-3, 5, 2, 4), (-12, 20));
        assert_eq!(at_frac(-3, 5, 4, 2), (-1, 2));
        assert_eq!(at_frac(-4, 4, 4, 2), (-1, 1));
    }
}
