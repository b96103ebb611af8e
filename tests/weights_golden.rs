//! `qkhw weights` against QKeras's own `model_save_quantized_weights` on
//! every example model: same layers, same keys, bit-equal float32 values.
//! Golden files: examples/models/*.weights.json (examples/models/make_models.py).

mod common;

use std::path::{Path, PathBuf};

use qkhw::ir::{BuildOptions, Graph};
use qkhw::passes::hw_weights::model_save_quantized_weights;
use serde_json::Value;

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models")
}

/// Every golden file with the model files it applies to.
fn cases() -> Vec<(PathBuf, Vec<PathBuf>)> {
    let mut out = vec![];
    let mut files: Vec<_> = std::fs::read_dir(models_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".weights.json") else { continue };
        let mut models = vec![];
        // The same model as .keras, legacy .h5, and model JSON + weights.
        for file in [format!("{stem}.keras"), format!("{stem}.h5"), format!("{stem}_json.json")] {
            let m = models_dir().join(file);
            if m.exists() {
                models.push(m);
            }
        }
        assert!(!models.is_empty(), "{name} has no model beside it");
        out.push((f, models));
    }
    out
}

fn f32_of(v: &Value) -> f32 {
    match v {
        Value::String(s) if s == "nan" => f32::NAN,
        Value::String(s) if s == "inf" => f32::INFINITY,
        Value::String(s) if s == "-inf" => f32::NEG_INFINITY,
        v => v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")) as f32,
    }
}

/// Compare a golden value with ours; returns a description of the first
/// difference.
fn diff(path: &str, gold: &Value, ours: &Value) -> Option<String> {
    match (gold, ours) {
        (Value::Object(g), Value::Object(o)) if g.contains_key("dtype") => {
            if g["shape"] != o["shape"] {
                return Some(format!("{path}: shape {} vs ours {}", g["shape"], o["shape"]));
            }
            let (gd, od) = (g["data"].as_array().unwrap(), o["data"].as_array().unwrap());
            for (i, (a, b)) in gd.iter().zip(od).enumerate() {
                let (a, b) = (f32_of(a), f32_of(b));
                let same = a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
                if !same {
                    let bad = gd.iter().zip(od).filter(|(a, b)| {
                        let (a, b) = (f32_of(a), f32_of(b));
                        !(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()))
                    });
                    return Some(format!("{path}[{i}]: QKeras {a:e} vs ours {b:e} ({} of {} differ)", bad.count(), gd.len()));
                }
            }
            None
        }
        (Value::Object(g), Value::Object(o)) => {
            let gk: Vec<&String> = g.keys().collect();
            let ok: Vec<&String> = o.keys().collect();
            if gk != ok {
                return Some(format!("{path}: keys {gk:?} vs ours {ok:?}"));
            }
            g.iter().find_map(|(k, v)| diff(&format!("{path}.{k}"), v, &o[k]))
        }
        (Value::Array(g), Value::Array(o)) => {
            if g.len() != o.len() {
                return Some(format!("{path}: {} entries vs ours {}", g.len(), o.len()));
            }
            g.iter().zip(o).enumerate().find_map(|(i, (a, b))| diff(&format!("{path}[{i}]"), a, b))
        }
        (g, o) if g == o => None,
        (g, o) => Some(format!("{path}: QKeras {g} vs ours {o}")),
    }
}

