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
    "jet_tagger", "jet_tagger_da", "kernel_variants", "po2_mlp", "pooling", "two_heads", "zoo_conv1d", "zoo_conv2d", "zoo_hswish", "conv_transpose_pad", "act_alpha", "const_outputs", "two_inputs", "avg_divide", "avg_merge", "stream_cnn", "stream_resnet", "rnn_simple", "rnn_lstm", "rnn_gru", "rnn_bilstm", "zoo_rnn", "dscnn_bn", "stream_two_images",
];

#[test]
fn every_model_in_vitis_csim_equals_the_golden_model() {
    every_model_in_csim(Flavor::Vitis, 0);
}

/// The other half of the Vitis models (two tests, so both cores work).
#[test]
fn every_other_model_in_vitis_csim_equals_the_golden_model() {
    every_model_in_csim(Flavor::Vitis, 1);
}

/// Catapult: every other model (the same body as Vitis's with ac_types;
/// every model with QKHW_LONG=1).
#[test]
fn every_model_in_catapult_csim_equals_the_golden_model() {
    every_model_in_csim(Flavor::Catapult, 0);
    if common::long() {
        every_model_in_csim(Flavor::Catapult, 1);
    }
}

/// Every other model of `MODELS`, from `first`, C-simulated in `flavor`.
fn every_model_in_csim(flavor: Flavor, first: usize) {
    common::require("g++");
    let cache = common::root().join("target").join("qkhw-cache");
    for name in MODELS.iter().skip(first).step_by(2) {
        let g = qkhw::load_graph(common::root().join(format!("examples/models/{name}.keras")), BuildOptions::default()).unwrap();
        let (plan, _) = qkhw::golden::hardware_plan(&g, None, &Default::default()).unwrap();
        let files = qkhw::backend::hls::generate(&g, &plan, "test", qkhw::quant::InternalSigmoid::Hard, flavor).unwrap();
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

/// Folded Dense layers (hls4ml's Resource strategy: a reuse loop pipelined
/// at II 1 around an unrolled block of ceil(N/R) multiplies) C-simulate
/// bit-exact in both flavors: every layer at several reuse factors
/// (including one that does not divide N, and rows > 1: a recurrent
/// layer's input projection), per-layer factors from `--config`, and
/// convolutions (strides, dilation, padding) and depthwise convolutions
/// (multipliers 1 and 2) over their windows.
#[test]
fn folded_dense_layers_in_csim_equal_the_golden_model() {
    common::require("g++");
    let cache = common::root().join("target").join("qkhw-cache");
    let cfg = qkhw::passes::config::Config::parse("[layer.fc1]\nreuse_factor = 7\n[layer.fc2]\nstrategy = \"latency\"\n[layer.fc3]\nreuse_factor = 32\n").unwrap();
    let cases: Vec<(&str, Option<usize>, qkhw::passes::config::Config)> = vec![
        ("jet_tagger", Some(4), Default::default()),
        ("jet_tagger", Some(64), Default::default()),
        ("jet_tagger", None, cfg),
        ("rnn_simple", Some(3), Default::default()),
        ("cnn_bn", Some(5), Default::default()),
        ("zoo_conv2d", Some(3), Default::default()),
        ("dscnn_bn", Some(5), Default::default()),
        // Output positions at once (conv1 5, the depthwise dw1 3).
        ("cnn_bn", None, qkhw::passes::config::Config::parse(&std::fs::read_to_string(common::root().join("examples/configs/cnn_bn_parallel.toml")).unwrap()).unwrap()),
    ];
    // Every case in Vitis; Catapult (the same loops, its own pragmas) on two.
    for flavor in [Flavor::Vitis, Flavor::Catapult] {
        for (name, reuse, cfg) in cases.iter().filter(|c| flavor == Flavor::Vitis || matches!((c.0, c.1), ("jet_tagger", Some(4)) | ("cnn_bn", _))) {
            let g = qkhw::load_graph(common::root().join(format!("examples/models/{name}.keras")), BuildOptions::default()).unwrap();
            let (plan, _) = qkhw::golden::hardware_plan(&g, None, cfg).unwrap();
            let sched = qkhw::arch::schedule::schedule(&plan, *reuse, cfg);
            let folded: Vec<usize> =
                sched.nodes.iter().filter_map(|n| n.arch.first_fold()).collect();
            assert!(!folded.is_empty(), "{name}: nothing folded");
            let files = qkhw::backend::hls::generate_scheduled(&g, &plan, "test", qkhw::quant::InternalSigmoid::Hard, flavor, &sched, None).unwrap();
            let src = &files[1].1;
            let hls_folds = sched.nodes.iter().filter(|n| n.arch.first_fold().is_some() && matches!(plan.steps[n.first].op, qkhw::plan::StepOp::Dense { .. } | qkhw::plan::StepOp::Conv { .. } | qkhw::plan::StepOp::Depthwise { .. })).count();
            assert!(hls_folds > 0, "{name}");
            assert_eq!(src.matches("hls4ml's Resource strategy").count(), hls_folds, "{name} {flavor}");
            let at_once = sched.nodes.iter().filter(|n| matches!(n.arch, qkhw::arch::schedule::Arch::Folded { parallel, .. } if parallel > 1)).count();
            assert_eq!(src.matches("rows (output positions) at once").count(), at_once, "{name} {flavor}");
            match flavor {
                Flavor::Vitis => assert!(src.contains("#pragma HLS ARRAY_RESHAPE") && src.contains("#pragma HLS PIPELINE II=1"), "{name}"),
                Flavor::Catapult => assert!(!src.contains("#pragma HLS") && src.contains("#pragma hls_pipeline_init_interval 1\n        for (size_t ir"), "{name}"),
            }
            let (codes, n) = common::vectors(&g, name, 300, 7);
            let stem = files[0].0.trim_end_matches(".h").to_string();
            let r = verify::verify_hls(&files, &stem, flavor, &plan, &codes, n, &common::tmp(&format!("hls-fold-{flavor}-{name}-{reuse:?}")), &cache).unwrap();
            assert!(r.passed(), "{name} {flavor} reuse {reuse:?}: {}", r.text());
        }
    }
}

/// The streaming architecture in HLS (`--io stream`): the stages as a
/// dataflow design of `hls::stream` / `ac_channel` functions (line
/// buffers, forks, joins with the Verilog's FIFO depths, collectors and
/// accumulators), run by the testbench beside the array top: equal to the
/// golden model in both flavors. A line buffer one row short is caught.
#[test]
fn streaming_designs_in_csim_equal_the_golden_model() {
    common::require("g++");
    let cache = common::root().join("target").join("qkhw-cache");
    let unrolled = |plan: &qkhw::plan::Plan| qkhw::arch::schedule::schedule(plan, None, &Default::default());
    // zoo_conv1d, conv_bn_folded and two_inputs (a 10 s compile each)
    // with QKHW_LONG=1: cnn_bn and dscnn_bn stream convolutions with
    // batch norm, stream_two_images two inputs.
    let long: &[&str] = &["cnn_bn", "stream_cnn", "stream_resnet", "dscnn_bn", "zoo_conv1d", "conv_bn_folded", "two_inputs", "stream_two_images", "avg_divide"];
    let default: &[&str] = &["cnn_bn", "stream_cnn", "stream_resnet", "dscnn_bn", "stream_two_images", "avg_divide"];
    let all = if common::long() { long } else { default };
    for (flavor, names) in [(Flavor::Vitis, all), (Flavor::Catapult, &["cnn_bn", "stream_resnet", "stream_two_images"][..])] {
        for &name in names {
            let g = qkhw::load_graph(common::root().join(format!("examples/models/{name}.keras")), BuildOptions::default()).unwrap();
            let (plan, _) = qkhw::golden::hardware_plan(&g, None, &Default::default()).unwrap();
            let files = qkhw::backend::hls::generate_scheduled(&g, &plan, "test", qkhw::quant::InternalSigmoid::Hard, flavor, &unrolled(&plan), Some(qkhw::backend::hls::StreamFolds { reuse: None, config: &Default::default() })).unwrap();
            let src = &files[1].1;
            assert!(src.contains("_dataflow(") && src.contains("_stream_run("), "{name}");
            if flavor == Flavor::Vitis {
                assert!(src.contains("#pragma HLS DATAFLOW"), "{name}");
            }
            let (codes, n) = common::vectors(&g, name, 200, 9);
            let stem = files[0].0.trim_end_matches(".h").to_string();
            let r = verify::verify_hls(&files, &stem, flavor, &plan, &codes, n, &common::tmp(&format!("hls-stream-{flavor}-{name}")), &cache).unwrap();
            assert!(r.passed(), "{name} {flavor}: {}", r.text());
        }
    }
    // Stages folded as the Verilog's (hls4ml's Resource loops inside the beat loops).
    let g = qkhw::load_graph(common::root().join("examples/models/stream_resnet.keras"), BuildOptions::default()).unwrap();
    let (plan, _) = qkhw::golden::hardware_plan(&g, None, &Default::default()).unwrap();
    let files = qkhw::backend::hls::generate_scheduled(&g, &plan, "test", qkhw::quant::InternalSigmoid::Hard, Flavor::Vitis, &unrolled(&plan), Some(qkhw::backend::hls::StreamFolds { reuse: Some(4), config: &Default::default() })).unwrap();
    assert!(files[1].1.matches("hls4ml's Resource strategy").count() >= 5 && files[1].1.contains("#pragma HLS PIPELINE II=1 rewind"));
    let (codes, n) = common::vectors(&g, "stream_resnet", 100, 9);
    let r = verify::verify_hls(&files, "stream_resnet", Flavor::Vitis, &plan, &codes, n, &common::tmp("hls-stream-folded"), &cache).unwrap();
    assert!(r.passed(), "folded stream_resnet: {}", r.text());
    // Mutant: stream_resnet's first line buffer keeps 2 rows of a 3x3 window.
    let g = qkhw::load_graph(common::root().join("examples/models/stream_resnet.keras"), BuildOptions::default()).unwrap();
    let (plan, _) = qkhw::golden::hardware_plan(&g, None, &Default::default()).unwrap();
    let mut files = qkhw::backend::hls::generate_scheduled(&g, &plan, "test", qkhw::quant::InternalSigmoid::Hard, Flavor::Vitis, &unrolled(&plan), Some(qkhw::backend::hls::StreamFolds { reuse: None, config: &Default::default() })).unwrap();
    let src = files[1].1.clone();
    let at = src.find("lb[3]").expect("a 3-row line buffer");
    files[1].1 = format!("{}lb[2]{}", &src[..at], &src[at + 5..].replacen("% 3]", "% 2]", 2));
    let (codes, n) = common::vectors(&g, "stream_resnet", 50, 9);
    // The testbench sees the streaming design disagree with the array top.
    match verify::verify_hls(&files, "stream_resnet", Flavor::Vitis, &plan, &codes, n, &common::tmp("hls-stream-mutant"), &cache) {
        Ok(r) => assert!(!r.passed(), "a line buffer one row short went unnoticed"),
        Err(e) => assert!(e.to_string().contains("streaming design"), "{e}"),
    }
}

/// Values wider than 64 bits inside the datapath (cnn_bn's batch norm on
/// 40-bit inputs) are 128-bit `ap_int` / `ac_int` in HLS: C-simulated
/// bit-exact in both flavors, array top and streaming design. (Before, the
/// model was refused; the requantizer's `long long` cast of its input would
/// also have cut the high bits.)
#[test]
fn wide_values_inside_run_as_128_bit_integers() {
    common::require("g++");
    let cache = common::root().join("target").join("qkhw-cache");
    let g = qkhw::load_graph(common::root().join("examples/models/cnn_bn.keras"), BuildOptions::default()).unwrap();
    let fmt: qkhw::fxp::InputFormat = "fixed<40,10>".parse().unwrap();
    let (plan, _) = qkhw::golden::hardware_plan(&g, Some(fmt), &Default::default()).unwrap();
    assert!(plan.max_width > 64, "{}", plan.max_width);
    let sched = qkhw::arch::schedule::schedule(&plan, None, &Default::default());
    let codes = qkhw::verify::random_inputs(&plan, 300, 4);
    for (flavor, stream) in [(Flavor::Vitis, true), (Flavor::Catapult, false)] {
        let folds = qkhw::backend::hls::StreamFolds { reuse: None, config: &Default::default() };
        let files = qkhw::backend::hls::generate_scheduled(&g, &plan, "test", qkhw::quant::InternalSigmoid::Hard, flavor, &sched, stream.then_some(folds)).unwrap();
        assert!(files[0].1.contains("typedef") && files[1].1.contains("qkhw_wide"), "{flavor}");
        let r = verify::verify_hls(&files, "cnn_bn", flavor, &plan, &codes, 300, &common::tmp(&format!("hls-wide-{flavor}")), &cache).unwrap();
        assert!(r.passed(), "{flavor}: {}", r.text());
    }
    // A wide value requantized without dropping bits, wrapped and
    // saturated, into a narrower buffer (found in review: the two-word wrap
    // computed `%` on a signed difference in ap_int/ac_int, 200 of 200
    // samples wrong; Catapult did not compile the narrowing store).
    let g = qkhw::load_graph(common::root().join("examples/models/jet_tagger.keras"), BuildOptions::default()).unwrap();
    for overflow in ["wrap", "saturate"] {
        let cfg = qkhw::passes::config::Config::parse(&format!("[layer.fc1]\noutput = \"fixed<60,8>\"\noverflow = \"{overflow}\"\n")).unwrap();
        let (plan, _) = qkhw::golden::hardware_plan(&g, Some(fmt), &cfg).unwrap();
        let sched = qkhw::arch::schedule::schedule(&plan, None, &cfg);
        let codes = qkhw::verify::random_inputs(&plan, 200, 5);
        for flavor in [Flavor::Vitis, Flavor::Catapult] {
            let files = qkhw::backend::hls::generate_scheduled(&g, &plan, "test", qkhw::quant::InternalSigmoid::Hard, flavor, &sched, None).unwrap();
            assert!(files[1].1.contains("qkhw_narrow("), "{overflow} {flavor}");
            let r = verify::verify_hls(&files, "jet_tagger", flavor, &plan, &codes, 200, &common::tmp(&format!("hls-wide-{overflow}-{flavor}")), &cache).unwrap();
            assert!(r.passed(), "{overflow} {flavor}: {}", r.text());
        }
    }
}

/// An output wider than 64 bits has no C type at the HLS ports: refused,
/// naming the model output that is too wide. With several outputs joined
/// into one port it named the joined step, `outputs`, a layer the model
/// does not have (a cross-check's two-output model).
#[test]
fn a_wide_output_is_refused_by_its_own_name() {
    let d = common::tmp("hls-wide");
    let cfg = d.join("wide.toml");
    std::fs::write(&cfg, "[layer.out_a]\noutput = \"fixed<70,10>\"\n").unwrap();
    let out = d.join("design");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_qkhw"))
        .args(["gen", &common::root().join("examples/models/two_heads.keras").to_string_lossy(), "--target", "hls", "--config"])
        .arg(&cfg)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("layer `out_a`") && e.contains("wider than 64 bits"), "{e}");
    assert!(!out.exists());
}

/// The fixed-point types are precompiled once per cache, flavor and
/// `AP_INT_MAX_W` (about 2 s of every C-simulation's compile), and a
/// C-simulation through the precompiled header still equals the golden
/// model; a `.gch` g++ cannot use (here: not one at all) falls back to
/// the header's text.
#[test]
fn the_fixed_point_types_are_precompiled_once() {
    common::require("g++");
    let shared = common::root().join("target").join("qkhw-cache");
    let cache = common::tmp("hls-pch-cache");
    let _ = std::fs::remove_dir_all(&cache);
    std::fs::create_dir_all(&cache).unwrap();
    for flavor in [Flavor::Vitis, Flavor::Catapult] {
        let inc = qkhw::verify::hls::headers(&shared, flavor).unwrap();
        std::os::unix::fs::symlink(&inc, cache.join(inc.file_name().unwrap())).unwrap();
    }
    let g = qkhw::load_graph(common::root().join("examples/models/jet_tagger.keras"), BuildOptions::default()).unwrap();
    let (plan, _) = qkhw::golden::hardware_plan(&g, None, &Default::default()).unwrap();
    let codes = qkhw::verify::random_inputs(&plan, 100, 3);
    // The one folder of each flavor's header, whatever the compiler's key.
    let pch = |types: &str, w: u32| {
        let prefix = format!("pch-{types}-{}-w{w}-gxx", &qkhw::verify::hls::WHEEL_SHA256[..16]);
        let dirs: Vec<_> = std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().path()).filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&prefix)).collect();
        assert!(dirs.len() <= 1, "{dirs:?}");
        dirs.first().map(|d| d.join("qkhw_csim.h.gch")).unwrap_or_else(|| cache.join(&prefix))
    };
    for (flavor, types, w) in [(Flavor::Vitis, "ap_types", 1024), (Flavor::Catapult, "ac_types", 0)] {
        let files = qkhw::backend::hls::generate(&g, &plan, "test", qkhw::quant::InternalSigmoid::Hard, flavor).unwrap();
        for round in 0..2 {
            let r = verify::verify_hls(&files, "jet_tagger", flavor, &plan, &codes, 100, &common::tmp(&format!("hls-pch-{flavor}")), &cache).unwrap();
            assert!(r.passed(), "{flavor}: {}", r.text());
            let gch = pch(types, w);
            if round == 0 {
                assert!(std::fs::metadata(&gch).is_ok_and(|m| m.len() > 1 << 20), "{flavor}: {}", gch.display());
                std::fs::write(&gch, "not a precompiled header").unwrap();
            }
        }
    }
}
