//! The integer kernels of the golden model, generic over the code type.

use std::ops::{Add, Mul};

use crate::error::{Error, Result};
use crate::fxp::Code;
use crate::plan::{Act, Geo, MergeKind, Plan, StepOp};

use super::ChunkCodes;
use super::madd16::{self, Isa, Limbs, Weights16};

/// The multiply-accumulate type of a linear kernel: an integer code type,
/// or `f64` holding integers below 2^53 (exact, and 4 lanes wide on AVX2).
pub trait Mac: Copy + Default + PartialEq + Add<Output = Self> + Mul<Output = Self> + std::iter::Sum {}
impl<T: Copy + Default + PartialEq + Add<Output = T> + Mul<Output = T> + std::iter::Sum> Mac for T {}

/// How a step's values are held between steps.
enum Buf<T> {
    /// Every code fits `i32`: the fast kernels read it directly.
    N(Vec<i32>),
    W(Vec<T>),
}

impl<T: Code> Buf<T> {
    fn wide(&self) -> std::borrow::Cow<'_, [T]> {
        match self {
            Buf::N(v) => std::borrow::Cow::Owned(v.iter().map(|&x| T::from_i64(x as i64)).collect()),
            Buf::W(v) => std::borrow::Cow::Borrowed(v),
        }
    }
    fn narrow(&self) -> std::borrow::Cow<'_, [i32]> {
        match self {
            Buf::N(v) => std::borrow::Cow::Borrowed(v),
            Buf::W(v) => std::borrow::Cow::Owned(v.iter().map(|x| x.to_i128() as i32).collect()),
        }
    }
    fn f64s(&self) -> Vec<f64> {
        match self {
            Buf::N(v) => v.iter().map(|&x| x as f64).collect(),
            Buf::W(v) => v.iter().map(|x| x.to_f64()).collect(),
        }
    }
    fn to_i128(&self) -> Vec<i128> {
        match self {
            Buf::N(v) => v.iter().map(|&x| x as i128).collect(),
            Buf::W(v) => v.iter().map(|x| x.to_i128()).collect(),
        }
    }
}

/// Which arithmetic a linear step runs in, decided once per run from the
/// exact ranges of the plan: `i32` when inputs, constants and (bounded)
/// accumulators fit 31 bits, `f64` when they stay below 2^53 (every
/// product and partial sum is then an exactly representable integer:
/// partial sums stay within the accumulator bound, see
/// `plan::lower`'s `conv_step`), else the code type.
enum Lin<T> {
    /// 16-bit inputs and weights, outputs in `i32`: pairs of products per
    /// 32-bit lane (Dense and Conv, see [`madd16`]).
    S(Weights16),
    /// Wide inputs, 16-bit weights: as many 16-bit passes as the inputs
    /// have signed 16-bit digits (Dense on an `i64` plan, see
    /// [`madd16::limbs`]).
    L(Limbs),
    N(Vec<i32>, Vec<i32>),
    F(Vec<f64>, Vec<f64>),
    W(Vec<T>, Vec<T>),
}

fn within(v: i128, bits: u32) -> bool {
    v.unsigned_abs() < 1u128 << bits
}

fn lin<T: Code>(plan: &Plan, step: usize, w: &[i128], b: &[i128]) -> Lin<T> {
    let s = &plan.steps[step];
    let x = &plan.steps[s.inputs[0]];
    let all = |bits: u32| {
        [x.lo, x.hi, s.lo, s.hi].iter().all(|&v| within(v, bits)) && w.iter().chain(b).all(|&v| within(v, bits))
    };
    let matrix = match &s.op {
        StepOp::Dense { n_in, n_out, .. } => Some((*n_in, *n_out)),
        StepOp::Conv { geo: g, .. } => Some((g.kh * g.kw * g.cin, g.cout)),
        _ => None,
    };
    if let Some((n_in, n_out)) = matrix.filter(|_| madd16::fits(x.lo, x.hi, w, b, s.lo, s.hi)) {
        Lin::S(match &s.op {
            StepOp::Conv { geo, .. } => madd16::conv_weights(w, b, geo),
            _ => Weights16::new(w, b, n_in, n_out),
        })
    } else if let Some(((n_in, n_out), k)) = matrix
        .filter(|_| i64::try_from(s.lo).is_ok() && i64::try_from(s.hi).is_ok())
        .and_then(|m| madd16::limbs(x.lo, x.hi, w, m.1).map(|k| (m, k)))
    {
        Lin::L(Limbs::new(w, b, n_in, n_out, k))
    } else if all(31) {
        Lin::N(w.iter().map(|&v| v as i32).collect(), b.iter().map(|&v| v as i32).collect())
    } else if all(53) {
        Lin::F(w.iter().map(|&v| v as f64).collect(), b.iter().map(|&v| v as f64).collect())
    } else {
        Lin::W(cv(w), cv(b))
    }
}

/// A step's constants in the forms its kernel reads, prepared once per run.
pub struct Prepared<T> {
    lin: Vec<Option<Lin<T>>>,
    isa: Isa,
    /// Whether the step's output fits `i32` (kept narrow).
    narrow_out: Vec<bool>,
    /// Computed by their reader ([`fused_affines`]).
    fused: Vec<bool>,
}

/// Affine steps wider than 63 bits whose only reader is a fixed-grid
/// requantizer into an `i32` range (a float batch norm's exact product
/// before its quantizer, on raw inputs) and that nothing keeps: that
/// requantizer computes them itself, element by element in `i128`
/// ([`affine_grid`]), so the rest of the plan runs on `i64` codes.
pub(crate) fn fused_affines(plan: &Plan, kept: &[bool]) -> Vec<bool> {
    let readers = |s: usize| plan.steps.iter().enumerate().filter(move |(_, st)| st.inputs.contains(&s)).map(|(r, _)| r);
    (0..plan.steps.len())
        .map(|s| {
            let st = &plan.steps[s];
            let wide_affine = matches!(st.op, StepOp::Affine { .. }) && st.fmt.width > 63 && st.inputs.len() == 1 && plan.steps[st.inputs[0]].fmt.width <= 63;
            let mut rs = readers(s);
            wide_affine
                && !kept[s]
                && !plan.outputs.contains(&s)
                && match (rs.next(), rs.next()) {
                    (Some(r), None) => match &plan.steps[r].op {
                        StepOp::Act(Act::Grid { out_frac, .. }) => {
                            within(plan.steps[r].lo, 31) && within(plan.steps[r].hi, 31) && (1..=126).contains(&(st.fmt.frac - out_frac))
                        }
                        _ => false,
                    },
                    _ => false,
                }
        })
        .collect()
}

