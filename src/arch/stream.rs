//! The streaming architecture (`--io stream`, hls4ml's io_stream, FINN's
//! dataflow): the plan cut into a graph of stages ([`Node`]s, in
//! topological order) that pass feature maps pixel by pixel, every channel
//! of one pixel in one beat, row by row.
//!
//! - A [`Stage::Window`] is a line buffer: it takes pixel beats and gives
//!   one beat per output position holding that position's whole
//!   `kh × kw × cin` window (zeros where it reads padding; a max
//!   pooling's lowest code), in the C order
//!   of a `(kh, kw, cin)` tensor.
//! - A [`Stage::Beat`] runs a sub-plan on every beat: the window's
//!   convolution, depthwise convolution or pooling rewritten as a layer over
//!   a `(kh, kw, cin)` input with one output position, and the per-pixel
//!   steps after it (batch norm, activations, 1×1 convolutions, Dense on
//!   the last axis). Its hardware is an ordinary unrolled or folded design
//!   with the interface contract's handshake, so every arithmetic decision
//!   stays the plan's.
//! - A [`Stage::Dilate`] inserts zeros between pixels for a transposed
//!   convolution, which then runs as an ordinary one (flipped kernel,
//!   stride 1) on windows of the result.
//! - A [`Stage::Repeat`] is nearest-neighbour upsampling: each pixel
//!   given several times, each row repeated from a buffer of two rows.
//! - A [`Stage::Collect`] gathers the beats of a sample into one parallel
//!   vector where the stream ends (Flatten, a Dense over the whole
//!   tensor), and a [`Stage::Accumulate`] sums (or takes the maximum of)
//!   each channel for global pooling and map-sized pooling windows; the
//!   rest of the plan is one more `Beat` stage with a single beat per
//!   sample.
//! - Branches: a stream read by several nodes is forked (a beat is taken
//!   when every reader takes it), and a join (Add, Subtract, Multiply,
//!   Average, Maximum, Minimum, a Concatenate on the channel axis) is a
//!   `Beat` stage with several inputs whose beats meet in one. The FIFOs
//!   that balance the branches are sized in the Verilog top from
//!   [`StreamPlan::needs`].
//!
//! - Several inputs: each model input is a stream of its own
//!   ([`Src::Input`], a port pair each), an image or sequence pixel by
//!   pixel, a vector in the fewest beats of at most [`MAX_BEAT_BITS`]
//!   (gathered by a collector), so an MLP streams too; a one-beat output
//!   wider than that leaves in beats ([`Stage::Split`]). Their streams meet at joins as branches
//!   do; the tail that runs once per sample (after a Flatten or a global
//!   pooling) reads every stream that ends there, each gathered into one
//!   beat, so a branch of another input or a skip around the reduction
//!   joins it.
//!
//! Because each sub-plan is the original steps with their constants and
//! exact ranges, the streamed design computes what the golden model does.

use crate::error::{Error, Result};
use crate::plan::{Geo, Plan, Step, StepOp};

/// One block of the streaming pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Arithmetic on every beat: `plan`'s input is one beat, its output
    /// one beat; `beats` beats per sample.
    Beat {
        name: String,
        plan: Plan,
        beats: usize,
        /// The step of the original plan whose codes the beats carry
        /// (what a per-layer tap compares).
        step: usize,
    },
    /// A line buffer over an `in_h × in_w` map of `cin`-element pixels of
    /// `width` bits, giving one window per output position of `geo`; a
    /// padding tap gives `pad` in every element (0; a max pooling's
    /// lowest code, as Keras pads it with −∞).
    Window { name: String, geo: Geo, width: u32, pad: i128 },
    /// `beats` beats of `elems` elements of `width` bits gathered into one.
    Collect {
        name: String,
        beats: usize,
        elems: usize,
        width: u32,
    },
    /// Nearest-neighbour upsampling (UpSampling1D/2D): an `in_h × in_w`
    /// map of `c`-element pixels of `width` bits given with each pixel
    /// `uw` times and each row `uh` times.
    Repeat {
        name: String,
        in_h: usize,
        in_w: usize,
        c: usize,
        width: u32,
        uh: usize,
        uw: usize,
    },
    /// One beat of `beats · elems` elements of `width` bits given as
    /// `beats` beats of `elems` (beat 0 the low elements, C order): a wide
    /// vector output sent in beats a stream interconnect takes.
    Split {
        name: String,
        beats: usize,
        elems: usize,
        width: u32,
    },
    /// Zero insertion for a transposed convolution with strides
    /// `(sh, sw)`: input pixel `(iy, ix)` of an `in_h × in_w` map of
    /// `c`-element pixels at `(iy·sh, ix·sw)` of a `((in_h − 1)·sh + 1) ×
    /// ((in_w − 1)·sw + 1)` map, zeros between.
    Dilate {
        name: String,
        in_h: usize,
        in_w: usize,
        c: usize,
        width: u32,
        sh: usize,
        sw: usize,
    },
    /// For each beat of a window stream over `geo` (whose `in_elems`
    /// elements it ignores), `c` copies of that output position's factor
    /// `values[oy·out_w + ox]` (in `lo..=hi`): a `same`-padded average
    /// pooling's one over its window's count, which varies at the border.
    PerPosition {
        name: String,
        geo: Geo,
        values: Vec<i128>,
        c: usize,
        in_elems: usize,
        in_width: u32,
        lo: i128,
        hi: i128,
    },
    /// A pooling with one output position (global pooling, or a window
    /// as large as the map): per channel, the sum (or maximum) of the
    /// pixels of rows `rows` and columns `cols` of each `in_h × in_w`
    /// sample, one beat per sample. Inputs hold `lo..=hi`.
    Accumulate {
        name: String,
        in_h: usize,
        in_w: usize,
        c: usize,
        width: u32,
        lo: i128,
        hi: i128,
        rows: (usize, usize),
        cols: (usize, usize),
        max: bool,
    },
}

impl Stage {
    /// The range of an accumulator's outputs: sums of up to `n` inputs, or
    /// one of them for a maximum.
    pub fn accumulated(lo: i128, hi: i128, n: usize, max: bool) -> (i128, i128) {
        if max {
            (lo, hi)
        } else {
            (lo.min(0) * n as i128, hi.max(0) * n as i128)
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Stage::Beat { name, .. }
            | Stage::Window { name, .. }
            | Stage::Collect { name, .. }
            | Stage::Repeat { name, .. }
            | Stage::PerPosition { name, .. }
            | Stage::Dilate { name, .. }
            | Stage::Split { name, .. }
            | Stage::Accumulate { name, .. } => name,
        }
    }

