//! The integer kernels of the golden model, generic over the code type.

use std::ops::{Add, Mul, Shl, Shr, Sub};

use crate::error::{Error, Result};
use crate::fxp::pow2;
use crate::passes::precision::{Act, Geo, MergeKind, Plan, StepOp};

/// A code type: `i64` (fast) or `i128` (wide).
pub trait Code:
    Copy
    + Ord
    + Default
    + Send
    + Sync
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Shl<u32, Output = Self>
    + Shr<u32, Output = Self>
    + std::iter::Sum
{
    fn from_i64(v: i64) -> Self;
    fn from_i128(v: i128) -> Self;
    fn to_i128(self) -> i128;
    const ZERO: Self;
}

impl Code for i64 {
    fn from_i64(v: i64) -> Self {
        v
    }
    fn from_i128(v: i128) -> Self {
        v as i64
    }
    fn to_i128(self) -> i128 {
        self as i128
    }
    const ZERO: Self = 0;
}

impl Code for i128 {
    fn from_i64(v: i64) -> Self {
        v as i128
    }
    fn from_i128(v: i128) -> Self {
        v
    }
    fn to_i128(self) -> i128 {
        self
    }
    const ZERO: Self = 0;
}

impl Code for i32 {
    fn from_i64(v: i64) -> Self {
        v as i32
    }
    fn from_i128(v: i128) -> Self {
        v as i32
    }
    fn to_i128(self) -> i128 {
        self as i128
    }
    const ZERO: Self = 0;
}

/// Whether a linear step can run in `i32`: its input codes, weights, bias
/// and (exactly bounded) accumulators all fit. Partial sums stay within
/// the bound too (see `precision::conv_step`), so nothing wraps.
fn fits_i32(plan: &Plan, step: usize, w: &[i128], b: &[i128]) -> bool {
    let s = &plan.steps[step];
    let x = &plan.steps[s.inputs[0]];
    let r = i32::MIN as i128..=i32::MAX as i128;
    r.contains(&x.lo) && r.contains(&x.hi) && r.contains(&s.lo) && r.contains(&s.hi)
        && w.iter().chain(b).all(|v| r.contains(v))
}

/// Run `f` in `i32` on `x`, converting in and out.
fn narrow<T: Code>(x: &[T], f: impl FnOnce(&[i32]) -> Vec<i32>) -> Vec<T> {
    let xi: Vec<i32> = x.iter().map(|v| v.to_i128() as i32).collect();
    f(&xi).into_iter().map(|v| T::from_i64(v as i64)).collect()
}

fn cv<T: Code>(v: &[i128]) -> Vec<T> {
    v.iter().map(|&x| T::from_i128(x)).collect()
}

