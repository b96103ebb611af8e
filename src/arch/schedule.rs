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
//! R = 1 is the unrolled architecture. A recurrent layer asked to fold
//! iterates over time instead of being unrolled over it (`Recurrent`).
//!
//! The whole design runs in lockstep at one initiation interval, the
//! largest number of cycles any folded layer needs per sample: every
//! layer's input is stable for that many cycles, each folded block starts
//! at a fixed phase of a global counter, and the latency is fixed.

use crate::passes::config::{Config, Strategy};
use crate::plan::{Plan, StepOp};

/// A layer's hardware architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Unrolled,
    /// Folded by `reuse`, `parallel` rows (a convolution's output
    /// positions) at once.
    Folded { reuse: usize, parallel: usize },
    /// A recurrent layer as one cell iterating over the time steps, its
    /// state in registers (see [`super::recurrent`]); its input projection
    /// (every time step's at once) folded by `reuse` (1: unrolled).
    Recurrent { reuse: usize },
}

impl Arch {
    /// The reuse factor the layer's first step (a Dense, convolution or
    /// pooling; a recurrent layer's input projection) is folded by.
    pub fn first_fold(&self) -> Option<usize> {
        match *self {
            Arch::Folded { reuse, .. } => Some(reuse),
            Arch::Recurrent { reuse } if reuse > 1 => Some(reuse),
            _ => None,
        }
    }
}

/// The architecture a layer asks for (a reuse factor of 1: unrolled), and
/// the output positions at once it asks for (1 unless its
/// `parallelization_factor` says more, folded or not: the schedule says
/// where it has no effect).
/// Under strategy "latency" also the reuse factor it leaves unused (more
/// than 1), which the schedule notes.
fn requested(layer: &str, owner: &str, cli_reuse: Option<usize>, cfg: &Config) -> (Arch, usize, Option<usize>) {
    let own = block_table(cfg, layer, owner);
    let parallel = own.and_then(|l| l.parallelization_factor).unwrap_or(1);
    let strategy = own.and_then(|l| l.strategy).or(cfg.model.strategy);
    let reuse = own.and_then(|l| l.reuse_factor).or(cli_reuse).or(cfg.model.reuse_factor).unwrap_or(1);
    if strategy == Some(Strategy::Latency) {
        return (Arch::Unrolled, parallel, Some(reuse).filter(|&r| r > 1));
    }
    (if reuse <= 1 { Arch::Unrolled } else { Arch::Folded { reuse, parallel } }, parallel, None)
}

/// (rows, n_in, n_out) of a step the folded architecture takes (see
/// [`super::folded::foldable`]): a Dense, a convolution as a Dense over
/// its windows (rows = output positions, inputs = kernel taps), a
/// depthwise convolution, an average pooling with a non-power-of-two
/// factor. Transposed convolutions stay unrolled.
pub fn dense_shape(op: &StepOp) -> Option<(usize, usize, usize)> {
    super::folded::foldable(op).map(|f| (f.rows, f.n_in, f.n_out))
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
    /// The directions of a layer that iterates over time
    /// ([`Arch::Recurrent`]), found once here for every lowering.
    pub recurrences: Vec<super::recurrent::Recurrence>,
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
    let mut latency_kept = vec![];
    // Folded layers whose reuse factor gives them more cycles a position.
    let mut rounded_up = vec![];
    for (start, end) in layer_ranges(plan) {
        let (layer, owner) = block_name(plan, end);
        let (mut arch, asked_parallel, unused_reuse) = requested(&layer, &owner, cli_reuse, cfg);
        if let Some(r) = unused_reuse
            && dense_shape(&plan.steps[start].op).is_some()
        {
            latency_kept.push(format!("`{layer}` (reuse_factor {r})"));
        }
        let mut cycles = 1;
        let mut recurrences = vec![];
        if let Arch::Folded { reuse, .. } = arch
            && let Some(dirs) = iterating(plan, start, end, &layer, &mut notes)
        {
            // The projection (T ≥ 3 rows) folds; the time steps take at
            // least one cycle each (the lowering knows the cell's pipeline
            // and sets the exact count).
            let t = dirs[0].time_steps();
            let folded = dirs.iter().filter_map(|d| dense_shape(&plan.steps[d.projection].op)).map(|(rows, n_in, n_out)| super::folded::Fold::new(rows, n_in, n_out, reuse).cycles()).max().unwrap_or(1);
            arch = Arch::Recurrent { reuse };
            cycles = folded.max(t);
            recurrences = dirs;
        } else if let Arch::Folded { reuse, parallel } = arch {
            let op = &plan.steps[start].op;
            match dense_shape(op) {
                Some((rows, n_in, n_out)) => {
                    let fold = super::folded::Fold::new(rows, n_in, n_out, reuse).rows_at_once(parallel);
                    if fold.p_rows < parallel {
                        notes.push(format!("layer `{layer}`: parallelization_factor {parallel} is more than the {rows} output position{} its block computes per run (a Dense over a vector computes one, a streamed stage one per window); it computes all {rows} at once", if rows == 1 { "" } else { "s" }));
                    }
                    arch = Arch::Folded { reuse, parallel: fold.p_rows };
                    cycles = fold.cycles();
                    if fold.depth() > reuse && cycles > 1 {
                        rounded_up.push(format!("`{layer}` {} at R = {reuse}", fold.depth()));
                    }
                    if cycles <= 1 {
                        arch = Arch::Unrolled;
                        cycles = 1;
                    }
                }
                None => {
                    if block_table(cfg, &layer, &owner).and_then(|l| l.reuse_factor).is_some() || has_products(op) {
                        notes.push(format!(
                            "layer `{layer}`: only Dense, Conv1D/Conv2D, depthwise convolutions and average poolings by a non-power-of-two factor are folded so far; it stays unrolled"
                        ));
                    }
                    arch = Arch::Unrolled;
                }
            }
        }
        if asked_parallel > 1 && !matches!(arch, Arch::Folded { .. }) {
            notes.push(format!("layer `{layer}`: parallelization_factor {asked_parallel} has no effect: the layer is not folded (unrolled, it computes every position at once)"));
        }
        nodes.push(Node { layer, first: start, last: end, arch, cycles, recurrences });
    }
    if !rounded_up.is_empty() {
        notes.push(format!(
            "cycles a position (a sample for a Dense) above the reuse factor: {} (at most ceil(N/R) multipliers, in lanes of whole outputs times equal chunks of inputs, so the cycles round up; the report's cycles column gives each layer's)",
            rounded_up.join(", ")
        ));
    }
    if !latency_kept.is_empty() {
        notes.push(format!(
            "strategy \"latency\" keeps {} unrolled (one multiplier a product, initiation interval 1) whatever the reuse factor; strategy = \"resource\" folds {}",
            latency_kept.join(", "),
            if latency_kept.len() == 1 { "it" } else { "them" }
        ));
    }
    let initiation_interval = nodes.iter().map(|n| n.cycles).max().unwrap_or(1).max(1);
    Schedule { nodes, initiation_interval, notes }
}