    /// Output beats per sample.
    pub fn out_beats(&self) -> usize {
        match self {
            Stage::Beat { beats, .. } => *beats,
            Stage::Window { geo, .. } => geo.out_h * geo.out_w,
            Stage::Repeat { in_h, in_w, uh, uw, .. } => in_h * uh * in_w * uw,
            Stage::PerPosition { values, .. } => values.len(),
            Stage::Split { beats, .. } => *beats,
            Stage::Dilate { in_h, in_w, sh, sw, .. } => ((in_h - 1) * sh + 1) * ((in_w - 1) * sw + 1),
            Stage::Collect { .. } | Stage::Accumulate { .. } => 1,
        }
    }
}

/// Where a stage's input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Src {
    /// The design's input port `k` (model input `k`, in model order).
    Input(usize),
    /// The output of node `k`.
    Node(usize),
}

/// A stage and the streams it reads (several for a join: an Add or a
/// Concatenate of branches, whose beats meet in one beat, input 0 in the
/// low bits).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub stage: Stage,
    pub inputs: Vec<Src>,
}

/// One streamed input port: model input `step` of the plan, `beats`
/// beats of `elems` elements per sample (the pixels and channels of an
/// image or sequence; one beat of the whole vector for a vector input of
/// a model with several inputs).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamIn {
    pub step: usize,
    pub elems: usize,
    pub beats: usize,
}

/// The plan as a graph of stages (in topological order), with the
/// streamed inputs and output.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamPlan {
    pub nodes: Vec<Node>,
    /// The stream the output port gives.
    pub output: Src,
    /// The input ports, in model order (`Src::Input(k)` is `inputs[k]`).
    pub inputs: Vec<StreamIn>,
    pub out_beats: usize,
    pub out_beat_shape: Vec<usize>,
}

impl StreamPlan {
    /// The nodes that read `src`, with the input index they read it at.
    /// The line buffer of window stage `k` (its `geo`), by how fast its
    /// readers take windows at reuse factor `reuse` and configuration
    /// `cfg`: a beat stage one every initiation interval of its schedule,
    /// any other stage one a cycle. The backend builds it and `--budget`
    /// sets its RAM aside by this one choice.
    pub fn window_kind(&self, k: usize, geo: &Geo, reuse: Option<usize>, cfg: &crate::passes::config::Config) -> super::line_buffer::LineBufferKind {
        let reader_cycles = self
            .readers(Src::Node(k))
            .iter()
            .map(|&(j, _)| match &self.nodes[j].stage {
                Stage::Beat { plan: sub, .. } => super::schedule::schedule(sub, reuse, cfg).initiation_interval.max(1),
                _ => 1,
            })
            .min()
            .unwrap_or(1);
        super::line_buffer::line_buffer_kind(geo, reader_cycles)
    }

    pub fn readers(&self, src: Src) -> Vec<(usize, usize)> {
        let mut out = vec![];
        for (k, n) in self.nodes.iter().enumerate() {
            for (p, s) in n.inputs.iter().enumerate() {
                if *s == src {
                    out.push((k, p));
                }
            }
        }
        out
    }

    /// Output beats per sample of a stream.
    pub fn beats(&self, src: Src) -> usize {
        match src {
            Src::Input(k) => self.inputs[k].beats,
            Src::Node(k) => self.nodes[k].stage.out_beats(),
        }
    }

    /// For each output beat `j` of node `k`, how many beats of each of its
    /// inputs it needs first (the same count for every input).
    pub fn needs(&self, k: usize) -> Vec<usize> {
        match &self.nodes[k].stage {
            Stage::Window { geo, .. } => {
                let mut v = Vec::with_capacity(geo.out_h * geo.out_w);
                for oy in 0..geo.out_h {
                    for ox in 0..geo.out_w {
                        let r = (0..geo.kh).filter_map(|ky| geo.in_row(oy, ky)).max();
                        let c = (0..geo.kw).filter_map(|kx| geo.in_col(ox, kx)).max();
                        v.push(match (r, c) {
                            (Some(r), Some(c)) => r * geo.in_w + c + 1,
                            _ => 0,
                        });
                    }
                }
                v
            }
            Stage::Repeat { in_h, in_w, uh, uw, .. } => (0..in_h * uh)
                .flat_map(|oy| (0..in_w * uw).map(move |ox| oy / uh * in_w + ox / uw + 1))
                .collect(),
            Stage::Collect { beats, .. } => vec![*beats],
            Stage::Accumulate { in_h, in_w, .. } => vec![in_h * in_w],
            Stage::Beat { beats, .. } => (1..=*beats).collect(),
            Stage::PerPosition { values, .. } => (1..=values.len()).collect(),
            Stage::Split { beats, .. } => vec![1; *beats],
            // A zero follows the pixel before it; a row of zeros, the
            // whole input row before it.
            Stage::Dilate { in_h, in_w, sh, sw, .. } => (0..(in_h - 1) * sh + 1)
                .flat_map(|zy| {
                    (0..(in_w - 1) * sw + 1).map(move |zx| if zy % sh == 0 { zy / sh * in_w + zx / sw + 1 } else { (zy / sh + 1) * in_w })
                })
                .collect(),
        }
    }
}

/// The widest beat of a streamed vector port, in bits: 4,096 (512 bytes,
/// the widest TDATA Xilinx's AXI4-Stream infrastructure takes; the
/// 640-input autoencoder's 640 × 20-bit output is 12,800).
pub const MAX_BEAT_BITS: usize = 4096;

/// The beats a vector of `n` elements of `width` bits streams in: the
/// fewest that divide it into beats of at most [`MAX_BEAT_BITS`] (one
/// element a beat at worst).
pub fn vector_beats(n: usize, width: u32) -> usize {
    (1..=n).find(|&b| n.is_multiple_of(b) && n / b * width as usize <= MAX_BEAT_BITS).unwrap_or(n.max(1))
}

/// The layer step `i` belongs to: its own, or for an unnamed step (a
/// pooling's sums before their division, say) the next named one's.
fn layer_of(plan: &Plan, i: usize) -> String {
    plan.steps[i..].iter().find_map(|s| s.layer.clone()).unwrap_or_else(|| format!("step{i}"))
}

