//! `--bn qkeras`: a standalone QBatchNormalization (or Keras
//! BatchNormalization) as QKeras's `model.predict` computes it, not as
//! `model_save_quantized_weights` defines it.
//!
//! Keras's own BatchNormalization (Keras 3.15, TensorFlow backend) calls
//! `tf.nn.batch_normalization`: `inv = rsqrt(variance + eps)`,
//! `inv *= gamma`, then the same `x * inv + (beta - mean * inv)`. Its
//! `rsqrt` (measured the same way, tests/golden/bn_qkeras/rsqrt.json, on
//! inputs of rank 2 to 4) is Eigen's packet rsqrt on the first
//! `C − C mod 8` channels, `rsqrtps` refined by one unfused Newton step
//! `r + (−r/2)·((s·r)·r − 1)`, and `1 / sqrt(s)` (two roundings) on the
//! last `C mod 8`; about a third of the channels differ from 1/sqrt.
//!
//! QKeras 1.2.1's `QBatchNormalization.call` computes, in float32,
//! `inv = 1 / sqrt(variance + eps)`, `inv *= gamma`, then
//! `x * inv + (beta - mean * inv)`. Two things make that differ from the
//! exact tables on a few values:
//!
//! - TensorFlow's CPU kernel for that `1 / s` is not IEEE division. Measured
//!   (tests/golden/gen_bn_qkeras.py, TensorFlow 2.21): over a vector of C
//!   channels, the first `C − C mod 8` go through Eigen's packet reciprocal,
//!   `rcpps` refined by one unfused Newton step `r + r·(1 − s·r)`; the last
//!   `C mod 8` are divided exactly. About a third of the channels end
//!   1 ulp away from the correctly rounded value.
//! - `x * inv` and `+ c` are each rounded to float32.
//!
//! Where the batch norm's input codes are exact in float32 (below 2^24),
//! `q(fl(fl(x·inv) + c))` is a monotone step function of the integer input
//! code `x` per channel. qkhw keeps the exact affine datapath (with
//! TensorFlow's `inv` and `c`) and the quantizer, and lists per channel the
//! input codes where float32 rounds to another output code: the hardware
//! compares the input with that short list ([`exceptions`]).
//!
//! `rcpps` is the host's own instruction (`_mm_rcp_ps`): its table is not
//! specified exactly and differs between CPU vendors, so the result is
//! TensorFlow's on a CPU with the same table (the golden data were
//! measured on an AMD EPYC). Elsewhere than x86-64 `--bn qkeras` is refused.

use crate::ir::{BatchNorm, Layer};
use crate::plan::Act;

/// The per-channel float32 constants TensorFlow multiplies and adds.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatBn {
    pub inv: Vec<f32>,
    pub add: Vec<f32>,
}

/// Channels below this many per kernel call (TensorFlow's AVX packets).
const PACKET: usize = 8;

/// TensorFlow's float32 `1 / s` over a vector, as its x86-64 CPU kernel
/// computes it (see the module docs).
pub fn tf_reciprocal(s: &[f32]) -> Result<Vec<f32>, String> {
    let packed = s.len() / PACKET * PACKET;
    s.iter().enumerate().map(|(i, &v)| if i < packed { packet_reciprocal(v) } else { Ok(1.0 / v) }).collect()
}

#[cfg(target_arch = "x86_64")]
fn packet_reciprocal(s: f32) -> Result<f32, String> {
    // SAFETY: SSE is part of the x86-64 baseline.
    let r = unsafe {
        use std::arch::x86_64::{_mm_cvtss_f32, _mm_rcp_ps, _mm_set1_ps};
        _mm_cvtss_f32(_mm_rcp_ps(_mm_set1_ps(s)))
    };
    // Eigen's generic_reciprocal_newton_step, unfused: r + r·(1 − s·r).
    let e = 1.0 - s * r;
    let y = r + r * e;
    Ok(if y.is_nan() { r } else { y })
}

