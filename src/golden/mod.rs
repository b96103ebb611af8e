//! The bit-exact integer golden model: runs a [`Plan`] on integer codes,
//! the arithmetic the hardware does. Every generated design is checked
//! against it.
//!
//! Codes live in `i64` when every tensor of the plan fits 63 bits, else in
//! `i128` (exact up to 127 bits). Batches are cut into chunks, spread over
//! the available cores.

pub mod debug;
mod kernels;

use crate::error::{Error, Result};
use crate::fxp::{FixedFormat, Rounding, pow2};
use crate::passes::precision::{InputSpec, Plan, StepOp};

pub use kernels::Code;

/// Which step outputs to keep besides the plan's outputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Keep {
    Outputs,
    /// Every step that is a layer's output (for `dump`).
    Layers,
    /// Every step (for `debug`: requantizer inputs too).
    All,
}

/// The result of a run: codes of the kept steps, batch-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub n: usize,
    /// `Some(codes)` for each kept step, indexed like `plan.steps`.
    pub steps: Vec<Option<Vec<i128>>>,
}

impl Run {
    pub fn codes(&self, step: usize) -> &[i128] {
        self.steps[step].as_deref().unwrap_or(&[])
    }
}

/// Samples per chunk: enough to amortize, small enough for the caches.
const CHUNK: usize = 256;

/// Run `plan` on `n` samples of input codes (at the input step's format).
pub fn run(plan: &Plan, input: &[i128], n: usize, keep: Keep, threads: usize) -> Result<Run> {
    run_progress(plan, input, n, keep, threads, &|_| {})
}

/// [`run`], calling `progress(samples)` as chunks finish (from any thread).
pub fn run_progress(
    plan: &Plan,
    input: &[i128],
    n: usize,
    keep: Keep,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Run> {
    let in_size: usize = plan.steps[0].shape.iter().product();
    if input.len() != n * in_size {
        return Err(Error::Usage(format!("{} input codes for {n} samples of {in_size}", input.len())));
    }
    let kept: Vec<bool> = (0..plan.steps.len())
        .map(|i| {
            plan.outputs.contains(&i)
                || keep == Keep::All
                || (keep == Keep::Layers && plan.steps[i].layer.is_some())
                || float_tail_input(plan).contains(&i)
        })
        .collect();
    let chunks: Vec<(usize, usize)> = (0..n).step_by(CHUNK).map(|s| (s, (s + CHUNK).min(n))).collect();
    let threads = threads.clamp(1, chunks.len().max(1));
    let wide = plan.max_width > 63;
    let per_chunk = |&(a, b): &(usize, usize)| -> Result<Vec<Option<Vec<i128>>>> {
        let x = &input[a * in_size..b * in_size];
        let r = if wide { kernels::run_chunk::<i128>(plan, x, b - a, &kept) } else { kernels::run_chunk::<i64>(plan, x, b - a, &kept) };
        progress(b - a);
        r
    };
    let results: Vec<Result<Vec<Option<Vec<i128>>>>> = if threads <= 1 {
        chunks.iter().map(per_chunk).collect()
    } else {
        let per = chunks.len().div_ceil(threads);
        std::thread::scope(|s| {
            let hs: Vec<_> = chunks.chunks(per).map(|cs| s.spawn(move || cs.iter().map(per_chunk).collect::<Vec<_>>())).collect();
            hs.into_iter().flat_map(|h| h.join().unwrap_or_else(|_| vec![Err(Error::Usage("a golden-model worker panicked".into()))])).collect()
        })
    };
    let mut steps: Vec<Option<Vec<i128>>> = kept.iter().map(|&k| k.then(Vec::new)).collect();
    for r in results {
        for (i, part) in r?.into_iter().enumerate() {
            if let (Some(dst), Some(src)) = (steps[i].as_mut(), part) {
                dst.extend(src);
            }
        }
    }
    Ok(Run { n, steps })
}

/// `v` (value = code × 2^-frac) rounded once to the nearest float32, ties
/// to even: what a float32 computation of the exact value would hold.
pub fn code_to_f32(code: i128, frac: i32) -> f32 {
    if code == 0 {
        return 0.0;
    }
    let mag = code.unsigned_abs();
    let bits = 128 - mag.leading_zeros() as i32;
    // Keep 24 significant bits (more below the normal range does not
    // matter: f32 conversion of the f64 below is then exact or one rounding).
    let drop = (bits - 24).max(0) as u32;
    let m = crate::fxp::round_shift_right(code, drop, Rounding::TiesEven);
    ((m as f64) * pow2(drop as i32 - frac)) as f32
}

/// Input codes of float32 values at `fmt`: ties-to-even, saturating.
pub fn quantize_inputs(x: &[f32], fmt: FixedFormat) -> Result<Vec<i128>> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            crate::fxp::quantize_f32(v, fmt, Rounding::TiesEven, crate::fxp::Overflow::Saturate)
                .map_err(|_| Error::Usage(format!("input element {i} is NaN: it has no fixed-point code")))
        })
        .collect()
}