/// The steps of each layer of `plan`, in order: (first, last), the last
/// being the one that names the layer (the input step excluded). A
/// separable convolution is two blocks ([`block_end`]): its depthwise
/// half and its pointwise half, so that a reuse factor folds both (the
/// pointwise half stayed unrolled).
pub fn layer_ranges(plan: &Plan) -> Vec<(usize, usize)> {
    let mut out = vec![];
    let mut start = 1;
    while start < plan.steps.len() {
        let end = block_end(plan, start);
        out.push((start, end));
        start = end + 1;
    }
    out
}

/// The last step of the block that starts at `start`: the layer's named
/// step, or, where an unnamed depthwise step starts a separable
/// convolution, the step before its pointwise convolution.
pub fn block_end(plan: &Plan, start: usize) -> usize {
    let end = (start..plan.steps.len()).find(|&i| plan.steps[i].layer.is_some()).unwrap_or(plan.steps.len() - 1);
    if plan.steps[start].layer.is_some() || !matches!(plan.steps[start].op, StepOp::Depthwise { .. }) {
        return end;
    }
    (start + 1..=end).find(|&k| matches!(plan.steps[k].op, StepOp::Conv { .. })).map_or(end, |k| k - 1)
}

/// A block's `--config` table: its own (a budget's choice), else its
/// layer's (`owner`, from [`block_name`]).
fn block_table<'a>(cfg: &'a Config, block: &str, owner: &str) -> Option<&'a crate::passes::config::LayerConfig> {
    cfg.layer(block).or_else(|| cfg.layer(owner))
}

/// A block's name (a layer's, or for the depthwise half of a separable
/// convolution `NAME_depthwise`) and the layer whose `--config` table it
/// also reads.
pub fn block_name(plan: &Plan, end: usize) -> (String, String) {
    let owner = plan.steps[end..].iter().find_map(|s| s.layer.clone()).unwrap_or_else(|| format!("step{end}"));
    match &plan.steps[end].layer {
        Some(l) => (l.clone(), l.clone()),
        None => (format!("{owner}_depthwise"), owner),
    }
}

/// The directions of the recurrent layer `start..=end` when its cell can
/// iterate over time; a note says why one cannot.
fn iterating(plan: &Plan, start: usize, end: usize, layer: &str, notes: &mut Vec<String>) -> Option<Vec<super::recurrent::Recurrence>> {
    let Some(dirs) = super::recurrent::recurrences(plan, start, end) else {
        if super::recurrent::looks_recurrent(plan, start, end) {
            notes.push(format!(
                "layer `{layer}`: stays unrolled over time (fewer than 3 time steps, or its time steps are not one cell: a per-layer output format, say); only its input projection folds"
            ));
        }
        return None;
    };
    for d in &dirs {
        if let Err(why) = super::recurrent::cell_plan(plan, d) {
            notes.push(format!("layer `{layer}`: stays unrolled over time ({why}); only its input projection folds"));
            return None;
        }
    }
    Some(dirs)
}

