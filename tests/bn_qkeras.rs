//! `--bn qkeras`: standalone QBatchNormalization layers as QKeras's
//! `model.predict` computes them in float32 (TensorFlow's x86-64 1/sqrt
//! included), against the golden data of `dscnn_bn` (a DS-CNN-like model
//! whose batch norms stand before quantized_relu(8,2), then an average pool
//! over 12 positions), in the golden model and in every target.

mod common;

use qkhw::backend::verilog::{self, files, Io, Options};
use qkhw::golden::{predict, Keep, PredictOptions};
use qkhw::ir::BuildOptions;
use qkhw::passes::config::{BnMode, Config};
use qkhw::verify::{self, DesignDir};

const DIR: &str = "tests/golden/predict/dscnn_bn";

fn model() -> qkhw::ir::Graph {
    qkhw::load_graph(common::root().join("examples/models/dscnn_bn.keras"), BuildOptions::default()).unwrap()
}

fn mode(bn: BnMode) -> Config {
    let mut c = Config::default();
    c.model.bn = Some(bn);
    c
}

/// (equal values, total) of the final outputs and of each named layer
/// (first `layer_samples` inputs) against QKeras.
fn agreement(cfg: &Config, layers: &[&str]) -> ((usize, usize), Vec<(usize, usize)>) {
    let g = model();
    let dir = common::root().join(DIR);
    let x = qkhw::npy::read_f32(&dir.join("inputs.npy")).unwrap();
    let y = qkhw::npy::read_f32(&dir.join("outputs.npy")).unwrap();
    let opts = PredictOptions { config: cfg.clone(), ..Default::default() };
    let p = predict(&g, &x.data, &x.shape, &opts).unwrap();
    let out = p.output_f32(0);
    let outputs = (out.iter().zip(&y.data).filter(|(a, b)| a == b).count(), y.data.len());
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let n = meta["layer_samples"].as_u64().unwrap() as usize;
    let per: usize = x.shape[1..].iter().product();
    let xs = vec![qkhw::npy::Array { shape: [&[n][..], &x.shape[1..]].concat(), data: x.data[..n * per].to_vec() }];
    let (outs, _, _) = qkhw::golden::debug::layer_outputs(&g, &xs, &PredictOptions { keep: Some(Keep::All), ..opts }, &[]).unwrap();
    let per_layer = layers
        .iter()
        .map(|name| {
            let l = meta["layers"].as_array().unwrap().iter().find(|l| l["name"] == *name).unwrap();
            let want = qkhw::npy::read_f32(&dir.join(l["file"].as_str().unwrap())).unwrap();
            let o = outs.iter().find(|o| o.layer == *name).unwrap();
            assert_eq!(o.values.len(), want.data.len(), "{name}");
            (o.values.iter().zip(&want.data).filter(|(a, b)| a.to_bits() == b.to_bits()).count(), want.data.len())
        })
        .collect();
    (outputs, per_layer)
}

const LAYERS: &[&str] = &["bn1", "relu1", "bn2", "relu2", "bn3", "relu3", "pool_q", "out"];

/// With `--bn qkeras` every value of every layer (the float batch norms'
/// outputs included) and every final output equals `model.predict`. The
/// exact tables (the default, what model_save_quantized_weights defines)
/// give fewer: the figures below are measured, and the differences are
/// exactly float32's (the qkeras mode reproduces them).
#[test]
fn bn_qkeras_equals_model_predict_where_the_tables_do_not() {
    let (outputs, layers) = agreement(&mode(BnMode::Qkeras), LAYERS);
    assert_eq!(outputs, (2048, 2048));
    for (name, (same, n)) in LAYERS.iter().zip(&layers) {
        assert_eq!(same, n, "{name}");
    }
    let (outputs, layers) = agreement(&mode(BnMode::Tables), &["relu1", "relu2", "relu3", "out"]);
    assert_eq!(outputs, (2028, 2048), "final outputs with the exact tables");
    assert_eq!(layers, vec![(49119, 49152), (49142, 49152), (73698, 73728), (1012, 1024)], "relu1, relu2, relu3, out with the exact tables");
}

