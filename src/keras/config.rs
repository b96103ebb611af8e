//! The model config (`config.json`, the `model_config` attribute, or
//! `model.to_json()`) as a list of layers and their producers. Keras 2 and
//! Keras 3 write the graph differently; both end up here as names.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// One layer as saved: class, its config object and the layers it reads.
#[derive(Debug, Clone)]
pub struct LayerSpec {
    pub name: String,
    pub class: String,
    pub config: Map<String, Value>,
    /// Producers, in argument order (empty for an InputLayer).
    pub inbound: Vec<String>,
    /// The shape (without the batch axis) of each tensor read, where the
    /// file says (Keras 3 writes it beside every producer's name).
    pub read_shapes: Vec<Option<Vec<usize>>>,
}

#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub name: String,
    pub layers: Vec<LayerSpec>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// Objects as Keras 3 loads them: an object saved with a
/// `shared_object_id` (a quantizer instance passed to several layers) is
/// built once, from the first config carrying the id, and every later
/// config with that id gets the same object whatever it says. Each later
/// config is replaced by the first one here and the ids are dropped, so
/// qkhw reads what Keras loads, and a file written from the result (`qkhw
/// freeze`, which gives each layer its own scale) loads as qkhw read it.
pub fn unshare(v: &mut Value) {
    fn walk(v: &mut Value, first: &mut std::collections::HashMap<String, Value>) {
        match v {
            Value::Object(m) => {
                if let Some(id) = m.remove("shared_object_id") {
                    let key = id.to_string();
                    if let Some(f) = first.get(&key) {
                        *v = f.clone();
                        return;
                    }
                    for (_, x) in m.iter_mut() {
                        walk(x, first);
                    }
                    first.insert(key, v.clone());
                    return;
                }
                for (_, x) in m.iter_mut() {
                    walk(x, first);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, first)),
            _ => {}
        }
    }
    walk(v, &mut Default::default());
}

fn err(path: &Path, layer: Option<&str>, msg: impl Into<String>) -> Error {
    Error::Model { path: path.to_path_buf(), layer: layer.map(str::to_string), msg: msg.into() }
}

pub fn parse(v: &Value, path: &Path) -> Result<ModelSpec> {
    let class = v.get("class_name").and_then(Value::as_str).unwrap_or("");
    let cfg = v
        .get("config")
        .and_then(Value::as_object)
        .ok_or_else(|| err(path, None, "model config has no `config` object"))?;
    let name = cfg.get("name").and_then(Value::as_str).unwrap_or("model").to_string();
    let layers = cfg
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| err(path, None, "model config has no `layers` list"))?;
    match class {
        "Sequential" => sequential(name, v, cfg, layers, path),
        "Functional" | "Model" => functional(name, cfg, layers, path),
        other => Err(err(path, None, format!("model class `{other}` is not Sequential or Functional"))),
    }
}

fn layer_head(l: &Value, path: &Path) -> Result<(String, String, Map<String, Value>)> {
    let class = l
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| err(path, None, "a layer without `class_name`"))?;
    // Keras 3's legacy writer saves the registered name, `qkeras>QDense`.
    let class = class.rsplit('>').next().unwrap_or(class).to_string();
    let config = l.get("config").and_then(Value::as_object).cloned().unwrap_or_default();
    let name = l
        .get("name")
        .or_else(|| config.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| err(path, None, format!("a `{class}` layer without a name")))?
        .to_string();
    Ok((name, class, config))
}

