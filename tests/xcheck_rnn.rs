//! Recurrent models written apart from qkhw by a cross-check session
//! (tests/golden/gen_xcheck_rnn.py: 17 small QKeras models, 300 inputs
//! each, QKeras's `model.predict`): every one qkhw takes equals QKeras on
//! every output value, and its generated C (UBSan) equals the golden model;
//! the five GRUs whose cells need more than float32's 24 significant bits
//! (with 8-bit inputs and states, r·(h·U) has 26 to 27) are refused naming
//! the layer. This batch found the C backend failing to compile a GRU with
//! a zero recurrent bias (a zero constant shifted its merge by 64 bits); a
//! later batch found a QGRU of one unit (reset_after=False) panicking: its
//! one-row recurrent kernel lost an axis (a17).

mod common;

use qkhw::golden::{predict, PredictOptions};
use qkhw::ir::BuildOptions;

const REFUSED: &[&str] = &["a06_gru_ra", "a07_gru_nra_nobias", "a09_bi_gru_sum", "a11_bi_gru_ave", "a12_stack_lstm_gru"];
/// LSTM outputs o·q(c) where QKeras gives −0.0 (q rounds a small negative
/// to −0.0) and qkhw's code 0 is +0.0: equal values, other sign bit.
const SIGNED_ZEROS: &[(&str, usize)] = &[("a04_lstm_nobias", 47), ("a05_lstm_qsig_seq", 171)];

#[test]
fn cross_check_recurrent_models_equal_qkeras_or_are_refused_for_float32() {
    common::require("gcc");
    let dir = common::root().join("tests/golden/xcheck_rnn");
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let names: Vec<&String> = meta.as_object().unwrap().keys().collect();
    assert_eq!(names.len(), 17);
    let mut taken = 0;
    for name in names {
        let g = qkhw::load_graph(dir.join(format!("{name}.keras")), BuildOptions::default()).unwrap();
        let x = qkhw::npy::read_f32(&dir.join(format!("{name}.x.npy"))).unwrap();
        let y = qkhw::npy::read_f32(&dir.join(format!("{name}.y.npy"))).unwrap();
        let p = predict(&g, &x.data, &x.shape, &PredictOptions::default());
        if REFUSED.contains(&name.as_str()) {
            let e = p.err().unwrap_or_else(|| panic!("{name}: taken")).to_string();
            assert!(e.contains("significant bits") && e.contains("float32 (24)") && e.contains("layer `"), "{name}: {e}");
            continue;
        }
        let p = p.unwrap_or_else(|e| panic!("{name}: {e}"));
        let ours = p.output_f32(0);
        assert_eq!(ours.len(), y.data.len(), "{name}");
        let equal = ours.iter().zip(&y.data).filter(|(a, b)| a == b).count();
        assert_eq!(equal, y.data.len(), "{name}: values equal to QKeras");
        let signs = ours.iter().zip(&y.data).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
        let want = SIGNED_ZEROS.iter().find(|s| s.0 == name).map_or(0, |s| s.1);
        assert_eq!(signs, want, "{name}: zeros of the other sign");
        // `predict` says so where it can happen (cross-check batch 16).
        assert!(want == 0 || qkhw::golden::signed_zero_outputs(&g).len() == 1, "{name}: output not named");
        // The C target on the same inputs (through the input quantizer).
        let (m, plan, _) = qkhw::backend::c::from_graph(&g, None, &Default::default(), "test", qkhw::quant::InternalSigmoid::Hard).unwrap();
        let (each, _) = qkhw::golden::hardware_inputs(&g, None, &Default::default()).unwrap();
        let codes = qkhw::golden::hardware_codes(&x.data, &x.shape, &each[0].0, each[0].1.as_ref()).unwrap();
        let r = qkhw::verify::verify_c(&m, &plan, &codes, x.shape[0], &common::tmp(&format!("xrnn-{name}"))).unwrap();
        assert!(r.passed(), "{name}: {}", r.text());
        taken += 1;
    }
    assert_eq!(taken, 12);
}

/// `predict` says where QKeras's float32 product can be −0.0 and its own
/// +0.0 (an LSTM's o·q(c) as the output; cross-check batch 16 found it
/// unsaid), and only there.
#[test]
fn predict_names_outputs_where_qkeras_gives_negative_zeros() {
    let dir = common::root().join("tests/golden/xcheck_rnn");
    let out = common::tmp("xrnn-signed-zero");
    std::fs::create_dir_all(&out).unwrap();
    for (name, said) in [("a04_lstm_nobias", true), ("a02_srnn_seq_back", false)] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_qkhw"))
            .arg("predict")
            .arg(dir.join(format!("{name}.keras")))
            .arg("--input")
            .arg(dir.join(format!("{name}.x.npy")))
            .arg("-o")
            .arg(out.join(format!("{name}.npy")))
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{name}: {e}");
        assert_eq!(e.contains("QKeras can give -0.0"), said, "{name}: {e}");
    }
}
