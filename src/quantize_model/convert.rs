//! One layer's config turned into its QKeras class, rule for rule as
//! `qkeras.utils.model_quantize` (QKeras 1.2.1) does it, except where QKeras
//! breaks (named in [`super`]'s documentation).

use serde_json::{json, Value};

use super::config::QuantizerConfig;

/// What became of one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub layer: String,
    pub from: String,
    pub to: String,
    /// `kernel_quantizer=quantized_bits(4,0,1)`, ...
    pub set: Vec<String>,
    /// Something the user should know (a dropped `max_value`, ...).
    pub note: Option<String>,
}

/// The module and registered name QKeras saves each class with.
pub(super) fn module_of(class: &str) -> &'static str {
    match class {
        "QDense" | "QActivation" | "QAdaptiveActivation" => "qkeras.qlayers",
        "QBatchNormalization" => "qkeras.qnormalization",
        "QConv2DBatchnorm" => "qkeras.qconv2d_batchnorm",
        "QDepthwiseConv2DBatchnorm" => "qkeras.qdepthwiseconv2d_batchnorm",
        "QAveragePooling2D" | "QGlobalAveragePooling2D" => "qkeras.qpooling",
        "QSimpleRNN" | "QLSTM" | "QGRU" | "QBidirectional" => "qkeras.qrecurrent",
        _ => "qkeras.qconvolutional",
    }
}

/// Give the layer object `l` its QKeras class.
pub(super) fn set_class(l: &mut Value, class: &str) {
    l["class_name"] = json!(class);
    l["module"] = json!(module_of(class));
    l["registered_name"] = json!(format!("qkeras>{class}"));
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// QKeras's `quantize_activation`: a layer's own `relu`, `tanh` or
/// `sigmoid` becomes `quantized_relu(N)`, `quantized_tanh(N)`,
/// `quantized_sigmoid(N)`; anything else stays.
fn quantize_activation(cfg: &mut Value, bits: u32, set: &mut Vec<String>) {
    let Some(name) = cfg.get("activation").and_then(Value::as_str) else { return };
    let q = match name {
        "relu" => "quantized_relu",
        "tanh" => "quantized_tanh",
        "sigmoid" => "quantized_sigmoid",
        _ => return,
    };
    let q = format!("{q}({bits})");
    set.push(format!("activation={q}"));
    cfg["activation"] = json!(q);
}

/// The layer's activation: the entry's `activation_quantizer`, else the
/// `--activation-bits` default.
fn activation(cfg: &mut Value, qc: &QuantizerConfig, name: &str, class: &str, bits: u32, with_default: bool, set: &mut Vec<String>) {
    let q = if with_default { qc.param_or_default(name, class, "activation_quantizer") } else { qc.param(name, class, "activation_quantizer") };
    match q {
        Some(q) => {
            set.push(format!("activation={}", text(q)));
            cfg["activation"] = q.clone();
        }
        None => quantize_activation(cfg, bits, set),
    }
}

fn put(cfg: &mut Value, key: &str, q: Option<&Value>, set: &mut Vec<String>) {
    if let Some(q) = q {
        set.push(format!("{key}={}", text(q)));
    }
    cfg[key] = q.cloned().unwrap_or(Value::Null);
}

/// Whether a convolution absorbs the batch norm after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fold {
    No,
    Yes,
    /// Asked for but not written: QKeras 1.2.1 cannot reload a
    /// QDepthwiseConv2DBatchnorm (it saves four variables and its loader
    /// wants three, two of them under names the count excludes). The layer
    /// takes the folded class's entry, the batch norm stays.
    Blocked,
}

/// The note for [`Fold::Blocked`].
pub(super) const BLOCKED: &str = "QKeras 1.2.1 cannot reload a QDepthwiseConv2DBatchnorm from a .keras file (it saves four variables and loads three), so its batch norm stays a separate layer";

