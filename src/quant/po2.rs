//! `quantized_po2` and `quantized_relu_po2`: outputs ±2^e.

use super::args::Args;
use super::bits::bits_arg;
use super::ops::{self, EPS, LN2, clip, floor_through, leaky_relu, round_through};
use super::relu::negative_slope;
use super::{Encoding, Eval};
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log2Rounding {
    Rnd,
    Floor,
}

/// What both po2 quantizers share: the exponent search of
/// `_clip_power_of_two`.
#[derive(Debug, Clone, PartialEq)]
pub struct Po2Exp {
    pub min_exp: f64,
    pub max_exp: f64,
    pub max_value: Option<f32>,
    pub quadratic: bool,
    pub rounding: Log2Rounding,
}

impl Po2Exp {
    /// The clipped exponent of `|x|` (`x_abs` may be negative: QKeras feeds
    /// `leaky_relu` outputs, and everything below eps is `min_exp`).
    /// `tail`: the element's TF path (see [`ops::tail_start`]).
    pub fn exponent(&self, x_abs: f32, tail: bool) -> f32 {
        match (self.quadratic, self.rounding) {
            (false, Log2Rounding::Rnd) => self.exponent_fn::<false, false>()(x_abs, tail),
            (false, Log2Rounding::Floor) => self.exponent_fn::<false, true>()(x_abs, tail),
            (true, Log2Rounding::Rnd) => self.exponent_fn::<true, false>()(x_abs, tail),
            (true, Log2Rounding::Floor) => self.exponent_fn::<true, true>()(x_abs, tail),
        }
    }

    /// [`Po2Exp::exponent`] for one mode, constants hoisted: straight-line
    /// code for the vector loops.
    #[inline(always)]
    fn exponent_fn<const QUAD: bool, const FLOOR: bool>(&self) -> impl Fn(f32, bool) -> f32 + use<QUAD, FLOOR> {
        let (min, max) = (self.min_exp as f32, self.max_exp as f32);
        let (has_max, mv) = (self.max_value.is_some(), self.max_value.unwrap_or(0.0));
        move |x_abs: f32, tail: bool| {
            // QKeras's `where`s, as selects: eps replaces tiny values before
            // the log, and the result is min_exp for them anyway.
            let xf = if x_abs < EPS { EPS } else { x_abs };
            let xf = if has_max && xf >= mv { mv } else { xf };
            let (q, input) = if QUAD { (2.0f32, xf.sqrt()) } else { (1.0, xf) };
            let l = ops::log(input, tail) / LN2;
            let e = if FLOOR { floor_through(l) } else { round_through(l) };
            let r = q * clip(e, min, max);
            if x_abs < EPS { min } else { r }
        }
    }

    /// `x -> f(sign(x) * 2^exponent(|x|))` in one vector loop, for the
    /// integer exponent ranges; false (nothing written) for `quantized_po2(1)`.
    pub(crate) fn map_signed(&self, x: &[f32], out: &mut [f32], f: impl Fn(f32, f32) -> f32) -> bool {
        if !self.integral() {
            return false;
        }
        macro_rules! run {
            ($q:literal, $fl:literal) => {{
                let e = self.exponent_fn::<$q, $fl>();
                super::map_into(x, out, |v, t| f(v, ops::sign_nonzero(v) * ops::pow2(e(v.abs(), t))))
            }};
        }
        match (self.quadratic, self.rounding) {
            (false, Log2Rounding::Rnd) => run!(false, false),
            (false, Log2Rounding::Floor) => run!(false, true),
            (true, Log2Rounding::Rnd) => run!(true, false),
            (true, Log2Rounding::Floor) => run!(true, true),
        }
        true
    }

    /// 2^e for an exponent from [`Po2Exp::exponent`].
    #[inline]
    pub fn pow(&self, e: f32) -> f32 {
        if self.integral() { ops::pow2(e) } else { ops::pow2_any(e) }
    }

