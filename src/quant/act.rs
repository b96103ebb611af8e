//! `quantized_tanh`, `quantized_sigmoid`, `quantized_ulaw` and the
//! quantizer functions (`hard_tanh`, `binary_sigmoid`, `relu`, ...).

use super::args::Args;
use super::bits::{bits_arg, int_arg};
use super::ops::{self, clip, round_through};
use super::{Encoding, Eval, InternalSigmoid};
use crate::error::Result;
use crate::fxp::{FixedFormat, pow2_f32};

/// `quantized_tanh(bits, use_stochastic_rounding, symmetric, use_real_tanh)`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedTanh {
    pub bits: u32,
    pub symmetric: bool,
    pub use_real_tanh: bool,
    pub sigmoid: InternalSigmoid,
}

pub(crate) const TANH_PARAMS: &[&str] = &["bits", "use_stochastic_rounding", "symmetric", "use_real_tanh"];
pub(crate) const SIGMOID_PARAMS: &[&str] = &["bits", "symmetric", "use_real_sigmoid", "use_stochastic_rounding"];
pub(crate) const ULAW_PARAMS: &[&str] = &["bits", "integer", "symmetric", "u"];

impl QuantizedTanh {
    pub(crate) fn from_args(a: &Args, sigmoid: InternalSigmoid) -> Result<Self> {
        Ok(QuantizedTanh {
            bits: bits_arg(a, 8, 32)?,
            symmetric: a.flag("symmetric", false)?,
            use_real_tanh: a.flag("use_real_tanh", false)?,
            sigmoid,
        })
    }
    pub fn encoding(&self) -> Encoding {
        Encoding::Fixed(FixedFormat { width: self.bits.max(2), frac: self.bits as i32 - 1, signed: true })
    }
    pub fn eval(&self, x: &[f32]) -> Eval {
        let m = pow2_f32(self.bits as i32 - 1);
        let lo = -1.0 + f32::from(u8::from(self.symmetric)) / m;
        let hi = 1.0 - 1.0 / m;
        let t = ops::tail_start(x.len());
        let grid: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let p = if self.use_real_tanh { ops::tanh(v) } else { 2.0 * self.sigmoid.apply(v, i >= t) - 1.0 };
                clip(round_through(p * m) / m, lo, hi)
            })
            .collect();
        Eval { float: grid.clone(), grid, scale: None }
    }
}

/// `quantized_sigmoid(bits, symmetric, use_real_sigmoid, ...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedSigmoid {
    pub bits: u32,
    pub symmetric: bool,
    pub use_real_sigmoid: bool,
    pub sigmoid: InternalSigmoid,
}

impl QuantizedSigmoid {
    pub(crate) fn from_args(a: &Args, sigmoid: InternalSigmoid) -> Result<Self> {
        Ok(QuantizedSigmoid {
            bits: bits_arg(a, 8, 32)?,
            symmetric: a.flag("symmetric", false)?,
            use_real_sigmoid: a.flag("use_real_sigmoid", false)?,
            sigmoid,
        })
    }
    pub fn encoding(&self) -> Encoding {
        Encoding::Fixed(FixedFormat { width: self.bits, frac: self.bits as i32, signed: false })
    }
    pub fn eval(&self, x: &[f32]) -> Eval {
        let m = pow2_f32(self.bits as i32);
        let lo = f32::from(u8::from(self.symmetric)) / m;
        let hi = 1.0 - 1.0 / m;
        let t = ops::tail_start(x.len());
        let grid: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let p = if self.use_real_sigmoid { ops::sigmoid(v, i >= t) } else { self.sigmoid.apply(v, i >= t) };
                clip(round_through(p * m) / m, lo, hi)
            })
            .collect();
        Eval { float: grid.clone(), grid, scale: None }
    }
}

/// `quantized_ulaw(bits, integer, symmetric, u)`: a sigmoid-quantized
/// value companded by μ-law. Its outputs are not on a fixed-point grid, so
/// the hardware view is the pre-companding code and a table.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedUlaw {
    pub bits: u32,
    pub integer: i32,
    pub symmetric: bool,
    pub u: f64,
    pub sigmoid: InternalSigmoid,
}

