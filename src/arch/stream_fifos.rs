//! The FIFOs of a streaming design ([`super::stream`]): where a join's
//! branches fork from one stream, the words each branch's FIFO must hold so
//! that the fork never waits on a full FIFO while the other branch waits
//! for that very beat (a deadlock), the depth a design gets before its
//! timing simulation sizes it, the capacity it keeps after, and the block
//! RAM its line buffers, repeaters and FIFOs take. Architecture, not
//! rendering: the Verilog top and the HLS dataflow both size their FIFOs
//! here.

use super::stream::{Src, Stage, StreamPlan};
use crate::plan::Plan;

/// The FIFO words each join input needs so that the fork feeding its
/// branches never waits on a full FIFO while the other branch waits for
/// that very beat (a deadlock): for output beat `j` of the join, branch
/// `b` needs `need_b(j)` beats of the fork's stream, and by then branch
/// `a` can have produced every beat `s` with `need_a(s) <= need_b(j)`,
/// all waiting at the join. The depth is the largest such backlog.
/// Returns the depth per input of node `k` (0: no FIFO) and whether it is
/// a whole sample's beats: where the branches do not meet at one fork,
/// which always suffices.
pub fn join_depths(sp: &StreamPlan, k: usize) -> Vec<(usize, bool)> {
    let inputs = &sp.nodes[k].inputs;
    let path = |src: Src| fork_of(sp, src, (1..=sp.beats(src)).collect());
    let paths: Vec<(Src, Vec<usize>)> = inputs.iter().map(|&s| path(s)).map(|(f, n, _)| (f, n)).collect();
    let beats = sp.nodes[k].stage.out_beats().max(1);
    paths
        .iter()
        .enumerate()
        .map(|(a, (fa, na))| {
            let mut depth = 0usize;
            for (b, (fb, nb)) in paths.iter().enumerate() {
                if a == b {
                    continue;
                }
                if fa != fb {
                    return (beats, true);
                }
                // For each j: delivering the fork's beat nb[j] - 1 to
                // branch b also gives it to branch a, which then holds
                // every beat s with na[s] <= nb[j] that the join has not
                // taken (those from j on).
                let mut s = 0usize;
                for (j, &need_b) in nb.iter().enumerate() {
                    while s < na.len() && na[s] <= need_b {
                        s += 1;
                    }
                    depth = depth.max(s.saturating_sub(j));
                }
            }
            (depth, false)
        })
        .collect()
}

/// The stream `src`'s beats fork from, walking back through the stages
/// that have it as their only reader, and for each beat `j` of `src`
/// (`need[j]` beats of it first) how many beats of that stream it needs;
/// also how many of the fork's reader edges the walk came in by.
/// A join on the way (one reader) is walked through when all its inputs
/// fork from one stream (a beat of it needs the most any input needs):
/// so the long skip of a block that holds a residual block of its own
/// meets its other branch at the fork they share, not at a whole sample.
/// Where every reader of that inner fork is on the join's paths (a
/// residual block inside the branch), the fork's stream is the branch's
/// alone, and the walk goes on through it (cross-check batch 13: an Add
/// around a branch holding a residual block got FIFOs of a whole sample,
/// 256 words, where 38 were ever held).
fn fork_of(sp: &StreamPlan, src: Src, need: Vec<usize>) -> (Src, Vec<usize>, usize) {
    let Src::Node(n) = src else { return (src, need, 1) };
    if sp.readers(src).len() > 1 {
        return (src, need, 1);
    }
    fork_through(sp, n, need)
}

/// [`fork_of`] through node `n`, its output read by this walk alone.
fn fork_through(sp: &StreamPlan, n: usize, need: Vec<usize>) -> (Src, Vec<usize>, usize) {
    let f = sp.needs(n);
    let composed: Vec<usize> = need.iter().map(|&c| if c == 0 { 0 } else { f[(c - 1).min(f.len() - 1)] }).collect();
    match &sp.nodes[n].inputs[..] {
        [one] => fork_of(sp, *one, composed),
        ins => {
            let paths: Vec<(Src, Vec<usize>, usize)> = ins.iter().map(|&s| fork_of(sp, s, composed.clone())).collect();
            if paths.iter().any(|p| p.0 != paths[0].0) {
                return (Src::Node(n), need, 1);
            }
            let most = (0..composed.len()).map(|j| paths.iter().map(|p| p.1[j]).max().unwrap_or(0)).collect();
            let hops = paths.iter().map(|p| p.2).sum();
            match paths[0].0 {
                Src::Node(m) if hops == sp.readers(paths[0].0).len() => fork_through(sp, m, most),
                fork => (fork, most, hops),
            }
        }
    }
}

/// Whether node `k` joins streams that come from different model inputs
/// (whose ports run independently of each other).
pub fn joins_inputs(sp: &StreamPlan, k: usize) -> bool {
    // The model inputs whose beats reach each node's output, in one pass
    // over the nodes (topological order): a walk back through every path
    // would be exponential in the residual blocks.
    let mut reach: Vec<std::collections::BTreeSet<usize>> = Vec::with_capacity(k);
    let of = |reach: &[std::collections::BTreeSet<usize>], s: Src| match s {
        Src::Input(i) => [i].into(),
        Src::Node(n) => reach[n].clone(),
    };
    for node in &sp.nodes[..k] {
        let set = node.inputs.iter().flat_map(|&s| of(&reach, s)).collect();
        reach.push(set);
    }
    let mut sets = sp.nodes[k].inputs.iter().map(|&s| of(&reach, s));
    let first = sets.next().unwrap_or_default();
    sets.any(|s| s != first)
}

