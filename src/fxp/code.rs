//! Fixed-point codes as integers: the code types the golden kernels and
//! the activation semantics are generic over, and the two conversions every
//! layer shares (a ties-to-even shift, a code's float32 value).

use std::ops::{Add, Mul, Shl, Shr, Sub};

use super::{Rounding, pow2};

/// A code type: `i64` (fast) or `i128` (wide).
pub trait Code:
    Copy
    + Ord
    + Default
    + Send
    + Sync
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Shl<u32, Output = Self>
    + Shr<u32, Output = Self>
    + std::iter::Sum
{
    fn from_i64(v: i64) -> Self;
    fn from_i128(v: i128) -> Self;
    fn to_i128(self) -> i128;
    /// Exact below 2^53 (where the f64 kernels are used); one instruction
    /// for i64, unlike the i128 conversion.
    fn to_f64(self) -> f64;
    /// The codes as `i64`, when that is the code type.
    fn i64s(x: &[Self]) -> Option<&[i64]> {
        let _ = x;
        None
    }
    const ZERO: Self;
}

impl Code for i64 {
    fn from_i64(v: i64) -> Self {
        v
    }
    fn i64s(x: &[Self]) -> Option<&[i64]> {
        Some(x)
    }
    fn from_i128(v: i128) -> Self {
        v as i64
    }
    fn to_i128(self) -> i128 {
        self as i128
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    const ZERO: Self = 0;
}

impl Code for i128 {
    fn from_i64(v: i64) -> Self {
        v as i128
    }
    fn from_i128(v: i128) -> Self {
        v
    }
    fn to_i128(self) -> i128 {
        self
    }
    fn to_f64(self) -> f64 {
        self as i64 as f64
    }
    const ZERO: Self = 0;
}

impl Code for i32 {
    fn from_i64(v: i64) -> Self {
        v as i32
    }
    fn from_i128(v: i128) -> Self {
        v as i32
    }
    fn to_i128(self) -> i128 {
        self as i128
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    const ZERO: Self = 0;
}

/// Ties-to-even right shift of a code, branch-free (it vectorizes): round
/// up when the remainder exceeds half, or equals half with an odd quotient.
#[inline]
pub fn shr_even<T: Code>(v: T, s: u32) -> T {
    if s == 0 {
        return v;
    }
    let one = T::from_i64(1);
    let q = v >> s; // floor
    let rem = v - (q << s);
    let half = one << (s - 1);
    let odd = q - ((q >> 1) << 1);
    if rem + odd > half { q + one } else { q }
}

/// `v` (value = code × 2^-frac) rounded once to the nearest float32, ties
/// to even: what a float32 computation of the exact value would hold.
pub fn code_to_f32(code: i128, frac: i32) -> f32 {
    if code == 0 {
        return 0.0;
    }
    if code.unsigned_abs() < 1 << 53 {
        // Exact in f64 (a power-of-two scale too, in range): one rounding.
        let v = code as i64 as f64 * pow2(-frac);
        if v.is_normal() && v.abs() > 1e-37 {
            return v as f32;
        }
    }
    let mag = code.unsigned_abs();
    let bits = 128 - mag.leading_zeros() as i32;
    // Keep 24 significant bits (more below the normal range does not
    // matter: f32 conversion of the f64 below is then exact or one rounding).
    let drop = (bits - 24).max(0) as u32;
    let m = crate::fxp::round_shift_right(code, drop, Rounding::TiesEven);
    ((m as f64) * pow2(drop as i32 - frac)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_to_even_shift() {
        let v: Vec<i64> = vec![-6, -5, -3, -1, 1, 2, 3, 5, 6, 7];
        let r: Vec<i64> = v.iter().map(|&x| shr_even(x, 1)).collect();
        assert_eq!(r, vec![-3, -2, -2, 0, 0, 1, 2, 2, 3, 4]);
    }
}
