//! `quantized_bits`, `quantized_linear` and `quantized_hswish`
//! (qkeras-v3 1.2.1 `quantizers.py`), evaluated op for op in float32.

use super::args::Args;
use super::auto::{LsMode, least_squares, ls_groups};
use super::ops::{self, clip, maximum, round_through, sign, EPS};
use super::tensor::{Groups, Scale};
use super::{Encoding, Eval, finish_scaled};
use crate::error::Result;
use crate::fxp::{FixedFormat, pow2_f32};

/// The `alpha` argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Alpha {
    None,
    /// A number or a per-channel array: it multiplies the output.
    Fixed(Scale),
    Auto,
    AutoPo2,
}

impl Alpha {
    pub(crate) fn parse(a: &Args, name: &str) -> Result<Alpha> {
        use super::spec::Value;
        Ok(match a.get(name) {
            None | Some(Value::None) => Alpha::None,
            Some(Value::Str(s)) => match s.as_str() {
                "auto" => Alpha::Auto,
                "auto_po2" => Alpha::AutoPo2,
                _ => return Err(a.reject(format!("alpha='{s}' is not one of 'auto', 'auto_po2'"))),
            },
            Some(Value::List(v) | Value::Array { values: v, .. }) => {
                Alpha::Fixed(Scale { shape: vec![v.len()], values: v.iter().map(|&x| x as f32).collect() })
            }
            Some(_) => Alpha::Fixed(Scale::scalar(a.float(name, 1.0)? as f32)),
        })
    }
    pub fn is_auto(&self) -> bool {
        matches!(self, Alpha::Auto | Alpha::AutoPo2)
    }
}

/// `quantized_bits(bits, integer, symmetric, keep_negative, alpha, ...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedBits {
    pub bits: u32,
    pub integer: i32,
    pub symmetric: bool,
    pub keep_negative: bool,
    pub alpha: Alpha,
    pub scale_axis: Option<usize>,
    pub elements_per_scale: Option<usize>,
    pub min_po2_exponent: Option<i32>,
    pub max_po2_exponent: Option<i32>,
    pub post_training_scale: Option<Vec<f32>>,
    /// Its shape as saved (`(1, 1, 1, C)` for a Conv2D kernel's, which QKeras
    /// keeps in its scales), or `None` for a flat list.
    pub post_training_shape: Option<Vec<usize>>,
    pub mix: super::Mix,
}

pub(crate) const BITS_PARAMS: &[&str] = &[
    "bits", "integer", "symmetric", "keep_negative", "alpha", "use_stochastic_rounding",
    "scale_axis", "qnoise_factor", "var_name", "use_ste", "use_variables",
    "elements_per_scale", "min_po2_exponent", "max_po2_exponent", "post_training_scale",
];

/// `qnoise_factor` (default 1): any finite value; the hardware paths take
/// only 1 ([`super::Quantizer::check_full`]).
pub(crate) fn qnoise_arg(a: &Args) -> Result<f64> {
    let q = a.float("qnoise_factor", 1.0)?;
    if !q.is_finite() {
        return Err(a.reject(format!("qnoise_factor={q} is not a finite number")));
    }
    Ok(q)
}

pub(crate) fn bits_arg(a: &Args, default: i64, max: i64) -> Result<u32> {
    let b = a.int("bits", default)?;
    if !(1..=max).contains(&b) {
        return Err(a.reject(format!("bits={b} is outside 1..={max}")));
    }
    Ok(b as u32)
}

pub(crate) fn int_arg(a: &Args, name: &str, default: i64) -> Result<i32> {
    let v = a.int(name, default)?;
    if !(-126..=126).contains(&v) {
        return Err(a.reject(format!("{name}={v} is outside -126..=126")));
    }
    Ok(v as i32)
}