impl QuantizedUlaw {
    pub(crate) fn from_args(a: &Args, sigmoid: InternalSigmoid) -> Result<Self> {
        let bits = bits_arg(a, 8, 24)?;
        if bits < 2 {
            return Err(a.reject("quantized_ulaw needs bits >= 2"));
        }
        Ok(QuantizedUlaw {
            bits,
            integer: int_arg(a, "integer", 0)?,
            symmetric: a.flag("symmetric", false)?,
            u: a.float("u", 255.0)?,
            sigmoid,
        })
    }

    /// The output for the rounded sigmoid code `r` (0..=2^(bits-1)), its
    /// log on the packet or the tail path. `log(1 + u)` is a one-element
    /// tensor in QKeras: always the tail path.
    fn compand(&self, r: f32, tail: bool) -> f32 {
        let m = pow2_f32(self.bits as i32 - 1);
        let m_i = pow2_f32(self.integer);
        let rp = 2.0 * (r / m) - 1.0;
        let u = ops::sign(rp) * ops::log(1.0 + self.u as f32 * rp.abs(), tail) / ops::log((1.0 + self.u) as f32, true);
        let lo = (-1.0 + f64::from(u8::from(self.symmetric)) / m as f64) as f32;
        let hi = (1.0 - 1.0 / m as f64) as f32;
        m_i * clip(u, lo, hi)
    }

    pub fn encoding(&self) -> Encoding {
        let m = 1i64 << (self.bits - 1);
        Encoding::Table {
            index: FixedFormat { width: self.bits, frac: 0, signed: false },
            values: (0..=m).map(|r| self.compand(r as f32, false)).collect(),
        }
    }

    pub fn eval(&self, x: &[f32]) -> Eval {
        let m = pow2_f32(self.bits as i32 - 1);
        let m_i = pow2_f32(self.integer);
        let mut grid = Vec::with_capacity(x.len());
        let mut float = Vec::with_capacity(x.len());
        let t = ops::tail_start(x.len());
        for (i, &v) in x.iter().enumerate() {
            let p = self.sigmoid.apply(v / m_i, i >= t) * m;
            let r = round_through(p);
            grid.push(r);
            float.push(self.compand(r, i >= t));
        }
        Eval { float, grid, scale: None }
    }
}

/// The functions QKeras accepts where a quantizer is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    HardSigmoid,
    SmoothSigmoid,
    BinarySigmoid,
    HardTanh,
    SmoothTanh,
    BinaryTanh,
    Relu,
    Linear,
}

impl Function {
    pub fn from_name(name: &str) -> Option<Function> {
        Some(match name {
            "hard_sigmoid" => Function::HardSigmoid,
            "smooth_sigmoid" => Function::SmoothSigmoid,
            "binary_sigmoid" => Function::BinarySigmoid,
            "hard_tanh" => Function::HardTanh,
            "smooth_tanh" => Function::SmoothTanh,
            "binary_tanh" => Function::BinaryTanh,
            "relu" => Function::Relu,
            "linear" => Function::Linear,
            _ => return None,
        })
    }

    /// Only the binary ones put their output on a fixed-point grid.
    pub fn encoding(&self) -> Option<Encoding> {
        match self {
            Function::BinarySigmoid => Some(Encoding::Fixed(FixedFormat { width: 1, frac: 0, signed: false })),
            Function::BinaryTanh => Some(Encoding::Fixed(FixedFormat { width: 2, frac: 0, signed: true })),
            _ => None,
        }
    }

    pub fn apply(&self, x: f32) -> f32 {
        let bs = |x: f32| round_through(ops::hard_sigmoid(x));
        match self {
            Function::HardSigmoid => ops::hard_sigmoid(x),
            Function::SmoothSigmoid => ops::smooth_sigmoid(x),
            Function::BinarySigmoid => bs(x),
            Function::HardTanh => 2.0 * ops::hard_sigmoid(x) - 1.0,
            Function::SmoothTanh => 2.0 * ops::smooth_sigmoid(x) - 1.0,
            Function::BinaryTanh => 2.0 * bs(x) - 1.0,
            Function::Relu => ops::relu(x),
            Function::Linear => x,
        }
    }
}