    /// Whether every exponent is an integer (all but `quantized_po2(1)`).
    #[inline]
    pub fn integral(&self) -> bool {
        // Casts, not `round`: a libm call here would stop vectorization.
        self.min_exp == (self.min_exp as i64) as f64 && self.max_exp == (self.max_exp as i64) as f64
    }

    fn from_args(a: &Args, min_exp: f64, max_exp: f64, max_value: Option<f32>) -> Result<Self> {
        let quadratic = a.flag("quadratic_approximation", false)?;
        let rounding = match a.opt_str("log2_rounding")?.as_deref() {
            None | Some("rnd") => Log2Rounding::Rnd,
            Some("floor") => Log2Rounding::Floor,
            Some(s) => return Err(a.reject(format!("log2_rounding='{s}' is not 'rnd' or 'floor'"))),
        };
        let max_exp = if quadratic { 2.0 * (max_exp / 2.0).floor() } else { max_exp };
        Ok(Po2Exp { min_exp, max_exp, max_value, quadratic, rounding })
    }

    fn encoding(&self, signed: bool) -> Encoding {
        let q = if self.quadratic { 2.0 } else { 1.0 };
        let mut max_exp = (q * self.max_exp) as i32;
        if let Some(mv) = self.max_value {
            // |x| above max_value takes max_value's exponent (the search
            // clips its input), so no code goes beyond it: a tighter range
            // keeps hardware accumulators narrow. Both TF log paths.
            let e = self.exponent(mv, false).max(self.exponent(mv, true));
            if e.is_finite() {
                max_exp = max_exp.min(e as i32).max((q * self.min_exp) as i32);
            }
        }
        Encoding::Po2 { signed, min_exp: (q * self.min_exp) as i32, max_exp }
    }
}

/// `_need_exponent_sign_bit_check`.
fn max_value_arg(a: &Args) -> Result<(Option<f32>, i32)> {
    match a.opt_float("max_value")? {
        None => Ok((None, 1)),
        Some(v) if v < 0.0 => Err(a.reject("po2 max_value should be non-negative")),
        Some(v) => Ok((Some(v as f32), i32::from(v > 1.0))),
    }
}

pub(crate) const PO2_PARAMS: &[&str] = &[
    "bits", "max_value", "use_stochastic_rounding", "quadratic_approximation",
    "log2_rounding", "qnoise_factor", "var_name", "use_ste", "use_variables",
];
pub(crate) const RELU_PO2_PARAMS: &[&str] = &[
    "bits", "max_value", "negative_slope", "use_stochastic_rounding",
    "quadratic_approximation", "log2_rounding", "qnoise_factor", "var_name", "use_ste",
    "use_variables",
];

#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedPo2 {
    pub bits: u32,
    pub exp: Po2Exp,
    pub mix: super::Mix,
}

impl QuantizedPo2 {
    pub(crate) fn from_args(a: &Args) -> Result<Self> {
        let bits = bits_arg(a, 8, 32)?;
        let (max_value, sign_bit) = max_value_arg(a)?;
        let effect = 2f64.powi(bits as i32 - 1 - sign_bit);
        Ok(QuantizedPo2 {
            bits,
            exp: Po2Exp::from_args(a, -effect, effect - 1.0, max_value)?,
            mix: super::Mix::from_args(a)?,
        })
    }
    pub fn encoding(&self) -> Encoding {
        self.exp.encoding(true)
    }
    /// `sign(x) * 2^exponent(|x|)`, sign(0) = +1.
    #[inline]
    fn grid(&self, v: f32, tail: bool) -> f32 {
        ops::sign_nonzero(v) * self.exp.pow(self.exp.exponent(v.abs(), tail))
    }

