//! What an [`Act`] does to codes: one generic definition, run by the golden
//! model on its code types and by the analyses that tabulate activations.

use super::Act;
use crate::error::{Error, Result};
use crate::fxp::{Code, code_to_f32, pow2, shr_even};

impl Act {
    /// The activation on codes at `in_frac`, giving codes at its output
    /// fraction: the semantics the golden model runs (`crate::golden`) and
    /// the hardware's comparison chains tabulate (`crate::passes::segments`).
    pub fn apply<T: Code>(&self, x: &[T], in_frac: i32) -> Result<Vec<T>> {
        Ok(match self {
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
            Act::Requant { out, rounding, overflow } => {
                let from = crate::fxp::FixedFormat { width: 127, frac: in_frac, signed: true };
                x.iter().map(|v| T::from_i128(crate::fxp::requantize(v.to_i128(), from, *out, *rounding, *overflow))).collect()
            }
            Act::Float { func, out, rounding, overflow } => x
                .iter()
                .map(|v| {
                    let y = func.apply(crate::quant::ops::ftz(code_to_f32(v.to_i128(), in_frac)));
                    crate::fxp::quantize_f32(y, *out, *rounding, *overflow)
                        .map(T::from_i128)
                        .map_err(|_| Error::Usage("a float activation gave NaN".into()))
                })
                .collect::<Result<_>>()?,
            Act::Generic { q, out_frac } => quantize_floats(q, x.iter().map(|v| code_to_f32(v.to_i128(), in_frac)).collect(), *out_frac)?,
            // TensorFlow's average: the float32 sum (exact below 2^24 codes),
            // divided by the count (IEEE, correctly rounded) or times its
            // float32 reciprocal.
            Act::Mean { n, kind, q, out_frac } => quantize_floats(q, x.iter().map(|v| kind.apply(code_to_f32(v.to_i128(), in_frac), *n)).collect(), *out_frac)?,
        })
    }
}

/// Quantizer `q` of float32 values as QKeras holds them, codes at
/// `out_frac`; padded to whole 8-element packets so every element takes
/// TF's packet path.
fn quantize_floats<T: Code>(q: &crate::quant::Quantizer, mut xf: Vec<f32>, out_frac: i32) -> Result<Vec<T>> {
    let n = xf.len();
    xf.resize(n.div_ceil(8) * 8, 0.0);
    let hw = q.hardware(&xf, &[xf.len()])?;
    let scale = pow2(out_frac);
    (0..n)
        .map(|i| {
            let v = hw.grid_value(i) * scale;
            if v.fract() != 0.0 || !v.is_finite() {
                return Err(Error::Internal(format!("`{}` output {v} is not on its grid", q.spec)));
            }
            Ok(T::from_i128(v as i128))
        })
        .collect()
}
