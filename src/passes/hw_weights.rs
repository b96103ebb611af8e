//! The dict of `qkeras.utils.model_save_quantized_weights` (QKeras 1.2.1),
//! reproduced key for key and bit for bit, quirks included:
//! - auto_po2 entries are `q(w) * m / m_i` with `scales = .scale * m_i / m`,
//!   whose product is `q(w)` only where the channel scale is `1/m`
//!   (QKERAS_NOTES.md); the true codes are in [`crate::backend::rom`];
//! - QBatchNormalization zips its five quantizers with the weights that
//!   exist, so with `scale=False` / `center=False` they shift;
//! - QBidirectional zips forward + backward quantizers (8) with their
//!   weights (6), so the backward kernel meets the forward state quantizer;
//! - folded layers export their folded (unquantized-BN) weights, quantized.
//!
//! This dict is for comparison with QKeras; hardware never reads it.

use super::tfops::{add, inv_std, mul, sub};
use super::bn_fusing;
use crate::error::{Context, Result};
use crate::ir::{BatchNorm, Graph, Layer, Op};
use crate::keras::Tensor;
use crate::quant::bits::Alpha;
use crate::quant::{Kind, Quantizer};

/// A value of the dict, as Python holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Bool(bool),
    Null,
    Str(String),
    /// A float32 array (a NumPy array or TF tensor there).
    Array(Tensor),
    List(Vec<Entry>),
}

/// Layer name → its keys, in QKeras's insertion order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HwDict {
    pub layers: Vec<(String, Vec<(String, Entry)>)>,
}

