//! QKeras's `quantizer_config` dictionary (read from JSON), checked before
//! anything is converted, and looked up as `model_quantize` does: the layer's
//! name first, then its QKeras class, and, where QKeras's docstring promises
//! it and its code never reads it, `"default"`.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::quant::{InternalSigmoid, Quantizer};

/// The parameters a quantizer_config entry may set for each target class.
pub(super) fn params(class: &str) -> Option<&'static [&'static str]> {
    const WEIGHTS: &[&str] = &["kernel_quantizer", "bias_quantizer", "activation_quantizer"];
    const FOLDED: &[&str] = &["kernel_quantizer", "bias_quantizer", "activation_quantizer", "folding_mode", "ema_freeze_delay"];
    const DEPTHWISE: &[&str] = &["depthwise_quantizer", "bias_quantizer", "activation_quantizer"];
    const DEPTHWISE_FOLDED: &[&str] = &["depthwise_quantizer", "bias_quantizer", "activation_quantizer", "folding_mode", "ema_freeze_delay"];
    const SEPARABLE: &[&str] = &["depthwise_quantizer", "pointwise_quantizer", "kernel_quantizer", "bias_quantizer", "activation_quantizer"];
    const RNN: &[&str] = &["kernel_quantizer", "recurrent_quantizer", "bias_quantizer", "state_quantizer", "activation_quantizer", "recurrent_activation_quantizer"];
    const BN: &[&str] = &["gamma_quantizer", "beta_quantizer", "mean_quantizer", "variance_quantizer"];
    const POOL: &[&str] = &["average_quantizer", "activation_quantizer"];
    const DEFAULT: &[&str] = &[
        "kernel_quantizer", "bias_quantizer", "depthwise_quantizer", "pointwise_quantizer", "recurrent_quantizer", "state_quantizer",
        "activation_quantizer", "recurrent_activation_quantizer", "kernel", "bias",
    ];
    Some(match class {
        "QDense" | "QConv1D" | "QConv2D" | "QConv2DTranspose" => WEIGHTS,
        "QConv2DBatchnorm" => FOLDED,
        "QDepthwiseConv2D" => DEPTHWISE,
        "QDepthwiseConv2DBatchnorm" => DEPTHWISE_FOLDED,
        "QSeparableConv1D" | "QSeparableConv2D" => SEPARABLE,
        "QSimpleRNN" | "QLSTM" | "QGRU" | "QBidirectional" => RNN,
        "QBatchNormalization" => BN,
        "QAveragePooling2D" | "QGlobalAveragePooling2D" => POOL,
        "default" => DEFAULT,
        _ => return None,
    })
}

/// The parsed `quantizer_config`.
#[derive(Debug, Clone)]
pub struct QuantizerConfig {
    entries: Map<String, Value>,
}

impl QuantizerConfig {
    /// Check `v` against the model's layer names: every key is a layer, a
    /// class qkhw converts to, `QActivation` or `default`; every parameter is
    /// one its class takes; every quantizer string is one qkhw reads.
    /// `source` names the file in errors.
    pub fn new(v: Value, layer_names: &[&str], source: &str) -> Result<QuantizerConfig> {
        let bad = |msg: String| Error::Usage(format!("{source}: {msg}"));
        let Value::Object(entries) = v else {
            return Err(bad("a quantizer_config is a JSON object (layer or class name → its quantizers)".into()));
        };
        for (key, entry) in &entries {
            let is_layer = layer_names.contains(&key.as_str());
            if key == "QActivation" {
                check_activation_entry(entry).map_err(|m| bad(format!("`{key}`: {m}")))?;
            } else if key == "QAdaptiveActivation" {
                return Err(bad(
                    "`QAdaptiveActivation`: qkhw does not write it (QKeras 1.2.1 cannot save one with its default ema_freeze_delay=None, nor reload one saved with a delay); use `QActivation`".into(),
                ));
            } else if let Some(p) = params(key) {
                check_params(entry, p).map_err(|m| bad(format!("`{key}`: {m}")))?;
            } else if is_layer {
                match entry {
                    Value::Object(_) => check_params(entry, &all_params()).map_err(|m| bad(format!("layer `{key}`: {m}")))?,
                    _ => check_activation_entry(entry).map_err(|m| bad(format!("layer `{key}`: {m}")))?,
                }
            } else {
                let mut layers: Vec<&str> = layer_names.to_vec();
                layers.truncate(12);
                return Err(bad(format!(
                    "`{key}` is neither a layer of the model ({}{}) nor a class quantize-model converts to (QDense, QConv1D, QConv2D, QConv2DTranspose, QSeparableConv1D, QSeparableConv2D, QDepthwiseConv2D, QConv2DBatchnorm, QDepthwiseConv2DBatchnorm, QSimpleRNN, QLSTM, QGRU, QBidirectional, QActivation, QBatchNormalization, QAveragePooling2D, QGlobalAveragePooling2D) nor `default`",
                    layers.join(", "),
                    if layer_names.len() > 12 { ", ..." } else { "" }
                )));
            }
        }
        Ok(QuantizerConfig { entries })
    }

    /// An entry already checked (one built from a checked entry).
    pub(super) fn unchecked(v: Value) -> QuantizerConfig {
        QuantizerConfig { entries: v.as_object().cloned().unwrap_or_default() }
    }