impl QuantizedBits {
    pub(crate) fn from_args(a: &Args) -> Result<Self> {
        let alpha = Alpha::parse(a, "alpha")?;
        let q = QuantizedBits {
            bits: bits_arg(a, 8, 64)?,
            integer: int_arg(a, "integer", 0)?,
            // A string alpha forces symmetric (QKeras's constructor does).
            symmetric: a.flag("symmetric", false)? || alpha.is_auto(),
            keep_negative: a.flag("keep_negative", true)?,
            scale_axis: a.axis("scale_axis")?,
            elements_per_scale: a.elements_per_scale(a.axis("scale_axis")?)?,
            min_po2_exponent: a.po2_exponent("min_po2_exponent")?,
            max_po2_exponent: a.po2_exponent("max_po2_exponent")?,
            post_training_scale: a
                .opt_list("post_training_scale")?
                .map(|v| v.iter().map(|&x| x as f32).collect()),
            post_training_shape: a.list_shape("post_training_scale"),
            mix: super::Mix::from_args(a)?,
            alpha,
        };
        if q.alpha != Alpha::AutoPo2
            && (q.min_po2_exponent.is_some() || q.max_po2_exponent.is_some() || q.elements_per_scale.is_some())
        {
            return Err(a.reject(
                "elements_per_scale and min/max_po2_exponent are only supported with alpha='auto_po2'",
            ));
        }
        if q.post_training_scale.is_some() && !q.alpha.is_auto() {
            return Err(a.reject("post_training_scale needs alpha='auto' or 'auto_po2'"));
        }
        Ok(q)
    }

    fn unsigned_bits(&self) -> i32 {
        self.bits as i32 - i32::from(self.keep_negative)
    }

    pub fn encoding(&self) -> Encoding {
        let ub = self.unsigned_bits();
        if self.alpha.is_auto() {
            // z in [-(2^(bits-1)-1), 2^(bits-1)-1], keep_negative ignored.
            return Encoding::Fixed(FixedFormat { width: self.bits.max(2), frac: ub - self.integer, signed: true });
        }
        if ub == 0 {
            // bits=1, keep_negative: sign(x) with 0 -> +1, values ±1.
            return Encoding::Fixed(FixedFormat { width: 2, frac: 0, signed: true });
        }
        Encoding::Fixed(FixedFormat { width: self.bits, frac: ub - self.integer, signed: self.keep_negative })
    }

    pub fn eval(&self, x: &[f32], shape: &[usize]) -> std::result::Result<Eval, String> {
        let m = pow2_f32(self.unsigned_bits());
        let m_i = pow2_f32(self.integer);
        if self.alpha.is_auto() {
            return self.eval_auto(x, shape, m, m_i);
        }
        let f = self.fixed_grid();
        let grid: Vec<f32> = x.iter().map(|&v| f(v)).collect();
        let scale = match &self.alpha {
            Alpha::Fixed(s) => Some(s.clone()),
            _ => None,
        };
        finish_scaled(x, grid, scale, shape, self.mix)
    }

    /// The per-element quantization of the fixed (non-auto) path, before
    /// alpha: `m_i * clip(round_through(x * m / m_i), lo, m - 1) / m`.
    pub(crate) fn fixed_grid(&self) -> impl Fn(f32) -> f32 + use<> {
        let m = pow2_f32(self.unsigned_bits());
        let m_i = pow2_f32(self.integer);
        let kn = if self.keep_negative { 1.0f32 } else { 0.0 };
        let lo = kn * (-m + f32::from(u8::from(self.symmetric)));
        let hi = m - 1.0;
        let sign_path = self.unsigned_bits() <= 0;
        let (inv_m, inv_m_i) = (pow2_f32(-self.unsigned_bits()), pow2_f32(-self.integer));
        let keep_negative = self.keep_negative;
        move |v: f32| {
            if sign_path {
                let s = ops::sign_nonzero(v);
                if keep_negative { s } else { (s + 1.0) / 2.0 }
            } else {
                // `/ m_i` and `/ m` as products with the exact reciprocals:
                // identical results for powers of two, and vectorizable.
                (m_i * clip(round_through((v * m) * inv_m_i), lo, hi)) * inv_m
            }
        }
    }

    /// QKeras's output alone, one pass, when no scale depends on the data.
    /// Returns false (writing nothing) when a scale depends on the data.
    pub(crate) fn apply_fast(&self, x: &[f32], out: &mut [f32]) -> bool {
        let alpha = match &self.alpha {
            Alpha::None => 1.0,
            Alpha::Fixed(s) if s.values.len() == 1 => s.values[0],
            _ => return false,
        };
        let f = self.fixed_grid();
        let mix = self.mix;
        super::map_into(x, out, |v, _| mix.apply(v, alpha * f(v)));
        true
    }

