//! The runtime-width core against the `fixed` crate (the oracle at storage
//! widths, every fraction) and against an obviously-correct f64/i128
//! reference at arbitrary widths.

use fixed::types::extra::*;
use fixed::{FixedI8, FixedI16, FixedI32, FixedI64, FixedI128, FixedU8, FixedU16, FixedU32, FixedU64};
use proptest::prelude::*;
use qkhw::fxp::{FixedFormat, Overflow, Rounding, pow2, quantize_f32, requantize};

/// Interesting float32s: uniform bit patterns plus values near the range of
/// small formats, exact ties among them.
fn any_finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<u32>().prop_map(f32::from_bits).prop_filter("finite", |x| x.is_finite()),
        (-1_000_000i32..1_000_000, 0u32..20).prop_map(|(m, s)| m as f32 / (1u32 << s) as f32),
        (-300i32..300).prop_map(|k| k as f32 * 0.5),
    ]
}

macro_rules! against_fixed {
    ($name:ident, $T:ident, $signed:expr, $width:expr, [$($F:ident),*]) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn $name(x in any_finite_f32()) {
                $(
                    let frac = $F::I32;
                    let fmt = FixedFormat::new($width, frac, $signed).unwrap();
                    let sat = $T::<$F>::saturating_from_num(x).to_bits() as i128;
                    prop_assert_eq!(quantize_f32(x, fmt, Rounding::TiesEven, Overflow::Saturate).unwrap(), sat,
                        "saturate x={} frac={}", x, frac);
                    let wrap = $T::<$F>::wrapping_from_num(x).to_bits() as i128;
                    prop_assert_eq!(quantize_f32(x, fmt, Rounding::TiesEven, Overflow::Wrap).unwrap(), wrap,
                        "wrap x={} frac={}", x, frac);
                )*
            }
        }
    };
}

against_fixed!(i8_every_frac, FixedI8, true, 8, [U0, U1, U2, U3, U4, U5, U6, U7, U8]);
against_fixed!(u8_every_frac, FixedU8, false, 8, [U0, U1, U2, U3, U4, U5, U6, U7, U8]);
against_fixed!(i16_every_frac, FixedI16, true, 16,
    [U0, U1, U2, U3, U4, U5, U6, U7, U8, U9, U10, U11, U12, U13, U14, U15, U16]);
against_fixed!(u16_every_frac, FixedU16, false, 16,
    [U0, U1, U2, U3, U4, U5, U6, U7, U8, U9, U10, U11, U12, U13, U14, U15, U16]);
against_fixed!(i32_every_frac, FixedI32, true, 32,
    [U0, U1, U2, U3, U4, U5, U6, U7, U8, U9, U10, U11, U12, U13, U14, U15, U16,
     U17, U18, U19, U20, U21, U22, U23, U24, U25, U26, U27, U28, U29, U30, U31, U32]);
against_fixed!(u32_every_frac, FixedU32, false, 32,
    [U0, U1, U2, U3, U4, U5, U6, U7, U8, U9, U10, U11, U12, U13, U14, U15, U16,
     U17, U18, U19, U20, U21, U22, U23, U24, U25, U26, U27, U28, U29, U30, U31, U32]);
against_fixed!(i64_fracs, FixedI64, true, 64, [U0, U1, U7, U16, U24, U31, U32, U40, U48, U56, U63, U64]);
against_fixed!(u64_fracs, FixedU64, false, 64, [U0, U1, U7, U16, U24, U31, U32, U40, U48, U56, U63, U64]);
against_fixed!(i128_fracs, FixedI128, true, 128, [U0, U1, U32, U64, U96, U100, U127, U128]);

