//! Binding a parsed [`Call`] to a QKeras constructor signature, with
//! Python's rules (positional then keyword, no duplicates, no unknowns)
//! and typed accessors that report the offending argument.

use super::spec::{Call, Value};
use crate::error::{Error, Result};

pub struct Args<'a> {
    call: &'a Call,
    bound: Vec<(&'static str, Value)>,
}

impl<'a> Args<'a> {
    /// Bind `call` to the parameter names `params` (constructor order).
    pub fn bind(call: &'a Call, params: &[&'static str]) -> Result<Self> {
        let err = |pos: usize, msg: String| Error::Spec { spec: call.source.clone(), pos, msg };
        if call.args.len() > params.len() {
            let (pos, _) = call.args[params.len()];
            return Err(err(pos, format!(
                "{} takes at most {} positional arguments ({})",
                call.name,
                params.len(),
                params.join(", ")
            )));
        }
        let mut bound: Vec<(&'static str, Value)> =
            params.iter().zip(call.args.iter()).map(|(p, (_, v))| (*p, v.clone())).collect();
        for (pos, k, v) in &call.kwargs {
            let Some(p) = params.iter().find(|p| **p == k.as_str()) else {
                return Err(err(*pos, format!(
                    "{} has no argument `{k}`; it takes {}",
                    call.name,
                    params.join(", ")
                )));
            };
            if bound.iter().any(|(b, _)| b == p) {
                return Err(err(*pos, format!("argument `{k}` given twice")));
            }
            bound.push((p, v.clone()));
        }
        Ok(Args { call, bound })
    }

    fn bad(&self, name: &str, want: &str, v: &Value) -> Error {
        Error::Quantizer {
            spec: self.call.source.clone(),
            msg: format!("`{name}` must be {want}, got {v:?}"),
        }
    }

    /// Every argument given, by parameter name (positional ones named).
    pub fn bound(&self) -> &[(&'static str, Value)] {
        &self.bound
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.bound.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// An integer argument (a float with an integer value is accepted, as
    /// Python arithmetic would).
    pub fn int(&self, name: &str, default: i64) -> Result<i64> {
        match self.get(name) {
            None | Some(Value::None) => Ok(default),
            Some(Value::Int(i)) => Ok(*i),
            Some(Value::Bool(b)) => Ok(i64::from(*b)),
            Some(v @ Value::Float(f)) => {
                if f.fract() == 0.0 && f.abs() < 1e15 {
                    Ok(*f as i64)
                } else {
                    Err(self.bad(name, "an integer", v))
                }
            }
            Some(v) => Err(self.bad(name, "an integer", v)),
        }
    }

    pub fn float(&self, name: &str, default: f64) -> Result<f64> {
        self.opt_float(name).map(|v| v.unwrap_or(default))
    }

    pub fn opt_float(&self, name: &str) -> Result<Option<f64>> {
        match self.get(name) {
            None | Some(Value::None) => Ok(None),
            Some(Value::Int(i)) => Ok(Some(*i as f64)),
            Some(Value::Float(f)) => Ok(Some(*f)),
            Some(Value::Bool(b)) => Ok(Some(f64::from(u8::from(*b)))),
            Some(v) => Err(self.bad(name, "a number", v)),
        }
    }

    /// Python truthiness of a flag.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool> {
        match self.get(name) {
            None => Ok(default),
            Some(Value::None) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            // QKeras computes with a flag's number (`-m + symmetric`,
            // `keep_negative * ...`): 2 is not True there, so only 0 and 1
            // are taken (a held-out model's symmetric=2 ran as True).
            Some(Value::Int(i @ (0 | 1))) => Ok(*i != 0),
            Some(Value::Float(f)) if *f == 0.0 || *f == 1.0 => Ok(*f != 0.0),
            Some(v) => Err(self.bad(name, "True or False (0 or 1; QKeras computes with any other number, which qkhw does not reproduce)", v)),
        }
    }

    pub fn opt_str(&self, name: &str) -> Result<Option<String>> {
        match self.get(name) {
            None | Some(Value::None) => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.bad(name, "a string", v)),
        }
    }

    /// The shape of a nested list argument (`None` for a flat one).
    pub fn list_shape(&self, name: &str) -> Option<Vec<usize>> {
        match self.get(name) {
            Some(Value::Array { shape, .. }) => Some(shape.clone()),
            _ => None,
        }
    }

    pub fn opt_list(&self, name: &str) -> Result<Option<Vec<f64>>> {
        match self.get(name) {
            None | Some(Value::None) => Ok(None),
            Some(Value::List(l) | Value::Array { values: l, .. }) => Ok(Some(l.clone())),
            Some(Value::Int(i)) => Ok(Some(vec![*i as f64])),
            Some(Value::Float(f)) => Ok(Some(vec![*f])),
            Some(v) => Err(self.bad(name, "a list of numbers", v)),
        }
    }

    /// `scale_axis`: a non-negative integer axis, or None.
    pub fn axis(&self, name: &str) -> Result<Option<usize>> {
        match self.opt_float(name)? {
            None => Ok(None),
            Some(v) if v >= 0.0 && v.fract() == 0.0 && v < 64.0 => Ok(Some(v as usize)),
            Some(v) => Err(self.reject(format!("{name}={v} must be a non-negative axis"))),
        }
    }

    /// `min_po2_exponent` / `max_po2_exponent`: an integer in f32's normal
    /// exponent range, or None.
    pub fn po2_exponent(&self, name: &str) -> Result<Option<i32>> {
        match self.opt_float(name)? {
            None => Ok(None),
            Some(v) if v.fract() == 0.0 && v.abs() <= 126.0 => Ok(Some(v as i32)),
            Some(v) => Err(self.reject(format!("{name}={v} must be an integer in -126..=126"))),
        }
    }

    /// `elements_per_scale` with an integer `scale_axis`: one block size, or
    /// None (QKeras itself rejects a list with an integer axis).
    pub fn elements_per_scale(&self, scale_axis: Option<usize>) -> Result<Option<usize>> {
        let n = match self.get("elements_per_scale") {
            None | Some(Value::None) => return Ok(None),
            Some(Value::Int(i)) => *i as f64,
            Some(Value::Float(f)) => *f,
            Some(v) => {
                return Err(self.reject(format!(
                    "elements_per_scale={v:?}: qkhw takes one block size for one scale_axis"
                )));
            }
        };
        if scale_axis.is_none() {
            return Err(self.reject("scale_axis must be set if elements_per_scale is used"));
        }
        if n < 1.0 || n.fract() != 0.0 || n > 1e9 {
            return Err(self.reject(format!("elements_per_scale={n} must be a positive integer")));
        }
        Ok(Some(n as usize))
    }

    /// An error about this call's parameters.
    pub fn reject(&self, msg: impl Into<String>) -> Error {
        Error::Quantizer { spec: self.call.source.clone(), msg: msg.into() }
    }
}
