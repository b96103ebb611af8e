//! A non-grid activation (tanh, sigmoid, po2, relu_po2, ulaw, hswish,
//! binary, ternary, a configured float function) over a known input code
//! range, as a step function: the change points and output codes, computed
//! from the golden model's own requantizer. Hardware and C compare against
//! the change points, so they are exact by construction.

use crate::plan::Act;

/// Most steps a table may have.
pub const MAX_SEGMENTS: usize = 4096;

/// `(first input code, output code)` per step, ascending, covering
/// `lo..=hi`.
pub fn segments(a: &Act, in_frac: i32, lo: i128, hi: i128) -> Result<Vec<(i128, i128)>, String> {
    // On i128 codes: a batch norm's exact output is wider than 64 bits.
    let f = |codes: &[i128]| a.apply(codes, in_frac).map_err(|e| e.to_string());
    // hswish is not monotone; behind an average its turns are n times wider
    // in the sum's codes.
    let (hswish, widen) = match a {
        Act::Generic { q, .. } => (hswish_of(q), 1.0),
        Act::Mean { q, n, .. } => (hswish_of(q), *n as f64),
        _ => (None, 1.0),
    };
    let found = match hswish {
        None => bisect(&f, lo, hi)?,
        // Small enough to tabulate code by code.
        Some(_) if hi - lo <= 1 << 25 => {
            let mut found = vec![];
            let mut start = lo;
            while start <= hi {
                let end = (start + (1 << 20) - 1).min(hi);
                let codes: Vec<i128> = (start..=end).collect();
                found.extend(f(&codes)?.into_iter().enumerate().map(|(k, y)| (start + k as i128, y)));
                start = end + 1;
            }
            found
        }
        // x · min(max(x + shift, 0), bound) / bound (QKeras takes a
        // positive shift and bound) is constant below -shift, falls to its
        // vertex at -shift/2 and rises after (QKeras's default: -3 and
        // -1.5): monotone on each of those three pieces.
        Some(shift) => {
            let code = |v: f64| ((v * widen * crate::fxp::pow2(in_frac)).floor() as i128).clamp(lo - 1, hi);
            let (c_flat, c_vertex) = (code(-shift), code(-shift / 2.0));
            let mut found = vec![];
            for (a0, b0) in [(lo, c_flat), (c_flat + 1, c_vertex), (c_vertex + 1, hi)] {
                if a0 <= b0 {
                    found.extend(bisect(&f, a0, b0)?);
                }
            }
            found.sort();
            found
        }
    };
    let mut segs: Vec<(i128, i128)> = vec![];
    for (c, y) in found {
        if segs.last().is_none_or(|s| s.1 != y) {
            segs.push((c, y));
        }
    }
    if segs.len() > MAX_SEGMENTS {
        return Err(format!("a non-grid activation with {} output steps", segs.len()));
    }
    check(&f, &segs, lo, hi)?;
    Ok(segs)
}

/// A hswish quantizer's `relu_shift`, where its turns are.
fn hswish_of(q: &crate::quant::Quantizer) -> Option<f64> {
    match &q.kind {
        crate::quant::Kind::Hswish(h) => Some(f64::from(h.relu_shift)),
        _ => None,
    }
}

/// The steps of `segs` (over a wider range) restricted to `lo..=hi`.
pub fn restrict(segs: &[(i128, i128)], lo: i128, hi: i128) -> Vec<(i128, i128)> {
    let first = segs.partition_point(|s| s.0 <= lo).saturating_sub(1);
    let mut out: Vec<(i128, i128)> = segs[first..].iter().take_while(|s| s.0 <= hi).copied().collect();
    if let Some(s) = out.first_mut() {
        s.0 = lo;
    }
    out
}

type Eval<'a> = dyn Fn(&[i128]) -> Result<Vec<i128>, String> + 'a;

/// `(first input code, output)` of each step of a function monotone (in
/// either direction) on `lo..=hi`, consecutive equal outputs merged.
pub fn change_points(f: &Eval, lo: i128, hi: i128) -> Result<Vec<(i128, i128)>, String> {
    let mut out: Vec<(i128, i128)> = vec![];
    for (c, y) in bisect(f, lo, hi)? {
        if out.last().is_none_or(|s| s.1 != y) {
            out.push((c, y));
        }
    }
    Ok(out)
}

/// The steps of a function monotone on `lo..=hi`: bisect between ends that
/// differ.
fn bisect(f: &Eval, lo: i128, hi: i128) -> Result<Vec<(i128, i128)>, String> {
    let ends = f(&[lo, hi])?;
    let mut stack = vec![(lo, hi, ends[0], ends[1])];
    let mut found: Vec<(i128, i128)> = vec![(lo, ends[0])];
    while let Some((a0, b0, fa, fb)) = stack.pop() {
        if fa == fb {
            continue;
        }
        if b0 == a0 + 1 {
            found.push((b0, fb));
            continue;
        }
        let mid = a0 + (b0 - a0) / 2;
        let fm = f(&[mid])?[0];
        stack.push((a0, mid, fa, fm));
        stack.push((mid, b0, fm, fb));
        if found.len() > 2 * MAX_SEGMENTS {
            break;
        }
    }
    found.sort();
    Ok(found)
}