/// Dense, Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D (folded with
/// its batch norm per `fold`). Returns the change, or `None` (no kernel
/// quantizer: the layer stays as it is, as in QKeras).
pub(super) fn weight_layer(l: &mut Value, qc: &QuantizerConfig, bits: u32, fold: Fold) -> Option<Change> {
    let name = l["config"]["name"].as_str()?.to_string();
    let from = l["class_name"].as_str()?.to_string();
    let folded = fold != Fold::No;
    let kernel_key = if from == "DepthwiseConv2D" { "depthwise_quantizer" } else { "kernel_quantizer" };
    // The class QKeras looks the quantizers up under, and the one written.
    let lookup_class = if folded { format!("Q{from}Batchnorm") } else { format!("Q{from}") };
    let unfolded = format!("Q{from}");
    let class = if fold == Fold::Yes { lookup_class.clone() } else { unfolded.clone() };
    // QKeras: the folded class's entry, else the plain class's.
    let lookup = |p: &str| {
        if folded && qc.entry(&name, &lookup_class).and_then(|e| e.get(kernel_key)).is_none_or(Value::is_null) {
            return qc.param_or_default(&name, &unfolded, p);
        }
        qc.param_or_default(&name, &lookup_class, p)
    };
    let kernel = lookup(kernel_key)?.clone();
    let use_bias = fold == Fold::Yes || l["config"]["use_bias"].as_bool().unwrap_or(true);
    let bias = if use_bias { lookup("bias_quantizer").cloned() } else { None };
    let mut set = vec![];
    let cfg = &mut l["config"];
    put(cfg, kernel_key, Some(&kernel), &mut set);
    put(cfg, "bias_quantizer", bias.as_ref(), &mut set);
    if fold == Fold::Yes {
        cfg["use_bias"] = json!(true);
        cfg["center"] = json!(true);
        cfg["scale"] = json!(true);
        let mode = qc.param(&name, &class, "folding_mode").cloned().unwrap_or(json!("ema_stats_folding"));
        cfg["folding_mode"] = mode;
        cfg["ema_freeze_delay"] = qc.param(&name, &class, "ema_freeze_delay").cloned().unwrap_or(Value::Null);
    }
    let act_class = if qc.entry(&name, &lookup_class).is_some() { lookup_class.clone() } else { unfolded.clone() };
    activation(cfg, qc, &name, &act_class, bits, true, &mut set);
    set_class(l, &class);
    let note = (fold == Fold::Blocked).then(|| BLOCKED.to_string());
    Some(Change { layer: name, from, to: class, set, note })
}

/// SeparableConv1D / SeparableConv2D: QKeras's classes quantize the
/// depthwise and pointwise kernels separately (`model_quantize` sets a
/// `kernel_quantizer` they do not take); a `kernel_quantizer` entry stands
/// for both.
pub(super) fn separable(l: &mut Value, qc: &QuantizerConfig, bits: u32) -> Option<Change> {
    let name = l["config"]["name"].as_str()?.to_string();
    let from = l["class_name"].as_str()?.to_string();
    let class = format!("Q{from}");
    let kernel = qc.param_or_default(&name, &class, "kernel_quantizer").cloned();
    let dw = qc.param_or_default(&name, &class, "depthwise_quantizer").cloned().or_else(|| kernel.clone());
    let pw = qc.param_or_default(&name, &class, "pointwise_quantizer").cloned().or_else(|| kernel.clone());
    if dw.is_none() && pw.is_none() {
        return None;
    }
    let use_bias = l["config"]["use_bias"].as_bool().unwrap_or(true);
    let bias = if use_bias { qc.param_or_default(&name, &class, "bias_quantizer").cloned() } else { None };
    let mut set = vec![];
    let cfg = &mut l["config"];
    put(cfg, "depthwise_quantizer", dw.as_ref(), &mut set);
    put(cfg, "pointwise_quantizer", pw.as_ref(), &mut set);
    put(cfg, "bias_quantizer", bias.as_ref(), &mut set);
    activation(cfg, qc, &name, &class, bits, true, &mut set);
    set_class(l, &class);
    Some(Change { layer: name, from, to: class, set, note: None })
}

