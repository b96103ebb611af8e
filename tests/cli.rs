//! The `qkhw` binary: outputs, codes, and one-line errors with exit 2.

use std::path::PathBuf;
use std::process::Command;

fn qkhw() -> Command {
    Command::new(env!("CARGO_BIN_EXE_qkhw"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("qkhw-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn quantize_writes_float_and_codes() {
    let x = [-1.3f32, -0.5, 0.0, 0.26, 0.9, 5.0, 3.4e38];
    let inp = tmp("x.npy");
    std::fs::write(&inp, qkhw::npy::encode_f32(&[7], &x)).unwrap();
    let (out, codes) = (tmp("y.npy"), tmp("c.npy"));
    let st = qkhw()
        .args(["quantize", "quantized_bits(4,0,1,1)", "--input"])
        .arg(&inp)
        .arg("--output")
        .arg(&out)
        .arg("--codes")
        .arg(&codes)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let y = qkhw::npy::read_f32(&out).unwrap();
    // QKeras: step 1/8, symmetric [-7/8, 7/8]; 3.4e38 overflows to NaN.
    assert_eq!(&y.data[..6], &[-0.875, -0.5, 0.0, 0.25, 0.875, 0.875]);
    assert!(y.data[6].is_nan());
    let bytes = std::fs::read(&codes).unwrap();
    let (h, off) = qkhw::npy::parse_header(&bytes).unwrap();
    assert_eq!(h.descr, "<i8");
    let c: Vec<i64> = bytes[off..].chunks(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect();
    // The hardware saturates where QKeras's float overflows.
    assert_eq!(c, vec![-7, -4, 0, 2, 7, 7, 7]);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let inp = tmp("bad.npy");
    std::fs::write(&inp, qkhw::npy::encode_i64(&[2], &[1, 2])).unwrap();
    for (spec, want) in [
        ("quantized_bits(6,2,1", "character 20"),
        ("quantized_foo(1)", "supported: quantized_bits"),
        ("bernoulli", "always samples"),
        ("quantized_bits(6)", "expected float32"),
    ] {
        let o = qkhw().args(["quantize", spec, "--input"]).arg(&inp).args(["--output", "/dev/null"]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{spec}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(want), "{spec}: {err}");
    }
    let o = qkhw().args(["quantize", "relu", "--input", "/nonexistent.npy", "--output", "/dev/null"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent.npy"));
}

fn model(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/models").join(name)
}

#[test]
fn weights_json_is_the_golden_dict() {
    let out = tmp("w.json");
    let st = qkhw().arg("weights").arg(model("po2_mlp.keras")).arg("--json").arg(&out).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let ours: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let gold: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model("po2_mlp.weights.json")).unwrap()).unwrap();
    // Same layers and keys; values are compared bit for bit in weights_golden.rs.
    let keys = |v: &serde_json::Value| -> Vec<(String, Vec<String>)> {
        v["weights"].as_object().unwrap().iter().map(|(k, f)| (k.clone(), f.as_object().unwrap().keys().cloned().collect())).collect()
    };
    assert_eq!(keys(&ours), keys(&gold));
    let text = String::from_utf8(qkhw().arg("weights").arg(model("cnn_bn.keras")).output().unwrap().stdout).unwrap();
    assert!(text.contains("fused_bn_layer_name: 'bn1'"), "{text}");
}

/// A batch norm's auto_po2 inverse quantizer: QKeras's model.predict
/// scales it per channel, model_save_quantized_weights (the hardware
/// weights, and the scale `freeze` sets) as one vector, so QKeras's
/// model.predict of the frozen model differs from the original's.
/// `freeze` said nothing (cross-check batch 16: 154 of 256 outputs
/// changed); it now says so, and `predict` too, each naming the channels
/// QKeras's two quantizations of the inverse give differently
/// (tests/golden/gen_freeze_bn.py computes them with QKeras's quantizer).
#[test]
fn freeze_and_predict_name_the_channels_an_auto_scaled_bn_inverse_changes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/freeze_bn");
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let differ: Vec<String> = meta["differ"].as_array().unwrap().iter().map(|c| c.to_string()).collect();
    assert!(!differ.is_empty());
    let channels = format!("differ in channel{} {},", if differ.len() == 1 { "" } else { "s" }, differ.join(", "));
    let out = tmp("bninv.frozen.keras");
    let _ = std::fs::remove_file(&out);
    let o = qkhw().arg("freeze").arg(dir.join("bninv.keras")).arg("-o").arg(&out).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && out.exists(), "{e}");
    assert!(e.contains("note: layer `bn`: the inverse_quantizer's frozen scale is model_save_quantized_weights's") && e.contains(&channels), "{e}");
    let o = qkhw().arg("predict").arg(dir.join("bninv.keras")).arg("--input").arg(dir.join("inputs.npy")).arg("-o").arg(tmp("bninv.npy")).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && e.contains("QKeras's model.predict quantizes the batch norm's inverse per channel") && e.contains(&channels), "{e}");
    // A batch norm without an auto-scaled inverse: nothing said.
    let o = qkhw().arg("freeze").arg(model("auto_po2_mlp.keras")).arg("-o").arg(tmp("frozen-quiet.keras")).output().unwrap();
    assert!(o.status.success() && !String::from_utf8_lossy(&o.stderr).contains("inverse_quantizer"));
}

/// `freeze` sets each auto_po2 quantizer's scale as post_training_scale
/// (nested as QKeras saves it): the weights dict (scales included, with
/// their shapes) and the predictions are the original's; a file it cannot
/// freeze gives one line and writes nothing.
#[test]
fn freeze_keeps_the_weights_and_refuses_clearly() {
    let out = tmp("frozen.keras");
    let o = qkhw().arg("freeze").arg(model("auto_po2_mlp.keras")).arg("-o").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(text.contains("c1.kernel_quantizer: post_training_scale [1, 1, 3]") && text.contains("4 auto_po2 quantizers frozen"), "{text}");
    let weights = |p: &std::path::Path| {
        let j = tmp(&format!("{}.json", p.file_name().unwrap().to_string_lossy()));
        let st = qkhw().arg("weights").arg(p).arg("--json").arg(&j).output().unwrap();
        assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&j).unwrap()).unwrap();
        v["weights"].clone()
    };
    assert_eq!(weights(&model("auto_po2_mlp.keras")), weights(&out));
    let g = qkhw::load_graph(&out, Default::default()).unwrap();
    assert!(qkhw::freeze::scales(&g).unwrap().is_empty(), "every auto_po2 quantizer has its scale");
    let x = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/predict/auto_po2_mlp/inputs.npy");
    let predict = |m: &std::path::Path, y: &str| {
        let st = qkhw().arg("predict").arg(m).arg("--input").arg(&x).arg("--output").arg(tmp(y)).output().unwrap();
        assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
        std::fs::read(tmp(y)).unwrap()
    };
    assert_eq!(predict(&model("auto_po2_mlp.keras"), "fa.npy"), predict(&out, "fb.npy"));
    // Onto itself: refused, the original untouched (it was overwritten).
    let copy = tmp("self.keras");
    std::fs::copy(model("auto_po2_mlp.keras"), &copy).unwrap();
    let o = qkhw().arg("freeze").arg(&copy).arg("-o").arg(&copy).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is the model itself"), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(model("auto_po2_mlp.keras")).unwrap());
    for (m, want) in [
        ("jet_tagger.h5", "freeze reads a Keras 3 `.keras` archive"),
        ("jet_tagger.keras", "nothing to freeze"),
        // Says why an auto_po2 quantizer is not frozen (it said there was
        // none: a cross-check).
        ("binary_ternary.keras", "nothing to freeze: layer `d3`: `binary(use_01=False, alpha='auto_po2')` has alpha=\"auto_po2\" but a binary or ternary quantizer takes no post_training_scale"),
        ("frozen.keras", "nothing to freeze"),
        // A batch norm's gamma quantizer with auto_po2 (a cross-check: the
        // line said there was no auto_po2 quantizer).
        ("../../tests/golden/weights_edges/bn_nocenter.keras", "nothing to freeze: layer `bn` (QBatchNormalization): its gamma quantizer's auto_po2 scale is not frozen"),
    ] {
        let src = if m == "frozen.keras" { out.clone() } else { model(m) };
        let dest = tmp("never.keras");
        let o = qkhw().arg("freeze").arg(&src).arg("-o").arg(&dest).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{m}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(want) && e.trim_end().lines().count() == 1, "{m}: {e}");
        assert!(!dest.exists(), "{m}");
    }
}

