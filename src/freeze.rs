//! `qkhw freeze`: QKeras's `clone_model_and_freeze_auto_po2_scale`. Every
//! weight quantizer with `alpha="auto_po2"` gets the power-of-two scale it
//! computes on its own weight as `post_training_scale`, so that retraining
//! or a later export keeps that scale. The float weights do not change: the
//! `.keras` written holds the source's `model.weights.h5` and
//! `metadata.json` byte for byte and its `config.json` with the scales set.
//!
//! QKeras rebuilds the model as a single-input chain of QConv2D,
//! QDepthwiseConv2D, QDense and QBatchNormalization (and fails on anything
//! else that has an auto_po2 quantizer, QConv1D or QLSTM for one); qkhw
//! edits the saved config in place, so branches, several inputs and every
//! layer with a weight quantizer keep their structure (recurrent layers
//! included; the directions of a QBidirectional are left, with a note).

use std::path::Path;

use crate::error::{Context, Error, Result};
use crate::ir::{Graph, Layer, Op};
use crate::quant::bits::Alpha;
use crate::quant::{Kind, Quantizer};

/// One quantizer given its scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Frozen {
    pub layer: String,
    /// The config key: `kernel_quantizer`, `depthwise_quantizer`, ...
    pub key: String,
    /// The scale's shape (numpy broadcasting against the weight) and values.
    pub shape: Vec<usize>,
    pub scale: Vec<f32>,
}

/// An auto_po2 weight quantizer: its config key, the quantizer, the
/// float32 tensor it quantizes and that tensor's shape.
type AutoPo2 = (&'static str, Quantizer, Vec<f32>, Vec<usize>);

/// The auto_po2 weight quantizers of `l` without a `post_training_scale`.
fn auto_po2_quantizers(l: &Layer) -> Result<Vec<AutoPo2>> {
    let is_po2 = |q: &Option<Quantizer>| q.as_ref().filter(|q| matches!(&q.kind, Kind::Bits(b) if b.alpha == Alpha::AutoPo2 && b.post_training_scale.is_none())).cloned();
    let mut out = vec![];
    let mut take = |key: &'static str, q: &Option<Quantizer>, weight: &str| {
        if let (Some(q), Some(t)) = (is_po2(q), l.weight(weight)) {
            out.push((key, q, t.data.clone(), t.shape.clone()));
        }
    };
    match &l.op {
        Op::Dense { kernel_q, bias_q, .. } | Op::Conv { kernel_q, bias_q, .. } | Op::ConvTranspose { kernel_q, bias_q, .. } => {
            take("kernel_quantizer", kernel_q, "kernel");
            take("bias_quantizer", bias_q, "bias");
        }
        Op::Depthwise { depthwise_q, bias_q, .. } => {
            take("depthwise_quantizer", depthwise_q, "depthwise_kernel");
            take("bias_quantizer", bias_q, "bias");
        }
        Op::Separable { depthwise_q, pointwise_q, bias_q, .. } => {
            take("depthwise_quantizer", depthwise_q, "depthwise_kernel");
            take("pointwise_quantizer", pointwise_q, "pointwise_kernel");
            take("bias_quantizer", bias_q, "bias");
        }
        Op::Rnn { quantizers, .. } => {
            // QSimpleRNN / QLSTM / QGRU: QKeras's own freeze fails on them.
            take("kernel_quantizer", &quantizers[0], "kernel");
            take("recurrent_quantizer", &quantizers[1], "recurrent_kernel");
            take("bias_quantizer", &quantizers[2], "bias");
        }
        Op::BatchNorm(bn) => {
            // The inverse quantizer meets gamma / sqrt(variance + epsilon).
            if let Some(q) = is_po2(&bn.quantizers[4]) {
                let t = crate::passes::bn_tables::bn_tables(l, bn, None)?;
                let c = t.raw_inv.len();
                out.push(("inverse_quantizer", q, t.raw_inv, vec![c]));
            }
        }
        _ => {}
    }
    Ok(out)
}

