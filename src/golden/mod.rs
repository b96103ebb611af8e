//! The bit-exact integer golden model: runs a [`Plan`] on integer codes,
//! the arithmetic the hardware does. Every generated design is checked
//! against it.
//!
//! A step's codes are held as `i32` where its range fits, else in the
//! plan's code type: `i64` when every tensor fits 63 bits, else `i128`
//! (exact up to 127 bits). Each linear step runs in the narrowest
//! arithmetic its exact ranges allow (16-bit pairs, 16-bit digit passes,
//! `i32`, exact `f64`, or the code type; see `kernels` and `madd16`), and
//! `debug` names the choice. Batches are cut into chunks, spread over the
//! available cores.

pub mod debug;
mod kernels;
mod madd16;

use crate::error::{Error, Result};
use crate::fxp::{FixedFormat, Rounding, code_to_f32, pow2};
use crate::plan::{FloatTail, InputSpec, Plan, StepOp, float_tail};

pub use kernels::linear_kernels;

/// Which step outputs to keep besides the plan's outputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Keep {
    /// Only the outputs as QKeras returns them ([`Run::floats`]), no codes.
    Floats,
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
    /// Each output as QKeras returns it (see [`Prediction::output_f32`]).
    pub floats: Vec<Vec<f32>>,
}

impl Run {
    pub fn codes(&self, step: usize) -> &[i128] {
        self.steps[step].as_deref().unwrap_or(&[])
    }
}

/// Samples per chunk: enough to amortize each step's setup, few enough
/// that a chunk's values stay in the L2 cache and the allocator keeps its
/// buffers (no mmap / page faults per chunk): about 512 KiB of `i32`
/// values over all steps, between 4 and 256 samples.
fn chunk_samples(plan: &Plan) -> usize {
    let per_sample: usize = plan.steps.iter().map(|s| s.shape.iter().product::<usize>() * 4).sum();
    ((512 << 10) / per_sample.max(1)).clamp(4, 256)
}

/// The golden model's input: codes, float32 values every one of which is
/// an exact multiple of 2^-frac (see [`exact_inputs`]), or float32 values
/// quantized to `--input-format`; converted chunk by chunk (no batch-sized
/// copy), straight to `i32` where the input's range fits.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    Codes(&'a [i128]),
    Exact { x: &'a [f32], frac: i32 },
    Quantize { x: &'a [f32], fmt: crate::fxp::InputFormat, shape: &'a [usize] },
}

/// One chunk's codes of one input, in the width its kernels read.
pub(crate) enum ChunkCodes {
    Narrow(Vec<i32>),
    /// Exact float inputs for an `i64` plan (straight from the floats).
    Wide64(Vec<i64>),
    Wide(Vec<i128>),
}

impl Input<'_> {
    fn len(&self) -> usize {
        match self {
            Input::Codes(c) => c.len(),
            Input::Exact { x, .. } | Input::Quantize { x, .. } => x.len(),
        }
    }

    /// Codes of elements `a..b`, as `i32` when `narrow` (the input step's
    /// range fits it).
    /// `wide64`: the plan computes in `i64`, so every code fits it.
    fn codes(&self, a: usize, b: usize, narrow: bool, wide64: bool) -> Result<ChunkCodes> {
        Ok(match self {
            Input::Codes(c) if narrow => ChunkCodes::Narrow(c[a..b].iter().map(|&v| v as i32).collect()),
            Input::Codes(c) => ChunkCodes::Wide(c[a..b].to_vec()),
            Input::Exact { x, frac } => {
                let scale = pow2(*frac);
                let code = |v: f32| crate::quant::ops::ftz(v) as f64 * scale;
                if narrow {
                    ChunkCodes::Narrow(x[a..b].iter().map(|&v| code(v) as i32).collect())
                } else if wide64 {
                    ChunkCodes::Wide64(x[a..b].iter().map(|&v| code(v) as i64).collect())
                } else {
                    ChunkCodes::Wide(
                        x[a..b]
                            .iter()
                            .map(|&v| {
                                let c = code(v);
                                if c.abs() < 9.2e18 { c as i64 as i128 } else { c as i128 }
                            })
                            .collect(),
                    )
                }
            }
            Input::Quantize { x, fmt, shape } => {
                let slow = |i: usize| quantize_input(x[i], i, shape, *fmt);
                let fast = NarrowQuantizer::new(*fmt);
                if narrow {
                    let mut out = Vec::with_capacity(b - a);
                    for i in a..b {
                        out.push(match fast.code(x[i]) {
                            Some(c) => c,
                            None => slow(i)? as i32,
                        });
                    }
                    ChunkCodes::Narrow(out)
                } else {
                    ChunkCodes::Wide((a..b).map(slow).collect::<Result<_>>()?)
                }
            }
        })
    }
}

/// `quantize_f32` for the common case: a float32 value scaled into `i32`
/// range, rounded in f64 (exact: the scaled value has at most 24
/// significant bits) and saturated. `None` sends NaN, infinities, huge
/// values and wrap-around to the general routine.
struct NarrowQuantizer {
    scale: f64,
    lo: f64,
    hi: f64,
    rounding: Rounding,
    saturate: bool,
}

impl NarrowQuantizer {
    fn new(f: crate::fxp::InputFormat) -> NarrowQuantizer {
        NarrowQuantizer {
            scale: pow2(f.fmt.frac),
            lo: f.fmt.min_code() as f64,
            hi: f.fmt.max_code() as f64,
            rounding: f.rounding,
            saturate: f.overflow == crate::fxp::Overflow::Saturate,
        }
    }

    #[inline]
    fn code(&self, v: f32) -> Option<i32> {
        let t = v as f64 * self.scale;
        // NaN fails this test too.
        if t.is_nan() || t.abs() >= 2e9 {
            return None;
        }
        // 1.5·2^52 pushes the fraction out of a |t| < 2^51 value, rounding
        // it to nearest, ties to even, in one add (`round_ties_even` is a
        // libm call without SSE4.1).
        const MAGIC: f64 = 6_755_399_441_055_744.0;
        let r = match self.rounding {
            Rounding::TiesEven => (t + MAGIC) - MAGIC,
            Rounding::TiesAway => t.round(),
            Rounding::Floor => t.floor(),
        };
        if r < self.lo || r > self.hi {
            return if self.saturate { Some(r.clamp(self.lo, self.hi) as i32) } else { None };
        }
        Some(r as i32)
    }
}

/// Run `plan` on `n` samples of input codes (at the input step's format).
/// A model with several inputs takes each sample's codes side by side, in
/// model order ([`Plan::in_size`] per sample), as `verify` and the hardware
/// do.
pub fn run(plan: &Plan, input: &[i128], n: usize, keep: Keep, threads: usize) -> Result<Run> {
    if plan.inputs.len() > 1 {
        if input.len() != n * plan.in_size() {
            return Err(Error::Usage(format!("{} input codes for {n} samples of {}", input.len(), plan.in_size())));
        }
        let parts = plan.split_inputs(input, n);
        let inputs: Vec<Input<'_>> = parts.iter().map(|p| Input::Codes(p)).collect();
        return run_inputs(plan, &inputs, n, keep, threads, &|_| {});
    }
    run_progress(plan, Input::Codes(input), n, keep, threads, &|_| {})
}