/// A `[layer.NAME] bn` table applies to that batch norm only: bn1 in the
/// qkeras mode makes relu1 equal QKeras; bn3 in it leaves relu1 with the
/// tables' differences. Misplaced or impossible requests are one clear
/// error.
#[test]
fn per_layer_mode_and_refusals() {
    let cfg = Config::parse("[layer.bn1]\nbn = \"qkeras\"\n").unwrap();
    assert_eq!(agreement(&cfg, &["relu1"]).1, vec![(49152, 49152)]);
    let cfg = Config::parse("[layer.bn3]\nbn = \"qkeras\"\n").unwrap();
    assert_eq!(agreement(&cfg, &["relu1"]).1, vec![(49119, 49152)]);
    let g = model();
    let e = Config::parse("[layer.conv1]\nbn = \"qkeras\"\n").unwrap().check(&g).unwrap_err().to_string();
    assert!(e.contains("`bn` applies to a batch-norm layer") && e.contains("QConv2D"), "{e}");
    assert!(Config::parse("[model]\nbn = \"exact\"\n").is_err());
    // Raw float inputs (0.1: 24 significant bits) reach cnn_bn's batch norm with more than 24:
    // QKeras has already rounded them.
    let g = qkhw::load_graph(common::root().join("examples/models/cnn_bn.keras"), BuildOptions::default()).unwrap();
    let e = predict(&g, &[0.1; 64], &[1, 8, 8, 1], &PredictOptions { config: mode(BnMode::Qkeras), ..Default::default() }).unwrap_err().to_string();
    assert!(e.contains("layer `bn1`") && e.contains("beyond float32's exact 24"), "{e}");
}

/// (equal values, total) of kbn's final outputs and quantized layers
/// (Keras BatchNormalization before quantized_relu) against QKeras.
fn kbn_agreement(cfg: &Config) -> Vec<(usize, usize)> {
    let dir = common::root().join("tests/golden/bn_qkeras/kbn");
    let g = qkhw::load_graph(dir.join("kbn.keras"), BuildOptions::default()).unwrap();
    let x = qkhw::npy::read_f32(&dir.join("inputs.npy")).unwrap();
    let opts = PredictOptions { config: cfg.clone(), ..Default::default() };
    let (outs, _, _) = qkhw::golden::debug::layer_outputs(&g, std::slice::from_ref(&x), &PredictOptions { keep: Some(Keep::All), ..opts }, &[]).unwrap();
    ["relu1", "relu2", "pool_q", "out"]
        .iter()
        .map(|name| {
            let file = if *name == "out" { "outputs.npy".to_string() } else { format!("{name}.npy") };
            let want = qkhw::npy::read_f32(&dir.join(file)).unwrap();
            let o = outs.iter().find(|o| o.layer == *name).unwrap();
            assert_eq!(o.values.len(), want.data.len(), "{name}");
            (o.values.iter().zip(&want.data).filter(|(a, b)| a.to_bits() == b.to_bits()).count(), want.data.len())
        })
        .collect()
}

/// Keras's own BatchNormalization computes `rsqrt(variance + eps)`
/// (TensorFlow's packet rsqrt, not QBatchNormalization's 1/sqrt): with
/// `--bn qkeras` every quantized layer and every output of kbn
/// (tests/golden/gen_bn_qkeras.py) equals `model.predict`; the exact
/// tables give fewer (measured). C (UBSan) and HLS verify it.
#[test]
fn keras_batch_norm_equals_model_predict() {
    let all = kbn_agreement(&mode(BnMode::Qkeras));
    for (name, (same, n)) in ["relu1", "relu2", "pool_q", "out"].iter().zip(&all) {
        assert_eq!(same, n, "{name} with --bn qkeras");
    }
    assert_eq!(kbn_agreement(&mode(BnMode::Tables)), vec![(49107, 49152), (49098, 49152), (8187, 8192), (2028, 2048)], "relu1, relu2, pool_q, out with the exact tables");
    common::require("gcc");
    common::require("g++");
    let g = qkhw::load_graph(common::root().join("tests/golden/bn_qkeras/kbn/kbn.keras"), BuildOptions::default()).unwrap();
    let cfg = mode(BnMode::Qkeras);
    let (m, plan, _) = qkhw::backend::c::from_graph(&g, None, &cfg, "test", qkhw::quant::InternalSigmoid::Hard).unwrap();
    assert!(plan.steps.iter().any(|s| matches!(s.op, qkhw::plan::StepOp::Exceptions { .. })));
    let (codes, n) = kbn_vectors(&g, &cfg);
    let r = verify::verify_c(&m, &plan, &codes, n, &common::tmp("kbn-c")).unwrap();
    assert!(r.passed(), "{}", r.text());
    let flavor = qkhw::backend::hls::Flavor::Vitis;
    let files = qkhw::backend::hls::generate(&g, &plan, "test", qkhw::quant::InternalSigmoid::Hard, flavor).unwrap();
    let stem = files[0].0.trim_end_matches(".h").to_string();
    let r = verify::verify_hls(&files, &stem, flavor, &plan, &codes, n, &common::tmp("kbn-hls"), &common::cache()).unwrap();
    assert!(r.passed(), "{}", r.text());
}

