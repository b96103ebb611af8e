//! The constants hardware really stores, per layer: every weight as integer
//! codes with its encoding and (per-channel) scale, and the batch-norm
//! tables. Unlike [`super::hw_weights`] (QKeras's dict, quirks included)
//! each quantizer here meets its own weight, auto_po2 weights are their
//! integer codes `z` with a power-of-two exponent per channel, and fused
//! batch norms are `bn_inv` / `fused_bias` tables.
//!
//! Tensors QKeras leaves as float32 (no quantizer, batch-norm tables) get
//! the narrowest fixed-point format holding every value exactly
//! ([`FixedFormat::exact_for`]); precision inference may narrow them later.

use super::bn_fusing;
use super::hw_weights::folded_weights;
use crate::error::{Context, Error, Result};
use crate::fxp::FixedFormat;
use crate::ir::{BatchNorm, Graph, Layer, Op};
use crate::keras::Tensor;
use crate::quant::{Encoding, Kind, Quantizer};

/// A per-channel factor on a tensor's values, broadcast numpy-style.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelScale {
    /// value × 2^exponent.
    Po2 { shape: Vec<usize>, exponents: Vec<i32> },
    /// value × factor rounded to float32 (a float32 alpha that is not a
    /// power of two), as QKeras computes the quantized weight.
    Float { shape: Vec<usize>, values: Vec<f32> },
}

/// One constant tensor of the hardware.
#[derive(Debug, Clone, PartialEq)]
pub struct HwWeight {
    pub layer: String,
    /// `kernel`, `bias`, `bn_inv`, `fused_bias`, `forward/kernel`, …
    pub tensor: String,
    pub shape: Vec<usize>,
    /// The quantizer spec, or `None` for a float32 tensor held exactly.
    pub quantizer: Option<String>,
    pub codes: Vec<i64>,
    /// ±1 per element for a signed power-of-two encoding, else empty.
    pub signs: Vec<i8>,
    /// `Fixed` (value = code × 2^-frac) or `Po2` (value = ±2^code).
    pub encoding: Encoding,
    pub scale: Option<ChannelScale>,
}

impl HwWeight {
    /// The value of element `i`, scale applied: the float32 weight QKeras
    /// multiplies by, held exactly.
    pub fn value(&self, i: usize) -> f64 {
        let v = match &self.encoding {
            Encoding::Fixed(f) | Encoding::Table { index: f, .. } => f.to_f64(self.codes[i] as i128),
            Encoding::Po2 { .. } => {
                let s = self.signs.get(i).copied().unwrap_or(1) as f64;
                s * crate::fxp::pow2(self.codes[i] as i32)
            }
        };
        match &self.scale {
            None => v,
            Some(ChannelScale::Po2 { shape, exponents }) => v * crate::fxp::pow2(exponents[channel(shape, &self.shape, i)]),
            // QKeras's weight is `scale * code` in float32: rounded, not the
            // exact product (alpha="auto" kernels differ on about half of
            // their elements), and inference multiplies by that.
            Some(ChannelScale::Float { shape, values }) => (v as f32 * values[channel(shape, &self.shape, i)]) as f64,
        }
    }
}

/// Index into a scale of shape `s` broadcast (numpy-style, right-aligned)
/// against a tensor of shape `full`, for element `i` of the tensor.
pub fn channel(s: &[usize], full: &[usize], i: usize) -> usize {
    let (n, m) = (full.len(), s.len());
    let (mut rem, mut k, mut stride) = (i, 0, 1);
    for d in (0..n).rev() {
        let c = rem % full[d].max(1);
        rem /= full[d].max(1);
        if d + m >= n {
            let sd = s[d + m - n];
            if sd != 1 {
                k += c * stride;
            }
            stride *= sd;
        }
    }
    k
}

