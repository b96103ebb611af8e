//! From a quantizer to the requantizer op the plan runs: fixed grids as
//! integer round-and-clamp, everything else through the bit-exact quantizer
//! core, and `alpha` scales as an integer multiplier (or a clear refusal).

use super::{Act, frac_needed};
use crate::quant::{Encoding, Kind, Quantizer};

/// The requantizer of an activation quantizer: its op, output fraction and
/// code range.
pub fn requantizer(q: &Quantizer) -> std::result::Result<(Act, i32, i128, i128), String> {
    let enc = q.encoding().ok_or_else(|| {
        format!(
            "`{}` is a float function with no fixed-point output: replace it by a quantized activation (e.g. quantized_tanh(8), quantized_sigmoid(8) or quantized_bits(8,0,1))",
            q.spec
        )
    })?;
    if let Kind::Bits(b) = &q.kind
        && b.alpha.is_auto() && b.post_training_scale.is_none() {
            return Err(format!(
                "activation quantizer `{}`: alpha='auto'/'auto_po2' without post_training_scale scales by the whole batch, which has no hardware meaning",
                q.spec
            ));
        }
    // A frozen auto scale (post_training_scale 2^e): QKeras rounds
    // |x| / 2^e half away from zero on the grid, clamps symmetrically and
    // multiplies back (exact in float32). The quantizer's own hardware view
    // gives the grid codes z; the step holds z at e binary places up.
    if let Kind::Bits(b) = &q.kind
        && let Some(pts) = &b.post_training_scale
    {
        let s = pts.first().copied().unwrap_or(1.0);
        let e = s.log2().round() as i32;
        if pts.iter().any(|&v| v != s) || !(s.is_finite() && s > 0.0) || crate::fxp::pow2(e) as f32 != s {
            return Err(format!(
                "activation quantizer `{}`: its post_training_scale {:?} is not one power of two for every channel; the golden model runs an activation's frozen auto_po2 scale only as one power of two",
                q.spec, pts
            ));
        }
        let Encoding::Fixed(f) = &enc else {
            return Err(format!("activation quantizer `{}` with a post_training_scale is run by the golden model only on a fixed grid", q.spec));
        };
        // One scale for every element (the same value per channel).
        let q = Quantizer { kind: Kind::Bits(crate::quant::bits::QuantizedBits { post_training_scale: Some(vec![s]), post_training_shape: None, ..b.clone() }), spec: q.spec.clone() };
        let hw = q.hardware(&[-1.0e30, 1.0e30, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], &[8]).map_err(|e| e.to_string())?;
        return Ok((Act::Generic { q, out_frac: f.frac }, f.frac - e, hw.codes[0] as i128, hw.codes[1] as i128));
    }
    // The probe: saturated codes at both ends, and the scale.
    const BIG: f32 = 1.0e30;
    let hw = q.hardware(&[-BIG, BIG, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], &[8]).map_err(|e| e.to_string())?;
    let scale_one = hw.scale.as_ref().is_none_or(|s| s.values.iter().all(|&v| v == 1.0));
    match &enc {
        Encoding::Fixed(f) if scale_one && grid_ok(q) => {
            Ok((Act::Grid { out_frac: f.frac, min: hw.codes[0] as i128, max: hw.codes[1] as i128 }, f.frac, hw.codes[0] as i128, hw.codes[1] as i128))
        }
        Encoding::Fixed(f) if scale_one => {
            let (lo, hi) = (f.min_code(), f.max_code());
            Ok((Act::Generic { q: q.clone(), out_frac: f.frac }, f.frac, lo, hi))
        }
        Encoding::Fixed(_) => Err(format!("activation quantizer `{}` with an alpha scale is not run by the golden model yet", q.spec)),
        Encoding::Po2 { signed, min_exp, max_exp } => {
            // ±2^e as fixed point: frac -min_exp.
            let frac = -*min_exp;
            let hi = 1i128 << (*max_exp - *min_exp).clamp(0, 120);
            Ok((Act::Generic { q: q.clone(), out_frac: frac }, frac, if *signed { -hi } else { 0 }, hi))
        }
        Encoding::Table { values, .. } => {
            let frac = values.iter().filter_map(|&v| frac_needed(v as f64)).max().unwrap_or(0);
            let codes: Vec<i128> = values.iter().map(|&v| (v as f64 * crate::fxp::pow2(frac)) as i128).collect();
            let (lo, hi) = (codes.iter().copied().min().unwrap_or(0), codes.iter().copied().max().unwrap_or(0));
            Ok((Act::Generic { q: q.clone(), out_frac: frac }, frac, lo.min(-hi), hi.max(-lo)))
        }
    }
}

