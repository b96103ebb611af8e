//! TensorFlow 2.21's float32 `log`, `tanh` and `sigmoid` on CPU, bit for bit.
//!
//! QKeras's outputs depend on the exact float32 bits of these functions, so
//! they are reproduced here operation by operation rather than taken from
//! libm. TF evaluates them with the Eigen it ships (the headers are in the
//! wheel under `tensorflow/include/Eigen`), and the x86-64 wheel compiles
//! those kernels for AVX **without FMA**: every Eigen `pmadd(a, b, c)` is a
//! rounded multiply followed by a rounded add, so `a * b + c` is written out
//! as two operations here and `f32::mul_add` is never used. (Checked: the
//! FMA variants disagree with TF on ~10% of inputs, the non-FMA ones on none.)
//!
//! TF runs its kernels with the x86 MXCSR flags FTZ and DAZ set: subnormal
//! operands are read as zero and subnormal results are flushed to zero (sign
//! kept). [`ftz`] applies that to every arithmetic result below.
//!
//! # Packet path versus scalar tail
//!
//! Eigen's executor evaluates a tensor of `n` elements in AVX packets of 8
//! and the last `n % 8` elements (indices `8 * (n / 8)..n`) one at a time.
//! `tanh` runs the same code both ways, so [`tanh`] is exact at every index.
//! `log` and `sigmoid` do not: the scalar tail calls glibc's `logf` / `expf`.
//! [`log`] and [`sigmoid`] reproduce the packet path (all elements of a
//! tensor whose length is a multiple of 8, and all but the last `n % 8`
//! otherwise); [`log_tail`] and [`sigmoid_tail`] reproduce the tail elements.
//!
//! [`log`], [`tanh`] and [`sigmoid`] were checked against TF 2.21 over all
//! 2^32 float32 bit patterns with zero mismatches (any NaN equal to any NaN);
//! the tail variants on random samples. `tests/golden/tfmath.json`
//! (generator `tests/golden/gen_tfmath.py`) holds spot values.

/// Flush-to-zero / denormals-are-zero, as TF's MXCSR setting does to every
/// float32 operand and result: a subnormal becomes a zero of the same sign.
#[inline]
pub fn ftz(x: f32) -> f32 {
    // Exponent field 0: zero or subnormal; either way keep only the sign.
    let b = x.to_bits();
    if b & 0x7f80_0000 == 0 { f32::from_bits(b & 0x8000_0000) } else { x }
}

#[inline(always)]
fn mul(a: f32, b: f32) -> f32 {
    ftz(a * b)
}
#[inline(always)]
fn add(a: f32, b: f32) -> f32 {
    ftz(a + b)
}
#[inline(always)]
fn div(a: f32, b: f32) -> f32 {
    ftz(a / b)
}
/// `pmadd` without FMA and without flushing: for intermediates that cannot
/// be subnormal (bounded away from 0 or exactly 0), where a flush would only
/// cost time. Which ones qualify was checked over all 2^32 inputs.
#[inline(always)]
fn madd_n(a: f32, b: f32, c: f32) -> f32 {
    a * b + c
}
/// Eigen AVX `pmin(a, b)` = `_mm256_min_ps(b, a)`: `b < a ? b : a` (NaN in `a` passes).
#[inline(always)]
fn pmin(a: f32, b: f32) -> f32 {
    if b < a { b } else { a }
}
/// Eigen AVX `pmax(a, b)` = `_mm256_max_ps(b, a)`: `b > a ? b : a`.
#[inline(always)]
fn pmax(a: f32, b: f32) -> f32 {
    if b > a { b } else { a }
}