fn exact(layer: &str, tensor: &str, t: &Tensor) -> Result<HwWeight> {
    let (f, codes) = FixedFormat::exact_for(&t.data).ok_or_else(|| {
        Error::Usage(format!("`{tensor}` has values no fixed-point format up to 64 bits holds exactly (NaN, inf or a range over 2^64)"))
    })?;
    Ok(HwWeight {
        layer: layer.into(),
        tensor: tensor.into(),
        shape: t.shape.clone(),
        quantizer: None,
        codes,
        signs: vec![],
        encoding: Encoding::Fixed(f),
        scale: None,
    })
}

fn quantized(layer: &str, tensor: &str, q: Option<&Quantizer>, t: &Tensor) -> Result<HwWeight> {
    let Some(q) = q else { return exact(layer, tensor, t) };
    let hw = q.hardware(&t.data, &t.shape)?;
    let mut encoding = hw.encoding;
    let mut scale = None;
    if let Some(s) = hw.scale {
        let auto = matches!(&q.kind, Kind::Bits(b) if b.alpha.is_auto());
        if !auto && s.values.iter().all(|&v| v == 1.0) {
            // alpha=1: no scale at all.
        } else if s.values.iter().all(|&v| v > 0.0 && v.log2().fract() == 0.0) {
            // A power of two per channel (auto_po2): integer codes z and the
            // exponent, value = z × 2^(log2 s - frac).
            let frac = match &encoding {
                Encoding::Fixed(f) => f.frac,
                _ => 0,
            };
            let exponents = s.values.iter().map(|v| v.log2() as i32 - frac).collect();
            if let Encoding::Fixed(f) = &mut encoding {
                f.frac = 0;
            }
            scale = Some(ChannelScale::Po2 { shape: s.shape, exponents });
        } else {
            scale = Some(ChannelScale::Float { shape: s.shape, values: s.values });
        }
    }
    Ok(HwWeight {
        layer: layer.into(),
        tensor: tensor.into(),
        shape: t.shape.clone(),
        quantizer: Some(q.spec.clone()),
        codes: hw.codes,
        signs: hw.signs,
        encoding,
        scale,
    })
}

/// Every constant of the graph, layer by layer.
pub fn hw_tensors(g: &Graph) -> Result<Vec<HwWeight>> {
    let fusing = bn_fusing::pairs(g);
    let mut out = vec![];
    for (i, l) in g.layers.iter().enumerate() {
        if fusing.iter().any(|(_, b)| b.0 == i) {
            continue; // its tables live with the producer
        }
        let mut ws = layer_tensors(l).in_layer(&g.source, &l.name)?;
        if let Some((_, bn_id)) = fusing.iter().find(|(p, _)| p.0 == i) {
            let bn_layer = &g.layers[bn_id.0];
            let Op::BatchNorm(bn) = &bn_layer.op else { continue };
            let bias = ws.iter().find(|w| w.tensor == "bias").map(|w| (0..w.codes.len()).map(|k| w.value(k) as f32).collect::<Vec<f32>>());
            ws.extend(bn_tables(&l.name, bn_layer, bn, bias.as_deref(), "fused_bias").in_layer(&g.source, &bn_layer.name)?);
        }
        out.extend(ws);
    }
    Ok(out)
}

