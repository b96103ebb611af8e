//! Typed reads of one saved layer config, with errors naming the layer.

use serde_json::{Map, Value};

use super::{Activation, Padding, Window};
use crate::error::{Error, Result};
use crate::quant::{InternalSigmoid, Quantizer};

pub(super) struct Cfg<'a> {
    pub map: &'a Map<String, Value>,
    pub path: &'a std::path::Path,
    pub layer: &'a str,
    pub class: &'a str,
    pub sigmoid: InternalSigmoid,
}

impl Cfg<'_> {
    pub fn err(&self, msg: impl Into<String>) -> Error {
        Error::Model { path: self.path.to_path_buf(), layer: Some(self.layer.to_string()), msg: format!("({}) {}", self.class, msg.into()) }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn usize(&self, key: &str, default: Option<usize>) -> Result<usize> {
        match self.get(key) {
            None => default.ok_or_else(|| self.err(format!("config has no `{key}`"))),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64))
                .and_then(|u| usize::try_from(u).ok())
                .ok_or_else(|| self.err(format!("`{key}` must be a non-negative integer, got {v}"))),
        }
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => v.as_i64().map(|i| i != 0).ok_or_else(|| self.err(format!("`{key}` must be a boolean, got {v}"))),
        }
    }

    pub fn f64(&self, key: &str, default: f64) -> Result<f64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| self.err(format!("`{key}` must be a number, got {v}"))),
        }
    }

    pub fn str(&self, key: &str, default: &str) -> Result<String> {
        match self.get(key) {
            None => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(self.err(format!("`{key}` must be a string, got {v}"))),
        }
    }

    /// An int or a list of `rank` ints (`kernel_size=3` or `[3, 3]`).
    pub fn tuple(&self, key: &str, rank: usize, default: Option<usize>) -> Result<Vec<usize>> {
        let one = |v: &Value| v.as_u64().and_then(|u| usize::try_from(u).ok()).filter(|&u| u > 0);
        match self.get(key) {
            None => default.map(|d| vec![d; rank]).ok_or_else(|| self.err(format!("config has no `{key}`"))),
            Some(Value::Array(a)) if a.len() == rank => a
                .iter()
                .map(|x| one(x).ok_or_else(|| self.err(format!("`{key}` must hold positive integers, got {x}"))))
                .collect(),
            Some(v) => one(v)
                .map(|u| vec![u; rank])
                .ok_or_else(|| self.err(format!("`{key}` must be a positive integer or {rank} of them, got {v}"))),
        }
    }

    pub fn padding(&self) -> Result<Padding> {
        match self.str("padding", "valid")?.to_ascii_lowercase().as_str() {
            "valid" => Ok(Padding::Valid),
            "same" => Ok(Padding::Same),
            "causal" => Ok(Padding::Causal),
            p => Err(self.err(format!("padding `{p}` is not valid, same or causal"))),
        }
    }

    pub fn channels_last(&self) -> Result<()> {
        match self.str("data_format", "channels_last")?.as_str() {
            "channels_last" => Ok(()),
            f => Err(self.err(format!("data_format `{f}`: only channels_last is supported"))),
        }
    }

    pub fn window(&self, rank: usize, kernel_key: &str) -> Result<Window> {
        self.channels_last()?;
        if self.usize("groups", Some(1))? != 1 {
            return Err(self.err("grouped convolution (groups > 1) is not supported"));
        }
        Ok(Window {
            kernel: self.tuple(kernel_key, rank, None)?,
            strides: self.tuple("strides", rank, Some(1))?,
            dilation: self.tuple("dilation_rate", rank, Some(1))?,
            padding: self.padding()?,
        })
    }

    /// A weight or average quantizer: absent or null means none.
    pub fn quantizer(&self, key: &str) -> Result<Option<Quantizer>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => saved_quantizer(v, self.sigmoid).map(Some).map_err(|e| self.err(format!("`{key}`: {e}"))),
        }
    }

    /// A weight quantizer the layer rewrites as QKeras's layers do
    /// ([`Quantizer::trainable`]).
    pub fn weight_quantizer(&self, key: &str) -> Result<Option<Quantizer>> {
        Ok(self.quantizer(key)?.map(Quantizer::trainable))
    }

    /// An `activation` entry: a quantizer, `linear`, or a float function.
    pub fn activation(&self, key: &str) -> Result<Activation> {
        let v = match self.get(key) {
            None => return Ok(Activation::Linear),
            Some(v) => v,
        };
        let name = match v {
            Value::String(s) => Some(s.as_str()),
            // Keras 3 may serialize a plain function as {"class_name": "function", "config": "relu"}.
            Value::Object(o) if o.get("class_name").and_then(Value::as_str) == Some("function") => {
                o.get("config").and_then(Value::as_str)
            }
            _ => None,
        };
        match name {
            Some("linear") | Some("None") => return Ok(Activation::Linear),
            Some(n @ ("softmax" | "tanh" | "sigmoid" | "elu" | "selu" | "softplus" | "softsign" | "swish"
            | "silu" | "gelu" | "exponential" | "hard_sigmoid" | "relu6" | "leaky_relu" | "mish"
            | "log_softmax")) => return Ok(Activation::Float(n.to_string())),
            Some("relu") => return Ok(Activation::Float("relu".into())),
            _ => {}
        }
        saved_quantizer(v, self.sigmoid)
            .map(Activation::Quantized)
            .map_err(|e| self.err(format!("`{key}`: {e}")))
    }
}

/// A quantizer as a saved config holds it. quantized_hswish inherits
/// quantized_bits's `get_config`, which writes `keep_negative` (always true
/// here) and `post_training_scale` (always None here), keys its constructor
/// refuses: QKeras cannot reload such a model. They carry no information
/// when they have those values, so they are dropped; any other value is an
/// error. Everything else binds as in the spec parser.
pub(super) fn saved_quantizer(v: &Value, sigmoid: InternalSigmoid) -> Result<Quantizer> {
    use crate::quant::spec::Value as V;
    let mut call = crate::quant::spec::call_from_json(v)?;
    if call.name == "quantized_hswish" {
        call.kwargs.retain(|(_, k, v)| {
            let inert = match k.as_str() {
                "keep_negative" => matches!(v, V::Bool(true) | V::Int(1)),
                "post_training_scale" => *v == V::None,
                _ => false,
            };
            !inert
        });
    }
    let q = Quantizer::from_call(&call, sigmoid)?;
    q.check_full()?;
    Ok(q)
}
