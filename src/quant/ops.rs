//! TensorFlow's float32 element-wise operations, as QKeras calls them.
//!
//! QKeras's float output is a chain of float32 TF ops; reproducing it bit
//! for bit means evaluating the same ops in the same order with the same
//! NaN and signed-zero rules. Each function here is one TF op.

pub use super::tfmath::{ftz, tanh};
use super::tfmath;

/// Where an element's tail starts in an `n`-element tensor: TF's element-wise
/// kernels evaluate 8-lane packets, then the last `n % 8` elements one at a
/// time, and there `log` and `sigmoid` are glibc's `logf` / `expf`, whose
/// last bits differ from the packet kernels. (`tanh`, rounding and the
/// arithmetic ops give the same bits on both paths.)
#[inline]
pub fn tail_start(n: usize) -> usize {
    n / 8 * 8
}

/// `tf.math.log` of an element on the packet path or (`tail`) the scalar one.
#[inline]
pub fn log(x: f32, tail: bool) -> f32 {
    if tail { tfmath::log_tail(x) } else { tfmath::log(x) }
}

/// `tf.math.sigmoid` of an element on the packet path or the scalar one.
#[inline]
pub fn sigmoid(x: f32, tail: bool) -> f32 {
    if tail { tfmath::sigmoid_tail(x) } else { tfmath::sigmoid(x) }
}

/// `keras.epsilon()` (1e-7) as float32.
pub const EPS: f32 = 1e-7;
/// float32 ln 2, as both `np.log(2.0)` and `keras.ops.log(2.0)` become.
pub const LN2: f32 = std::f32::consts::LN_2;

/// `tf.round`: ties to even. Written with the 2^23 trick rather than
/// `round_ties_even`, which is a libm call on baseline x86-64 (no SSE4.1)
/// and blocks vectorization; equal for every f32 (unit test below).
#[inline]
pub fn round(x: f32) -> f32 {
    const M: f32 = 8_388_608.0; // 2^23: from here on every f32 is an integer
    let a = x.abs();
    if a < M { ((a + M) - M).copysign(x) } else { x }
}

/// `tf.floor`, through [`round`] (one select, no libm call): round to
/// nearest, then step down where that went up. Keeps −0.0 and NaN.
#[inline]
pub fn floor(x: f32) -> f32 {
    let r = round(x);
    if r > x { r - 1.0 } else { r }
}

/// QKeras `_round_through` at inference: `x + (-x + round(x))`, evaluated
/// literally (it is not `round(x)` for inf: inf + NaN).
#[inline]
pub fn round_through(x: f32) -> f32 {
    x + (-x + round(x))
}

/// `_floor_through`.
#[inline]
pub fn floor_through(x: f32) -> f32 {
    x + (-x + floor(x))
}

/// `tf.sign`: −1, 0, +1; NaN stays NaN.
#[inline]
pub fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else if x == 0.0 {
        0.0
    } else {
        x
    }
}

/// `sign(x)` with 0 mapped to +1 (`s += 1 - abs(s)`), as QKeras writes it.
#[inline]
pub fn sign_nonzero(x: f32) -> f32 {
    let s = sign(x);
    s + (1.0 - s.abs())
}

/// `tf.maximum`: NaN-propagating.
#[inline]
pub fn maximum(a: f32, b: f32) -> f32 {
    // AVX packet order: equal operands (±0) give the second. Written as
    // two selects (b NaN falls through `a > b`) so loops vectorize.
    let r = if a > b { a } else { b };
    if a.is_nan() { a } else { r }
}

/// `tf.minimum`: NaN-propagating.
#[inline]
pub fn minimum(a: f32, b: f32) -> f32 {
    let r = if a < b { a } else { b };
    if a.is_nan() { a } else { r }
}

/// `tf.clip_by_value` = `maximum(minimum(x, hi), lo)`.
#[inline]
pub fn clip(x: f32, lo: f32, hi: f32) -> f32 {
    maximum(minimum(x, hi), lo)
}

/// `tf.nn.leaky_relu` (`x > 0 ? x : x * alpha`; note `-3 * 0 = -0.0`).
#[inline]
pub fn leaky_relu(x: f32, alpha: f32) -> f32 {
    if x > 0.0 { x } else { x * alpha }
}