/// Every step on one chunk of `m` samples; returns the kept steps' codes.
pub fn run_chunk<T: Code>(plan: &Plan, input: &[i128], m: usize, kept: &[bool]) -> Result<Vec<Option<Vec<i128>>>> {
    let mut bufs: Vec<Option<Vec<T>>> = vec![None; plan.steps.len()];
    // Last reader of each step, to free buffers early.
    let mut last_use = vec![0usize; plan.steps.len()];
    for (i, s) in plan.steps.iter().enumerate() {
        for &x in &s.inputs {
            last_use[x] = i;
        }
    }
    let mut out: Vec<Option<Vec<i128>>> = vec![None; plan.steps.len()];
    for (i, s) in plan.steps.iter().enumerate() {
        let size: usize = s.shape.iter().product();
        let y: Vec<T> = {
            let x = |k: usize| bufs[s.inputs[k]].as_deref().unwrap_or(&[]);
            match &s.op {
                StepOp::Input => input.iter().map(|&v| T::from_i128(v)).collect(),
                StepOp::Dense { rows, n_in, n_out, w, b } if fits_i32(plan, i, w, b) => {
                    narrow(x(0), |xi| dense(xi, m * rows, *n_in, *n_out, &cv(w), &cv(b)))
                }
                StepOp::Dense { rows, n_in, n_out, w, b } => dense(x(0), m * rows, *n_in, *n_out, &cv(w), &cv(b)),
                StepOp::Conv { geo, w, b } if fits_i32(plan, i, w, b) => narrow(x(0), |xi| conv(xi, m, geo, &cv(w), &cv(b))),
                StepOp::Conv { geo, w, b } => conv(x(0), m, geo, &cv(w), &cv(b)),
                StepOp::Depthwise { geo, mult, w, b } if fits_i32(plan, i, w, b) => {
                    narrow(x(0), |xi| depthwise(xi, m, geo, *mult, &cv(w), &cv(b)))
                }
                StepOp::Depthwise { geo, mult, w, b } => depthwise(x(0), m, geo, *mult, &cv(w), &cv(b)),
                StepOp::ConvT { geo, w, b } => conv_t(x(0), m, geo, &cv(w), &cv(b)),
                StepOp::Affine { sub, mul, add } => affine(x(0), &cv(sub), &cv(mul), &cv(add)),
                StepOp::Act(a) => act(x(0), a, plan.steps[s.inputs[0]].fmt.frac)?,
                StepOp::Pool { geo, max, mult } => pool(x(0), m, geo, *max, &cv(mult)),
                StepOp::GlobalPool { hw, c, max, mult } => global_pool(x(0), m, *hw, *c, *max, T::from_i128(*mult)),
                StepOp::Identity => x(0).to_vec(),
                StepOp::ZeroPad { in_shape, pads } => zero_pad(x(0), m, in_shape, pads),
                StepOp::Merge { kind, shifts } => {
                    let ins: Vec<&[T]> = (0..s.inputs.len()).map(x).collect();
                    merge(&ins, kind, shifts)
                }
                StepOp::Concat { axis, shifts } => {
                    let ins: Vec<(&[T], &[usize])> =
                        (0..s.inputs.len()).map(|k| (x(k), plan.steps[s.inputs[k]].shape.as_slice())).collect();
                    concat(&ins, m, *axis, shifts)
                }
            }
        };
        if y.len() != m * size {
            return Err(Error::Usage(format!("golden model: step {i} produced {} codes, expected {}", y.len(), m * size)));
        }
        if kept[i] {
            out[i] = Some(y.iter().map(|v| v.to_i128()).collect());
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

fn dense<T: Code>(x: &[T], rows: usize, n_in: usize, n_out: usize, w: &[T], b: &[T]) -> Vec<T> {
    let mut y = vec![T::ZERO; rows * n_out];
    for r in 0..rows {
        let xr = &x[r * n_in..(r + 1) * n_in];
        let yr = &mut y[r * n_out..(r + 1) * n_out];
        yr.copy_from_slice(b);
        for (i, &xi) in xr.iter().enumerate() {
            if xi == T::ZERO {
                continue;
            }
            let wr = &w[i * n_out..(i + 1) * n_out];
            for (yj, &wj) in yr.iter_mut().zip(wr) {
                *yj = *yj + xi * wj;
            }
        }
    }
    y
}

/// The input row/column a kernel tap reads, if inside the input.
#[inline]
fn tap(o: usize, s: usize, k: usize, d: usize, pad: usize, n: usize) -> Option<usize> {
    (o * s + k * d).checked_sub(pad).filter(|&v| v < n)
}

fn conv<T: Code>(x: &[T], m: usize, g: &Geo, w: &[T], b: &[T]) -> Vec<T> {
    let (isz, osz) = (g.in_h * g.in_w * g.cin, g.out_h * g.out_w * g.cout);
    let mut y = vec![T::ZERO; m * osz];
    for s in 0..m {
        let xs = &x[s * isz..(s + 1) * isz];
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let yo = s * osz + (oy * g.out_w + ox) * g.cout;
                let acc = &mut y[yo..yo + g.cout];
                acc.copy_from_slice(b);
                for ky in 0..g.kh {
                    let Some(iy) = tap(oy, g.sh, ky, g.dh, g.pad_top, g.in_h) else { continue };
                    for kx in 0..g.kw {
                        let Some(ix) = tap(ox, g.sw, kx, g.dw, g.pad_left, g.in_w) else { continue };
                        let xi = &xs[(iy * g.in_w + ix) * g.cin..][..g.cin];
                        let wk = &w[(ky * g.kw + kx) * g.cin * g.cout..];
                        for (ci, &xv) in xi.iter().enumerate() {
                            if xv == T::ZERO {
                                continue;
                            }
                            let wr = &wk[ci * g.cout..(ci + 1) * g.cout];
                            for (a, &wv) in acc.iter_mut().zip(wr) {
                                *a = *a + xv * wv;
                            }
                        }
                    }
                }
            }
        }
    }
    y
}

fn depthwise<T: Code>(x: &[T], m: usize, g: &Geo, mult: usize, w: &[T], b: &[T]) -> Vec<T> {
    let (isz, osz) = (g.in_h * g.in_w * g.cin, g.out_h * g.out_w * g.cout);
    let mut y = vec![T::ZERO; m * osz];
    for s in 0..m {
        let xs = &x[s * isz..(s + 1) * isz];
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let yo = s * osz + (oy * g.out_w + ox) * g.cout;
                let acc = &mut y[yo..yo + g.cout];
                acc.copy_from_slice(b);
                for ky in 0..g.kh {
                    let Some(iy) = tap(oy, g.sh, ky, g.dh, g.pad_top, g.in_h) else { continue };
                    for kx in 0..g.kw {
                        let Some(ix) = tap(ox, g.sw, kx, g.dw, g.pad_left, g.in_w) else { continue };
                        let xi = &xs[(iy * g.in_w + ix) * g.cin..][..g.cin];
                        let wk = &w[(ky * g.kw + kx) * g.cin * mult..][..g.cin * mult];
                        for (o, a) in acc.iter_mut().enumerate() {
                            *a = *a + xi[o / mult] * wk[o];
                        }
                    }
                }
            }
        }
    }
    y
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
                    let Some(oy) = (iy * g.sh + ky * g.dh).checked_sub(g.pad_top).filter(|&v| v < g.out_h) else { continue };
                    for kx in 0..g.kw {
                        let Some(ox) = (ix * g.sw + kx * g.dw).checked_sub(g.pad_left).filter(|&v| v < g.out_w) else { continue };
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

fn affine<T: Code>(x: &[T], sub: &[T], mul: &[T], add: &[T]) -> Vec<T> {
    let c = mul.len().max(1);
    x.iter().enumerate().map(|(i, &v)| (v - sub[i % c]) * mul[i % c] + add[i % c]).collect()
}

/// Ties-to-even right shift of a code.
#[inline]
fn shr_even<T: Code>(v: T, s: u32) -> T {
    if s == 0 {
        return v;
    }
    let one = T::from_i64(1);
    let q = v >> s; // floor
    let rem = v - (q << s);
    let half = one << (s - 1);
    if rem > half || (rem == half && (q.to_i128() & 1) == 1) { q + one } else { q }
}

fn act<T: Code>(x: &[T], a: &Act, in_frac: i32) -> Result<Vec<T>> {
    Ok(match a {
        Act::Relu => x.iter().map(|&v| v.max(T::ZERO)).collect(),
        Act::Grid { out_frac, min, max } => {
            let (lo, hi) = (T::from_i128(*min), T::from_i128(*max));
            let d = in_frac - out_frac;
            if d >= 0 {
                let s = d as u32;
                // Beyond the width of the type the quotient rounds to 0.
                if s >= 126 {
                    x.iter().map(|_| T::ZERO.clamp(lo, hi)).collect()
                } else {
                    x.iter().map(|&v| shr_even(v, s).clamp(lo, hi)).collect()
                }
            } else {
                let s = (-d) as u32;
                // Saturate before shifting so nothing overflows.
                let (l2, h2) = (lo.to_i128() >> s.min(126), hi.to_i128() >> s.min(126));
                x.iter()
                    .map(|&v| {
                        let c = v.to_i128().clamp(l2 - 1, h2 + 1);
                        T::from_i128((c << s).clamp(lo.to_i128(), hi.to_i128()))
                    })
                    .collect()
            }
        }
        Act::Generic { q, out_frac } => {
            // The value as QKeras holds it (float32), padded to whole
            // 8-element packets so every element takes TF's packet path.
            let mut xf: Vec<f32> = x.iter().map(|v| super::code_to_f32(v.to_i128(), in_frac)).collect();
            let n = xf.len();
            xf.resize(n.div_ceil(8) * 8, 0.0);
            let hw = q.hardware(&xf, &[xf.len()])?;
            let scale = pow2(*out_frac);
            (0..n)
                .map(|i| {
                    let v = hw.grid_value(i) * scale;
                    if v.fract() != 0.0 || !v.is_finite() {
                        return Err(Error::Usage(format!("`{}` output {v} is not on its grid (a qkhw bug)", q.spec)));
                    }
                    Ok(T::from_i128(v as i128))
                })
                .collect::<Result<_>>()?
        }
    })
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
                        let Some(iy) = tap(oy, g.sh, ky, 1, g.pad_top, g.in_h) else { continue };
                        for kx in 0..g.kw {
                            let Some(ix) = tap(ox, g.sw, kx, 1, g.pad_left, g.in_w) else { continue };
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
    let c = *in_shape.last().unwrap_or(&1);
    let sp = &in_shape[..in_shape.len() - 1];
    let (ih, iw, (pt, pb), (pl, pr)) = if sp.len() == 2 {
        (sp[0], sp[1], pads[0], pads[1])
    } else {
        (1, sp[0], (0, 0), pads[0])
    };
    let (oh, ow) = (ih + pt + pb, iw + pl + pr);
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
    use crate::passes::precision::requantizer;
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
                let bad = a.iter().zip(&b).position(|(x, y)| x != y);
                assert!(bad.is_none(), "{spec} from frac {frac}: code {} -> {} vs {}", codes[bad.unwrap()], a[bad.unwrap()], b[bad.unwrap()]);
                checked += codes.len();
            }
        }
        assert!(checked > 1_000_000);
    }

    #[test]
    fn ties_to_even_shift() {
        let v: Vec<i64> = vec![-6, -5, -3, -1, 1, 2, 3, 5, 6, 7];
        let r: Vec<i64> = v.iter().map(|&x| shr_even(x, 1)).collect();
        assert_eq!(r, vec![-3, -2, -2, 0, 0, 1, 2, 2, 3, 4]);
    }
}