/// Steps with multiplications a reuse factor would fold.
fn has_products(op: &StepOp) -> bool {
    matches!(op, StepOp::ConvT { .. })
}

/// A resource budget (`--budget lut=N,ff=N,dsp=M,bram=K`); absent fields
/// are unconstrained. BRAM in BRAM36 (a RAMB18 counts as half).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    pub lut: Option<usize>,
    pub ff: Option<usize>,
    pub dsp: Option<usize>,
    pub bram36: Option<f64>,
}

impl Budget {
    /// How far a design taking `dsp` DSP48, `bram36` BRAM36 and (where
    /// weighed) `fabric` LUTs and FFs is over the budget: each item's
    /// excess relative to the item (a budget of none counts as one unit,
    /// half a BRAM36 for block RAM), summed; 0 within it. Where nothing
    /// fits, the error names the design whose excess is least (119 DSP48
    /// over `dsp=0` is further than 4 DSP48 and 2 BRAM36 over
    /// `dsp=0,bram=0`).
    pub fn excess(&self, dsp: usize, bram36: f64, fabric: Option<(usize, usize)>) -> f64 {
        let over = |limit: Option<f64>, value: f64, unit: f64| limit.filter(|&l| value > l).map_or(0.0, |l| (value - l) / l.max(unit));
        let (lut, ff) = fabric.map_or((None, None), |(l, f)| (Some(l as f64), Some(f as f64)));
        over(self.dsp.map(|d| d as f64), dsp as f64, 1.0)
            + over(self.bram36, bram36, 0.5)
            + lut.map_or(0.0, |l| over(self.lut.map(|n| n as f64), l, 1.0))
            + ff.map_or(0.0, |f| over(self.ff.map(|n| n as f64), f, 1.0))
    }
}

impl std::str::FromStr for Budget {
    type Err = crate::error::Error;
    fn from_str(s: &str) -> crate::error::Result<Budget> {
        let mut b = Budget::default();
        let mut seen = vec![];
        for item in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let bad = || crate::error::Error::Usage(format!("--budget `{item}`: expected lut=N, ff=N, dsp=N (whole numbers) or bram=N (BRAM36), comma separated"));
            let (k, v) = item.split_once('=').ok_or_else(bad)?;
            let n: f64 = v.trim().parse().map_err(|_| bad())?;
            // DSP48, LUT and FF counts are whole (`dsp=3.9` was taken as 3;
            // cross-check batch 15); block RAM counts halves (a RAMB18).
            if n.is_nan() || !(0.0..=1e15).contains(&n) || k.trim() != "bram" && n.fract() != 0.0 {
                return Err(bad());
            }
            // A second value of one item was taken silently, the last
            // winning (cross-check batch 11).
            if seen.contains(&k.trim()) {
                return Err(crate::error::Error::Usage(format!("--budget `{s}`: `{}` is given twice; give each of lut, ff, dsp and bram once", k.trim())));
            }
            seen.push(k.trim());
            match k.trim() {
                "lut" => b.lut = Some(n as usize),
                "ff" => b.ff = Some(n as usize),
                "dsp" => b.dsp = Some(n as usize),
                "bram" => b.bram36 = Some(n),
                _ => return Err(bad()),
            }
        }
        if seen.is_empty() {
            return Err(crate::error::Error::Usage("--budget: empty; give one or more of lut=N, ff=N, dsp=N and bram=N (BRAM36), comma separated".into()));
        }
        Ok(b)
    }
}

/// What the folded layers of a schedule are estimated to need.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Estimate {
    pub dsp: usize,
    pub bram36: f64,
}

/// The estimate of folding `op` (input range `x`) with reuse `r`, `p`
/// rows at once (`pack`: two products a DSP48 where they fit).
fn estimate(op: &StepOp, x: (i128, i128), r: usize, p: usize, pack: bool) -> Estimate {
    super::folded::foldable(op).map_or_else(Estimate::default, |fo| Weights::of(op, &fo).estimate(x, r, p, pack))
}

/// What a folded layer's estimate needs of its weights, found once.
#[derive(Debug, Clone, Copy)]
struct Weights {
    rows: usize,
    n_in: usize,
    n_out: usize,
    /// The weights' range, 0 included.
    range: (i128, i128),
    /// All equal: the ROM is a constant (no block RAM).
    uniform: bool,
    /// The nonzero weights: the layer's constant products, unrolled.
    nonzero: usize,
    per_output: bool,
}

