//! `qkeras.utils.get_model_sparsity`: the fraction of zero weights per layer
//! and in total, after quantization, over the same default allow-list.

use super::hw_weights::{folded_weights, quantizers, has_get_quantizers};
use crate::error::{Context, Result};
use crate::ir::{Graph, Op};

/// QKeras's default allow-list (layers need a `quantizers` attribute too).
pub const ALLOW_LIST: &[&str] = &[
    "QDense", "Dense", "QConv1D", "Conv1D", "QConv2D", "Conv2D", "QDepthwiseConv2D", "DepthwiseConv2D",
    "QSeparableConv1D", "SeparableConv1D", "QSeparableConv2D", "SeparableConv2D", "QOctaveConv2D",
    "QSimpleRNN", "RNN", "QLSTM", "QGRU", "QConv2DTranspose", "Conv2DTranspose", "QConv2DBatchnorm",
    "QDepthwiseConv2DBatchnorm",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Sparsity {
    /// (layer, zeros, values) for each layer examined.
    pub layers: Vec<(String, usize, usize)>,
    pub zeros: usize,
    pub values: usize,
}

/// `mean(w == 0)` as Keras computes it: a float32 sum (exact below 2^24)
/// divided once, in float32.
pub fn fraction(zeros: usize, values: usize) -> f32 {
    if values == 0 { 0.0 } else { zeros as f32 / values as f32 }
}

impl Sparsity {
    pub fn total(&self) -> f32 {
        fraction(self.zeros, self.values)
    }
}

/// The weights QKeras examines: quantized ones as `model_save_quantized_weights`
/// leaves them, and for the two folded conv layers the folded weights of the
/// untouched model (QKeras does not write folded values back).
pub fn sparsity(g: &Graph) -> Result<Sparsity> {
    let mut out = Sparsity { layers: vec![], zeros: 0, values: 0 };
    for l in &g.layers {
        // QKeras's RNN wrappers and the quantizer-less Keras layers have no
        // `quantizers` attribute.
        let has_attr = has_get_quantizers(l) && !matches!(l.op, Op::Rnn { .. } | Op::Bidirectional { .. });
        // A layer qkhw does not build (`inspect` lists it) has no
        // quantized weights to count: it is left out, not counted raw.
        if !has_attr || !ALLOW_LIST.contains(&l.class.as_str()) || matches!(l.op, Op::Skipped { .. }) {
            continue;
        }
        let examined: Vec<Vec<f32>> = match &l.op {
            Op::Folded { bn, .. } if l.class != "QDenseBatchnorm" => {
                folded_weights(l, bn).into_iter().map(|t| t.data).collect()
            }
            _ => {
                let qs = quantizers(&l.op);
                l.weights
                    .iter()
                    .enumerate()
                    .map(|(i, w)| match qs.get(i).copied().flatten() {
                        Some(q) => q.apply_shaped(&w.tensor.data, &w.tensor.shape).in_layer(&g.source, &l.name),
                        None => Ok(w.tensor.data.clone()),
                    })
                    .collect::<Result<_>>()?
            }
        };
        let n: usize = examined.iter().map(Vec::len).sum();
        let z: usize = examined.iter().flatten().filter(|&&v| v == 0.0).count();
        out.layers.push((l.name.clone(), z, n));
        out.zeros += z;
        out.values += n;
    }
    Ok(out)
}
