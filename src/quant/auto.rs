//! QKeras's least-squares scale (`_get_least_squares_scale`) shared by the
//! auto-alpha paths of quantized_bits, quantized_linear, binary, ternary.

use super::ops::{self, EPS};
use super::tensor::{Groups, Scale};
use crate::fxp::pow2_f32;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LsMode {
    /// alpha = "auto": the least-squares scale itself.
    Plain,
    /// alpha = "auto_po2": rounded to a power of two, optionally clipped.
    Po2 { min: Option<i32>, max: Option<i32> },
}

/// The groups of the least-squares means: per element for a 1-D tensor,
/// else per `scale_axis` (default: the last), in blocks of
/// `elements_per_scale` (`_get_scale_mean`).
pub fn ls_groups(scale_axis: Option<usize>, elements_per_scale: Option<usize>, shape: &[usize]) -> Result<Groups, String> {
    match (shape.len(), scale_axis, elements_per_scale) {
        (0 | 1, _, _) => Ok(Groups::PerElement),
        (_, Some(axis), Some(block)) => Groups::blocks(axis, block, shape),
        (n, axis, _) => Ok(Groups::scaling_axis(axis, n)),
    }
}

/// `scale = mean(x*q) / (mean(q*q) + eps)` per group, then the po2 rounding.
pub fn least_squares(x: &[f32], q: &[f32], shape: &[usize], groups: Groups, mode: LsMode) -> Scale {
    let qx = groups.mean_prod(x, q, shape);
    let qq = groups.mean_prod(q, q, shape);
    // Repeated back to the kept shape first: TF takes the log on that tensor.
    let mut values = groups.repeat(qx.iter().zip(&qq).map(|(a, b)| a / (b + EPS)).collect());
    if let LsMode::Po2 { min, max } = mode {
        let t = ops::tail_start(values.len());
        for (i, v) in values.iter_mut().enumerate() {
            let mut s = ops::po2_round(*v, i >= t);
            if let Some(lo) = min {
                s = ops::maximum(s, pow2_f32(lo));
            }
            if let Some(hi) = max {
                s = ops::minimum(s, pow2_f32(hi));
            }
            *v = s;
        }
    }
    Scale { shape: groups.kept_shape(shape), values }
}