impl Weights {
    fn of(op: &StepOp, fo: &super::folded::Foldable) -> Weights {
        let range = (fo.w.iter().copied().min().unwrap_or(0).min(0), fo.w.iter().copied().max().unwrap_or(0).max(0));
        Weights { rows: fo.rows, n_in: fo.n_in, n_out: fo.n_out, range, uniform: fo.w.iter().all(|&v| v == fo.w[0]), nonzero: fo.w.iter().filter(|&&w| w != 0).count(), per_output: super::folded::reads_per_output(op) }
    }

    fn fold(&self, r: usize, p: usize) -> super::folded::Fold {
        super::folded::Fold::new(self.rows, self.n_in, self.n_out, r).rows_at_once(p)
    }

    fn estimate(&self, x: (i128, i128), r: usize, p: usize, pack: bool) -> Estimate {
        let f = self.fold(r, p);
        let ww = super::netlist::width_of(self.range.0, self.range.1) as usize;
        Estimate {
            dsp: super::folded::dsp_slices(&f, x, self.range, self.per_output, pack),
            bram36: if self.uniform { 0.0 } else { super::folded::bram36(f.depth(), f.multipliers() * ww) },
        }
    }
}

/// The largest reuse factor whose folding of `(rows, n_in, n_out)`, `p`
/// rows at once, takes at most `t` cycles (1 when none does).
fn reuse_within(shape: (usize, usize, usize), p: usize, t: usize) -> usize {
    let (rows, n_in, n_out) = shape;
    let cycles = |r: usize| super::folded::Fold::new(rows, n_in, n_out, r).rows_at_once(p).cycles();
    let (mut lo, mut hi) = (1usize, (n_in * n_out).max(1));
    if cycles(1) > t {
        return 1;
    }
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if cycles(mid) <= t { lo = mid } else { hi = mid - 1 }
    }
    lo
}

/// The (reuse, rows at once) pair with the fewest multipliers whose
/// folding of `(rows, n_in, n_out)` takes at most `t` cycles, ties to
/// fewer rows at once; (1, 1) (unrolled) when no folding does.
fn fewest_multipliers_within(shape: (usize, usize, usize), t: usize) -> (usize, usize) {
    let (rows, n_in, n_out) = shape;
    let mut best: Option<(usize, usize, usize)> = None;
    // Every count of rows at once that changes the row blocks, once.
    let mut last = 0;
    for blocks in (1..=rows.max(1)).rev() {
        let p = rows.max(1).div_ceil(blocks);
        if p == last {
            continue;
        }
        last = p;
        let r = reuse_within(shape, p, t);
        if r < 2 {
            continue;
        }
        let m = super::folded::Fold::new(rows, n_in, n_out, r).rows_at_once(p).all_multipliers();
        if best.is_none_or(|b| m < b.0) {
            best = Some((m, r, p));
        }
    }
    best.map_or((1, 1), |(_, r, p)| (r, p))
}

/// How a target interval's design treats a layer of several positions
/// (a convolution) that can fold within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// Folded within T, one position at a time (unrolled only where it
    /// cannot fold within T).
    Folded,
    /// Folded within T with the fewest multipliers, several positions at
    /// once (the parallel architecture).
    PositionsAtOnce,
    /// Unrolled, its constant products in the fabric, the other layers
    /// folded within T.
    ConvolutionsUnrolled,
}

/// What [`budget_config`] asks of a candidate's whole design, which the
/// caller generates: the block RAM beside its layers' ROMs, and whether
/// its fabric fits (see there).
pub struct Weigh<'a> {
    pub fixed_bram36: &'a dyn Fn(&Config) -> f64,
    pub fabric_fits: &'a mut dyn FnMut(&Config, usize) -> bool,
}