fn refuse(plan: &Plan, step: usize, what: &str) -> Error {
    let layer = layer_of(plan, step);
    Error::Usage(format!(
        "--io stream: layer `{layer}`: {what}; streamed so far: Conv1D/Conv2D and their transposes, DepthwiseConv, SeparableConv, max and average pooling, ZeroPadding, Cropping, UpSampling, batch norm, activations, Dense on the last axis, branches joined by Add/Subtract/Multiply/Average/Maximum/Minimum or a channel Concatenate, then Flatten / pooling / Dense heads, and Permute, a Concatenate of positions and recurrent layers in the per-sample tail (use --io parallel for this model)"
    ))
}

/// The pixels (beats) and channels of a streamed tensor: its last axis is
/// the channel axis, the others are positions; a vector is one beat.
fn pixels(shape: &[usize]) -> Option<(usize, usize)> {
    match shape {
        [] => None,
        [n] => Some((1, *n)),
        _ => Some((
            shape[..shape.len() - 1].iter().product(),
            shape[shape.len() - 1],
        )),
    }
}

/// The window a step reads, when it reads windows.
fn window_geo(plan: &Plan, i: usize) -> Result<Option<Geo>> {
    let st = &plan.steps[i];
    Ok(match &st.op {
        StepOp::Conv { geo, .. } | StepOp::Depthwise { geo, .. } => Some(geo.clone()),
        StepOp::Pool { geo, .. } => Some(geo.clone()),
        StepOp::ZeroPad { in_shape, pads } => match Geo::zero_pad(in_shape, pads) {
            Some(g) => Some(g),
            None => return Err(refuse(plan, i, "this zero padding is not streamed")),
        },
        StepOp::Gather { idx } => crop_geo(&plan.steps[st.inputs[0]].shape, &st.shape, idx),
        _ => None,
    })
}

/// The window of a gather that crops rows and columns (Cropping1D/2D):
/// two taps a row and a column apart, `top` rows and `left` columns (one
/// tap where nothing is cropped before), so the last tap is the kept
/// pixel; the line buffer drops the rest. None for any other gather.
fn crop_geo(in_shape: &[usize], out_shape: &[usize], idx: &[u32]) -> Option<Geo> {
    let (h, w, c, oh, ow) = match (in_shape, out_shape) {
        ([h, w, c], [oh, ow, oc]) if oc == c => (*h, *w, *c, *oh, *ow),
        ([w, c], [ow, oc]) if oc == c => (1, *w, *c, 1, *ow),
        _ => return None,
    };
    let first = *idx.first()? as usize;
    let (top, left) = (first / c / w, first / c % w);
    if !first.is_multiple_of(c) || top + oh > h || left + ow > w || idx.len() != oh * ow * c {
        return None;
    }
    let at = |oy: usize, ox: usize, k: usize| (((oy + top) * w + ox + left) * c + k) as u32;
    if !(0..oh).all(|oy| (0..ow).all(|ox| (0..c).all(|k| idx[(oy * ow + ox) * c + k] == at(oy, ox, k)))) {
        return None;
    }
    let (kh, kw) = (if top > 0 { 2 } else { 1 }, if left > 0 { 2 } else { 1 });
    Some(Geo { in_h: h, in_w: w, cin: c, out_h: oh, out_w: ow, cout: c, kh, kw, sh: 1, sw: 1, dh: top.max(1), dw: left.max(1), pad_top: 0, pad_left: 0 })
}

/// The [`Stage::Repeat`] of step `i`, a gather of step `x`, where that
/// gather is nearest-neighbour upsampling (UpSampling1D/2D: output pixel
/// `(oy, ox)` is input pixel `(oy / uh, ox / uw)`). None for any other
/// gather.
fn repeat_stage(plan: &Plan, x: usize, i: usize, idx: &[u32]) -> Option<Stage> {
    let (h, w, c, oh, ow) = match (plan.steps[x].shape.as_slice(), plan.steps[i].shape.as_slice()) {
        ([h, w, c], [oh, ow, oc]) if oc == c => (*h, *w, *c, *oh, *ow),
        ([w, c], [ow, oc]) if oc == c => (1, *w, *c, 1, *ow),
        _ => return None,
    };
    if h == 0 || w == 0 || !oh.is_multiple_of(h) || !ow.is_multiple_of(w) || idx.len() != oh * ow * c {
        return None;
    }
    let (uh, uw) = (oh / h, ow / w);
    let at = |oy: usize, ox: usize, k: usize| ((oy / uh * w + ox / uw) * c + k) as u32;
    (0..oh).all(|oy| (0..ow).all(|ox| (0..c).all(|k| idx[(oy * ow + ox) * c + k] == at(oy, ox, k)))).then(|| Stage::Repeat {
        name: format!("{}_repeat", layer_of(plan, i)),
        in_h: h,
        in_w: w,
        c,
        width: plan.steps[x].fmt.width,
        uh,
        uw,
    })
}

/// A transposed convolution over `g` as an ordinary one: the geometry
/// over its zero-inserted input (input pixel `(iy, ix)` at `(iy·sh,
/// ix·sw)`), stride 1, padded by the kernel's span less the transposed
/// padding, and the kernel flipped in both axes and laid out as a
/// convolution's (`(kh, kw, cin, cout)`; a transposed one's is `(kh, kw,
/// cout, cin)`). Output `oy` then reads inserted row `oy + ky'·dh − pad`,
/// input row `iy` where `oy = iy·sh + (kh − 1 − ky')·dh − pad_top`: the
/// products the transposed convolution scatters there. None where the
/// padding exceeds the kernel's span.
fn transposed_as_conv(g: &Geo, w: &[i128]) -> Option<(Geo, Vec<i128>)> {
    let ph = ((g.kh - 1) * g.dh).checked_sub(g.pad_top)?;
    let pw = ((g.kw - 1) * g.dw).checked_sub(g.pad_left)?;
    let z = Geo { in_h: (g.in_h - 1) * g.sh + 1, in_w: (g.in_w - 1) * g.sw + 1, sh: 1, sw: 1, pad_top: ph, pad_left: pw, ..g.clone() };
    let mut wc = vec![0; w.len()];
    for ky in 0..g.kh {
        for kx in 0..g.kw {
            for ci in 0..g.cin {
                for co in 0..g.cout {
                    let from = (((g.kh - 1 - ky) * g.kw + (g.kw - 1 - kx)) * g.cout + co) * g.cin + ci;
                    wc[((ky * g.kw + kx) * g.cin + ci) * g.cout + co] = w[from];
                }
            }
        }
    }
    Some((z, wc))
}

