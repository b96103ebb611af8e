//! `quantized_relu` (with negative_slope, use_sigmoid, upper bounds).

use super::args::Args;
use super::bits::{bits_arg, int_arg};
use super::ops::{self, clip, leaky_relu, round_through};
use super::{Encoding, Eval, InternalSigmoid};
use crate::error::Result;
use crate::fxp::{FixedFormat, pow2_f32};

#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedRelu {
    pub bits: u32,
    pub integer: i32,
    pub use_sigmoid: bool,
    pub negative_slope: f32,
    pub relu_upper_bound: Option<f32>,
    pub is_quantized_clip: bool,
    pub mix: super::Mix,
    pub sigmoid: InternalSigmoid,
}

impl QuantizedRelu {
    /// Whether the output is `clamp(round_ties_even(x · 2^frac))` of the
    /// input, as for quantized_bits (no sigmoid, no slope, no upper bound).
    pub fn is_plain_grid(&self) -> bool {
        !self.use_sigmoid && self.negative_slope == 0.0 && self.relu_upper_bound.is_none()
    }
}

pub(crate) const RELU_PARAMS: &[&str] = &[
    "bits", "integer", "use_sigmoid", "negative_slope", "use_stochastic_rounding",
    "relu_upper_bound", "is_quantized_clip", "qnoise_factor", "var_name", "use_ste",
    "use_variables",
];

/// QKeras asserts `log2(negative_slope)` is an integer.
pub(crate) fn negative_slope(a: &Args, name: &str) -> Result<f32> {
    let ns = a.float(name, 0.0)?;
    if ns < 0.0 || (ns != 0.0 && ns.log2().fract() != 0.0) {
        return Err(a.reject(format!("negative_slope={ns} must be 0 or a power of two")));
    }
    Ok(ns as f32)
}

impl QuantizedRelu {
    pub(crate) fn from_args(a: &Args, sigmoid: InternalSigmoid) -> Result<Self> {
        Ok(QuantizedRelu {
            bits: bits_arg(a, 8, 64)?,
            integer: int_arg(a, "integer", 0)?,
            use_sigmoid: a.flag("use_sigmoid", false)?,
            negative_slope: negative_slope(a, "negative_slope")?,
            relu_upper_bound: a.opt_float("relu_upper_bound")?.map(|v| v as f32),
            is_quantized_clip: a.flag("is_quantized_clip", true)?,
            mix: super::Mix::from_args(a)?,
            sigmoid,
        })
    }

    fn non_sign_bits(&self) -> i32 {
        self.bits as i32 - i32::from(self.negative_slope != 0.0)
    }

    pub fn encoding(&self) -> Encoding {
        let signed = self.negative_slope != 0.0;
        Encoding::Fixed(FixedFormat { width: self.bits.max(1), frac: self.non_sign_bits() - self.integer, signed })
    }

    pub fn eval(&self, x: &[f32]) -> Eval {
        let f = self.element_any();
        let t = ops::tail_start(x.len());
        let (float, grid) = x.iter().enumerate().map(|(i, &v)| f(v, i >= t)).unzip();
        Eval { float, grid, scale: None }
    }

    pub(crate) fn apply_fast(&self, x: &[f32], out: &mut [f32]) {
        // One loop per mode, so each compiles to straight-line (vector) code.
        match (self.use_sigmoid, self.negative_slope > 0.0) {
            (false, false) => super::map_into(x, out, self.element::<false, false>()),
            (false, true) => super::map_into(x, out, self.element::<false, true>()),
            (true, false) => super::map_into(x, out, self.element::<true, false>()),
            (true, true) => super::map_into(x, out, self.element::<true, true>()),
        }
    }

    fn element_any(&self) -> impl Fn(f32, bool) -> (f32, f32) + '_ {
        let (a, b, c, d) = (
            self.element_pair::<false, false>(),
            self.element_pair::<false, true>(),
            self.element_pair::<true, false>(),
            self.element_pair::<true, true>(),
        );
        move |v, tail| match (self.use_sigmoid, self.negative_slope > 0.0) {
            (false, false) => a(v, tail),
            (false, true) => b(v, tail),
            (true, false) => c(v, tail),
            (true, true) => d(v, tail),
        }
    }

    fn element<const SIGMOID: bool, const NEG: bool>(&self) -> impl Fn(f32, bool) -> f32 + '_ {
        let f = self.element_pair::<SIGMOID, NEG>();
        move |v, tail| f(v, tail).0
    }

    /// One element: (QKeras's float, the quantized value). Divisions by
    /// the powers of two m and m_i are products with exact reciprocals
    /// (the same correctly rounded result).
    fn element_pair<const SIGMOID: bool, const NEG: bool>(&self) -> impl Fn(f32, bool) -> (f32, f32) + '_ {
        let nsb = self.non_sign_bits();
        let m = pow2_f32(nsb);
        let m_i = pow2_f32(self.integer);
        let (inv_m, inv_m_i) = (pow2_f32(-nsb), pow2_f32(-self.integer));
        let m_f = pow2_f32(self.integer - nsb);
        let ns = self.negative_slope;
        let hi = 1.0 - inv_m;
        let nf = 1.0 / (ns * m);
        let m_i_ns = m_i * ns;
        // The bound on x_u: QKeras's quantized clip, or relu_upper_bound.
        let (bounded, bound) = match (self.is_quantized_clip, self.relu_upper_bound) {
            (true, _) => (true, m_i - m_f),
            (false, Some(ub)) => (true, ub),
            (false, None) => (false, 0.0),
        };
        // relu_upper_bound clamps xq only without the quantized clip
        // (and, Python truthiness, when it is not 0).
        let (clamp_xq, ub) = match self.relu_upper_bound {
            Some(ub) if ub != 0.0 && !self.is_quantized_clip => (true, ub),
            _ => (false, 0.0),
        };
        let (sigmoid, mix) = (self.sigmoid, self.mix);
        move |v: f32, tail: bool| {
            let x_u = if !bounded || v <= bound { leaky_relu(v, ns) } else { bound };
            let mut xq;
            if SIGMOID {
                let p = sigmoid.apply(v * inv_m_i, tail) * m;
                xq = m_i * clip(2.0 * (round_through(p) * inv_m) - 1.0, 0.0, hi);
                if NEG {
                    xq += m_i_ns * clip(2.0 * (round_through(p * ns) * nf) - 1.0, -1.0, 0.0);
                }
            } else {
                let p = (v * m) * inv_m_i;
                xq = m_i * clip(round_through(p) * inv_m, 0.0, hi);
                if NEG {
                    xq += m_i_ns * clip(round_through(p * ns) * nf, -1.0, 0.0);
                }
            }
            #[allow(clippy::neg_cmp_op_on_partial_ord, reason = "a NaN takes this branch, as in QKeras's tf.where")]
            let above = !(xq <= ub);
            if clamp_xq && above {
                xq = ub;
            }
            (mix.apply(x_u, xq), xq)
        }
    }

}
