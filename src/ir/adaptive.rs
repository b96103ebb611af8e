//! QAdaptiveActivation read as the quantizer its saved moving averages
//! define. QKeras (1.2.1) recomputes the quantizer's integer bits from
//! `ema_min` / `ema_max` after every call (`_get_integer_bits`), and a call
//! quantizes with the bits the previous one left; once the averages no longer
//! move under `predict` (the layer is not trainable, or its step count is
//! past `ema_freeze_delay`), every call uses the bits of the saved averages.
//! That quantizer is what qkhw runs. The file holds, in order, the step
//! count, `ema_min` and `ema_max` (the integer bits themselves are not saved);
//! QKeras cannot reload such a file (`load_qmodel` fails), so qkhw's golden
//! data comes from the in-memory model (tests/golden/gen_adaptive.py).

use serde_json::Value;

use super::cfg::Cfg;
use super::Weight;
use crate::error::Result;
use crate::quant::{ops, InternalSigmoid, Quantizer};

/// What a QAdaptiveActivation is at inference.
#[derive(Debug)]
pub(super) enum Resolved {
    /// A fixed quantizer: an ordinary quantized activation.
    Quantizer(Quantizer),
    /// Not one quantizer: the reason, for the error where it is run.
    Moving(String),
}

/// A config number QKeras saved as a scalar tensor
/// (`{"class_name": "__tensor__", "config": {"value": 5}}`) or plainly.
fn number(v: Option<&Value>) -> Option<f64> {
    let v = v?;
    match v {
        Value::Object(o) if o.get("class_name").and_then(Value::as_str) == Some("__tensor__") => o.get("config")?.get("value")?.as_f64(),
        v => v.as_f64(),
    }
}

/// QKeras's `_get_integer_bits` for one channel, in float32 as TensorFlow
/// runs it: `log(|v|) / float32(ln 2)` (`tail`: TensorFlow's scalar log
/// path, which a tensor's last `n % 8` elements take), rounded half to even
/// (`po2_rounding`) or up with the bound check.
fn integer_bits(min: f32, max: f32, bits: i32, symmetric: bool, keep_negative: bool, clipping: bool, tail: bool) -> i32 {
    let (min, max) = if keep_negative { (min, max) } else { (min.max(0.0), max.max(0.0)) };
    let unsigned = bits - i32::from(keep_negative);
    let ln2 = std::f64::consts::LN_2 as f32;
    let log2 = |v: f32| ops::log(v.abs(), tail) / ln2;
    let pos = |l: f32| if l > 0.0 { l } else { 0.0 };
    let (min_l, max_l) = (pos(log2(min)), pos(log2(max)));
    let (mut min_i, mut max_i);
    if clipping {
        min_i = min_l.round_ties_even();
        max_i = max_l.round_ties_even();
    } else {
        min_i = min_l.ceil();
        max_i = max_l.ceil();
        let po2 = |e: f32| ops::pow2(e);
        let max_po2 = po2(max_i) - po2((max_i - unsigned as f32).min(0.0));
        // tf.where(max <= bound, ...): a NaN takes the `+ 1` branch.
        if max.partial_cmp(&max_po2).is_none_or(|o| o == std::cmp::Ordering::Greater) {
            max_i += 1.0;
        }
        if symmetric {
            let min_po2 = -po2(min_i) + po2((min_i - unsigned as f32).min(0.0));
            if min_po2.partial_cmp(&min).is_none_or(|o| o == std::cmp::Ordering::Greater) {
                min_i += 1.0;
            }
        }
    }
    (min_i.max(max_i) as i32).min(unsigned)
}

