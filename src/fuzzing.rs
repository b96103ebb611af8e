//! Entry points shared by the fuzz targets (`fuzz/`) and the corpus replay
//! test: whatever the bytes, these must return, never panic.

use crate::quant::{InternalSigmoid, Quantizer};

/// A spec string (or a JSON config): parse, then apply to a small tensor
/// and take the hardware view.
pub fn spec(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let q = match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v) => Quantizer::from_json(&v, InternalSigmoid::Smooth),
        Err(_) => Quantizer::parse(s, InternalSigmoid::Hard),
    };
    if let Ok(q) = q {
        let x = [-3.0, -0.5, 0.0, 0.25, 1.0, 7.5, f32::NAN, f32::INFINITY];
        let _ = q.apply(&x);
        let _ = q.apply_shaped(&x, &[4, 2]);
        let _ = q.hardware(&x[..6], &[3, 2]);
    }
}

/// An `.npy` file.
pub fn npy(data: &[u8]) {
    let _ = crate::npy::parse_f32(data);
}
