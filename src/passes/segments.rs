//! A non-grid activation (tanh, sigmoid, po2, relu_po2, ulaw, hswish,
//! binary, ternary, a configured float function) over a known input code
//! range, as a step function: the change points and output codes, computed
//! from the golden model's own requantizer. Hardware and C compare against
//! the change points, so they are exact by construction.

use crate::passes::precision::Act;

/// Most steps a table may have.
pub const MAX_SEGMENTS: usize = 4096;

/// `(first input code, output code)` per step, ascending, covering
/// `lo..=hi`.
pub fn segments(a: &Act, in_frac: i32, lo: i128, hi: i128) -> Result<Vec<(i128, i128)>, String> {
    let f = |codes: &[i64]| crate::golden::eval_act(a, codes, in_frac).map_err(|e| e.to_string());
    let monotone = match a {
        Act::Generic { q, .. } => !matches!(q.kind, crate::quant::Kind::Hswish(_)),
        _ => true,
    };
    let mut segs: Vec<(i128, i128)> = vec![];
    if monotone {
        // A monotone step function: bisect between ends that differ.
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
        for (c, y) in found {
            if segs.last().is_none_or(|s| s.1 != y) {
                segs.push((c, y));
            }
        }
    } else {
        if hi - lo > 1 << 25 {
            return Err(format!("a non-monotone activation over a {}-bit input", crate::backend::verilog::rtl::width(lo, hi)));
        }
        let mut start = lo;
        while start <= hi {
            let end = (start + (1 << 20) - 1).min(hi);
            let codes: Vec<i64> = (start..=end).map(|v| v as i64).collect();
            for (k, y) in f(&codes)?.into_iter().enumerate() {
                if segs.last().is_none_or(|s| s.1 != y) {
                    segs.push((start + k as i128, y));
                }
            }
            start = end + 1;
        }
    }
    if segs.len() > MAX_SEGMENTS {
        return Err(format!("a non-grid activation with {} output steps", segs.len()));
    }
    Ok(segs)
}