/// Whether step `i` is a recurrent layer's input projection: a Dense over
/// the time steps' rows that a Gather of the same layer reads (a time
/// step's row). The layer runs whole in the per-sample tail, where the
/// schedule finds it by its projection and folds it into one cell that
/// iterates over time; with the projection taken per beat, the recurrence
/// left in the tail was unrolled over every time step.
fn recurrent_projection(plan: &Plan, i: usize) -> bool {
    if !matches!(plan.steps[i].op, StepOp::Dense { rows, .. } if rows >= 2) {
        return false;
    }
    let layer = layer_of(plan, i);
    plan.steps.iter().enumerate().any(|(k, st)| matches!(st.op, StepOp::Gather { .. }) && st.inputs.contains(&i) && layer_of(plan, k) == layer)
}

/// A crop's step on one window ([`crop_geo`]): its last tap.
fn crop_beat(g: &Geo) -> StepOp {
    let last = (g.kh * g.kw - 1) * g.cin;
    StepOp::Gather { idx: (last..last + g.cin).map(|k| k as u32).collect() }
}

/// The step rewritten for one beat of window `geo` (None: per pixel).
fn beat_op(op: &StepOp, geo: Option<&Geo>) -> StepOp {
    match (op, geo) {
        (StepOp::Gather { .. }, Some(g)) => crop_beat(g),
        (op, _) => per_beat(op),
    }
}

/// A window that is a single pixel read in place: the step runs per beat.
fn pointwise(g: &Geo) -> bool {
    g.kh == 1
        && g.kw == 1
        && g.sh == 1
        && g.sw == 1
        && g.pad_top == 0
        && g.pad_left == 0
        && g.out_h == g.in_h
        && g.out_w == g.in_w
}

/// The one-position geometry of a window stage's compute: the same
/// kernel over a `(kh, kw, cin)` input, stride 1, no padding.
fn window_local(g: &Geo) -> Geo {
    Geo {
        in_h: g.kh,
        in_w: g.kw,
        out_h: 1,
        out_w: 1,
        sh: 1,
        sw: 1,
        dh: 1,
        dw: 1,
        pad_top: 0,
        pad_left: 0,
        ..g.clone()
    }
}

/// The step rewritten for one beat (one output position).
fn per_beat(op: &StepOp) -> StepOp {
    match op {
        StepOp::Conv { geo, w, b } => StepOp::Conv {
            geo: window_local(geo),
            w: w.clone(),
            b: b.clone(),
        },
        StepOp::Depthwise { geo, mult, w, b } => StepOp::Depthwise {
            geo: window_local(geo),
            mult: *mult,
            w: w.clone(),
            b: b.clone(),
        },
        StepOp::Pool { geo, max, mult } => StepOp::Pool {
            geo: window_local(geo),
            max: *max,
            mult: mult.first().copied().into_iter().collect(),
        },
        StepOp::Dense {
            n_in, n_out, w, b, ..
        } => StepOp::Dense {
            rows: 1,
            n_in: *n_in,
            n_out: *n_out,
            w: w.clone(),
            b: b.clone(),
        },
        op => op.clone(),
    }
}

/// A pooling of step `cur` by step `i` with a single output position, as
/// an accumulator stage and the step that finishes it on the sums.
fn accumulation(plan: &Plan, cur: usize, i: usize) -> Option<(Stage, StepOp)> {
    let x = &plan.steps[cur];
    let (_, c) = pixels(&x.shape)?;
    let name = layer_of(plan, i);
    let (in_h, in_w) = match x.shape.as_slice() {
        [h, w, _] => (*h, *w),
        [w, _] => (1, *w),
        _ => return None,
    };
    let (rows, cols, max, op) = match &plan.steps[i].op {
        StepOp::GlobalPool {
            c: gc,
            max,
            mult,
            mean,
            ..
        } if *gc == c => (
            (0, in_h - 1),
            (0, in_w - 1),
            *max,
            StepOp::GlobalPool {
                hw: 1,
                c,
                max: *max,
                mult: *mult,
                mean: *mean,
            },
        ),
        StepOp::Pool { geo, max, mult }
            if geo.out_h * geo.out_w == 1 && geo.dh == 1 && geo.dw == 1 =>
        {
            let rows = (0..geo.kh).filter_map(|ky| geo.in_row(0, ky));
            let cols = (0..geo.kw).filter_map(|kx| geo.in_col(0, kx));
            let (rlo, rhi) = (rows.clone().min()?, rows.max()?);
            let (clo, chi) = (cols.clone().min()?, cols.max()?);
            let one = window_local(&Geo { kh: 1, kw: 1, ..geo.clone() });
            (
                (rlo, rhi),
                (clo, chi),
                *max,
                StepOp::Pool {
                    geo: one,
                    max: *max,
                    mult: mult.clone(),
                },
            )
        }
        _ => return None,
    };
    Some((
        Stage::Accumulate {
            name: format!("{name}_accumulate"),
            in_h,
            in_w,
            c,
            width: x.fmt.width,
            lo: x.lo,
            hi: x.hi,
            rows,
            cols,
            max,
        },
        op,
    ))
}

/// A step applied to each pixel on its own (it keeps the positions).
fn per_pixel(plan: &Plan, i: usize, c_in: usize) -> bool {
    let st = &plan.steps[i];
    let same_positions = |shape: &[usize]| {
        pixels(shape).map(|(p, _)| p) == pixels(&plan.steps[st.inputs[0]].shape).map(|(p, _)| p)
    };
    match &st.op {
        // Elementwise, but only per pixel where its pixels are its
        // input's: a quantizer that reads a pooling's sums through a
        // Flatten (the exact average) has the flat shape.
        StepOp::Affine { .. } | StepOp::Act(_) => pixels(&st.shape) == pixels(&plan.steps[st.inputs[0]].shape),
        StepOp::Identity => st.shape == plan.steps[st.inputs[0]].shape,
        StepOp::Dense { n_in, .. } => *n_in == c_in && same_positions(&st.shape),
        _ => false,
    }
}

