//! The batch-norm tables of `qkeras.utils.add_bn_fusing_weights`, in its
//! float32 op order: each parameter through its own quantizer,
//! `inv = gamma * (1 / sqrt(variance + epsilon))` (then the inverse
//! quantizer, if any) and `bias = inv * prev_bias + beta - inv * mean`.
//! Used for QKeras's dict and, with the same numbers, for the hardware.

use super::tfops::{add, inv_std, mul, sub};
use crate::error::{Error, Result};
use crate::ir::{BatchNorm, Layer};
use crate::quant::Quantizer;

/// A batch norm's parameters after their own quantizers, as QKeras
/// multiplies by them (`None`: no `scale` / `center`).
pub struct BnParams {
    pub gamma: Option<Vec<f32>>,
    pub beta: Option<Vec<f32>>,
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
}

/// Each parameter through its own quantizer (QKeras's call does the same).
pub fn bn_params(bn_layer: &Layer, bn: &BatchNorm) -> Result<BnParams> {
    let [gq, bq, mq, vq, _] = &bn.quantizers;
    let apply = |q: &Option<Quantizer>, role: &str| -> Result<Option<Vec<f32>>> {
        let Some(t) = bn_layer.weight(role) else { return Ok(None) };
        Ok(Some(match q {
            Some(q) => q.apply_shaped(&t.data, &t.shape)?,
            None => t.data.clone(),
        }))
    };
    Ok(BnParams {
        gamma: apply(gq, "gamma")?,
        beta: apply(bq, "beta")?,
        mean: apply(mq, "moving_mean")?.unwrap_or_default(),
        var: apply(vq, "moving_variance")?.unwrap_or_default(),
    })
}

pub struct BnTables {
    /// `gamma / sqrt(var + eps)` before the inverse quantizer.
    pub raw_inv: Vec<f32>,
    /// After the inverse quantizer (equal to `raw_inv` without one).
    pub inv: Vec<f32>,
    pub bias: Vec<f32>,
}

/// `prev_bias`: the quantized bias of the fused producer (QKeras reads it
/// after writing the quantized weights back), `None` for no bias.
pub fn bn_tables(bn_layer: &Layer, bn: &BatchNorm, prev_bias: Option<&[f32]>) -> Result<BnTables> {
    let [gq, _, _, vq, iq] = &bn.quantizers;
    if iq.is_some() && (gq.is_some() || vq.is_some()) {
        return Err(Error::Usage(
            "If using the inverse quantizer, the gamma and variance quantizers should not be used in order \
             to avoid quantizing a value twice (QKeras's assertion)"
                .into(),
        ));
    }
    let BnParams { gamma, beta, mean, var } = bn_params(bn_layer, bn)?;
    let c = mean.len();
    // Without `scale`, gamma is the float 1.0.
    let raw_inv: Vec<f32> =
        inv_std(&var, bn.epsilon).iter().enumerate().map(|(i, &x)| mul(gamma.as_ref().map_or(1.0, |g| g[i]), x)).collect();
    let inv = match iq {
        Some(q) => q.apply_shaped(&raw_inv, &[c])?,
        None => raw_inv.clone(),
    };
    let beta = beta.unwrap_or_else(|| vec![0.0; c]);
    let pb = prev_bias.map(<[f32]>::to_vec).unwrap_or_else(|| vec![0.0; c]);
    let bias = (0..c).map(|i| sub(add(mul(inv[i], pb[i]), beta[i]), mul(inv[i], mean[i]))).collect();
    Ok(BnTables { raw_inv, inv, bias })
}

/// Where QKeras's own two paths disagree on an auto-scaled inverse
/// quantizer: `model.predict` (QBatchNormalization's call) quantizes the
/// inverse broadcast to shape (1, C), so an `auto_po2` scale is found per
/// channel, while `model_save_quantized_weights` (`bn_inv`, and qkhw's
/// tables) quantizes the vector of C as one. A notice naming the layer and
/// the channels that differ, or `None` where both agree.
pub fn inverse_differs_in_predict(bn_layer: &Layer, bn: &BatchNorm) -> Result<Option<String>> {
    let Some((c, differ)) = inverse_channels_differ(bn_layer, bn)? else { return Ok(None) };
    Ok(Some(format!(
        "layer `{}`: QKeras's model.predict quantizes the batch norm's inverse per channel (as a (1, {c}) tensor) but model_save_quantized_weights as one vector (bn_inv, which qkhw computes: the hardware weights); they differ in {}, so model.predict differs from qkhw there (QKeras's own inconsistency of an auto-scaled inverse_quantizer; give the inverse quantizer alpha=1 to avoid it)",
        bn_layer.name,
        differ
    )))
}

/// The same for `freeze`: the scale it freezes is
/// `model_save_quantized_weights`'s (the hardware weights stay the
/// original's), so the frozen model's `model.predict`, which uses that
/// scale in every channel, differs from the original's where the latter's
/// per-channel scales differ (cross-check batch 16: 154 of 256 outputs,
/// and `freeze` said nothing).
pub fn inverse_freeze_changes_predict(bn_layer: &Layer, bn: &BatchNorm) -> Result<Option<String>> {
    let Some((c, differ)) = inverse_channels_differ(bn_layer, bn)? else { return Ok(None) };
    Ok(Some(format!(
        "layer `{}`: the inverse_quantizer's frozen scale is model_save_quantized_weights's (one vector of {c}: the hardware weights, unchanged), where QKeras's model.predict of the original found a scale per channel; they differ in {}, so QKeras's model.predict of the frozen model differs from the original's there (QKeras's own inconsistency of an auto-scaled inverse_quantizer; qkhw's predict is the same for both)",
        bn_layer.name, differ
    )))
}

/// The channel count and, where QKeras's two quantizations of an
/// auto-scaled batch-norm inverse differ, the channels (`channel 3`,
/// `channels 0, 1, 5`); `None` where they agree.
fn inverse_channels_differ(bn_layer: &Layer, bn: &BatchNorm) -> Result<Option<(usize, String)>> {
    let [_, _, _, _, Some(iq)] = &bn.quantizers else { return Ok(None) };
    let t = bn_tables(bn_layer, bn, None)?;
    let c = t.raw_inv.len();
    let call = iq.apply_shaped(&t.raw_inv, &[1, c])?;
    let differ: Vec<String> = (0..c).filter(|&i| call[i].to_bits() != t.inv[i].to_bits()).map(|i| i.to_string()).collect();
    if differ.is_empty() {
        return Ok(None);
    }
    Ok(Some((c, format!("channel{} {}", if differ.len() == 1 { "" } else { "s" }, differ.join(", ")))))
}