macro_rules! requant_against_fixed {
    ($name:ident, [$($F:ident),*]) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            /// Dropping `F` fraction bits of an i32 code: fixed's
            /// round_ties_even / round (ties away) / floor to an integer.
            #[test]
            fn $name(code in any::<i32>()) {
                $(
                    let s = $F::I32;
                    let from = FixedFormat::new(32, s, true).unwrap();
                    let to = FixedFormat::new(32, 0, true).unwrap();
                    let v = FixedI32::<$F>::from_bits(code);
                    let int = |r: FixedI32<$F>| (r.to_bits() as i64 >> s) as i128;
                    let (te, ok1) = v.overflowing_round_ties_even();
                    let (ta, ok2) = v.overflowing_round();
                    prop_assume!(!ok1 && !ok2);
                    prop_assert_eq!(requantize(code as i128, from, to, Rounding::TiesEven, Overflow::Wrap), int(te));
                    prop_assert_eq!(requantize(code as i128, from, to, Rounding::TiesAway, Overflow::Wrap), int(ta));
                    prop_assert_eq!(requantize(code as i128, from, to, Rounding::Floor, Overflow::Wrap), int(v.floor()));
                )*
            }
        }
    };
}

requant_against_fixed!(requantize_matches_fixed_rounding, [U1, U2, U3, U4, U7, U8, U15, U16, U24, U30]);

/// The obviously-correct reference for any width: x × 2^frac is exact in
/// f64 for f32 x and |frac| <= 40; f64 rounds it; i128 saturates or wraps.
fn reference(x: f32, fmt: FixedFormat, r: Rounding, o: Overflow) -> i128 {
    let s = x as f64 * pow2(fmt.frac);
    let v = match r {
        Rounding::TiesEven => s.round_ties_even(),
        Rounding::TiesAway => s.round(),
        Rounding::Floor => s.floor(),
    };
    let (lo, hi) = (fmt.min_code(), fmt.max_code());
    match o {
        Overflow::Saturate => {
            if v <= lo as f64 { lo } else if v >= hi as f64 { hi } else { v as i128 }
        }
        Overflow::Wrap => {
            let m = 1i128 << fmt.width;
            let w = (v as i128).rem_euclid(m);
            if fmt.signed && w > hi { w - m } else { w }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]
    #[test]
    fn arbitrary_widths_match_reference(
        x in prop_oneof![
            (-40_000i32..40_000, 0u32..12).prop_map(|(m, s)| m as f32 / (1u32 << s) as f32),
            (-1e6f32..1e6f32),
        ],
        width in 1u32..=63,
        frac in -20i32..=40,
        signed in any::<bool>(),
        r in prop_oneof![Just(Rounding::TiesEven), Just(Rounding::TiesAway), Just(Rounding::Floor)],
        o in prop_oneof![Just(Overflow::Saturate), Just(Overflow::Wrap)],
    ) {
        let fmt = FixedFormat::new(width, frac, signed).unwrap();
        prop_assume!(o == Overflow::Saturate || (x as f64 * pow2(frac)).abs() < 1e18);
        prop_assert_eq!(quantize_f32(x, fmt, r, o).unwrap(), reference(x, fmt, r, o), "{} in {}", x, fmt);
    }

    /// A code requantized to a wider format and back is unchanged.
    #[test]
    fn widen_then_narrow_is_identity(code in -(1i128 << 40)..(1i128 << 40), extra in 0i32..60) {
        let a = FixedFormat::new(42, 10, true).unwrap();
        let b = FixedFormat::new(42 + extra as u32, 10 + extra, true).unwrap();
        let w = requantize(code, a, b, Rounding::Floor, Overflow::Saturate);
        prop_assert_eq!(requantize(w, b, a, Rounding::TiesEven, Overflow::Saturate), code);
    }
}

#[test]
fn six_bit_saturation_table() {
    // Every multiple of 1/8 in [-6, 6] into fixed<6,3> (step 1/8, range
    // [-4, 3.875]), saturating: the table a hardware designer writes down.
    let fmt = FixedFormat::new(6, 3, true).unwrap();
    for k in -48..=48 {
        let x = k as f32 / 8.0;
        let want = k.clamp(-32, 31) as i128;
        assert_eq!(quantize_f32(x, fmt, Rounding::TiesEven, Overflow::Saturate).unwrap(), want, "{x}");
    }
}