/// A sub-plan in construction: the input beat and the steps after it.
struct Sub {
    steps: Vec<Step>,
    /// Original step index → sub-plan index.
    map: Vec<(usize, usize)>,
    /// The leading input steps (several for a join).
    n_inputs: usize,
}

impl Sub {
    fn new(input: Step, from: usize) -> Sub {
        Sub {
            steps: vec![input],
            map: vec![(from, 0)],
            n_inputs: 1,
        }
    }

    fn push(&mut self, plan: &Plan, i: usize, shape: Vec<usize>, op: StepOp) -> Result<()> {
        self.push_reading(plan, i, shape, op, &plan.steps[i].inputs)
    }

    /// [`Sub::push`] with the keys of the inputs step `i` reads here (a
    /// tail's sums of a stream are keyed apart from the stream's step).
    fn push_reading(&mut self, plan: &Plan, i: usize, shape: Vec<usize>, op: StepOp, keys: &[usize]) -> Result<()> {
        let st = &plan.steps[i];
        let mut inputs = vec![];
        for x in keys {
            let Some(&(_, k)) = self.map.iter().find(|(o, _)| o == x) else {
                return Err(refuse(
                    plan,
                    i,
                    "it reads a tensor of an earlier stage (a branch or skip connection), which is not streamed yet",
                ));
            };
            inputs.push(k);
        }
        self.steps.push(Step {
            layer: st.layer.clone(),
            inputs,
            shape,
            fmt: st.fmt,
            lo: st.lo,
            hi: st.hi,
            op,
        });
        self.map.push((i, self.steps.len() - 1));
        Ok(())
    }

    /// A new input of the sub-plan (the values of step `from`), placed
    /// after the inputs it has (a sub-plan's inputs lead its steps): the
    /// indices of the steps after it move up by one.
    fn add_input(&mut self, input: Step, from: usize) {
        let at = self.n_inputs;
        for st in &mut self.steps {
            for x in &mut st.inputs {
                if *x >= at {
                    *x += 1;
                }
            }
        }
        for m in &mut self.map {
            if m.1 >= at {
                m.1 += 1;
            }
        }
        self.steps.insert(at, input);
        self.map.push((from, at));
        self.n_inputs += 1;
    }

    fn has(&self, x: usize) -> bool {
        self.map.iter().any(|(o, _)| *o == x)
    }

    fn plan(self, plan: &Plan) -> Plan {
        let out = self.steps.len() - 1;
        Plan {
            model: plan.model.clone(),
            max_width: plan.max_width,
            steps: self.steps,
            outputs: vec![out],
            notices: vec![],
            parts: plan.parts.clone(),
            input: plan.input,
            inputs: (0..self.n_inputs).collect(),
            divides: Default::default(),
        }
    }
}

/// The beat sub-plan of an average pooling (step `i` over the windows
/// `geo` of step `x`) whose factor varies by position: input 0 the
/// window, input 1 its factor (`lo..=hi`, once per channel), the sum of
/// the window, then the sum times the factor, exactly step `i`'s codes.
fn per_position_pool(plan: &Plan, x: usize, i: usize, geo: &Geo, padded: bool, (lo, hi): (i128, i128)) -> Sub {
    let (st, xs) = (&plan.steps[i], &plan.steps[x]);
    let cout = geo.cout;
    let window = beat_input(plan, x, vec![geo.kh, geo.kw, geo.cin], padded);
    let n = (geo.kh * geo.kw) as i128;
    let (slo, shi) = (window.lo.min(0) * n, window.hi.max(0) * n);
    let frac = st.fmt.frac - xs.fmt.frac;
    let factor = Step { layer: None, inputs: vec![], shape: vec![cout], fmt: crate::plan::fmt_for(lo, hi, frac), lo, hi, op: StepOp::Input };
    let sum = Step {
        layer: st.layer.clone(),
        inputs: vec![0],
        shape: vec![cout],
        fmt: crate::plan::fmt_for(slo, shi, xs.fmt.frac),
        lo: slo,
        hi: shi,
        op: StepOp::Pool { geo: window_local(geo), max: false, mult: vec![1] },
    };
    let product = Step {
        layer: st.layer.clone(),
        inputs: vec![2, 1],
        shape: vec![cout],
        fmt: st.fmt,
        lo: st.lo,
        hi: st.hi,
        op: StepOp::Merge { kind: crate::plan::MergeKind::Multiply, shifts: vec![0, 0] },
    };
    Sub { steps: vec![window, factor, sum, product], map: vec![(x, 0), (i, 3)], n_inputs: 2 }
}

/// The input step of a beat sub-plan: the values of step `from`, `shape`
/// elements per beat (padding adds zeros to the range).
fn beat_input(plan: &Plan, from: usize, shape: Vec<usize>, padded: bool) -> Step {
    let st = &plan.steps[from];
    let (lo, hi) = if padded {
        (st.lo.min(0), st.hi.max(0))
    } else {
        (st.lo, st.hi)
    };
    Step {
        layer: None,
        inputs: vec![],
        shape,
        fmt: st.fmt,
        lo,
        hi,
        op: StepOp::Input,
    }
}

/// The stage graph in construction: nodes so far, the stream each plan
/// step is (once it is a node's output), and the beat stage being built.
struct Builder<'a> {
    plan: &'a Plan,
    nodes: Vec<Node>,
    src_of: std::collections::HashMap<usize, Src>,
    /// The open beat stage: its sub-plan, the step it ends in, what it reads.
    open: Option<(Sub, usize, Vec<Src>)>,
}

