//! `qkhw quantize-model`: QKeras's `model_quantize` (with
//! `transfer_weights=True`) on a float Keras 3 `.keras` model, writing a
//! QKeras `.keras` file that QKeras loads and the rest of qkhw takes.
//!
//! The layer rules are QKeras 1.2.1's ([`convert`]). Where QKeras breaks,
//! qkhw does what its documentation promises instead (measured on 1.2.1):
//! - `enable_bn_folding=True` transfers no weights at all (the folded model
//!   holds fresh random weights): `--fold-bn` moves the trained kernel,
//!   bias and batch-norm statistics into the folded layer;
//! - QKeras drops every batch norm after a Conv2D/DepthwiseConv2D before it
//!   knows whether that convolution gets a quantizer (a float convolution
//!   then loses its batch norm): qkhw folds only into a converted layer;
//! - its QDepthwiseConv2DBatchnorm saves four variables and its loader
//!   wants three, among them two the count leaves out ("expected 3
//!   variables, but received 4"): no `.keras` file holding one reloads, so
//!   `--fold-bn` folds Conv2D only and a DepthwiseConv2D keeps its batch
//!   norm as a separate layer (taking the folded class's entry; the report
//!   says so);
//! - the `"default"` entry is never read (nothing is quantized by it):
//!   qkhw applies it to every weight layer without its own entry, with the
//!   docstring's `kernel` / `bias` keys or the class parameter names;
//! - a Keras 3 LeakyReLU crashes it (it reads `alpha`): qkhw reads
//!   `negative_slope`; a converted LSTM is renamed `qlstm`: qkhw keeps names;
//! - a `Bidirectional` becomes a QBidirectional around a float layer when
//!   nothing quantizes it: qkhw leaves it as it is;
//! - SeparableConv layers get a `kernel_quantizer` their QKeras classes do
//!   not take: qkhw sets `depthwise_quantizer` and `pointwise_quantizer`.
//!
//! Nothing is written unless the whole file is built and read back by
//! qkhw's own reader with the intended weights.

mod config;
mod convert;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

pub use config::QuantizerConfig;
pub use convert::Change;
use convert::Fold;

use crate::error::{Error, Result};
use crate::keras::h5_write::{keras_keys, LayerVars, Var};
use crate::keras::{archive, Tensor};

/// What `quantize-model` is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// QKeras's `quantizer_config`, as JSON.
    pub config: Value,
    /// Where the config came from, for errors.
    pub config_source: String,
    /// `activation_bits`: the width of the `quantized_relu(N)`,
    /// `quantized_tanh(N)`, `quantized_sigmoid(N)` a layer's own relu, tanh
    /// or sigmoid becomes.
    pub activation_bits: u32,
    /// `enable_bn_folding`: Conv2D + BatchNormalization → QConv2DBatchnorm
    /// (a DepthwiseConv2D's stays separate: see above).
    pub fold_bn: bool,
}

/// What was done.
#[derive(Debug, Clone)]
pub struct Report {
    pub changes: Vec<Change>,
    /// (convolution, batch norm) pairs folded.
    pub folded: Vec<(String, String)>,
    /// Layers left as they are: (name, class).
    pub unchanged: Vec<(String, String)>,
    /// Whether qkhw's golden model takes the written file, and why not.
    pub runs: std::result::Result<(), String>,
}

fn model_err(path: &Path, layer: Option<&str>, msg: impl Into<String>) -> Error {
    Error::Model { path: path.to_path_buf(), layer: layer.map(str::to_string), msg: msg.into() }
}

fn class(l: &Value) -> &str {
    l["class_name"].as_str().unwrap_or("")
}

fn name(l: &Value) -> &str {
    l["config"]["name"].as_str().unwrap_or("")
}

/// Every `keras_history` `[layer, node, tensor]` inside `v`.
fn histories<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) => {
            if let Some(h) = m.get("keras_history") {
                out.push(h);
            }
            m.values().for_each(|x| histories(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| histories(x, out)),
        _ => {}
    }
}