/// The widest codes the golden model holds for `plan` (its steps but the
/// fused ones): more than 63 bits takes `i128`.
pub(crate) fn code_width(plan: &Plan, fused: &[bool]) -> u32 {
    plan.steps.iter().zip(fused).filter(|(_, f)| !**f).map(|(s, _)| s.fmt.width).max().unwrap_or(1)
}

pub fn prepare<T: Code>(plan: &Plan, fused: Vec<bool>) -> Prepared<T> {
    let lin = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| match &s.op {
            StepOp::Dense { w, b, .. } | StepOp::Conv { w, b, .. } | StepOp::Depthwise { w, b, .. } => Some(lin::<T>(plan, i, w, b)),
            _ => None,
        })
        .collect();
    let narrow_out = plan.steps.iter().map(|s| within(s.lo, 31) && within(s.hi, 31)).collect();
    Prepared { lin, isa: Isa::detect(), narrow_out, fused }
}

impl<T> Prepared<T> {
    /// Whether step `s`'s codes are held as `i32`.
    pub fn narrow(&self, s: usize) -> bool {
        self.narrow_out[s]
    }
}

/// The arithmetic each step of `plan` runs in (`None`: not a linear step),
/// as `qkhw inspect --plan` shows it.
pub fn linear_kernels(plan: &Plan) -> Vec<Option<String>> {
    let kept: Vec<bool> = (0..plan.steps.len()).map(|i| plan.outputs.contains(&i)).collect();
    let fused = fused_affines(plan, &kept);
    let wide = code_width(plan, &fused) > 63;
    let prep = prepare::<i64>(plan, fused);
    let isa = prep.isa;
    prep.lin
        .iter()
        .map(|l| {
            l.as_ref().map(|l| match l {
                Lin::S(_) => format!("i16 pairs -> i32 ({})", isa.describe()),
                Lin::L(l) => format!("{} passes of 16-bit digits, i16 pairs -> i32 ({}), summed in i64", l.digits(), isa.describe()),
                Lin::N(..) => "i32".to_string(),
                Lin::F(..) => "f64 (exact integers below 2^53)".to_string(),
                Lin::W(..) => if wide { "i128" } else { "i64" }.to_string(),
            })
        })
        .collect()
}

/// Run a linear kernel in the arithmetic the plan allows (see [`Lin`]).
macro_rules! linear {
    ($l:expr, $x:expr, |$w:ident, $b:ident, $xs:ident| $call:expr) => {
        match $l {
            Lin::S(_) | Lin::L(_) => unreachable!("16-bit steps are matched before"),
            Lin::N($w, $b) => {
                let $xs = $x.narrow();
                Buf::N($call)
            }
            Lin::F($w, $b) => {
                let $xs = $x.f64s();
                Buf::W($call.into_iter().map(|f: f64| T::from_i64(f as i64)).collect())
            }
            Lin::W($w, $b) => {
                let $xs = $x.wide();
                Buf::W($call)
            }
        }
    };
}

/// Codes the plan proves fit `i64`, as `i64` (borrowed when they are).
fn as_i64<T: Code>(x: &[T]) -> std::borrow::Cow<'_, [i64]> {
    match T::i64s(x) {
        Some(v) => std::borrow::Cow::Borrowed(v),
        None => std::borrow::Cow::Owned(x.iter().map(|v| v.to_i128() as i64).collect()),
    }
}

fn cv<T: Code>(v: &[i128]) -> Vec<T> {
    v.iter().map(|&x| T::from_i128(x)).collect()
}

