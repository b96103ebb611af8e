//! `FixedFormat`: the one description of a two's complement (or unsigned)
//! fixed-point number used by the IR, the golden model and every backend.

use std::fmt;

/// Widest code the runtime core handles exactly. Codes live in `i128`; an
/// unsigned format therefore stops at 127 bits and a signed one at 128.
pub const MAX_WIDTH: u32 = 128;

/// The weight of a code's last bit with `frac` fraction bits, as the
/// messages write it: `2^-4`, and `2^1` where `frac` is negative (it
/// printed `2^--1`, cross-check batch 14).
pub fn lsb(frac: i32) -> String {
    format!("2^{}", -i64::from(frac))
}

/// `width` bits, `frac` of them after the binary point (negative `frac`
/// means the step is larger than 1, `frac > width` a purely fractional
/// number with implied leading zeros), two's complement when `signed`.
/// value = code × 2^-frac.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FixedFormat {
    pub width: u32,
    pub frac: i32,
    pub signed: bool,
}

impl FixedFormat {
    /// A checked constructor: the width must be 1..=128 (127 when unsigned).
    pub fn new(width: u32, frac: i32, signed: bool) -> Result<Self, crate::Error> {
        let max = if signed { MAX_WIDTH } else { MAX_WIDTH - 1 };
        if width == 0 || width > max {
            return Err(crate::Error::Format(format!(
                "width {width} is outside 1..={max} for a {} format",
                if signed { "signed" } else { "unsigned" }
            )));
        }
        Ok(Self { width, frac, signed })
    }

    /// hls4ml / Vitis style: `fixed<W,I>` has W bits of which I integer bits
    /// (sign included when signed).
    pub fn from_width_int(width: u32, int: i32, signed: bool) -> Result<Self, crate::Error> {
        Self::new(width, width as i32 - int, signed)
    }

    /// Integer bits, the sign bit included.
    pub fn int_bits(&self) -> i32 {
        self.width as i32 - self.frac
    }

    pub fn min_code(&self) -> i128 {
        if self.signed {
            if self.width == 128 { i128::MIN } else { -(1i128 << (self.width - 1)) }
        } else {
            0
        }
    }

    pub fn max_code(&self) -> i128 {
        if self.signed {
            if self.width == 128 { i128::MAX } else { (1i128 << (self.width - 1)) - 1 }
        } else {
            (1i128 << self.width) - 1
        }
    }

    pub fn contains(&self, code: i128) -> bool {
        (self.min_code()..=self.max_code()).contains(&code)
    }

    /// The value of `code` as f64; exact whenever the code needs at most 53
    /// significant bits (always for widths up to 53).
    pub fn to_f64(&self, code: i128) -> f64 {
        (code as f64) * pow2(-self.frac)
    }

    /// The value of `code` rounded once to f32.
    pub fn to_f32(&self, code: i128) -> f32 {
        self.to_f64(code) as f32
    }

    /// The narrowest format holding every finite value of `values` exactly,
    /// with the codes: the policy for tensors QKeras leaves as float32
    /// (unquantized biases, batch-norm tables). `None` if a value is not
    /// finite or the format would exceed 64 bits.
    pub fn exact_for(values: &[f32]) -> Option<(FixedFormat, Vec<i64>)> {
        let mut frac = i32::MIN;
        for &v in values {
            if !v.is_finite() {
                return None;
            }
            if v != 0.0 {
                // v = odd × 2^e: the lowest set bit of the significand.
                let bits = v.to_bits();
                let exp = ((bits >> 23) & 0xff) as i32;
                let man = if exp == 0 { bits & 0x7f_ffff } else { (bits & 0x7f_ffff) | 0x80_0000 };
                let e = if exp == 0 { -149 } else { exp - 150 } + man.trailing_zeros() as i32;
                frac = frac.max(-e);
            }
        }
        if frac == i32::MIN {
            frac = 0;
        }
        let signed = values.iter().any(|v| v.is_sign_negative() && *v != 0.0);
        let mut codes = Vec::with_capacity(values.len());
        let (mut lo, mut hi) = (0i128, 0i128);
        for &v in values {
            let c = v as f64 * pow2(frac);
            if c.abs() >= 9.2e18 {
                return None;
            }
            let c = c as i64;
            lo = lo.min(c as i128);
            hi = hi.max(c as i128);
            codes.push(c);
        }
        let mut width = 1u32;
        let fits = |w: u32| {
            let f = FixedFormat { width: w, frac, signed };
            f.contains(lo) && f.contains(hi)
        };
        while !fits(width) {
            width += 1;
            if width > 64 {
                return None;
            }
        }
        Some((FixedFormat { width, frac, signed }, codes))
    }

    /// Smallest format that holds every code of `self` and `other` exactly
    /// (same binary point alignment rules as hardware concatenation).
    pub fn union(&self, other: &FixedFormat) -> FixedFormat {
        let frac = self.frac.max(other.frac);
        let signed = self.signed || other.signed;
        let int = |f: &FixedFormat| f.int_bits() + i32::from(signed && !f.signed);
        let int = int(self).max(int(other));
        FixedFormat { width: (int + frac).max(1) as u32, frac, signed }
    }
}