/// `tf.math.log` (packet path): Eigen `plog_float` = `plog_impl_float<_, false>`.
///
/// `pfrexp` to `m` in [0.5, 1) and exponent `e`; if `m < sqrt(1/2)` then
/// `e -= 1, x = 2m - 1` else `x = m - 1`; `log1p(x) ~ x*P(x)/Q(x)` with the
/// rminimax coefficients alpha = {0.18256296349849254, 1.0000000190281063,
/// 1.0000000190281136}, beta = {0.049616247954120038, 0.59923249590823520,
/// 1.4999999999999927, 1} (Horner, non-fused); result `e * ln2 + x`.
/// Specials as Eigen masks them: `log(±0)` (and, by DAZ, of any subnormal,
/// either sign) is `-inf`, `log(+inf) = +inf`, negative or NaN input gives the
/// all-ones NaN `0xffffffff`.
#[inline]
pub fn log(x: f32) -> f32 {
    let x0 = ftz(x);
    // The polynomial path runs on every input and the specials are selected
    // at the end, as Eigen's masks do: no early return, so loops vectorize.
    // pfrexp_generic (meaningful for a positive normal number).
    let bits = x0.to_bits();
    let e = ((bits >> 23) & 0xff) as f32 - 126.0;
    let m = f32::from_bits((bits & 0x807f_ffff) | 0x3f00_0000);
    let small = m < 0.707_106_77_f32;
    let tmp = if small { m } else { 0.0 };
    let e = if small { e - 1.0 } else { e };
    // m in [0.5, 1): |xr| >= 2^-24 or 0, so nothing below is subnormal.
    let xr = (m - 1.0) + tmp;
    let p = madd_n(madd_n(0.182_562_96_f32, xr, 1.0000000190281063f32), xr, 1.0000000190281136f32);
    let p = xr * p;
    let q = madd_n(
        madd_n(madd_n(0.049_616_247_f32, xr, 0.599_232_5_f32), xr, 1.5_f32),
        xr,
        1.0f32,
    );
    let r = madd_n(e, core::f32::consts::LN_2, p / q);
    if x0 == 0.0 {
        f32::NEG_INFINITY
    } else if x0.is_nan() || x0 < 0.0 {
        // pcmp_lt_or_nan mask OR-ed into the result.
        f32::from_bits(0xffff_ffff)
    } else if x0 == f32::INFINITY {
        f32::INFINITY
    } else {
        r
    }
}

/// `tf.math.tanh` (every index): Eigen `ptanh_float`, the [9/8] odd/even
/// rational approximation with alpha = {1.394553628e-8, 2.102733560e-5,
/// 3.520756727e-3, 1.340216100e-1}, beta = {8.015776984e-7, 3.326951409e-4,
/// 2.597254514e-2, 4.673548340e-1, 1}, input clamped to ±7.90738964080810547
/// (the non-FMA clamp; the FMA build would use 8.01773357391357422), result
/// `(x^3 * P(x^2) + x) / Q(x^2)`. NaN propagates; subnormals give ±0.
#[inline]
pub fn tanh(a: f32) -> f32 {
    const C: f32 = 7.907_389_6_f32;
    let x = pmax(pmin(ftz(a), C), -C);
    // x is normal or 0, the result about x: a flushed x^2 or x^3 (|x| <
    // 2^-42) changes nothing after `+ x` and `+ c`, so no flushes inside.
    let x2 = x * x;
    let x3 = x2 * x;
    let mut p = 1.394_553_6e-8_f32;
    for c in [2.102_733_6e-5_f32, 3.520_756_7e-3_f32, 1.340_216_1e-1_f32] {
        p = madd_n(p, x2, c);
    }
    let mut q = 8.015_777e-7_f32;
    for c in [3.326_951_4e-4_f32, 2.597_254_5e-2_f32, 4.673_548_3e-1_f32, 1.0f32] {
        q = madd_n(q, x2, c);
    }
    madd_n(x3, p, x) / q
}

/// Eigen `pcast<Packet8f, Packet8i>` = `cvttps2dq`: truncation, and
/// 0x80000000 for NaN or out of range.
#[inline(always)]
fn cvtt(x: f32) -> i32 {
    if x.is_nan() || !(-2147483648.0..2147483648.0).contains(&x) { i32::MIN } else { x as i32 }
}