/// `--budget`: the per-layer reuse factors for the smallest initiation
/// interval whose folding fits the budget by the estimate, as a
/// configuration (`cfg` with a `reuse_factor` for every foldable layer
/// that has none), and their estimate: for a target interval T every
/// foldable layer without its own `[layer.NAME] reuse_factor` gets the
/// largest reuse factor that keeps it within T cycles (so the layers are
/// balanced), and the smallest T whose DSP, BRAM, LUT and FF estimates
/// fit is taken. A convolution's folding takes
/// positions × groups × chunks cycles per sample, which is also its cycles
/// per image in the streaming architecture (one window per position), so
/// the same choice balances a streaming design's stages.
///
/// `fabric_fits` checks the LUT and FF budget on a candidate (the
/// generator builds its netlist and weighs it, [`super::fabric`]); it is
/// called only on candidates whose DSP and BRAM estimates fit, where the
/// budget names LUTs or FFs or the candidate unrolls a layer that folds
/// at a longer T (the caller holds those to the part's fabric), with the
/// unrolled layers' nonzero weights: a floor on their LUTs (a LUT or more
/// a constant product, 6 to 13 in jet_tagger_da, the DS-CNN and ResNet-8
/// unrolled), which spares building a design that cannot fit; and the
/// search assumes that folding more never needs more fabric (true from R =
/// 2 on; the unrolled design's shift-adds can need less than R = 2).
///
/// With `rows_at_once` (the parallel architecture, where a folded block
/// computes every output position of a sample), where the design with a
/// convolution unrolled (it cannot fold within T one position at a time)
/// does not fit the budget's LUTs or FFs, that convolution gets the
/// (reuse, positions at once) pair with the fewest multipliers that keeps
/// it within T cycles instead; a streaming stage computes one window per
/// beat and takes reuse factors only.
///
/// `fixed_bram36`: the block RAM the rest of a candidate's design takes
/// (a streaming design's line buffers, sliding and wider where a reader
/// takes a window a cycle, and FIFOs), counted against the budget's
/// with its layers'. Where the layers folded up to T take more than is
/// left, some fold less (shallower ROMs; [`fold_less_for_block_ram`]).
///
/// `min_t`: the fewest cycles per image worth folding for (a streaming
/// design whose line buffers take that long whatever the layers do: the
/// layers fold up to it rather than buy a shorter time they cannot use).
pub fn budget_config(plan: &Plan, cfg: &Config, budget: &Budget, rows_at_once: bool, pack: bool, min_t: usize, weigh: &mut Weigh) -> (Config, Estimate) {
    let (fixed_bram36, fabric_fits) = (weigh.fixed_bram36, &mut weigh.fabric_fits);
    let nodes = schedule(plan, None, cfg).nodes;
    // Each block, with its own config table or else its layer's.
    let layers: Vec<Block> = nodes.iter().map(|n| (n.first, n.layer.clone(), block_table(cfg, &n.layer, &block_name(plan, n.last).1))).collect();
    // The directions of each layer that can iterate over time, with their
    // cell plans (found once).
    let recurrent: Vec<(usize, Vec<super::recurrent::Recurrence>, Vec<Plan>)> = nodes
        .iter()
        .filter_map(|n| iterating(plan, n.first, n.last, &n.layer, &mut vec![]).map(|d| (n.first, d)))
        .map(|(first, dirs)| {
            let cells = dirs.iter().filter_map(|d| super::recurrent::cell_plan(plan, d).ok()).collect();
            (first, dirs, cells)
        })
        .collect();
    // `parallel`: a convolution that cannot fold within T one position at
    // a time computes several at once; otherwise it is unrolled (no DSP48
    // by the estimate, but all of its products in the fabric). Also
    // whether the design unrolls a layer that folds at a longer T.
    // Each layer's nonzero weights: an unrolled layer's constant products.
    // Each block's weights (for its estimates) and input range.
    let weights: Vec<Option<Weights>> = layers.iter().map(|(f, _, _)| super::folded::foldable(&plan.steps[*f].op).map(|fo| Weights::of(&plan.steps[*f].op, &fo))).collect();
    let nonzero: Vec<usize> = weights.iter().map(|w| w.map_or(0, |w| w.nonzero)).collect();
    let x_ranges: Vec<(i128, i128)> = layers
        .iter()
        .map(|(f, _, _)| plan.steps[*f].inputs.first().map_or((0, 0), |&i| (plan.steps[i].lo, plan.steps[i].hi)))
        .collect();
    // `rebalance`: fold layers less where that saves block RAM the
    // budget lacks (not for the most folded design, which a budget that
    // nothing fits is told of).
    let at = |t: usize, v: Variant, rebalance: bool| -> (Config, Estimate, usize) {
        let mut c = cfg.clone();
        let mut e = Estimate::default();
        let mut unrolled = 0;
        // Each folded layer the budget chose for: (its block, reuse, rows
        // at once, estimate), for the block RAM's rebalancing below.
        let mut picks: Vec<(usize, usize, usize, Estimate)> = vec![];
        for (k, ((first, layer, table), nonzero)) in layers.iter().zip(&nonzero).enumerate() {
            let op = &plan.steps[*first].op;
            let Some(shape) = dense_shape(op) else { continue };
            let own = table.and_then(|l| l.reuse_factor);
            let own_p = table.and_then(|l| l.parallelization_factor);
            let (r, p) = match (own, own_p) {
                (Some(r), p) => (r, p.unwrap_or(1)),
                (None, Some(p)) => (reuse_within(shape, p, t), p),
                (None, None) if v == Variant::ConvolutionsUnrolled && shape.0 > 1 => (1, 1),
                (None, None) if v == Variant::PositionsAtOnce => fewest_multipliers_within(shape, t),
                (None, None) => (reuse_within(shape, 1, t), 1),
            };
            if own.is_none() && r == 1 && shape.1 * shape.2 > 1 {
                // The parallel architecture unrolls every position; a
                // stage computes one window a beat.
                unrolled += (*nonzero).max(1) * if rows_at_once { shape.0 } else { 1 };
            }
            let mut est = match &weights[k] {
                Some(w) if r > 1 => w.estimate(x_ranges[k], r, p, pack),
                _ => Estimate::default(),
            };
            // A recurrent layer folds every direction's projections.
            if r > 1 && let Some(dirs) = recurrent.iter().find(|d| d.0 == *first) {
                for (i, _) in super::recurrent::folded_blocks(&dirs.1, plan, r).into_iter().skip(1) {
                    // A cell's projection of the state reads it over every
                    // time step: its cell plan's widened range.
                    let p = dirs.1.iter().position(|d| d.cell().contains(&i)).and_then(|k| dirs.2.get(k)).unwrap_or(plan);
                    let x = &p.steps[p.steps[i].inputs[0]];
                    let c = estimate(&plan.steps[i].op, (x.lo, x.hi), r, 1, false);
                    est.dsp += c.dsp;
                    est.bram36 += c.bram36;
                }
            }
            e.dsp += est.dsp;
            e.bram36 += est.bram36;
            if own.is_none() && r > 1 && !recurrent.iter().any(|d| d.0 == *first) {
                picks.push((k, r, p, est));
            }
            if own.is_none() {
                // The block's table starts as the one it read (a separable
                // convolution's depthwise half keeps its layer's settings).
                let entry = c.layers.entry(layer.clone()).or_insert_with(|| table.cloned().unwrap_or_default());
                entry.reuse_factor = Some(r);
                if p > 1 && own_p.is_none() {
                    entry.parallelization_factor = Some(p);
                }
            }
        }
        // Over the block RAM: folding a layer less makes its ROM shallower,
        // and one under 64 words is LUTs (cross-check batch 11: under
        // `dsp=4,bram=0.5` no design fit at any interval, every layer
        // folded right up to it, where a uniform R = 768 fit).
        if let Some(limit) = budget.bram36.filter(|_| rebalance).map(|b| b - fixed_bram36(&c)).filter(|&l| e.bram36 > l) {
            for (k, r, before, after) in fold_less_for_block_ram(&picks, &weights, &x_ranges, pack, e.bram36 - limit) {
                e.dsp = e.dsp - before.dsp + after.dsp;
                e.bram36 = e.bram36 - before.bram36 + after.bram36;
                if let Some(entry) = c.layers.get_mut(&layers[k].1) {
                    entry.reuse_factor = Some(r);
                }
            }
        }
        (c, e, unrolled)
    };
    // The layers' block RAM and what the rest of the design takes with
    // them (a stream's line buffers, wider where a reader is fast).
    let cheap = |c: &Config, e: &Estimate| budget.dsp.is_none_or(|d| e.dsp <= d) && budget.bram36.is_none_or(|b| e.bram36 + fixed_bram36(c) <= b);
    let weighs = budget.lut.is_some() || budget.ff.is_some();
    // The fabric is weighed where the budget names it, and where a layer
    // is unrolled (its products all in the fabric, which the DSP48 and
    // BRAM estimates do not see).
    let mut fits = |(c, e, unrolled): &(Config, Estimate, usize)| cheap(c, e) && (!(weighs || *unrolled > 0) || fabric_fits(c, *unrolled));
    let max_t = layers.iter().filter_map(|(f, _, _)| dense_shape(&plan.steps[*f].op)).map(|(r, i, o)| r * i * o).max().unwrap_or(1).max(1);
    // From T = 2: a budget folds (the unrolled design, II 1, is what gen
    // makes without one).
    let lo = min_t.max(2);
    let hi = max_t.max(lo);
    // At T: the design with such convolutions unrolled, else (where the
    // fabric rules that out) with them folded several positions at once,
    // else with every convolution unrolled and the rest folded within T
    // (cross-check batch 12: a CNN under `dsp=4` took 900 cycles with its
    // convolutions folded, where unrolled they left the Dense head 3 DSP48
    // at 50; `dsp=2` said no design fits). That last is weighed only if
    // its fabric fits at the longest T (the fabric shrinks as T grows; its
    // DSP48 and BRAM36 there are not the least), found once.
    let mut unrolled_may_fit: Option<bool> = None;
    let mut choice = |t: usize| -> Option<(Config, Estimate)> {
        let folded = at(t, Variant::Folded, true);
        if fits(&folded) {
            return Some((folded.0, folded.1));
        }
        if rows_at_once {
            let parallel = at(t, Variant::PositionsAtOnce, true);
            if parallel.0 != folded.0 && fits(&parallel) {
                return Some((parallel.0, parallel.1));
            }
        }
        let unrolled = at(t, Variant::ConvolutionsUnrolled, true);
        if unrolled.0 == folded.0
            || !*unrolled_may_fit.get_or_insert_with(|| {
                let (c, _, n) = at(hi, Variant::ConvolutionsUnrolled, false);
                fits(&(c, Estimate::default(), n))
            })
        {
            return None;
        }
        fits(&unrolled).then_some((unrolled.0, unrolled.1))
    };
    // Fitting is not monotone in T: below a convolution's positions it is
    // unrolled (no DSP48 by the estimate), and a deeper ROM can take more
    // block RAM than a shallow one in LUTs (cross-check batch 10: a
    // bisection said no design fits where a less folded one did, and
    // chose 264 cycles a sample where 64 fit). So the estimates are
    // scanned on a grid of T (steps of a sixteenth), the first grid point
    // whose design fits is found among those whose estimates do (the
    // fabric, weighed by generating the design, taken as shrinking as T
    // grows), and the interval from the grid point below it bisected.
    let grid = targets(lo, hi);
    let variants: Vec<Variant> = [Variant::Folded, Variant::PositionsAtOnce, Variant::ConvolutionsUnrolled].into_iter().filter(|&v| rows_at_once || v != Variant::PositionsAtOnce).collect();
    let candidates: Vec<usize> = grid
        .iter()
        .copied()
        .filter(|&t| {
            variants.iter().any(|&v| {
                let (c, e, _) = at(t, v, true);
                cheap(&c, &e)
            })
        })
        .collect();
    let k = candidates.partition_point(|&t| choice(t).is_none());
    let Some(&found) = candidates.get(k) else {
        // Nothing fits: the design closest to the budget, which its error
        // names: among the scanned designs (their layers' block RAM
        // rebalanced or not) whose fabric fits, the least excess over the
        // budget ([`Budget::excess`]), then the fewest DSP48 and least
        // block RAM; the most folded where none is weighed to fit. The most
        // folded alone misled: auto_po2_mlp under `dsp=2` named its 4
        // DSP48 where `dsp=3` fits with the convolution unrolled, and
        // jet_tagger streamed under `dsp=16,bram=1` its 2.0 BRAM36 where
        // `bram=1.5` fits.
        let closeness = |(c, e, _): &(Config, Estimate, usize)| {
            let ram = e.bram36 + fixed_bram36(c);
            (budget.excess(e.dsp, ram, None), e.dsp, ram)
        };
        let mut scanned: Vec<_> = grid.iter().flat_map(|&t| variants.iter().flat_map(move |&v| [(t, v, true), (t, v, false)])).map(|(t, v, r)| at(t, v, r)).map(|d| (closeness(&d), d)).collect();
        scanned.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        scanned.dedup_by(|a, b| a.1.0 == b.1.0);
        // Each weighed builds its design: the eight closest at most.
        let closest = scanned.into_iter().take(8).map(|(_, d)| d).find(|(c, _, n)| !(weighs || *n > 0) || fabric_fits(c, *n));
        let (c, e, _) = closest.unwrap_or_else(|| at(hi, Variant::Folded, false));
        return (c, e);
    };
    let below = grid.iter().copied().take_while(|&t| t < found).last().unwrap_or(lo - 1);
    let (mut lo, mut hi) = (below + 1, found);
    let mut best = None;
    while lo < hi {
        let mid = (lo + hi) / 2;
        match choice(mid) {
            Some(c) => (best, hi) = (Some(c), mid),
            None => lo = mid + 1,
        }
    }
    best.or_else(|| choice(found)).unwrap_or_else(|| {
        let (c, e, _) = at(found, Variant::Folded, true);
        (c, e)
    })
}