/// kbn's golden inputs as hardware codes, and 200 random ones.
fn kbn_vectors(g: &qkhw::ir::Graph, cfg: &Config) -> (Vec<i128>, usize) {
    let x = qkhw::npy::read_f32(&common::root().join("tests/golden/bn_qkeras/kbn/inputs.npy")).unwrap();
    let (each, _) = qkhw::golden::hardware_inputs(g, None, cfg).unwrap();
    let (spec, q) = &each[0];
    let mut codes = qkhw::golden::hardware_codes(&x.data, &x.shape, spec, q.as_ref()).unwrap();
    let per: usize = x.shape[1..].iter().product();
    codes.extend(qkhw::verify::random_parts(&[(per, spec.fmt)], 200, 31).remove(0));
    (codes, x.shape[0] + 200)
}

/// C (UBSan), both HLS flavors and the streamed Verilog (Verilator) equal
/// the golden model with `--bn qkeras` on the golden inputs plus random
/// ones (the golden inputs hit the float32 exceptions: the tables differ
/// from QKeras on them). The unrolled Verilog is linted, and simulated with
/// QKHW_LONG=1 (a two-minute Verilator build).
#[test]
fn every_target_verifies_with_bn_qkeras() {
    common::require("gcc");
    common::require("g++");
    common::require("verilator");
    let g = model();
    let cfg = mode(BnMode::Qkeras);
    let (codes, n) = common::vectors(&g, "dscnn_bn", 300, 23);
    let (m, plan, _) = qkhw::backend::c::from_graph(&g, None, &cfg, "test", qkhw::quant::InternalSigmoid::Hard).unwrap();
    assert!(plan.steps.iter().any(|s| matches!(s.op, qkhw::plan::StepOp::Exceptions { .. })));
    let r = verify::verify_c(&m, &plan, &codes, n, &common::tmp("bnq-c")).unwrap();
    assert!(r.passed(), "{}", r.text());
    for flavor in [qkhw::backend::hls::Flavor::Vitis, qkhw::backend::hls::Flavor::Catapult] {
        let files = qkhw::backend::hls::generate(&g, &plan, "test", qkhw::quant::InternalSigmoid::Hard, flavor).unwrap();
        let stem = files[0].0.trim_end_matches(".h").to_string();
        let r = verify::verify_hls(&files, &stem, flavor, &plan, &codes, n, &common::tmp(&format!("bnq-hls-{flavor}")), &common::cache()).unwrap();
        assert!(r.passed(), "{}", r.text());
    }
    // Lint-clean: the build fails on any warning of `verilator -Wall`.
    let sim = verify::verilator::Verilator::new(common::cache()).quick_build().lint_clean();
    for (io, tag) in [(Io::Parallel, "unrolled"), (Io::Stream, "stream")] {
        // The unrolled design (a lint of 26 s, a build of minutes) with
        // QKHW_LONG=1.
        if io == Io::Parallel && !common::long() {
            continue;
        }
        let opts = Options { io, ..Default::default() };
        let (d, plan, _) = verilog::from_graph(&g, None, &cfg, &opts).unwrap();
        let dir = common::tmp(&format!("bnq-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        files::write(&d, &dir, &opts, &qkhw::backend::folder::Origin { model: &g.name, sha256: &g.sha256, target: "verilog", golden: None }, true).unwrap();
        let d = DesignDir::read(&dir).unwrap();
        let r = verify::verify(&sim, &d, &plan, &codes, n, 5, None).unwrap();
        assert!(r.passed(), "{tag}: {}", r.text());
    }
}

/// A convolution with its own activation, then a QBatchNormalization
/// (`tests/golden/gen_bn_across_activation.py`; cross-check batch 10):
/// QKeras's weights fuse the batch norm into the convolution across the
/// activation, and the convolution's bias is finer than the activation's
/// output. The default (the fused tables) refuses it in one line that
/// says why and names `--bn qkeras`; with `--bn qkeras` predict equals
/// model.predict on every value.
#[test]
fn a_batch_norm_fused_across_an_activation_names_bn_qkeras() {
    let dir = common::root().join("tests/golden/bn_across_activation");
    let g = qkhw::load_graph(dir.join("model.keras"), BuildOptions::default()).unwrap();
    let x = qkhw::npy::read_f32(&dir.join("inputs.npy")).unwrap();
    let e = predict(&g, &x.data, &x.shape, &PredictOptions::default()).unwrap_err().to_string();
    assert!(e.contains("layer `bn`") && e.contains("across that layer's activation") && e.contains("--bn qkeras") && !e.contains('\n'), "{e}");
    let p = predict(&g, &x.data, &x.shape, &PredictOptions { config: mode(BnMode::Qkeras), ..Default::default() }).unwrap();
    let want = qkhw::npy::read_f32(&dir.join("outputs.npy")).unwrap();
    let got = p.output_f32(0);
    assert_eq!(got.len(), want.data.len());
    let equal = got.iter().zip(&want.data).filter(|(a, b)| a.to_bits() == b.to_bits()).count();
    assert_eq!(equal, got.len(), "--bn qkeras: {equal} of {} outputs equal model.predict", got.len());
}