fn remove_mask_keys(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("mask");
            m.values_mut().for_each(remove_mask_keys);
        }
        Value::Array(a) => a.iter_mut().for_each(remove_mask_keys),
        _ => {}
    }
}

/// Replace every reference to `from`'s output by `to` (a history triple).
fn rewire(v: &mut Value, from: &str, to: &Value) {
    match v {
        Value::Object(m) => {
            if let Some(h) = m.get_mut("keras_history")
                && h.get(0).and_then(Value::as_str) == Some(from)
            {
                *h = to.clone();
            }
            m.values_mut().for_each(|x| rewire(x, from, to));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewire(x, from, to)),
        _ => {}
    }
}

/// (convolution, batch norm) index pairs `convert_to_folded_model` folds: a
/// Conv2D or DepthwiseConv2D (channels last, called once) whose only
/// consumer is a BatchNormalization over its channel axis.
fn fold_pairs(model: &Value, sequential: bool) -> Vec<(usize, usize)> {
    let layers = model["config"]["layers"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut refs: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, l) in layers.iter().enumerate() {
        let mut hs = vec![];
        histories(&l["inbound_nodes"], &mut hs);
        for h in hs {
            if let Some(n) = h.get(0).and_then(Value::as_str) {
                refs.entry(n).or_default().push(i);
            }
        }
    }
    let is_output = |n: &str| {
        model["config"]["output_layers"].as_array().is_some_and(|o| o.iter().any(|x| x.get(0).and_then(Value::as_str) == Some(n) || x.as_str() == Some(n)))
    };
    let nodes = |l: &Value| l["inbound_nodes"].as_array().map_or(0, Vec::len);
    let mut out = vec![];
    for (i, l) in layers.iter().enumerate() {
        if !matches!(class(l), "Conv2D" | "DepthwiseConv2D") || l["config"]["data_format"].as_str().is_some_and(|f| f != "channels_last") {
            continue;
        }
        let j = if sequential {
            i + 1
        } else {
            match refs.get(name(l)).map(Vec::as_slice) {
                Some([j]) if nodes(l) == 1 && nodes(&layers[*j]) == 1 && !is_output(name(l)) => *j,
                _ => continue,
            }
        };
        let Some(bn) = layers.get(j) else { continue };
        let axis = bn["config"]["axis"].as_i64();
        if class(bn) == "BatchNormalization" && matches!(axis, Some(-1 | 3)) {
            out.push((i, j));
        }
    }
    out
}

/// The batch-norm settings a folded layer takes over from the layer it
/// absorbs (QKeras's own folding drops them: its folded layer has the
/// default epsilon 1e-3 whatever the batch norm had). `center` and `scale`
/// stay true: QKeras's QConv2DBatchnorm cannot run without beta or gamma,
/// so a batch norm without them gets beta 0 / gamma 1, the same function.
const BN_SETTINGS: &[&str] = &["axis", "momentum", "epsilon"];