#[test]
fn inspect_reports_formats_macs_and_sparsity() {
    let o = qkhw().arg("inspect").arg(model("jet_tagger.keras")).arg("--json").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let fc1 = v["layers"].as_array().unwrap().iter().find(|l| l["name"] == "fc1").unwrap();
    assert_eq!(fc1["macs"], 16 * 64);
    assert_eq!(fc1["params"], 16 * 64 + 64);
    assert_eq!(fc1["weights"][0]["format"], "fixed<6,1>");
    assert_eq!(v["macs"], 16 * 64 + 64 * 32 + 32 * 32 + 32 * 5);
    let s = fc1["sparsity"].as_f64().unwrap();
    assert!(s > 0.0 && s < 1.0);
    let table = String::from_utf8(qkhw().arg("inspect").arg(model("cnn_bn.keras")).output().unwrap().stdout).unwrap();
    assert!(table.contains("bn_inv") && table.contains("QDepthwiseConv2D"), "{table}");
}

#[test]
fn rom_writes_files_and_manifest() {
    let dir = tmp("roms");
    let o = qkhw().arg("rom").arg(model("jet_tagger.keras")).args(["--format", "coe", "-o"]).arg(&dir).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["tensors"].as_array().unwrap().len(), 8);
    assert!(dir.join("fc1_kernel.coe").exists());
}