/// TensorFlow's float32 `rsqrt` over a vector, as its x86-64 CPU kernel
/// computes it (see the module docs).
pub fn tf_rsqrt(s: &[f32]) -> Result<Vec<f32>, String> {
    let packed = s.len() / PACKET * PACKET;
    s.iter().enumerate().map(|(i, &v)| if i < packed { packet_rsqrt(v) } else { Ok(1.0 / v.sqrt()) }).collect()
}

#[cfg(target_arch = "x86_64")]
fn packet_rsqrt(s: f32) -> Result<f32, String> {
    // SAFETY: SSE is part of the x86-64 baseline.
    let r = unsafe {
        use std::arch::x86_64::{_mm_cvtss_f32, _mm_rsqrt_ps, _mm_set1_ps};
        _mm_cvtss_f32(_mm_rsqrt_ps(_mm_set1_ps(s)))
    };
    // Eigen's generic_rsqrt_newton_step, unfused:
    // h = (s·r)·r − 1, r − (r/2)·h.
    let h = (s * r) * r - 1.0;
    let y = (r * -0.5) * h + r;
    Ok(if y.is_nan() { r } else { y })
}

#[cfg(not(target_arch = "x86_64"))]
fn packet_rsqrt(_: f32) -> Result<f32, String> {
    packet_reciprocal(1.0)
}

#[cfg(not(target_arch = "x86_64"))]
fn packet_reciprocal(_: f32) -> Result<f32, String> {
    Err(format!(
        "--bn qkeras reproduces TensorFlow's x86-64 CPU kernels (rcpps, rsqrtps); this machine is {}",
        std::env::consts::ARCH
    ))
}

/// TensorFlow's `inv` and `c` of a QBatchNormalization (its `1 / sqrt`)
/// or a Keras BatchNormalization (its `rsqrt`) in `model.predict`.
pub fn constants(l: &Layer, bn: &BatchNorm) -> crate::error::Result<FloatBn> {
    use crate::error::Error;
    let p = super::bn_tables::bn_params(l, bn)?;
    let c = p.mean.len();
    let eps = bn.epsilon;
    let mut inv = if l.class == "BatchNormalization" {
        tf_rsqrt(&p.var.iter().map(|&v| v + eps).collect::<Vec<f32>>())
    } else {
        tf_reciprocal(&p.var.iter().map(|&v| (v + eps).sqrt()).collect::<Vec<f32>>())
    }
    .map_err(Error::Usage)?;
    if let Some(g) = &p.gamma {
        inv.iter_mut().zip(g).for_each(|(i, &g)| *i *= g);
    }
    if let Some(q) = &bn.quantizers[4] {
        // model.predict quantizes the inverse as a (1, C) tensor (an auto_po2
        // scale per channel), not as the dict's vector of C (bn_tables).
        inv = q.apply_shaped(&inv, &[1, c])?;
    }
    let add = (0..c)
        .map(|k| {
            let m = p.mean[k] * inv[k];
            match &p.beta {
                Some(b) => b[k] - m,
                None => -m,
            }
        })
        .collect();
    Ok(FloatBn { inv, add })
}

/// Most exceptions one channel may have.
pub const MAX_EXCEPTIONS: usize = 4096;