/// The capacity of a FIFO that held at most `held` words at full rate:
/// a word more in its RAM (so it never refused one, and the design times
/// as simulated), at least the deadlock-free `minimum`, and the whole RAM
/// (a power of two words, plus the output register), whose unused words
/// would cost the same.
pub fn fifo_capacity(held: usize, minimum: usize) -> usize {
    (held + 1).max(minimum.saturating_sub(1)).next_power_of_two() + 1
}

/// The FIFO on each input of node `k` (0: none): the deadlock-free
/// minimum of words, and the depth the design gets before its timing
/// simulation sizes it (twice the minimum; a whole sample where inputs
/// meet, which no simulation sizes; the minimum with
/// `fifo_minimum`, `--fifo-minimum`).
pub fn fifo_depths(sp: &StreamPlan, k: usize, fifo_minimum: bool) -> (Vec<usize>, Vec<usize>) {
    let node = &sp.nodes[k];
    let joined = if node.inputs.len() > 1 {
        join_depths(sp, k)
    } else {
        vec![(0, false); node.inputs.len()]
    };
    let mut minimum: Vec<usize> = joined.iter().map(|j| j.0).collect();
    // A backlog of one beat waits in the output register of the
    // branch's last stage (a branch straight from the fork has none).
    // The bound is exact for a branch straight from the fork (a
    // residual block's identity skip); where the branch has stages of
    // its own (a 1x1 shortcut), their registers hold part of the
    // backlog, so it is safe but can be a word or two above the least
    // that runs. Not where the branches come from different forks (a
    // whole sample): a branch of a fork nested in another one can run
    // ahead of its partner by what the inner fork's FIFOs hold, and
    // without a FIFO the two forks deadlocked (cross-check batch 15:
    // `Concatenate([Add(a, c), Add(a, b)])` of three folded branches,
    // `a` forked again, at R = 2).
    for (p, m) in minimum.iter_mut().enumerate() {
        if *m <= 1 && !joined[p].1 && sp.readers(node.inputs[p]).len() == 1 && !matches!(node.inputs[p], Src::Input(_)) {
            *m = 0;
        }
    }
    // Where inputs meet, a whole sample in its RAM: the faster port fills
    // any FIFO, so no simulation sizes it.
    let across = joins_inputs(sp, k);
    let depths: Vec<usize> = minimum
        .iter()
        .map(|&d| {
            if fifo_minimum || d == 0 {
                d.max(usize::from(d > 0) * 2)
            } else if across {
                fifo_capacity(0, d)
            } else {
                (2 * d).max(2)
            }
        })
        .collect();
    (minimum, depths)
}

/// The block RAM (BRAM36) the line buffers and FIFOs of `sp` take by
/// their `ram_style` (see [`super::netlist::ram_style`]), with the line
/// buffers `kind` gives each window stage: the part of a streaming
/// design's memory the reuse factors change only through the line buffers'
/// kinds, which `--budget` sets aside before it folds the layers.
pub fn ram_bram36(plan: &Plan, sp: &StreamPlan, fifo_minimum: bool, kind: &dyn Fn(usize, &crate::plan::Geo) -> super::line_buffer::LineBufferKind) -> f64 {
    let mut total = 0.0;
    for (k, node) in sp.nodes.iter().enumerate() {
        if let Stage::Window { geo, width, .. } = &node.stage {
            let (depth, bits) = super::line_buffer::line_buffer_ram(geo, *width, kind(k, geo));
            total += super::folded::bram36(depth, bits as usize);
        }
        if let Stage::Repeat { in_w, c, width, .. } = &node.stage {
            let (depth, bits) = super::line_buffer::repeater_ram(*in_w, *c as u32 * width);
            total += super::folded::bram36(depth, bits as usize);
        }
        let (_, depths) = fifo_depths(sp, k, fifo_minimum);
        for (p, &d) in depths.iter().enumerate() {
            if d > 0 {
                let bits = match node.inputs[p] {
                    Src::Input(i) => sp.inputs[i].elems * plan.steps[sp.inputs[i].step].fmt.width as usize,
                    Src::Node(j) => stage_out_bits(&sp.nodes[j].stage),
                };
                let (depth, _) = super::line_buffer::fifo_ram(d);
                total += super::folded::bram36(depth, bits);
            }
        }
    }
    total
}

/// The bits of one output beat of `stage`.
pub fn stage_out_bits(stage: &Stage) -> usize {
    match stage {
        Stage::Beat { plan, .. } => {
            let o = &plan.steps[plan.outputs[0]];
            o.shape.iter().product::<usize>() * o.fmt.width as usize
        }
        Stage::Window { geo, width, .. } => geo.kh * geo.kw * geo.cin * *width as usize,
        Stage::Collect { beats, elems, width, .. } => beats * elems * *width as usize,
        Stage::Repeat { c, width, .. } | Stage::Dilate { c, width, .. } => c * *width as usize,
        Stage::Split { elems, width, .. } => elems * *width as usize,
        Stage::PerPosition { c, lo, hi, .. } => c * super::netlist::width_of(*lo, *hi) as usize,
        Stage::Accumulate { c, lo, hi, rows, cols, max, .. } => {
            let (lo, hi) = Stage::accumulated(*lo, *hi, (rows.1 - rows.0 + 1) * (cols.1 - cols.0 + 1), *max);
            c * super::netlist::width_of(lo, hi) as usize
        }
    }
}

