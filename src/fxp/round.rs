//! Rounding and overflow: float → code and code → code (the requantizer).
//!
//! Everything is exact integer arithmetic on `i128`; floats are decomposed
//! into mantissa × 2^exponent first, so no step rounds twice.

use super::FixedFormat;

/// How bits below the new least significant bit are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Round to nearest, ties to even: `tf.round`, `keras.ops.round`.
    TiesEven,
    /// Round to nearest, ties away from zero: QKeras's `alpha="auto"` path
    /// (`sign(x) * floor(|x| / s + 0.5)`).
    TiesAway,
    /// Toward −∞: plain truncation of two's complement bits in hardware.
    Floor,
}

impl Rounding {
    /// The mode number the generated requantizers take: `ROUND` of
    /// `hw/qkhw_requant.v` and the `mode` of the C helper
    /// `qkhw_round_shift`.
    pub fn hw_mode(self) -> u32 {
        match self {
            Rounding::TiesEven => 0,
            Rounding::TiesAway => 1,
            Rounding::Floor => 2,
        }
    }
}

/// What happens to a value outside the target format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// Clamp to the nearest representable code.
    Saturate,
    /// Keep the low `width` bits (two's complement wrap-around).
    Wrap,
}

/// Why a float has no code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRepresentable {
    Nan,
    /// ±inf with `Overflow::Wrap`: there are no low bits to keep.
    InfiniteWrap,
}

/// `v / 2^s` rounded as `r`, exact for every `v` and `s`.
pub fn round_shift_right(v: i128, s: u32, r: Rounding) -> i128 {
    if s == 0 {
        return v;
    }
    if s >= 128 {
        // |v| <= 2^127 <= 2^(s-1): the quotient is in [-0.5, 0.5).
        let tie = s == 128 && v == i128::MIN;
        return match r {
            Rounding::Floor => -i128::from(v < 0),
            Rounding::TiesAway if tie => -1,
            _ => 0,
        };
    }
    let floor = v >> s;
    let rem = (v as u128) & ((1u128 << s) - 1);
    let half = 1u128 << (s - 1);
    let up = match r {
        Rounding::Floor => false,
        Rounding::TiesEven => rem > half || (rem == half && floor & 1 == 1),
        Rounding::TiesAway => rem > half || (rem == half && v >= 0),
    };
    floor + i128::from(up)
}

/// Fit an exact integer into `fmt` (the low `width` bits, or the clamp).
pub fn fit(v: i128, fmt: FixedFormat, o: Overflow) -> i128 {
    match o {
        Overflow::Saturate => v.clamp(fmt.min_code(), fmt.max_code()),
        Overflow::Wrap => wrap_bits(v as u128, fmt),
    }
}

/// Interpret the low `fmt.width` bits of `bits` as a code of `fmt`.
fn wrap_bits(bits: u128, fmt: FixedFormat) -> i128 {
    let w = fmt.width;
    if w >= 128 {
        return bits as i128;
    }
    let low = bits & ((1u128 << w) - 1);
    if fmt.signed && (low >> (w - 1)) & 1 == 1 {
        (low | !((1u128 << w) - 1)) as i128
    } else {
        low as i128
    }
}

/// An f64 as `(negative, mantissa, exponent)` with value ±mantissa × 2^exponent.
fn decompose(x: f64) -> (bool, u64, i32) {
    let bits = x.to_bits();
    let neg = bits >> 63 == 1;
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        (neg, frac, -1074)
    } else {
        (neg, frac | (1u64 << 52), exp - 1075)
    }
}

/// The code of `x` in `fmt`: x × 2^frac rounded as `r`, then fitted as `o`.
/// Exact for every finite f64 (hence every f32); ±inf saturate.
pub fn quantize_f64(
    x: f64,
    fmt: FixedFormat,
    r: Rounding,
    o: Overflow,
) -> Result<i128, NotRepresentable> {
    if x.is_nan() {
        return Err(NotRepresentable::Nan);
    }
    if x.is_infinite() {
        return match o {
            Overflow::Saturate => Ok(if x > 0.0 { fmt.max_code() } else { fmt.min_code() }),
            Overflow::Wrap => Err(NotRepresentable::InfiniteWrap),
        };
    }
    let (neg, mant, exp) = decompose(x);
    let e2 = exp as i64 + fmt.frac as i64;
    let signed_mant = if neg { -(mant as i128) } else { mant as i128 };
    if e2 <= 0 {
        let s = (-e2).min(200) as u32;
        return Ok(fit(round_shift_right(signed_mant, s, r), fmt, o));
    }
    // Left shift: an integer already, only overflow can happen.
    let e2 = e2 as u32;
    let mant_bits = 64 - mant.leading_zeros();
    if mant == 0 {
        return Ok(0);
    }
    if mant_bits + e2 <= 127 {
        return Ok(fit(signed_mant << e2, fmt, o));
    }
    if neg && mant.is_power_of_two() && mant_bits + e2 == 128 {
        // -2^127, the one 128-bit magnitude i128 holds.
        return Ok(fit(i128::MIN, fmt, o));
    }
    Ok(match o {
        Overflow::Saturate => if neg { fmt.min_code() } else { fmt.max_code() },
        Overflow::Wrap => {
            let mag = if e2 >= 128 { 0 } else { (mant as u128) << e2 };
            wrap_bits(if neg { mag.wrapping_neg() } else { mag }, fmt)
        }
    })
}