/// SimpleRNN, LSTM, GRU (also the layers inside a Bidirectional, looked up
/// under `lookup_name`).
pub(super) fn rnn(l: &mut Value, qc: &QuantizerConfig, bits: u32, lookup_name: &str) -> Option<Change> {
    let name = l["config"]["name"].as_str()?.to_string();
    let from = l["class_name"].as_str()?.to_string();
    let class = format!("Q{from}");
    let kernel = qc.param_or_default(lookup_name, &class, "kernel_quantizer")?.clone();
    let recurrent = qc.param_or_default(lookup_name, &class, "recurrent_quantizer").cloned();
    let use_bias = l["config"]["use_bias"].as_bool().unwrap_or(true);
    let bias = if use_bias { qc.param_or_default(lookup_name, &class, "bias_quantizer").cloned() } else { None };
    let state = qc.param_or_default(lookup_name, &class, "state_quantizer").cloned();
    let mut set = vec![];
    let cfg = &mut l["config"];
    put(cfg, "kernel_quantizer", Some(&kernel), &mut set);
    put(cfg, "recurrent_quantizer", recurrent.as_ref(), &mut set);
    put(cfg, "bias_quantizer", bias.as_ref(), &mut set);
    put(cfg, "state_quantizer", state.as_ref(), &mut set);
    activation(cfg, qc, lookup_name, &class, bits, true, &mut set);
    if (from == "LSTM" || from == "GRU")
        && let Some(q) = qc.param_or_default(lookup_name, &class, "recurrent_activation_quantizer")
    {
        set.push(format!("recurrent_activation={}", text(q)));
        cfg["recurrent_activation"] = q.clone();
    }
    set_class(l, &class);
    Some(Change { layer: name, from, to: class, set, note: None })
}

/// Bidirectional: both directions take the `QBidirectional` (or layer)
/// entry. Unlike QKeras, a Bidirectional whose layer is not converted stays.
pub(super) fn bidirectional(l: &mut Value, qc: &QuantizerConfig, bits: u32) -> Option<Change> {
    let name = l["config"]["name"].as_str()?.to_string();
    let lookup = if qc.has(&name) { name.clone() } else { "QBidirectional".to_string() };
    let inner = &mut l["config"]["layer"];
    let entry = qc.entry(&name, "QBidirectional").cloned();
    let class_of = |v: &Value| v["class_name"].as_str().map(|c| format!("Q{c}")).unwrap_or_default();
    // The entry applies to the inner classes too.
    let sub = |inner: &mut Value| -> Option<Change> {
        let c = class_of(inner);
        match &entry {
            Some(e) => {
                let mut m = serde_json::Map::new();
                m.insert(c, e.clone());
                let qc2 = QuantizerConfig::unchecked(Value::Object(m));
                rnn(inner, &qc2, bits, "")
            }
            None => rnn(inner, qc, bits, &lookup),
        }
    };
    let mut ch = sub(inner)?;
    if l["config"].get("backward_layer").is_some_and(|b| !b.is_null()) {
        sub(&mut l["config"]["backward_layer"]);
    }
    set_class(l, "QBidirectional");
    ch.layer = name;
    ch.from = "Bidirectional".into();
    ch.to = "QBidirectional".into();
    Some(ch)
}

/// The QActivation quantizer for an activation called `act`: `None` leaves
/// the layer as it is. An entry that is one string takes every activation
/// (QKeras's rule: a softmax too).
fn activation_quantizer(qc: &QuantizerConfig, name: &str, act: &str) -> Option<Option<Value>> {
    let q = qc.entry(name, "QActivation")?;
    match q {
        // In a per-activation entry "" is false to QKeras: the layer stays.
        Value::Object(m) => match m.get(act) {
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::Null) | None => None,
            Some(v) => Some(Some(v.clone())),
        },
        Value::Null => None,
        Value::String(s) if s.is_empty() => Some(None),
        v => Some(Some(v.clone())),
    }
}

