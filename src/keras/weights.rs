//! Weights per layer, in Keras's own variable order (`layer.get_weights()`),
//! from the two HDF5 layouts Keras writes.

use std::collections::BTreeMap;
use std::path::Path;

use hdf5_pure::Group;

use super::h5;
use super::Tensor;
use crate::error::Result;

/// Layer name → its float tensors, named, in Keras order.
pub type LayerWeights = BTreeMap<String, Vec<(String, Tensor)>>;

/// Keras 3 (`model.weights.h5` in a `.keras`, or `save_weights`):
/// `layers/<object key>/vars/<i>`, the real layer name in the `name`
/// attribute of `vars`; nested layers (a folded layer's `batchnorm`, an
/// RNN's `cell`, a Bidirectional's two directions) are child groups.
/// `what` names the weights file in errors (`model.weights.h5` in a
/// `.keras`).
pub fn keras3(root: &Group, path: &Path, what: &str) -> Result<LayerWeights> {
    let layers = h5::group(root, "layers", path, None)?;
    let (keys, _) = h5::children(&layers, path, None)?;
    let mut out = LayerWeights::new();
    for key in keys {
        let g = h5::group(&layers, &key, path, None)?;
        let vars = h5::group(&g, "vars", path, Some(&key))?;
        // The group's key is Keras's storage name, not the layer's: a
        // missing name says where, and that the file is corrupt.
        let group = format!("layers/{key}/vars");
        let corrupt = |fault: &str| h5::err(path, None, format!("{what} is corrupt or not written by Keras: group `{group}` {fault} (Keras stores the layer's name there)"));
        let name = h5::attr_strings(&vars, "name", path, None)
            .map_err(|_| corrupt("has an unreadable `name` attribute"))?
            .and_then(|v| v.into_iter().next())
            .ok_or_else(|| corrupt("has no `name` attribute"))?;
        let mut tensors = vec![];
        collect(&g, "", &name, path, &mut tensors)?;
        if out.insert(name.clone(), tensors).is_some() {
            return Err(h5::err(path, Some(&name), "two weight groups carry this layer name"));
        }
    }
    Ok(out)
}

/// The `layers/<key>` groups of a Keras 3 weights file (its bytes) with
/// the layer name each one's `vars` carries, sorted by key.
pub fn keras3_keys(bytes: Vec<u8>, path: &Path) -> Result<Vec<(String, String)>> {
    let file = h5::open(path, bytes, "model.weights.h5")?;
    let layers = h5::group(&file.root(), "layers", path, None)?;
    let (mut keys, _) = h5::children(&layers, path, None)?;
    keys.sort();
    let mut out = vec![];
    for key in keys {
        let g = h5::group(&layers, &key, path, None)?;
        let vars = h5::group(&g, "vars", path, Some(&key))?;
        let name = h5::attr_strings(&vars, "name", path, Some(&key))?.and_then(|v| v.into_iter().next()).unwrap_or_default();
        out.push((key, name));
    }
    Ok(out)
}

/// Order of nested groups: what Keras tracks first comes first.
fn nested_rank(name: &str) -> usize {
    ["batchnorm", "cell", "forward_layer", "backward_layer"].iter().position(|n| *n == name).unwrap_or(4)
}

fn collect(g: &Group, prefix: &str, layer: &str, path: &Path, out: &mut Vec<(String, Tensor)>) -> Result<()> {
    let (mut groups, _) = h5::children(g, path, Some(layer))?;
    if groups.iter().any(|n| n == "vars") {
        let vars = h5::group(g, "vars", path, Some(layer))?;
        let (_, mut ds) = h5::children(&vars, path, Some(layer))?;
        // `0, 1, …, 10` numerically; named extras (`iteration`) after.
        ds.sort_by_key(|n| (n.parse::<u64>().map_err(|_| n.clone()), n.clone()));
        for d in ds {
            if let Some(t) = h5::tensor(&vars, &d, path, layer)? {
                out.push((format!("{prefix}{d}"), t));
            }
        }
    }
    groups.retain(|n| n != "vars");
    groups.sort_by_key(|n| (nested_rank(n), n.clone()));
    for n in groups {
        let sub = h5::group(g, &n, path, Some(layer))?;
        collect(&sub, &format!("{prefix}{n}/"), layer, path, out)?;
    }
    Ok(())
}

/// Legacy HDF5 (Keras 2 `model.save("x.h5")`, Keras 3's legacy writer and
/// `save_weights("x.h5")`): `layer_names` on the group, `weight_names` on
/// each layer's group, datasets at `<layer>/<weight name>`.
pub fn legacy(g: &Group, path: &Path) -> Result<LayerWeights> {
    let names = h5::attr_strings(g, "layer_names", path, None)?
        .ok_or_else(|| h5::err(path, None, "no `layer_names` attribute: not a Keras weights file"))?;
    let mut out = LayerWeights::new();
    for layer in names {
        let lg = h5::group(g, &layer, path, Some(&layer))?;
        let wnames = h5::attr_strings(&lg, "weight_names", path, Some(&layer))?.unwrap_or_default();
        let mut tensors = vec![];
        for w in wnames {
            if let Some(t) = h5::tensor(&lg, &w, path, &layer)? {
                let short = w.strip_prefix(&format!("{layer}/")).unwrap_or(&w);
                tensors.push((short.trim_end_matches(":0").to_string(), t));
            }
        }
        out.insert(layer, tensors);
    }
    Ok(out)
}
