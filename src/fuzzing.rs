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

/// A model file (`.keras`, legacy `.h5` or a model JSON, told apart by
/// content), with `json_weights` as the weights of a model JSON: read, build
/// the graph, and run every pass that reads weights.
pub fn model(data: &[u8], json_weights: &[u8]) {
    let path = std::path::Path::new("fuzz-input");
    let Ok(saved) = crate::keras::load_bytes(path, data.to_vec(), |_| Ok(json_weights.to_vec())) else { return };
    let Ok(g) = crate::ir::Graph::from_saved(&saved, Default::default()) else { return };
    let _ = crate::passes::hw_weights::model_save_quantized_weights(&g);
    if let Ok(t) = crate::passes::hw_tensors::hw_tensors(&g) {
        for w in &t {
            let _ = crate::backend::rom::words(w);
        }
    }
    let _ = crate::inspect::inspect(&g);
}