/// The auto_po2 quantizers `freeze` leaves as they are, each with why:
/// binary and ternary take no `post_training_scale` (QKeras's freeze would
/// rebuild them as quantized_bits), and a fused layer's
/// (QConv2DBatchnorm, QDenseBatchnorm, ...) kernel scale is computed on
/// the kernel with the batch norm folded in, which QKeras's freeze does not
/// take either.
pub fn not_frozen(g: &Graph) -> Vec<String> {
    let auto = |q: &Option<Quantizer>| {
        q.as_ref().is_some_and(|q| match &q.kind {
            Kind::Bits(b) => b.alpha == Alpha::AutoPo2 && b.post_training_scale.is_none(),
            Kind::Binary(b) => b.alpha == Alpha::AutoPo2,
            Kind::Ternary(t) => t.alpha == Alpha::AutoPo2,
            _ => false,
        })
    };
    let weight_qs = |op: &Op| -> Vec<Option<Quantizer>> {
        match op {
            Op::Dense { kernel_q, bias_q, .. } | Op::Conv { kernel_q, bias_q, .. } | Op::ConvTranspose { kernel_q, bias_q, .. } => vec![kernel_q.clone(), bias_q.clone()],
            Op::Depthwise { depthwise_q, bias_q, .. } => vec![depthwise_q.clone(), bias_q.clone()],
            Op::Separable { depthwise_q, pointwise_q, bias_q, .. } => vec![depthwise_q.clone(), pointwise_q.clone(), bias_q.clone()],
            Op::Rnn { quantizers, .. } => quantizers[..3].to_vec(),
            _ => vec![],
        }
    };
    let mut out = vec![];
    for l in &g.layers {
        match &l.op {
            Op::Bidirectional { forward, backward, .. } if weight_qs(forward).iter().chain(&weight_qs(backward)).any(auto) => out.push(format!(
                "layer `{}` ({}): its directions' auto_po2 quantizers are not frozen (qkhw freezes QSimpleRNN, QLSTM and QGRU layers, not the ones inside a QBidirectional); they keep computing their scales",
                l.name, l.class
            )),
            // QKeras's freeze sets a batch norm's inverse quantizer only.
            Op::BatchNorm(bn) if bn.quantizers[..4].iter().any(auto) => {
                let names = ["gamma", "beta", "mean", "variance"];
                let which: Vec<&str> = bn.quantizers[..4].iter().zip(names).filter(|(q, _)| auto(q)).map(|(_, n)| n).collect();
                out.push(format!(
                    "layer `{}` ({}): its {} quantizer's auto_po2 scale is not frozen (QKeras's clone_model_and_freeze_auto_po2_scale freezes a batch norm's inverse quantizer only, and so does qkhw); it keeps computing its scale",
                    l.name,
                    l.class,
                    which.join(" and ")
                ))
            }
            Op::Folded { inner, .. } if weight_qs(inner).iter().any(auto) => out.push(format!(
                "layer `{}` ({}): its auto_po2 scale is computed on the kernel with the batch norm folded in; QKeras's freeze does not take fused layers, and neither does qkhw",
                l.name, l.class
            )),
            op => {
                for q in weight_qs(op).iter().flatten() {
                    if matches!(q.kind, Kind::Binary(_) | Kind::Ternary(_)) && auto(&Some(q.clone())) {
                        out.push(format!("layer `{}`: `{}` has alpha=\"auto_po2\" but a binary or ternary quantizer takes no post_training_scale (only quantized_bits does), so it keeps computing its scale", l.name, q.spec));
                    }
                }
            }
        }
    }
    out
}

/// The scales QKeras's quantizers compute on `g`'s weights.
pub fn scales(g: &Graph) -> Result<Vec<Frozen>> {
    let mut out = vec![];
    for l in &g.layers {
        for (key, q, data, shape) in auto_po2_quantizers(l).in_layer(&g.source, &l.name)? {
            let hw = q.hardware(&data, &shape).map_err(|e| Error::Model { path: g.source.clone(), layer: Some(l.name.clone()), msg: e.to_string() })?;
            let s = hw.scale.ok_or_else(|| Error::Internal(format!("layer `{}`: an auto_po2 quantizer without a scale", l.name)))?;
            out.push(Frozen { layer: l.name.clone(), key: key.into(), shape: s.shape, scale: s.values });
        }
    }
    Ok(out)
}

/// `values` as a nested JSON list of `shape` (numpy's `tolist()`, which is
/// how QKeras saves `post_training_scale`).
fn nested(values: &[f32], shape: &[usize]) -> serde_json::Value {
    match shape.split_first() {
        None => serde_json::json!(values.first().copied().unwrap_or(0.0) as f64),
        Some((&n, rest)) => {
            let inner: usize = rest.iter().product();
            serde_json::Value::Array((0..n).map(|k| nested(&values[k * inner..(k + 1) * inner], rest)).collect())
        }
    }
}

/// Set each frozen scale in a `.keras` `config.json`: the layer's quantizer
/// config gets `post_training_scale`. Returns the ones it did not find.
fn set_scales(config: &mut serde_json::Value, frozen: &[Frozen]) -> Vec<String> {
    let mut missing = vec![];
    for f in frozen {
        let mut done = false;
        visit_layers(config, &mut |layer| {
            let name = layer.pointer("/config/name").and_then(|v| v.as_str()).map(str::to_string);
            if name.as_deref() != Some(f.layer.as_str()) {
                return;
            }
            // A quantizer written as a string (model_quantize's form,
            // `qkhw quantize-model`'s output) becomes the config QKeras
            // saves, with the alpha its layer gave it.
            if let Some(serde_json::Value::String(spec)) = layer.pointer(&format!("/config/{}", f.key)) {
                let Ok(mut dict) = crate::quant::string_to_config(spec) else { return };
                if dict["config"].get("alpha").is_none_or(serde_json::Value::is_null) {
                    dict["config"]["alpha"] = serde_json::json!("auto_po2");
                }
                layer["config"][f.key.as_str()] = dict;
            }
            if let Some(q) = layer.pointer_mut(&format!("/config/{}/config", f.key)).and_then(|v| v.as_object_mut()) {
                q.insert("post_training_scale".into(), nested(&f.scale, &f.shape));
                done = true;
            }
        });
        if !done {
            missing.push(format!("{}.{}", f.layer, f.key));
        }
    }
    missing
}