/// Every step on one chunk of `m` samples; returns the kept steps' codes.
/// One chunk of `m` samples; `inputs[k]` holds the codes of the model's
/// input `k` (`plan.inputs[k]`).
pub(crate) fn run_chunk<T: Code>(plan: &Plan, prep: &Prepared<T>, inputs: &[ChunkCodes], m: usize, kept: &[bool]) -> Result<Vec<Option<Vec<i128>>>> {
    let mut bufs: Vec<Option<Buf<T>>> = (0..plan.steps.len()).map(|_| None).collect();
    // Last reader of each step, to free buffers early.
    let mut last_use = vec![0usize; plan.steps.len()];
    for (i, s) in plan.steps.iter().enumerate() {
        for &x in &s.inputs {
            last_use[x] = i;
            // A fused affine's input is read by its reader.
            if prep.fused[x] {
                last_use[plan.steps[x].inputs[0]] = i;
            }
        }
    }
    // Steps nothing kept depends on are skipped (the integer logits when
    // only their float32 tail is asked for).
    let mut needed = kept.to_vec();
    for i in (0..plan.steps.len()).rev() {
        if needed[i] {
            for &x in &plan.steps[i].inputs {
                needed[x] = true;
            }
        }
    }
    let mut out: Vec<Option<Vec<i128>>> = vec![None; plan.steps.len()];
    for (i, s) in plan.steps.iter().enumerate() {
        if !needed[i] || prep.fused[i] {
            continue;
        }
        let size: usize = s.shape.iter().product();
        let y: Buf<T> = {
            let xb = |k: usize| -> Result<&Buf<T>> {
                bufs[s.inputs[k]].as_ref().ok_or_else(|| Error::Usage(format!("golden model: step {i} reads a freed buffer (a qkhw bug)")))
            };
            let x = |k: usize| -> Result<std::borrow::Cow<'_, [T]>> { Ok(xb(k)?.wide()) };
            let l = prep.lin[i].as_ref();
            match (&s.op, l) {
                (StepOp::Input, _) => {
                    let k = plan.inputs.iter().position(|&x| x == i).unwrap_or(0);
                    let input = inputs.get(k).ok_or_else(|| Error::Internal(format!("golden model: no codes for input {k}")))?;
                    match input {
                        ChunkCodes::Narrow(v) => Buf::N(v.clone()),
                        ChunkCodes::Wide(v) => Buf::W(v.iter().map(|&v| T::from_i128(v)).collect()),
                        ChunkCodes::Wide64(v) => Buf::W(v.iter().map(|&v| T::from_i64(v)).collect()),
                    }
                }
                (StepOp::Dense { rows, .. }, Some(Lin::S(k))) => Buf::N(madd16::dense(&xb(0)?.narrow(), m * rows, k, prep.isa)),
                (StepOp::Dense { rows, .. }, Some(Lin::L(l))) => {
                    let xs = x(0)?;
                    Buf::W(madd16::dense_limbs(&as_i64(&xs), m * rows, l, prep.isa).into_iter().map(T::from_i64).collect())
                }
                (StepOp::Conv { geo, .. }, Some(Lin::L(l))) => {
                    let xs = x(0)?;
                    Buf::W(madd16::conv_limbs(&as_i64(&xs), m, geo, l, prep.isa).into_iter().map(T::from_i64).collect())
                }
                (StepOp::Conv { geo, .. }, Some(Lin::S(k))) => Buf::N(madd16::conv(&xb(0)?.narrow(), m, geo, k, prep.isa)),
                (StepOp::Dense { rows, n_in, n_out, .. }, Some(l)) => {
                    linear!(l, xb(0)?, |w, b, xs| dense(&xs, m * rows, *n_in, *n_out, w, b))
                }
                (StepOp::Conv { geo, .. }, Some(l)) => linear!(l, xb(0)?, |w, b, xs| conv(&xs, m, geo, w, b)),
                (StepOp::Depthwise { geo, mult, .. }, Some(l)) => {
                    linear!(l, xb(0)?, |w, b, xs| depthwise(&xs, m, geo, *mult, w, b))
                }
                (StepOp::ConvT { geo, w, b }, _) => Buf::W(conv_t(&x(0)?, m, geo, &cv(w), &cv(b))),
                (StepOp::Affine { sub, mul, add }, _) => Buf::W(affine(&x(0)?, &cv(sub), &cv(mul), &cv(add))),
                (StepOp::Act(Act::Grid { out_frac, min, max }), _) if prep.fused[s.inputs[0]] => {
                    let a = &plan.steps[s.inputs[0]];
                    let StepOp::Affine { sub, mul, add } = &a.op else {
                        return Err(Error::Internal(format!("golden model: step {i} reads a fused step that is not an affine")));
                    };
                    let xs = bufs[a.inputs[0]].as_ref().ok_or_else(|| Error::Internal(format!("golden model: step {i} reads a freed buffer")))?.wide();
                    Buf::N(affine_grid(&xs, sub, mul, add, (a.fmt.frac - out_frac) as u32, *min as i32, *max as i32))
                }
                (StepOp::Act(Act::Grid { out_frac, min, max }), _)
                    if prep.narrow_out[s.inputs[0]] && prep.narrow_out[i] && plan.steps[s.inputs[0]].fmt.frac - out_frac >= 0 =>
                {
                    let d = (plan.steps[s.inputs[0]].fmt.frac - out_frac) as u32;
                    Buf::N(grid_i32(&xb(0)?.narrow(), d, *min as i32, *max as i32))
                }
                (StepOp::Act(Act::Grid { out_frac, min, max }), _)
                    if prep.narrow_out[i] && (1..=126).contains(&(plan.steps[s.inputs[0]].fmt.frac - out_frac)) =>
                {
                    // Wide codes into an i32 range: the i64 kernel where the
                    // codes are i64 (it vectorizes), else the i128 one.
                    let d = (plan.steps[s.inputs[0]].fmt.frac - out_frac) as u32;
                    let xs = x(0)?;
                    Buf::N(match T::i64s(&xs) {
                        Some(v) if d <= 62 => grid_i64(v, d, *min as i32, *max as i32),
                        _ => grid_to_i32(&xs, d, *min as i32, *max as i32),
                    })
                }
                (StepOp::Act(a), _) => Buf::W(act(&x(0)?, a, plan.steps[s.inputs[0]].fmt.frac)?),
                (StepOp::Pool { geo, max, mult }, _) => Buf::W(pool(&x(0)?, m, geo, *max, &cv(mult))),
                (StepOp::GlobalPool { hw, c, max, mult, .. }, _) => Buf::W(global_pool(&x(0)?, m, *hw, *c, *max, T::from_i128(*mult))),
                (StepOp::Identity, _) => match xb(0)? {
                    Buf::N(v) => Buf::N(v.clone()),
                    Buf::W(v) => Buf::W(v.clone()),
                },
                (StepOp::ZeroPad { in_shape, pads }, _) => Buf::W(zero_pad(&x(0)?, m, in_shape, pads)),
                (StepOp::Gather { idx }, _) => {
                    let xs = x(0)?;
                    let per = xs.len() / m.max(1);
                    Buf::W((0..m).flat_map(|s| idx.iter().map(move |&j| (s, j))).map(|(s, j)| xs[s * per + j as usize]).collect())
                }
                (StepOp::Merge { kind: kind @ (MergeKind::Add | MergeKind::Average(_) | MergeKind::Subtract), shifts }, _)
                    if prep.narrow_out[i] && shifts.iter().all(|&v| v < 32) && s.inputs.iter().all(|&k| matches!(bufs[k], Some(Buf::N(_)))) =>
                {
                    let ins: Vec<&[i32]> = s.inputs.iter().filter_map(|&k| if let Some(Buf::N(v)) = &bufs[k] { Some(v.as_slice()) } else { None }).collect();
                    Buf::N(merge_i32(&ins, shifts, *kind == MergeKind::Subtract))
                }
                (StepOp::Merge { kind, shifts }, _) => {
                    let ins: Vec<std::borrow::Cow<'_, [T]>> = (0..s.inputs.len()).map(x).collect::<Result<_>>()?;
                    let refs: Vec<&[T]> = ins.iter().map(|c| c.as_ref()).collect();
                    Buf::W(merge(&refs, kind, shifts))
                }
                (StepOp::Concat { axis, shifts }, _) => {
                    let ins: Vec<std::borrow::Cow<'_, [T]>> = (0..s.inputs.len()).map(x).collect::<Result<_>>()?;
                    let refs: Vec<(&[T], &[usize])> =
                        ins.iter().enumerate().map(|(k, c)| (c.as_ref(), plan.steps[s.inputs[k]].shape.as_slice())).collect();
                    Buf::W(concat(&refs, m, *axis, shifts))
                }
                (StepOp::Exceptions { fixes }, _) => {
                    let (xs, ys) = (x(0)?, x(1)?);
                    let c = fixes.len().max(1);
                    Buf::W(
                        xs.iter()
                            .zip(ys.iter())
                            .enumerate()
                            .map(|(k, (xv, yv))| {
                                let list = &fixes[k % c];
                                match list.binary_search_by(|p| p.0.cmp(&xv.to_i128())) {
                                    Ok(j) => T::from_i128(list[j].1),
                                    Err(_) => *yv,
                                }
                            })
                            .collect(),
                    )
                }
                (StepOp::ArgMax { n }, _) => {
                    let xs = x(0)?;
                    Buf::W(
                        xs.chunks(*n)
                            .map(|c| {
                                let best = c.iter().enumerate().fold(0, |b, (k, v)| if *v > c[b] { k } else { b });
                                T::from_i64(best as i64)
                            })
                            .collect(),
                    )
                }
                (op, None) => return Err(Error::Usage(format!("golden model: step {i} ({op:?}) was not prepared (a qkhw bug)"))),
            }
        };
        let len = match &y {
            Buf::N(v) => v.len(),
            Buf::W(v) => v.len(),
        };
        if len != m * size {
            return Err(Error::Usage(format!("golden model: step {i} produced {len} codes, expected {}", m * size)));
        }
        if kept[i] {
            out[i] = Some(y.to_i128());
        }
        bufs[i] = Some(y);
        for &x in &s.inputs {
            if last_use[x] == i && !kept[x] {
                bufs[x] = None;
            }
        }
    }
    Ok(out)
}

