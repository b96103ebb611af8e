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
