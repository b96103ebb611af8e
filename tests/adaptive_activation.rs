//! QAdaptiveActivation, read as the quantizer its saved moving averages
//! define (src/ir/adaptive.rs), against QKeras's in-memory predictions
//! (tests/golden/gen_adaptive.py: QKeras cannot reload the file).

use std::path::PathBuf;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/adaptive").join(name)
}

#[test]
fn frozen_adaptive_activations_predict_what_qkeras_predicts() {
    let g = qkhw::load_graph(golden("frozen.keras"), Default::default()).unwrap();
    let x = qkhw::npy::read_f32(&golden("inputs.npy")).unwrap();
    let want = qkhw::npy::read_f32(&golden("outputs.npy")).unwrap();
    let opts = qkhw::golden::PredictOptions::default();
    let p = qkhw::golden::predict_inputs(&g, &[(&x.data, &x.shape)], &opts).unwrap();
    let got = p.output_f32(0);
    assert_eq!(got.len(), want.data.len());
    let bad = got.iter().zip(&want.data).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
    assert_eq!(bad, 0, "{bad} of {} outputs differ from QKeras", want.data.len());
    // Each layer is the quantizer of its averages: the integer bits QKeras
    // printed when it made the file (3, 3, 3).
    for (name, spec) in [
        ("relu_a", "quantized_relu(6,3,negative_slope=0,is_quantized_clip=False)"),
        ("leaky_a", "quantized_relu(5,3,negative_slope=0.25,is_quantized_clip=False)"),
        ("bits_a", "quantized_bits(6,3,symmetric=0,keep_negative=True,alpha=1.0)"),
    ] {
        let l = g.layers.iter().find(|l| l.name == name).unwrap();
        let qkhw::ir::Activation::Quantized(q) = &l.activation else { panic!("{name}: {:?}", l.activation) };
        assert_eq!(q.spec, spec, "{name}");
    }
}

#[test]
fn moving_averages_are_refused_with_the_reason() {
    let g = qkhw::load_graph(golden("moving.keras"), Default::default()).unwrap();
    let e = qkhw::plan::plan(&g, qkhw::plan::InputSpec::full(qkhw::fxp::FixedFormat { width: 16, frac: 10, signed: true }))
        .expect_err("a moving QAdaptiveActivation is refused")
        .to_string();
    assert!(e.contains("layer `relu_a`") && e.contains("still move under predict") && e.contains("ema_freeze_delay 1000"), "{e}");
}