/// `tf.math.sigmoid` (packet path): Eigen `scalar_logistic_op<float>::packetOp`.
///
/// `zero = x < -104`; `x = min(x, 16.6355324) * 0.5`; `m = floor(x * log2e +
/// 0.5)`; `r = x + m * -0.693359375 + m * 2.12194440e-4` (Cephes split); degree-5
/// polynomial `p = (r + 1) + r^2 * (r * (p5 r^2 + p3) + (p4 r^2 + p2))` with
/// p2..p5 = {0.49999141693115234375, 0.16666877269744873046875,
/// 4.1898667812347412109375e-2, 8.33471305668354034423828125e-3};
/// `e = (p * 2^m)^2` (`pldexp_fast`, then the squaring undoes the halving);
/// result `zero ? 0 : e / (1 + e)`. All `pmadd`s non-fused; FTZ makes every
/// result below 2^-126 exactly +0. `sigmoid(+inf) = 1`, `sigmoid(NaN)` is NaN.
#[inline]
#[allow(clippy::approx_constant, reason = "TensorFlow's own float32 literal for log2(e), kept as its source writes it")]
pub fn sigmoid(x: f32) -> f32 {
    let x0 = ftz(x);
    let zero_mask = x0 < -104.0f32;
    let xh = pmin(x0, 16.635_532_f32) * 0.5;
    let m = super::ops::floor(madd_n(xh, 1.442_695_f32, 0.5));
    // |r| <= 0.35 and p in [0.7, 1.5]: only r^2 can underflow, and p adds
    // it to r + 1, so the polynomial needs no flushes; 2^m scaling does.
    let mut r = madd_n(m, -0.693_359_4_f32, xh);
    r = madd_n(m, 2.121_944_4e-4_f32, r);
    let r2 = r * r;
    let p_even = madd_n(r2, 4.189_866_8e-2_f32, 0.499_991_42_f32);
    let p_odd = madd_n(r2, 8.334_713e-3_f32, 0.166_668_77_f32);
    let p_low = r + 1.0;
    let p = madd_n(r2, madd_n(r, p_odd, p_even), p_low);
    // pldexp_fast(p, m): biased exponent clamped to [0, 255], shifted into place.
    let biased = pmin(pmax(add(m, 127.0), 0.0), 255.0);
    let scale = f32::from_bits((cvtt(biased) as u32) << 23);
    let e = mul(p, scale);
    let e = mul(e, e);
    if zero_mask { 0.0 } else { div(e, add(1.0, e)) }
}

/// `tf.math.log` for the scalar-tail elements (indices `8 * (n / 8)..n` of an
/// `n`-element tensor): Eigen `scalar_log_op::operator()` = `std::log`, i.e.
/// glibc `logf`, run under TF's DAZ. `f32::ln` calls the same glibc `logf`
/// on x86-64 Linux, so this is exact there (and only there: another libm
/// gives other last bits). DAZ breaks glibc's subnormal rescaling, so every
/// positive subnormal gives the constant -103.97208 (`0xc2cff1b4`) and every
/// negative subnormal the default NaN `0xffc00000`.
#[inline]
pub fn log_tail(x: f32) -> f32 {
    if x.is_subnormal() {
        return f32::from_bits(if x > 0.0 { 0xc2cf_f1b4 } else { 0xffc0_0000 });
    }
    x.ln()
}