/// The narrowest format that holds every input exactly (raw float inputs
/// taken as QKeras takes them), or an error naming the offending value.
pub fn exact_input_format(x: &[f32]) -> Result<(FixedFormat, i128, i128)> {
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::Usage(format!(
            "input element {i} is {}: no fixed-point code (give --input-format to saturate it)",
            x[i]
        )));
    }
    // TF flushes subnormal inputs to zero.
    let xs: Vec<f32> = x.iter().map(|&v| crate::quant::ops::ftz(v)).collect();
    match FixedFormat::exact_for(&xs) {
        Some((f, codes)) => {
            let lo = codes.iter().copied().min().unwrap_or(0) as i128;
            let hi = codes.iter().copied().max().unwrap_or(0) as i128;
            Ok((f, lo, hi))
        }
        None => Err(Error::Usage(
            "the inputs span more than 64 bits of fixed point (tiny and huge values together); give --input-format".into(),
        )),
    }
}

/// `predict`'s options.
#[derive(Debug, Clone, Default)]
pub struct PredictOptions {
    /// Quantize the inputs to this format (ties-to-even, saturating);
    /// `None`: take the float32 inputs exactly, as QKeras does.
    pub input_format: Option<FixedFormat>,
    pub threads: usize,
    pub keep: Option<Keep>,
    /// Show a progress bar when the run takes more than a second.
    pub progress: bool,
}

/// A golden run on float inputs.
#[derive(Debug, Clone)]
pub struct Prediction {
    pub plan: Plan,
    pub run: Run,
    /// The input format used (exact for the data, or `--input-format`).
    pub input_format: FixedFormat,
}

impl Prediction {
    /// Output `k` as QKeras's `predict` returns it. A quantized output is
    /// its exact value. Where the output is not quantized (logits after an
    /// unquantized Dense, a float batch norm), the steps after the last
    /// quantizer are evaluated as TensorFlow does in float32, on the same
    /// exact inputs ([`float_tail`]); the codes keep the exact values.
    pub fn output_f32(&self, k: usize) -> Vec<f32> {
        self.float_value(self.plan.outputs[k])
    }

    /// Step `s`'s output as QKeras computes it (see [`Self::output_f32`]);
    /// the steps the float tail starts from must have been kept.
    pub fn float_value(&self, s: usize) -> Vec<f32> {
        let (start, tail) = float_tail(&self.plan, s);
        let f = self.plan.steps[start].fmt.frac;
        let mut v: Vec<f32> = self.run.codes(start).iter().map(|&c| code_to_f32(c, f)).collect();
        for t in tail {
            let step = &self.plan.steps[t];
            let xf = self.plan.steps[step.inputs[0]].fmt.frac;
            v = match &step.op {
                StepOp::Dense { rows, n_in, n_out, w, b } => {
                    let wf: Vec<f32> = w.iter().map(|&c| code_to_f32(c, step.fmt.frac - xf)).collect();
                    let bf: Vec<f32> = b.iter().map(|&c| code_to_f32(c, step.fmt.frac)).collect();
                    float_dense(&v, self.run.n * rows, *n_in, *n_out, &wf, &bf)
                }
                StepOp::Affine { mul, add, .. } => {
                    let mf: Vec<f32> = mul.iter().map(|&c| code_to_f32(c, step.fmt.frac - xf)).collect();
                    let af: Vec<f32> = add.iter().map(|&c| code_to_f32(c, step.fmt.frac)).collect();
                    float_affine(&v, &mf, &af)
                }
                _ => v,
            };
        }
        v
    }
}