/// [`run`], calling `progress(samples)` as chunks finish (from any thread).
pub fn run_progress(
    plan: &Plan,
    input: Input<'_>,
    n: usize,
    keep: Keep,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Run> {
    run_inputs(plan, &[input], n, keep, threads, progress)
}

/// [`run_progress`] on a model with several inputs: `inputs[k]` feeds the
/// model's input `k` (`plan.inputs[k]`).
pub fn run_inputs(
    plan: &Plan,
    inputs: &[Input<'_>],
    n: usize,
    keep: Keep,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Run> {
    if inputs.len() != plan.inputs.len() {
        return Err(Error::Usage(format!("{} input arrays for a model with {} inputs", inputs.len(), plan.inputs.len())));
    }
    let in_sizes: Vec<usize> = plan.inputs.iter().map(|&s| plan.steps[s].shape.iter().product()).collect();
    for (input, &in_size) in inputs.iter().zip(&in_sizes) {
        if input.len() != n * in_size {
            return Err(Error::Usage(format!("{} input codes for {n} samples of {in_size}", input.len())));
        }
    }
    // `dump` writes a layer that QKeras computes in float32 (after the last
    // quantizer) from the step its float tail starts at: keep that too.
    let layer_tails: Vec<usize> = if keep == Keep::Layers {
        (0..plan.steps.len()).filter(|&i| plan.steps[i].layer.is_some()).map(|i| float_tail(plan, i)).filter(|t| !t.is_empty()).flat_map(|t| t.starts).collect()
    } else {
        vec![]
    };
    let kept: Vec<bool> = (0..plan.steps.len())
        .map(|i| {
            (plan.outputs.contains(&i) && keep != Keep::Floats)
                || keep == Keep::All
                || (keep == Keep::Layers && (plan.steps[i].layer.is_some() || layer_tails.contains(&i)))
        })
        .collect();
    // The float outputs are evaluated chunk by chunk from their tails'
    // start steps, which each chunk keeps locally.
    let tails: Vec<FloatTail> = plan.outputs.iter().map(|&s| float_tail(plan, s)).collect();
    let chunk_keep: Vec<bool> = (0..plan.steps.len()).map(|i| kept[i] || tails.iter().any(|t| t.starts.contains(&i))).collect();
    let chunk = chunk_samples(plan);
    let chunks: Vec<(usize, usize)> = (0..n).step_by(chunk).map(|s| (s, (s + chunk).min(n))).collect();
    let threads = threads.clamp(1, chunks.len().max(1));
    let fused = kernels::fused_affines(plan, &chunk_keep);
    let (p64, p128) = if kernels::code_width(plan, &fused) > 63 {
        (None, Some(kernels::prepare::<i128>(plan, fused)))
    } else {
        (Some(kernels::prepare::<i64>(plan, fused)), None)
    };
    // Kept outputs are written in place: each chunk owns its slice.
    let sizes: Vec<usize> = plan.steps.iter().map(|s| s.shape.iter().product()).collect();
    let mut steps: Vec<Option<Vec<i128>>> = kept.iter().zip(&sizes).map(|(&k, &sz)| k.then(|| vec![0i128; n * sz])).collect();
    let mut per_chunk_out: Vec<Vec<(usize, &mut [i128])>> = chunks.iter().map(|_| Vec::new()).collect();
    for (i, buf) in steps.iter_mut().enumerate() {
        if let Some(buf) = buf {
            for (c, part) in buf.chunks_mut(chunk * sizes[i].max(1)).enumerate() {
                if let Some(slot) = per_chunk_out.get_mut(c) {
                    slot.push((i, part));
                }
            }
        }
    }
    let out_sizes: Vec<usize> = plan.outputs.iter().map(|&o| sizes[o]).collect();
    let mut floats: Vec<Vec<f32>> = out_sizes.iter().map(|&sz| vec![0f32; n * sz]).collect();
    let mut per_chunk_float: Vec<Vec<&mut [f32]>> = chunks.iter().map(|_| Vec::new()).collect();
    for (k, buf) in floats.iter_mut().enumerate() {
        for (c, part) in buf.chunks_mut(chunk * out_sizes[k].max(1)).enumerate() {
            if let Some(slot) = per_chunk_float.get_mut(c) {
                slot.push(part);
            }
        }
    }
    type Slots<'a> = (Vec<(usize, &'a mut [i128])>, Vec<&'a mut [f32]>);
    let work: Vec<((usize, usize), Slots<'_>)> =
        chunks.iter().copied().zip(per_chunk_out.into_iter().zip(per_chunk_float)).collect();
    let per_chunk = |((a, b), (outs, fouts)): ((usize, usize), Slots<'_>)| -> Result<()> {
        let narrow = |k: usize| p64.as_ref().map_or_else(|| p128.as_ref().is_some_and(|p| p.narrow(plan.inputs[k])), |p| p.narrow(plan.inputs[k]));
        let x: Vec<ChunkCodes> =
            inputs.iter().zip(&in_sizes).enumerate().map(|(k, (input, &sz))| input.codes(a * sz, b * sz, narrow(k), p64.is_some())).collect::<Result<_>>()?;
        let r = match (&p64, &p128) {
            (Some(p), _) => kernels::run_chunk::<i64>(plan, p, &x, b - a, &chunk_keep),
            (_, Some(p)) => kernels::run_chunk::<i128>(plan, p, &x, b - a, &chunk_keep),
            _ => unreachable!("one of the two is prepared"),
        }?;
        for (i, dst) in outs {
            if let Some(src) = &r[i] {
                dst.copy_from_slice(src);
            }
        }
        for (tail, dst) in tails.iter().zip(fouts) {
            dst.copy_from_slice(&float_eval(plan, tail, |k| r[k].as_deref().unwrap_or(&[]), b - a));
        }
        progress(b - a);
        Ok(())
    };
    let results: Vec<Result<()>> = if threads <= 1 {
        work.into_iter().map(per_chunk).collect()
    } else {
        let per = work.len().div_ceil(threads);
        let mut groups: Vec<Vec<_>> = vec![];
        let mut it = work.into_iter().peekable();
        while it.peek().is_some() {
            groups.push(it.by_ref().take(per).collect());
        }
        let per_chunk = &per_chunk;
        std::thread::scope(|s| {
            let hs: Vec<_> = groups.into_iter().map(|g| s.spawn(move || g.into_iter().map(per_chunk).collect::<Vec<_>>())).collect();
            hs.into_iter().flat_map(|h| h.join().unwrap_or_else(|_| vec![Err(Error::Usage("a golden-model worker panicked".into()))])).collect()
        })
    };
    for r in results {
        r?;
    }
    Ok(Run { n, steps, floats })
}

/// Where flat element `i` of a batch of shape `shape` is, in words.
pub fn locate(i: usize, shape: &[usize]) -> String {
    let per: usize = shape.iter().skip(1).product::<usize>().max(1);
    let (s, mut r) = (i / per, i % per);
    let mut idx = vec![0; shape.len().saturating_sub(1)];
    for k in (0..idx.len()).rev() {
        let d = shape[k + 1].max(1);
        idx[k] = r % d;
        r /= d;
    }
    let idx: Vec<String> = idx.iter().map(|v| v.to_string()).collect();
    format!("sample {s}, element ({})", idx.join(", "))
}

/// Input codes of float32 values (a batch of shape `shape`) at `f`, with
/// its rounding and overflow.
pub fn quantize_inputs(x: &[f32], shape: &[usize], f: crate::fxp::InputFormat) -> Result<Vec<i128>> {
    (0..x.len()).map(|i| quantize_input(x[i], i, shape, f)).collect()
}

/// Element `i` of [`quantize_inputs`], or the error naming it.
fn quantize_input(v: f32, i: usize, shape: &[usize], f: crate::fxp::InputFormat) -> Result<i128> {
    crate::fxp::quantize_f32(v, f.fmt, f.rounding, f.overflow).map_err(|_| {
        Error::Usage(format!(
            "input {}: {v} has no fixed-point code{}",
            locate(i, shape),
            if v.is_nan() { "; replace NaNs in the input (e.g. numpy.nan_to_num)" } else { " when wrapping; use a saturating format" }
        ))
    })
}

/// The narrowest format that holds every input exactly (raw float inputs
/// taken as QKeras takes them, subnormals flushed as TensorFlow does), and
/// the range of the codes; an error names a value that has no code.
pub fn exact_inputs(x: &[f32], shape: &[usize]) -> Result<(FixedFormat, i128, i128)> {
    exact_inputs_threads(x, shape, 1)
}

/// The finest fraction any of `x` needs (`i32::MIN` for all zeros), the
/// smallest and largest value (subnormals flushed), and whether one is not
/// finite (AVX2 where the CPU has it).
fn input_extent(x: &[f32]) -> (i32, f32, f32, bool) {
    #[cfg(target_arch = "x86_64")]
    if madd16::avx2() {
        // SAFETY: `avx2()` says the CPU has AVX2.
        return unsafe { input_extent_avx2(x) };
    }
    input_extent_body(x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn input_extent_avx2(x: &[f32]) -> (i32, f32, f32, bool) {
    input_extent_body(x)
}

/// Integer-only and branch-free, so that it vectorizes: the lowest set
/// bit of the significand, converted to float32, gives its trailing zeros
/// in its exponent; the extremes are taken on the bits as order-preserving
/// `i32` keys (a NaN or infinity is reported by `bad` before they matter).
#[inline(always)]
fn input_extent_body(x: &[f32]) -> (i32, f32, f32, bool) {
    let (mut frac, mut lo, mut hi, mut bad) = (i32::MIN, 0i32, 0i32, 0i32);
    for &v in x {
        let bits = v.to_bits() as i32;
        let exp = (bits >> 23) & 0xff;
        bad |= i32::from(exp == 0xff);
        let key = if exp == 0 { 0 } else { bits ^ ((bits >> 31) & 0x7fff_ffff) };
        lo = lo.min(key);
        hi = hi.max(key);
        let m = bits & 0x7f_ffff | 0x80_0000;
        let tz = ((((m & m.wrapping_neg()) as f32).to_bits() >> 23) as i32) - 127;
        frac = frac.max(if exp == 0 { i32::MIN } else { 150 - exp - tz });
    }
    let value = |k: i32| f32::from_bits((if k < 0 { k ^ 0x7fff_ffff } else { k }) as u32);
    (frac, value(lo), value(hi), bad != 0)
}

/// The worker threads a `threads` option asks for: 0 is every core.
pub fn worker_threads(threads: usize) -> usize {
    if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads }
}

/// [`exact_inputs`] on `threads` threads (a pass over the whole input that
/// runs before the plan can be made).
pub fn exact_inputs_threads(x: &[f32], shape: &[usize], threads: usize) -> Result<(FixedFormat, i128, i128)> {
    let parts: Vec<(i32, f32, f32, bool)> = if threads <= 1 || x.len() < 1 << 16 {
        vec![input_extent(x)]
    } else {
        std::thread::scope(|s| {
            let hs: Vec<_> = x.chunks(x.len().div_ceil(threads)).map(|c| s.spawn(move || input_extent(c))).collect();
            hs.into_iter().map(|h| h.join().map_err(|_| Error::Internal("an input-scan worker panicked".into()))).collect::<Result<Vec<_>>>()
        })?
    };
    if parts.iter().any(|p| p.3)
        && let Some(i) = x.iter().position(|v| !v.is_finite())
    {
        let v = x[i];
        return Err(Error::Usage(if v.is_nan() {
            format!("input {}: NaN has no fixed-point code; replace NaNs in the input (e.g. numpy.nan_to_num)", locate(i, shape))
        } else {
            format!("input {}: {v} has no exact fixed-point code; give --input-format (e.g. fixed<16,6>) to saturate it", locate(i, shape))
        }));
    }
    let frac = parts.iter().map(|p| p.0).max().unwrap_or(i32::MIN);
    let lo = parts.iter().map(|p| p.1).fold(0f32, f32::min);
    let hi = parts.iter().map(|p| p.2).fold(0f32, f32::max);
    let frac = if frac == i32::MIN { 0 } else { frac };
    let code = |v: f32| -> Result<i128> {
        let c = v as f64 * pow2(frac);
        if c.abs() >= 1.7e38 {
            return Err(Error::Usage(
                "the inputs span more than 127 bits of fixed point (tiny and huge values together); give --input-format".into(),
            ));
        }
        Ok(c as i128)
    };
    let (lo, hi) = (code(lo)?, code(hi)?);
    Ok((crate::plan::fmt_for(lo, hi, frac), lo, hi))
}

/// `predict`'s options.
#[derive(Debug, Clone, Default)]
pub struct PredictOptions {
    /// Quantize the inputs to this format (with its rounding and
    /// overflow); `None`: take the float32 inputs exactly, as QKeras does.
    pub input_format: Option<crate::fxp::InputFormat>,
    pub threads: usize,
    pub keep: Option<Keep>,
    /// Show a progress bar when the run takes more than a second.
    pub progress: bool,
    /// Per-layer precision overrides (`--config`).
    pub config: crate::passes::config::Config,
}

/// A golden run on float inputs.
#[derive(Debug, Clone)]
pub struct Prediction {
    pub plan: Plan,
    pub run: Run,
    /// The input format used (exact for the data, or `--input-format`);
    /// the first input's where the model has several.
    pub input_format: FixedFormat,
    /// Each input's format, in model order.
    pub input_formats: Vec<FixedFormat>,
}

impl Prediction {
    /// Output `k` as QKeras's `predict` returns it. A quantized output is
    /// its exact value. Where the output is not quantized (logits after an
    /// unquantized Dense, a float batch norm), the steps after the last
    /// quantizer are evaluated as TensorFlow does in float32, on the same
    /// exact inputs ([`float_tail`]); the codes keep the exact values.
    pub fn output_f32(&self, k: usize) -> Vec<f32> {
        self.output(k).to_vec()
    }

    /// [`Self::output_f32`] in place.
    pub fn output(&self, k: usize) -> &[f32] {
        &self.run.floats[k]
    }

    /// Step `s`'s output as QKeras computes it (see [`Self::output_f32`]);
    /// the step its float tail starts from must have been kept.
    pub fn float_value(&self, s: usize) -> Vec<f32> {
        let tail = float_tail(&self.plan, s);
        float_eval(&self.plan, &tail, |k| self.run.codes(k), self.run.n)
    }
}

/// Exact codes as float32 values, as QKeras holds them.
fn codes_to_f32s(plan: &Plan, start: usize, codes: &[i128]) -> Vec<f32> {
    let f = plan.steps[start].fmt.frac;
    let scale = pow2(-f);
    let (lo, hi) = (plan.steps[start].lo, plan.steps[start].hi);
    // Codes below 2^24 whose unit 2^-f is a normal float32 (and whose range
    // stays finite) convert exactly: an integer times a power of two.
    let exact_f32 = lo > -(1 << 24) && hi < 1 << 24 && (-126..=100).contains(&-f);
    if exact_f32 {
        let s32 = scale as f32;
        let mut v = vec![0f32; codes.len()];
        for (d, &c) in v.iter_mut().zip(codes) {
            *d = c as i32 as f32 * s32;
        }
        v
    } else {
        codes
            .iter()
            .map(|&c| {
                // `code_to_f32`'s first case, with the scale computed once.
                let v = c as i64 as f64 * scale;
                if c == 0 {
                    0.0
                } else if c.unsigned_abs() < 1 << 53 && v.is_normal() && v.abs() > 1e-37 {
                    v as f32
                } else {
                    code_to_f32(c, f)
                }
            })
            .collect()
    }
}

/// The float32 tail `tail` of `n` samples, from the exact codes of its
/// start steps (`codes(start)`).
fn float_eval<'a>(plan: &Plan, tail: &FloatTail, codes: impl Fn(usize) -> &'a [i128], n: usize) -> Vec<f32> {
    let mut vals: std::collections::HashMap<usize, Vec<f32>> = tail.starts.iter().map(|&k| (k, codes_to_f32s(plan, k, codes(k)))).collect();
    for &t in &tail.steps {
        let step = &plan.steps[t];
        let xf = plan.steps[step.inputs[0]].fmt.frac;
        let v = match &step.op {
            StepOp::Concat { axis, .. } => {
                let ins: Vec<(&[f32], &[usize])> = step.inputs.iter().map(|k| (vals[k].as_slice(), plan.steps[*k].shape.as_slice())).collect();
                concat_f32(&ins, n, *axis)
            }
            StepOp::Gather { idx } => {
                let x = &vals[&step.inputs[0]];
                let size = plan.steps[step.inputs[0]].shape.iter().product::<usize>();
                (0..n).flat_map(|s| idx.iter().map(move |&i| x[s * size + i as usize])).collect()
            }
            _ => {
                let v = vals[&step.inputs[0]].clone();
                float_op(plan, t, v, xf, n)
            }
        };
        vals.insert(t, v);
    }
    tail.steps.last().or(tail.starts.first()).and_then(|t| vals.remove(t)).unwrap_or_default()
}

/// Concatenation of float32 values (exact: a copy) along `axis` of the
/// batch-less shapes.
fn concat_f32(ins: &[(&[f32], &[usize])], m: usize, axis: usize) -> Vec<f32> {
    let outer: usize = ins[0].1[..axis].iter().product();
    let mut y = Vec::new();
    for s in 0..m {
        for o in 0..outer {
            for (x, shape) in ins {
                let inner: usize = shape[axis..].iter().product();
                let size: usize = shape.iter().product();
                y.extend_from_slice(&x[s * size + o * inner..][..inner]);
            }
        }
    }
    y
}

/// One single-input step of a float tail on its float32 input `v`.
fn float_op(plan: &Plan, t: usize, v: Vec<f32>, xf: i32, n: usize) -> Vec<f32> {
    let step = &plan.steps[t];
    match &step.op {
        StepOp::Dense { rows, n_in, n_out, w, b } => {
            let wf: Vec<f32> = w.iter().map(|&c| code_to_f32(c, step.fmt.frac - xf)).collect();
            let bf: Vec<f32> = b.iter().map(|&c| code_to_f32(c, step.fmt.frac)).collect();
            float_dense(&v, n * rows, *n_in, *n_out, &wf, &bf)
        }
        // An average as TensorFlow rounds it in float32.
        StepOp::Affine { .. } if let Some(&(n, kind)) = plan.divides.get(&t) => v.into_iter().map(|x| kind.apply(x, n)).collect(),
        StepOp::Affine { mul, add, .. } => {
            let mf: Vec<f32> = mul.iter().map(|&c| code_to_f32(c, step.fmt.frac - xf)).collect();
            let af: Vec<f32> = add.iter().map(|&c| code_to_f32(c, step.fmt.frac)).collect();
            float_affine(&v, &mf, &af)
        }
        // Keras's mean: a float32 sum over the positions, divided.
        StepOp::GlobalPool { hw, c, .. } => {
            let (hw, c) = (*hw, (*c).max(1));
            let mut out = vec![0f32; v.len() / hw.max(1)];
            for (s, o) in out.chunks_mut(c).enumerate() {
                for (ch, dst) in o.iter_mut().enumerate() {
                    let mut acc = 0f32;
                    for k in 0..hw {
                        acc += v[(s * hw + k) * c + ch];
                    }
                    *dst = acc / hw as f32;
                }
            }
            out
        }
        // max(x, 0) is exact in float32 too.
        StepOp::Act(crate::plan::Act::Relu) => v.into_iter().map(|x| if x < 0.0 { 0.0 } else { x }).collect(),
        _ => v,
    }
}

/// QBatchNormalization at inference in float32: `x * inv` then `+ bias`
/// (two rounded ops), per channel of the last axis. Every operand and
/// result is flushed (TensorFlow's FTZ and DAZ), constants included, as in
/// [`float_dense`].
pub fn float_affine(x: &[f32], mul: &[f32], add: &[f32]) -> Vec<f32> {
    use crate::quant::ops::ftz;
    let c = mul.len().max(1);
    x.iter().enumerate().map(|(i, &v)| ftz(ftz(ftz(v) * ftz(mul[i % c])) + ftz(add[i % c]))).collect()
}

/// TensorFlow's float32 Dense on CPU without oneDNN: Eigen's matrix product
/// accumulates each output over the inputs in order with fused
/// multiply-adds, from zero; the bias is a separate add. Subnormals flush
/// to zero, operands (weights and bias included: TensorFlow sets DAZ as
/// well as FTZ) and results. (Checked against `tf.matmul` on 5 shapes, 100 rows each, every
/// element equal; the element-wise ops do not fuse.)
pub fn float_dense(x: &[f32], rows: usize, n_in: usize, n_out: usize, w: &[f32], b: &[f32]) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if madd16::avx2() {
        // SAFETY: the CPU supports AVX2 and FMA (`madd16::avx2`).
        return unsafe { float_dense_avx2(x, rows, n_in, n_out, w, b) };
    }
    if never_subnormal(x, w, b) {
        float_dense_body::<false>(x, rows, n_in, n_out, w, b)
    } else {
        float_dense_body::<true>(x, rows, n_in, n_out, w, b)
    }
}

/// The exponent of the finest power of two every finite, normal value of
/// `v` is a multiple of (`i32::MAX` for all zeros), or `i32::MIN` when one
/// is subnormal, infinite or NaN. Branch-free, so that it vectorizes (the
/// lowest set bit of the significand, converted to float32, gives its
/// trailing zeros in its exponent).
#[inline(always)]
fn grid_exponent(v: &[f32]) -> i32 {
    let mut g = i32::MAX;
    for &x in v {
        let bits = x.to_bits() as i32;
        let exp = (bits >> 23) & 0xff;
        let m = bits & 0x7f_ffff | 0x80_0000;
        let tz = ((((m & m.wrapping_neg()) as f32).to_bits() >> 23) as i32) - 127;
        let e = if exp == 0 || exp == 0xff { i32::MIN } else { exp - 150 + tz };
        g = g.min(if bits & 0x7fff_ffff == 0 { i32::MAX } else { e });
    }
    g
}

/// Whether no operand or result of the Dense can be subnormal, so that
/// flushing to zero changes nothing: every input, weight and bias is a
/// normal multiple of 2^gx, 2^gw, 2^gb, and every product a multiple of
/// 2^(gx+gw) ≥ 2^-126. A float32 rounding of a multiple of a power of two
/// is again one (or zero), so every partial sum, and the bias added to it,
/// is zero or at least 2^-126 in magnitude: normal.
#[inline(always)]
fn never_subnormal(x: &[f32], w: &[f32], b: &[f32]) -> bool {
    let (gx, gw, gb) = (grid_exponent(x), grid_exponent(w), grid_exponent(b));
    let normal = |g: i32| g >= -126;
    normal(gx) && normal(gw) && normal(gb) && (gx == i32::MAX || gw == i32::MAX || normal(gx.saturating_add(gw)))
}

/// Rows advance 8 side by side in one vector (the same operations in the
/// same order per row), up to 8 outputs at a time in registers; `FTZ`
/// flushes every operand and result (not needed where
/// [`never_subnormal`] holds).
fn float_dense_body<const FTZ: bool>(x: &[f32], rows: usize, n_in: usize, n_out: usize, w: &[f32], b: &[f32]) -> Vec<f32> {
    let f = |v: f32| if FTZ { crate::quant::ops::ftz(v) } else { v };
    let mut y = vec![0f32; rows * n_out];
    for r in 0..rows {
        let acc = &mut y[r * n_out..(r + 1) * n_out];
        for i in 0..n_in {
            let xi = f(x[r * n_in + i]);
            for (a, &wj) in acc.iter_mut().zip(&w[i * n_out..(i + 1) * n_out]) {
                *a = f(xi.mul_add(f(wj), *a));
            }
        }
        for (a, &bj) in acc.iter_mut().zip(b) {
            *a = f(*a + f(bj));
        }
    }
    y
}

/// [`float_dense_body`] in AVX2 + FMA: 8 rows side by side in one vector
/// (the same operations in the same order per row), up to 8 outputs at a
/// time in registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn float_dense_avx2(x: &[f32], rows: usize, n_in: usize, n_out: usize, w: &[f32], b: &[f32]) -> Vec<f32> {
    let ftz = !never_subnormal(x, w, b);
    let f = |v: f32| if ftz { crate::quant::ops::ftz(v) } else { v };
    let wf: Vec<f32> = w.iter().map(|&v| f(v)).collect();
    let bf: Vec<f32> = b.iter().map(|&v| f(v)).collect();
    let mut y = vec![0f32; rows * n_out];
    // One block of rows, its inputs transposed: xt[i][r].
    let mut xt = vec![[0f32; 8]; n_in];
    for r0 in (0..rows).step_by(8) {
        let nr = (rows - r0).min(8);
        for (i, col) in xt.iter_mut().enumerate() {
            for (r, v) in col.iter_mut().enumerate() {
                *v = if r < nr { f(x[(r0 + r) * n_in + i]) } else { 0.0 };
            }
        }
        let out = &mut y[r0 * n_out..(r0 + nr) * n_out];
        let mut j0 = 0;
        while j0 < n_out {
            let jn = (n_out - j0).min(8);
            macro_rules! block {
                ($j:literal) => {
                    // SAFETY: AVX2 and FMA are enabled on this function.
                    unsafe {
                        if ftz { dense_block_avx2::<true, $j>(&xt, &wf, &bf, n_out, j0, nr, out) } else { dense_block_avx2::<false, $j>(&xt, &wf, &bf, n_out, j0, nr, out) }
                    }
                };
            }
            match jn {
                1 => block!(1),
                2 => block!(2),
                3 => block!(3),
                4 => block!(4),
                5 => block!(5),
                6 => block!(6),
                7 => block!(7),
                _ => block!(8),
            }
            j0 += jn;
        }
    }
    y
}

/// Outputs `j0..j0 + J` of a block of `nr` rows (`out`: those rows of y):
/// from zero, one fused multiply-add per input in order, then the bias
/// (weights and bias already flushed when `FTZ`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)] // reason: one block of one kernel, inlined
unsafe fn dense_block_avx2<const FTZ: bool, const J: usize>(xt: &[[f32; 8]], w: &[f32], b: &[f32], n_out: usize, j0: usize, nr: usize, out: &mut [f32]) {
    use std::arch::x86_64::*;
    // A subnormal (exponent field 0) becomes a zero of the same sign.
    let flush = |v: __m256| -> __m256 {
        if !FTZ {
            return v;
        }
        let tiny = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(v), _mm256_set1_epi32(0x7f80_0000)), _mm256_setzero_si256()));
        _mm256_blendv_ps(v, _mm256_and_ps(v, _mm256_set1_ps(-0.0)), tiny)
    };
    let mut acc = [_mm256_setzero_ps(); J];
    for (i, xi) in xt.iter().enumerate() {
        // SAFETY: `xi` holds 8 floats.
        let xv = unsafe { _mm256_loadu_ps(xi.as_ptr()) };
        let wi = &w[i * n_out + j0..i * n_out + j0 + J];
        for (a, &wj) in acc.iter_mut().zip(wi) {
            *a = flush(_mm256_fmadd_ps(xv, _mm256_set1_ps(wj), *a));
        }
    }
    for (jj, a) in acc.iter().enumerate() {
        let mut v = [0f32; 8];
        // SAFETY: `v` holds 8 floats.
        unsafe { _mm256_storeu_ps(v.as_mut_ptr(), flush(_mm256_add_ps(*a, _mm256_set1_ps(b[j0 + jj])))) };
        for (r, &t) in v.iter().enumerate().take(nr) {
            out[r * n_out + j0 + jj] = t;
        }
    }
}