    fn eval_auto(&self, x0: &[f32], shape: &[usize], m: f32, m_i: f32) -> std::result::Result<Eval, String> {
        let ndim = shape.len();
        let x: Vec<f32> = x0.iter().map(|&v| v / m_i).collect();
        let levels = (2.0 * (2f64.powi(self.bits as i32 - 1) - 1.0)) as f32;
        let half = levels / 2.0;
        let ls_groups = ls_groups(self.scale_axis, self.elements_per_scale, shape)?;
        let (mut scale, mut scale_shape): (Vec<f32>, Scale);
        if let Some(pts) = &self.post_training_scale {
            let saved = self.post_training_shape.clone().unwrap_or_else(|| vec![pts.len()]);
            scale_shape = Scale { shape: saved, values: pts.iter().map(|&s| s / m).collect() };
            scale = scale_shape.expand(shape)?;
        } else {
            let g0 = if ndim > 1 { Groups::scaling_axis(self.scale_axis, ndim) } else { Groups::All };
            let mx = g0.max_abs(&x, shape);
            let vals: Vec<f32> = mx.iter().map(|&v| (v * 2.0) / levels).collect();
            scale_shape = Scale { shape: g0.kept_shape(shape), values: vals };
            if self.alpha == Alpha::AutoPo2 {
                ops::po2_round_all(&mut scale_shape.values);
                scale = scale_shape.expand(shape)?;
                for _ in 0..5 {
                    let z = quantize_z(&x, &scale, half);
                    scale_shape = least_squares(
                        &x, &z, shape, ls_groups, LsMode::Po2 {
                            min: self.min_po2_exponent,
                            max: self.max_po2_exponent,
                        },
                    );
                    scale = scale_shape.expand(shape)?;
                }
            } else {
                scale = scale_shape.expand(shape)?;
            }
        }
        let z = quantize_z(&x, &scale, half);
        let grid: Vec<f32> = z.iter().map(|&z| (m_i * z) / m).collect();
        for v in scale_shape.values.iter_mut() {
            *v *= m;
        }
        let xs: Vec<f32> = x.iter().map(|&v| m_i * v).collect();
        let out = finish_scaled(&xs, grid, Some(scale_shape), shape, self.mix)?;
        Ok(out)
    }
}

/// `sign(x) * where(v < half, v, half)` with `v = floor(|x| / s + 0.5)`:
/// the ties-away rounding of the auto paths.
fn quantize_z(x: &[f32], scale: &[f32], half: f32) -> Vec<f32> {
    x.iter()
        .zip(scale)
        .map(|(&v, &s)| {
            let q = ops::floor((v.abs() / s) + 0.5);
            sign(v) * if q < half { q } else { half }
        })
        .collect()
}

/// `quantized_linear(bits, integer, symmetric, keep_negative, alpha, ...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedLinear {
    pub bits: u32,
    pub integer: i32,
    pub symmetric: bool,
    pub keep_negative: bool,
    pub alpha: Alpha,
    pub scale_axis: Option<usize>,
    /// `qnoise_factor`: quantized_linear mixes without a use_ste switch.
    pub qnoise: f64,
}

pub(crate) const LINEAR_PARAMS: &[&str] = &[
    "bits", "integer", "symmetric", "keep_negative", "alpha", "use_stochastic_rounding",
    "scale_axis", "qnoise_factor", "var_name", "use_variables",
];

impl QuantizedLinear {
    pub(crate) fn from_args(a: &Args) -> Result<Self> {
        Ok(QuantizedLinear {
            qnoise: qnoise_arg(a)?,
            bits: bits_arg(a, 8, 64)?,
            integer: int_arg(a, "integer", 0)?,
            symmetric: a.flag("symmetric", true)?,
            keep_negative: a.flag("keep_negative", true)?,
            alpha: Alpha::parse(a, "alpha")?,
            scale_axis: a.axis("scale_axis")?,
        })
    }

    fn sign_function(&self) -> bool {
        self.bits == 1 && self.keep_negative
    }

    pub fn encoding(&self) -> Encoding {
        if self.sign_function() {
            return Encoding::Fixed(FixedFormat { width: 2, frac: 1, signed: true });
        }
        Encoding::Fixed(FixedFormat { width: self.bits, frac: 0, signed: self.keep_negative })
    }

    fn clip_bounds(&self) -> (f32, f32) {
        if self.sign_function() {
            return (-0.5, 0.5);
        }
        let ub = pow2_f32(self.bits as i32 - i32::from(self.keep_negative));
        let kn = if self.keep_negative { 1.0f32 } else { 0.0 };
        (kn * (-ub + f32::from(u8::from(self.symmetric))), ub - 1.0)
    }

