//! Recurrent layers where QKeras's float32 result is not the exact one are
//! refused, naming the layer, with nothing written. The evidence comes from
//! the generator (`tests/golden/gen_rnn_refusals.py`): the same model run
//! by QKeras in float32 and in float64 gives different outputs.
//! (The recurrent models qkhw runs are checked against QKeras in
//! `predict_golden.rs` and in every target by the backend tests.)

mod common;

use std::process::Command;

#[test]
fn a_cell_whose_state_float32_rounds_is_refused_naming_the_layer() {
    let dir = common::root().join("tests/golden/rnn_refusals");
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    // QKeras itself: float32 and float64 disagree on this model.
    assert!(meta["differing"].as_u64().unwrap() >= 1, "{meta}");
    let model = dir.join(meta["model"].as_str().unwrap());
    let tmp = common::tmp("rnn-refused");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let x = tmp.join("x.npy");
    std::fs::write(&x, qkhw::npy::encode_f32(&[2, 8, 3], &[0.5; 48])).unwrap();
    let out = tmp.join("y.npy");
    let o = Command::new(env!("CARGO_BIN_EXE_qkhw")).arg("predict").arg(&model).arg("--input").arg(&x).arg("--output").arg(&out).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let layer = format!("layer `{}`", meta["layer"].as_str().unwrap());
    assert!(err.contains(&layer) && err.contains("float32") && err.contains("state_quantizer"), "{err}");
    assert!(!out.exists());
    // gen refuses it the same way.
    let d = tmp.join("design");
    let o = Command::new(env!("CARGO_BIN_EXE_qkhw")).arg("gen").arg(&model).arg("-o").arg(&d).output().unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains(&layer));
    assert!(!d.exists());
}

/// A QGRU without a state_quantizer: its h gains fraction bits every step
/// until a constant's codes give out. The error names the layer and the
/// missing quantizer (it used to say "batch-norm bias codes overflow").
#[test]
fn a_gru_without_a_state_quantizer_is_told_to_add_one() {
    let e = plan_refusal("gru_no_state");
    assert!(e.contains("layer `qgru`") && e.contains("without a state_quantizer") && e.contains("give the layer a state_quantizer"), "{e}");
}

/// A QGRU whose cell needs 26 bits, reading a MaxPooling1D of a
/// quantized_relu: its input is quantized, so the error says to use fewer
/// bits in its quantizers. It said to quantize the layer's input, which
/// was (cross-check batch 8; `tests/golden/gen_rnn_refusals.py pool`).
#[test]
fn a_recurrent_layer_after_a_max_pooling_of_a_quantizer_is_told_its_input_is_quantized() {
    let e = plan_refusal("pool_gru");
    assert!(e.contains("layer `qgru`") && e.contains("needs 26 significant bits") && e.contains("use fewer bits in its kernel, recurrent and state quantizers"), "{e}");
    assert!(!e.contains("quantize the layer's input"), "{e}");
}

/// The one-line error the plan of `tests/golden/rnn_refusals/NAME.keras`
/// refuses with.
fn plan_refusal(name: &str) -> String {
    let model = common::root().join(format!("tests/golden/rnn_refusals/{name}.keras"));
    let g = qkhw::load_graph(&model, Default::default()).unwrap();
    let e = qkhw::golden::hardware_plan(&g, None, &Default::default()).expect_err("refused").to_string();
    assert_eq!(e.lines().count(), 1, "{e}");
    e
}

/// A QGRU with implementation=2 and reset_after=False, which QKeras 1.2.1
/// saves but cannot run (its model.predict raises), is computed as the
/// same layer with implementation=1 (QKeras's predict of it, bit for
/// bit), and `predict` says so (cross-check batch 16: silent); the
/// implementation=1 file gets no such note. `tests/golden/gen_gru_impl2.py`.
#[test]
fn a_qgru_qkeras_cannot_run_is_computed_as_implementation_1_and_said() {
    let dir = common::root().join("tests/golden/gru_impl2");
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    assert!(meta["impl2_predict"].is_string(), "QKeras ran it: {meta}");
    let want = qkhw::npy::read_f32(&dir.join("outputs.npy")).unwrap();
    let tmp = common::tmp("gru-impl2");
    std::fs::create_dir_all(&tmp).unwrap();
    for (file, said) in [("impl2.keras", true), ("impl1.keras", false)] {
        let out = tmp.join(format!("{file}.npy"));
        let o = Command::new(env!("CARGO_BIN_EXE_qkhw")).arg("predict").arg(dir.join(file)).arg("--input").arg(dir.join("inputs.npy")).arg("-o").arg(&out).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{file}: {err}");
        assert_eq!(err.contains("QGRU(implementation=2, reset_after=False) fails in QKeras"), said, "{file}: {err}");
        let got = qkhw::npy::read_f32(&out).unwrap();
        assert_eq!(got.shape, want.shape, "{file}");
        let same = got.data.iter().zip(&want.data).filter(|(a, b)| a.to_bits() == b.to_bits()).count();
        assert_eq!(same, want.data.len(), "{file}: equal to QKeras's implementation=1");
    }
}