impl std::str::FromStr for FixedFormat {
    type Err = crate::Error;
    /// `fixed<W,I>` or `ufixed<W,I>` (hls4ml / Vitis `ap_fixed` notation:
    /// W bits, I of them integer bits, the sign included).
    fn from_str(s: &str) -> Result<Self, crate::Error> {
        let bad = || crate::Error::Format(format!("`{s}` is not fixed<W,I> or ufixed<W,I> (e.g. fixed<16,6>)"));
        let t = s.trim();
        let (signed, rest) = if let Some(r) = t.strip_prefix("ufixed<") {
            (false, r)
        } else if let Some(r) = t.strip_prefix("fixed<") {
            (true, r)
        } else {
            return Err(bad());
        };
        let (w, i) = rest.strip_suffix('>').and_then(|r| r.split_once(',')).ok_or_else(bad)?;
        let w: u32 = w.trim().parse().map_err(|_| bad())?;
        let i: i32 = i.trim().parse().map_err(|_| bad())?;
        FixedFormat::from_width_int(w, i, signed)
    }
}

impl fmt::Display for FixedFormat {
    /// `fixed<W,I>` / `ufixed<W,I>`, the notation hls4ml users read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.signed { "fixed" } else { "ufixed" };
        write!(f, "{kind}<{},{}>", self.width, self.int_bits())
    }
}

/// 2^e as f64, exact for every e in f64's range (subnormals included).
pub fn pow2(e: i32) -> f64 {
    if e > 1023 {
        f64::INFINITY
    } else if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else if e >= -1074 {
        f64::from_bits(1u64 << (e + 1074))
    } else {
        0.0
    }
}

/// 2^e as f32, exact in f32's range.
pub fn pow2_f32(e: i32) -> f32 {
    if e > 127 {
        f32::INFINITY
    } else if e >= -126 {
        f32::from_bits(((e + 127) as u32) << 23)
    } else if e >= -149 {
        f32::from_bits(1u32 << (e + 149))
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A negative fraction is a positive power (cross-check batch 14:
    /// `predict` printed `value = code x 2^--1` for fixed<8,9>).
    #[test]
    fn the_last_bits_weight_is_written_with_one_sign() {
        assert_eq!(lsb(4), "2^-4");
        assert_eq!(lsb(0), "2^0");
        assert_eq!(lsb(-1), "2^1");
    }

    #[test]
    fn bounds() {
        let f = FixedFormat::new(6, 3, true).unwrap();
        assert_eq!((f.min_code(), f.max_code()), (-32, 31));
        assert_eq!(f.to_string(), "fixed<6,3>");
        let u = FixedFormat::new(6, 6, false).unwrap();
        assert_eq!((u.min_code(), u.max_code()), (0, 63));
        assert_eq!(u.to_string(), "ufixed<6,0>");
        assert!(FixedFormat::new(0, 0, true).is_err());
        assert!(FixedFormat::new(128, 0, false).is_err());
        let w = FixedFormat::new(128, 0, true).unwrap();
        assert_eq!((w.min_code(), w.max_code()), (i128::MIN, i128::MAX));
    }

    #[test]
    fn pow2_exact() {
        for e in -1022..=1022 {
            assert_eq!(pow2(e) * pow2(-e), 1.0, "2^{e}");
            assert_eq!(pow2(e).log2(), e as f64);
        }
        assert_eq!(pow2(-1074), f64::from_bits(1));
        assert_eq!(pow2(-1023) * 2.0, pow2(-1022));
        for e in -149..=127 {
            assert_eq!(pow2_f32(e) as f64, pow2(e));
        }
        assert_eq!(pow2(-1075), 0.0);
        assert_eq!(pow2_f32(128), f32::INFINITY);
    }

    #[test]
    fn union_covers_both() {
        let a = FixedFormat::new(6, 4, false).unwrap(); // [0, 63/16]
        let b = FixedFormat::new(8, 2, true).unwrap(); // [-32, 31.75]
        let u = a.union(&b);
        for (f, c) in [(a, a.max_code()), (b, b.min_code()), (b, b.max_code())] {
            let v = f.to_f64(c) * pow2(u.frac);
            assert!(u.contains(v as i128), "{u} must hold {} of {f}", f.to_f64(c));
        }
    }
}

#[cfg(test)]
mod exact_tests {
    use super::*;

    #[test]
    fn exact_for_holds_every_value() {
        let v = [0.75f32, -0.5, 3.0, 0.0];
        let (f, c) = FixedFormat::exact_for(&v).unwrap();
        assert_eq!((f.width, f.frac, f.signed), (5, 2, true));
        assert_eq!(c, vec![3, -2, 12, 0]);
        let (f, c) = FixedFormat::exact_for(&[8.0, 4.0]).unwrap();
        assert_eq!((f.width, f.frac, f.signed), (2, -2, false));
        assert_eq!(c, vec![2, 1]);
        let x = 1.0f32 / 3.0;
        let (f, c) = FixedFormat::exact_for(&[x]).unwrap();
        assert_eq!(f.to_f64(c[0] as i128), x as f64);
        assert!(FixedFormat::exact_for(&[1e30, 1e-30]).is_none());
        assert!(FixedFormat::exact_for(&[f32::NAN]).is_none());
    }
}