/// The steps after the last exact value before output step `s`: unquantized
/// Dense layers and standalone batch norms (and reshapes between them),
/// which QKeras computes in float32. Returns the step whose exact codes
/// start the chain, and the chain in order.
pub fn float_tail(plan: &Plan, s: usize) -> (usize, Vec<usize>) {
    let mut chain = vec![];
    let mut cur = s;
    loop {
        let st = &plan.steps[cur];
        let float_op = match &st.op {
            StepOp::Dense { .. } | StepOp::Identity => true,
            StepOp::Affine { sub, .. } => sub.iter().all(|&v| v == 0),
            _ => false,
        };
        if !float_op || st.inputs.len() != 1 {
            break;
        }
        chain.push(cur);
        cur = st.inputs[0];
    }
    // Identity steps at the start change nothing; a chain of them alone is exact.
    while chain.last().is_some_and(|&c| plan.steps[c].op == StepOp::Identity) {
        cur = chain.pop().unwrap_or(cur);
    }
    chain.reverse();
    (cur, chain)
}

/// The steps whose codes [`Prediction::output_f32`] reads.
fn float_tail_input(plan: &Plan) -> Vec<usize> {
    plan.outputs.iter().map(|&s| float_tail(plan, s).0).collect()
}

/// QBatchNormalization at inference in float32: `x * inv` then `+ bias`
/// (two rounded ops), per channel of the last axis.
pub fn float_affine(x: &[f32], mul: &[f32], add: &[f32]) -> Vec<f32> {
    use crate::quant::ops::ftz;
    let c = mul.len().max(1);
    x.iter().enumerate().map(|(i, &v)| ftz(ftz(ftz(v) * mul[i % c]) + add[i % c])).collect()
}

/// TensorFlow's float32 Dense on CPU without oneDNN: Eigen's matrix product
/// accumulates each output over the inputs in order with fused
/// multiply-adds, from zero; the bias is a separate add. Subnormals flush
/// to zero. (Checked against `tf.matmul` on 5 shapes, 100 rows each, every
/// element equal; the element-wise ops do not fuse.)
pub fn float_dense(x: &[f32], rows: usize, n_in: usize, n_out: usize, w: &[f32], b: &[f32]) -> Vec<f32> {
    use crate::quant::ops::ftz;
    let mut y = vec![0f32; rows * n_out];
    for r in 0..rows {
        for j in 0..n_out {
            let mut acc = 0f32;
            for i in 0..n_in {
                acc = ftz(ftz(x[r * n_in + i]).mul_add(w[i * n_out + j], acc));
            }
            y[r * n_out + j] = ftz(acc + b[j]);
        }
    }
    y
}

/// Run the golden model on float32 inputs of shape `[n, *input shape]`.
pub fn predict(g: &crate::ir::Graph, x: &[f32], shape: &[usize], opts: &PredictOptions) -> Result<Prediction> {
    let want = &g.layers[g.inputs.first().map_or(0, |i| i.0)].shape;
    if shape.len() != want.len() + 1 || &shape[1..] != want.as_slice() {
        return Err(Error::Usage(format!(
            "inputs of shape {shape:?}: the model takes (batch, {})",
            want.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    let n = shape[0];
    let (spec, codes) = match opts.input_format {
        Some(f) => (InputSpec::full(f), quantize_inputs(x, f)?),
        None => {
            let (f, lo, hi) = exact_input_format(x)?;
            let xs: Vec<f32> = x.iter().map(|&v| crate::quant::ops::ftz(v)).collect();
            (InputSpec { fmt: f, lo, hi }, quantize_inputs(&xs, f)?)
        }
    };
    let plan = crate::passes::precision::plan(g, spec)?;
    let threads = if opts.threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { opts.threads };
    let keep = opts.keep.clone().unwrap_or(Keep::Outputs);
    let run = if opts.progress {
        let bar = Progress::new(n as u64);
        run_progress(&plan, &codes, n, keep, threads, &|k| bar.inc(k as u64))?
    } else {
        run(&plan, &codes, n, keep, threads)?
    };
    Ok(Prediction { plan, run, input_format: spec.fmt })
}

/// A progress bar that appears only once a run has taken a second.
struct Progress {
    bar: indicatif::ProgressBar,
    start: std::time::Instant,
}

impl Progress {
    fn new(total: u64) -> Progress {
        let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::hidden());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} samples, {per_sec}, eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Progress { bar, start: std::time::Instant::now() }
    }
    fn inc(&self, k: u64) {
        if self.bar.is_hidden() && self.start.elapsed().as_secs_f64() > 1.0 {
            self.bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        self.bar.inc(k);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if !self.bar.is_hidden() {
            self.bar.finish_and_clear();
        }
    }
}
