//! The dataflow schedule: which architecture each layer gets, and the
//! design's initiation interval.
//!
//! A layer is `Unrolled` (every product its own operator, initiation
//! interval 1) or `Folded` (hls4ml's reuse factor R: ceil(N/R) multipliers
//! and weights in a ROM). The choice comes from `--reuse-factor R` (every
//! foldable layer), `--config` (`[model]` `reuse_factor` / `strategy`,
//! overridden per layer by `[layer.NAME]`), in that order of precedence:
//! a layer's own table, then the command line, then `[model]`.
//! `strategy = "latency"` keeps a layer unrolled whatever its reuse factor;
//! R = 1 is the unrolled architecture.
//!
//! The whole design runs in lockstep at one initiation interval, the
//! largest number of cycles any folded layer needs per sample: every
//! layer's input is stable for that many cycles, each folded block starts
//! at a fixed phase of a global counter, and the latency is fixed.

use crate::passes::config::{Config, Strategy};
use crate::passes::precision::{Plan, StepOp};

/// A layer's hardware architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Unrolled,
    Folded { reuse: usize },
}

/// The reuse factor a layer asks for (1: unrolled).
pub fn requested(layer: &str, cli_reuse: Option<usize>, cfg: &Config) -> Arch {
    let own = cfg.layer(layer);
    let strategy = own.and_then(|l| l.strategy).or(cfg.model.strategy);
    if strategy == Some(Strategy::Latency) {
        return Arch::Unrolled;
    }
    let reuse = own.and_then(|l| l.reuse_factor).or(cli_reuse).or(cfg.model.reuse_factor).unwrap_or(1);
    if reuse <= 1 { Arch::Unrolled } else { Arch::Folded { reuse } }
}

/// (rows, n_in, n_out) of a step the folded architecture takes: a Dense,
/// or a convolution as a Dense over its windows (rows = output positions,
/// inputs = kernel taps). Depthwise and transposed convolutions stay
/// unrolled.
pub fn dense_shape(op: &StepOp) -> Option<(usize, usize, usize)> {
    match op {
        StepOp::Dense { rows, n_in, n_out, .. } => Some((*rows, *n_in, *n_out)),
        StepOp::Conv { geo, .. } => Some((geo.out_h * geo.out_w, geo.kh * geo.kw * geo.cin, geo.cout)),
        _ => None,
    }
}

/// One layer's place in the schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub layer: String,
    /// The plan steps the layer's hardware block computes.
    pub first: usize,
    pub last: usize,
    pub arch: Arch,
    /// Cycles the layer occupies its operators per sample (1 unrolled).
    pub cycles: usize,
}

/// The layers in plan order with their architectures, and the design's
/// initiation interval; `notes` say where a request could not be met.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub nodes: Vec<Node>,
    pub initiation_interval: usize,
    pub notes: Vec<String>,
}

/// Choose every layer's architecture.
pub fn schedule(plan: &Plan, cli_reuse: Option<usize>, cfg: &Config) -> Schedule {
    let mut nodes = vec![];
    let mut notes = vec![];
    let mut start = 1;
    while start < plan.steps.len() {
        let end = (start..plan.steps.len()).find(|&i| plan.steps[i].layer.is_some()).unwrap_or(plan.steps.len() - 1);
        let layer = plan.steps[end].layer.clone().unwrap_or_else(|| format!("step{end}"));
        let mut arch = requested(&layer, cli_reuse, cfg);
        let mut cycles = 1;
        if let Arch::Folded { reuse } = arch {
            match &plan.steps[start].op {
                StepOp::Dense { .. } | StepOp::Conv { .. } => {
                    let (rows, n_in, n_out) = dense_shape(&plan.steps[start].op).unwrap_or((1, 1, 1));
                    cycles = super::folded::Fold::new(rows, n_in, n_out, reuse).cycles();
                    if cycles <= 1 {
                        arch = Arch::Unrolled;
                        cycles = 1;
                    }
                }
                op => {
                    if cfg.layer(&layer).and_then(|l| l.reuse_factor).is_some() || !matches!(op, StepOp::Input) && has_products(op) {
                        notes.push(format!("layer `{layer}`: only Dense and Conv1D/Conv2D layers are folded so far; it stays unrolled"));
                    }
                    arch = Arch::Unrolled;
                }
            }
        }
        nodes.push(Node { layer, first: start, last: end, arch, cycles });
        start = end + 1;
    }
    let initiation_interval = nodes.iter().map(|n| n.cycles).max().unwrap_or(1).max(1);
    Schedule { nodes, initiation_interval, notes }
}

/// Steps with multiplications a reuse factor would fold.
fn has_products(op: &StepOp) -> bool {
    matches!(op, StepOp::Depthwise { .. } | StepOp::ConvT { .. })
}