impl Builder<'_> {
    /// Close the open beat stage: its last step becomes a node's output.
    fn flush(&mut self) {
        if let Some((sub, head, srcs)) = self.open.take()
            && sub.steps.len() > sub.n_inputs
        {
            let beats = pixels(&self.plan.steps[head].shape).map_or(1, |(b, _)| b);
            let name = layer_of(self.plan, head);
            self.nodes.push(Node {
                stage: Stage::Beat {
                    name,
                    plan: sub.plan(self.plan),
                    beats,
                    step: head,
                },
                inputs: srcs,
            });
            self.src_of.insert(head, Src::Node(self.nodes.len() - 1));
        }
    }

    /// The stream of step `x` (closing the open stage when it ends there).
    fn src(&mut self, x: usize) -> Result<Src> {
        if self.open.as_ref().is_some_and(|o| o.1 == x) {
            self.flush();
        }
        self.src_of.get(&x).copied().ok_or_else(|| {
            Error::Internal(format!("--io stream: step {x} is read before it is a stream"))
        })
    }

    fn push_node(&mut self, stage: Stage, inputs: Vec<Src>) -> Src {
        self.nodes.push(Node { stage, inputs });
        Src::Node(self.nodes.len() - 1)
    }

    /// Stream `src` (the values of step `x`) as one beat per sample: its
    /// beats gathered by a collector where it has several.
    fn gathered(&mut self, src: Src, x: usize) -> Src {
        let Some((beats, elems)) = pixels(&self.plan.steps[x].shape).filter(|p| p.0 > 1) else {
            return src;
        };
        let name = layer_of(self.plan, x);
        self.push_node(
            Stage::Collect {
                name: format!("{name}_collect"),
                beats,
                elems,
                width: self.plan.steps[x].fmt.width,
            },
            vec![src],
        )
    }

    /// Step `i` in the per-sample tail, every stream it reads that is not
    /// there yet gathered into it.
    fn join_in_tail(&mut self, tail: &mut Option<Tail>, i: usize) -> Result<()> {
        let st = &self.plan.steps[i];
        for &x in &st.inputs {
            if !in_tail(tail, x) {
                self.end_in_tail(tail, x)?;
            }
        }
        match tail.as_mut() {
            Some(t) => t.0.push(self.plan, i, st.shape.clone(), st.op.clone()),
            None => Err(Error::Internal(format!("--io stream: step {i} joins a tail that was not started"))),
        }
    }

    /// Stream `x` ends: the tail reads it, gathered into one beat per
    /// sample. Returns the tail, for the step that reads it.
    fn end_in_tail<'t>(&mut self, tail: &'t mut Option<Tail>, x: usize) -> Result<&'t mut Sub> {
        let src = self.src(x)?;
        self.flush();
        let src = self.gathered(src, x);
        Ok(to_tail(tail, beat_input(self.plan, x, self.plan.steps[x].shape.clone(), false), x, src))
    }
}

/// Whether step `x` runs in the per-sample tail.
fn in_tail(tail: &Option<Tail>, x: usize) -> bool {
    tail.as_ref().is_some_and(|t| t.0.has(x))
}

/// Add stream `src`, one beat per sample holding `input` (the values of
/// step `x`), to the inputs of the tail (starting it); returns the tail.
fn to_tail(tail: &mut Option<Tail>, input: Step, x: usize, src: Src) -> &mut Sub {
    let t = tail.get_or_insert_with(|| {
        (
            Sub {
                steps: vec![],
                map: vec![],
                n_inputs: 0,
            },
            vec![],
        )
    });
    t.0.add_input(input, x);
    t.1.push(src);
    &mut t.0
}

/// The sub-plan that runs once per sample where streams end (after a
/// Flatten, a global pooling, a Dense over a whole map), and the streams
/// it reads, one beat per sample each (several where branches or inputs
/// meet after their streams end).
type Tail = (Sub, Vec<Src>);

