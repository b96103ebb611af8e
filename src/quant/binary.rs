//! `binary`, `ternary` and their stochastic variants in inference mode
//! (QKeras's `stochastic_*` call the deterministic quantizer when not
//! training).

use super::args::Args;
use super::auto::{LsMode, least_squares, ls_groups};
use super::bits::Alpha;
use super::ops::{self, round_through, sign};
use super::tensor::{Groups, Scale};
use super::{Encoding, Eval};
use crate::error::Result;
use crate::fxp::FixedFormat;

#[derive(Debug, Clone, PartialEq)]
pub struct Binary {
    pub use_01: bool,
    pub alpha: Alpha,
    pub scale_axis: Option<usize>,
    pub elements_per_scale: Option<usize>,
    pub min_po2_exponent: Option<i32>,
    pub max_po2_exponent: Option<i32>,
}

pub(crate) const BINARY_PARAMS: &[&str] = &[
    "use_01", "alpha", "training", "use_stochastic_rounding", "scale_axis",
    "elements_per_scale", "min_po2_exponent", "max_po2_exponent",
];
pub(crate) const STOCHASTIC_BINARY_PARAMS: &[&str] = &["alpha", "temperature", "use_real_sigmoid"];
pub(crate) const TERNARY_PARAMS: &[&str] =
    &["alpha", "threshold", "use_stochastic_rounding", "number_of_unrolls"];
pub(crate) const STOCHASTIC_TERNARY_PARAMS: &[&str] =
    &["alpha", "threshold", "temperature", "use_real_sigmoid", "number_of_unrolls"];

impl Binary {
    pub(crate) fn from_args(a: &Args) -> Result<Self> {
        if a.flag("training", false)? {
            return Err(a.reject("training=True samples random numbers; qkhw is inference only"));
        }
        Ok(Binary {
            use_01: a.flag("use_01", false)?,
            alpha: Alpha::parse(a, "alpha")?,
            scale_axis: a.axis("scale_axis")?,
            elements_per_scale: a.elements_per_scale(a.axis("scale_axis")?)?,
            min_po2_exponent: a.po2_exponent("min_po2_exponent")?,
            max_po2_exponent: a.po2_exponent("max_po2_exponent")?,
        })
    }

    pub fn encoding(&self) -> Encoding {
        if self.use_01 {
            Encoding::Fixed(FixedFormat { width: 1, frac: 0, signed: false })
        } else {
            Encoding::Fixed(FixedFormat { width: 2, frac: 0, signed: true })
        }
    }

    pub fn eval(&self, x0: &[f32], shape: &[usize]) -> std::result::Result<Eval, String> {
        let k: Vec<f32> = x0
            .iter()
            .map(|&v| {
                let s = ops::sign_nonzero(v);
                if self.use_01 { (s + 1.0) / 2.0 } else { s }
            })
            .collect();
        let x: Vec<f32> =
            if self.alpha == Alpha::None { x0.iter().map(|&v| ops::tanh(v)).collect() } else { x0.to_vec() };
        let scale = match &self.alpha {
            Alpha::None => Scale::scalar(1.0),
            Alpha::Fixed(s) => s.clone(),
            auto => {
                let groups = ls_groups(self.scale_axis, self.elements_per_scale, shape)?;
                let mode = if *auto == Alpha::AutoPo2 {
                    LsMode::Po2 { min: self.min_po2_exponent, max: self.max_po2_exponent }
                } else {
                    LsMode::Plain
                };
                least_squares(&x, &k, shape, groups, mode)
            }
        };
        super::finish_scaled(&x, k, Some(scale), shape, super::Mix::FULL)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ternary {
    pub alpha: Alpha,
    pub threshold: Option<f32>,
    pub number_of_unrolls: u32,
}

impl Ternary {
    pub(crate) fn from_args(a: &Args) -> Result<Self> {
        let alpha = Alpha::parse(a, "alpha")?;
        let threshold = a.opt_float("threshold")?.map(|v| v as f32);
        if alpha.is_auto() && threshold.is_some() {
            return Err(a.reject("ternary with alpha='auto'/'auto_po2' takes no threshold"));
        }
        let n = a.int("number_of_unrolls", 5)?;
        if !(0..=1000).contains(&n) {
            return Err(a.reject(format!("number_of_unrolls={n} is outside 0..=1000")));
        }
        Ok(Ternary { alpha, threshold, number_of_unrolls: n as u32 })
    }

    pub fn encoding(&self) -> Encoding {
        Encoding::Fixed(FixedFormat { width: 2, frac: 0, signed: true })
    }

    pub fn eval(&self, x0: &[f32], shape: &[usize]) -> std::result::Result<Eval, String> {
        let ternarize = |t: &[f32]| -> Vec<f32> {
            x0.iter().zip(t).map(|(&v, &t)| f32::from(u8::from(v.abs() >= t)) * sign(v)).collect()
        };
        let (q, scale) = if self.alpha.is_auto() {
            let g0 = if shape.len() <= 1 { Groups::All } else { Groups::KeepAxis { axis: shape.len() - 1, block: 1 } };
            let mut s = Scale { shape: g0.kept_shape(shape), values: g0.max_abs(x0, shape) };
            for v in s.values.iter_mut() {
                *v = (2.0 * *v) / 3.0;
            }
            if self.alpha == Alpha::AutoPo2 {
                ops::po2_round_all(&mut s.values);
            }
            let ls = if shape.len() > 1 { g0 } else { Groups::PerElement };
            let mode = if self.alpha == Alpha::AutoPo2 { LsMode::Po2 { min: None, max: None } } else { LsMode::Plain };
            let mut q = vec![0.0; x0.len()];
            for _ in 0..self.number_of_unrolls {
                let se = s.expand(shape)?;
                let thres: Vec<f32> = se.iter().map(|s| s / 2.0).collect();
                let v: Vec<f32> = x0.iter().zip(&se).map(|(&x, &s)| s * round_through(x / s)).collect();
                q = v
                    .iter()
                    .zip(x0)
                    .zip(&thres)
                    .map(|((&v, &x), &t)| f32::from(u8::from(v.abs() >= t)) * sign(x))
                    .collect();
                s = least_squares(x0, &q, shape, ls, mode);
            }
            if self.number_of_unrolls == 0 {
                return Err("ternary with number_of_unrolls=0 and an auto alpha has no q".into());
            }
            (q, s)
        } else {
            let t = self.threshold.unwrap_or(0.33);
            let q = ternarize(&vec![t; x0.len()]);
            let s = match &self.alpha {
                Alpha::Fixed(s) => s.clone(),
                _ => Scale::scalar(1.0),
            };
            (q, s)
        };
        let x: Vec<f32> =
            if self.alpha == Alpha::None { x0.iter().map(|&v| ops::tanh(v)).collect() } else { x0.to_vec() };
        super::finish_scaled(&x, q, Some(scale), shape, super::Mix::FULL)
    }
}