impl HwDict {
    pub fn get(&self, layer: &str, key: &str) -> Option<&Entry> {
        let (_, fields) = self.layers.iter().find(|(n, _)| n == layer)?;
        fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

fn set(fields: &mut Vec<(String, Entry)>, key: &str, v: Entry) {
    match fields.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = v,
        None => fields.push((key.to_string(), v)),
    }
}

/// Whether QKeras's loop sees this layer (`hasattr(layer, "get_quantizers")`).
pub fn has_get_quantizers(l: &Layer) -> bool {
    matches!(
        l.class.as_str(),
        "QDense" | "QConv1D" | "QConv2D" | "QConv2DTranspose" | "QSeparableConv1D" | "QSeparableConv2D"
            | "QDepthwiseConv2D" | "QSimpleRNN" | "QLSTM" | "QGRU" | "QBidirectional" | "QBatchNormalization"
            | "QConv2DBatchnorm" | "QDepthwiseConv2DBatchnorm" | "QDenseBatchnorm" | "QAveragePooling2D"
            | "QGlobalAveragePooling2D" | "QScaleShift"
    )
}

/// `layer.get_quantizers()` (with QKeras's `[:-1]` for the RNN layers).
pub fn quantizers(op: &Op) -> Vec<Option<&Quantizer>> {
    match op {
        Op::Dense { kernel_q, bias_q, .. }
        | Op::Conv { kernel_q, bias_q, .. }
        | Op::ConvTranspose { kernel_q, bias_q, .. } => vec![kernel_q.as_ref(), bias_q.as_ref()],
        Op::Depthwise { depthwise_q, bias_q, .. } => vec![depthwise_q.as_ref(), bias_q.as_ref()],
        Op::Separable { depthwise_q, pointwise_q, bias_q, .. } => {
            vec![depthwise_q.as_ref(), pointwise_q.as_ref(), bias_q.as_ref()]
        }
        Op::Folded { inner, .. } => quantizers(inner),
        Op::BatchNorm(bn) => bn.quantizers.iter().map(Option::as_ref).collect(),
        Op::Rnn { quantizers: q, .. } => q[..3].iter().map(Option::as_ref).collect(),
        Op::Bidirectional { forward, backward, .. } => {
            // get_quantizers() of each direction, state quantizer included.
            fn all(o: &Op) -> Vec<Option<&Quantizer>> {
                match o {
                    Op::Rnn { quantizers: q, .. } => q.iter().map(Option::as_ref).collect(),
                    _ => vec![],
                }
            }
            all(forward).into_iter().chain(all(backward)).collect()
        }
        Op::Pool { average_q, .. } | Op::GlobalPool { average_q, .. } => vec![average_q.as_ref()],
        Op::ScaleShift { weight_q, bias_q, .. } => vec![weight_q.as_ref(), bias_q.as_ref()],
        _ => vec![],
    }
}

/// `get_folded_weights()`: `inv = 1/sqrt(var + eps)`, `inv *= gamma`,
/// kernel × inv on its output channel, `inv * (bias - mean) + beta`.
pub fn folded_weights(l: &Layer, bn: &BatchNorm) -> Vec<Tensor> {
    let w = |r: &str| l.weight(r);
    let var = w("moving_variance").map(|t| t.data.clone()).unwrap_or_default();
    let mut inv = inv_std(&var, bn.epsilon);
    if let Some(g) = w("gamma") {
        inv = inv.iter().zip(&g.data).map(|(&i, &g)| mul(i, g)).collect();
    }
    let kernel = &l.weights[0].tensor;
    let c = inv.len().max(1);
    // The channel is the last axis (depthwise: the last two, flattened).
    let fk = Tensor { shape: kernel.shape.clone(), data: kernel.data.iter().enumerate().map(|(i, &k)| mul(inv[i % c], k)).collect() };
    let mean = w("moving_mean").map(|t| t.data.clone()).unwrap_or_default();
    let bias = w("bias").map(|t| t.data.clone()).unwrap_or_else(|| vec![0.0; c]);
    let beta = w("beta").map(|t| t.data.clone()).unwrap_or_else(|| vec![0.0; c]);
    let fb = (0..c).map(|i| add(mul(inv[i], sub(bias[i], mean[i])), beta[i])).collect();
    vec![fk, Tensor { shape: vec![c], data: fb }]
}

fn array(t: Tensor) -> Entry {
    Entry::Array(t)
}

fn scalar(v: f32) -> Entry {
    Entry::Array(Tensor { shape: vec![], data: vec![v] })
}

/// `round(log2(|w|))`: exact for the powers of two po2 quantizers output.
fn po2_exponent(w: f32) -> f32 {
    let a = crate::quant::ops::ftz(w).abs();
    if a == 0.0 {
        return f32::NEG_INFINITY;
    }
    if a.is_nan() || a.is_infinite() {
        return a;
    }
    let e = a.log2();
    if e.fract() == 0.0 { e } else { (a.ln() / crate::quant::ops::LN2).round_ties_even() }
}

/// One (quantizer, weight) pair of the loop body.
struct Pair {
    entry: Entry,
    /// The `signs` entry; None where QKeras appends none (an auto_po2
    /// weight: its branch appends to `scales` only).
    sign: Option<Entry>,
    scale: Entry,
    /// The quantized value (what `set_weights` writes back).
    quantized: Tensor,
}

fn pair(q: Option<&Quantizer>, w: &Tensor) -> Result<Pair> {
    let Some(q) = q else {
        return Ok(Pair { entry: array(w.clone()), sign: Some(Entry::List(vec![])), scale: Entry::List(vec![]), quantized: w.clone() });
    };
    let ev = q.eval(&w.data, &w.shape)?;
    let qw = Tensor { shape: w.shape.clone(), data: ev.float };
    let name = kind_name(q);
    if name.contains("_po2") {
        let sign = qw.data.iter().map(|&x| {
            let s = crate::quant::ops::sign(x);
            s + (1.0 - s.abs())
        });
        let sign = Tensor { shape: w.shape.clone(), data: sign.collect() };
        let hw = Tensor { shape: w.shape.clone(), data: qw.data.iter().map(|&x| po2_exponent(x)).collect() };
        return Ok(Pair { entry: array(hw), sign: Some(array(sign)), scale: Entry::List(vec![]), quantized: qw });
    }
    if let Kind::Bits(b) = &q.kind
        && b.alpha == Alpha::AutoPo2 {
            let m = crate::fxp::pow2_f32(b.bits as i32 - i32::from(b.keep_negative));
            let m_i = crate::fxp::pow2_f32(b.integer);
            let s = ev.scale.ok_or_else(|| crate::Error::Apply { spec: q.spec.clone(), msg: "auto_po2 without a scale".into() })?;
            if s.values.iter().any(|v| v.log2().fract() != 0.0 || *v <= 0.0) {
                return Err(crate::Error::Apply { spec: q.spec.clone(), msg: "scale must be power of 2 values!".into() });
            }
            let hw = qw.data.iter().map(|&x| mul(x, m) / m_i).map(crate::quant::ops::ftz).collect();
            let sc = s.values.iter().map(|&v| crate::quant::ops::ftz(mul(v, m_i) / m)).collect();
            let mut shape = s.shape.clone();
            if shape.is_empty() {
                shape = vec![];
            }
            return Ok(Pair {
                entry: array(Tensor { shape: w.shape.clone(), data: hw }),
                sign: None,
                scale: array(Tensor { shape, data: sc }),
                quantized: qw,
            });
        }
    Ok(Pair { entry: array(qw.clone()), sign: Some(Entry::List(vec![])), scale: Entry::List(vec![]), quantized: qw })
}

/// The class name QKeras matches on (`quantizer.__class__.__name__`).
pub fn kind_name(q: &Quantizer) -> &'static str {
    match &q.kind {
        Kind::Bits(_) => "quantized_bits",
        Kind::Linear(_) => "quantized_linear",
        Kind::Hswish(_) => "quantized_hswish",
        Kind::Relu(_) => "quantized_relu",
        Kind::Tanh(_) => "quantized_tanh",
        Kind::Sigmoid(_) => "quantized_sigmoid",
        Kind::Ulaw(_) => "quantized_ulaw",
        Kind::Po2(_) => "quantized_po2",
        Kind::ReluPo2(_) => "quantized_relu_po2",
        Kind::Binary(_) => "binary",
        Kind::Ternary(_) => "ternary",
        Kind::Function(_) => "function",
    }
}

