//! `qkhw dump` and `qkhw debug`: the golden model's per-layer outputs,
//! their ranges, and how often each requantizer saturates — QKeras's
//! `quantized_model_dump` and `quantized_model_debug`, on integer codes.

use std::fmt::Write as _;
use std::path::Path;

use crate::fxp::code_to_f32;
use super::{predict_inputs, Keep, PredictOptions, Prediction};
use crate::error::{Error, Result};
use crate::ir::Graph;
use crate::npy::{self, Array};
use crate::plan::{Act, StepOp};

/// The `(values, shape)` pairs `predict_inputs` takes.
fn arrays(xs: &[Array<f32>]) -> Vec<(&[f32], &[usize])> {
    xs.iter().map(|x| (x.data.as_slice(), x.shape.as_slice())).collect()
}

fn file_name(layer: &str) -> String {
    layer.chars().map(|c| if c == '/' || c == '\\' || c == '\0' { '_' } else { c }).collect()
}

/// A layer's output as QKeras computes it: the exact value of a quantized
/// one, the float32 evaluation of one after the last quantizer (as
/// `predict` gives the model's outputs).
fn values(p: &Prediction, step: usize) -> Vec<f32> {
    if !crate::plan::float_tail(&p.plan, step).is_empty() {
        return p.float_value(step);
    }
    let f = p.plan.steps[step].fmt.frac;
    p.run.codes(step).iter().map(|&c| code_to_f32(c, f)).collect()
}

/// One layer's output in a golden run: float32 values as QKeras computes
/// them and the exact integer codes (value = code x 2^-fmt.frac).
#[derive(Debug, Clone)]
pub struct LayerOutput {
    pub layer: String,
    /// (batch, *layer output shape).
    pub shape: Vec<usize>,
    pub fmt: crate::fxp::FixedFormat,
    pub values: Vec<f32>,
    pub codes: Vec<i128>,
}

/// Every layer's output (or those in `only`) on the inputs `x`, with the
/// golden model's notices and the input format used: what `dump` writes
/// and the Python package's `Model.dump` returns.
pub fn layer_outputs(g: &Graph, xs: &[Array<f32>], opts: &PredictOptions, only: &[String]) -> Result<(Vec<LayerOutput>, Vec<String>, Vec<crate::fxp::FixedFormat>)> {
    for name in only {
        if g.layer(name).is_none() {
            let all: Vec<&str> = g.layers.iter().map(|l| l.name.as_str()).collect();
            return Err(Error::Usage(format!("--layers: no layer `{name}`; the model has {}", all.join(", "))));
        }
    }
    let p = predict_inputs(g, &arrays(xs), &PredictOptions { keep: Some(Keep::Layers), ..opts.clone() })?;
    let batch = xs.first().map_or(0, |x| x.shape[0]);
    let mut outs = vec![];
    let mut notes = p.plan.notices.clone();
    let live = p.plan.live();
    for (i, s) in p.plan.steps.iter().enumerate() {
        let Some(layer) = &s.layer else { continue };
        if !only.is_empty() && !only.contains(layer) {
            continue;
        }
        if !live[i] {
            // The dropped float softmax: its "output" would be the logits
            // under the softmax's name.
            notes.push(format!("layer `{layer}`: not written (the float softmax at the output is dropped; the layer before it holds the logits)"));
            continue;
        }
        let mut shape = vec![batch];
        shape.extend(&s.shape);
        outs.push(LayerOutput { layer: layer.clone(), shape, fmt: s.fmt, values: values(&p, i), codes: p.run.codes(i).to_vec() });
    }
    Ok((outs, notes, p.input_formats))
}