/// `cfg` with every foldable layer that has no reuse factor of its own
/// unrolled (R = 1: the design `gen` makes without a budget), and a floor
/// on its fabric: its constant products (nonzero weights), a LUT or more
/// each, over every output position with `rows_at_once` (the parallel
/// architecture; a streaming stage computes one window a beat).
pub fn unrolled_config(plan: &Plan, cfg: &Config, rows_at_once: bool) -> (Config, usize) {
    let mut c = cfg.clone();
    let mut floor = 0;
    for n in schedule(plan, None, cfg).nodes {
        let op = &plan.steps[n.first].op;
        let Some((rows, _, _)) = dense_shape(op) else { continue };
        let table = block_table(cfg, &n.layer, &block_name(plan, n.last).1);
        if table.and_then(|l| l.reuse_factor).is_some() {
            continue;
        }
        let nonzero = super::folded::foldable(op).map_or(0, |fo| fo.w.iter().filter(|&&w| w != 0).count());
        floor += nonzero.max(1) * if rows_at_once { rows } else { 1 };
        c.layers.entry(n.layer.clone()).or_insert_with(|| table.cloned().unwrap_or_default()).reuse_factor = Some(1);
    }
    (c, floor)
}

/// A block of `--budget`'s choice: its index among the schedule's
/// blocks, its first step and layer, and its own configuration table.
type Block<'a> = (usize, String, Option<&'a crate::passes::config::LayerConfig>);