fn layer_tensors(l: &Layer) -> Result<Vec<HwWeight>> {
    let n = &l.name;
    let w = |r: &str| l.weight(r).ok_or_else(|| Error::Usage(format!("missing weight `{r}`")));
    let mut out = vec![];
    match &l.op {
        Op::Dense { kernel_q, bias_q, use_bias, .. }
        | Op::Conv { kernel_q, bias_q, use_bias, .. }
        | Op::ConvTranspose { kernel_q, bias_q, use_bias, .. } => {
            out.push(quantized(n, "kernel", kernel_q.as_ref(), w("kernel")?)?);
            if *use_bias {
                out.push(quantized(n, "bias", bias_q.as_ref(), w("bias")?)?);
            }
        }
        Op::Depthwise { depthwise_q, bias_q, use_bias, .. } => {
            out.push(quantized(n, "depthwise_kernel", depthwise_q.as_ref(), w("depthwise_kernel")?)?);
            if *use_bias {
                out.push(quantized(n, "bias", bias_q.as_ref(), w("bias")?)?);
            }
        }
        Op::Separable { depthwise_q, pointwise_q, bias_q, use_bias, .. } => {
            out.push(quantized(n, "depthwise_kernel", depthwise_q.as_ref(), w("depthwise_kernel")?)?);
            out.push(quantized(n, "pointwise_kernel", pointwise_q.as_ref(), w("pointwise_kernel")?)?);
            if *use_bias {
                out.push(quantized(n, "bias", bias_q.as_ref(), w("bias")?)?);
            }
        }
        Op::Folded { inner, bn } => {
            let f = folded_weights(l, bn);
            let qs = super::hw_weights::quantizers(inner);
            let kname = l.weights[0].role;
            out.push(quantized(n, kname, qs[0], &f[0])?);
            out.push(quantized(n, "bias", qs.last().copied().flatten(), &f[1])?);
        }
        Op::BatchNorm(bn) => out.extend(bn_tables(n, l, bn, None, "bn_bias")?),
        Op::Rnn { quantizers: q, .. } => {
            for (k, role) in ["kernel", "recurrent_kernel", "bias"].iter().enumerate() {
                if let Some(t) = l.weight(role) {
                    out.push(quantized(n, role, q[k].as_ref(), t)?);
                }
            }
        }
        Op::Bidirectional { forward, backward, .. } => {
            let half = l.weights.len() / 2;
            for (dir, op, ws) in [("forward", forward, &l.weights[..half]), ("backward", backward, &l.weights[half..])] {
                let Op::Rnn { quantizers: q, .. } = op.as_ref() else { continue };
                for (k, wt) in ws.iter().enumerate() {
                    out.push(quantized(n, &format!("{dir}/{}", wt.role), q[k].as_ref(), &wt.tensor)?);
                }
            }
        }
        // The average pooling's multiplier 1/area through its quantizer,
        // named as QKeras's dict names it: `q_mult_factor` (its
        // `mult_factor` is the float 1/area; cross-check batch 11).
        Op::Pool { average_q: Some(q), pool, .. } => {
            let area = pool.iter().product::<usize>() as f32;
            out.push(quantized(n, "q_mult_factor", Some(q), &Tensor { shape: vec![], data: vec![1.0 / area] })?);
        }
        Op::GlobalPool { average_q: Some(q), max: false, .. } => {
            let area = l.in_shapes[0][..l.in_shapes[0].len() - 1].iter().product::<usize>() as f32;
            out.push(quantized(n, "q_mult_factor", Some(q), &Tensor { shape: vec![], data: vec![1.0 / area] })?);
        }
        Op::ScaleShift { weight_q, bias_q, use_bias } => {
            out.push(quantized(n, "weight", weight_q.as_ref(), w("weight")?)?);
            if *use_bias {
                out.push(quantized(n, "bias", bias_q.as_ref(), w("bias")?)?);
            }
        }
        _ => {}
    }
    Ok(out)
}

/// The batch-norm tables as hardware constants: `bn_inv` as its inverse
/// quantizer's codes (or exact), the bias held exactly.
fn bn_tables(owner: &str, bn_layer: &Layer, bn: &BatchNorm, prev_bias: Option<&[f32]>, bias_name: &str) -> Result<Vec<HwWeight>> {
    let t = super::bn_tables::bn_tables(bn_layer, bn, prev_bias)?;
    let c = t.inv.len();
    let inv_w = match &bn.quantizers[4] {
        Some(q) => quantized(owner, "bn_inv", Some(q), &Tensor { shape: vec![c], data: t.raw_inv })?,
        None => exact(owner, "bn_inv", &Tensor { shape: vec![c], data: t.inv })?,
    };
    let fb_w = exact(owner, bias_name, &Tensor { shape: vec![c], data: t.bias })?;
    Ok(vec![inv_w, fb_w])
}
