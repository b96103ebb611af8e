//! `quantized_relu` (with negative_slope, use_sigmoid, upper bounds).

use super::args::Args;
use super::bits::{bits_arg, check_qnoise, int_arg};
use super::ops::{clip, leaky_relu, round_through};
use super::{Encoding, Eval, InternalSigmoid, finish};
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
    pub use_ste: bool,
    pub sigmoid: InternalSigmoid,
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
        check_qnoise(a)?;
        Ok(QuantizedRelu {
            bits: bits_arg(a, 8, 64)?,
            integer: int_arg(a, "integer", 0)?,
            use_sigmoid: a.flag("use_sigmoid", false)?,
            negative_slope: negative_slope(a, "negative_slope")?,
            relu_upper_bound: a.opt_float("relu_upper_bound")?.map(|v| v as f32),
            is_quantized_clip: a.flag("is_quantized_clip", true)?,
            use_ste: a.flag("use_ste", true)?,
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
        let f = self.element();
        let (float, grid) = x.iter().map(|&v| f(v)).unzip();
        Eval { float, grid, scale: None }
    }

    pub(crate) fn apply_fast(&self, x: &[f32], out: &mut [f32]) {
        let f = self.element();
        super::map_into(x, out, |v| f(v).0);
    }

    /// One element: (QKeras's float, the quantized value).
    fn element(&self) -> impl Fn(f32) -> (f32, f32) + '_ {
        let nsb = self.non_sign_bits();
        let m = pow2_f32(nsb);
        let m_i = pow2_f32(self.integer);
        let m_f = pow2_f32(self.integer - nsb);
        let ns = self.negative_slope;
        let top = m_i - m_f;
        let hi = 1.0 - 1.0 / m;
        move |v: f32| {
            let x_u = if self.is_quantized_clip {
                if v <= top { leaky_relu(v, ns) } else { top }
            } else if let Some(ub) = self.relu_upper_bound {
                if v <= ub { leaky_relu(v, ns) } else { ub }
            } else {
                leaky_relu(v, ns)
            };
            let mut xq;
            if self.use_sigmoid {
                let p = self.sigmoid.apply(v / m_i) * m;
                xq = m_i * clip(2.0 * (round_through(p) / m) - 1.0, 0.0, hi);
                if ns > 0.0 {
                    let nf = 1.0 / (ns * m);
                    xq = xq + (m_i * ns) * clip(2.0 * (round_through(p * ns) * nf) - 1.0, -1.0, 0.0);
                }
            } else {
                let p = (v * m) / m_i;
                xq = m_i * clip(round_through(p) / m, 0.0, hi);
                if ns > 0.0 {
                    let nf = 1.0 / (ns * m);
                    xq = xq + (m_i * ns) * clip(round_through(p * ns) * nf, -1.0, 0.0);
                }
            }
            if let Some(ub) = self.relu_upper_bound {
                if ub != 0.0 && !self.is_quantized_clip && !(xq <= ub) {
                    xq = ub;
                }
            }
            (finish(x_u, xq, self.use_ste), xq)
        }
    }
}
