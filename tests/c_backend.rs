//! The fixed-point C backend: every example model the golden model runs is
//! generated, compiled with `gcc -std=c99 -Wall -Wextra -Werror -pedantic
//! -fsanitize=undefined -fno-sanitize-recover=all` and equal to the golden
//! model on all its golden inputs plus 10,000 random input codes. A
//! corrupted constant is caught.

mod common;

use qkhw::backend::c;
use qkhw::ir::BuildOptions;
use qkhw::verify;

const MODELS: &[&str] = &[
    "auto_po2_mlp", "binary_ternary", "bn_variants", "cnn_bn", "conv_bn_folded", "dense_bn_folded", "dense_relu_tail", "functional_add", "index_layers", "merges", "merges_conv",
    "jet_tagger", "jet_tagger_da", "kernel_variants", "po2_mlp", "pooling", "two_heads", "zoo_conv1d", "zoo_conv2d", "zoo_hswish", "conv_transpose_pad", "act_alpha", "const_outputs", "two_inputs", "avg_divide", "avg_merge", "stream_cnn", "stream_resnet", "rnn_simple", "rnn_lstm", "rnn_gru", "rnn_bilstm", "zoo_rnn", "dscnn_bn", "stream_two_images",
];

#[test]
fn every_model_in_c_equals_the_golden_model_under_ubsan() {
    common::require("gcc");
    let mut lines = vec![];
    for name in MODELS {
        let g = qkhw::load_graph(common::root().join(format!("examples/models/{name}.keras")), BuildOptions::default()).unwrap();
        let (m, plan, _) = c::from_graph(&g, None, &Default::default(), "test", qkhw::quant::InternalSigmoid::Hard).unwrap();
        let (codes, n) = common::vectors(&g, name, common::long_random(), 99);
        let r = verify::verify_c(&m, &plan, &codes, n, &common::tmp(&format!("c-{name}"))).unwrap();
        assert!(r.passed(), "{}", r.text());
        assert!(n >= common::long_random() + 256);
        lines.push(format!("{name}: {n} samples equal"));
    }
    eprintln!("{}", lines.join("\n"));
}

#[test]
fn a_corrupted_constant_is_caught() {
    common::require("gcc");
    let g = qkhw::load_graph(common::root().join("examples/models/jet_tagger_da.keras"), BuildOptions::default()).unwrap();
    let (mut m, plan, _) = c::from_graph(&g, None, &Default::default(), "test", qkhw::quant::InternalSigmoid::Hard).unwrap();
    // The first weight of the second layer's kernel, plus one.
    let at = m.source.find("static const int8_t w").expect("a weight array");
    let at = at + m.source[at..].find('{').unwrap() + 1;
    let end = at + m.source[at..].find(',').unwrap();
    let v: i64 = m.source[at..end].trim().parse().unwrap();
    m.source = format!("{} {}{}", &m.source[..at], v + 1, &m.source[end..]);
    let (codes, n) = common::vectors(&g, "jet_tagger_da", 1_000, 99);
    let r = verify::verify_c(&m, &plan, &codes, n, &common::tmp("c-corrupt")).unwrap();
    assert!(!r.passed() && r.first.is_some(), "{}", r.text());
}

/// A recurrent layer is a loop over time in C and HLS, as in the Verilog:
/// one copy of each direction's cell, however long the sequence (its
/// results are checked with every model above and in `hls_backend.rs`).
/// Unrolled, the LSTM over 7 time steps was 1,517 lines of C.
#[test]
fn a_recurrent_layer_is_one_cell_in_a_loop_over_time() {
    // (model, directions of its recurrent layers, time steps, most lines)
    for (name, loops, t, most) in [("rnn_lstm", 1, 7, 400), ("rnn_gru", 2, 6, 650), ("rnn_bilstm", 4, 6, 900), ("zoo_rnn", 4, 5, 1_200)] {
        let g = qkhw::load_graph(common::root().join(format!("examples/models/{name}.keras")), BuildOptions::default()).unwrap();
        let (m, plan, _) = c::from_graph(&g, None, &Default::default(), "test", qkhw::quant::InternalSigmoid::Hard).unwrap();
        assert_eq!(m.source.matches(&format!("for (size_t ts = 0; ts < {t}; ++ts) {{")).count(), loops, "{name}");
        let lines = m.source.lines().count();
        assert!(lines <= most, "{name}: {lines} lines of C");
        // The steps the C writes out: a time step's, not every one's.
        let written = m.source.matches("/* step ").count();
        assert!(written * 3 < plan.steps.len(), "{name}: {written} of {} steps written", plan.steps.len());
        let hls = qkhw::backend::hls::generate(&g, &plan, "test", qkhw::quant::InternalSigmoid::Hard, qkhw::backend::hls::Flavor::Vitis).unwrap();
        let cpp = &hls.iter().find(|(f, _)| f == &format!("{name}.cpp")).unwrap().1;
        assert_eq!(cpp.matches(&format!("for (size_t ts = 0; ts < {t}; ++ts) {{")).count(), loops, "{name} (HLS)");
    }
}

/// A model with two outputs: one output array (port), the parts named in
/// the header and in interface.json at their offsets, in one format.
#[test]
fn several_outputs_are_one_array_with_named_parts() {
    let g = qkhw::load_graph(common::root().join("examples/models/two_heads.keras"), BuildOptions::default()).unwrap();
    let (m, plan, notes) = c::from_graph(&g, None, &Default::default(), "test", qkhw::quant::InternalSigmoid::Hard).unwrap();
    assert_eq!(plan.outputs.len(), 1);
    assert_eq!(plan.steps[plan.outputs[0]].shape, vec![5]);
    assert!(notes.iter().any(|n| n.contains("2 outputs") && n.contains("`out_a` [2] at 0, `out_b` [3] at 2")), "{notes:?}");
    for line in ["TWO_HEADS_OUT_OUT_A_OFFSET 0", "TWO_HEADS_OUT_OUT_A_SIZE 2", "TWO_HEADS_OUT_OUT_B_OFFSET 2", "TWO_HEADS_OUT_OUT_B_SIZE 3"] {
        assert!(m.header.contains(line), "{line} not in\n{}", m.header);
    }
    let (d, _, _) = qkhw::backend::verilog::from_graph(&g, None, &Default::default(), &Default::default()).unwrap();
    let parts: Vec<(String, usize)> = d.interface.output.parts.iter().map(|p| (p.name.clone(), p.offset)).collect();
    assert_eq!(parts, vec![("out_a".to_string(), 0), ("out_b".to_string(), 2)]);
    assert_eq!(d.interface.output.shape, vec![5]);
}