/// [`model_save_quantized_weights`] of a graph that may keep layers qkhw
/// does not build ([`crate::ir::BuildOptions::skip_unsupported`]), with a
/// note for each: QKeras's dict leaves out a layer without quantizers, so
/// it is left out here too; one with quantizers is in QKeras's dict, so
/// it is refused (naming the layer). What `qkhw weights` and the Python
/// package's `quantized_weights` give.
pub fn quantized_weights_noted(g: &Graph) -> Result<(HwDict, Vec<String>)> {
    let mut notes = vec![];
    for l in &g.layers {
        // A read of a state output (a part node) needs no weights.
        if let Op::Skipped { why, .. } = &l.op
            && l.class != crate::keras::config::OUTPUT_PART
        {
            if has_get_quantizers(l) {
                return Err(crate::Error::Model { path: g.source.clone(), layer: Some(l.name.clone()), msg: why.clone() });
            }
            let why = why.trim_start_matches(&format!("({}) ", l.class));
            let why = why.split("; supported:").next().unwrap_or(why);
            notes.push(format!("layer `{}` ({}) quantizes no weights, so QKeras's dict has no entry for it (qkhw does not build it: {why})", l.name, l.class));
        }
    }
    // QKeras 1.2.1's bn-fusing graph pass (qgraph) reads every layer's
    // `output.shape`, which a layer with two output tensors does not have.
    // A part node stands for a read of such a tensor (built or not).
    if let Some(l) = g.layers.iter().find(|l| l.class == crate::keras::config::OUTPUT_PART) {
        let of = l.name.rsplit_once(':').map_or("", |p| p.0);
        notes.push(format!(
            "QKeras 1.2.1's model_save_quantized_weights raises on this model (its batch-norm fusing pass cannot take `{of}`'s several output tensors); this is the dict it builds layer by layer"
        ));
    }
    Ok((model_save_quantized_weights(g)?, notes))
}

/// `model_save_quantized_weights(model)`, without touching the model.
pub fn model_save_quantized_weights(g: &Graph) -> Result<HwDict> {
    let fusing = bn_fusing::pairs(g);
    let mut dict = HwDict::default();
    // The loop overwrites each layer's weights with their quantized values
    // before the fused bias reads the previous layer's bias.
    let mut written: Vec<Option<Vec<Tensor>>> = vec![None; g.layers.len()];
    for (i, l) in g.layers.iter().enumerate() {
        if !has_get_quantizers(l) {
            continue;
        }
        let ctx = |r: Result<Pair>| r.in_layer(&g.source, &l.name);
        let qs = quantizers(&l.op);
        let ws: Vec<Tensor> = match &l.op {
            Op::Folded { bn, .. } => folded_weights(l, bn),
            _ => l.weights.iter().map(|w| w.tensor.clone()).collect(),
        };
        let (mut entries, mut signs, mut scales, mut quantized) = (vec![], vec![], vec![], vec![]);
        for (q, w) in qs.iter().zip(&ws) {
            let p = ctx(pair(*q, w))?;
            entries.push(p.entry);
            signs.extend(p.sign);
            scales.push(p.scale);
            quantized.push(p.quantized);
        }
        let has_sign = qs.iter().zip(&ws).any(|(q, _)| q.is_some_and(|q| kind_name(q) == "quantized_po2"));
        let has_scale = qs.iter().zip(&ws).any(|(q, _)| {
            q.is_some_and(|q| matches!(&q.kind, Kind::Bits(b) if b.alpha == Alpha::AutoPo2))
        });
        let bn_skip = fusing.iter().any(|(_, b)| b.0 == i);
        let mut fields = vec![("weights".to_string(), Entry::List(entries)), ("enable_bn_fusing".to_string(), Entry::Bool(bn_skip))];
        if let Some((q, area)) = pooling(g, l)? {
            fields.push(("q_mult_factor".into(), q));
            fields.push(("mult_factor".into(), scalar(crate::quant::ops::ftz(1.0 / area))));
            fields.push(("pool_area".into(), scalar(area)));
        }
        if has_sign {
            fields.push(("signs".into(), Entry::List(signs)));
        }
        if has_scale {
            fields.push(("scales".into(), Entry::List(scales)));
        }
        if !matches!(l.op, Op::Folded { .. }) {
            written[i] = Some(quantized);
        }
        if let Some((_, bn_id)) = fusing.iter().find(|(p, _)| p.0 == i) {
            let bn_layer = &g.layers[bn_id.0];
            let (inv, bias) = fused_bn(l, written[i].as_deref(), bn_layer).in_layer(&g.source, &bn_layer.name)?;
            set(&mut fields, "enable_bn_fusing", Entry::Bool(true));
            set(&mut fields, "fused_bn_layer_name", Entry::Str(bn_layer.name.clone()));
            set(&mut fields, "bn_inv", array(inv));
            set(&mut fields, "fused_bias", array(bias));
        }
        dict.layers.push((l.name.clone(), fields));
    }
    Ok(dict)
}