/// An array of `shape` for model input `k` must be `(batch, *input shape)`
/// exactly (an array with the right element count but another layout, say
/// channels first, is refused, not reinterpreted).
pub fn check_input_shape(g: &crate::ir::Graph, k: usize, shape: &[usize]) -> Result<()> {
    let want = &g.layers[g.inputs[k].0].shape;
    if shape.len() != want.len() + 1 || &shape[1..] != want.as_slice() {
        let which = if g.inputs.len() > 1 { format!("input `{}`: ", g.layers[g.inputs[k].0].name) } else { String::new() };
        return Err(Error::Usage(format!(
            "{which}inputs of shape {shape:?}: the model takes (batch, {})",
            want.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

/// Run the golden model on float32 inputs of shape `[n, *input shape]`.
pub fn predict(g: &crate::ir::Graph, x: &[f32], shape: &[usize], opts: &PredictOptions) -> Result<Prediction> {
    predict_inputs(g, &[(x, shape)], opts)
}

/// [`predict`] on a model with several inputs: one `(values, shape)` per
/// model input, in model order, all with the same batch size. Each input is
/// taken exactly (or quantized to `--input-format`, the same for all).
pub fn predict_inputs(g: &crate::ir::Graph, xs: &[(&[f32], &[usize])], opts: &PredictOptions) -> Result<Prediction> {
    if xs.len() != g.inputs.len() {
        let names: Vec<&str> = g.inputs.iter().map(|i| g.layers[i.0].name.as_str()).collect();
        return Err(Error::Usage(format!("{} input arrays for a model with {} inputs ({})", xs.len(), g.inputs.len(), names.join(", "))));
    }
    for (k, &(_, shape)) in xs.iter().enumerate() {
        check_input_shape(g, k, shape)?;
    }
    let n = xs[0].1[0];
    if let Some((k, _)) = xs.iter().enumerate().find(|(_, x)| x.1[0] != n) {
        return Err(Error::Usage(format!("input `{}` has {} samples, input `{}` {n}", g.layers[g.inputs[k].0].name, xs[k].1[0], g.layers[g.inputs[0].0].name)));
    }
    let threads = worker_threads(opts.threads);
    let mut specs = vec![];
    let mut notices = vec![];
    // A format the user gave (--input-format, or the config's), else each
    // input's quantizer (a QActivation right after it), if any.
    let given = opts.input_format.or(opts.config.input);
    let quantized = match given {
        Some(_) => vec![],
        None => hardware_inputs(g, None, &opts.config)?.0,
    };
    // Inputs taken through their quantizer's codes (below): owned here.
    let mut coded: Vec<Option<Vec<i128>>> = vec![None; xs.len()];
    for (k, &(x, shape)) in xs.iter().enumerate() {
        match given {
            Some(fmt) => specs.push(InputSpec::of(fmt)),
            None => {
                let q = quantized.get(k).and_then(|(spec, q)| q.as_ref().map(|q| (spec, q)));
                if let Some((_, q)) = q {
                    notices.extend(straight_through_loss(q, x, shape, &g.layers[g.inputs[k].0].name)?);
                }
                match (exact_inputs_threads(x, shape, threads), q) {
                    (Ok((fmt, lo, hi)), _) => specs.push(InputSpec::exact(fmt, lo, hi)),
                    // Too wide to hold exactly (tiny and huge values
                    // together), but read only through a quantizer: its
                    // codes, as `verify` gives the hardware.
                    (Err(_), Some((spec, q))) => {
                        coded[k] = Some(hardware_codes(x, shape, spec, Some(q))?);
                        specs.push(*spec);
                    }
                    (Err(e), None) => return Err(e),
                }
            }
        }
    }
    let inputs: Vec<Input<'_>> = xs
        .iter()
        .zip(&specs)
        .zip(&coded)
        .map(|((&(x, shape), spec), codes)| match (codes, given) {
            (Some(c), _) => Input::Codes(c),
            (None, Some(fmt)) => Input::Quantize { x, fmt, shape },
            (None, None) => Input::Exact { x, frac: spec.fmt.frac },
        })
        .collect();
    let mut plan = crate::plan::plan_inputs(g, &specs, &opts.config)?;
    plan.notices.extend(notices);
    let keep = opts.keep.clone().unwrap_or(Keep::Outputs);
    let run = if opts.progress {
        let bar = Progress::new(n as u64);
        run_inputs(&plan, &inputs, n, keep, threads, &|k| bar.inc(k as u64))?
    } else {
        run_inputs(&plan, &inputs, n, keep, threads, &|_| {})?
    };
    Ok(Prediction { plan, run, input_format: specs[0].fmt, input_formats: specs.iter().map(|s| s.fmt).collect() })
}

/// Where QKeras's input quantizer `q` loses its own value: for |x| far
/// beyond the range, the straight-through `x + (-x + xq)` in float32 is not
/// `xq` (qb(6,2) of 1e8 gives 0, not 3.875). qkhw computes `xq`, the
/// hardware's value; a notice names the first such input. Checked only
/// when an input is large enough for it to happen (|x| ≥ 2^(22 - frac)).
fn straight_through_loss(q: &crate::quant::Quantizer, x: &[f32], shape: &[usize], input: &str) -> Result<Option<String>> {
    let Some(crate::quant::Encoding::Fixed(f)) = q.encoding() else { return Ok(None) };
    // Below 2^(22 - frac) float32 holds x + (-x + xq) exactly
    // (`straight_through_is_exact_below_its_bound` tests the bound).
    let big = pow2(22 - f.frac) as f32;
    if !x.iter().any(|v| v.is_nan() || v.abs() >= big) {
        return Ok(None);
    }
    let (lost, float, xq) = lost_to_straight_through(q, x)?;
    Ok(lost.first().map(|&i| {
        format!(
            "input `{input}`: {} value{} so large (or infinite) that QKeras's quantizer returns another value than its own (float32 x + (-x + xq) loses xq; first: {}, x = {}, QKeras {} where {}): qkhw computes xq, the hardware's value, so model.predict differs there",
            lost.len(),
            if lost.len() == 1 { " is" } else { "s are" },
            locate(i, shape),
            x[i],
            float[i],
            if x[i].is_finite() { format!("xq = {}", xq[i]) } else { "the hardware saturates it".into() }
        )
    }))
}

/// The values of `x` where QKeras's float32 straight-through result
/// differs from the quantizer's value xq, with both results.
/// xq is the hardware's: of x clamped as [`crate::quant::Quantizer::hardware`]
/// clamps it (a float32 near its largest overflows in the quantizer's
/// scaling; cross-check batch 12: the notice said "xq = NaN" for 3e38,
/// where qkhw computes 3.875).
fn lost_to_straight_through(q: &crate::quant::Quantizer, x: &[f32]) -> Result<(Vec<usize>, Vec<f32>, Vec<f32>)> {
    let float = q.eval(x, &[x.len()])?.float;
    let clamped: Vec<f32> = x.iter().map(|v| v.clamp(-crate::quant::HARDWARE_INPUT_LIMIT, crate::quant::HARDWARE_INPUT_LIMIT)).collect();
    let e = q.eval(&clamped, &[x.len()])?;
    let scale = e.scale.as_ref().and_then(|s| s.expand(&[x.len()]).ok());
    let xq: Vec<f32> = (0..x.len()).map(|i| scale.as_ref().map_or(e.grid[i], |s| s[i] * e.grid[i])).collect();
    // NaN and infinities too: QKeras gives NaN for them (inf - inf).
    let lost = (0..x.len()).filter(|&i| float[i] != xq[i]).collect();
    Ok((lost, float, xq))
}

/// A progress bar that appears only once a run has taken a second (and
/// only on a terminal: indicatif draws nothing when stderr is not one).
pub(crate) struct Progress {
    bar: indicatif::ProgressBar,
    start: std::time::Instant,
}

impl Progress {
    pub(crate) fn new(total: u64) -> Progress {
        let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::hidden());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} samples, {per_sec}, eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Progress { bar, start: std::time::Instant::now() }
    }
    pub(crate) fn inc(&self, k: u64) {
        self.show();
        self.bar.inc(k);
    }
    pub(crate) fn set(&self, pos: u64) {
        self.show();
        self.bar.set_position(pos);
    }
    fn show(&self) {
        if self.bar.is_hidden() && self.start.elapsed().as_secs_f64() > 1.0 {
            self.bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if !self.bar.is_hidden() {
            self.bar.finish_and_clear();
        }
    }
}

/// The input of generated hardware (DESIGN.md, numeric contract): the
/// model's input quantizer (a QActivation right after the Input layer) if
/// it has a fixed-point grid; else `--input-format` (or `[input]` in the
/// config); else `fixed<16,6>`, with a notice. Returns the spec, the input
/// quantizer float inputs go through (if any), and notices. A model with
/// several inputs: its first input's ([`hardware_inputs`] gives each).
pub fn hardware_input(
    g: &crate::ir::Graph,
    input_format: Option<crate::fxp::InputFormat>,
    config: &crate::passes::config::Config,
) -> Result<(InputSpec, Option<crate::quant::Quantizer>, Vec<String>)> {
    let (mut each, notes) = hardware_inputs(g, input_format, config)?;
    let (spec, q) = each.swap_remove(0);
    Ok((spec, q, notes))
}

/// [`hardware_input`] for each model input, in model order: each input's
/// own quantizer, else the one `--input-format` (or `[input]`), else
/// `fixed<16,6>`.
#[allow(clippy::type_complexity, reason = "one (spec, quantizer) per input, and the notices")]
pub fn hardware_inputs(
    g: &crate::ir::Graph,
    input_format: Option<crate::fxp::InputFormat>,
    config: &crate::passes::config::Config,
) -> Result<(Vec<(InputSpec, Option<crate::quant::Quantizer>)>, Vec<String>)> {
    let mut notes = vec![];
    if let Some(f) = input_format.or(config.input) {
        return Ok((vec![(InputSpec::of(f), None); g.inputs.len().max(1)], notes));
    }
    let ids: Vec<Option<crate::ir::LayerId>> = if g.inputs.is_empty() { vec![None] } else { g.inputs.iter().copied().map(Some).collect() };
    let mut out = vec![];
    let mut unquantized = vec![];
    for input in ids {
        let first = g.layers.iter().find(|l| l.inputs.len() == 1 && Some(l.inputs[0]) == input && l.op == crate::ir::Op::Activation);
        if let Some(l) = first
            && let crate::ir::Activation::Quantized(q) = &l.activation
            && let Some(crate::quant::Encoding::Fixed(f)) = q.encoding()
        {
            out.push((InputSpec::full(f), Some(q.clone())));
            continue;
        }
        unquantized.push(input.map_or_else(String::new, |i| g.layers[i.0].name.clone()));
        out.push((InputSpec::full(FixedFormat { width: 16, frac: 10, signed: true }), None));
    }
    if !unquantized.is_empty() {
        let f = FixedFormat { width: 16, frac: 10, signed: true };
        // Batch 16: "inputs `img`, `raw` has no input quantizer (a
        // QActivation after its Input)".
        let several = unquantized.len() > 1;
        let which = if g.inputs.len() > 1 { format!("input{} `{}` {}", if several { "s" } else { "" }, unquantized.join("`, `"), if several { "have" } else { "has" }) } else { "the model has".into() };
        let its = if several { "their Inputs" } else { "its Input" };
        notes.push(format!(
            "{which} no input quantizer (a QActivation after {its}): the hardware input is {f} (ties to even, saturating); give --input-format to choose"
        ));
    }
    Ok((out, notes))
}

/// The model's outputs that are products QKeras computes in float32 (a
/// Multiply merge, an LSTM's o·q(c); through a concatenation, reshape or
/// a bidirectional wrapper). Where such a value is zero, QKeras's can be
/// −0.0 (a factor a quantizer rounded to −0.0, or a negative one, times
/// zero), where qkhw's code 0 is +0.0: equal as numbers, not bit for bit
/// (cross-check batch 16; `tests/xcheck_rnn.rs` counts them).
pub fn signed_zero_outputs(g: &crate::ir::Graph) -> Vec<String> {
    fn product(g: &crate::ir::Graph, l: &crate::ir::Layer) -> bool {
        use crate::ir::{Merge, Op, RnnCell};
        let lstm = |op: &Op| matches!(op, Op::Rnn { cell: RnnCell::Lstm, .. });
        match &l.op {
            Op::Merge(Merge::Multiply) => l.activation == crate::ir::Activation::Linear,
            Op::Rnn { .. } => lstm(&l.op),
            Op::Bidirectional { forward, backward, .. } => lstm(forward) || lstm(backward),
            Op::Merge(Merge::Concatenate(_)) | Op::Reshape { .. } | Op::Flatten | Op::Permute { .. } | Op::Dropout | Op::OutputPart { .. } => l.inputs.iter().any(|i| product(g, &g.layers[i.0])),
            _ => false,
        }
    }
    g.outputs.iter().map(|o| &g.layers[o.0]).filter(|l| product(g, l)).map(|l| l.name.clone()).collect()
}

/// What `gen` renders and `verify` checks: the plan of `g` for its
/// hardware input ([`hardware_input`]) with the outputs joined into one
/// port, and the notes to show the user.
pub fn hardware_plan(
    g: &crate::ir::Graph,
    input_format: Option<crate::fxp::InputFormat>,
    config: &crate::passes::config::Config,
) -> Result<(Plan, Vec<String>)> {
    let (each, mut notes) = hardware_inputs(g, input_format, config)?;
    let specs: Vec<InputSpec> = each.into_iter().map(|e| e.0).collect();
    let plan = crate::plan::plan_inputs(g, &specs, config)?.join_outputs();
    notes.extend(plan.notices.iter().cloned());
    Ok((plan, notes))
}

/// Input codes of float inputs for hardware: through the model's input
/// quantizer, or rounded to the input format.
pub fn hardware_codes(x: &[f32], shape: &[usize], spec: &InputSpec, q: Option<&crate::quant::Quantizer>) -> Result<Vec<i128>> {
    match q {
        Some(q) => {
            if let Some(i) = x.iter().position(|v| v.is_nan()) {
                return Err(Error::Usage(format!(
                    "input {}: NaN has no fixed-point code; replace NaNs in the input (e.g. numpy.nan_to_num)",
                    locate(i, shape)
                )));
            }
            let hw = q.hardware(x, &[x.len()])?;
            Ok(hw.codes.iter().map(|&c| c as i128).collect())
        }
        None => quantize_inputs(x, shape, spec.format()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `straight_through_loss` looks only at inputs of 2^(22 - frac) and
    /// more: below that bound QKeras's float32 x + (-x + xq) is xq for
    /// every value (random magnitudes up to the bound, and the floats just
    /// under it); above it a `quantized_bits` loses some.
    #[test]
    fn straight_through_is_exact_below_its_bound() {
        let mut seed = 7u64;
        for spec in ["quantized_bits(6,2,alpha=1)", "quantized_bits(8,0,alpha=1)", "quantized_bits(4,4,alpha=1)", "quantized_relu(6,2)", "quantized_bits(16,6,alpha=1)", "quantized_bits(3,1,1,alpha=1)"] {
            let q = crate::quant::Quantizer::parse(spec, Default::default()).unwrap();
            let Some(crate::quant::Encoding::Fixed(f)) = q.encoding() else { panic!("{spec}") };
            let big = pow2(22 - f.frac) as f32;
            let mut below: Vec<f32> = (0..20_000)
                .map(|_| {
                    let r = xorshift(&mut seed);
                    let mag = big * ((r >> 11) as f32 / (1u64 << 53) as f32).powi(4);
                    if r & 1 == 0 { mag } else { -mag }
                })
                .filter(|v| v.abs() < big)
                .collect();
            let mut edge = big;
            for _ in 0..200 {
                edge = f32::from_bits(edge.to_bits() - 1);
                below.extend([edge, -edge]);
            }
            let (lost, float, xq) = lost_to_straight_through(&q, &below).unwrap();
            assert!(lost.is_empty(), "{spec}: x = {}: {} for {}", below[lost[0]], float[lost[0]], xq[lost[0]]);
            let above: Vec<f32> = (0..200).map(|k| big * (1.0 + k as f32 / 7.0)).flat_map(|v| [v, -v]).collect();
            // (quantized_relu returns xq itself, no straight-through sum.)
            if spec.starts_with("quantized_bits") {
                assert!(!lost_to_straight_through(&q, &above).unwrap().0.is_empty(), "{spec}: nothing lost above the bound");
            }
        }
    }

    /// A float32 near its largest: QKeras's result is NaN (the scaling
    /// overflows), and the notice names the value qkhw computes, the
    /// saturated code's (it said "xq = NaN").
    #[test]
    fn a_huge_input_is_noticed_with_the_value_the_hardware_computes() {
        let q = crate::quant::Quantizer::parse("quantized_bits(6,2,alpha=1)", Default::default()).unwrap();
        let x = [3e38f32, 1e37, -3e38];
        let (lost, float, xq) = lost_to_straight_through(&q, &x).unwrap();
        assert_eq!(lost, [0, 1, 2]);
        assert!(float[0].is_nan(), "{float:?}");
        assert_eq!(xq, [3.875, 3.875, -4.0]);
        let hw = q.hardware(&x, &[3]).unwrap();
        assert_eq!(hw.codes, [31, 31, -32]);
        let note = straight_through_loss(&q, &x, &[3], "x").unwrap().unwrap();
        assert!(note.contains("QKeras NaN where xq = 3.875"), "{note}");
    }

    fn xorshift(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    /// The vectorized scan of the inputs equals the element-by-element
    /// definition (finest fraction of each nonzero normal value,
    /// subnormals flushed, extremes, non-finite values found) on edge values
    /// and random bit patterns.
    #[test]
    fn input_extent_equals_its_definition() {
        let reference = |x: &[f32]| -> (i32, f32, f32, bool) {
            let (mut frac, mut lo, mut hi) = (i32::MIN, 0f32, 0f32);
            for &v in x {
                let v = crate::quant::ops::ftz(v);
                if !v.is_finite() {
                    continue;
                }
                lo = lo.min(v);
                hi = hi.max(v);
                if v != 0.0 {
                    let bits = v.to_bits();
                    let e = ((bits >> 23) & 0xff) as i32 - 150 + (bits & 0x7f_ffff | 0x80_0000).trailing_zeros() as i32;
                    frac = frac.max(-e);
                }
            }
            (frac, lo, hi, x.iter().any(|v| !v.is_finite()))
        };
        let edges = [
            0.0f32, -0.0, 1.0, -1.0, 0.5, f32::MIN_POSITIVE, -f32::MIN_POSITIVE, f32::MAX, f32::MIN, 1.0e-45, -1.0e-40, 3.0e-39, f32::EPSILON, 1.0 + f32::EPSILON, -(1 << 23) as f32, 0.1, -0.3,
        ];
        let mut cases: Vec<Vec<f32>> = edges.iter().map(|&v| vec![v]).collect();
        cases.push(edges.to_vec());
        cases.push(vec![]);
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200 {
            let n = (xorshift(&mut seed) % 40) as usize;
            cases.push((0..n).map(|_| f32::from_bits(xorshift(&mut seed) as u32)).filter(|v| v.is_finite()).collect());
        }
        let mut with_nan = edges.to_vec();
        with_nan.push(f32::NAN);
        cases.push(with_nan);
        cases.push(vec![1.0, f32::INFINITY]);
        for x in &cases {
            let (f, lo, hi, bad) = input_extent(x);
            let (rf, rlo, rhi, rbad) = reference(x);
            assert_eq!(bad, rbad, "{x:?}");
            if !bad {
                assert_eq!((f, lo.to_bits() & 0x7fff_ffff, hi), (rf, rlo.to_bits() & 0x7fff_ffff, rhi), "{x:?}");
                assert_eq!((lo, hi), (rlo, rhi), "{x:?}");
            }
            let bits = |e: (i32, f32, f32, bool)| (e.0, e.1.to_bits(), e.2.to_bits(), e.3);
            assert_eq!(bits(input_extent_body(x)), bits(input_extent(x)), "portable and AVX2 bodies");
        }
        let x: Vec<f32> = (0..100_000).map(|k| (k as f32 - 5e4) * 1.0e-6).collect();
        let one = exact_inputs_threads(&x, &[x.len()], 1).unwrap();
        assert_eq!(exact_inputs_threads(&x, &[x.len()], 2).unwrap(), one);
        assert!(exact_inputs_threads(&[1.0, f32::NAN], &[2], 1).unwrap_err().to_string().contains("NaN"));
    }

    /// The float32 Dense skips flushing only where no value can be
    /// subnormal, and every path (portable with and without flushing,
    /// AVX2) gives the same bits: on quantized inputs and weights, and on
    /// tiny ones whose products underflow.
    #[test]
    fn float_dense_paths_agree_and_flush_only_when_needed() {
        let mut seed = 0x1234_5678_9ABC_DEF1u64;
        let mut rand = |scale: f32| ((xorshift(&mut seed) >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * scale;
        for (rows, n_in, n_out) in [(1usize, 3usize, 1usize), (9, 16, 5), (17, 32, 13), (8, 5, 8), (3, 64, 20)] {
            // Codes on a grid (QKeras's quantized activations) times float weights.
            let x: Vec<f32> = (0..rows * n_in).map(|_| (rand(64.0)).round() / 16.0).collect();
            let w: Vec<f32> = (0..n_in * n_out).map(|_| rand(2.0)).collect();
            let b: Vec<f32> = (0..n_out).map(|_| rand(1.0)).collect();
            assert!(never_subnormal(&x, &w, &b));
            let flushed = float_dense_body::<true>(&x, rows, n_in, n_out, &w, &b);
            assert_eq!(float_dense_body::<false>(&x, rows, n_in, n_out, &w, &b), flushed);
            assert_eq!(float_dense(&x, rows, n_in, n_out, &w, &b), flushed);
            // Tiny values: products and sums underflow, and a subnormal input.
            let mut xt: Vec<f32> = x.iter().map(|v| v * 1.0e-20).collect();
            xt[0] = 1.0e-40;
            let wt: Vec<f32> = w.iter().map(|v| v * 1.0e-19).collect();
            assert!(!never_subnormal(&xt, &wt, &b));
            let flushed = float_dense_body::<true>(&xt, rows, n_in, n_out, &wt, &b);
            assert_eq!(float_dense(&xt, rows, n_in, n_out, &wt, &b), flushed);
            assert!(never_subnormal(&x, &w, &b) && !never_subnormal(&[1.0e-20], &[1.0e-19], &[0.0]));
        }
    }
}
