//! `model.weights.h5` as Keras 3 writes it, through `hdf5-pure`'s writer:
//! `layers/<key>/vars/<i>` per layer, nested objects (a folded layer's
//! `batchnorm`, an RNN's `cell`) as child groups with their own `vars`, each
//! `vars` group naming its object in a `name` attribute, and the model's
//! own (empty) `vars` at the root. Keras finds a layer's weights by `key`,
//! which it derives from the class name ([`keras_key`]), not from the layer
//! name: a Dense turned QDense moves from `layers/dense` to `layers/q_dense`.

use std::collections::BTreeMap;

use hdf5_pure::{AttrValue, FileBuilder, GroupBuilder};

use super::Tensor;
use crate::error::{Error, Result};

/// One saved variable.
#[derive(Debug, Clone, PartialEq)]
pub enum Var {
    F32(Tensor),
    /// A scalar int64 (QConv2DBatchnorm's `iteration`).
    I64(i64),
}

/// One layer's group: its key under `layers/`, the name stored in its
/// `vars`, and its variables by path (`0`, `iteration`, `batchnorm/2`,
/// `cell/1`), in Keras order within each group.
#[derive(Debug, Clone)]
pub struct LayerVars {
    pub key: String,
    pub name: String,
    pub vars: Vec<(String, Var)>,
}

/// Keras's `naming.to_snake_case` of a class name: `QConv2DBatchnorm` →
/// `q_conv2d_batchnorm`, `QLSTM` → `qlstm`.
pub fn snake_case(class: &str) -> String {
    let s: Vec<char> = class.chars().filter(|c| c.is_alphanumeric() || *c == '_').collect();
    // re.sub("(.)([A-Z][a-z]+)", r"\1_\2"): a capital followed by lower-case
    // letters starts a word (not at position 0). Python's re scans left to
    // right without overlap: each match consumes the preceding character.
    let mut a = String::new();
    let mut i = 0;
    while i < s.len() {
        if i + 1 < s.len() && s[i + 1].is_ascii_uppercase() && s.get(i + 2).is_some_and(|c| c.is_ascii_lowercase()) {
            a.push(s[i]);
            a.push('_');
            let mut j = i + 1;
            a.push(s[j]);
            j += 1;
            while j < s.len() && s[j].is_ascii_lowercase() {
                a.push(s[j]);
                j += 1;
            }
            i = j;
        } else {
            a.push(s[i]);
            i += 1;
        }
    }
    // re.sub("([a-z])([A-Z])", r"\1_\2").lower()
    let a: Vec<char> = a.chars().collect();
    let mut b = String::new();
    let mut k = 0;
    while k < a.len() {
        b.push(a[k]);
        if a[k].is_ascii_lowercase() && a.get(k + 1).is_some_and(|c| c.is_ascii_uppercase()) {
            b.push('_');
            b.push(a[k + 1]);
            k += 2;
        } else {
            k += 1;
        }
    }
    b.to_lowercase()
}

/// The keys Keras's saver gives a list of objects: the snake-cased class,
/// `_1`, `_2`, ... for repeats.
pub fn keras_keys<'a>(classes: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    classes
        .into_iter()
        .map(|c| {
            let k = snake_case(c);
            match used.get_mut(&k) {
                Some(n) => {
                    *n += 1;
                    format!("{k}_{n}")
                }
                None => {
                    used.insert(k.clone(), 0);
                    k
                }
            }
        })
        .collect()
}

fn name_attr(name: &str) -> AttrValue {
    AttrValue::VarLenString(name.to_string())
}

/// Tensors by group path, so a group and its children are built together.
#[derive(Default)]
struct Node<'a> {
    vars: Vec<(&'a str, &'a Var)>,
    children: BTreeMap<&'a str, Node<'a>>,
}

fn build(g: &mut GroupBuilder, node: &Node, name: &str) -> Result<()> {
    let mut vars = g.create_group("vars");
    vars.set_attr("name", name_attr(name));
    for (n, v) in &node.vars {
        let ds = vars.create_dataset(n);
        match v {
            Var::F32(t) => {
                let shape: Vec<u64> = t.shape.iter().map(|&d| d as u64).collect();
                ds.with_f32_data(&t.data).with_shape(&shape);
            }
            Var::I64(x) => {
                ds.with_i64_data(&[*x]).with_shape(&[]);
            }
        }
    }
    g.add_group(vars.finish());
    for (cname, child) in &node.children {
        let mut c = g.create_group(cname);
        build(&mut c, child, &format!("{name}_{cname}"))?;
        g.add_group(c.finish());
    }
    Ok(())
}

/// The bytes of a `model.weights.h5` holding `layers`, for a model named
/// `model_name`.
pub fn weights_file(model_name: &str, layers: &[LayerVars]) -> Result<Vec<u8>> {
    let mut f = FileBuilder::new();
    let mut top = f.create_group("layers");
    for l in layers {
        let mut root = Node::default();
        for (path, v) in &l.vars {
            let mut node = &mut root;
            let mut parts: Vec<&str> = path.split('/').collect();
            let leaf = parts.pop().unwrap_or_default();
            for p in parts {
                node = node.children.entry(p).or_default();
            }
            node.vars.push((leaf, v));
        }
        let mut g = top.create_group(&l.key);
        build(&mut g, &root, &l.name)?;
        top.add_group(g.finish());
    }
    f.add_group(top.finish());
    let mut vars = f.create_group("vars");
    vars.set_attr("name", name_attr(model_name));
    f.add_group(vars.finish());
    f.finish().map_err(|e| Error::Internal(format!("hdf5 writer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys Keras 3.15 wrote for these classes (`h5py` listing of
    /// saved files).
    #[test]
    fn keys_are_keras_snake_case() {
        let c = ["InputLayer", "Conv2D", "BatchNormalization", "QConv2DBatchnorm", "QDepthwiseConv2DBatchnorm", "QLSTM", "ReLU", "Dense", "Dense", "QDense", "QActivation", "DepthwiseConv2D", "QBatchNormalization"];
        assert_eq!(
            keras_keys(c),
            [
                "input_layer", "conv2d", "batch_normalization", "q_conv2d_batchnorm", "q_depthwise_conv2d_batchnorm", "qlstm", "re_lu", "dense", "dense_1",
                "q_dense", "q_activation", "depthwise_conv2d", "q_batch_normalization"
            ]
        );
        assert_eq!(snake_case("GlobalAveragePooling2D"), "global_average_pooling2d");
        assert_eq!(snake_case("QGlobalAveragePooling2D"), "q_global_average_pooling2d");
        assert_eq!(snake_case("SimpleRNN"), "simple_rnn");
        assert_eq!(snake_case("QSimpleRNN"), "q_simple_rnn");
        assert_eq!(snake_case("Conv2DTranspose"), "conv2d_transpose");
        // Python's to_snake_case on these (Keras 3.15.1):
        for (c, k) in [
            ("LeakyReLU", "leaky_re_lu"), ("QBidirectional", "q_bidirectional"), ("QSeparableConv2D", "q_separable_conv2d"), ("QGRU", "qgru"),
            ("QAveragePooling2D", "q_average_pooling2d"), ("QConv1D", "q_conv1d"), ("InputLayer", "input_layer"),
        ] {
            assert_eq!(snake_case(c), k);
        }
    }
}
