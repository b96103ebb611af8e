//! `qkhw predict` (the golden model on raw float inputs, default input
//! semantics) against QKeras's `model.predict` on every example model
//! (tests/golden/predict/, from tests/golden/gen_predict.py).

mod common;

use std::path::{Path, PathBuf};

use qkhw::golden::{predict, predict_inputs, Keep, PredictOptions};
use qkhw::ir::BuildOptions;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

struct Case {
    name: String,
    meta: serde_json::Value,
    dir: PathBuf,
}

fn cases() -> Vec<Case> {
    let d = root().join("tests/golden/predict");
    let mut v: Vec<Case> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").exists())
        .map(|p| Case {
            name: p.file_name().unwrap().to_string_lossy().into(),
            meta: serde_json::from_slice(&std::fs::read(p.join("meta.json")).unwrap()).unwrap(),
            dir: p,
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// The golden inputs in model order: inputs.npy, inputs.1.npy, ...
fn inputs(c: &Case) -> Vec<qkhw::npy::Array<f32>> {
    let mut v = vec![qkhw::npy::read_f32(&c.dir.join("inputs.npy")).unwrap()];
    while let Ok(x) = qkhw::npy::read_f32(&c.dir.join(format!("inputs.{}.npy", v.len()))) {
        v.push(x);
    }
    v
}

/// The first `n` samples of each input, as `predict_inputs` takes them.
fn head(xs: &[qkhw::npy::Array<f32>], n: usize) -> Vec<(Vec<f32>, Vec<usize>)> {
    xs.iter()
        .map(|x| {
            let per: usize = x.shape[1..].iter().product();
            let mut shape = x.shape.clone();
            shape[0] = n.min(x.shape[0]);
            (x.data[..shape[0] * per].to_vec(), shape)
        })
        .collect()
}

/// Models compared with `--bn qkeras`: their standalone batch norms run
/// as QKeras's model.predict computes them (float32, TensorFlow's 1/sqrt),
/// not with the exact tables (tests/bn_qkeras.rs gives the tables' figures).
const BN_QKERAS: &[&str] = &["dscnn_bn", "stream_cnn"];

/// The predict options a case is compared with.
fn options(c: &Case) -> PredictOptions {
    let mut o = PredictOptions::default();
    if BN_QKERAS.contains(&c.name.as_str()) {
        o.config.model.bn = Some(qkhw::passes::config::BnMode::Qkeras);
    }
    o
}

/// (sample, QKeras, qkhw) of each differing value.
type Differences = Vec<(usize, f32, f32)>;

/// How the model's outputs (logits where the model ends in a float
/// softmax) agree with QKeras's, or the error qkhw gives.
struct Agreement {
    /// Values equal bit for bit.
    same: usize,
    /// Zeros of the other sign: QKeras's −0.0 where qkhw's code 0 is
    /// +0.0 (equal as numbers).
    signed_zero: usize,
    total: usize,
    diffs: Differences,
}

fn agreement(c: &Case) -> Result<Agreement, String> {
    let g = qkhw::load_graph(root().join(c.meta["source_file"].as_str().unwrap()), BuildOptions::default()).map_err(|e| e.to_string())?;
    let xs = inputs(c);
    let arrays: Vec<(&[f32], &[usize])> = xs.iter().map(|x| (x.data.as_slice(), x.shape.as_slice())).collect();
    let p = predict_inputs(&g, &arrays, &PredictOptions { keep: Some(Keep::Outputs), ..options(c) }).map_err(|e| e.to_string())?;
    // Output k is outputs.k.npy (outputs.npy for the first) as
    // gen_predict.py writes them; every output of the model is compared.
    let outputs = c.meta["output_shapes"].as_array().map_or(1, |a| a.len());
    assert_eq!(outputs, p.plan.outputs.len(), "{}", c.name);
    let (mut diffs, mut same, mut signed_zero, mut total) = (vec![], 0, 0, 0);
    for k in 0..outputs {
        let want = match k {
            0 if c.dir.join("logits.npy").exists() => "logits.npy".to_string(),
            0 => "outputs.npy".to_string(),
            k => format!("outputs.{k}.npy"),
        };
        let y = qkhw::npy::read_f32(&c.dir.join(want)).unwrap();
        let ours = p.output_f32(k);
        assert_eq!(ours.len(), y.data.len(), "{} output {k}", c.name);
        for (i, (&a, &b)) in ours.iter().zip(&y.data).enumerate() {
            if a.to_bits() == b.to_bits() {
                same += 1;
            } else if a == 0.0 && b == 0.0 {
                signed_zero += 1;
            } else {
                diffs.push((total + i, a, b));
            }
        }
        total += ours.len();
    }
    Ok(Agreement { same, signed_zero, total, diffs })
}

/// Every output value of every model the golden model runs equals
/// QKeras's: quantized outputs exactly, unquantized logits through the
/// float32 tail evaluated as TensorFlow does (the recurrent models
/// included).
#[test]
fn predict_equals_qkeras_on_every_example_model() {
    let mut report = vec![];
    let mut models = 0;
    for c in cases() {
        let a = agreement(&c).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        report.push(format!("{}: {}/{} equal", c.name, a.same, a.total));
        assert_eq!(a.same + a.signed_zero, a.total, "{}: first differences (index, qkhw, QKeras) {:?}", c.name, &a.diffs[..a.diffs.len().min(5)]);
        // Bit for bit: no example model's output is a product QKeras
        // computes in float32, where its zeros can be −0.0 and qkhw's +0.0
        // (cross-check batch 16 compared bits; tests/xcheck_rnn.rs has
        // such outputs).
        assert_eq!(a.signed_zero, 0, "{}: zeros of the other sign", c.name);
        models += 1;
    }
    eprintln!("{}", report.join("\n"));
    assert_eq!(models, 39);
}

/// Arg-max of the logits against QKeras's softmax outputs over the 1,000
/// golden inputs of jet_tagger and the CNN.
#[test]
fn argmax_agrees_on_jet_tagger_and_cnn() {
    for c in cases().into_iter().filter(|c| c.name == "jet_tagger" || c.name == "cnn_bn") {
        let g = qkhw::load_graph(root().join(c.meta["source_file"].as_str().unwrap()), BuildOptions::default()).unwrap();
        let x = qkhw::npy::read_f32(&c.dir.join("inputs.npy")).unwrap();
        let y = qkhw::npy::read_f32(&c.dir.join("outputs.npy")).unwrap();
        let p = predict(&g, &x.data, &x.shape, &PredictOptions::default()).unwrap();
        let ours = p.output_f32(0);
        let k = y.shape[1];
        let argmax = |v: &[f32]| v.iter().enumerate().fold(0, |b, (i, &x)| if x > v[b] { i } else { b });
        let agree = ours.chunks(k).zip(y.data.chunks(k)).filter(|(a, b)| argmax(a) == argmax(b)).count();
        assert_eq!(x.shape[0], 1000);
        assert_eq!(agree, 1000, "{}", c.name);
    }
}

/// Inside the models, on the first 32 samples: every quantized layer
/// output equals QKeras's exactly. Unquantized layer outputs (a QDense or
/// QConv2D before its QActivation, a float batch norm) are float32 sums or
/// products in QKeras and exact here; each difference is traced:
/// - a Dense on exact inputs: TensorFlow's float32 evaluation
///   (`golden::float_dense`, fused multiply-adds in order) of the same
///   inputs and weights gives QKeras's value exactly;
/// - otherwise (convolutions, batch norm): within the float32 summation
///   error bound n · 2^-24 · max|value| of the layer (n terms), i.e. a
///   rounding of the same sum, never a different number.
#[test]
fn layer_outputs_differ_only_by_float32_rounding() {
    let (mut exact_layers, mut float_diffs, mut graph_kernels) = (0, 0, 0);
    for c in cases() {
        let g = qkhw::load_graph(root().join(c.meta["source_file"].as_str().unwrap()), BuildOptions::default()).unwrap();
        let first = head(&inputs(&c), 32);
        let arrays: Vec<(&[f32], &[usize])> = first.iter().map(|x| (x.0.as_slice(), x.1.as_slice())).collect();
        let p = predict_inputs(&g, &arrays, &PredictOptions { keep: Some(Keep::All), ..options(&c) }).unwrap();
        for l in c.meta["layers"].as_array().unwrap() {
            let name = l["name"].as_str().unwrap();
            let Some(si) = p.plan.steps.iter().position(|s| s.layer.as_deref() == Some(name)) else { continue };
            if l["class"] == "Activation" && g.layer(name).is_some_and(|l| l.activation == qkhw::ir::Activation::Float("softmax".into())) {
                continue; // dropped: the logits are compared instead
            }
            let want = qkhw::npy::read_f32(&c.dir.join(l["file"].as_str().unwrap())).unwrap();
            let step = &p.plan.steps[si];
            let ours: Vec<f32> = p.run.codes(si).iter().map(|&v| qkhw::fxp::code_to_f32(v, step.fmt.frac)).collect();
            use qkhw::plan::Act;
            let quantized = matches!(&step.op, qkhw::plan::StepOp::Act(a) if *a != Act::Relu);
            // quantized_ulaw's outputs are not on a grid, and inside
            // model.predict (graph mode) TensorFlow's log/pow can land one
            // ulp off the eager evaluation the table holds.
            let table = matches!(&step.op, qkhw::plan::StepOp::Act(Act::Generic { q, .. })
                if matches!(q.encoding(), Some(qkhw::quant::Encoding::Table { .. })));
            use qkhw::plan::StepOp;
            // TensorFlow's own float32 evaluation of a Dense (and of the
            // float batch norms before it) on the exact values before them.
            let emulated = match graph_mode_kernel(&g, name) {
                // The kernel as model.predict's graph computes it, then
                // TensorFlow's float32 Dense on the exact inputs.
                Some(wg) => {
                    let StepOp::Dense { rows, n_in, n_out, b, .. } = &step.op else { unreachable!() };
                    let xs = &p.plan.steps[step.inputs[0]];
                    let x: Vec<f32> = p.run.codes(step.inputs[0]).iter().map(|&v| qkhw::fxp::code_to_f32(v, xs.fmt.frac)).collect();
                    let bf: Vec<f32> = b.iter().map(|&v| qkhw::fxp::code_to_f32(v, step.fmt.frac)).collect();
                    graph_kernels += 1;
                    Some(qkhw::golden::float_dense(&x, 32 * rows, *n_in, *n_out, &wg, &bf))
                }
                None => matches!(step.op, StepOp::Dense { .. }).then(|| p.float_value(si)),
            };
            // A float relu passes its input's rounding on.
            let step = if matches!(&step.op, StepOp::Act(Act::Relu)) { &p.plan.steps[step.inputs[0]] } else { step };
            let terms = match &step.op {
                StepOp::Dense { n_in, .. } => n_in + 1,
                StepOp::Conv { geo, .. } | StepOp::ConvT { geo, .. } => geo.kh * geo.kw * geo.cin + 1,
                StepOp::Depthwise { geo, .. } => geo.kh * geo.kw + 1,
                _ => 3,
            };
            let bound = terms as f64 * 2f64.powi(-24) * (step.lo.abs().max(step.hi.abs()) as f64) * 2f64.powi(-step.fmt.frac);
            for (k, (&a, &b)) in ours.iter().zip(&want.data).enumerate() {
                if a == b {
                    continue;
                }
                if table {
                    assert!(((a - b).abs() as f64) <= 2f64.powi(-23) * (a.abs().max(b.abs()) as f64), "{}/{name}[{k}]: ulaw {a} vs QKeras {b}", c.name);
                    float_diffs += 1;
                    continue;
                }
                assert!(!quantized, "{}/{name}[{k}]: quantized output {a} vs QKeras {b}", c.name);
                match &emulated {
                    Some(e) => assert_eq!(e[k], b, "{}/{name}[{k}]: TensorFlow's float32 Dense", c.name),
                    None => assert!(((a - b).abs() as f64) <= bound, "{}/{name}[{k}]: {a} vs QKeras {b} exceeds the float32 bound {bound:e}", c.name),
                }
                float_diffs += 1;
            }
            exact_layers += usize::from(quantized);
        }
    }
    eprintln!("{exact_layers} quantized layer outputs exact; {float_diffs} float32-rounding differences in unquantized ones; {graph_kernels} alpha=auto Dense layers reproduced with graph-mode kernels");
    assert!(graph_kernels >= 1);
    assert!(exact_layers >= 27 && float_diffs > 0, "{exact_layers} {float_diffs}");
}

/// Layer classes that are other names for what qkhw runs (keras.layers.Softmax,
/// the dropout/noise layers that are identities at inference): QKeras's
/// logits exactly, the Softmax dropped with its notice, and the generated C
/// equal to the golden model (tests/golden/gen_layer_aliases.py).
#[test]
fn layer_aliases_run_like_the_layers_they_name() {
    let dir = root().join("tests/golden/layer_aliases");
    let g = qkhw::load_graph(dir.join("model.keras"), BuildOptions::default()).unwrap();
    let x = qkhw::npy::read_f32(&dir.join("inputs.npy")).unwrap();
    let y = qkhw::npy::read_f32(&dir.join("logits.npy")).unwrap();
    let p = predict(&g, &x.data, &x.shape, &PredictOptions::default()).unwrap();
    assert!(p.plan.notices.iter().any(|n| n.contains("layer `softmax`") && n.contains("logits")), "{:?}", p.plan.notices);
    let ours = p.output_f32(0);
    assert_eq!(ours.len(), 800);
    assert_eq!(ours, y.data);
    let (m, plan, _) = qkhw::backend::c::from_graph(&g, None, &Default::default(), "test", qkhw::quant::InternalSigmoid::Hard).unwrap();
    let (spec, q, _) = qkhw::golden::hardware_input(&g, None, &Default::default()).unwrap();
    let codes = qkhw::golden::hardware_codes(&x.data, &x.shape, &spec, q.as_ref()).unwrap();
    let tmp = std::env::temp_dir().join(format!("qkhw-aliases-{}", std::process::id()));
    common::require("gcc");
    let r = qkhw::verify::verify_c(&m, &plan, &codes, 200, &tmp).unwrap();
    assert!(r.passed(), "{}", r.text());
    let _ = std::fs::remove_dir_all(&tmp);
}

/// A Dense kernel under `quantized_bits(alpha="auto")` as QKeras's
/// `model.predict` computes it, or None for other layers. predict runs a
/// TensorFlow graph, where grappler turns the scale's division by the
/// constant `levels`, `(2·max|x|) / levels`, into a multiplication by its
/// float32 reciprocal: the scale can be 1 ulp off the eager value that
/// `model_save_quantized_weights` returns and qkhw uses (measured on
/// kernel_variants/d_time: 17 of 30 weights differ). Otherwise as
/// `quant::bits` (one scale per output column).
fn graph_mode_kernel(g: &qkhw::ir::Graph, layer: &str) -> Option<Vec<f32>> {
    use qkhw::quant::{bits::Alpha, Kind};
    let l = g.layer(layer)?;
    let qkhw::ir::Op::Dense { kernel_q: Some(q), .. } = &l.op else { return None };
    let Kind::Bits(b) = &q.kind else { return None };
    if b.alpha != Alpha::Auto || b.post_training_scale.is_some() || b.scale_axis.is_some() {
        return None;
    }
    let w = l.weight("kernel")?;
    let (n_in, n_out) = (w.shape[0], w.shape[1]);
    let m = 2f32.powi(b.bits as i32 - i32::from(b.keep_negative));
    let m_i = 2f32.powi(b.integer);
    let levels = 2.0 * (2f32.powi(b.bits as i32 - 1) - 1.0);
    let half = levels / 2.0;
    let x: Vec<f32> = w.data.iter().map(|&v| v / m_i).collect();
    let mut out = vec![0f32; x.len()];
    for j in 0..n_out {
        let mx = (0..n_in).map(|i| x[i * n_out + j].abs()).fold(0f32, f32::max);
        let scale = (mx * 2.0) * (1.0 / levels); // graph: times the reciprocal
        for i in 0..n_in {
            let v = x[i * n_out + j];
            let q = ((v.abs() / scale) + 0.5).floor();
            let sign = if v > 0.0 { 1.0 } else if v < 0.0 { -1.0 } else { 0.0 };
            let z = sign * if q < half { q } else { half };
            let xq = (scale * m) * ((m_i * z) / m);
            let xs = m_i * v;
            out[i * n_out + j] = xs + (-xs + xq);
        }
    }
    Some(out)
}

/// `dump` (the golden model's per-layer outputs) against QKeras's per-layer
/// outputs of every example model: equal on every value except on exactly
/// these intermediate unquantized layers, which qkhw holds exactly where
/// QKeras's float32 rounds them before a quantizer (their differences are
/// traced by `layer_outputs_differ_only_by_float32_rounding`). A layer in a
/// model's float tail (after the last quantizer) is dumped as TensorFlow
/// computes it; before that fix 27 more layers differed here (avg_divide's
/// `tail`, dense_relu_tail's `out`, ...). A dropped float softmax is not
/// dumped: it was, holding the logits (which is why jet_tagger's
/// `softmax` differed, not the batch size this test once blamed).
#[test]
fn dump_equals_qkeras_layer_outputs_but_for_exact_intermediates() {
    let expected: std::collections::BTreeSet<&str> = [
        "bn_variants/conv1", "bn_variants/bn_noscale", "cnn_bn/conv1", "cnn_bn/bn1", "cnn_bn/bn2", "conv_bn_folded/conv_bn",
        "kernel_variants/d_time", "pooling/conv1",
        "zoo_conv1d/conv1d", "zoo_conv2d/sepconv2d", "zoo_conv2d/relu", "zoo_conv2d/maxpool", "zoo_conv2d/convT", "zoo_conv2d/ulaw",
        "zoo_conv2d/dw2",
    ]
    .into_iter()
    .collect();
    // Products of a −0.0 (a quantizer rounding a small negative value to
    // −0.0) are −0.0 in QKeras: an LSTM's o·q(c), a Multiply merge (and a
    // Concatenate of one). qkhw's integer code 0 is +0.0. These layers
    // differ only there (every other bit equal).
    let signed_zero_expected: std::collections::BTreeSet<&str> =
        ["merges/mul", "merges_conv/mul", "merges_conv/cat_rows", "rnn_lstm/qlstm", "rnn_bilstm/bilstm", "zoo_rnn/qlstm"].into_iter().collect();
    let mut signed_zero = std::collections::BTreeSet::new();
    let mut differing = std::collections::BTreeSet::new();
    let mut compared = 0;
    for c in cases() {
        let g = qkhw::load_graph(root().join(c.meta["source_file"].as_str().unwrap()), BuildOptions::default()).unwrap();
        let n = c.meta["layer_samples"].as_u64().unwrap_or(32) as usize;
        let xs: Vec<qkhw::npy::Array<f32>> = head(&inputs(&c), n).into_iter().map(|(data, shape)| qkhw::npy::Array { shape, data }).collect();
        let (outs, notes, _) = qkhw::golden::debug::layer_outputs(&g, &xs, &options(&c), &[]).unwrap();
        // A dropped float softmax is not dumped (it was, holding the
        // logits under its name), and a note says so.
        if c.name == "jet_tagger" {
            assert!(!outs.iter().any(|o| o.layer == "softmax"));
            assert!(notes.iter().any(|n| n.contains("layer `softmax`: not written")), "{notes:?}");
        }
        for l in c.meta["layers"].as_array().unwrap() {
            let name = l["name"].as_str().unwrap();
            let Some(o) = outs.iter().find(|o| o.layer == name) else { continue };
            let want = qkhw::npy::read_f32(&c.dir.join(l["file"].as_str().unwrap())).unwrap();
            compared += 1;
            let same = o.values.len() == want.data.len() && o.values.iter().zip(&want.data).all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
            let zeros_only = o.values.len() == want.data.len()
                && o.values.iter().zip(&want.data).all(|(a, b)| a.to_bits() == b.to_bits() || (*a == 0.0 && *b == 0.0));
            if zeros_only && !same {
                signed_zero.insert(format!("{}/{name}", c.name));
            } else if !same {
                differing.insert(format!("{}/{name}", c.name));
            }
        }
    }
    let differing: std::collections::BTreeSet<&str> = differing.iter().map(String::as_str).collect();
    assert!(compared > 300, "{compared} layers compared");
    assert_eq!(differing, expected, "layers whose dump differs from QKeras's");
    let signed_zero: std::collections::BTreeSet<&str> = signed_zero.iter().map(String::as_str).collect();
    assert_eq!(signed_zero, signed_zero_expected, "layers differing only by the sign of zeros");
}

/// An unquantized Dense in an output's float32 tail whose sums round is
/// named in a notice: TensorFlow's matrix product sums in an order of its
/// own (a cross-check found 44 of 500 outputs of a tail of two QDense
/// layers one bit off; predict sums in input order), so "equal to
/// model.predict" is not promised there. A tail whose every product and
/// partial sum is exact in float32 (jet_tagger's last QDense) gets none:
/// any order gives the same sum.
#[test]
fn a_float_tail_dense_whose_sums_round_is_noticed() {
    let plan = |name: &str| {
        let g = qkhw::load_graph(root().join(format!("examples/models/{name}.keras")), BuildOptions::default()).unwrap();
        qkhw::golden::hardware_plan(&g, None, &Default::default()).unwrap().0
    };
    let said = |p: &qkhw::plan::Plan| -> Vec<String> { p.notices.iter().filter(|n| n.contains("sums in an order of its own")).cloned().collect() };
    let p = plan("dense_relu_tail");
    let n = said(&p);
    assert_eq!(n.len(), 2, "{n:?}");
    assert!(n[0].starts_with("layer `") && n[0].contains("unquantized Dense"), "{n:?}");
    let p = plan("jet_tagger");
    assert!(!qkhw::plan::float_tail(&p, p.outputs[0]).is_empty(), "jet_tagger ends in a float tail");
    assert!(said(&p).is_empty(), "{:?}", said(&p));
}

/// A float32 tail that branches (`tests/golden/gen_float_tail.py`):
/// averages over 9 and 36 values with no quantizer after them, each
/// concatenated with a max pooling into a model output. QKeras divides in
/// float32; predict now follows the tail through the Concatenate and
/// divides too: every value equals QKeras, with no notice. (The tail
/// stopped at the Concatenate, so the averages were the exact sums times
/// fl(1/n): 400 of 7,200 values of output 0 one bit off, with a notice.)
#[test]
fn a_float_tail_through_a_concatenate_equals_qkeras() {
    let dir = root().join("tests/golden/float_tail");
    let g = qkhw::load_graph(dir.join("avg_concat.keras"), BuildOptions::default()).unwrap();
    let x = qkhw::npy::read_f32(&dir.join("avg_concat.x.npy")).unwrap();
    let p = predict(&g, &x.data, &x.shape, &PredictOptions::default()).unwrap();
    assert!(p.plan.notices.iter().all(|n| !n.contains("averaging over")), "{:?}", p.plan.notices);
    for (k, file) in ["avg_concat.y.npy", "avg_concat.y.1.npy"].iter().enumerate() {
        let y = qkhw::npy::read_f32(&dir.join(file)).unwrap();
        let ours = p.output_f32(k);
        assert_eq!(ours.len(), y.data.len());
        let equal = ours.iter().zip(&y.data).filter(|(a, b)| a.to_bits() == b.to_bits()).count();
        assert_eq!(equal, y.data.len(), "output {k}: values equal to QKeras bit for bit");
    }
    let t = qkhw::plan::float_tail(&p.plan, p.plan.outputs[0]);
    assert_eq!(t.starts.len(), 2, "the average's exact sum and the max pooling start the tail: {t:?}");
}

/// A kernel quantized with alpha="auto" (not frozen) is named in a notice:
/// `model.predict`'s graph computes its scale with a float32 reciprocal,
/// 1 ulp off model_save_quantized_weights's on some weights (a
/// cross-check's model: the notice blamed only the summation order). A
/// kernel with a frozen scale, or another alpha, gets none.
#[test]
fn an_auto_alpha_kernel_is_noticed() {
    let said = |name: &str| -> Vec<String> {
        let g = qkhw::load_graph(root().join(format!("examples/models/{name}.keras")), BuildOptions::default()).unwrap();
        let p = qkhw::golden::hardware_plan(&g, None, &Default::default()).unwrap().0;
        p.notices.iter().filter(|n| n.contains("has alpha=\"auto\"")).cloned().collect()
    };
    let n = said("kernel_variants");
    assert_eq!(n.len(), 1, "{n:?}");
    assert!(n[0].starts_with("layer `d_time`") && n[0].contains("1 ulp"), "{n:?}");
    for other in ["jet_tagger", "auto_po2_mlp", "act_alpha"] {
        assert!(said(other).is_empty(), "{other}: {:?}", said(other));
    }
}

/// A linear layer on raw float32 inputs (held exactly) whose exact sums
/// need more than 24 significant bits is named in a notice: QKeras sums
/// them in float32, and a cross-check's 1x1 convolution gave a sum that
/// TensorFlow rounded onto a tie (0.03125 → 0) where the exact sum is just
/// above it (→ 0.0625), with nothing said. With --input-format the inputs
/// are on a grid and nothing is said.
#[test]
fn raw_float_sums_that_round_in_float32_are_noticed() {
    let g = qkhw::load_graph(root().join("examples/models/jet_tagger.keras"), BuildOptions::default()).unwrap();
    let x = qkhw::npy::read_f32(&root().join("tests/golden/predict/jet_tagger/inputs.npy")).unwrap();
    let said = |opts: &PredictOptions| -> Vec<String> {
        let p = qkhw::golden::predict(&g, &x.data, &x.shape, opts).unwrap();
        p.plan.notices.iter().filter(|n| n.contains("on the raw float32 inputs")).cloned().collect()
    };
    let n = said(&PredictOptions::default());
    assert_eq!(n.len(), 1, "{n:?}");
    assert!(n[0].starts_with("layer `fc1`") && n[0].contains("significant bits"), "{n:?}");
    let fixed = PredictOptions { input_format: Some("fixed<16,6>".parse().unwrap()), ..Default::default() };
    assert!(said(&fixed).is_empty());
}

/// `quantized_hswish(8,3,1)` inside a model (`tests/golden/gen_hswish_graph.py`):
/// qkhw divides by `relu_upper_bound` exactly, as the quantizer does
/// eagerly, and equals the eager quantizer on every input; `model.predict`
/// (whose graph here computes (x·fl(1/6))·r: TensorFlow pushes the
/// constant divisor down onto x) equals qkhw everywhere but on the inputs
/// where `x·r / 6` is exactly a rounding tie of the 1/16 grid, and there it
/// is the quantization of that product. A notice names both layers.
#[test]
fn hswish_in_a_model_differs_from_model_predict_only_at_ties_its_graph_rounds_the_other_way() {
    let dir = root().join("tests/golden/hswish_graph");
    let g = qkhw::load_graph(dir.join("hswish.keras"), BuildOptions::default()).unwrap();
    let x = qkhw::npy::read_f32(&dir.join("hswish.x.npy")).unwrap();
    let p = predict(&g, &x.data, &x.shape, &PredictOptions::default()).unwrap();
    for layer in ["a_hs", "z_hs"] {
        assert!(p.plan.notices.iter().any(|n| n.starts_with(&format!("layer `{layer}`")) && n.contains("relu_upper_bound 6") && n.contains("(x·fl(1/bound))")), "{:?}", p.plan.notices);
    }
    let eager = qkhw::npy::read_f32(&dir.join("hswish.eager.npy")).unwrap();
    // quantized_hswish(8,3,1): a step of 1/16, codes -128..127, ties to even.
    let quantize = |v: f32| ((v * 16.0).round_ties_even().clamp(-128.0, 127.0)) / 16.0;
    let mut ties = 0;
    for (k, file) in ["hswish.y.npy", "hswish.y.1.npy"].iter().enumerate() {
        let ours = p.output_f32(k);
        assert_eq!(ours, eager.data, "output {k}: qkhw equals the eager quantizer");
        let graph = qkhw::npy::read_f32(&dir.join(file)).unwrap();
        for (i, (&o, &t)) in ours.iter().zip(&graph.data).enumerate() {
            if o.to_bits() == t.to_bits() {
                continue;
            }
            // The input quantizer quantized_bits(10,4,1): a step of 1/32.
            let xv = ((x.data[i] * 32.0).round_ties_even().clamp(-512.0, 511.0)) / 32.0;
            let r = (xv + 3.0).clamp(0.0, 6.0);
            let prod = xv * r;
            let exact = prod / 6.0;
            assert_eq!((exact * 16.0).fract().abs(), 0.5, "output {k}, input {xv}: qkhw {o}, model.predict {t}: not a tie");
            assert_eq!(t, quantize((xv * (1.0f32 / 6.0)) * r), "output {k}, input {xv}: model.predict rounds (x·fl(1/6))·r");
            ties += 1;
        }
    }
    // Both outputs rewritten in this graph (8 ties each): the test sees the
    // difference it explains.
    assert_eq!(ties, 16);
}