    pub(crate) fn apply_fast(&self, x: &[f32], out: &mut [f32]) {
        let mix = self.mix;
        if !self.exp.map_signed(x, out, |v, xq| mix.apply(v, xq)) {
            super::map_into(x, out, |v, t| mix.apply(v, self.grid(v, t)));
        }
    }

    pub fn eval(&self, x: &[f32]) -> Eval {
        let t = ops::tail_start(x.len());
        let grid: Vec<f32> = x.iter().enumerate().map(|(i, &v)| self.grid(v, i >= t)).collect();
        let float = x.iter().zip(&grid).map(|(&x, &q)| self.mix.apply(x, q)).collect();
        Eval { float, grid, scale: None }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedReluPo2 {
    pub bits: u32,
    pub negative_slope: f32,
    pub exp: Po2Exp,
    pub mix: super::Mix,
}

impl QuantizedReluPo2 {
    pub(crate) fn from_args(a: &Args) -> Result<Self> {
        let bits = bits_arg(a, 8, 32)?;
        let (max_value, sign_bit) = max_value_arg(a)?;
        let effect = 2f64.powi(bits as i32 - sign_bit);
        Ok(QuantizedReluPo2 {
            bits,
            negative_slope: negative_slope(a, "negative_slope")?,
            exp: Po2Exp::from_args(a, -effect, effect - 1.0, max_value)?,
            mix: super::Mix::from_args(a)?,
        })
    }
    pub fn encoding(&self) -> Encoding {
        self.exp.encoding(self.negative_slope != 0.0)
    }
    pub fn eval(&self, x: &[f32]) -> Eval {
        let ns = self.negative_slope;
        let mut grid = Vec::with_capacity(x.len());
        let mut float = Vec::with_capacity(x.len());
        let t = ops::tail_start(x.len());
        for (i, &v) in x.iter().enumerate() {
            let tail = i >= t;
            let xl = match self.exp.max_value {
                None => leaky_relu(v, ns),
                Some(mv) => if v <= mv { leaky_relu(v, ns) } else { mv },
            };
            // keras.ops.leaky_relu's default slope is 0.2; only the sign of
            // its result matters here (negatives fall below eps).
            let xq = if v >= 0.0 || ns == 0.0 {
                self.exp.pow(self.exp.exponent(leaky_relu(v, 0.2), tail))
            } else {
                -self.exp.pow(self.exp.exponent(leaky_relu(-v, 0.2) * ns, tail))
            };
            grid.push(xq);
            float.push(self.mix.apply(xl, xq));
        }
        Eval { float, grid, scale: None }
    }
}

#[cfg(test)]
mod tests {
    use crate::quant::{Encoding, InternalSigmoid, Quantizer};

    /// max_value bounds the exponent range (QKeras clips the search's
    /// input), and every code of inputs far above it stays inside.
    #[test]
    fn max_value_bounds_the_exponent_range() {
        for (spec, max_exp) in [
            ("quantized_relu_po2(5, max_value=8, quadratic_approximation=True)", 4),
            ("quantized_relu_po2(4, max_value=2)", 1),
            ("quantized_po2(4, max_value=0.5)", -1),
            ("quantized_po2(5, max_value=4)", 2),
            ("quantized_po2(4)", 3),
        ] {
            let q = Quantizer::parse(spec, InternalSigmoid::Hard).unwrap();
            let Some(Encoding::Po2 { max_exp: m, min_exp, .. }) = q.encoding() else { panic!("{spec}") };
            assert_eq!(m, max_exp, "{spec}");
            let x: Vec<f32> = (-80..80).map(|k| 1.37f32.powi(k) * if k % 2 == 0 { 1.0 } else { -1.0 }).collect();
            let hw = q.hardware(&x, &[x.len()]).unwrap();
            assert!(hw.codes.iter().all(|&c| (min_exp as i64..=m as i64).contains(&c)), "{spec}: {:?}", hw.codes);
            assert!(hw.codes.contains(&(m as i64)), "{spec}: the bound is reached");
        }
    }
}