/// `dense`, compiled for AVX2 + FMA when the CPU has them (detected at
/// run time; integer and exact-f64 results are the same either way).
fn dense<T: Mac>(x: &[T], rows: usize, n_in: usize, n_out: usize, w: &[T], b: &[T]) -> Vec<T> {
    #[cfg(target_arch = "x86_64")]
    if madd16::avx2() {
        // SAFETY: the CPU supports AVX2 and FMA (`madd16::avx2`).
        return unsafe { dense_avx2(x, rows, n_in, n_out, w, b) };
    }
    dense_body(x, rows, n_in, n_out, w, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dense_avx2<T: Mac>(x: &[T], rows: usize, n_in: usize, n_out: usize, w: &[T], b: &[T]) -> Vec<T> {
    dense_body(x, rows, n_in, n_out, w, b)
}

#[inline(always)]
fn dense_body<T: Mac>(x: &[T], rows: usize, n_in: usize, n_out: usize, w: &[T], b: &[T]) -> Vec<T> {
    // Register-blocked: 16 outputs accumulate in registers over all inputs,
    // so each multiply-add loads one weight and stores nothing.
    const B: usize = 16;
    let mut y = vec![T::default(); rows * n_out];
    let full = n_out / B * B;
    for r in 0..rows {
        let xr = &x[r * n_in..(r + 1) * n_in];
        let yr = &mut y[r * n_out..(r + 1) * n_out];
        for j0 in (0..full).step_by(B) {
            let mut acc = [T::default(); B];
            acc.copy_from_slice(&b[j0..j0 + B]);
            for (i, &xi) in xr.iter().enumerate() {
                let wr = &w[i * n_out + j0..i * n_out + j0 + B];
                for k in 0..B {
                    acc[k] = acc[k] + xi * wr[k];
                }
            }
            yr[j0..j0 + B].copy_from_slice(&acc);
        }
        if full < n_out {
            let yt = &mut yr[full..];
            yt.copy_from_slice(&b[full..]);
            for (i, &xi) in xr.iter().enumerate() {
                let wr = &w[i * n_out + full..(i + 1) * n_out];
                for (yj, &wj) in yt.iter_mut().zip(wr) {
                    *yj = *yj + xi * wj;
                }
            }
        }
    }
    y
}

/// `conv`, compiled for AVX2 + FMA when the CPU has them (detected at
/// run time; integer and exact-f64 results are the same either way).
fn conv<T: Mac>(x: &[T], m: usize, g: &Geo, w: &[T], b: &[T]) -> Vec<T> {
    #[cfg(target_arch = "x86_64")]
    if madd16::avx2() {
        // SAFETY: the CPU supports AVX2 and FMA (`madd16::avx2`).
        return unsafe { conv_avx2(x, m, g, w, b) };
    }
    conv_body(x, m, g, w, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn conv_avx2<T: Mac>(x: &[T], m: usize, g: &Geo, w: &[T], b: &[T]) -> Vec<T> {
    conv_body(x, m, g, w, b)
}

/// The window walk shared by the convolutions: for every sample and output
/// position, `acc` starts at the bias and `f(acc, x at the tap, tap index)`
/// runs for each kernel tap inside the input (padding contributes nothing).
#[inline(always)]
fn windowed<T: Mac>(x: &[T], m: usize, g: &Geo, b: &[T], mut f: impl FnMut(&mut [T], &[T], usize)) -> Vec<T> {
    let (isz, osz) = (g.in_h * g.in_w * g.cin, g.out_h * g.out_w * g.cout);
    let mut y = vec![T::default(); m * osz];
    for s in 0..m {
        let xs = &x[s * isz..(s + 1) * isz];
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let yo = s * osz + (oy * g.out_w + ox) * g.cout;
                let acc = &mut y[yo..yo + g.cout];
                acc.copy_from_slice(b);
                for ky in 0..g.kh {
                    let Some(iy) = g.in_row(oy, ky) else { continue };
                    for kx in 0..g.kw {
                        let Some(ix) = g.in_col(ox, kx) else { continue };
                        f(acc, &xs[(iy * g.in_w + ix) * g.cin..][..g.cin], ky * g.kw + kx);
                    }
                }
            }
        }
    }
    y
}

#[inline(always)]
fn conv_body<T: Mac>(x: &[T], m: usize, g: &Geo, w: &[T], b: &[T]) -> Vec<T> {
    windowed(x, m, g, b, |acc, xi, k| {
        let wk = &w[k * g.cin * g.cout..];
        for (ci, &xv) in xi.iter().enumerate() {
            if xv == T::default() {
                continue;
            }
            for (a, &wv) in acc.iter_mut().zip(&wk[ci * g.cout..(ci + 1) * g.cout]) {
                *a = *a + xv * wv;
            }
        }
    })
}

/// `depthwise`, compiled for AVX2 + FMA when the CPU has them (detected at
/// run time; integer and exact-f64 results are the same either way).
fn depthwise<T: Mac>(x: &[T], m: usize, g: &Geo, mult: usize, w: &[T], b: &[T]) -> Vec<T> {
    #[cfg(target_arch = "x86_64")]
    if madd16::avx2() {
        // SAFETY: the CPU supports AVX2 and FMA (`madd16::avx2`).
        return unsafe { depthwise_avx2(x, m, g, mult, w, b) };
    }
    depthwise_body(x, m, g, mult, w, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn depthwise_avx2<T: Mac>(x: &[T], m: usize, g: &Geo, mult: usize, w: &[T], b: &[T]) -> Vec<T> {
    depthwise_body(x, m, g, mult, w, b)
}

#[inline(always)]
fn depthwise_body<T: Mac>(x: &[T], m: usize, g: &Geo, mult: usize, w: &[T], b: &[T]) -> Vec<T> {
    windowed(x, m, g, b, |acc, xi, k| {
        let wk = &w[k * g.cin * mult..][..g.cin * mult];
        if mult == 1 {
            // Lane by lane (it vectorizes): no index division.
            for ((a, &xv), &wv) in acc.iter_mut().zip(xi).zip(wk) {
                *a = *a + xv * wv;
            }
            return;
        }
        for (o, a) in acc.iter_mut().enumerate() {
            *a = *a + xi[o / mult] * wk[o];
        }
    })
}

/// TF's conv2d_transpose: each input scatters into a full-size output,
/// cropped by `pad_top` / `pad_left`. Kernel layout (kh, kw, cout, cin).
fn conv_t<T: Code>(x: &[T], m: usize, g: &Geo, w: &[T], b: &[T]) -> Vec<T> {
    let (isz, osz) = (g.in_h * g.in_w * g.cin, g.out_h * g.out_w * g.cout);
    let mut y = vec![T::ZERO; m * osz];
    for s in 0..m {
        let ys = &mut y[s * osz..(s + 1) * osz];
        for p in ys.chunks_mut(g.cout) {
            p.copy_from_slice(b);
        }
        let xs = &x[s * isz..(s + 1) * isz];
        for iy in 0..g.in_h {
            for ix in 0..g.in_w {
                let xi = &xs[(iy * g.in_w + ix) * g.cin..][..g.cin];
                for ky in 0..g.kh {
                    let Some(oy) = g.out_row(iy, ky) else { continue };
                    for kx in 0..g.kw {
                        let Some(ox) = g.out_col(ix, kx) else { continue };
                        let acc = &mut ys[(oy * g.out_w + ox) * g.cout..][..g.cout];
                        let wk = &w[(ky * g.kw + kx) * g.cout * g.cin..];
                        for (co, a) in acc.iter_mut().enumerate() {
                            let wr = &wk[co * g.cin..(co + 1) * g.cin];
                            *a = *a + xi.iter().zip(wr).map(|(&xv, &wv)| xv * wv).sum::<T>();
                        }
                    }
                }
            }
        }
    }
    y
}

/// [`affine`] in `i128` then [`grid_to_i32`]'s rounding, element by
/// element (no `i128` buffer of the whole step).
fn affine_grid<T: Code>(x: &[T], sub: &[i128], mul: &[i128], add: &[i128], s: u32, lo: i32, hi: i32) -> Vec<i32> {
    let c = mul.len().max(1);
    let (half, mask) = (1u128 << (s - 1), (1u128 << s) - 1);
    let mut out = Vec::with_capacity(x.len());
    // Channels are the last axis: one pass per pixel, no index division.
    for px in x.chunks(c) {
        for (((&v, &sb), &m), &a) in px.iter().zip(sub).zip(mul).zip(add) {
            let v = (v.to_i128() - sb) * m + a;
            let q = v >> s;
            let up = ((v as u128) & mask) > half - (q & 1) as u128;
            out.push((q + i128::from(up)).clamp(lo as i128, hi as i128) as i32);
        }
    }
    out
}

fn affine<T: Code>(x: &[T], sub: &[T], mul: &[T], add: &[T]) -> Vec<T> {
    let c = mul.len().max(1);
    let mut y = Vec::with_capacity(x.len());
    for px in x.chunks(c) {
        y.extend(px.iter().zip(sub).zip(mul).zip(add).map(|(((&v, &sb), &m), &a)| (v - sb) * m + a));
    }
    y
}

/// An activation on a step's codes: [`Act::apply`], compiled a second
/// time for AVX2 (its wide round-and-clamp loop vectorizes there).
fn act<T: Code>(x: &[T], a: &Act, in_frac: i32) -> Result<Vec<T>> {
    #[cfg(target_arch = "x86_64")]
    if madd16::avx2() {
        // SAFETY: the CPU supports AVX2 (`madd16::avx2`).
        return unsafe { act_avx2(x, a, in_frac) };
    }
    a.apply(x, in_frac)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn act_avx2<T: Code>(x: &[T], a: &Act, in_frac: i32) -> Result<Vec<T>> {
    a.apply(x, in_frac)
}

/// The fixed-grid requantizer from any codes to an `i32` range
/// (`1 ≤ s ≤ 126`), in `i128`: a batch norm's wide output into its
/// activation.
fn grid_to_i32<T: Code>(x: &[T], s: u32, lo: i32, hi: i32) -> Vec<i32> {
    let (half, mask) = (1u128 << (s - 1), (1u128 << s) - 1);
    let mut y = vec![0i32; x.len()];
    for (d, v) in y.iter_mut().zip(x) {
        let v = v.to_i128();
        let q = v >> s;
        let up = ((v as u128) & mask) > half - (q & 1) as u128;
        *d = (q + i128::from(up)).clamp(lo as i128, hi as i128) as i32;
    }
    y
}

/// The fixed-grid requantizer from wide `i64` codes to an `i32` range
/// (`1 ≤ s ≤ 62`): the activation after a Dense of raw float inputs.
fn grid_i64(x: &[i64], s: u32, lo: i32, hi: i32) -> Vec<i32> {
    #[cfg(target_arch = "x86_64")]
    if madd16::avx2() {
        // SAFETY: the CPU supports AVX2 (`madd16::avx2`).
        return unsafe { grid_i64_avx2(x, s, lo, hi) };
    }
    grid_i64_body(x, s, lo, hi)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn grid_i64_avx2(x: &[i64], s: u32, lo: i32, hi: i32) -> Vec<i32> {
    grid_i64_body(x, s, lo, hi)
}

#[inline(always)]
fn grid_i64_body(x: &[i64], s: u32, lo: i32, hi: i32) -> Vec<i32> {
    debug_assert!((1..=62).contains(&s));
    // floor(v / 2^s) by a logical shift of v + 2^63 (AVX2 has no 64-bit
    // arithmetic shift), then ties to even as in `grid_i32_body`.
    let (half, mask, bias) = (1i64 << (s - 1), (1i64 << s) - 1, 1i64 << (63 - s));
    let (lo, hi) = (lo as i64, hi as i64);
    let mut y = vec![0i32; x.len()];
    for (d, &v) in y.iter_mut().zip(x) {
        let q = (((v as u64) ^ (1 << 63)) >> s) as i64 - bias;
        let up = i64::from((v & mask) > half - (q & 1));
        *d = (q + up).clamp(lo, hi) as i32;
    }
    y
}

/// The fixed-grid requantizer on `i32` codes (ties to even, clamp): the
/// hot path of quantized_bits / quantized_relu activations.
fn grid_i32(x: &[i32], s: u32, lo: i32, hi: i32) -> Vec<i32> {
    #[cfg(target_arch = "x86_64")]
    if madd16::avx2() {
        // SAFETY: the CPU supports AVX2 (`madd16::avx2`).
        return unsafe { grid_i32_avx2(x, s, lo, hi) };
    }
    grid_i32_body(x, s, lo, hi)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn grid_i32_avx2(x: &[i32], s: u32, lo: i32, hi: i32) -> Vec<i32> {
    grid_i32_body(x, s, lo, hi)
}

#[inline(always)]
fn grid_i32_body(x: &[i32], s: u32, lo: i32, hi: i32) -> Vec<i32> {
    // Plain loops into a preallocated vector, so they are compiled (and
    // vectorized) inside the AVX2 function; an iterator's `collect` is a
    // separate generic function that is not.
    let mut y = vec![0i32; x.len()];
    if s == 0 {
        for (d, &v) in y.iter_mut().zip(x) {
            *d = v.clamp(lo, hi);
        }
        return y;
    }
    if s >= 32 {
        // |v| < 2^31 <= 2^(s-1): rounds to 0.
        y.fill(0i32.clamp(lo, hi));
        return y;
    }
    // All in i32 lanes (AVX2 has no 64-bit arithmetic shift): the
    // remainder is the low `s` bits, and `rem > half - odd` cannot overflow.
    let half = 1i32 << (s - 1);
    let mask = ((1u32 << s) - 1) as i32;
    for (d, &v) in y.iter_mut().zip(x) {
        let q = v >> s;
        let up = i32::from((v & mask) > half - (q & 1));
        *d = (q + up).clamp(lo, hi);
    }
    y
}

fn pool<T: Code>(x: &[T], m: usize, g: &Geo, max: bool, mult: &[T]) -> Vec<T> {
    let (isz, osz) = (g.in_h * g.in_w * g.cin, g.out_h * g.out_w * g.cout);
    let mut y = vec![T::ZERO; m * osz];
    for s in 0..m {
        let xs = &x[s * isz..(s + 1) * isz];
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let pos = oy * g.out_w + ox;
                for c in 0..g.cout {
                    let mut acc: Option<T> = None;
                    for ky in 0..g.kh {
                        let Some(iy) = g.in_row(oy, ky) else { continue };
                        for kx in 0..g.kw {
                            let Some(ix) = g.in_col(ox, kx) else { continue };
                            let v = xs[(iy * g.in_w + ix) * g.cin + c];
                            acc = Some(match acc {
                                None => v,
                                Some(a) if max => a.max(v),
                                Some(a) => a + v,
                            });
                        }
                    }
                    let a = acc.unwrap_or(T::ZERO);
                    y[s * osz + pos * g.cout + c] = if max { a } else { a * mult[pos] };
                }
            }
        }
    }
    y
}

fn global_pool<T: Code>(x: &[T], m: usize, hw: usize, c: usize, max: bool, mult: T) -> Vec<T> {
    let mut y = Vec::with_capacity(m * c);
    for s in 0..m {
        let xs = &x[s * hw * c..(s + 1) * hw * c];
        for ch in 0..c {
            let it = (0..hw).map(|p| xs[p * c + ch]);
            y.push(if max { it.max().unwrap_or(T::ZERO) } else { it.sum::<T>() * mult });
        }
    }
    y
}

fn zero_pad<T: Code>(x: &[T], m: usize, in_shape: &[usize], pads: &[(usize, usize)]) -> Vec<T> {
    let Some(g) = crate::plan::Geo::zero_pad(in_shape, pads) else {
        return x.to_vec();
    };
    let (c, ih, iw, pt, pl, oh, ow) = (g.cin, g.in_h, g.in_w, g.pad_top, g.pad_left, g.out_h, g.out_w);
    let mut y = vec![T::ZERO; m * oh * ow * c];
    for s in 0..m {
        for iy in 0..ih {
            for ix in 0..iw {
                let src = &x[s * ih * iw * c + (iy * iw + ix) * c..][..c];
                let d = s * oh * ow * c + ((iy + pt) * ow + ix + pl) * c;
                y[d..d + c].copy_from_slice(src);
            }
        }
    }
    y
}

/// Add (or subtract, two inputs) aligned `i32` codes whose result fits
/// `i32`: wrapping arithmetic is exact modulo 2^32, so the result is.
fn merge_i32(ins: &[&[i32]], shifts: &[u32], subtract: bool) -> Vec<i32> {
    let mut y: Vec<i32> = ins[0].iter().map(|&v| v.wrapping_shl(shifts[0])).collect();
    for (k, x) in ins.iter().enumerate().skip(1) {
        for (d, &v) in y.iter_mut().zip(x.iter()) {
            let v = v.wrapping_shl(shifts[k]);
            *d = if subtract { d.wrapping_sub(v) } else { d.wrapping_add(v) };
        }
    }
    y
}

fn merge<T: Code>(ins: &[&[T]], kind: &MergeKind, shifts: &[u32]) -> Vec<T> {
    let n = ins[0].len();
    (0..n)
        .map(|i| {
            let v = |k: usize| ins[k][i] << shifts[k];
            match kind {
                MergeKind::Add | MergeKind::Average(_) => (0..ins.len()).map(v).sum(),
                MergeKind::Subtract => v(0) - v(1),
                MergeKind::Maximum => (0..ins.len()).map(v).max().unwrap_or(T::ZERO),
                MergeKind::Minimum => (0..ins.len()).map(v).min().unwrap_or(T::ZERO),
                MergeKind::Multiply => (1..ins.len()).fold(ins[0][i], |a, k| a * ins[k][i]),
            }
        })
        .collect()
}

fn concat<T: Code>(ins: &[(&[T], &[usize])], m: usize, axis: usize, shifts: &[u32]) -> Vec<T> {
    // outer = product of dims before axis, inner = the axis and after.
    let outer: usize = ins[0].1[..axis].iter().product();
    let mut y = Vec::new();
    for s in 0..m {
        for o in 0..outer {
            for (k, (x, shape)) in ins.iter().enumerate() {
                let inner: usize = shape[axis..].iter().product();
                let size: usize = shape.iter().product();
                let src = &x[s * size + o * inner..][..inner];
                y.extend(src.iter().map(|&v| v << shifts[k]));
            }
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fxp::shr_even;
    use crate::plan::requantizer;
    use crate::quant::{InternalSigmoid, Quantizer};

    /// The integer requantizer of the fixed-grid quantizers equals the
    /// bit-exact float32 core on every input code of several formats.
    #[test]
    fn grid_requantizer_equals_the_quantizer_core() {
        let specs = [
            "quantized_bits(6,0,1)", "quantized_bits(4,2,0)", "quantized_bits(8,3,1,1)", "quantized_bits(5,0,0,0)",
            "quantized_bits(6,2,1,alpha=1)", "quantized_bits(2,0,1)", "quantized_bits(3,1,0,0)", "quantized_bits(8,0,1)",
            "quantized_bits(10,4,0)", "quantized_relu(6)", "quantized_relu(4,2)", "quantized_relu(8,3)",
            "quantized_relu(3,0)", "quantized_relu(6,6)",
        ];
        let mut checked = 0;
        for spec in specs {
            let q = Quantizer::parse(spec, InternalSigmoid::Hard).unwrap();
            let (grid, out_frac, ..) = requantizer(&q).unwrap();
            assert!(matches!(grid, Act::Grid { .. }), "{spec} should take the integer path");
            let generic = Act::Generic { q: q.clone(), out_frac };
            for (width, frac) in [(16u32, 10i32), (16, 4), (12, 12), (14, -2)] {
                let codes: Vec<i64> = (-(1i64 << (width - 1))..(1i64 << (width - 1))).collect();
                let a = act(&codes, &grid, frac).unwrap();
                let b = act(&codes, &generic, frac).unwrap();
                // The i32 fast path as run_chunk calls it.
                if let Act::Grid { out_frac, min, max } = &grid
                    && frac >= *out_frac {
                        let c32: Vec<i32> = codes.iter().map(|&c| c as i32).collect();
                        let n: Vec<i64> = grid_i32(&c32, (frac - out_frac) as u32, *min as i32, *max as i32).into_iter().map(i64::from).collect();
                        assert_eq!(n, a, "{spec} i32 path from frac {frac}");
                    }
                let bad = a.iter().zip(&b).position(|(x, y)| x != y);
                assert!(bad.is_none(), "{spec} from frac {frac}: code {} -> {} vs {}", codes[bad.unwrap()], a[bad.unwrap()], b[bad.unwrap()]);
                checked += codes.len();
            }
        }
        assert!(checked > 1_000_000);
    }

    /// The wide requantizers into `i32` (`grid_i64`, `grid_to_i32`), both
    /// their AVX2 and portable bodies, and the `i32` merge, against the
    /// exact `i128` rounding on codes at the edges: the extremes of the
    /// type, ties and their neighbours at every shift, and the clamp.
    #[test]
    fn wide_requantizers_and_merges_equal_the_exact_rounding_at_the_edges() {
        let exact = |v: i128, s: u32, lo: i32, hi: i32| shr_even(v, s).clamp(lo as i128, hi as i128) as i32;
        let mut checked = 0;
        for s in 1..=62u32 {
            let mut codes: Vec<i64> = vec![i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1, 0, 1, -1];
            for k in [s - 1, s, s + 1] {
                for m in [1i64, 3, 5, 7] {
                    for d in [-1i64, 0, 1] {
                        if let Some(v) = m.checked_shl(k).filter(|v| v.checked_shr(k) == Some(m)) {
                            codes.extend([v + d, -v + d]);
                        }
                    }
                }
            }
            for (lo, hi) in [(i32::MIN, i32::MAX), (0, 63), (-32, 31), (-3, 100)] {
                let want: Vec<i32> = codes.iter().map(|&v| exact(v as i128, s, lo, hi)).collect();
                assert_eq!(grid_i64(&codes, s, lo, hi), want, "grid_i64 s {s}");
                assert_eq!(grid_i64_body(&codes, s, lo, hi), want, "portable grid_i64 s {s}");
                let wide: Vec<i128> = codes.iter().map(|&v| v as i128 * 3).chain([i128::MAX, i128::MIN, i128::MIN + 1]).collect();
                let want: Vec<i32> = wide.iter().map(|&v| exact(v, s, lo, hi)).collect();
                assert_eq!(grid_to_i32(&wide, s, lo, hi), want, "grid_to_i32 s {s}");
                checked += 2 * codes.len() + wide.len();
            }
        }
        // grid_to_i32 up to its widest shift.
        for s in [63u32, 64, 100, 126] {
            let wide = [i128::MAX, i128::MIN, 1i128 << (s - 1), (1i128 << (s - 1)) * 3, -(1i128 << (s - 1)) * 3, 5i128 << s];
            let want: Vec<i32> = wide.iter().map(|&v| exact(v, s, -100, 100)).collect();
            assert_eq!(grid_to_i32(&wide, s, -100, 100), want, "grid_to_i32 s {s}");
        }
        assert!(checked > 10_000);
        // Merges wrap in i32 and stay exact where the result fits: a sum
        // whose aligned terms overflow i32 on their own.
        let (a, b) = ([i32::MAX, -5, 1 << 20], [-(i32::MAX - 7), 9, -(1 << 20)]);
        assert_eq!(merge_i32(&[&a, &b], &[0, 0], false), vec![7, 4, 0]);
        assert_eq!(merge_i32(&[&[3, -4], &[1, 1]], &[2, 0], true), vec![11, -17]);
        // 2^30 << 1 wraps to −2^31 on its own; the sum 2^31 − 2^30 fits.
        assert_eq!(merge_i32(&[&[1 << 30, 0], &[-(1 << 29), 5]], &[1, 1], false), vec![1 << 30, 10]);
    }

    /// The fused batch norm + requantizer equals the affine in `i128`
    /// followed by the requantizer, on codes at the edges of `i64` and
    /// constants of every sign, for several channel counts and shifts.
    #[test]
    fn fused_affine_grid_equals_affine_then_grid() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut checked = 0;
        for c in [1usize, 3, 4, 7] {
            for s in [1u32, 20, 63, 64, 70, 100] {
                let mut x: Vec<i64> = vec![i64::MIN, i64::MAX, 0, 1, -1, i64::MIN + 1];
                x.extend((0..8 * c).map(|_| (next() as i64) >> (next() % 64)));
                let x: Vec<i64> = x.iter().copied().cycle().take(x.len().div_ceil(c) * c).collect();
                let sub: Vec<i128> = (0..c).map(|_| (next() as i64 >> 40) as i128).collect();
                let mul: Vec<i128> = (0..c).map(|k| if k == 1 { 0 } else { (next() as i64 >> 44) as i128 }).collect();
                let add: Vec<i128> = (0..c).map(|_| (next() as i128) << 20).collect();
                let xw: Vec<i128> = x.iter().map(|&v| v as i128).collect();
                for (lo, hi) in [(0, 63), (-128, 127), (i32::MIN, i32::MAX)] {
                    let want = grid_to_i32(&affine::<i128>(&xw, &sub, &mul, &add), s, lo, hi);
                    assert_eq!(affine_grid(&x, &sub, &mul, &add, s, lo, hi), want, "c {c} s {s} ({lo}, {hi})");
                    checked += want.len();
                }
            }
        }
        assert!(checked > 1000);
    }

    /// On raw float inputs, cnn_bn's first batch norm is 75+ bits wide and
    /// only its ReLU reads it: fused, so the whole plan runs on `i64`
    /// codes; kept (a layer dump), it is not fused.
    #[test]
    fn a_wide_batch_norm_before_its_quantizer_is_fused() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/cnn_bn.keras");
        let g = crate::load_graph(path, crate::ir::BuildOptions::default()).unwrap();
        let x: Vec<f32> = (0..64).map(|i| if i % 2 == 0 { 3.0 - i as f32 * 0.01 } else { 1.0e-9 * i as f32 }).collect();
        let (fmt, lo, hi) = crate::golden::exact_inputs(&x, &[1, 8, 8, 1]).unwrap();
        let plan = crate::plan::plan_inputs(&g, &[crate::plan::InputSpec::exact(fmt, lo, hi)], &Default::default()).unwrap();
        assert!(plan.max_width > 63, "{}", plan.max_width);
        let outputs: Vec<bool> = (0..plan.steps.len()).map(|i| plan.outputs.contains(&i)).collect();
        let fused = fused_affines(&plan, &outputs);
        let names: Vec<&str> = fused.iter().enumerate().filter(|(_, f)| **f).filter_map(|(i, _)| plan.steps[i].layer.as_deref()).collect();
        assert_eq!(names, ["bn1"]);
        assert!(code_width(&plan, &fused) <= 63);
        assert!(!fused_affines(&plan, &vec![true; plan.steps.len()]).contains(&true));
    }
}
