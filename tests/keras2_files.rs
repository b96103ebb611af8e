//! Files written by the Keras 2 stack (QKeras 0.9.0, TensorFlow 2.14; made
//! by examples/models/keras2/make_keras2.py): legacy full-model `.h5`, a
//! Sequential config without an InputLayer, and a model JSON with a Keras 2
//! weights-only `.h5`. QKeras 0.9.0's `model_save_quantized_weights` stores
//! the quantized values q(w) themselves (no exponents, no auto_po2 split),
//! so the hardware weights must reproduce them exactly.

use std::path::{Path, PathBuf};

use qkhw::ir::BuildOptions;
use qkhw::passes::hw_tensors::hw_tensors;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/keras2")
}

fn f32s(v: &serde_json::Value) -> Vec<f32> {
    v["data"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

#[test]
fn keras2_files_give_qkeras_0_9_quantized_weights() {
    let mut compared = 0;
    for (file, golden) in [
        ("k2_jet_tagger.h5", "k2_jet_tagger.weights.json"),
        ("k2_jet_tagger_json.json", "k2_jet_tagger.weights.json"),
        ("k2_cnn_bn.h5", "k2_cnn_bn.weights.json"),
        ("k2_seq.h5", "k2_seq.weights.json"),
    ] {
        let g = qkhw::load_graph(dir().join(file), BuildOptions::default()).unwrap();
        let hw = hw_tensors(&g).unwrap();
        let gold: serde_json::Value = serde_json::from_slice(&std::fs::read(dir().join(golden)).unwrap()).unwrap();
        for (layer, d) in gold["weights"].as_object().unwrap() {
            let l = g.layer(layer).unwrap_or_else(|| panic!("{file}: no layer {layer}"));
            if l.class == "QBatchNormalization" {
                continue; // fused into the conv before it: its tables are checked elsewhere
            }
            for (k, w) in d["weights"].as_array().unwrap().iter().enumerate() {
                let role = l.weights[k].role;
                let t = hw.iter().find(|t| t.layer == *layer && t.tensor == role).unwrap();
                let ours: Vec<f32> = (0..t.codes.len()).map(|i| t.value(i) as f32).collect();
                assert_eq!(ours, f32s(w), "{file} {layer}/{role}");
                compared += ours.len();
            }
        }
    }
    assert!(compared > 7000, "{compared}");
}

#[test]
fn json_and_h5_of_one_model_agree() {
    let a = qkhw::load_graph(dir().join("k2_jet_tagger.h5"), BuildOptions::default()).unwrap();
    let b = qkhw::load_graph(dir().join("k2_jet_tagger_json.json"), BuildOptions::default()).unwrap();
    assert_eq!(a.layers.len(), b.layers.len());
    for (x, y) in a.layers.iter().zip(&b.layers) {
        assert_eq!((&x.name, &x.shape, &x.weights), (&y.name, &y.shape, &y.weights));
    }
}
