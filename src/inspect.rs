//! `qkhw inspect`: what each layer is, computes and stores.

use serde::Serialize;

use crate::error::Result;
use crate::ir::{Activation, Graph, Layer, Op, RnnCell};
use crate::passes::hw_tensors::{hw_tensors, ChannelScale, HwWeight};
use crate::passes::hw_weights;

/// A layer's quantizers in QKeras's `get_quantizers()` order: a recurrent
/// layer's state quantizer included (`model_save_quantized_weights` drops
/// it, the layer has it).
fn quantizers(op: &Op) -> Vec<Option<&crate::quant::Quantizer>> {
    match op {
        Op::Rnn { quantizers: q, .. } => q.iter().map(Option::as_ref).collect(),
        _ => hw_weights::quantizers(op),
    }
}
use crate::passes::sparsity::sparsity;
use crate::quant::Encoding;

#[derive(Debug, Clone, Serialize)]
pub struct LayerInfo {
    pub name: String,
    pub class: String,
    pub inputs: Vec<String>,
    pub input_shapes: Vec<Vec<usize>>,
    pub output_shape: Vec<usize>,
    /// Weight quantizers in QKeras's `get_quantizers()` order (null: none).
    pub quantizers: Vec<Option<String>>,
    /// What each of `quantizers` quantizes (`kernel`, `bias`, ...).
    pub quantizer_names: Vec<String>,
    pub activation: String,
    /// The format of the layer's output: its quantizer's, else the exact
    /// format of the golden plan for the hardware input (None where the
    /// golden model does not run the layer).
    pub output_format: Option<String>,
    /// Each stored constant: name and hardware encoding.
    pub weights: Vec<WeightInfo>,
    pub params: usize,
    pub macs: u64,
    /// QKeras's `get_model_sparsity` for this layer (allow-listed ones).
    pub sparsity: Option<f32>,
    /// Why qkhw does not build this layer (listed so that a model shows
    /// all of them at once; every command but `inspect` and `weights`
    /// refuses the model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_built: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WeightInfo {
    pub tensor: String,
    pub shape: Vec<usize>,
    pub format: String,
    pub zeros: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub model: String,
    pub source: String,
    pub sha256: String,
    /// The model's input layers in model order (the order positional
    /// `--input` arrays take).
    pub model_inputs: Vec<String>,
    pub layers: Vec<LayerInfo>,
    pub params: usize,
    pub macs: u64,
    /// Total sparsity over the allow-listed layers, as QKeras computes it.
    pub sparsity: f32,
    /// Why the golden model (so `predict`, `gen`, `verify`) refuses the
    /// model, if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

pub fn encoding_str(e: &Encoding) -> String {
    match e {
        Encoding::Fixed(f) => f.to_string(),
        Encoding::Po2 { signed, min_exp, max_exp } => {
            format!("{}po2[2^{min_exp}..2^{max_exp}]", if *signed { "±" } else { "" })
        }
        Encoding::Table { index, values } => format!("table[{} values, index {index}]", values.len()),
    }
}

fn weight_format(w: &HwWeight) -> String {
    let mut s = encoding_str(&w.encoding);
    match &w.scale {
        Some(ChannelScale::Po2 { exponents, .. }) => {
            let (lo, hi) = (exponents.iter().min().copied().unwrap_or(0), exponents.iter().max().copied().unwrap_or(0));
            s += &format!(" × 2^[{lo}..{hi}] per channel");
        }
        Some(ChannelScale::Float { values, .. }) => s += &format!(" × {} float scales", values.len()),
        None => {}
    }
    if w.quantizer.is_none() {
        s += " (float32, exact)";
    }
    s
}

fn macs(l: &Layer) -> u64 {
    let out: u64 = l.shape.iter().product::<usize>() as u64;
    let input = l.in_shapes.first().cloned().unwrap_or_default();
    let cin = *input.last().unwrap_or(&0) as u64;
    let k = |w: &crate::ir::Window| w.kernel.iter().product::<usize>() as u64;
    match &l.op {
        Op::Dense { .. } => out * cin,
        Op::Conv { window, .. } => out * k(window) * cin,
        Op::Depthwise { window, .. } => out * k(window),
        Op::Separable { window, multiplier, .. } => {
            let spatial = out / *l.shape.last().unwrap_or(&1).max(&1) as u64;
            spatial * cin * *multiplier as u64 * k(window) + out * cin * *multiplier as u64
        }
        Op::ConvTranspose { window, filters, .. } => {
            input.iter().product::<usize>() as u64 * k(window) * *filters as u64
        }
        Op::Folded { inner, .. } => macs(&Layer { op: (**inner).clone(), ..l.clone() }),
        Op::BatchNorm(_) | Op::ScaleShift { .. } => out,
        Op::Rnn { cell, units, .. } => rnn_macs(*cell, *units, &input),
        Op::Bidirectional { forward, .. } => match forward.as_ref() {
            Op::Rnn { cell, units, .. } => 2 * rnn_macs(*cell, *units, &input),
            _ => 0,
        },
        _ => 0,
    }
}

fn rnn_macs(cell: RnnCell, units: usize, input: &[usize]) -> u64 {
    let g = match cell {
        RnnCell::Simple => 1,
        RnnCell::Lstm => 4,
        RnnCell::Gru => 3,
    } as u64;
    let (t, f) = (input.first().copied().unwrap_or(0) as u64, input.get(1).copied().unwrap_or(0) as u64);
    let u = units as u64;
    t * g * u * (f + u)
}

/// The names of a layer's weight quantizers, in [`quantizers`] order.
fn quantizer_names(op: &Op) -> Vec<String> {
    let names: &[&str] = match op {
        Op::Dense { .. } | Op::Conv { .. } | Op::ConvTranspose { .. } => &["kernel", "bias"],
        Op::Depthwise { .. } => &["depthwise", "bias"],
        Op::Separable { .. } => &["depthwise", "pointwise", "bias"],
        Op::Folded { inner, .. } => return quantizer_names(inner),
        Op::BatchNorm(_) => &["gamma", "beta", "mean", "variance", "inverse"],
        Op::Rnn { .. } => &["kernel", "recurrent", "bias", "state"],
        Op::Bidirectional { .. } => &[
            "forward kernel", "forward recurrent", "forward bias", "forward state",
            "backward kernel", "backward recurrent", "backward bias", "backward state",
        ],
        Op::Pool { .. } | Op::GlobalPool { .. } => &["average"],
        Op::ScaleShift { .. } => &["weight", "bias"],
        _ => &[],
    };
    let n = quantizers(op).len();
    (0..n).map(|i| names.get(i).map_or(format!("quantizer {i}"), |s| s.to_string())).collect()
}

fn activation_str(a: &Activation) -> String {
    match a {
        Activation::Linear => "linear".into(),
        Activation::Quantized(q) => q.spec.clone(),
        Activation::Float(f) => format!("{f} (float)"),
    }
}

pub fn inspect(g: &Graph) -> Result<ModelInfo> {
    let tensors = hw_tensors(g)?;
    // Every layer's exact output format, where the golden model runs it.
    let planned = crate::golden::hardware_plan(g, None, &Default::default());
    let skipped = g.layers.iter().filter(|l| matches!(l.op, crate::ir::Op::Skipped { .. })).count();
    let refused = match &planned {
        Err(_) if skipped > 0 => Some(format!("{skipped} layer(s) qkhw does not build (marked \"not built\")")),
        Err(e) => Some(e.to_string()),
        Ok(_) => None,
    };
    let plan = planned.ok().map(|p| p.0);
    let plan_fmt = |name: &str| {
        plan.as_ref().and_then(|p| p.steps.iter().rev().find(|s| s.layer.as_deref() == Some(name)).map(|s| s.fmt.to_string()))
    };
    let sp = sparsity(g)?;
    let mut layers = vec![];
    for l in &g.layers {
        let weights: Vec<WeightInfo> = tensors
            .iter()
            .filter(|w| w.layer == l.name)
            .map(|w| WeightInfo {
                tensor: w.tensor.clone(),
                shape: w.shape.clone(),
                format: weight_format(w),
                zeros: (0..w.codes.len()).filter(|&i| w.value(i) == 0.0).count(),
            })
            .collect();
        let output_format = match &l.activation {
            Activation::Quantized(q) => q.encoding().map(|e| encoding_str(&e)),
            _ => None,
        }
        .or_else(|| plan_fmt(&l.name));
        layers.push(LayerInfo {
            name: l.name.clone(),
            class: l.class.clone(),
            inputs: l.inputs.iter().map(|i| g.layers[i.0].name.clone()).collect(),
            input_shapes: l.in_shapes.clone(),
            output_shape: l.shape.clone(),
            quantizers: quantizers(&l.op).iter().map(|q| q.map(|q| q.spec.clone())).collect(),
            quantizer_names: quantizer_names(&l.op),
            activation: activation_str(&l.activation),
            output_format,
            weights,
            params: l.param_count(),
            macs: macs(l),
            sparsity: sp.layers.iter().find(|(n, ..)| n == &l.name).map(|(_, z, n)| crate::passes::sparsity::fraction(*z, *n)),
            not_built: match &l.op {
                crate::ir::Op::Skipped { why, .. } => {
                    let why = why.trim_start_matches(&format!("({}) ", l.class));
                    Some(why.split("; supported:").next().unwrap_or(why).to_string())
                }
                _ => None,
            },
        });
    }
    Ok(ModelInfo {
        model: g.name.clone(),
        source: g.source.display().to_string(),
        sha256: g.sha256.clone(),
        model_inputs: g.inputs.iter().map(|i| g.layers[i.0].name.clone()).collect(),
        params: layers.iter().map(|l| l.params).sum(),
        macs: layers.iter().map(|l| l.macs).sum(),
        sparsity: sp.total(),
        layers,
        refused,
    })
}

/// The human-readable table.
pub fn render(m: &ModelInfo) -> String {
    let mut s = format!("model {} ({}, sha256 {})\n", m.model, m.source, m.sha256);
    if m.model_inputs.len() > 1 {
        s += &format!("inputs in model order (positional --input arrays): {}\n", m.model_inputs.join(", "));
    }
    let shape = |v: &[usize]| format!("({})", v.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(","));
    let name_w = m.layers.iter().map(|l| l.name.chars().count()).max().unwrap_or(5).max(5);
    let class_w = m.layers.iter().map(|l| l.class.len()).max().unwrap_or(5).max(5);
    let ins = |l: &LayerInfo| l.input_shapes.iter().map(|v| shape(v)).collect::<Vec<_>>().join("+");
    let in_w = m.layers.iter().map(|l| ins(l).len()).max().unwrap_or(5).max(5);
    let out_w = m.layers.iter().map(|l| shape(&l.output_shape).len()).max().unwrap_or(6).max(6);
    let fmt_w = m.layers.iter().map(|l| l.output_format.as_deref().unwrap_or("-").chars().count()).max().unwrap_or(6).max(6);
    s += &format!(
        "{:<name_w$} {:<class_w$} {:<in_w$} {:<out_w$} {:<fmt_w$} {:>8} {:>10} {:>9}\n",
        "layer", "class", "input", "output", "format", "params", "MACs", "sparsity"
    );
    for l in &m.layers {
        s += &format!(
            "{:<name_w$} {:<class_w$} {:<in_w$} {:<out_w$} {:<fmt_w$} {:>8} {:>10} {:>9}\n",
            l.name,
            l.class,
            ins(l),
            shape(&l.output_shape),
            l.output_format.as_deref().unwrap_or("-"),
            l.params,
            l.macs,
            l.sparsity.map_or("-".into(), |x| format!("{:.1}%", 100.0 * x))
        );
        for (q, n) in l.quantizers.iter().zip(&l.quantizer_names) {
            if let Some(q) = q {
                s += &format!("    {n} quantizer: {q}\n");
            }
        }
        for w in &l.weights {
            let zeros = if w.zeros == 1 { "1 zero".to_string() } else { format!("{} zeros", w.zeros) };
            s += &format!("    {:<18} {:<12} {} ({zeros})\n", w.tensor, shape(&w.shape), w.format);
        }
        if l.activation != "linear" {
            s += &format!("    activation {}\n", l.activation);
        }
        if let Some(why) = &l.not_built {
            s += &format!("    not built by qkhw: {why}\n");
        }
    }
    s += &format!("total: {} parameters, {} MACs, sparsity {:.2}%\n", m.params, m.macs, 100.0 * m.sparsity);
    if let Some(e) = &m.refused {
        s += &format!("predict, gen and verify refuse this model: {e}\n");
    }
    s
}