/// Where the folded layers of `picks` (block, reuse, rows at once,
/// estimate) take `over` BRAM36 more than the budget, fold some of them
/// less: a shallower ROM takes fewer block RAMs (one under 64 words none:
/// LUTs), and a layer folded less stays within its interval. Each step
/// takes, over the layers, the largest reuse factor below a layer's
/// whose ROM is within a shallower depth bound (64, 512, 1,024 words and
/// doublings) that adds the fewest DSP48 per BRAM36 saved, until the
/// block RAM fits or nothing saves more. Returns each changed block with
/// its new reuse factor and its estimate before and after.
fn fold_less_for_block_ram(picks: &[(usize, usize, usize, Estimate)], weights: &[Option<Weights>], x: &[(i128, i128)], pack: bool, over: f64) -> Vec<(usize, usize, Estimate, Estimate)> {
    // (block, reuse, rows at once, estimate now, estimate first)
    let mut ls: Vec<(usize, usize, usize, Estimate, Estimate)> = picks.iter().filter(|p| p.3.bram36 > 0.0 && weights[p.0].is_some()).map(|&(k, r, p, e)| (k, r, p, e, e)).collect();
    let mut saved = 0.0;
    while saved < over {
        let mut best: Option<(f64, usize, usize, Estimate)> = None;
        for (i, &(k, r, p, est, _)) in ls.iter().enumerate() {
            let Some(w) = &weights[k] else { continue };
            let depth = |r: usize| w.fold(r, p).depth();
            let now = depth(r);
            for bound in std::iter::once(63).chain((9..40).map(|b| 1usize << b)).take_while(|&b| b < now) {
                // The largest reuse factor within the bound (R = 1 would be
                // weighed in the fabric: not here).
                let (mut lo, mut hi) = (1, r - 1);
                while lo < hi {
                    let mid = (lo + hi).div_ceil(2);
                    if depth(mid) <= bound { lo = mid } else { hi = mid - 1 }
                }
                if lo < 2 {
                    continue;
                }
                let e = w.estimate(x[k], lo, p, pack);
                if e.bram36 >= est.bram36 {
                    continue;
                }
                let cost = e.dsp.saturating_sub(est.dsp) as f64 / (est.bram36 - e.bram36);
                if best.as_ref().is_none_or(|b| cost < b.0) {
                    best = Some((cost, i, lo, e));
                }
            }
        }
        let Some((_, i, r, e)) = best else { break };
        saved += ls[i].3.bram36 - e.bram36;
        (ls[i].1, ls[i].3) = (r, e);
    }
    ls.into_iter().filter(|l| l.3 != l.4).map(|(k, r, _, now, first)| (k, r, first, now)).collect()
}