/// An activation `quantized_bits` with a numeric `alpha` (a number or one
/// per channel): QKeras rounds on its grid as if alpha were 1, then
/// multiplies by alpha in float32. With alpha = M·2^e (M odd) that product
/// is code·M·2^(e−frac), exact in float32 while |code·M| < 2^24, which is
/// checked: the hardware keeps the grid's codes and multiplies them by the
/// integers `mult` (alphas aligned to the smallest exponent `exp`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScaledAct {
    pub grid_frac: i32,
    pub lo: i128,
    pub hi: i128,
    pub mult: Vec<i128>,
    pub exp: i32,
}

/// `Some` for an activation with a numeric alpha other than 1 (see
/// [`ScaledAct`]); `None` for every other quantizer.
pub fn scaled_requantizer(q: &Quantizer) -> std::result::Result<Option<ScaledAct>, String> {
    let Kind::Bits(b) = &q.kind else { return Ok(None) };
    let crate::quant::bits::Alpha::Fixed(scale) = &b.alpha else { return Ok(None) };
    if scale.values.iter().all(|&a| a == 1.0) {
        return Ok(None);
    }
    if !grid_ok(q) {
        return Err(format!("activation quantizer `{}` with an alpha scale is not run by the golden model yet (only on a fixed grid, bits > 1)", q.spec));
    }
    let mut parts = vec![];
    for &a in &scale.values {
        if !(a.is_finite() && a > 0.0) {
            return Err(format!("activation quantizer `{}`: alpha {a} is not a positive number", q.spec));
        }
        // a = m · 2^e with m odd.
        let (mut m, mut e) = (a as f64, 0i32);
        while m.fract() != 0.0 {
            m *= 2.0;
            e -= 1;
        }
        while m % 2.0 == 0.0 {
            m /= 2.0;
            e += 1;
        }
        parts.push((m as i128, e));
    }
    let unscaled = Quantizer { kind: Kind::Bits(crate::quant::bits::QuantizedBits { alpha: crate::quant::bits::Alpha::None, ..b.clone() }), spec: q.spec.clone() };
    let (act, grid_frac, lo, hi) = requantizer(&unscaled)?;
    if !matches!(act, Act::Grid { .. }) {
        return Err(format!("activation quantizer `{}` with an alpha scale is not run by the golden model yet", q.spec));
    }
    let big = lo.abs().max(hi.abs());
    if let Some(&(m, _)) = parts.iter().find(|&&(m, _)| big * m >= 1 << 24) {
        return Err(format!(
            "activation quantizer `{}`: alpha times its codes needs {} significant bits, and QKeras rounds the product to float32's 24: use alpha=1, a power of two, or fewer bits",
            q.spec,
            128 - (big * m).leading_zeros()
        ));
    }
    let exp = parts.iter().map(|p| p.1).min().unwrap_or(0);
    let mult = parts.iter().map(|&(m, e)| m << (e - exp).clamp(0, 60)).collect();
    Ok(Some(ScaledAct { grid_frac, lo, hi, mult, exp }))
}

/// Quantizers whose output is `clamp(round_ties_even(x · 2^frac))` on
/// exact inputs: the fixed-grid paths of quantized_bits and quantized_relu.
fn grid_ok(q: &Quantizer) -> bool {
    match &q.kind {
        Kind::Bits(b) => !b.alpha.is_auto() && (b.bits > 1 || !b.keep_negative),
        Kind::Relu(r) => r.is_plain_grid(),
        _ => false,
    }
}

#[cfg(test)]
mod alpha_tests {
    use super::*;
    use crate::quant::InternalSigmoid;

    #[test]
    fn numeric_alpha_is_an_integer_multiple_or_refused() {
        let q = |s: &str| Quantizer::parse(s, InternalSigmoid::Hard).unwrap();
        let sa = scaled_requantizer(&q("quantized_bits(6,2,alpha=0.75)")).unwrap().unwrap();
        assert_eq!((sa.mult.clone(), sa.exp, sa.grid_frac, sa.lo, sa.hi), (vec![3], -2, 3, -32, 31));
        let sa = scaled_requantizer(&q("quantized_bits(6,2,alpha=2.0)")).unwrap().unwrap();
        assert_eq!((sa.mult, sa.exp), (vec![1], 1));
        let sa = scaled_requantizer(&q("quantized_bits(8,3,alpha=[0.5,1.5,3.0,0.125])")).unwrap().unwrap();
        assert_eq!((sa.mult, sa.exp), (vec![4, 12, 24, 1], -3));
        assert_eq!(scaled_requantizer(&q("quantized_bits(6,2,alpha=1)")).unwrap(), None);
        assert_eq!(scaled_requantizer(&q("quantized_relu(6,2)")).unwrap(), None);
        let e = scaled_requantizer(&q("quantized_bits(6,2,alpha=1.1)")).unwrap_err();
        assert!(e.contains("29 significant bits") && e.contains("float32"), "{e}");
    }
}