/// Cut `plan` into streaming stages.
pub fn stream_plan(plan: &Plan) -> Result<StreamPlan> {
    let live = plan.live();
    let readers = |s: usize| {
        (0..plan.steps.len())
            .filter(|&k| live[k] && plan.steps[k].inputs.contains(&s))
            .count()
            + usize::from(plan.outputs.contains(&s))
    };
    let mut b = Builder {
        plan,
        nodes: vec![],
        src_of: Default::default(),
        open: None,
    };
    let mut inputs = vec![];
    for (k, &s) in plan.inputs.iter().enumerate() {
        let st = &plan.steps[s];
        let name = st.layer.clone().unwrap_or_else(|| format!("input {k}"));
        let Some((mut beats, mut elems)) = pixels(&st.shape) else {
            return Err(Error::Usage(format!("--io stream: model input `{name}` is a scalar; it streams images, sequences and vectors (use --io parallel)")));
        };
        if !live[s] {
            return Err(Error::Usage(format!(
                "--io stream: model input `{name}` is read by no layer; a streamed design has a port only for inputs it reads (use --io parallel)"
            )));
        }
        // A vector streams in the fewest beats its port takes, gathered
        // into one for the layers that read it.
        let vector = st.shape.len() == 1;
        if vector {
            beats = vector_beats(elems, st.fmt.width);
            elems /= beats;
        }
        inputs.push(StreamIn { step: s, elems, beats });
        let src = if vector && beats > 1 {
            let gather = Stage::Collect { name: format!("{}_collect", name.replace(' ', "_")), beats, elems, width: st.fmt.width };
            b.push_node(gather, vec![Src::Input(k)])
        } else {
            Src::Input(k)
        };
        b.src_of.insert(s, src);
    }
    let mut tail: Option<Tail> = None;
    for (i, st) in plan.steps.iter().enumerate() {
        if !live[i] || plan.inputs.contains(&i) {
            continue;
        }
        // A step that reads what runs once per sample runs there too; the
        // streams it also reads join the tail (gathered into one beat).
        if st.inputs.iter().any(|&x| in_tail(&tail, x)) {
            b.join_in_tail(&mut tail, i)?;
            continue;
        }
        if st.inputs.len() != 1 {
            // A join: every input a stream of the same positions.
            let ok_op = match &st.op {
                StepOp::Merge { .. } | StepOp::Exceptions { .. } => true,
                StepOp::Concat { axis, .. } => *axis + 1 == st.shape.len(),
                _ => false,
            };
            let positions = |s: usize| pixels(&plan.steps[s].shape).map(|(p, _)| p);
            if matches!(st.op, StepOp::Concat { .. }) && !ok_op {
                // A Concatenate of positions (rows, columns, time steps)
                // ends the streams: the tail joins the whole samples.
                b.join_in_tail(&mut tail, i)?;
                continue;
            }
            if !ok_op
                || st
                    .inputs
                    .iter()
                    .any(|&x| positions(x).is_none() || positions(x) != positions(i))
            {
                return Err(refuse(
                    plan,
                    i,
                    "this join of streams is not streamed yet (Add/Subtract/Multiply/Average/Maximum/Minimum of equal shapes and Concatenate on the channel axis are)",
                ));
            }
            let srcs: Vec<Src> = st.inputs.clone().into_iter().map(|x| b.src(x)).collect::<Result<_>>()?;
            b.flush();
            let mut sub = Sub {
                steps: vec![],
                map: vec![],
                n_inputs: 0,
            };
            for &x in &st.inputs {
                let c = pixels(&plan.steps[x].shape).map_or(1, |(_, c)| c);
                sub.steps.push(beat_input(plan, x, vec![c], false));
                sub.map.push((x, sub.steps.len() - 1));
            }
            sub.n_inputs = sub.steps.len();
            let (_, cout) = pixels(&st.shape).unwrap_or((1, 1));
            let op = match &st.op {
                StepOp::Concat { shifts, .. } => StepOp::Concat {
                    axis: 0,
                    shifts: shifts.clone(),
                },
                op => op.clone(),
            };
            sub.push(plan, i, vec![cout], op)?;
            b.open = Some((sub, i, srcs));
            continue;
        }
        let x = st.inputs[0];
        let extend = b.open.as_ref().is_some_and(|o| o.1 == x) && readers(x) == 1;
        let Some((_, c)) = pixels(&plan.steps[x].shape) else {
            return Err(refuse(
                plan,
                i,
                "it reads a tensor of the model's tail, which is not streamed",
            ));
        };
        if let Some((stage, op)) = accumulation(plan, x, i) {
            // The stream ends in one beat of sums; the rest runs on them.
            // Other readers of the stream (another pooling, a Flatten, a
            // per-pixel branch) read it through a fork.
            let src = b.src(x)?;
            b.flush();
            let Stage::Accumulate {
                lo,
                hi,
                rows,
                cols,
                max,
                ..
            } = &stage
            else {
                unreachable!()
            };
            let (lo, hi) = Stage::accumulated(
                *lo,
                *hi,
                (rows.1 - rows.0 + 1) * (cols.1 - cols.0 + 1),
                *max,
            );
            let mut input = beat_input(plan, x, vec![c], false);
            (input.lo, input.hi) = (lo, hi);
            input.fmt = crate::plan::fmt_for(lo, hi, plan.steps[x].fmt.frac);
            let acc = b.push_node(stage, vec![src]);
            // The sums are keyed apart from step `x`: a Flatten of the same
            // stream, gathered into the tail too, reads the pixels.
            let key = plan.steps.len() + i;
            to_tail(&mut tail, input, key, acc).push_reading(plan, i, plan.steps[i].shape.clone(), op, &[key])?;
            continue;
        }
        if let StepOp::ConvT { geo, w, b: bias } = &st.op {
            // Zero insertion (strides above 1), then a convolution of the
            // flipped kernel at stride 1 over windows of the result.
            let Some((zgeo, wconv)) = transposed_as_conv(geo, w) else {
                return Err(refuse(plan, i, "this transposed convolution crops more than its kernel spans, which is not streamed"));
            };
            let src = b.src(x)?;
            b.flush();
            let name = layer_of(plan, i);
            let width = plan.steps[x].fmt.width;
            let z = if geo.sh > 1 || geo.sw > 1 {
                let d = Stage::Dilate { name: format!("{name}_dilate"), in_h: geo.in_h, in_w: geo.in_w, c: geo.cin, width, sh: geo.sh, sw: geo.sw };
                b.push_node(d, vec![src])
            } else {
                src
            };
            let win = b.push_node(Stage::Window { name: format!("{name}_window"), geo: zgeo.clone(), width, pad: 0 }, vec![z]);
            let mut s = Sub::new(beat_input(plan, x, vec![zgeo.kh, zgeo.kw, zgeo.cin], true), x);
            s.push(plan, i, vec![geo.cout], StepOp::Conv { geo: window_local(&zgeo), w: wconv, b: bias.clone() })?;
            b.open = Some((s, i, vec![win]));
            continue;
        }
        if let StepOp::Gather { idx } = &st.op
            && let Some(stage) = repeat_stage(plan, x, i, idx)
        {
            let src = b.src(x)?;
            b.flush();
            let up = b.push_node(stage, vec![src]);
            b.src_of.insert(i, up);
            continue;
        }
        if recurrent_projection(plan, i) {
            // The sequence is gathered; the layer runs on it whole.
            b.end_in_tail(&mut tail, x)?.push(plan, i, st.shape.clone(), st.op.clone())?;
            continue;
        }
        let geo = window_geo(plan, i)?;
        let per_beat_step = match &geo {
            Some(g) => pointwise(g) && !matches!(st.op, StepOp::ZeroPad { .. }),
            None => per_pixel(plan, i, c),
        };
        if per_beat_step {
            if !extend {
                let src = b.src(x)?;
                b.flush();
                b.open = Some((Sub::new(beat_input(plan, x, vec![c], false), x), x, vec![src]));
            }
            let (_, cout) = pixels(&st.shape).unwrap_or((1, st.shape.iter().product()));
            if let Some(o) = b.open.as_mut() {
                o.0.push(plan, i, vec![cout], beat_op(&st.op, geo.as_ref()))?;
                o.1 = i;
            }
        } else if let Some(geo) = geo {
            let (_, cout) = pixels(&st.shape).unwrap_or((1, 1));
            let src = b.src(x)?;
            b.flush();
            let name = layer_of(plan, i);
            let padded = (0..geo.out_h).any(|oy| (0..geo.kh).any(|ky| geo.in_row(oy, ky).is_none()))
                || (0..geo.out_w).any(|ox| (0..geo.kw).any(|kx| geo.in_col(ox, kx).is_none()));
            // A max pooling's padding is its input's lowest code, which no
            // window's maximum is below: Keras pads it with −∞, and a zero
            // won a border window of negative values (cross-check batch 17:
            // MaxPooling2D(3, 1, "same") gave 0 where QKeras gives −90/64).
            let pad = if matches!(st.op, StepOp::Pool { max: true, .. }) { plan.steps[x].lo.min(0) } else { 0 };
            let win = b.push_node(Stage::Window { name: format!("{name}_window"), geo: geo.clone(), width: plan.steps[x].fmt.width, pad }, vec![src]);
            if matches!(st.op, StepOp::ZeroPad { .. }) {
                // The window is the padded pixel itself.
                b.src_of.insert(i, win);
            } else if let StepOp::Pool { max: false, mult, .. } = &st.op
                && mult.windows(2).any(|w| w[0] != w[1])
            {
                // A factor per output position (the count varies at the
                // border): the window's sum times its position's factor,
                // which a stage reading the same windows gives.
                let (lo, hi) = (mult.iter().copied().min().unwrap_or(0), mult.iter().copied().max().unwrap_or(0));
                let factor = b.push_node(
                    Stage::PerPosition {
                        name: format!("{name}_factor"),
                        geo: geo.clone(),
                        values: mult.clone(),
                        c: cout,
                        in_elems: geo.kh * geo.kw * geo.cin,
                        in_width: plan.steps[x].fmt.width,
                        lo,
                        hi,
                    },
                    vec![win],
                );
                b.open = Some((per_position_pool(plan, x, i, &geo, padded, (lo, hi)), i, vec![win, factor]));
            } else {
                let mut s = Sub::new(beat_input(plan, x, vec![geo.kh, geo.kw, geo.cin], padded), x);
                s.push(plan, i, vec![cout], beat_op(&st.op, Some(&geo)))?;
                b.open = Some((s, i, vec![win]));
            }
        } else {
            // The stream ends: gather the beats, the rest runs on the whole
            // sample (a Permute, say, reorders the gathered positions).
            b.end_in_tail(&mut tail, x)?.push(plan, i, st.shape.clone(), st.op.clone())?;
        }
    }
    let o = plan.outputs[0];
    let (output, out_beats, out_beat_shape) = match tail {
        Some((sub, srcs)) => {
            b.flush();
            if !sub.has(o) {
                return Err(Error::Internal(format!(
                    "--io stream: the output (step {o}) is not in the per-sample tail"
                )));
            }
            let name = sub
                .steps
                .last()
                .and_then(|st| st.layer.clone())
                .unwrap_or_else(|| "tail".into());
            let out = b.push_node(
                Stage::Beat {
                    name,
                    plan: sub.plan(plan),
                    beats: 1,
                    step: o,
                },
                srcs,
            );
            (out, 1, plan.steps[o].shape.clone())
        }
        None => {
            let out = b.src(o)?;
            b.flush();
            let (bt, c) = pixels(&plan.steps[o].shape).unwrap_or((1, 1));
            (out, bt, vec![c])
        }
    };
    // A one-beat output wider than a port takes leaves in beats.
    let (output, out_beats, out_beat_shape) = match out_beat_shape.iter().product::<usize>() {
        n if out_beats == 1 && vector_beats(n, plan.steps[o].fmt.width) > 1 => {
            let beats = vector_beats(n, plan.steps[o].fmt.width);
            let name = format!("{}_split", layer_of(plan, o));
            let split = b.push_node(Stage::Split { name, beats, elems: n / beats, width: plan.steps[o].fmt.width }, vec![output]);
            (split, beats, vec![n / beats])
        }
        _ => (output, out_beats, out_beat_shape),
    };
    if b.nodes.is_empty() {
        return Err(Error::Usage(
            "--io stream: the model computes nothing on its input".into(),
        ));
    }
    // Every stream but the output is read; a stream read by a later node
    // exists by then (topological order).
    for (k, n) in b.nodes.iter().enumerate() {
        if n.inputs
            .iter()
            .any(|s| matches!(s, Src::Node(j) if *j >= k))
        {
            return Err(Error::Internal(format!(
                "stream stage {k} reads a later stage"
            )));
        }
    }
    let sp = StreamPlan {
        nodes: b.nodes,
        output,
        inputs,
        out_beats,
        out_beat_shape,
    };
    sp.check_beats()?;
    Ok(sp)
}