/// Bisection trusts monotonicity, which float32 rounding could break by a
/// step somewhere: check the table against the function at both sides of
/// every change point and at 65,536 spread codes, and refuse a table that
/// is wrong anywhere it is looked at.
fn check(f: &Eval, segs: &[(i128, i128)], lo: i128, hi: i128) -> Result<(), String> {
    let mut codes: Vec<i128> = segs.iter().flat_map(|s| [s.0 - 1, s.0]).filter(|&c| c >= lo && c <= hi).collect();
    let span = (hi - lo) as u128 + 1;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..65_536 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        codes.push(lo + ((state as u128 * 0x1_0000_0001) % span) as i128);
    }
    let got = f(&codes)?;
    for (&c, &y) in codes.iter().zip(&got) {
        let k = segs.partition_point(|s| s.0 <= c).saturating_sub(1);
        if segs[k].1 != y {
            return Err(format!("an activation that is not monotone where bisection assumed it (input code {c}: table {}, function {y})", segs[k].1));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{InternalSigmoid, Quantizer};

    /// The table of `spec` at `frac` over `lo..=hi` equals the function on
    /// every code of windows around `centres` (in input units) and the ends.
    fn exact_around(spec: &str, frac: i32, lo: i128, hi: i128, centres: &[f64]) -> usize {
        let q = Quantizer::parse(spec, InternalSigmoid::Hard).unwrap();
        let (a, _, _, _) = crate::plan::requantizer(&q).unwrap();
        let segs = segments(&a, frac, lo, hi).unwrap();
        let one = crate::fxp::pow2(frac);
        let points = centres.iter().map(|&c| (c * one) as i128).chain([lo + 4096, hi - 4096]);
        for centre in points {
            let codes: Vec<i128> = (centre - 4096..=centre + 4096).collect();
            let want = a.apply(&codes, frac).unwrap();
            for (&c, &y) in codes.iter().zip(&want) {
                let k = segs.partition_point(|s| s.0 <= c) - 1;
                assert_eq!(segs[k].1, y, "{spec}: code {c}");
            }
        }
        segs.len()
    }

    /// hswish after a wide tensor (a batch norm's exact output, say) is far
    /// too wide to tabulate code by code: the table comes from bisecting its
    /// three monotone pieces, between turns that depend on its shift
    /// (cross-check batch 10: `relu_shift=1` was refused, its dip between
    /// -1 and 0 taken for float32 noise).
    #[test]
    fn hswish_over_a_wide_input_is_exact_around_its_turns() {
        let (lo, hi) = (-(1i128 << 36), 1i128 << 36);
        let n = exact_around("quantized_hswish(8, 3)", 30, lo, hi, &[-3.0, -1.5, 0.0, 3.0]);
        assert!(n > 10 && n < MAX_SEGMENTS, "{n} steps");
        exact_around("quantized_hswish(5, 1, relu_shift=1, relu_upper_bound=2)", 30, lo, hi, &[-1.0, -0.5, 0.0, 1.0]);
        exact_around("quantized_hswish(6, 2, relu_shift=2, relu_upper_bound=4)", 30, lo, hi, &[-2.0, -1.0, 2.0]);
    }

    /// A non-grid activation after a tensor wider than 64 bits (a
    /// standalone batch norm's exact output: `fixed<72,7>` in cross-check
    /// batch 10) is tabulated on its i128 codes, not their low 64 bits.
    #[test]
    fn an_activation_over_more_than_64_bits_is_exact() {
        let (lo, hi) = (-(1i128 << 71), (1i128 << 71) - 1);
        for spec in ["quantized_tanh(5)", "ternary()", "quantized_relu(5, 2, negative_slope=0.25)", "quantized_hswish(8, 3)"] {
            exact_around(spec, 65, lo, hi, &[-2.0, -0.5, 0.0, 0.25, 1.0]);
        }
    }

    #[test]
    fn restrict_keeps_the_steps_of_a_subrange() {
        let segs = vec![(-10, 0), (-3, 1), (2, 2), (7, 3)];
        assert_eq!(restrict(&segs, -5, 4), vec![(-5, 0), (-3, 1), (2, 2)]);
        assert_eq!(restrict(&segs, 3, 6), vec![(3, 2)]);
        assert_eq!(restrict(&segs, 7, 9), vec![(7, 3)]);
    }
}