#[test]
fn weights_equal_qkeras_on_every_example_model() {
    let cases = cases();
    assert!(cases.len() >= 8, "expected the example models, found {}", cases.len());
    let mut failures = vec![];
    let mut checked = 0;
    for (golden, models) in &cases {
        let gold: Value = serde_json::from_slice(&std::fs::read(golden).unwrap()).unwrap();
        for m in models {
            let saved = match qkhw::keras::load(m) {
                Ok(s) => s,
                Err(e) => {
                    failures.push(format!("{}: {e}", m.display()));
                    continue;
                }
            };
            let ours = Graph::from_saved(&saved, BuildOptions::default()).and_then(|g| model_save_quantized_weights(&g));
            match ours {
                Err(e) => failures.push(format!("{}: {e}", m.display())),
                Ok(d) => {
                    if let Some(d) = diff(&m.file_name().unwrap().to_string_lossy(), &gold["weights"], &d.to_json()) {
                        failures.push(d);
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} differ:\n{}", failures.len(), failures.join("\n"));
    // 14 .keras, 2 legacy .h5, 1 JSON + weights.
    assert!(checked >= 17, "only {checked} model files compared");
}

/// The comparison can fail: one ulp in one value, a missing key, a changed
/// flag are each reported.
#[test]
fn comparison_detects_single_differences() {
    let m = models_dir().join("cnn_bn.keras");
    let g = qkhw::load_graph(&m, BuildOptions::default()).unwrap();
    let ours = model_save_quantized_weights(&g).unwrap().to_json();
    assert_eq!(diff("x", &ours, &ours), None);
    let mut one_ulp = ours.clone();
    let v = &mut one_ulp["conv1"]["bn_inv"]["data"][2];
    let f = v.as_f64().unwrap() as f32;
    *v = serde_json::json!(f32::from_bits(f.to_bits() + 1) as f64);
    assert!(diff("x", &ours, &one_ulp).unwrap().contains("conv1.bn_inv[2]"));
    let mut flag = ours.clone();
    flag["bn1"]["enable_bn_fusing"] = serde_json::json!(false);
    assert!(diff("x", &ours, &flag).is_some());
    let mut key = ours.clone();
    key["conv1"].as_object_mut().unwrap().remove("fused_bias");
    assert!(diff("x", &ours, &key).is_some());
}

/// Models with layers qkhw does not build (TimeDistributed, Masking, a
/// keras Bidirectional, a recurrent layer's initial_state;
/// tests/golden/gen_weights_skipped.py): QKeras's dict has only the
/// layers with quantizers, and `qkhw weights` gives the same dict,
/// leaving out the same layers with a note (it refused the whole model).
/// Everything else still refuses them; a layer with quantizers that qkhw
/// cannot build is refused by `weights` too, since QKeras's dict has it.
#[test]
fn weights_leave_out_the_layers_qkeras_leaves_out() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/weights_skipped");
    let mut checked = 0;
    for name in ["timedistributed", "masking", "keras_bidirectional", "initial_state", "return_state"] {
        let gold: Value = serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.weights.json"))).unwrap()).unwrap();
        let model = dir.join(format!("{name}.keras"));
        assert!(qkhw::load_graph(&model, BuildOptions::default()).is_err(), "{name}: built without keeping layers unbuilt");
        let g = qkhw::load_graph(&model, BuildOptions { skip_unsupported: true, ..Default::default() }).unwrap();
        let ours = model_save_quantized_weights(&g).unwrap().to_json();
        assert_eq!(diff(name, &gold["weights"], &ours), None);
        checked += 1;
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_qkhw")).arg("weights").arg(&model).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{name}: {err}");
        let left_out = ["td", "mask", "bi"].iter().any(|l| err.contains(&format!("note: layer `{l}`")) && err.contains("quantizes no weights, so QKeras's dict has no entry for it"));
        assert_eq!(left_out, !["initial_state", "return_state"].contains(&name), "{name}: {err}");
        // A read of a return_state state: the QLSTM is built (its weights
        // are in the dict), the read is not; QKeras's own call raises.
        assert_eq!(err.contains("raises on this model") && err.contains("`qlstm`"), name == "return_state", "{name}: {err}");
    }
    assert_eq!(checked, 5);
    // Everything else refuses the read of a state, naming reader and layer.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_qkhw")).arg("inspect").arg(dir.join("return_state.keras")).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && out.contains("layer `cat` reads output 1 of layer `qlstm`"), "{out}");
    // A QConv2D with groups: QKeras's dict has it, qkhw cannot compute it.
    let tmp = std::env::temp_dir().join(format!("qkhw-wskip-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let grouped = tmp.join("grouped.keras");
    common::edit_keras_config(&models_dir().join("cnn_bn.keras"), &grouped, |text| text.replacen("\"groups\": 1", "\"groups\": 2", 1));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_qkhw")).arg("weights").arg(&grouped).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("layer `conv1`") && err.contains("groups"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// `signs` as QKeras lines it up (`tests/golden/gen_weights_edges.py`):
/// an auto_po2 weight adds no entry there, so a layer with an auto_po2
/// kernel and a po2 bias has one sign array, not `[[], signs]` (a
/// cross-check found qkhw padding it).
#[test]
fn signs_have_no_entry_for_auto_po2_weights_as_in_qkeras() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/weights_edges");
    for name in ["po2_bias", "bn_nocenter"] {
        let gold: Value = serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.weights.json"))).unwrap()).unwrap();
        let g = qkhw::load_graph(dir.join(format!("{name}.keras")), BuildOptions::default()).unwrap();
        let ours = model_save_quantized_weights(&g).unwrap().to_json();
        assert_eq!(diff(name, &gold["weights"], &ours), None);
    }
}

/// Every ROM `qkhw rom` writes of a layer in QKeras's dict is named by the
/// dict's key for the same values (cross-check batch 11: the average
/// pooling's quantized 1/area was named `mult_factor`, which QKeras's dict
/// gives to the float 1/area; its quantized value is `q_mult_factor`).
#[test]
fn rom_tensors_are_named_by_qkeras_dict_keys() {
    let mut named = 0;
    let mut failures = vec![];
    for (golden, models) in cases() {
        let gold: Value = serde_json::from_slice(&std::fs::read(&golden).unwrap()).unwrap();
        let g = qkhw::load_graph(&models[0], BuildOptions::default()).unwrap();
        for t in qkhw::passes::hw_tensors::hw_tensors(&g).unwrap() {
            let Some(layer) = gold["weights"].get(&t.layer) else { continue };
            if t.tensor.contains('/') {
                continue;
            }
            match layer.get(&t.tensor) {
                Some(v) if v.get("data").is_some() => {
                    let data: Vec<f32> = v["data"].as_array().unwrap().iter().map(f32_of).collect();
                    if data.len() == t.codes.len() && data.iter().enumerate().all(|(i, &x)| x == t.value(i) as f32) {
                        named += 1;
                    } else {
                        failures.push(format!("{}: {}.{}: other values than the dict's", models[0].display(), t.layer, t.tensor));
                    }
                }
                // QKeras lists kernels and biases under `weights`, unnamed;
                // a standalone batch norm's tables are qkhw's own.
                _ if t.tensor.ends_with("kernel") || t.tensor.ends_with("bias") || t.tensor.ends_with("weight") || t.tensor == "bn_inv" => {}
                _ => failures.push(format!("{}: {}.{}: no such key in QKeras's dict", models[0].display(), t.layer, t.tensor)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(named >= 3, "{named}");
}