/// The straight-through output `x + (-x + xq)` (qnoise_factor = 1).
#[inline]
pub fn ste(x: f32, xq: f32) -> f32 {
    x + (-x + xq)
}

/// `tf.pow(2.0, n)` for an integer-valued (or ±inf, NaN) float32 `n`:
/// exact 2^n, 0 below 2^-126 (TF flushes subnormal results), inf from
/// 2^128. Selects only, so loops vectorize; see [`pow2_any`] otherwise.
#[inline]
pub fn pow2(n: f32) -> f32 {
    let k = if n > -127.0 && n < 128.0 { n as i32 } else { 0 };
    let v = f32::from_bits(((k + 127) as u32) << 23);
    if n.is_nan() {
        n
    } else if n >= 128.0 {
        f32::INFINITY
    } else if n <= -127.0 {
        0.0
    } else {
        v
    }
}

/// `tf.pow(2.0, n)` for any `n`. Only `quantized_po2(1)` (exponent range
/// [-0.5, -0.5]) has non-integer exponents; there TF returns the correctly
/// rounded 2^-0.5 (golden test).
pub fn pow2_any(n: f32) -> f32 {
    if n == round(n) || !n.is_finite() {
        pow2(n)
    } else {
        ftz(2f64.powf(n as f64) as f32)
    }
}

/// `2^round(log(s + eps) / ln 2)`: the power-of-two rounding of a scale.
#[inline]
pub fn po2_round(s: f32, tail: bool) -> f32 {
    pow2(round(log(s + EPS, tail) / LN2))
}

/// [`po2_round`] over a whole scale tensor, each entry on its TF path.
pub fn po2_round_all(scale: &mut [f32]) {
    let t = tail_start(scale.len());
    for (i, v) in scale.iter_mut().enumerate() {
        *v = po2_round(*v, i >= t);
    }
}

/// Hard sigmoid `clip(0.5x + 0.5, 0, 1)`.
#[inline]
pub fn hard_sigmoid(x: f32) -> f32 {
    clip(0.5 * x + 0.5, 0.0, 1.0)
}

/// Smooth sigmoid `clip(0.1875x + 0.5, 0, 1)`.
#[inline]
pub fn smooth_sigmoid(x: f32) -> f32 {
    clip(0.1875 * x + 0.5, 0.0, 1.0)
}

/// `tf.nn.relu`.
#[inline]
pub fn relu(x: f32) -> f32 {
    if x.is_nan() || x > 0.0 { x } else { 0.0 }
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_and_floor_equal_libm_everywhere() {
        // Every 97th bit pattern plus the neighbourhoods of the thresholds.
        let mut bits: Vec<u32> = (0..=u32::MAX / 97).map(|i| i * 97).collect();
        for c in [0.5f32, 1.0, 1.5, 2.5, 8_388_607.5, 8_388_608.0, 16_777_216.0] {
            for d in 0..4u32 {
                bits.extend([c.to_bits() - d, c.to_bits() + d, (-c).to_bits() - d, (-c).to_bits() + d]);
            }
        }
        for b in bits {
            let x = f32::from_bits(b);
            let (a, e) = (super::round(x), x.round_ties_even());
            assert!(a.to_bits() == e.to_bits() || (a.is_nan() && e.is_nan()), "round {x:e}");
            let (a, e) = (super::floor(x), x.floor());
            assert!(a.to_bits() == e.to_bits() || (a.is_nan() && e.is_nan()), "floor {x:e}");
        }
    }
}

#[cfg(test)]
mod pow2_tests {
    #[test]
    fn pow2_is_tf_pow() {
        for n in -200..=200 {
            let want = if n < -126 { 0.0 } else { crate::fxp::pow2_f32(n) };
            assert_eq!(super::pow2(n as f32).to_bits(), want.to_bits(), "2^{n}");
        }
        assert!(super::pow2(f32::NAN).is_nan());
        assert_eq!(super::pow2(f32::NEG_INFINITY), 0.0);
        assert_eq!(super::pow2(f32::INFINITY), f32::INFINITY);
        assert_eq!(super::pow2_any(-0.5).to_bits(), 0x3f35_04f3);
        assert_eq!(super::pow2_any(3.0), 8.0);
    }
}