/// Write `NAME.bin` (float32, C order, like `quantized_model_dump`) and
/// the integer codes for every layer, or those in `only`: `NAME.codes.npy`
/// (int64) where the layer's format is at most 64 bits wide, else two
/// planes, `NAME.codes.hi.npy` (int64) and `NAME.codes.lo.npy` (uint64),
/// with code = hi x 2^64 + lo. Nothing is written unless every file can be.
/// Returns the number of layers, the notes to print (wide layers, the
/// golden model's notices) and the input format used.
pub fn dump(g: &Graph, xs: &[Array<f32>], opts: &PredictOptions, dir: &Path, only: &[String]) -> Result<(usize, Vec<String>, Vec<crate::fxp::FixedFormat>)> {
    let (outs, mut notes, input_format) = layer_outputs(g, xs, opts, only)?;
    let mut out = crate::staging::Staged::new();
    out.dir(dir)?;
    let mut wide = vec![];
    for o in &outs {
        let name = file_name(&o.layer);
        let bytes: Vec<u8> = o.values.iter().flat_map(|f| f.to_le_bytes()).collect();
        out.write(&dir.join(format!("{name}.bin")), bytes)?;
        if o.codes.iter().all(|&c| i64::try_from(c).is_ok()) {
            let c: Vec<i64> = o.codes.iter().map(|&c| c as i64).collect();
            out.write(&dir.join(format!("{name}.codes.npy")), npy::encode_i64(&o.shape, &c))?;
        } else {
            let hi: Vec<i64> = o.codes.iter().map(|&c| (c >> 64) as i64).collect();
            let lo: Vec<u64> = o.codes.iter().map(|&c| c as u64).collect();
            out.write(&dir.join(format!("{name}.codes.hi.npy")), npy::encode_i64(&o.shape, &hi))?;
            out.write(&dir.join(format!("{name}.codes.lo.npy")), npy::encode_u64(&o.shape, &lo))?;
            wide.push(format!("{} ({})", o.layer, o.fmt));
        }
    }
    out.commit()?;
    if !wide.is_empty() {
        notes.push(format!(
            "codes wider than 64 bits, written as NAME.codes.hi.npy (int64) and NAME.codes.lo.npy (uint64), code = hi x 2^64 + lo: {}",
            wide.join(", ")
        ));
    }
    Ok((outs.len(), notes, input_format))
}

/// How often a quantizer clamped: inputs below its lowest and above its
/// highest output code, counted apart. A quantizer whose lowest code is 0
/// applied to signed inputs is a ReLU: its negatives are its function, not
/// saturation, and are reported as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clamps {
    pub low: usize,
    pub high: usize,
    /// `low` is a ReLU's zeroing of negatives.
    pub relu: bool,
}

fn clamps(p: &Prediction, step: usize) -> Option<Clamps> {
    let s = &p.plan.steps[step];
    let StepOp::Act(a) = &s.op else { return None };
    let x = s.inputs[0];
    let xs = &p.plan.steps[x];
    let in_frac = xs.fmt.frac;
    let count = |f: &dyn Fn(i128) -> std::cmp::Ordering, codes: &[i128]| {
        codes.iter().fold((0, 0), |(l, h), &c| match f(c) {
            std::cmp::Ordering::Less => (l + 1, h),
            std::cmp::Ordering::Greater => (l, h + 1),
            std::cmp::Ordering::Equal => (l, h),
        })
    };
    let (low, high, min) = match a {
        Act::Grid { out_frac, min, max } => {
            let d = in_frac - out_frac;
            let place = |c: i128| {
                let r = if d >= 0 {
                    crate::fxp::round_shift_right(c, d.min(200) as u32, crate::fxp::Rounding::TiesEven)
                } else {
                    c.saturating_mul(1i128 << (-d).min(100))
                };
                if r < *min { std::cmp::Ordering::Less } else if r > *max { std::cmp::Ordering::Greater } else { std::cmp::Ordering::Equal }
            };
            let (l, h) = count(&place, p.run.codes(x));
            (l, h, *min)
        }
        // Other quantizers: outputs at either end of their range.
        Act::Generic { .. } | Act::Mean { .. } => {
            let (l, h) = count(&|c: i128| if c == s.lo { std::cmp::Ordering::Less } else if c == s.hi { std::cmp::Ordering::Greater } else { std::cmp::Ordering::Equal }, p.run.codes(step));
            (l, h, s.lo)
        }
        Act::Requant { .. } | Act::Float { .. } => {
            let (mn, mx) = (s.fmt.min_code(), s.fmt.max_code());
            let (l, h) = count(&|c: i128| if c == mn { std::cmp::Ordering::Less } else if c == mx { std::cmp::Ordering::Greater } else { std::cmp::Ordering::Equal }, p.run.codes(step));
            (l, h, mn)
        }
        Act::Relu => (p.run.codes(x).iter().filter(|&&c| c < 0).count(), 0, 0),
    };
    let relu = min == 0 && xs.lo < 0;
    Some(Clamps { low, high, relu })
}