/// Convert the `.keras` model at `src` and write the QKeras model to `out`.
pub fn quantize_model(src: &Path, opts: &Options, out: &Path) -> Result<Report> {
    archive::check_out_name(out)?;
    let mut members = archive::read(src, "quantize-model")?;
    let weights_bytes = archive::member(&mut members, "model.weights.h5").ok_or_else(|| model_err(src, None, "the .keras archive has no `model.weights.h5`"))?.clone();
    let cfg_bytes = archive::member(&mut members, "config.json").ok_or_else(|| Error::Internal("config.json vanished".into()))?;
    let mut model: Value = serde_json::from_slice(cfg_bytes).map_err(|e| model_err(src, None, format!("config.json: {e}")))?;
    let saved = crate::keras::load(src)?;
    let top = class(&model).to_string();
    let sequential = top == "Sequential";
    if !(sequential || top == "Functional" || top == "Model") {
        return Err(model_err(src, None, format!("a `{top}` model: quantize-model converts Sequential and Functional models")));
    }
    let layers = model["config"]["layers"].as_array().ok_or_else(|| model_err(src, None, "config.json has no layer list"))?;
    for l in layers {
        if l["config"].get("layers").is_some() {
            return Err(model_err(src, Some(name(l)), format!("a nested `{}` model: quantize-model converts flat models (call the inner model's layers directly)", class(l))));
        }
    }
    let saved_layers = |ls: &[Value]| -> Vec<(String, String)> {
        ls.iter().filter(|l| !(sequential && class(l) == "InputLayer")).map(|l| (class(l).to_string(), name(l).to_string())).collect()
    };
    // Keras finds weights by class-derived keys: check that this file
    // follows the rule before relying on it to write the new one.
    let before = saved_layers(layers);
    let mut expect: Vec<(String, String)> = keras_keys(before.iter().map(|c| c.0.as_str())).into_iter().zip(before.iter().map(|c| c.1.clone())).collect();
    expect.sort();
    let have = crate::keras::weights::keras3_keys(weights_bytes, src)?;
    if expect != have {
        let diff = expect.iter().find(|e| !have.contains(e)).map_or_else(
            || "extra weight groups".to_string(),
            |(k, n)| format!("layer `{n}` should be at `layers/{k}`"),
        );
        return Err(model_err(src, None, format!("model.weights.h5 is not laid out as Keras 3 saves this model ({diff}); re-save it with model.save(\"NAME.keras\")")));
    }
    let names: Vec<&str> = layers.iter().map(name).collect();
    let qc = QuantizerConfig::new(opts.config.clone(), &names, &opts.config_source)?;
    let pairs = if opts.fold_bn { fold_pairs(&model, sequential) } else { vec![] };
    let bits = opts.activation_bits;

    let layers = model["config"]["layers"].as_array_mut().ok_or_else(|| Error::Internal("layer list vanished".into()))?;
    let mut report = Report { changes: vec![], folded: vec![], unchanged: vec![], runs: Ok(()) };
    // Batch norms folded away: index → the convolution's index.
    let mut absorbed: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, l) in layers.iter_mut().enumerate() {
        let bn = pairs.iter().find(|p| p.0 == i).map(|p| p.1);
        let change = match class(l) {
            "Dense" | "Conv1D" | "Conv2DTranspose" => convert::weight_layer(l, &qc, bits, Fold::No),
            "Conv2D" => convert::weight_layer(l, &qc, bits, if bn.is_some() { Fold::Yes } else { Fold::No }),
            "DepthwiseConv2D" => convert::weight_layer(l, &qc, bits, if bn.is_some() { Fold::Blocked } else { Fold::No }),
            "SeparableConv1D" | "SeparableConv2D" => convert::separable(l, &qc, bits),
            "SimpleRNN" | "LSTM" | "GRU" => {
                let n = name(l).to_string();
                convert::rnn(l, &qc, bits, &n)
            }
            "Bidirectional" => convert::bidirectional(l, &qc, bits),
            "Activation" => convert::activation_layer(l, &qc, bits),
            "ReLU" | "LeakyReLU" => convert::relu_layer(l, &qc, bits),
            "BatchNormalization" if absorbed.contains_key(&i) => None,
            "BatchNormalization" => convert::batch_norm(l, &qc),
            "AveragePooling2D" | "GlobalAveragePooling2D" => convert::pooling(l, &qc, bits),
            _ => None,
        };
        match change {
            Some(c) => {
                if let (Some(j), true) = (bn, c.to.ends_with("Batchnorm")) {
                    absorbed.insert(j, i);
                }
                report.changes.push(c);
            }
            None if absorbed.contains_key(&i) => {}
            None => report.unchanged.push((name(l).to_string(), class(l).to_string())),
        }
    }
    // The folded layer takes the batch norm's settings; the batch norm goes
    // and its consumers read the folded layer.
    let mut gone = vec![];
    // (scale, center) of each absorbed batch norm, by the folded layer.
    let mut bn_flags: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for (&j, &i) in absorbed.iter().rev() {
        let bn = layers.remove(j);
        let flag = |k: &str| bn["config"][k].as_bool().unwrap_or(true);
        bn_flags.insert(name(&layers[i]).to_string(), (flag("scale"), flag("center")));
        for k in BN_SETTINGS {
            if let Some(v) = bn["config"].get(*k) {
                layers[i]["config"][*k] = v.clone();
            }
        }
        let mut hs = vec![];
        histories(&bn["inbound_nodes"], &mut hs);
        let source = hs.first().map(|h| (*h).clone()).unwrap_or(Value::Null);
        for l in layers.iter_mut() {
            rewire(&mut l["inbound_nodes"], name(&bn), &source);
        }
        report.folded.push((name(&layers[i]).to_string(), name(&bn).to_string()));
        gone.push((name(&bn).to_string(), source));
    }
    report.folded.reverse();
    // A batch norm that was a model output: the folded layer is. (One
    // output may be saved flat, `["bn", 0, 0]`.)
    if let Some(outs) = model["config"].get_mut("output_layers")
        && outs.get(0).is_some_and(Value::is_string)
    {
        *outs = Value::Array(vec![outs.clone()]);
    }
    if let Some(Value::Array(outs)) = model["config"].get_mut("output_layers") {
        for o in outs.iter_mut() {
            if let Some((_, src)) = gone.iter().find(|(b, _)| o.get(0).and_then(Value::as_str) == Some(b.as_str())) {
                *o = src.clone();
            }
        }
    }
    // QKeras's quantized_model_from_json drops every `mask` key (a
    // QBatchNormalization's call takes none, a BatchNormalization's node
    // records `mask: null`).
    remove_mask_keys(&mut model);
    if let Some(m) = model.as_object_mut() {
        // An uncompiled model, as model_quantize returns (a compile config
        // would ask Keras for optimizer weights the file does not hold).
        m.remove("compile_config");
    }

    // The weights, under the keys Keras derives from the new classes.
    let folded_of: BTreeMap<&str, &str> = report.folded.iter().map(|(c, b)| (c.as_str(), b.as_str())).collect();
    let layers = model["config"]["layers"].as_array().ok_or_else(|| Error::Internal("layer list vanished".into()))?;
    let after = saved_layers(layers);
    let keys = keras_keys(after.iter().map(|c| c.0.as_str()));
    let mut written = vec![];
    for ((_, lname), key) in after.iter().zip(keys) {
        let ws = saved.weights.get(lname).cloned().unwrap_or_default();
        let mut vars: Vec<(String, Var)> = ws.into_iter().map(|(p, t)| (p, Var::F32(t))).collect();
        if let Some(bn) = folded_of.get(lname.as_str()) {
            let flags = bn_flags.get(lname.as_str()).copied().unwrap_or((true, true));
            vars = folded_vars(src, lname, vars, saved.weights.get(*bn).cloned().unwrap_or_default(), flags)?;
        }
        written.push(LayerVars { key, name: lname.clone(), vars });
    }
    let model_name = model["config"]["name"].as_str().unwrap_or(if sequential { "sequential" } else { "functional" }).to_string();
    let h5 = crate::keras::h5_write::weights_file(&model_name, &written)?;
    *archive::member(&mut members, "model.weights.h5").ok_or_else(|| Error::Internal("weights vanished".into()))? = h5;
    *archive::member(&mut members, "config.json").ok_or_else(|| Error::Internal("config vanished".into()))? =
        serde_json::to_vec(&model).map_err(|e| Error::Internal(e.to_string()))?;
    let bytes = archive::write(&members)?;
    report.runs = read_back(&bytes, &written, out)?;
    let mut staged = crate::staging::Staged::new();
    staged.write(out, bytes)?;
    staged.commit()?;
    Ok(report)
}