    /// `_scale_clip_and_round` with a per-element scale.
    fn scale_clip_round(&self, x: &[f32], qs: &[f32]) -> Vec<f32> {
        let (lo, hi) = self.clip_bounds();
        let shift = if self.sign_function() { 0.5f32 } else { 0.0 };
        x.iter().zip(qs).map(|(&v, &s)| round_through(clip(v / s, lo, hi) - shift) + shift).collect()
    }

    pub fn eval(&self, x: &[f32], shape: &[usize]) -> std::result::Result<Eval, String> {
        let dts = pow2_f32(self.integer - self.bits as i32 + i32::from(self.keep_negative));
        let scale = match &self.alpha {
            Alpha::None => Scale::scalar(dts),
            Alpha::Fixed(a) => Scale { shape: a.shape.clone(), values: a.values.iter().map(|v| v * dts).collect() },
            Alpha::Auto | Alpha::AutoPo2 => self.auto_scale(x, shape)?,
        };
        let qs = scale.expand(shape)?;
        let grid = self.scale_clip_round(x, &qs);
        let xq: Vec<f32> = grid.iter().zip(&qs).map(|(g, s)| g * s).collect();
        // res = x + qnoise * (xq - x)
        let qn = self.qnoise as f32;
        let float = if self.qnoise == 1.0 {
            x.iter().zip(&xq).map(|(&x, &q)| x + 1.0 * (q - x)).collect()
        } else {
            x.iter().zip(&xq).map(|(&x, &q)| x + super::ops::ftz(qn * (q - x))).collect()
        };
        // For the sign function the grid is ±0.5: code ±1 at frac 1.
        Ok(Eval { float, grid, scale: Some(scale) })
    }

    fn auto_scale(&self, x: &[f32], shape: &[usize]) -> std::result::Result<Scale, String> {
        let groups = Groups::scaling_axis(self.scale_axis, shape.len());
        let (lo, hi) = self.clip_bounds();
        let range = hi - lo;
        let mx = if self.keep_negative {
            groups.max_abs(x, shape).into_iter().map(|m| (m * 2.0) / range).collect::<Vec<_>>()
        } else {
            groups.reduce_max(x.iter().copied(), shape).into_iter().map(|m| m / range).collect()
        };
        let mut s = Scale { shape: groups.kept_shape(shape), values: mx.into_iter().map(|v| maximum(v, EPS)).collect() };
        if self.alpha == Alpha::AutoPo2 {
            ops::po2_round_all(&mut s.values);
            let iters = if self.sign_function() { 1 } else { 5 };
            for _ in 0..iters {
                let qs = s.expand(shape)?;
                let q = self.scale_clip_round(x, &qs);
                let new = least_squares(x, &q, shape, groups, LsMode::Po2 { min: None, max: None });
                let same = new.expand(shape)? == qs;
                s = new;
                if same {
                    break;
                }
            }
        }
        Ok(s)
    }
}

/// `quantized_hswish`: `x * relu6(x + shift) / upper` into `quantized_bits`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedHswish {
    pub bits: QuantizedBits,
    pub relu_shift: f32,
    pub relu_upper_bound: f32,
}

pub(crate) const HSWISH_PARAMS: &[&str] = &[
    "bits", "integer", "symmetric", "alpha", "use_stochastic_rounding", "scale_axis",
    "qnoise_factor", "var_name", "use_variables", "relu_shift", "relu_upper_bound",
];

impl QuantizedHswish {
    pub(crate) fn from_args(a: &Args) -> Result<Self> {
        let mut bits = QuantizedBits::from_args(a)?;
        bits.keep_negative = true;
        let relu_shift = a.float("relu_shift", 3.0)? as f32;
        let relu_upper_bound = a.float("relu_upper_bound", 6.0)? as f32;
        if relu_shift <= 0.0 || relu_upper_bound <= 0.0 {
            return Err(a.reject("relu_shift and relu_upper_bound must be positive"));
        }
        Ok(QuantizedHswish { bits, relu_shift, relu_upper_bound })
    }

    pub fn eval(&self, x: &[f32], shape: &[usize]) -> std::result::Result<Eval, String> {
        let ub = self.relu_upper_bound;
        let h: Vec<f32> = x
            .iter()
            .map(|&v| {
                let s = v + self.relu_shift;
                let r = if s <= ub { ops::leaky_relu(s, 0.0) } else { ub };
                (v * r) / ub
            })
            .collect();
        self.bits.eval(&h, shape)
    }
}
