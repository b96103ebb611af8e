//! Formats as users write them, with their rounding and overflow: qkhw's
//! `fixed<W,I>` (ties to even, saturating, what QKeras's quantizers do)
//! and hls4ml's `ap_fixed<W,I[,Q[,O]]>` / `ap_ufixed`, whose bare form
//! truncates (`AP_TRN`) and wraps (`AP_WRAP`) as Vitis HLS defines it.

use std::fmt;

use super::{FixedFormat, Overflow, Rounding};
use crate::error::Error;

/// A format with the rounding and overflow used to bring values into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputFormat {
    pub fmt: FixedFormat,
    pub rounding: Rounding,
    pub overflow: Overflow,
}

impl InputFormat {
    /// `fmt` rounding ties to even and saturating (qkhw's `fixed<W,I>`).
    pub fn nearest(fmt: FixedFormat) -> InputFormat {
        InputFormat { fmt, rounding: Rounding::TiesEven, overflow: Overflow::Saturate }
    }

    /// Whether the spelling carried its own modes (`ap_fixed…`), which then
    /// compete with a `--config` table's `rounding` / `overflow`.
    pub fn is_default_modes(&self) -> bool {
        self.rounding == Rounding::TiesEven && self.overflow == Overflow::Saturate
    }
}

const ROUNDINGS: &[(&str, Option<Rounding>)] = &[
    ("AP_TRN", Some(Rounding::Floor)),
    ("AP_RND_CONV", Some(Rounding::TiesEven)),
    ("AP_RND_INF", Some(Rounding::TiesAway)),
    ("AP_RND", None),
    ("AP_RND_ZERO", None),
    ("AP_RND_MIN_INF", None),
    ("AP_TRN_ZERO", None),
];
fn names<T>(l: &[(&str, Option<T>)]) -> String {
    l.iter().filter(|e| e.1.is_some()).map(|e| e.0).collect::<Vec<_>>().join(", ")
}

const OVERFLOWS: &[(&str, Option<Overflow>)] =
    &[("AP_WRAP", Some(Overflow::Wrap)), ("AP_SAT", Some(Overflow::Saturate)), ("AP_SAT_ZERO", None), ("AP_SAT_SYM", None), ("AP_WRAP_SM", None)];

impl std::str::FromStr for InputFormat {
    type Err = Error;
    /// `fixed<W,I>`, `ufixed<W,I>`, `ap_fixed<W,I>`, `ap_ufixed<W,I>`, and
    /// `ap_fixed<W,I,Q>` / `ap_fixed<W,I,Q,O>` with Q one of AP_TRN,
    /// AP_RND_CONV, AP_RND_INF and O one of AP_WRAP, AP_SAT.
    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        let ap = t.strip_prefix("ap_");
        let Some(rest) = ap else {
            return Ok(InputFormat::nearest(t.parse()?));
        };
        let bad = |why: String| Error::Format(format!("`{s}`: {why}"));
        let (signed, body) = if let Some(r) = rest.strip_prefix("ufixed<") {
            (false, r)
        } else if let Some(r) = rest.strip_prefix("fixed<") {
            (true, r)
        } else {
            return Err(bad("expected ap_fixed<W,I[,Q[,O]]> or ap_ufixed<...>".into()));
        };
        let body = body.strip_suffix('>').ok_or_else(|| bad("missing the closing `>`".into()))?;
        let parts: Vec<&str> = body.split(',').map(str::trim).collect();
        if parts.len() < 2 || parts.len() > 5 {
            return Err(bad("expected ap_fixed<W,I[,Q[,O[,N]]]>".into()));
        }
        let w: u32 = parts[0].parse().map_err(|_| bad(format!("width `{}` is not a number", parts[0])))?;
        let i: i32 = parts[1].parse().map_err(|_| bad(format!("integer bits `{}` are not a number", parts[1])))?;
        let fmt = FixedFormat::from_width_int(w, i, signed)?;
        let mut f = InputFormat { fmt, rounding: Rounding::Floor, overflow: Overflow::Wrap };
        if let Some(q) = parts.get(2) {
            match ROUNDINGS.iter().find(|e| e.0 == *q) {
                Some((_, Some(r))) => f.rounding = *r,
                Some((n, None)) => return Err(bad(format!("{n} is not supported (the requantizer rounds {})", names(ROUNDINGS)))),
                None => return Err(bad(format!("unknown quantization mode `{q}`; supported: {}", names(ROUNDINGS)))),
            }
        }
        if let Some(o) = parts.get(3) {
            match OVERFLOWS.iter().find(|e| e.0 == *o) {
                Some((_, Some(v))) => f.overflow = *v,
                Some((n, None)) => return Err(bad(format!("{n} is not supported (the requantizer does {})", names(OVERFLOWS)))),
                None => return Err(bad(format!("unknown overflow mode `{o}`; supported: {}", names(OVERFLOWS)))),
            }
        }
        if let Some(n) = parts.get(4)
            && *n != "0" {
                return Err(bad(format!("saturation bits N = {n} are not supported (only 0)")));
            }
        Ok(f)
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_default_modes() {
            return write!(f, "{}", self.fmt);
        }
        let r = ROUNDINGS.iter().find(|e| e.1 == Some(self.rounding)).map_or("?", |e| e.0);
        let o = OVERFLOWS.iter().find(|e| e.1 == Some(self.overflow)).map_or("?", |e| e.0);
        let kind = if self.fmt.signed { "ap_fixed" } else { "ap_ufixed" };
        write!(f, "{kind}<{},{},{r},{o}>", self.fmt.width, self.fmt.int_bits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hls4ml_spellings_mean_what_vitis_means() {
        let p = |s: &str| s.parse::<InputFormat>().unwrap();
        let f16_6 = FixedFormat { width: 16, frac: 10, signed: true };
        assert_eq!(p("fixed<16,6>"), InputFormat::nearest(f16_6));
        assert_eq!(p("ap_fixed<16,6>"), InputFormat { fmt: f16_6, rounding: Rounding::Floor, overflow: Overflow::Wrap });
        assert_eq!(p("ap_fixed<16,6,AP_RND_CONV,AP_SAT>"), InputFormat::nearest(f16_6));
        assert_eq!(p("ap_fixed<16, 6, AP_RND_INF>").rounding, Rounding::TiesAway);
        assert_eq!(p("ap_ufixed<8,0>").fmt, FixedFormat { width: 8, frac: 8, signed: false });
        assert_eq!(p("ap_fixed<16,6,AP_RND,AP_SAT>".replace("AP_RND,", "AP_TRN,").as_str()).rounding, Rounding::Floor);
        for (bad, want) in [
            ("ap_fixed<16,6,AP_RND>", "AP_RND is not supported"),
            ("ap_fixed<16,6,AP_TRN,AP_SAT_SYM>", "AP_SAT_SYM is not supported"),
            ("ap_fixed<16,6,UP>", "unknown quantization mode"),
            ("ap_int<8>", "expected ap_fixed"),
        ] {
            let e = bad.parse::<InputFormat>().unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
        assert_eq!(p("ap_fixed<16,6>").to_string(), "ap_fixed<16,6,AP_TRN,AP_WRAP>");
    }
}