/// Activation → QActivation.
pub(super) fn activation_layer(l: &mut Value, qc: &QuantizerConfig, bits: u32) -> Option<Change> {
    let name = l["config"]["name"].as_str()?.to_string();
    let act = l["config"]["activation"].as_str()?.to_string();
    let q = activation_quantizer(qc, &name, &act)?;
    let mut set = vec![];
    let cfg = &mut l["config"];
    match q {
        Some(q) => put(cfg, "activation", Some(&q), &mut set),
        None => quantize_activation(cfg, bits, &mut set),
    }
    if set.is_empty() {
        return None;
    }
    set_class(l, "QActivation");
    Some(Change { layer: name, from: "Activation".into(), to: "QActivation".into(), set, note: None })
}

/// ReLU / LeakyReLU → QActivation (`relu` or `leakyrelu` in a per-activation
/// entry). As in QKeras the quantizer replaces the layer: its `max_value`
/// and `threshold` go (the note says so when they were set).
pub(super) fn relu_layer(l: &mut Value, qc: &QuantizerConfig, bits: u32) -> Option<Change> {
    let name = l["config"]["name"].as_str()?.to_string();
    let from = l["class_name"].as_str()?.to_string();
    let cfg = &l["config"];
    let slope = cfg.get("negative_slope").or_else(|| cfg.get("alpha")).and_then(Value::as_f64).unwrap_or(0.0);
    let max_value = cfg.get("max_value").and_then(Value::as_f64);
    let threshold = cfg.get("threshold").and_then(Value::as_f64).unwrap_or(0.0);
    let act = if slope > 0.0 { "leakyrelu" } else { "relu" };
    let q = activation_quantizer(qc, &name, act)?;
    let q = q.unwrap_or_else(|| {
        if slope > 0.0 { json!(format!("quantized_relu({bits}, negative_slope={slope})")) } else { json!(format!("quantized_relu({bits})")) }
    });
    let mut dropped = vec![];
    if let Some(m) = max_value {
        dropped.push(format!("max_value={m}"));
    }
    if threshold != 0.0 {
        dropped.push(format!("threshold={threshold}"));
    }
    let cfg = l["config"].as_object_mut()?;
    for k in ["max_value", "negative_slope", "alpha", "threshold"] {
        cfg.remove(k);
    }
    let mut set = vec![];
    put(&mut l["config"], "activation", Some(&q), &mut set);
    set_class(l, "QActivation");
    let note = (!dropped.is_empty()).then(|| format!("{} dropped: the quantizer alone bounds the output, as in QKeras", dropped.join(", ")));
    Some(Change { layer: name, from, to: "QActivation".into(), set, note })
}

/// BatchNormalization → QBatchNormalization, only with an entry for the
/// layer or for `QBatchNormalization` (`{}`: a QBatchNormalization without
/// quantizers, float as before).
pub(super) fn batch_norm(l: &mut Value, qc: &QuantizerConfig) -> Option<Change> {
    let name = l["config"]["name"].as_str()?.to_string();
    if !qc.has(&name) && !qc.has("QBatchNormalization") {
        return None;
    }
    let mut set = vec![];
    for p in ["gamma_quantizer", "beta_quantizer", "mean_quantizer", "variance_quantizer"] {
        let q = qc.param(&name, "QBatchNormalization", p).cloned();
        put(&mut l["config"], p, q.as_ref(), &mut set);
    }
    set_class(l, "QBatchNormalization");
    Some(Change { layer: name, from: "BatchNormalization".into(), to: "QBatchNormalization".into(), set, note: None })
}

/// AveragePooling2D / GlobalAveragePooling2D with an `average_quantizer`.
pub(super) fn pooling(l: &mut Value, qc: &QuantizerConfig, bits: u32) -> Option<Change> {
    let name = l["config"]["name"].as_str()?.to_string();
    let from = l["class_name"].as_str()?.to_string();
    let class = format!("Q{from}");
    let q = qc.param(&name, &class, "average_quantizer")?.clone();
    let mut set = vec![];
    let cfg = &mut l["config"];
    put(cfg, "average_quantizer", Some(&q), &mut set);
    activation(cfg, qc, &name, &class, bits, false, &mut set);
    set_class(l, &class);
    Some(Change { layer: name, from, to: class, set, note: None })
}
