//! The float32 arithmetic of QKeras's weight utilities, one TF op per
//! function: flush-to-zero on inputs and outputs as TF's CPU kernels do,
//! no fused multiply-add.

use crate::quant::ops::ftz;

pub fn mul(a: f32, b: f32) -> f32 {
    ftz(ftz(a) * ftz(b))
}
pub fn add(a: f32, b: f32) -> f32 {
    ftz(ftz(a) + ftz(b))
}
pub fn sub(a: f32, b: f32) -> f32 {
    ftz(ftz(a) - ftz(b))
}
pub fn div(a: f32, b: f32) -> f32 {
    ftz(ftz(a) / ftz(b))
}
pub fn sqrt(a: f32) -> f32 {
    ftz(ftz(a).sqrt())
}

/// `1 / sqrt(variance + epsilon)`: the batch-norm inverse both
/// `get_folded_weights` and `add_bn_fusing_weights` compute.
pub fn inv_std(variance: &[f32], epsilon: f32) -> Vec<f32> {
    variance.iter().map(|&v| div(1.0, sqrt(add(v, epsilon)))).collect()
}
