//! `qkhw predict` (the golden model on raw float inputs, default input
//! semantics) against QKeras's `model.predict` on every example model
//! (tests/golden/predict/, from tests/golden/gen_predict.py).

use std::path::{Path, PathBuf};

use qkhw::golden::{predict, Keep, PredictOptions};
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

/// (matching values, total values) of the model's output (logits where the
/// model ends in a float softmax), or the error qkhw gives.
fn agreement(c: &Case) -> Result<(usize, usize, Vec<(usize, f32, f32)>), String> {
    let g = qkhw::load_graph(root().join(c.meta["source_file"].as_str().unwrap()), BuildOptions::default()).map_err(|e| e.to_string())?;
    let x = qkhw::npy::read_f32(&c.dir.join("inputs.npy")).unwrap();
    let want = if c.dir.join("logits.npy").exists() { "logits.npy" } else { "outputs.npy" };
    let y = qkhw::npy::read_f32(&c.dir.join(want)).unwrap();
    let p = predict(&g, &x.data, &x.shape, &PredictOptions { keep: Some(Keep::Outputs), ..Default::default() }).map_err(|e| e.to_string())?;
    let ours = p.output_f32(0);
    assert_eq!(ours.len(), y.data.len(), "{}", c.name);
    let mut diffs = vec![];
    let mut same = 0;
    for (i, (&a, &b)) in ours.iter().zip(&y.data).enumerate() {
        if a == b {
            same += 1;
        } else {
            diffs.push((i, a, b));
        }
    }
    Ok((same, ours.len(), diffs))
}

#[test]
fn predict_agreement_report() {
    for c in cases() {
        match agreement(&c) {
            Ok((s, n, d)) => eprintln!("{}: {s}/{n} = {:.3}% {:?}", c.name, 100.0 * s as f64 / n as f64, &d[..d.len().min(3)]),
            Err(e) => eprintln!("{}: ERROR {e}", c.name),
        }
    }
}

/// Per-layer agreement on the first 32 samples (the per-layer golden files).
fn layer_agreement(c: &Case) -> Result<Vec<(String, usize, usize, f64)>, String> {
    let g = qkhw::load_graph(root().join(c.meta["source_file"].as_str().unwrap()), BuildOptions::default()).map_err(|e| e.to_string())?;
    let x = qkhw::npy::read_f32(&c.dir.join("inputs.npy")).unwrap();
    let per: usize = x.shape[1..].iter().product();
    let mut shape = x.shape.clone();
    shape[0] = 32;
    let p = predict(&g, &x.data[..32 * per], &shape, &PredictOptions { keep: Some(Keep::Layers), ..Default::default() }).map_err(|e| e.to_string())?;
    let mut out = vec![];
    for l in c.meta["layers"].as_array().unwrap() {
        let name = l["name"].as_str().unwrap();
        let Some(si) = p.plan.steps.iter().position(|s| s.layer.as_deref() == Some(name)) else { continue };
        let want = qkhw::npy::read_f32(&c.dir.join(l["file"].as_str().unwrap())).unwrap();
        let f = p.plan.steps[si].fmt.frac;
        let ours: Vec<f32> = p.run.codes(si).iter().map(|&v| qkhw::golden::code_to_f32(v, f)).collect();
        let same = ours.iter().zip(&want.data).filter(|(a, b)| a == b).count();
        let maxd = ours.iter().zip(&want.data).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
        out.push((name.to_string(), same, ours.len(), maxd));
    }
    Ok(out)
}

#[test]
fn layer_agreement_report() {
    for c in cases() {
        if let Ok(v) = layer_agreement(&c) {
            for (n, s, t, d) in v {
                if s != t {
                    eprintln!("{}/{n}: {s}/{t} max diff {d:e}", c.name);
                }
            }
        }
    }
}
