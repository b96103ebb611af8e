//! `qkhw quantize-model` against QKeras's own `model_quantize` without
//! Python: the golden outputs in tests/golden/quantize_model/ are QKeras's
//! predictions of its quantized models (tests/golden/gen_quantize_model.py);
//! qkhw's file, run by qkhw's golden model, must give them on every bit.
//! The Python suite (python/tests/test_quantize_model.py) also loads qkhw's
//! files in QKeras and compares classes, quantizer configs and hardware
//! weights.

use std::path::{Path, PathBuf};
use std::process::Command;

fn qkhw() -> Command {
    Command::new(env!("CARGO_BIN_EXE_qkhw"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("qkhw-qm-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn float_model(name: &str) -> PathBuf {
    root().join("examples/float_models").join(name)
}

fn golden(name: &str) -> PathBuf {
    root().join("tests/golden/quantize_model").join(name)
}

/// Run quantize-model; returns stdout.
fn quantize_model(model: &str, extra: &[&str], out: &Path) -> String {
    let stem = model.trim_end_matches(".keras");
    let o = qkhw()
        .arg("quantize-model")
        .arg(float_model(model))
        .arg("--config")
        .arg(float_model(&format!("{stem}.qconfig.json")))
        .args(["--activation-bits", "6", "-o"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn predict(model: &Path, x: &Path, name: &str) -> Vec<f32> {
    let y = tmp(name);
    let o = qkhw().arg("predict").arg(model).arg("--input").arg(x).arg("--output").arg(&y).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    qkhw::npy::read_f32(&y).unwrap().data
}

fn assert_bits_equal(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let bad = got.iter().zip(want).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
    assert_eq!(bad, 0, "{what}: {bad} of {} outputs differ from QKeras", want.len());
}

#[test]
fn mlp_predicts_what_qkeras_model_quantize_predicts() {
    let out = tmp("mlp_q.keras");
    let text = quantize_model("mlp.keras", &[], &out);
    assert!(text.contains("fc2: Dense -> QDense (kernel_quantizer=quantized_bits(6,0,1), bias_quantizer=quantized_bits(8,3,1), activation=quantized_tanh(6))"), "{text}");
    assert!(text.contains("fc1: Dense -> QDense (kernel_quantizer=quantized_bits(4,0,1), bias_quantizer=quantized_bits(6,2,1), activation=quantized_relu(6))"), "{text}");
    assert!(text.contains("act3: Activation -> QActivation (activation=quantized_relu(5,1))"), "{text}");
    assert!(text.contains("5 layers quantized") && text.contains("qkhw reads it and runs it"), "{text}");
    let want = qkhw::npy::read_f32(&golden("mlp_outputs.npy")).unwrap().data;
    assert_bits_equal(&predict(&out, &golden("mlp_inputs.npy"), "mlp_y.npy"), &want, "mlp");
    // The kernel quantizers are written as QKeras's strings
    // ("quantized_bits(4,0,1)", alpha unset): the layer makes them auto_po2,
    // as QKeras's layers do.
    let g = qkhw::load_graph(&out, Default::default()).unwrap();
    let fc1 = g.layers.iter().find(|l| l.name == "fc1").unwrap();
    let qkhw::ir::Op::Dense { kernel_q: Some(k), bias_q: Some(b), .. } = &fc1.op else { panic!("{:?}", fc1.op) };
    assert!(matches!(&k.kind, qkhw::quant::Kind::Bits(q) if q.alpha == qkhw::quant::bits::Alpha::AutoPo2 && q.symmetric), "{k:?}");
    assert!(matches!(&b.kind, qkhw::quant::Kind::Bits(q) if q.alpha != qkhw::quant::bits::Alpha::AutoPo2), "a bias quantizer is not rewritten: {b:?}");
}

#[test]
fn cnn_with_and_without_folding_predicts_what_qkeras_predicts() {
    let out = tmp("cnn_q.keras");
    let text = quantize_model("cnn.keras", &[], &out);
    assert!(text.contains("bn1: BatchNormalization -> QBatchNormalization (no quantizers: float as before)"), "{text}");
    assert!(text.contains("c2: Conv2D -> QConv2D (kernel_quantizer=quantized_bits(4,0,1))"), "no bias, no bias quantizer: {text}");
    assert!(text.contains("r2: ReLU -> QActivation (activation=quantized_relu(6,2))"), "{text}");
    let x = golden("cnn_inputs.npy");
    let want = qkhw::npy::read_f32(&golden("cnn_outputs.npy")).unwrap().data;
    assert_bits_equal(&predict(&out, &x, "cnn_y.npy"), &want, "cnn");

    // Folded: QKeras's own result holds random weights; the golden is its
    // folded model given the trained weights by hand.
    let folded = tmp("cnn_fold.keras");
    let text = quantize_model("cnn.keras", &["--fold-bn"], &folded);
    assert!(text.contains("c1: Conv2D + bn1 (BatchNormalization, folded) -> QConv2DBatchnorm") && text.contains("2 batch norms folded"), "{text}");
    let want = qkhw::npy::read_f32(&golden("cnn_fold_outputs.npy")).unwrap().data;
    assert_bits_equal(&predict(&folded, &x, "cnn_fold_y.npy"), &want, "cnn --fold-bn");
    let g = qkhw::load_graph(&folded, Default::default()).unwrap();
    assert!(g.layers.iter().all(|l| !l.name.starts_with("bn")), "the batch norms are gone");
}

#[test]
fn errors_name_the_problem_and_write_nothing() {
    let cfg = tmp("cfg.json");
    let out = tmp("never.keras");
    let run = |model: &Path, config: &str, extra: &[&str]| {
        std::fs::write(&cfg, config).unwrap();
        let o = qkhw().arg("quantize-model").arg(model).arg("--config").arg(&cfg).args(["--activation-bits", "6", "-o"]).arg(&out).args(extra).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stdout));
        assert!(!out.exists(), "a failing command writes nothing");
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        err
    };
    let mlp = float_model("mlp.keras");
    for (config, want) in [
        (r#"{"QDens": {"kernel_quantizer": "quantized_bits(4)"}}"#, "`QDens` is neither a layer of the model (input_layer, fc1"),
        (r#"{"QDense": {"kernel": "quantized_bits(4)"}}"#, "unknown parameter `kernel`"),
        (r#"{"QDense": {"kernel_quantizer": "quantized_bitz(4)"}}"#, "quantized_bitz"),
        (r#"{"QDense": {"kernel_quantizer": 4}}"#, "a quantizer string such as"),
        (r#"{"fc1": {"kernel_quantizer": "quantized_bits(4,0,1)", "folding_mode": "yes"}}"#, "`folding_mode`"),
        (r#"{"QAdaptiveActivation": "relu"}"#, "QAdaptiveActivation"),
        // A misspelt activation would leave the layers float without a word.
        (r#"{"QActivation": {"Relu": "quantized_relu(4)"}}"#, "`Relu` is not an activation name"),
        (r#"["QDense"]"#, "a quantizer_config is a JSON object"),
        (r#"{"QDense": "#, "not valid JSON"),
    ] {
        let err = run(&mlp, config, &[]);
        assert!(err.contains(want), "{config}: {err}");
    }
    // A legacy .h5 is not a .keras archive; a model that is not one at all.
    let err = run(&root().join("examples/models/jet_tagger.h5"), "{}", &[]);
    assert!(err.contains("quantize-model reads a Keras 3 `.keras` archive"), "{err}");
    let junk = tmp("junk.keras");
    std::fs::write(&junk, b"PK\x03\x04 not really").unwrap();
    let err = run(&junk, "{}", &[]);
    assert!(err.contains("junk.keras"), "{err}");
    let o = qkhw().arg("quantize-model").arg(&mlp).arg("--config").arg(&cfg).args(["--activation-bits", "0", "-o"]).arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
    // Keras opens a .keras archive only by its extension.
    let h5 = tmp("never.h5");
    std::fs::write(&cfg, "{}").unwrap();
    let o = qkhw().arg("quantize-model").arg(&mlp).arg("--config").arg(&cfg).args(["--activation-bits", "6", "-o"]).arg(&h5).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("NAME.keras") && !h5.exists());
}

#[test]
fn a_quantized_model_converts_nothing_and_reads_back() {
    // A QKeras model goes through unchanged: its layers are already Q classes.
    let cfg = tmp("cfg_q.json");
    std::fs::write(&cfg, r#"{"QDense": {"kernel_quantizer": "quantized_bits(4,0,1)"}}"#).unwrap();
    let out = tmp("jet_again.keras");
    let o = qkhw()
        .arg("quantize-model")
        .arg(root().join("examples/models/jet_tagger.keras"))
        .arg("--config")
        .arg(&cfg)
        .args(["--activation-bits", "6", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("0 layers quantized"), "{text}");
    let x = root().join("tests/golden/predict/jet_tagger/inputs.npy");
    assert_eq!(predict(&root().join("examples/models/jet_tagger.keras"), &x, "jet_a.npy"), predict(&out, &x, "jet_b.npy"));
}

#[test]
fn a_quantized_float_model_freezes() {
    // quantize-model writes QKeras's string quantizers; their kernels are
    // auto_po2 (the layers' rewrite), so `freeze` has scales to set and
    // must turn each string into the config QKeras saves to hold one.
    let q = tmp("mlp_for_freeze.keras");
    quantize_model("mlp.keras", &[], &q);
    let frozen = tmp("mlp_frozen.keras");
    let o = qkhw().arg("freeze").arg(&q).arg("-o").arg(&frozen).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("4 auto_po2 quantizers frozen"), "{text}");
    let x = golden("mlp_inputs.npy");
    assert_eq!(predict(&q, &x, "mq.npy"), predict(&frozen, &x, "mf.npy"));
    let g = qkhw::load_graph(&frozen, Default::default()).unwrap();
    assert!(qkhw::freeze::scales(&g).unwrap().is_empty(), "every auto_po2 quantizer has its scale");
}

#[test]
fn batch_norms_without_scale_or_center_fold_into_a_layer_qkeras_runs() {
    // bn1 has scale=False, bn2 center=False and is the model's only output
    // (saved flat as ["bn2", 0, 0]): the folded layers get gamma 1 / beta 0
    // (QKeras's QConv2DBatchnorm cannot run without them) and c2 becomes
    // the output. Golden: QKeras's own folded model given those weights.
    let cfg = tmp("bn_out.json");
    std::fs::write(&cfg, r#"{"QConv2D": {"kernel_quantizer": "quantized_bits(4,0,1)", "bias_quantizer": "quantized_bits(6,2,1)"}}"#).unwrap();
    let out = tmp("bn_out_fold.keras");
    let o = qkhw()
        .arg("quantize-model")
        .arg(float_model("bn_out.keras"))
        .arg("--config")
        .arg(&cfg)
        .args(["--activation-bits", "6", "--fold-bn", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 batch norms folded"));
    let want = qkhw::npy::read_f32(&golden("bn_out_fold_outputs.npy")).unwrap().data;
    assert_bits_equal(&predict(&out, &golden("cnn_inputs.npy"), "bn_out_y.npy"), &want, "bn_out --fold-bn");
}