/// The quantizer of a QAdaptiveActivation with its saved state `w`
/// (step, ema_min, ema_max), or why there is none.
pub(super) fn resolve(cfg: &Cfg, w: &[Weight], sigmoid: InternalSigmoid) -> Result<Resolved> {
    let kind = cfg.str("activation", "")?;
    if kind != "quantized_relu" && kind != "quantized_bits" {
        return Err(cfg.err(format!("activation `{kind}`: QAdaptiveActivation takes quantized_relu or quantized_bits")));
    }
    let bits = cfg.usize("total_bits", None)?;
    if !(1..=32).contains(&bits) {
        return Err(cfg.err(format!("total_bits={bits} is outside 1..=32")));
    }
    let [step, ema_min, ema_max] = w else {
        return Err(cfg.err(format!("the file holds {} state tensors; a QAdaptiveActivation saves 3 (step, ema_min, ema_max)", w.len())));
    };
    let (lo, hi) = (&ema_min.tensor.data, &ema_max.tensor.data);
    if lo.len() != hi.len() || lo.is_empty() || step.tensor.data.len() != 1 {
        return Err(cfg.err("its saved state (step, ema_min, ema_max) has inconsistent shapes"));
    }
    let step = step.tensor.data[0] as f64;
    let trainable = cfg.bool("trainable", true)?;
    let delay = number(cfg.get("ema_freeze_delay"));
    // QKeras: the averages move under predict while `step <= ema_freeze_delay`.
    if let Some(d) = delay.filter(|_| trainable)
        && d > 0.0
        && step <= d
    {
        return Ok(Resolved::Moving(format!(
            "its moving averages still move under predict (step {step} <= ema_freeze_delay {d}): each QKeras call quantizes with the range the previous call left, so no one quantizer reproduces it; train past ema_freeze_delay (or set trainable=False) and save it again"
        )));
    }
    let symmetric = cfg.bool("symmetric", true)?;
    let slope = cfg.f64("relu_neg_slope", 0.0)?;
    let relu = kind == "quantized_relu";
    let keep_negative = !relu || slope != 0.0;
    let clipping = cfg.bool("po2_rounding", false)?;
    let t = ops::tail_start(lo.len());
    let ints: Vec<i32> = (0..lo.len()).map(|c| integer_bits(lo[c], hi[c], bits as i32, symmetric, keep_negative, clipping, c >= t)).collect();
    if ints.iter().any(|&i| i != ints[0]) {
        return Ok(Resolved::Moving(format!(
            "its per-channel integer bits differ ({ints:?}); qkhw's quantizers take one integer"
        )));
    }
    let integer = ints[0];
    let spec = if relu {
        let ub = number(cfg.get("relu_upper_bound")).map(|u| format!(",relu_upper_bound={u}")).unwrap_or_default();
        format!("quantized_relu({bits},{integer},negative_slope={slope},is_quantized_clip=False{ub})")
    } else {
        format!("quantized_bits({bits},{integer},symmetric={},keep_negative=True,alpha=1.0)", if symmetric { 1 } else { 0 })
    };
    Quantizer::parse(&spec, sigmoid).map(Resolved::Quantizer).map_err(|e| cfg.err(format!("as {spec}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QKeras's `_get_integer_bits` on a few ranges (the expected values are
    /// what QKeras 1.2.1 returns for them).
    #[test]
    fn integer_bits_follow_qkeras() {
        // relu, 6 bits, ceil: log2 3.28 = 1.71 -> 2; 3.95 is above 2^2 - 2^-4 -> 3
        assert_eq!(integer_bits(0.0, 3.275597, 6, true, false, false, true), 2);
        assert_eq!(integer_bits(0.0, 3.95, 6, true, false, false, true), 3);
        assert_eq!(integer_bits(0.0, 0.3, 6, true, false, false, true), 0);
        assert_eq!(integer_bits(0.0, 1000.0, 6, true, false, false, true), 6);
        // po2 rounding: round(log2 3.275597 = 1.71) = 2; round(log2 2.5 = 1.32) = 1
        assert_eq!(integer_bits(0.0, 2.5, 6, true, false, true, true), 1);
        // signed, symmetric: min -5 -> ceil(log2 5) = 3, -8 + 1/4 <= -5
        assert_eq!(integer_bits(-5.0, 1.0, 6, true, true, false, true), 3);
    }
}