/// The per-layer report and the input format used; with `plot`, one SVG
/// histogram per layer.
pub fn debug(g: &Graph, xs: &[Array<f32>], opts: &PredictOptions, plot: Option<&Path>) -> Result<(String, Vec<crate::fxp::FixedFormat>)> {
    let p = predict_inputs(g, &arrays(xs), &PredictOptions { keep: Some(Keep::All), ..opts.clone() })?;
    let tensors = crate::passes::hw_tensors::hw_tensors(g)?;
    let mut out = String::new();
    let _ = writeln!(out, "{:<24} {:>12} {:>12}  {:<16} {:>16} {:>12}  weights", "layer", "min", "max", "format", "below range", "above range");
    // The float32 data of each input, at the format it was taken in.
    for ((x, f), i) in xs.iter().zip(&p.input_formats).zip(&g.inputs) {
        let (lo, hi) = x.data.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let name = if g.inputs.len() > 1 { format!("input `{}`", g.layers[i.0].name) } else { "input".to_string() };
        let _ = writeln!(out, "{:<24} {:>12.6} {:>12.6}  {:<16}", name, lo, hi, f.to_string());
    }
    let mut svgs = crate::staging::Staged::new();
    if let Some(d) = plot {
        svgs.dir(d)?;
    }
    for (i, s) in p.plan.steps.iter().enumerate() {
        let Some(layer) = &s.layer else { continue };
        let v = values(&p, i);
        let (a, b) = v.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        let (below, above) = match clamps(&p, i) {
            None => ("-".to_string(), "-".to_string()),
            Some(c) => (
                format!("{}/{}{}", c.low, v.len(), if c.relu { " relu" } else { "" }),
                format!("{}/{}", c.high, v.len()),
            ),
        };
        let ws: Vec<String> = tensors
            .iter()
            .filter(|w| &w.layer == layer)
            .map(|w| {
                let vals: Vec<f64> = (0..w.codes.len()).map(|k| w.value(k)).collect();
                let (l, h) = vals.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
                format!("{} [{l:.4}, {h:.4}]", w.tensor)
            })
            .collect();
        let _ = writeln!(out, "{:<24} {:>12.6} {:>12.6}  {:<16} {:>16} {:>12}  {}", layer, a, b, s.fmt.to_string(), below, above, ws.join(" "));
        if let Some(d) = plot {
            let path = d.join(format!("{}.svg", file_name(layer)));
            svgs.write(&path, histogram(&path, layer, &v)?)?;
        }
    }
    let _ = writeln!(out, "golden-model arithmetic of each linear step (for this input format, on this CPU):");
    for (i, k) in crate::golden::linear_kernels(&p.plan).iter().enumerate() {
        if let Some(k) = k {
            let _ = writeln!(out, "  {}: {k}", owner(&p.plan, i));
        }
    }
    let _ = writeln!(
        out,
        "below / above range: a quantizer's inputs under its lowest / over its highest output code, clamped to it (saturation); \"relu\" marks a ReLU's negatives, which it maps to 0 by definition"
    );
    for n in &p.plan.notices {
        let _ = writeln!(out, "note: {n}");
    }
    svgs.commit()?;
    Ok((out, p.input_formats.clone()))
}

/// The layer step `i` belongs to: its own, or that of the first layer
/// output it feeds.
fn owner(plan: &crate::plan::Plan, i: usize) -> String {
    let mut j = i;
    loop {
        if let Some(l) = &plan.steps[j].layer {
            return l.clone();
        }
        match plan.steps.iter().enumerate().skip(j + 1).find(|(_, s)| s.inputs.contains(&j)) {
            Some((k, _)) => j = k,
            None => return format!("step {i}"),
        }
    }
}

/// One histogram as SVG text (`path` only names it in errors).
fn histogram(path: &Path, title: &str, v: &[f32]) -> Result<String> {
    use plotters::prelude::*;
    let (lo, hi) = v.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let (lo, hi) = if lo.is_finite() && hi > lo { (lo as f64, hi as f64) } else { (lo as f64 - 0.5, lo as f64 + 0.5) };
    const BINS: usize = 25;
    let w = (hi - lo) / BINS as f64;
    let mut counts = [0u32; BINS];
    for &x in v {
        let k = (((x as f64 - lo) / w) as usize).min(BINS - 1);
        counts[k] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1);
    let e = |e: String| Error::Usage(format!("{}: {e}", path.display()));
    let mut svg = String::new();
    {
    let root = SVGBackend::with_string(&mut svg, (640, 400)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{title} (output)"), ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(lo..hi, 0u32..top + top / 10 + 1)
        .map_err(|x| e(x.to_string()))?;
    chart.configure_mesh().draw().map_err(|x| e(x.to_string()))?;
    chart
        .draw_series(counts.iter().enumerate().map(|(k, &c)| {
            let x0 = lo + k as f64 * w;
            Rectangle::new([(x0, 0), (x0 + w, c)], BLUE.mix(0.6).filled())
        }))
        .map_err(|x| e(x.to_string()))?;
    root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}