fn sequential(name: String, model: &Value, cfg: &Map<String, Value>, layers: &[Value], path: &Path) -> Result<ModelSpec> {
    let mut out: Vec<LayerSpec> = vec![];
    for l in layers {
        let (lname, class, config) = layer_head(l, path)?;
        if out.is_empty() && class != "InputLayer" {
            // No InputLayer saved: the first layer's (Keras 2) or the
            // model's (Keras 3) build shape says what the input is.
            let shape = config
                .get("batch_input_shape")
                .or_else(|| config.get("batch_shape"))
                .or_else(|| model.pointer("/build_config/input_shape"))
                .or_else(|| cfg.get("build_input_shape"))
                .cloned()
                .ok_or_else(|| err(path, Some(&lname), "Sequential model without an input shape"))?;
            let mut ic = Map::new();
            ic.insert("batch_shape".into(), shape);
            out.push(LayerSpec { name: format!("{name}_input"), class: "InputLayer".into(), config: ic, inbound: vec![], read_shapes: vec![] });
        }
        // A Sequential model hands a layer's whole output on: the states of
        // a `return_state` layer would go with it.
        if config.get("return_state").and_then(Value::as_bool) == Some(true) || config.get("layer").and_then(|v| v.pointer("/config/return_state")).and_then(Value::as_bool) == Some(true) {
            return Err(err(path, Some(&lname), "`return_state=True` in a Sequential model (its output is a list with the states); qkhw takes return_state only in functional models, where only output 0 is read"));
        }
        let inbound = out.last().map(|p| vec![p.name.clone()]).unwrap_or_default();
        // Keras 3 saves the shape each layer was built for.
        let built = l.pointer("/build_config/input_shape").and_then(Value::as_array).and_then(|a| {
            a.iter().skip(1).map(|d| d.as_u64().map(|d| d as usize)).collect::<Option<Vec<usize>>>()
        });
        out.push(LayerSpec { name: lname, class, config, inbound, read_shapes: vec![built] });
    }
    let first = out.first().ok_or_else(|| err(path, None, "model has no layers"))?.name.clone();
    let last = out.last().map(|l| l.name.clone()).unwrap_or_default();
    // A last layer with several output tensors gives the model as many
    // outputs (no layer could have read its list).
    let outputs = if split_layers(&out).contains(&last.as_str()) { vec![(last.clone(), 0, None), (last, 1, None)] } else { vec![(last, 0, None)] };
    let layers = out.into_iter().map(|l| {
        let read = l.inbound.iter().zip(&l.read_shapes).map(|(p, s)| (p.clone(), 0, s.clone())).collect();
        (l, read)
    });
    resolve(name, layers.collect(), vec![first], outputs, path)
}

/// A tensor read: producer name, the index of the producer's output
/// tensor, and the tensor's shape without the batch axis where saved.
type Read = (String, u64, Option<Vec<usize>>);