/// `q_mult_factor` and the pool area of the two QKeras average poolings.
fn pooling(g: &Graph, l: &Layer) -> Result<Option<(Entry, f32)>> {
    let (area, q) = match (&l.class[..], &l.op) {
        ("QAveragePooling2D", Op::Pool { pool, average_q, .. }) => (pool.iter().product::<usize>(), average_q),
        ("QGlobalAveragePooling2D", Op::GlobalPool { average_q, .. }) => {
            let s = &l.in_shapes[0];
            (s[0] * s.get(1).copied().unwrap_or(1), average_q)
        }
        _ => return Ok(None),
    };
    let area = area as f32;
    let qm = match q {
        None => Entry::Null,
        Some(q) => {
            let v = q.apply_shaped(&[crate::quant::ops::ftz(1.0 / area)], &[]).in_layer(&g.source, &l.name)?;
            scalar(v[0])
        }
    };
    Ok(Some((qm, area)))
}

/// `add_bn_fusing_weights`: `bn_inv` and `fused_bias` of a fused pair.
/// `prev_written` holds the producer's weights as the loop left them
/// (quantized).
fn fused_bn(prev: &Layer, prev_written: Option<&[Tensor]>, bn_layer: &Layer) -> Result<(Tensor, Tensor)> {
    let Op::BatchNorm(bn) = &bn_layer.op else {
        return Err(crate::Error::Usage("not a batch norm".into()));
    };
    let prev_bias: Option<Vec<f32>> = match (prev.weight("bias"), prev_written) {
        (Some(_), Some(w)) => w.last().map(|t| t.data.clone()),
        (Some(b), None) => Some(b.data.clone()),
        (None, _) => None,
    };
    let t = super::bn_tables::bn_tables(bn_layer, bn, prev_bias.as_deref())?;
    let c = t.inv.len();
    Ok((Tensor { shape: vec![c], data: t.inv }, Tensor { shape: vec![c], data: t.bias }))
}

/// A float32 as JSON: the shortest decimal that parses back to it; NaN and
/// infinities as the strings Python's golden files use.
pub fn f32_json(v: f32) -> serde_json::Value {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        (if v > 0.0 { "inf" } else { "-inf" }).into()
    } else {
        // Rust's Display for f32 is the shortest round-trip decimal.
        serde_json::Value::Number(
            serde_json::Number::from_f64(format!("{v}").parse::<f64>().unwrap_or(0.0)).unwrap_or(0.into()),
        )
    }
}

impl Entry {
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Entry::Bool(b) => json!(b),
            Entry::Null => serde_json::Value::Null,
            Entry::Str(s) => json!(s),
            Entry::List(v) => serde_json::Value::Array(v.iter().map(Entry::to_json).collect()),
            Entry::Array(t) => json!({
                "dtype": "float32",
                "shape": t.shape,
                "data": t.data.iter().map(|&v| f32_json(v)).collect::<Vec<_>>(),
            }),
        }
    }
}

impl HwDict {
    /// `{"layer": {"key": value}}`, arrays as `{"dtype", "shape", "data"}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (name, fields) in &self.layers {
            let f: serde_json::Map<_, _> = fields.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
            m.insert(name.clone(), serde_json::Value::Object(f));
        }
        serde_json::Value::Object(m)
    }
}
