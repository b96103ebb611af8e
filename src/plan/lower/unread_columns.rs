//! Internal Dense steps whose output columns no step reads lose them. A
//! recurrent layer projects its whole input sequence once and each time
//! step gathers its gates' columns; where a gate is never read (the first
//! step of an LSTM over one time step reads no forget gate: c(−1) = 0),
//! its columns would still be computed. The unrolled Verilog prunes the
//! dead products as nets; folded blocks compute whole columns, so the
//! plan drops them for every target (a folded QLSTM over one step left a
//! 56-bit slice of its projection unread, which `verilator -Wall` refuses).

use super::{Plan, StepOp};

/// Drops the unread output columns of every Dense step that belongs to no
/// layer's output (a layer's output keeps its shape: taps compare it) and
/// whose every reader is a Gather, remapping the gathers' indices. What a
/// step reads is followed through chains of gathers (a time step's slice,
/// then a gate's); steps no output depends on read nothing (their indices
/// into dropped columns point at column 0: they are never computed).
pub(super) fn drop_unread_columns(plan: &mut Plan) {
    let live = plan.live();
    for d in 0..plan.steps.len() {
        let StepOp::Dense { rows, n_out, .. } = plan.steps[d].op else { continue };
        if plan.steps[d].layer.is_some() || plan.outputs.contains(&d) || n_out == 0 || !live[d] {
            continue;
        }
        let readers: Vec<usize> = (d + 1..plan.steps.len()).filter(|&k| plan.steps[k].inputs.contains(&d)).collect();
        if readers.iter().any(|&k| !matches!(plan.steps[k].op, StepOp::Gather { .. })) {
            continue;
        }
        let read = read_elements(plan, &live, d);
        let kept: Vec<usize> = (0..n_out).filter(|&j| (0..rows).any(|r| read[r * n_out + j])).collect();
        if kept.len() == n_out || kept.is_empty() {
            continue;
        }
        // Old column -> new column (a dropped one -> 0, read by dead steps only).
        let mut to = vec![0u32; n_out];
        for (new, &old) in kept.iter().enumerate() {
            to[old] = new as u32;
        }
        let m = kept.len();
        if let StepOp::Dense { n_in, n_out: out, w, b, .. } = &mut plan.steps[d].op {
            *w = (0..*n_in).flat_map(|i| kept.iter().map(move |&j| (i, j))).map(|(i, j)| w[i * n_out + j]).collect();
            *b = kept.iter().map(|&j| b[j]).collect();
            *out = m;
        }
        if let Some(last) = plan.steps[d].shape.last_mut() {
            *last = m;
        }
        for &k in &readers {
            if let StepOp::Gather { idx } = &mut plan.steps[k].op {
                for i in idx.iter_mut() {
                    let (row, col) = (*i as usize / n_out, *i as usize % n_out);
                    *i = (row * m) as u32 + to[col];
                }
            }
        }
    }
}

/// Which elements of step `s`'s output live steps read, through gathers.
fn read_elements(plan: &Plan, live: &[bool], s: usize) -> Vec<bool> {
    let size: usize = plan.steps[s].shape.iter().product();
    if plan.outputs.contains(&s) {
        return vec![true; size];
    }
    let mut read = vec![false; size];
    for k in (s + 1..plan.steps.len()).filter(|&k| live[k] && plan.steps[k].inputs.contains(&s)) {
        match &plan.steps[k].op {
            StepOp::Gather { idx } => {
                let through = read_elements(plan, live, k);
                for (e, &i) in idx.iter().enumerate() {
                    if through[e] {
                        read[i as usize] = true;
                    }
                }
            }
            _ => return vec![true; size],
        }
    }
    read
}
