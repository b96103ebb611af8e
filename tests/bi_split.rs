//! `QBidirectional(merge_mode=None)`: one layer, two output tensors (the
//! forward and the backward direction), each read on its own. qkhw
//! computes the layer as the concatenation of its directions and gives
//! each tensor a model reads a node of its own (`bi:0`, `bi:1`) that slices
//! it out. Golden data: tests/golden/gen_bi_split.py (QKeras's
//! `model.predict` on 300 inputs): a backward sequence as a model output
//! beside a head on the forward one, and the two last states concatenated
//! backward first (and a concat layer whose forward layer runs
//! backwards). Every output value equals QKeras; C (UBSan) and HLS equal
//! the golden model, and the first model also in Catapult HLS and the
//! Verilog's recurrent (folded) architecture on Verilator. The first two
//! were refused before ("a layer with several output tensors"), and
//! before that read as concat.

mod common;

use std::process::Command;

use qkhw::golden::{predict, PredictOptions};

/// The third (merge_mode concat) has a forward layer with go_backwards
/// and a backward one without: Keras flips the backward layer's sequence,
/// never the forward one's. qkhw flipped whichever had go_backwards (600
/// of 3,000 values equal; a cross-check's model).
const MODELS: &[(&str, usize)] = &[("seq_two_heads", 2), ("last_swapped", 1), ("forward_backwards", 1)];
/// (model, output, count): the LSTM outputs o·q(c), where QKeras gives
/// −0.0 (q rounds a small negative to −0.0) and qkhw's code 0 is +0.0:
/// equal values, the other sign bit (as in tests/xcheck_rnn.rs).
const SIGNED_ZEROS: &[(&str, usize, usize)] = &[("seq_two_heads", 1, 29)];

fn dir() -> std::path::PathBuf {
    common::root().join("tests/golden/bi_split")
}

#[test]
fn every_output_equals_qkeras() {
    for &(name, outputs) in MODELS {
        let g = qkhw::load_graph(dir().join(format!("{name}.keras")), Default::default()).unwrap();
        assert_eq!(g.outputs.len(), outputs, "{name}");
        let x = qkhw::npy::read_f32(&dir().join(format!("{name}.x.npy"))).unwrap();
        let p = predict(&g, &x.data, &x.shape, &PredictOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        for k in 0..outputs {
            let suffix = if k == 0 { String::new() } else { format!(".{k}") };
            let y = qkhw::npy::read_f32(&dir().join(format!("{name}.y{suffix}.npy"))).unwrap();
            let ours = p.output_f32(k);
            assert_eq!(ours.len(), y.data.len(), "{name} output {k}");
            let equal = ours.iter().zip(&y.data).filter(|(a, b)| a == b).count();
            assert_eq!(equal, y.data.len(), "{name} output {k}: values equal to QKeras");
            let signs = ours.iter().zip(&y.data).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
            let want = SIGNED_ZEROS.iter().find(|s| (s.0, s.1) == (name, k)).map_or(0, |s| s.2);
            assert_eq!(signs, want, "{name} output {k}: zeros of the other sign");
        }
    }
    // The backward sequence is a model output as it is: the second half of
    // the layer's concatenation, not the first.
    let g = qkhw::load_graph(dir().join("seq_two_heads.keras"), Default::default()).unwrap();
    let out: Vec<&str> = g.outputs.iter().map(|o| g.layers[o.0].name.as_str()).collect();
    assert_eq!(out, ["head", "bi:1"]);
    // QKeras's model_save_quantized_weights raises on such a model (its
    // graph pass reads `output.shape`): `weights` prints the dict it builds
    // layer by layer, and says so (a cross-check found it silent).
    let o = Command::new(env!("CARGO_BIN_EXE_qkhw")).arg("weights").arg(dir().join("seq_two_heads.keras")).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.contains("raises on this model") && err.contains("`bi`"), "{err}");
}

#[test]
fn every_target_equals_the_golden_model() {
    common::require("gcc");
    common::require("g++");
    common::require("verilator");
    // Every target on the model with both tensors read; C and Vitis HLS
    // on the others (the test command's half hour: each Verilator build
    // takes 10 to 20 s; `qkhw verify` on them all passes).
    for &(name, _) in MODELS {
        let model = dir().join(format!("{name}.keras"));
        let x = dir().join(format!("{name}.x.npy"));
        let all: &[&[&str]] = &[&["c"], &["hls"], &["hls", "--flavor", "catapult"], &["verilog", "--reuse-factor", "2"]];
        let targets = if name == "seq_two_heads" { all } else { &all[..2] };
        for &target in targets {
            let o = Command::new(env!("CARGO_BIN_EXE_qkhw"))
                .arg("verify")
                .arg(&model)
                .arg("--target")
                .args(target)
                .arg("--input")
                .arg(&x)
                .args(["--random", "50"])
                .env("QKHW_CACHE", common::cache())
                .env("QKHW_VERILATOR_OPT", "-O0")
                .output()
                .unwrap();
            let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            assert!(o.status.success() && text.contains("350 samples") && text.contains("all equal to the golden model"), "{name} {target:?}: {text}");
        }
    }
}
