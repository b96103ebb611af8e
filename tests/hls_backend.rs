//! The HLS C++ backend in both flavors: every example model the golden
//! model runs is generated and C-simulated with g++ against the open-source
//! ap_types (Vitis) and ac_types (Catapult) headers (from the pinned hls4ml
//! wheel, checksum-verified), through both the array top and the AXI-Stream
//! top, equal to the golden model on its golden inputs plus 10,000 random
//! input codes.

mod common;

use qkhw::backend::hls::Flavor;
use qkhw::ir::BuildOptions;
use qkhw::verify;

const MODELS: &[&str] = &[
    "auto_po2_mlp", "binary_ternary", "bn_variants", "cnn_bn", "conv_bn_folded", "dense_bn_folded", "dense_relu_tail", "functional_add", "index_layers", "merges", "merges_conv",
    "jet_tagger", "jet_tagger_da", "kernel_variants", "po2_mlp", "pooling", "two_heads", "zoo_conv1d", "zoo_conv2d", "zoo_hswish", "conv_transpose_pad", "act_alpha", "const_outputs", "two_inputs", "avg_divide", "avg_merge", "stream_cnn", "stream_resnet", "rnn_simple", "rnn_lstm", "rnn_gru", "rnn_bilstm", "zoo_rnn", "dscnn_bn",
];

#[test]
fn every_model_in_vitis_csim_equals_the_golden_model() {
    every_model_in_csim(Flavor::Vitis);
}

#[test]
fn every_model_in_catapult_csim_equals_the_golden_model() {
    every_model_in_csim(Flavor::Catapult);
}

fn every_model_in_csim(flavor: Flavor) {
    common::require("g++");
    let cache = common::root().join("target").join("qkhw-cache");
    for name in MODELS {
        let g = qkhw::load_graph(common::root().join(format!("examples/models/{name}.keras")), BuildOptions::default()).unwrap();
        let (plan, _) = qkhw::golden::hardware_plan(&g, None, &Default::default()).unwrap();
        let files = qkhw::backend::hls::generate(&g, &plan, "test", "hard", flavor).unwrap();
        let src = &files[1].1;
        match flavor {
            // The other flavor's types (not any `ac_`/`ap_` in a name: `gap_q`).
            Flavor::Vitis => assert!(src.contains("#pragma HLS PIPELINE II=1") && !src.contains("ac_fixed") && !src.contains("ac_int"), "{name}"),
            Flavor::Catapult => assert!(src.contains("#pragma hls_pipeline_init_interval 1") && !src.contains("ap_fixed") && !src.contains("ap_int"), "{name}"),
        }
        let (codes, n) = common::vectors(&g, name, common::long_random(), 5);
        let stem = files[0].0.trim_end_matches(".h").to_string();
        let r = verify::verify_hls(&files, &stem, flavor, &plan, &codes, n, &common::tmp(&format!("hls-{flavor}-{name}")), &cache).unwrap();
        assert!(r.passed(), "{}", r.text());
    }
}