impl StreamPlan {
    /// Every stage reads as many beats per sample as its inputs give, of
    /// as many elements: a stage that waits for beats that never come
    /// stalls the design (a quantizer of a pooling's flattened sums was
    /// once a per-beat stage taking one beat of 24 from a stream of six
    /// beats of 4).
    fn check_beats(&self) -> Result<()> {
        let elems = |src: Src| match src {
            Src::Input(k) => self.inputs[k].elems,
            Src::Node(k) => match &self.nodes[k].stage {
                Stage::Beat { plan, .. } => plan.steps[plan.outputs[0]].shape.iter().product(),
                Stage::Window { geo, .. } => geo.kh * geo.kw * geo.cin,
                Stage::Collect { beats, elems, .. } => beats * elems,
                Stage::Split { elems, .. } => *elems,
                Stage::Repeat { c, .. } | Stage::Accumulate { c, .. } | Stage::PerPosition { c, .. } | Stage::Dilate { c, .. } => *c,
            },
        };
        for n in &self.nodes {
            for (p, &src) in n.inputs.iter().enumerate() {
                let (beats, each) = match &n.stage {
                    Stage::Beat { plan, beats, .. } => (*beats, plan.steps[plan.inputs[p]].shape.iter().product()),
                    Stage::Window { geo, .. } => (geo.in_h * geo.in_w, geo.cin),
                    Stage::Collect { beats, elems, .. } => (*beats, *elems),
                    Stage::Repeat { in_h, in_w, c, .. } | Stage::Accumulate { in_h, in_w, c, .. } | Stage::Dilate { in_h, in_w, c, .. } => (in_h * in_w, *c),
                    Stage::PerPosition { values, in_elems, .. } => (values.len(), *in_elems),
                    Stage::Split { beats, elems, .. } => (1, beats * elems),
                };
                if (self.beats(src), elems(src)) != (beats, each) {
                    return Err(Error::Internal(format!(
                        "--io stream: stage `{}` reads {beats} beats of {each} elements from input {p}, which gives {} beats of {}",
                        n.stage.name(),
                        self.beats(src),
                        elems(src)
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointwise_windows_run_per_beat() {
        // A 4x4x2 map read in place (a 1x1 window, no padding), 3 outputs.
        let g = Geo { cout: 3, ..Geo::zero_pad(&[4, 4, 2], &[(0, 0), (0, 0)]).unwrap() };
        assert!(pointwise(&g));
        assert!(!pointwise(&Geo {
            sh: 2,
            out_h: 2,
            out_w: 2,
            ..g.clone()
        }));
        let l = window_local(&Geo {
            kh: 3,
            kw: 3,
            sh: 2,
            pad_top: 1,
            ..g
        });
        assert_eq!(
            (l.in_h, l.in_w, l.out_h, l.out_w, l.sh, l.pad_top),
            (3, 3, 1, 1, 1, 0)
        );
    }
}
