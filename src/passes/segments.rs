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
    let f = |codes: &[i64]| a.apply(codes, in_frac).map(|v| v.into_iter().map(i128::from).collect::<Vec<_>>()).map_err(|e| e.to_string());
    // hswish is not monotone; behind an average its turns are n times wider
    // in the sum's codes.
    let (hswish, widen) = match a {
        Act::Generic { q, .. } => (matches!(q.kind, crate::quant::Kind::Hswish(_)), 1.0),
        Act::Mean { q, n, .. } => (matches!(q.kind, crate::quant::Kind::Hswish(_)), *n as f64),
        _ => (false, 1.0),
    };
    let mut found: Vec<(i128, i128)> = vec![];
    if !hswish {
        found = bisect(&f, lo, hi)?;
    } else if hi - lo <= 1 << 25 {
        // Small enough to tabulate code by code.
        let mut start = lo;
        while start <= hi {
            let end = (start + (1 << 20) - 1).min(hi);
            let codes: Vec<i64> = (start..=end).map(|v| v as i64).collect();
            found.extend(f(&codes)?.into_iter().enumerate().map(|(k, y)| (start + k as i128, y)));
            start = end + 1;
        }
    } else {
        // x * relu6(x + 3) / 6 is constant below -3, falls to its minimum at
        // -1.5 and rises after: monotone on each of those three pieces.
        let code = |v: f64| ((v * widen * crate::fxp::pow2(in_frac)).floor() as i128).clamp(lo - 1, hi);
        let (c3, c15) = (code(-3.0), code(-1.5));
        for (a0, b0) in [(lo, c3), (c3 + 1, c15), (c15 + 1, hi)] {
            if a0 <= b0 {
                found.extend(bisect(&f, a0, b0)?);
            }
        }
        found.sort();
    }
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

/// The steps of `segs` (over a wider range) restricted to `lo..=hi`.
pub fn restrict(segs: &[(i128, i128)], lo: i128, hi: i128) -> Vec<(i128, i128)> {
    let first = segs.partition_point(|s| s.0 <= lo).saturating_sub(1);
    let mut out: Vec<(i128, i128)> = segs[first..].iter().take_while(|s| s.0 <= hi).copied().collect();
    if let Some(s) = out.first_mut() {
        s.0 = lo;
    }
    out
}

type Eval<'a> = dyn Fn(&[i64]) -> Result<Vec<i128>, String> + 'a;

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
    let ends = f(&[lo as i64, hi as i64])?;
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
        let fm = f(&[mid as i64])?[0];
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
    let got = f(&codes.iter().map(|&c| c as i64).collect::<Vec<_>>())?;
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

    /// hswish after a wide tensor (a batch norm's exact output, say) is far
    /// too wide to tabulate code by code: the table comes from bisecting its
    /// three monotone pieces. Compared with the function on every code of
    /// windows around its turning points (-3, -1.5, 0, 3) and the ends.
    #[test]
    fn hswish_over_a_wide_input_is_exact_around_its_turns() {
        let q = Quantizer::parse("quantized_hswish(8, 3)", InternalSigmoid::Hard).unwrap();
        let (a, _, _, _) = crate::plan::requantizer(&q).unwrap();
        let frac = 30;
        let (lo, hi) = (-(1i128 << 36), 1i128 << 36);
        let segs = segments(&a, frac, lo, hi).unwrap();
        assert!(segs.len() > 10 && segs.len() < MAX_SEGMENTS, "{} steps", segs.len());
        let one = 1i128 << frac;
        for centre in [lo + 4096, -3 * one, -3 * one / 2, 0, 3 * one, hi - 4096] {
            let codes: Vec<i64> = (centre - 4096..=centre + 4096).map(|c| c as i64).collect();
            let want = a.apply(&codes, frac).unwrap().into_iter().map(i128::from).collect::<Vec<_>>();
            for (&c, &y) in codes.iter().zip(&want) {
                let k = segs.partition_point(|s| s.0 <= c as i128) - 1;
                assert_eq!(segs[k].1, y, "code {c}");
            }
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