/// Every layer object of a model config, nested models included.
fn visit_layers(v: &mut serde_json::Value, f: &mut dyn FnMut(&mut serde_json::Value)) {
    let Some(layers) = v.pointer_mut("/config/layers").and_then(|l| l.as_array_mut()) else { return };
    for l in layers {
        f(l);
        visit_layers(l, f);
    }
}

/// Freeze `g` (read from a `.keras` file) into `out`: returns what was
/// frozen. Writes nothing on any error.
pub fn freeze(g: &Graph, out: &Path) -> Result<Vec<Frozen>> {
    crate::keras::archive::check_out_name(out)?;
    let src = &g.source;
    let mut members = crate::keras::archive::read(src, "freeze")?;
    let cfg = crate::keras::archive::member(&mut members, "config.json").ok_or_else(|| Error::Internal("config.json vanished".into()))?;
    let mut config: serde_json::Value =
        serde_json::from_slice(cfg).map_err(|e| Error::Model { path: src.clone(), layer: None, msg: format!("config.json: {e}") })?;
    // One object per layer (each gets its own scale), each the config
    // Keras loaded.
    crate::keras::config::unshare(&mut config);
    let frozen = scales(g)?;
    if frozen.is_empty() {
        let skipped = not_frozen(g);
        return Err(Error::Model {
            path: src.clone(),
            layer: None,
            msg: if skipped.is_empty() {
                "no weight quantizer with alpha=\"auto_po2\" and no post_training_scale: nothing to freeze".into()
            } else {
                format!("nothing to freeze: {}", skipped.join("; "))
            },
        });
    }
    let missing = set_scales(&mut config, &frozen);
    if !missing.is_empty() {
        return Err(Error::Internal(format!("freeze: quantizers not found in config.json: {}", missing.join(", "))));
    }
    *cfg = serde_json::to_vec(&config).map_err(|e| Error::Internal(e.to_string()))?;
    let bytes = crate::keras::archive::write(&members)?;
    check_same_hardware(g, out, &bytes)?;
    let mut staged = crate::staging::Staged::new();
    staged.write(out, bytes)?;
    staged.commit()?;
    Ok(frozen)
}

/// What freezing changes in QKeras's own `model.predict`: a batch norm's
/// auto-scaled inverse quantizer, frozen to `model_save_quantized_weights`'s
/// scale (see [`crate::passes::bn_tables::inverse_freeze_changes_predict`]).
pub fn predict_changes(g: &Graph, frozen: &[Frozen]) -> Result<Vec<String>> {
    let mut notes = vec![];
    for l in &g.layers {
        if let crate::ir::Op::BatchNorm(bn) = &l.op
            && frozen.iter().any(|f| f.layer == l.name && f.key == "inverse_quantizer")
            && let Some(n) = crate::passes::bn_tables::inverse_freeze_changes_predict(l, bn)?
        {
            notes.push(n);
        }
    }
    Ok(notes)
}

/// The frozen file, read back by qkhw's own reader, has the original's
/// hardware weights (codes, encodings and scales), as QKeras checks with
/// `quantize_model_weights=True`.
fn check_same_hardware(g: &Graph, out: &Path, bytes: &[u8]) -> Result<()> {
    let back = crate::keras::archive::read_back(out, bytes).and_then(|m| Graph::from_saved(&m, crate::ir::BuildOptions::default()));
    let back = back.map_err(|e| Error::Internal(format!("freeze: the frozen model does not read back: {e}")))?;
    // A scale's values per channel (QKeras saves its broadcast shape,
    // [1, 1, 1, C] for a Conv2D kernel, which reads back as [C]).
    let scale = |w: &crate::passes::hw_tensors::HwWeight| match &w.scale {
        Some(crate::passes::hw_tensors::ChannelScale::Po2 { exponents, .. }) => Some((exponents.clone(), vec![])),
        Some(crate::passes::hw_tensors::ChannelScale::Float { values, .. }) => Some((vec![], values.iter().map(|v| v.to_bits()).collect())),
        None => None,
    };
    let key = |w: &crate::passes::hw_tensors::HwWeight| (w.layer.clone(), w.tensor.clone(), w.shape.clone(), w.codes.clone(), w.signs.clone(), w.encoding.clone(), scale(w));
    let a: Vec<_> = crate::passes::hw_tensors::hw_tensors(g)?.iter().map(key).collect();
    let b: Vec<_> = crate::passes::hw_tensors::hw_tensors(&back)?.iter().map(key).collect();
    if a != b {
        let at = a.iter().zip(&b).find(|(x, y)| x != y).map_or_else(|| "their count".to_string(), |(x, _)| format!("`{}` `{}`", x.0, x.1));
        return Err(Error::Internal(format!("freeze: the frozen model's hardware weights differ from the original's at {at}")));
    }
    Ok(())
}