/// `quantize_f64` for an f32 (every f32 is an f64 exactly).
pub fn quantize_f32(
    x: f32,
    fmt: FixedFormat,
    r: Rounding,
    o: Overflow,
) -> Result<i128, NotRepresentable> {
    quantize_f64(x as f64, fmt, r, o)
}

/// The hardware requantizer: `code` of `from` re-expressed in `to`,
/// rounding dropped fraction bits as `r` and fitting as `o`.
pub fn requantize(code: i128, from: FixedFormat, to: FixedFormat, r: Rounding, o: Overflow) -> i128 {
    let shift = from.frac as i64 - to.frac as i64;
    if shift >= 0 {
        return fit(round_shift_right(code, shift.min(200) as u32, r), to, o);
    }
    let s = (-shift) as u32;
    let room = if code >= 0 { code.leading_zeros() } else { code.leading_ones() };
    if code == 0 || (s < 128 && room > s) {
        return fit(code << s, to, o);
    }
    match o {
        Overflow::Saturate => if code < 0 { to.min_code() } else { to.max_code() },
        Overflow::Wrap => wrap_bits(if s >= 128 { 0 } else { (code as u128) << s }, to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(width: u32, frac: i32, signed: bool) -> FixedFormat {
        FixedFormat::new(width, frac, signed).unwrap()
    }

    #[test]
    fn ties() {
        let q = |x, r| quantize_f64(x, f(8, 0, true), r, Overflow::Saturate).unwrap();
        let xs = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5];
        assert_eq!(xs.map(|x| q(x, Rounding::TiesEven)), [0, 2, 2, 0, -2, -2]);
        assert_eq!(xs.map(|x| q(x, Rounding::TiesAway)), [1, 2, 3, -1, -2, -3]);
        assert_eq!(xs.map(|x| q(x, Rounding::Floor)), [0, 1, 2, -1, -2, -3]);
    }

    #[test]
    fn saturate_and_wrap_6_bits() {
        let s = f(6, 2, true); // [-8, 7.75]
        assert_eq!(quantize_f64(9.0, s, Rounding::TiesEven, Overflow::Saturate), Ok(31));
        assert_eq!(quantize_f64(-9.0, s, Rounding::TiesEven, Overflow::Saturate), Ok(-32));
        // 9.0 = 36 quarters = 0b100100 -> low 6 bits as signed = -28.
        assert_eq!(quantize_f64(9.0, s, Rounding::TiesEven, Overflow::Wrap), Ok(-28));
        assert_eq!(quantize_f64(f64::INFINITY, s, Rounding::Floor, Overflow::Saturate), Ok(31));
        assert!(quantize_f64(f64::NAN, s, Rounding::Floor, Overflow::Saturate).is_err());
    }

    #[test]
    fn tiny_negative_floors_to_minus_one() {
        let s = f(8, -100, true);
        assert_eq!(quantize_f64(-1e-300, s, Rounding::Floor, Overflow::Saturate), Ok(-1));
        assert_eq!(quantize_f64(-1e-300, s, Rounding::TiesEven, Overflow::Saturate), Ok(0));
        assert_eq!(quantize_f64(-f64::MIN_POSITIVE, f(8, 1000, true), Rounding::Floor, Overflow::Wrap), Ok(-1));
    }

    #[test]
    fn wide_left_shifts_are_exact() {
        // Found by the proptest against `fixed`: -0.5 into I1F127.
        let f128 = f(128, 127, true);
        assert_eq!(quantize_f64(-0.5, f128, Rounding::TiesEven, Overflow::Saturate), Ok(-(1i128 << 126)));
        assert_eq!(quantize_f64(-1.0, f128, Rounding::TiesEven, Overflow::Saturate), Ok(i128::MIN));
        assert_eq!(quantize_f64(1.0, f128, Rounding::TiesEven, Overflow::Saturate), Ok(i128::MAX));
    }

    #[test]
    fn round_shift_extremes() {
        assert_eq!(round_shift_right(i128::MIN, 127, Rounding::TiesEven), -1);
        assert_eq!(round_shift_right(i128::MIN, 128, Rounding::TiesEven), 0);
        assert_eq!(round_shift_right(i128::MIN, 128, Rounding::TiesAway), -1);
        assert_eq!(round_shift_right(i128::MIN, 300, Rounding::Floor), -1);
        assert_eq!(round_shift_right(i128::MAX, 127, Rounding::TiesEven), 1);
    }

    #[test]
    fn requantize_left_and_right() {
        let a = f(8, 4, true);
        let b = f(6, 1, true);
        // 2.6875 (43/16) -> halves: 5.375 -> 5 (2.5)
        assert_eq!(requantize(43, a, b, Rounding::TiesEven, Overflow::Saturate), 5);
        // widening left shift, then saturation into 4 bits
        let c = f(4, 6, true);
        assert_eq!(requantize(3, b, c, Rounding::Floor, Overflow::Saturate), 7);
        assert_eq!(requantize(-3, b, c, Rounding::Floor, Overflow::Saturate), -8);
        assert_eq!(requantize(1, b, f(8, 200, true), Rounding::Floor, Overflow::Wrap), 0);
    }
}
