//! `qkhw dump` and `qkhw debug`: the golden model's per-layer outputs,
//! their ranges, and how often each requantizer saturates — QKeras's
//! `quantized_model_dump` and `quantized_model_debug`, on integer codes.

use std::fmt::Write as _;
use std::path::Path;

use super::{code_to_f32, predict, Keep, PredictOptions, Prediction};
use crate::error::{Error, Result};
use crate::ir::Graph;
use crate::npy::{self, Array};
use crate::passes::precision::{Act, StepOp};

fn file_name(layer: &str) -> String {
    layer.chars().map(|c| if c == '/' || c == '\\' || c == '\0' { '_' } else { c }).collect()
}

fn values(p: &Prediction, step: usize) -> Vec<f32> {
    let f = p.plan.steps[step].fmt.frac;
    p.run.codes(step).iter().map(|&c| code_to_f32(c, f)).collect()
}

/// Write `NAME.bin` (float32, C order, like `quantized_model_dump`) and
/// `NAME.codes.npy` (int64) for every layer, or those in `only`.
pub fn dump(g: &Graph, x: &Array<f32>, opts: &PredictOptions, dir: &Path, only: &[String]) -> Result<usize> {
    for name in only {
        if g.layer(name).is_none() {
            let all: Vec<&str> = g.layers.iter().map(|l| l.name.as_str()).collect();
            return Err(Error::Usage(format!("--layers: no layer `{name}`; the model has {}", all.join(", "))));
        }
    }
    let p = predict(g, &x.data, &x.shape, &PredictOptions { keep: Some(Keep::Layers), ..opts.clone() })?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut n = 0;
    for (i, s) in p.plan.steps.iter().enumerate() {
        let Some(layer) = &s.layer else { continue };
        if !only.is_empty() && !only.contains(layer) {
            continue;
        }
        let v = values(&p, i);
        let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
        let bin = dir.join(format!("{}.bin", file_name(layer)));
        std::fs::write(&bin, bytes).map_err(|e| Error::io(&bin, e))?;
        let mut shape = vec![x.shape[0]];
        shape.extend(&s.shape);
        let codes: Vec<i64> = p.run.codes(i).iter().map(|&c| i64::try_from(c).unwrap_or(if c < 0 { i64::MIN } else { i64::MAX })).collect();
        if s.fmt.width > 64 {
            return Err(Error::Usage(format!("layer `{layer}`: {} codes do not fit in int64", s.fmt)));
        }
        npy::write(&dir.join(format!("{}.codes.npy", file_name(layer))), &npy::encode_i64(&shape, &codes))?;
        n += 1;
    }
    Ok(n)
}

/// How many of a requantizer's inputs fell outside its range (clamped).
fn saturated(p: &Prediction, step: usize) -> Option<usize> {
    let s = &p.plan.steps[step];
    let StepOp::Act(a) = &s.op else { return None };
    let x = s.inputs[0];
    let in_frac = p.plan.steps[x].fmt.frac;
    match a {
        Act::Grid { out_frac, min, max } => {
            let d = in_frac - out_frac;
            Some(
                p.run
                    .codes(x)
                    .iter()
                    .filter(|&&c| {
                        let r = if d >= 0 {
                            crate::fxp::round_shift_right(c, d.min(200) as u32, crate::fxp::Rounding::TiesEven)
                        } else {
                            c.saturating_mul(1i128 << (-d).min(100))
                        };
                        r < *min || r > *max
                    })
                    .count(),
            )
        }
        // Other quantizers: outputs at either end of their range.
        Act::Generic { .. } => Some(p.run.codes(step).iter().filter(|&&c| c == s.lo || c == s.hi).count()),
        Act::Requant { .. } | Act::Float { .. } => Some(p.run.codes(step).iter().filter(|&&c| c == s.fmt.min_code() || c == s.fmt.max_code()).count()),
        Act::Relu => None,
    }
}

/// The per-layer report; with `plot`, one SVG histogram per layer.
pub fn debug(g: &Graph, x: &Array<f32>, opts: &PredictOptions, plot: Option<&Path>) -> Result<String> {
    let p = predict(g, &x.data, &x.shape, &PredictOptions { keep: Some(Keep::All), ..opts.clone() })?;
    let tensors = crate::passes::hw_tensors::hw_tensors(g)?;
    let mut out = String::new();
    let (lo, hi) = x.data.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let _ = writeln!(out, "{:<24} {:>12} {:>12}  {:<16} {:>10}  weights", "layer", "min", "max", "format", "saturated");
    let _ = writeln!(out, "{:<24} {:>12.6} {:>12.6}  {:<16}", "input", lo, hi, p.input_format.to_string());
    if let Some(d) = plot {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    for (i, s) in p.plan.steps.iter().enumerate() {
        let Some(layer) = &s.layer else { continue };
        let v = values(&p, i);
        let (a, b) = v.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        let sat = saturated(&p, i).map_or("-".to_string(), |k| format!("{k}/{}", v.len()));
        let ws: Vec<String> = tensors
            .iter()
            .filter(|w| &w.layer == layer)
            .map(|w| {
                let vals: Vec<f64> = (0..w.codes.len()).map(|k| w.value(k)).collect();
                let (l, h) = vals.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
                format!("{} [{l:.4}, {h:.4}]", w.tensor)
            })
            .collect();
        let _ = writeln!(out, "{:<24} {:>12.6} {:>12.6}  {:<16} {:>10}  {}", layer, a, b, s.fmt.to_string(), sat, ws.join(" "));
        if let Some(d) = plot {
            histogram(&d.join(format!("{}.svg", file_name(layer))), layer, &v)?;
        }
    }
    for n in &p.plan.notices {
        let _ = writeln!(out, "note: {n}");
    }
    Ok(out)
}

fn histogram(path: &Path, title: &str, v: &[f32]) -> Result<()> {
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
    let root = SVGBackend::new(path, (640, 400)).into_drawing_area();
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
    Ok(())
}