/// One channel's input codes where TensorFlow's float32
/// `q(fl(fl(x·inv) + c))` differs from the exact `q(x·mul + add)`, with
/// TensorFlow's output code. `x` is at fraction `x_frac` in `lo..=hi`
/// (below 2^24 in magnitude); the affine output at `aff_frac`, with the
/// exact constants `mul` (of `inv`) and `add` (of `c`); `act` reads it.
#[allow(clippy::too_many_arguments, reason = "the input range, both forms of the constants and the quantizer")]
pub fn exceptions(x_frac: i32, lo: i128, hi: i128, inv: f32, add: f32, aff_frac: i32, mul_code: i128, add_code: i128, act: &Act) -> Result<Vec<(i128, i128)>, String> {
    let scale = crate::fxp::pow2(aff_frac);
    let tf = |xs: &[i128]| -> Result<Vec<i128>, String> {
        let codes: Vec<i128> = xs
            .iter()
            .map(|&x| {
                let xv = (x as f64 * crate::fxp::pow2(-x_frac)) as f32;
                let y = (xv * inv) + add;
                let c = y as f64 * scale;
                if c.fract() != 0.0 || c.abs() >= 1.0e38 {
                    return Err(format!("a float32 batch-norm output {y} off the exact grid 2^-{aff_frac} (a qkhw bug, please report)"));
                }
                Ok(c as i128)
            })
            .collect::<Result<_, String>>()?;
        act.apply(&codes, aff_frac).map_err(|e| e.to_string())
    };
    let exact = |xs: &[i128]| -> Result<Vec<i128>, String> {
        let codes: Vec<i128> = xs.iter().map(|&x| x * mul_code + add_code).collect();
        act.apply(&codes, aff_frac).map_err(|e| e.to_string())
    };
    // Both are monotone step functions of x: between the union of their
    // change points both are constant.
    let mut points: Vec<i128> = super::segments::change_points(&tf, lo, hi)?.into_iter().chain(super::segments::change_points(&exact, lo, hi)?).map(|p| p.0).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = vec![];
    for (k, &p) in points.iter().enumerate() {
        let end = points.get(k + 1).map_or(hi, |&n| n - 1);
        let (a, b) = (tf(&[p])?[0], exact(&[p])?[0]);
        if a != b {
            if (end - p) as usize + out.len() >= MAX_EXCEPTIONS {
                return Err(format!("float32 rounds differently from exact arithmetic on more than {MAX_EXCEPTIONS} input codes of one channel"));
            }
            out.extend((p..=end).map(|x| (x, a)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TensorFlow's reciprocal on every vector of the golden file equals
    /// the emulation on every channel (the packets and the exact tail).
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn reciprocal_equals_tensorflow() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/bn_qkeras/recip.json");
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let bits = |v: &serde_json::Value| -> Vec<f32> { v.as_array().unwrap().iter().map(|b| f32::from_bits(b.as_u64().unwrap() as u32)).collect() };
        let mut ieee_differs = 0;
        for case in doc["cases"].as_array().unwrap() {
            let (s, want) = (bits(&case["var_eps"]).iter().map(|v| v.sqrt()).collect::<Vec<f32>>(), bits(&case["inv"]));
            let got = tf_reciprocal(&s).unwrap();
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g.to_bits(), w.to_bits(), "C = {}, channel {k}", s.len());
            }
            ieee_differs += s.iter().zip(&want).filter(|(s, w)| 1.0 / **s != **w).count();
        }
        // Without the emulation a third of the channels would be 1 ulp off.
        assert!(ieee_differs > 5000, "{ieee_differs}");
    }

    /// Keras BatchNormalization's rsqrt likewise, on inputs of rank 1 to 3
    /// (the measured values: one kernel, whatever the input's rank).
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn rsqrt_equals_tensorflow() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/bn_qkeras/rsqrt.json");
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let bits = |v: &serde_json::Value| -> Vec<f32> { v.as_array().unwrap().iter().map(|b| f32::from_bits(b.as_u64().unwrap() as u32)).collect() };
        let (mut ieee_differs, mut n) = (0, 0);
        for case in doc["cases"].as_array().unwrap() {
            let (s, want) = (bits(&case["var_eps"]), bits(&case["inv"]));
            let got = tf_rsqrt(&s).unwrap();
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g.to_bits(), w.to_bits(), "C = {}, rank {}, channel {k}", s.len(), case["rank"]);
            }
            ieee_differs += s.iter().zip(&want).filter(|(s, w)| 1.0 / s.sqrt() != **w).count();
            n += s.len();
        }
        assert!(ieee_differs * 5 > n, "{ieee_differs} of {n}");
    }
}