/// A folded layer's variables: kernel, bias (zeros where the float layer
/// had none), the `iteration` counter QKeras keeps (-1, as it builds it),
/// then the batch norm's under `batchnorm/`: gamma (ones without `scale`),
/// beta (zeros without `center`), moving mean and variance.
fn folded_vars(src: &Path, layer: &str, conv: Vec<(String, Var)>, bn: Vec<(String, Tensor)>, (scale, center): (bool, bool)) -> Result<Vec<(String, Var)>> {
    let mut it = conv.into_iter().map(|v| v.1);
    let Some(Var::F32(kernel)) = it.next() else {
        return Err(model_err(src, Some(layer), "a convolution without a kernel cannot be folded"));
    };
    let channels = kernel.shape.last().copied().unwrap_or(0);
    let bias = match it.next() {
        Some(Var::F32(b)) => b,
        _ => Tensor { shape: vec![channels], data: vec![0.0; channels] },
    };
    if bn.iter().any(|(_, t)| t.shape != [channels]) {
        return Err(model_err(src, Some(layer), format!("its batch norm's weights do not have {channels} channels")));
    }
    if bn.len() != 2 + usize::from(scale) + usize::from(center) {
        return Err(model_err(src, Some(layer), format!("its batch norm holds {} weights; scale={scale} center={center} make {}", bn.len(), 2 + usize::from(scale) + usize::from(center))));
    }
    let fill = |v: f32| Tensor { shape: vec![channels], data: vec![v; channels] };
    let mut it = bn.into_iter().map(|b| b.1);
    let mut next = |present: bool, default: f32| if present { it.next() } else { Some(fill(default)) };
    let (gamma, beta, mean, var) = (next(scale, 1.0), next(center, 0.0), next(true, 0.0), next(true, 1.0));
    let mut vars = vec![("0".to_string(), Var::F32(kernel)), ("1".to_string(), Var::F32(bias)), ("iteration".to_string(), Var::I64(-1))];
    for (k, t) in [gamma, beta, mean, var].into_iter().enumerate() {
        let t = t.ok_or_else(|| Error::Internal("batch norm weights vanished".into()))?;
        vars.push((format!("batchnorm/{k}"), Var::F32(t)));
    }
    Ok(vars)
}