/// `tf.math.sigmoid` for the scalar-tail elements: Eigen
/// `scalar_logistic_op<float>::operator()`, `e = std::exp(min(x, 16.6355324));
/// e / (1 + e)` with glibc `expf` (via `f32::exp`, exact on x86-64 Linux
/// only) and FTZ on each result (so `sigmoid_tail(x) = 0` below about -87.34).
#[inline]
pub fn sigmoid_tail(x: f32) -> f32 {
    let e = ftz(pmin(ftz(x), 16.635_532_f32).exp());
    div(e, add(1.0, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: f32) -> u32 {
        x.to_bits()
    }

    #[test]
    fn log_spot_values() {
        // (input bits, TF 2.21 output bits)
        for (x, y) in [
            (0x3f80_0000u32, 0x0000_0000u32), // log(1) = 0
            (0x4000_0000, 0x3f31_7218),       // log(2)
            (0x402d_f854, 0x3f80_0000),       // log(e) = 1
            (0x0000_0000, 0xff80_0000),       // log(0) = -inf
            (0x8000_0000, 0xff80_0000),       // log(-0) = -inf
            (0x0000_0001, 0xff80_0000),       // subnormal read as 0 (DAZ)
            (0x8000_0001, 0xff80_0000),       // negative subnormal too
            (0x7f80_0000, 0x7f80_0000),       // log(inf) = inf
            (0xbf80_0000, 0xffff_ffff),       // log(-1): all-ones NaN
        ] {
            assert_eq!(b(log(f32::from_bits(x))), y, "log({x:#x})");
        }
    }

    #[test]
    fn tanh_spot_values() {
        assert_eq!(b(tanh(0.0)), 0);
        assert_eq!(b(tanh(-0.0)), 0x8000_0000);
        assert_eq!(b(tanh(f32::from_bits(0x8000_0001))), 0x8000_0000);
        assert_eq!(tanh(7.95), 1.0);
        assert_eq!(tanh(-f32::INFINITY), -1.0);
        assert!(tanh(f32::NAN).is_nan());
        for (x, y) in TANH {
            assert_eq!(b(tanh(f32::from_bits(x))), y, "tanh({x:#x})");
        }
    }

    #[test]
    fn sigmoid_spot_values() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(sigmoid(f32::INFINITY), 1.0);
        assert_eq!(b(sigmoid(-90.0)), 0); // FTZ
        assert_eq!(b(sigmoid(-200.0)), 0);
        assert!(sigmoid(f32::NAN).is_nan());
        for (x, y) in SIGMOID {
            assert_eq!(b(sigmoid(f32::from_bits(x))), y, "sigmoid({x:#x})");
        }
    }

    #[test]
    fn tail_spot_values() {
        assert_eq!(b(log_tail(f32::from_bits(1))), 0xc2cf_f1b4);
        assert_eq!(b(log_tail(1.0)), 0);
        assert_eq!(b(sigmoid_tail(-90.0)), 0);
        assert_eq!(sigmoid_tail(0.0), 0.5);
    }

    // Values taken from TF 2.21 (tests/golden/tfmath.json has more).
    const TANH: [(u32, u32); 8] = [
        (0x3f00_0000, 0x3eec_9a9e), // 0.5
        (0x3f80_0000, 0x3f42_f7d6), // 1
        (0xc040_0000, 0xbf7e_bbe8), // -3
        (0x3a83_126f, 0x3a83_126c), // 1e-3
        (0x40fc_cccd, 0x3f7f_fffd), // 7.9 (below the clamp)
        (0xc0fd_0625, 0xbf7f_fffb), // -7.907
        (0x4086_6666, 0x3f7f_e28a), // 4.2
        (0x3d80_0000, 0x3d7f_aacc), // 0.0625
    ];
    const SIGMOID: [(u32, u32); 8] = [
        (0x3f80_0000, 0x3f3b_26a7), // 1
        (0xc0a0_0000, 0x3bdb_4fb7), // -5
        (0x4120_0000, 0x3f7f_fd06), // 10
        (0xc2ae_0000, 0x00b3_3685), // -87: just above FTZ
        (0x4180_0000, 0x3f7f_fffe), // 16
        (0x4185_999a, 0x3f80_0000), // 16.7 (clamped)
        (0xbe80_0000, 0x3ee0_2a65), // -0.25
        (0x4053_3333, 0x3f76_e4cf), // 3.3
    ];
}