    /// QKeras's `get_config(quantizer_config, layer, class)`: the entry for
    /// the layer's name, else for the class.
    pub fn entry(&self, layer: &str, class: &str) -> Option<&Value> {
        self.entries.get(layer).or_else(|| self.entries.get(class))
    }

    /// `get_config(..., parameter)`: a parameter of that entry; a JSON null
    /// counts as absent, as Python's `None` does.
    pub fn param(&self, layer: &str, class: &str, p: &str) -> Option<&Value> {
        self.entry(layer, class).and_then(|e| e.get(p)).filter(|v| !v.is_null())
    }

    /// [`param`](Self::param), then the `default` entry (its `kernel` and
    /// `bias` are QKeras's docstring's names for the kernel and bias
    /// quantizers; `kernel` also stands for a depthwise or pointwise kernel).
    pub fn param_or_default(&self, layer: &str, class: &str, p: &str) -> Option<&Value> {
        if self.entry(layer, class).is_some() {
            return self.param(layer, class, p);
        }
        let d = self.entries.get("default")?;
        let alias = match p {
            "kernel_quantizer" | "depthwise_quantizer" | "pointwise_quantizer" => Some("kernel"),
            "bias_quantizer" => Some("bias"),
            _ => None,
        };
        d.get(p).filter(|v| !v.is_null()).or_else(|| alias.and_then(|a| d.get(a)).filter(|v| !v.is_null()))
    }

    /// Whether the layer or class has an entry at all.
    pub fn has(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }
}

fn all_params() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = [
        "QConv2DBatchnorm", "QDepthwiseConv2DBatchnorm", "QSeparableConv2D", "QLSTM", "QBatchNormalization", "QAveragePooling2D",
    ]
    .iter()
    .flat_map(|c| params(c).unwrap_or_default().iter().copied())
    .collect();
    all.sort_unstable();
    all.dedup();
    all
}

fn check_params(entry: &Value, allowed: &[&str]) -> std::result::Result<(), String> {
    let Value::Object(m) = entry else {
        return Err(format!("expected an object of parameters ({})", allowed.join(", ")));
    };
    for (p, v) in m {
        if !allowed.contains(&p.as_str()) {
            return Err(format!("unknown parameter `{p}` (this entry takes {})", allowed.join(", ")));
        }
        match p.as_str() {
            "folding_mode" => match v {
                Value::String(s) if s == "ema_stats_folding" || s == "batch_stats_folding" => {}
                Value::Null => {}
                _ => return Err(format!("`folding_mode`: \"ema_stats_folding\" or \"batch_stats_folding\", not {v}")),
            },
            "ema_freeze_delay" => {
                if !(v.is_null() || v.as_u64().is_some()) {
                    return Err(format!("`ema_freeze_delay`: a step count or null, not {v}"));
                }
            }
            _ => check_quantizer(v).map_err(|m| format!("`{p}`: {m}"))?,
        }
    }
    Ok(())
}

/// The activation names a per-activation `QActivation` entry may use:
/// Keras 3's (an Activation layer's `activation`) and QKeras's `leakyrelu`
/// for a LeakyReLU layer. A name outside it is a typo, not an activation
/// the model lacks.
const ACTIVATIONS: &[&str] = &[
    "relu", "relu6", "leaky_relu", "leakyrelu", "elu", "selu", "celu", "gelu", "glu", "silu", "swish", "hard_silu", "hard_swish", "mish",
    "tanh", "hard_tanh", "tanh_shrink", "sigmoid", "hard_sigmoid", "log_sigmoid", "sparse_sigmoid", "softmax", "log_softmax", "sparsemax",
    "softplus", "softsign", "sparse_plus", "squareplus", "soft_shrink", "hard_shrink", "threshold", "exponential", "linear",
];

/// `QActivation`'s entry: one quantizer for every activation (`""`: the
/// `--activation-bits` default), or an object from activation name
/// (`relu`, `tanh`, `leakyrelu`, ...) to quantizer (`""` or null: leave
/// that activation as it is, as QKeras does).
fn check_activation_entry(entry: &Value) -> std::result::Result<(), String> {
    match entry {
        Value::Object(m) => {
            for (a, v) in m {
                if !ACTIVATIONS.contains(&a.as_str()) {
                    return Err(format!("`{a}` is not an activation name (Keras's: {})", ACTIVATIONS.join(", ")));
                }
                if v.as_str() != Some("") {
                    check_quantizer(v).map_err(|m| format!("`{a}`: {m}"))?;
                }
            }
            Ok(())
        }
        Value::String(s) if s.is_empty() => Ok(()),
        v => check_quantizer(v),
    }
}

fn check_quantizer(v: &Value) -> std::result::Result<(), String> {
    match v {
        Value::Null => Ok(()),
        Value::String(s) => Quantizer::parse(s, InternalSigmoid::default()).map(|_| ()).map_err(|e| format!("\"{s}\": {e}")),
        Value::Object(_) => Quantizer::from_json(v, InternalSigmoid::default()).map(|_| ()).map_err(|e| e.to_string()),
        _ => Err(format!("a quantizer string such as \"quantized_bits(8,0,1)\", not {v}")),
    }
}