/// `rom` into a folder: refused where the folder holds files `qkhw rom`
/// did not list; an earlier `rom`'s ROMs are replaced, none left stale
/// (cross-check batch 14: a second model's ROMs went in beside the
/// first's, and into a folder of user files).
#[test]
fn rom_replaces_an_earlier_roms_files_and_refuses_other_folders() {
    let dir = tmp("roms-again");
    let rom = |m: &str, fmt: &str| qkhw().arg("rom").arg(model(m)).args(["--format", fmt, "-o"]).arg(&dir).output().unwrap();
    let o = rom("po2_mlp.keras", "c");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(dir.join("po2_mlp_roms.h").exists());
    let o = rom("jet_tagger.keras", "mem");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let mut listed: Vec<String> = m["tensors"].as_array().unwrap().iter().map(|t| t["file"].as_str().unwrap().to_string()).collect();
    listed.push("manifest.json".into());
    listed.sort();
    let mut there: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    there.sort();
    assert_eq!(there, listed);
    // A user's file: refused, nothing written.
    let mine = tmp("roms-mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "mine").unwrap();
    let o = qkhw().arg("rom").arg(model("jet_tagger.keras")).args(["--format", "mem", "-o"]).arg(&mine).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8(o.stderr).unwrap();
    assert!(e.starts_with("error: ") && e.contains("roms-mine: the folder is not empty and holds no manifest.json of `qkhw rom`"), "{e}");
    assert_eq!(std::fs::read_dir(&mine).unwrap().count(), 1);
    let o = qkhw().arg("rom").arg(model("jet_tagger.keras")).args(["--format", "mem", "--layout", "folded", "--reuse-factor", "4", "-o"]).arg(&mine).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// `verify` of an input array holding no samples is an error, not a
/// pass (cross-check batch 14: "0 samples ... all equal", exit 0).
#[test]
fn verify_of_no_samples_is_refused() {
    let inp = tmp("empty16.npy");
    std::fs::write(&inp, qkhw::npy::encode_f32(&[0, 16], &[])).unwrap();
    for target in ["verilog", "c"] {
        let o = qkhw().arg("verify").arg(model("jet_tagger.keras")).args(["--target", target, "--input"]).arg(&inp).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{target}");
        let e = String::from_utf8(o.stderr).unwrap();
        assert!(e.lines().any(|l| l.starts_with("error: ") && l.contains("empty16.npy: no samples to verify")), "{target}: {e}");
    }
}

#[test]
fn model_errors_are_one_line() {
    for args in [vec!["weights", "/nonexistent/model.keras"], vec!["inspect", "Cargo.toml"], vec!["rom", "Cargo.toml", "--format", "mem", "-o", "/tmp/x"]] {
        let o = qkhw().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = String::from_utf8(o.stderr).unwrap();
        assert_eq!(e.trim_end().lines().count(), 1, "{e}");
        assert!(e.starts_with("error: "), "{e}");
    }
}

fn golden_inputs(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/predict").join(name).join("inputs.npy")
}

#[test]
fn predict_writes_logits_and_codes() {
    let (out, codes) = (tmp("p_y.npy"), tmp("p_c.npy"));
    let o = qkhw()
        .arg("predict")
        .arg(model("jet_tagger.keras"))
        .arg("--input")
        .arg(golden_inputs("jet_tagger"))
        .arg("--output")
        .arg(&out)
        .arg("--codes")
        .arg(&codes)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("softmax"), "the dropped softmax is announced");
    let y = qkhw::npy::read_f32(&out).unwrap();
    assert_eq!(y.shape, vec![1000, 5]);
    let want = qkhw::npy::read_f32(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/predict/jet_tagger/logits.npy")).unwrap();
    assert_eq!(y.data, want.data);
    let stdout = String::from_utf8(o.stdout).unwrap();
    let frac: i32 = stdout.split("2^-").nth(1).unwrap().split(')').next().unwrap().parse().unwrap();
    let c = std::fs::read(&codes).unwrap();
    let (hdr, off) = qkhw::npy::parse_header(&c).unwrap();
    assert_eq!(hdr.shape, vec![1000, 5]);
    // value = code x 2^-frac
    let first = i64::from_le_bytes(c[off..off + 8].try_into().unwrap());
    assert_eq!(first as f32 * 2f32.powi(-frac), y.data[0]);
}

#[test]
fn predict_input_format_and_config() {
    let out = tmp("p2_y.npy");
    let run = |extra: &[&str]| {
        qkhw().arg("predict").arg(model("cnn_bn.keras")).arg("--input").arg(golden_inputs("cnn_bn")).arg("--output").arg(&out).args(extra).output().unwrap()
    };
    let o = run(&["--input-format", "fixed<8,3>"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("fixed<8,3>"));
    let cfg = tmp("cfg.toml");
    std::fs::write(&cfg, "[input]\nformat = \"fixed<10,4>\"\n[layer.bn1]\nbn_inv = \"fixed<10,2>\"\nbn_bias = \"fixed<12,4>\"\n[layer.dense]\noutput = \"fixed<12,6>\"\n").unwrap();
    let o = run(&["--config", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("fixed<12,6>"), "{}", String::from_utf8_lossy(&o.stdout));
    std::fs::write(&cfg, "[layer.nope]\noutput = \"fixed<12,6>\"\n").unwrap();
    let o = run(&["--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    // The file named, as every other --config error names it (cross-check
    // batch 12: this one did not).
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("--config {}: no layer `nope`", cfg.display())), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn predict_rejects_bad_inputs_clearly() {
    let out = tmp("p3_y.npy");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        // The line names the file (it did not: a cross-check).
        (qkhw::npy::encode_f32(&[3, 15], &[0.0; 45]), "bad0.npy: inputs of shape [3, 15]: the model takes (batch, 16)"),
        // A NaN names the file too (a cross-check: it did not).
        (qkhw::npy::encode_f32(&[2, 16], &[f32::NAN; 32]), "bad1.npy: input sample 0, element (0): NaN"),
        (qkhw::npy::encode_f32(&[1, 16], &[f32::INFINITY; 16]), "inf"),
        (qkhw::npy::encode_i64(&[1, 16], &[1; 16]), "float32"),
        (b"not an npy".to_vec(), "npy"),
    ];
    for (i, (bytes, want)) in cases.into_iter().enumerate() {
        let inp = tmp(&format!("bad{i}.npy"));
        std::fs::write(&inp, bytes).unwrap();
        let o = qkhw().arg("predict").arg(model("jet_tagger.keras")).arg("--input").arg(&inp).arg("--output").arg(&out).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "case {i}");
        let e = String::from_utf8(o.stderr).unwrap();
        assert!(e.contains(want), "case {i}: {e}");
        assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    }
    // verify checks the input shape for every target (a wrong one would
    // otherwise be cut into samples of the wrong size).
    let inp = tmp("bad_shape.npy");
    std::fs::write(&inp, qkhw::npy::encode_f32(&[3, 15], &[0.0; 45])).unwrap();
    for target in ["c", "hls", "verilog"] {
        let o = qkhw().arg("verify").arg(model("jet_tagger.keras")).arg("--input").arg(&inp).args(["--target", target]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{target}");
        let e = String::from_utf8(o.stderr).unwrap();
        assert!(e.contains("bad_shape.npy: inputs of shape [3, 15]: the model takes (batch, 16)"), "{target}: {e}");
    }
    // With --input-format, infinities saturate (documented) instead.
    let inp = tmp("inf.npy");
    std::fs::write(&inp, qkhw::npy::encode_f32(&[1, 16], &[f32::INFINITY; 16])).unwrap();
    let o = qkhw().arg("predict").arg(model("jet_tagger.keras")).arg("--input").arg(&inp).arg("--output").arg(&out).args(["--input-format", "fixed<16,6>"]).output().unwrap();
    assert!(o.status.success());
}

#[test]
fn dump_and_debug() {
    let dir = tmp("dump");
    let o = qkhw().arg("dump").arg(model("cnn_bn.keras")).arg("--input").arg(golden_inputs("cnn_bn")).arg("-o").arg(&dir).args(["--layers", "conv1,relu1"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bin = std::fs::read(dir.join("relu1.bin")).unwrap();
    assert_eq!(bin.len(), 1000 * 6 * 6 * 4 * 4);
    // QKeras's own relu1 output for the first 32 samples, bit for bit.
    let gold = qkhw::npy::read_f32(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/predict/cnn_bn/layer_03_relu1.npy")).unwrap();
    let ours: Vec<f32> = bin.chunks(4).take(gold.data.len()).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    assert_eq!(ours, gold.data);
    assert!(dir.join("conv1.codes.npy").exists() && !dir.join("dense.bin").exists());
    let o = qkhw().arg("dump").arg(model("cnn_bn.keras")).arg("--input").arg(golden_inputs("cnn_bn")).arg("-o").arg(&dir).args(["--layers", "nope"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));

    let plots = tmp("plots");
    let o = qkhw().arg("debug").arg(model("jet_tagger.keras")).arg("--input").arg(golden_inputs("jet_tagger")).arg("--plot").arg(&plots).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = String::from_utf8(o.stdout).unwrap();
    let relu1 = report.lines().find(|l| l.starts_with("relu1")).unwrap();
    // quantized_relu(6): outputs in [0, 63/64], and some inputs saturate.
    assert!(relu1.contains("ufixed<6,0>"), "{relu1}");
    let sat: usize = relu1.split_whitespace().find(|w| w.contains("/64000")).unwrap().split('/').next().unwrap().parse().unwrap();
    assert!(sat > 0 && sat < 64000, "{relu1}");
    let svg = std::fs::read_to_string(plots.join("relu1.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("relu1"));
}

/// A model with two inputs: `--input NAME=FILE` in any order, or in model
/// order; the outputs are QKeras's (golden data); clear errors otherwise.
#[test]
fn predict_takes_several_inputs_by_name_or_order() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/predict/two_inputs");
    let (img, feat) = (dir.join("inputs.npy"), dir.join("inputs.1.npy"));
    let want = qkhw::npy::read_f32(&dir.join("outputs.npy")).unwrap();
    let by_name = [format!("features={}", feat.display()), format!("image={}", img.display())];
    let in_order = [img.display().to_string(), feat.display().to_string()];
    for (k, pair) in [by_name, in_order].iter().enumerate() {
        let out = tmp(&format!("two_{k}.npy"));
        let o = qkhw().arg("predict").arg(model("two_inputs.keras")).args(["--input", &pair[0], "--input", &pair[1]]).arg("--output").arg(&out).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let y = qkhw::npy::read_f32(&out).unwrap();
        assert_eq!(y.shape, want.shape);
        assert!(y.data.iter().zip(&want.data).all(|(a, b)| a.to_bits() == b.to_bits()), "case {k}");
        // Each input's format is named (only the first one's was).
        let said = String::from_utf8_lossy(&o.stdout);
        assert!(said.contains("inputs `image` at fixed<") && said.contains(", `features` at fixed<"), "{said}");
    }
    let run = |args: &[String]| {
        let mut c = qkhw();
        c.arg("predict").arg(model("two_inputs.keras")).arg("--output").arg(tmp("two_bad.npy"));
        for a in args {
            c.args(["--input", a]);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        String::from_utf8(o.stderr).unwrap()
    };
    let e = run(&[img.display().to_string()]);
    assert!(e.contains("no array for input `features` (give --input features=FILE.npy)"), "{e}");
    let e = run(&[format!("image={}", img.display()), format!("image={}", img.display())]);
    assert!(e.contains("input `image` given twice"), "{e}");
    let e = run(&[img.display().to_string(), feat.display().to_string(), feat.display().to_string()]);
    assert!(e.contains("the model has 2 inputs (image, features)"), "{e}");
    let e = run(&[feat.display().to_string(), img.display().to_string()]);
    assert!(e.contains("input `image`: inputs of shape [256, 5]"), "{e}");
    // The hardware targets take one array per input, by name or in order.
    let o = qkhw().arg("gen").arg(model("two_inputs.keras")).args(["--target", "c", "-o"]).arg(tmp("two_c")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let h = std::fs::read_to_string(tmp("two_c").join("two_inputs.h")).unwrap();
    assert!(h.contains("void two_inputs_infer(const int8_t *in_image, const int8_t *in_features, int16_t *out);"), "{h}");
    let verify = |args: &[String]| {
        let mut c = qkhw();
        c.arg("verify").arg(model("two_inputs.keras")).args(["--target", "c", "--random", "10"]);
        for a in args {
            c.arg("--input").arg(a);
        }
        c.output().unwrap()
    };
    let o = verify(&[format!("features={}", feat.display()), format!("image={}", img.display())]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("266 samples: all equal to the golden model"), "{}", String::from_utf8_lossy(&o.stdout));
    let o = verify(&[img.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no array for input `features`"), "{}", String::from_utf8_lossy(&o.stderr));
    // An image laid out channels first has the right element count but not
    // the model's shape: refused, not reinterpreted (verify took it).
    let x = qkhw::npy::read_f32(&img).unwrap();
    let cf = tmp("two_cf.npy");
    std::fs::write(&cf, qkhw::npy::encode_f32(&[x.shape[0], 1, 6, 6], &x.data)).unwrap();
    let o = verify(&[format!("image={}", cf.display()), format!("features={}", feat.display())]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("input `image`: inputs of shape [256, 1, 6, 6]: the model takes (batch, 6, 6, 1)"), "{}", String::from_utf8_lossy(&o.stderr));
    // A name that is no input is said to be one (it was read as a file name).
    let o = verify(&[format!("imgs={}", img.display()), format!("features={}", feat.display())]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the model has no input `imgs` (its inputs, in model order: image, features)"), "{}", String::from_utf8_lossy(&o.stderr));
}

/// With an input quantizer, `predict` takes the float32 inputs exactly
/// and says what the quantizer rounds them to; it used to print the raw
/// batch's format as the quantizer's, "the same as the hardware's".
#[test]
fn predict_names_the_input_quantizers_format() {
    let x = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/predict/act_alpha/inputs.npy");
    let o = qkhw().arg("predict").arg(model("act_alpha.keras")).arg("--input").arg(&x).arg("--output").arg(tmp("alpha_y.npy")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    let line = out.lines().find(|l| l.starts_with("input format")).unwrap();
    assert!(line.contains("held exactly") && line.contains("the model's input quantizer then rounds it to fixed<8,3>, the hardware's input format"), "{line}");
    assert!(!line.contains("the same as the hardware's"), "{line}");
}

#[test]
fn quantize_mixes_with_qnoise_factor_but_gives_no_codes() {
    let x = [-1.0f32, -0.3, 0.0, 0.3, 0.9];
    let inp = tmp("xq.npy");
    std::fs::write(&inp, qkhw::npy::encode_f32(&[5], &x)).unwrap();
    let out = tmp("yq.npy");
    let st = qkhw().args(["quantize", "quantized_bits(4,0,1,qnoise_factor=0.5)", "--input"]).arg(&inp).arg("--output").arg(&out).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    // x + 0.5 * (xq - x): -0.875 -> -0.9375, -0.25 -> -0.275, 0.25 -> 0.275, 0.875 -> 0.8875
    let y = qkhw::npy::read_f32(&out).unwrap().data;
    assert_eq!(y, [-0.9375, -0.275, 0.0, 0.275, 0.8875]);
    let (out2, codes) = (tmp("yq2.npy"), tmp("cq2.npy"));
    let st = qkhw()
        .args(["quantize", "quantized_bits(4,0,1,qnoise_factor=0.5)", "--input"])
        .arg(&inp)
        .arg("--output")
        .arg(&out2)
        .arg("--codes")
        .arg(&codes)
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&st.stderr).contains("not a grid of integer codes"));
    assert!(!out2.exists() && !codes.exists(), "nothing written");
}

/// Inputs too wide to hold exactly (1e-30 and 1e10 together: 140 bits)
/// are taken through the model's input quantizer, as the hardware takes
/// them, instead of refused; and where QKeras's own quantizer loses its
/// value (float32 `x + (-x + xq)` at 1e10 is 0, not the saturated xq) a
/// notice names the input. Both found by a held-out cross-check.
#[test]
fn huge_inputs_go_through_the_input_quantizer() {
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/predict/jet_tagger_da");
    let x = qkhw::npy::read_f32(&golden.join("inputs.npy")).unwrap();
    let mut data = x.data[..4 * 16].to_vec();
    let run = |data: &[f32], name: &str| {
        let (inp, out) = (tmp(&format!("{name}.in.npy")), tmp(&format!("{name}.y.npy")));
        std::fs::write(&inp, qkhw::npy::encode_f32(&[4, 16], data)).unwrap();
        let o = qkhw().arg("predict").arg(model("jet_tagger_da.keras")).arg("--input").arg(&inp).arg("--output").arg(&out).output().unwrap();
        assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
        (qkhw::npy::read_f32(&out).unwrap().data, String::from_utf8_lossy(&o.stderr).to_string())
    };
    let (plain, note) = run(&data, "plain");
    assert!(!note.contains("so large"), "{note}");
    data[3] = 1e-30;
    data[5] = 1e10;
    let (wide, note) = run(&data, "wide");
    assert!(note.contains("input `input_1`: 1 value is so large") || note.contains("1 value is so large"), "{note}");
    assert!(note.contains("x = 10000000000, QKeras 0 where xq = 0.984375"), "{note}");
    // The input quantizer (ufixed<6,0>) takes 1e-30 to 0 and 1e10 to 63/64.
    data[3] = 0.0;
    data[5] = 63.0 / 64.0;
    let (same, _) = run(&data, "rounded");
    assert_eq!(wide, same);
    assert_eq!(wide[5..], plain[5..], "the other samples are untouched");
    // Infinity: QKeras's float32 inf + (-inf + xq) is NaN; the hardware
    // saturates it, and the notice says so (it was silent).
    data[5] = f32::INFINITY;
    let (inf, note) = run(&data, "inf");
    assert!(note.contains("x = inf, QKeras NaN where the hardware saturates it"), "{note}");
    assert_eq!(inf, same, "inf saturates to the largest code, as 1e10 does");
}

/// A run stopped by a signal to its process group (Ctrl-C in a terminal,
/// `timeout`) removes its scratch folders and exits 130: a cross-check's
/// `timeout 900` of an Icarus verify left its simulation folder and its
/// design folder in $TMPDIR.
#[test]
fn an_interrupted_verify_leaves_no_scratch_folders() {
    use std::os::unix::process::CommandExt;
    assert!(Command::new("iverilog").arg("-V").output().is_ok_and(|o| o.status.success()), "iverilog is required (scripts/test.sh installs it)");
    let scratch = tmp("interrupted");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/jet_tagger_da.keras");
    let child = qkhw()
        .args(["verify"])
        .arg(&model)
        .args(["--target", "verilog", "--sim", "iverilog", "--random", "1000000"])
        .env("TMPDIR", &scratch)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let ours = || -> Vec<String> { std::fs::read_dir(&scratch).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with("qkhw-")).collect() };
    let t = std::time::Instant::now();
    while !ours().iter().any(|n| n.starts_with("qkhw-iv-")) {
        assert!(t.elapsed().as_secs() < 300, "no simulation folder appeared: {:?}", ours());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let st = Command::new("kill").args(["-TERM", "--", &format!("-{}", child.id())]).status().unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ours(), Vec::<String>::new(), "left in $TMPDIR");
}
