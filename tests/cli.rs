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