/// The targets `--budget` scans: `lo`, then steps of a sixteenth (at
/// least 1) up to `hi`, and `hi`.
fn targets(lo: usize, hi: usize) -> Vec<usize> {
    let mut t = vec![lo];
    while let Some(&last) = t.last().filter(|&&l| l < hi) {
        t.push((last + (last / 16).max(1)).min(hi));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each item once, and at least one: a second value was taken
    /// silently (the last winning) and an empty budget meant none
    /// (cross-check batch 11).
    #[test]
    fn a_budget_names_each_item_once() {
        let b: Budget = "dsp=8, bram=1.5,lut=100,ff=7".parse().unwrap();
        assert_eq!(b, Budget { lut: Some(100), ff: Some(7), dsp: Some(8), bram36: Some(1.5) });
        let e = "dsp=8,dsp=4".parse::<Budget>().unwrap_err().to_string();
        assert!(e.contains("`dsp` is given twice"), "{e}");
        for empty in ["", " , "] {
            let e = empty.parse::<Budget>().unwrap_err().to_string();
            assert!(e.starts_with("--budget: empty;"), "{e}");
        }
        assert!("dsp=x".parse::<Budget>().is_err() && "gpu=3".parse::<Budget>().is_err() && "dsp=-1".parse::<Budget>().is_err());
    }

    /// The scanned targets climb by a sixteenth (at least 1) from `lo`
    /// and end at `hi`.
    #[test]
    fn targets_climb_by_a_sixteenth() {
        assert_eq!(targets(2, 5), vec![2, 3, 4, 5]);
        let t = targets(2, 100_000);
        assert_eq!((t[0], *t.last().unwrap()), (2, 100_000));
        assert!(t.windows(2).all(|w| w[1] > w[0] && w[1] - w[0] <= (w[0] / 16).max(1)));
        assert!(t.len() < 200, "{}", t.len());
        assert_eq!(targets(7, 7), vec![7]);
    }
}