/// Read the written archive back with qkhw's reader: its weights must be
/// the ones written (else an internal error). Returns whether the golden
/// model runs it, with the reason where not.
fn read_back(bytes: &[u8], written: &[LayerVars], out: &Path) -> Result<std::result::Result<(), String>> {
    let back = archive::read_back(out, bytes);
    // As `gen` and `predict` start: the graph, each input's hardware
    // format, the plan.
    let runs = back.as_ref().ok().map(|b| -> Result<()> {
        let g = crate::ir::Graph::from_saved(b, crate::ir::BuildOptions::default())?;
        let cfg = crate::passes::config::Config::default();
        let (inputs, _) = crate::golden::hardware_inputs(&g, None, &cfg)?;
        let specs: Vec<_> = inputs.into_iter().map(|i| i.0).collect();
        crate::plan::plan_inputs(&g, &specs, &cfg).map(|_| ())
    });
    let back = back.map_err(|e| Error::Internal(format!("quantize-model: the written model does not read back: {e}")))?;
    for l in written {
        let want: Vec<(&str, &Tensor)> = l.vars.iter().filter_map(|(p, v)| match v {
            Var::F32(t) => Some((p.as_str(), t)),
            Var::I64(_) => None,
        }).collect();
        let got: Vec<(&str, &Tensor)> = back.weights.get(&l.name).map(|w| w.iter().map(|(p, t)| (p.as_str(), t)).collect()).unwrap_or_default();
        if want != got {
            return Err(Error::Internal(format!("quantize-model: layer `{}` reads back with other weights than were written", l.name)));
        }
    }
    Ok(match runs {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("unreadable".into()),
    })
}