/// Producer names (with the index of the producer's output tensor and
/// the tensor's shape) in the order Keras 3 lists `__keras_tensor__`
/// arguments.
fn keras3_history(v: &Value, out: &mut Vec<Read>) {
    match v {
        Value::Object(o) => {
            if o.get("class_name").and_then(Value::as_str) == Some("__keras_tensor__") {
                if let Some(n) = v.pointer("/config/keras_history/0").and_then(Value::as_str) {
                    let shape = v.pointer("/config/shape").and_then(Value::as_array).and_then(|a| {
                        a.iter().skip(1).map(|d| d.as_u64().map(|d| d as usize)).collect::<Option<Vec<usize>>>()
                    });
                    out.push((n.to_string(), v.pointer("/config/keras_history/2").and_then(Value::as_u64).unwrap_or(0), shape));
                }
                return;
            }
            o.values().for_each(|x| keras3_history(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| keras3_history(x, out)),
        _ => {}
    }
}

/// Layers with one output tensor per part of their output: a
/// `QBidirectional(merge_mode=None)` returns `[forward, backward]`. qkhw
/// computes such a layer as the concatenation of its parts (Keras's
/// `concat` along the last axis) and gives each part read a node of its
/// own, `NAME:K`, of class [`OUTPUT_PART`], that slices it out.
fn split_layers(layers: &[LayerSpec]) -> Vec<&str> {
    layers
        .iter()
        .filter(|l| l.class == "QBidirectional" && l.config.get("merge_mode").is_some_and(Value::is_null))
        .map(|l| l.name.as_str())
        .collect()
}

/// The class of the node standing for output tensor `index` of a layer
/// with `parts` output tensors (config `{"index": K, "parts": N}`). Not a
/// Python identifier, so no saved Keras class can be named so.
pub const OUTPUT_PART: &str = "qkhw:output";

/// The producers' names, with a read of output tensor K > 0 renamed to a
/// part node `NAME:K` (added to `parts` with why it cannot be built, if
/// so). A split layer's part (see [`split_layers`]) slices its tensor out;
/// any other layer's second (third, ...) output tensor (a recurrent
/// layer's `return_state`) is a part node that refuses to build, naming
/// the reader: every other layer qkhw takes has one output, so reading
/// tensor 0 in its place would compute something else without a word. As
/// a node it can be kept unbuilt, like any layer qkhw does not build, for
/// `weights` and `inspect`.
fn resolve_reads(read: Vec<Read>, split: &[&str], parts: &mut Vec<Part>, name: Option<&str>) -> Vec<String> {
    read.into_iter()
        .map(|(p, k, _)| {
            if k == 0 && !split.contains(&p.as_str()) {
                return p;
            }
            let refused = (!(split.contains(&p.as_str()) && k < 2)).then(|| {
                format!(
                    "{} reads output {k} of layer `{p}`, a layer with several output tensors (a recurrent layer's return_state states, say); qkhw takes layers with one output (output 0 of a return_state layer, both outputs of a QBidirectional with merge_mode=None)",
                    name.map_or("the model".to_string(), |n| format!("layer `{n}`"))
                )
            });
            if !parts.iter().any(|q| q.0 == p && q.1 == k) {
                parts.push((p.clone(), k, refused));
            }
            format!("{p}:{k}")
        })
        .collect()
}

/// A part node to add: producer, output tensor index, and why it cannot
/// be built (None: a split layer's part).
type Part = (String, u64, Option<String>);

/// The model with every read resolved (see [`resolve_reads`]): part nodes
/// go right after their layer.
fn resolve(name: String, layers: Vec<(LayerSpec, Vec<Read>)>, inputs: Vec<String>, outputs: Vec<Read>, path: &Path) -> Result<ModelSpec> {
    let specs: Vec<LayerSpec> = layers.iter().map(|(l, _)| l.clone()).collect();
    let split = split_layers(&specs);
    let mut parts = vec![];
    let mut out = Vec::with_capacity(layers.len());
    for (mut l, read) in layers {
        l.read_shapes = read.iter().map(|r| r.2.clone()).collect();
        l.inbound = resolve_reads(read, &split, &mut parts, Some(&l.name));
        out.push(l);
    }
    let outputs = resolve_reads(outputs, &split, &mut parts, None);
    for (p, k, refused) in parts {
        let at = out.iter().position(|l| l.name == p).map_or(out.len(), |i| i + 1);
        let at = at + out[at..].iter().take_while(|l| l.class == OUTPUT_PART && l.inbound == [p.clone()]).count();
        let mut config = Map::new();
        config.insert("index".into(), k.into());
        match refused {
            None => config.insert("parts".into(), 2.into()),
            Some(why) => config.insert("refused".into(), why.into()),
        };
        let name = format!("{p}:{k}");
        if out.iter().any(|l| l.name == name) {
            return Err(err(path, Some(&name), format!("a layer is named like qkhw's node for output {k} of `{p}`; rename it")));
        }
        out.insert(at, LayerSpec { name, class: OUTPUT_PART.into(), config, inbound: vec![p], read_shapes: vec![None] });
    }
    Ok(ModelSpec { name, layers: out, inputs, outputs })
}

fn inbound(l: &Value, name: &str, path: &Path) -> Result<Vec<Read>> {
    let nodes = match l.get("inbound_nodes") {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(err(path, Some(name), "`inbound_nodes` is not a list")),
    };
    if nodes.len() > 1 {
        return Err(err(path, Some(name), format!(
            "the layer is called {} times (a shared layer); qkhw supports each layer called once",
            nodes.len()
        )));
    }
    let Some(node) = nodes.first() else { return Ok(vec![]) };
    let mut out = vec![];
    match node {
        // Keras 3: {"args": [...], "kwargs": {...}}
        // A `mask` keyword (a Masking layer's, which qkhw refuses by name)
        // is not an input.
        Value::Object(o) => {
            for (k, v) in o {
                match (k.as_str(), v) {
                    ("kwargs", Value::Object(kw)) => kw.iter().filter(|(k, _)| *k != "mask").for_each(|(_, v)| keras3_history(v, &mut out)),
                    _ => keras3_history(v, &mut out),
                }
            }
        }
        // Keras 2: [["producer", node_index, tensor_index, {kwargs}], ...]
        Value::Array(items) => {
            for it in items {
                let p = it.get(0).and_then(Value::as_str).ok_or_else(|| {
                    err(path, Some(name), "an inbound node entry without a producer name")
                })?;
                out.push((p.to_string(), it.get(2).and_then(Value::as_u64).unwrap_or(0), None));
            }
        }
        _ => return Err(err(path, Some(name), "unreadable inbound node")),
    }
    Ok(out)
}

/// `["a", 0, 0]` or `[["a", 0, 0], ["b", 0, 0]]`.
fn endpoints(v: Option<&Value>, what: &str, path: &Path) -> Result<Vec<Read>> {
    let a = v.and_then(Value::as_array).ok_or_else(|| err(path, None, format!("model config has no `{what}`")))?;
    let entries: Vec<&Value> = if a.first().is_some_and(Value::is_string) { vec![v.unwrap_or(&Value::Null)] } else { a.iter().collect() };
    entries
        .iter()
        .map(|e| {
            let p = e.get(0).and_then(Value::as_str).map(str::to_string).ok_or_else(|| err(path, None, format!("unreadable `{what}` entry {e}")))?;
            Ok((p, e.get(2).and_then(Value::as_u64).unwrap_or(0), None))
        })
        .collect()
}

fn functional(name: String, cfg: &Map<String, Value>, layers: &[Value], path: &Path) -> Result<ModelSpec> {
    let mut out = vec![];
    for l in layers {
        let (lname, class, config) = layer_head(l, path)?;
        let read = inbound(l, &lname, path)?;
        out.push((LayerSpec { name: lname, class, config, inbound: vec![], read_shapes: vec![] }, read));
    }
    // An input is an InputLayer, read as itself.
    let inputs = endpoints(cfg.get("input_layers"), "input_layers", path)?.into_iter().map(|(n, _, _)| n).collect();
    let outputs = endpoints(cfg.get("output_layers"), "output_layers", path)?;
    resolve(name, out, inputs, outputs, path)
}

#[cfg(test)]
mod shared_tests {
    use super::*;

    /// Keras builds a shared object once, from the first config with its
    /// id; later configs with the id are ignored.
    #[test]
    fn a_shared_object_is_its_first_config() {
        let mut v: Value = serde_json::from_str(
            r#"{"layers": [
                {"q": {"class_name": "quantized_bits", "config": {"bits": 6}, "shared_object_id": 7}},
                {"q": {"class_name": "quantized_bits", "config": {"bits": 4}, "shared_object_id": 7}},
                {"q": {"class_name": "quantized_bits", "config": {"bits": 3}}}
            ]}"#,
        )
        .unwrap();
        unshare(&mut v);
        let bits: Vec<i64> = v["layers"].as_array().unwrap().iter().map(|l| l["q"]["config"]["bits"].as_i64().unwrap()).collect();
        assert_eq!(bits, [6, 6, 3]);
        assert!(!v.to_string().contains("shared_object_id"));
    }
}
