//! Parser for quantizer specs as QKeras users write them
//! (`"quantized_bits(6,2,1,alpha=1)"`, `"quantized_relu"`, `"hard_tanh"`)
//! and as Keras serializes them (`{"class_name": ..., "config": {...}}`).
//!
//! The grammar is a Python call with literal arguments: ints, floats,
//! `True`/`False`/`None`, quoted strings and lists of numbers (comma or
//! space separated, as numpy prints them). Errors carry the character
//! position; nothing here panics on any input (see `fuzz/`).

use crate::error::{Error, Result};

/// A literal argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
    Str(String),
    List(Vec<f64>),
    /// A nested list (numpy's `tolist()` of a `(1, ..., 1, n)` array): its
    /// shape and its values in C order.
    Array { shape: Vec<usize>, values: Vec<f64> },
}

/// `name(args..., key=value...)`, with the position of each argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Vec<(usize, Value)>,
    pub kwargs: Vec<(usize, String, Value)>,
    /// The text it came from, for error messages.
    pub source: String,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn err(&self, pos: usize, msg: impl Into<String>) -> Error {
        Error::Spec { spec: self.src.to_string(), pos, msg: msg.into() }
    }
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }
    fn skip_ws(&mut self) {
        let t = self.rest();
        self.pos += t.len() - t.trim_start().len();
    }
    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }
    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }
    fn ident(&mut self) -> Option<String> {
        self.skip_ws();
        let t = self.rest();
        let mut end = 0;
        for (i, c) in t.char_indices() {
            let ok = c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit());
            if !ok {
                break;
            }
            end = i + c.len_utf8();
        }
        if end == 0 {
            return None;
        }
        self.pos += end;
        Some(t[..end].to_string())
    }
    fn number(&mut self) -> Result<Value> {
        self.skip_ws();
        let start = self.pos;
        let t = self.rest();
        let end = t
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E')))
            .map_or(t.len(), |(i, _)| i);
        let s = &t[..end];
        self.pos += end;
        if s.is_empty() {
            return Err(self.err(start, "expected a value"));
        }
        if let Ok(i) = s.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        match s.parse::<f64>() {
            Ok(f) => Ok(Value::Float(f)),
            Err(_) => Err(self.err(start, format!("`{s}` is not a number"))),
        }
    }
    fn value(&mut self) -> Result<Value> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            None => Err(self.err(start, "expected a value, found the end")),
            Some(q @ ('\'' | '"')) => {
                let body = &self.rest()[1..];
                match body.find(q) {
                    Some(end) => {
                        let s = body[..end].to_string();
                        self.pos += end + 2;
                        Ok(Value::Str(s))
                    }
                    None => Err(self.err(start, "unterminated string")),
                }
            }
            Some('[') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.eat(']') {
                        break;
                    }
                    let p = self.pos;
                    match self.number()? {
                        Value::Int(i) => items.push(i as f64),
                        Value::Float(f) => items.push(f),
                        _ => return Err(self.err(p, "lists hold numbers only")),
                    }
                    self.eat(',');
                    if self.peek().is_none() {
                        return Err(self.err(self.pos, "unterminated list, expected `]`"));
                    }
                }
                Ok(Value::List(items))
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let id = self.ident().unwrap_or_default();
                match id.as_str() {
                    "True" | "true" => Ok(Value::Bool(true)),
                    "False" | "false" => Ok(Value::Bool(false)),
                    "None" | "null" => Ok(Value::None),
                    "inf" => Ok(Value::Float(f64::INFINITY)),
                    _ => Err(self.err(
                        start,
                        format!("`{id}` is not a value; quote strings (alpha='auto_po2')"),
                    )),
                }
            }
            Some(_) => self.number(),
        }
    }
}

/// Parse a spec string.
pub fn parse_call(src: &str) -> Result<Call> {
    let mut lx = Lexer { src, pos: 0 };
    let name = lx
        .ident()
        .ok_or_else(|| lx.err(lx.pos, "expected a quantizer name such as quantized_bits"))?;
    let mut call = Call { name, args: vec![], kwargs: vec![], source: src.to_string() };
    if lx.eat('(') {
        loop {
            lx.skip_ws();
            if lx.eat(')') {
                break;
            }
            let start = lx.pos;
            // `key=value` or a positional value.
            let save = lx.pos;
            let key = lx.ident();
            if let Some(k) = key.clone() {
                if lx.eat('=') {
                    let v = lx.value()?;
                    if call.kwargs.iter().any(|(_, kk, _)| *kk == k) {
                        return Err(lx.err(start, format!("argument `{k}` given twice")));
                    }
                    call.kwargs.push((start, k, v));
                } else {
                    lx.pos = save;
                    let v = lx.value()?;
                    if !call.kwargs.is_empty() {
                        return Err(lx.err(start, "positional argument after keyword argument"));
                    }
                    call.args.push((start, v));
                }
            } else {
                let v = lx.value()?;
                if !call.kwargs.is_empty() {
                    return Err(lx.err(start, "positional argument after keyword argument"));
                }
                call.args.push((start, v));
            }
            if lx.eat(',') {
                continue;
            }
            if lx.eat(')') {
                break;
            }
            lx.skip_ws();
            return Err(lx.err(lx.pos, "expected `,` or `)`"));
        }
    }
    lx.skip_ws();
    if lx.pos != src.len() {
        return Err(lx.err(lx.pos, "unexpected text after the quantizer"));
    }
    Ok(call)
}

/// A serialized quantizer from a Keras config (`{"class_name", "config"}`).
pub fn call_from_json(v: &serde_json::Value) -> Result<Call> {
    let src = v.to_string();
    let err = |msg: &str| Error::Spec { spec: src.clone(), pos: 0, msg: msg.to_string() };
    if let Some(s) = v.as_str() {
        return parse_call(s);
    }
    let obj = v.as_object().ok_or_else(|| err("expected a string or an object"))?;
    let name = obj
        .get("class_name")
        .and_then(|c| c.as_str())
        .ok_or_else(|| err("missing \"class_name\""))?;
    let name = name.rsplit('>').next().unwrap_or(name).to_string();
    // Keras 3 saves a function (`QActivation(binary_tanh)`) as
    // {"module": "builtins", "class_name": "function", "config": "binary_tanh"}.
    if name == "function" {
        let f = obj.get("config").and_then(|c| c.as_str()).ok_or_else(|| err("a function reference needs its name in \"config\""))?;
        // Named by its name in messages (the JSON around it says nothing).
        return parse_call(f);
    }
    let mut call = Call { name, args: vec![], kwargs: vec![], source: src.clone() };
    if let Some(cfg) = obj.get("config") {
        let cfg = cfg.as_object().ok_or_else(|| err("\"config\" must be an object"))?;
        for (k, val) in cfg {
            let value = match val {
                serde_json::Value::Null => Value::None,
                serde_json::Value::Bool(b) => Value::Bool(*b),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => Value::Int(i),
                    None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
                serde_json::Value::String(s) => Value::Str(s.clone()),
                serde_json::Value::Array(_) => {
                    // numpy's `.tolist()` of a (1, ..., 1, n) array nests
                    // (QKeras saves post_training_scale that way); under
                    // right-aligned broadcasting it is the flat list.
                    let (shape, out) = nested_numbers(val).ok_or_else(|| err(&format!("\"{k}\" must be a list of numbers")))?;
                    if shape.iter().rev().skip(1).any(|&d| d != 1) {
                        return Err(err(&format!("\"{k}\" has shape {shape:?}: only a list, or one nested as (1, ..., 1, n), is supported")));
                    }
                    if shape.len() > 1 { Value::Array { shape, values: out } } else { Value::List(out) }
                }
                serde_json::Value::Object(_) => {
                    return Err(err(&format!("\"{k}\": nested objects are not quantizer arguments")));
                }
            };
            call.kwargs.push((0, k.clone(), value));
        }
    }
    call.source = render(&call);
    Ok(call)
}

/// A call as a QKeras user would write it, for messages and reports; the
/// arguments that only matter in training (at their defaults) are left out.
fn render(call: &Call) -> String {
    let lit = |v: &Value| match v {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Bool(b) => if *b { "True".into() } else { "False".into() },
        Value::None => "None".into(),
        Value::Str(s) => format!("'{s}'"),
        Value::List(l) | Value::Array { values: l, .. } => format!("[{}]", l.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", ")),
    };
    let args = call
        .kwargs
        .iter()
        .filter(|(_, k, v)| {
            let inert = matches!((k.as_str(), v), (_, Value::None))
                || matches!((k.as_str(), v), ("qnoise_factor", Value::Float(f)) if *f == 1.0)
                || matches!((k.as_str(), v), ("qnoise_factor", Value::Int(1)))
                || matches!((k.as_str(), v), ("use_stochastic_rounding", Value::Bool(false)));
            !inert
        })
        .map(|(_, k, v)| format!("{k}={}", lit(v)))
        .collect::<Vec<_>>();
    format!("{}({})", call.name, args.join(", "))
}

/// The shape and the C-order values of a (nested, rectangular) JSON list
/// of numbers.
fn nested_numbers(v: &serde_json::Value) -> Option<(Vec<usize>, Vec<f64>)> {
    match v {
        serde_json::Value::Number(n) => Some((vec![], vec![n.as_f64()?])),
        serde_json::Value::Array(a) => {
            let mut inner: Option<Vec<usize>> = None;
            let mut out = vec![];
            for x in a {
                let (sh, vals) = nested_numbers(x)?;
                if inner.get_or_insert_with(|| sh.clone()) != &sh {
                    return None;
                }
                out.extend(vals);
            }
            let mut shape = vec![a.len()];
            shape.extend(inner.unwrap_or_default());
            Some((shape, out))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_python_calls() {
        let c = parse_call("quantized_bits(6, 2,1,alpha='auto_po2', x=[1 2.5,3], y=None)").unwrap();
        assert_eq!(c.name, "quantized_bits");
        let args: Vec<_> = c.args.iter().map(|a| a.1.clone()).collect();
        assert_eq!(args, vec![Value::Int(6), Value::Int(2), Value::Int(1)]);
        assert_eq!(c.kwargs[0].2, Value::Str("auto_po2".into()));
        assert_eq!(c.kwargs[1].2, Value::List(vec![1.0, 2.5, 3.0]));
        assert_eq!(c.kwargs[2].2, Value::None);
        assert_eq!(parse_call("hard_tanh").unwrap().name, "hard_tanh");
        let f = serde_json::json!({"module": "builtins", "class_name": "function", "config": "binary_tanh", "registered_name": "function"});
        assert_eq!(call_from_json(&f).unwrap().name, "binary_tanh");
        // Messages name it by its name, not by the JSON around it.
        assert_eq!(call_from_json(&f).unwrap().source, "binary_tanh");
        let bad = serde_json::json!({"module": "builtins", "class_name": "function", "config": {"x": 1}});
        assert!(call_from_json(&bad).is_err());
        assert_eq!(parse_call(" binary( ) ").unwrap().args.len(), 0);
    }

    #[test]
    fn nested_lists_as_numpy_tolist_saves_them() {
        let j = |pts: serde_json::Value| serde_json::json!({"class_name": "quantized_bits", "config": {"bits": 4, "alpha": "auto", "post_training_scale": pts}});
        let c = call_from_json(&j(serde_json::json!([[0.5, 1.0, 1.5]]))).unwrap();
        assert_eq!(c.kwargs.iter().find(|k| k.1 == "post_training_scale").unwrap().2, Value::Array { shape: vec![1, 3], values: vec![0.5, 1.0, 1.5] });
        let c = call_from_json(&j(serde_json::json!([[[[0.25], [2.0]]]]))).map(|c| c.kwargs.len());
        assert!(c.unwrap_err().to_string().contains("shape [1, 1, 2, 1]"));
        assert!(call_from_json(&j(serde_json::json!([[1.0], [1.0, 2.0]]))).is_err());
        assert!(call_from_json(&j(serde_json::json!([["a"]]))).is_err());
    }

    #[test]
    fn errors_name_the_position() {
        for (s, pos) in [
            ("quantized_bits(6,", 17),
            ("quantized_bits(6 2)", 17),
            ("quantized_bits(6,alpha=auto)", 23),
            ("quantized_bits(a=1, 2)", 20),
            ("(6)", 0),
            ("quantized_bits(1e)", 15),
            ("quantized_bits(6) x", 18),
            ("q('abc", 2),
            ("q([1,", 5),
        ] {
            match parse_call(s) {
                Err(Error::Spec { pos: p, .. }) => assert_eq!(p, pos, "{s}"),
                other => panic!("{s}: {other:?}"),
            }
        }
    }

    #[test]
    fn json_configs() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"module":"qkeras","class_name":"quantized_bits","config":{"bits":6,"integer":0,"alpha":1,"keep_negative":true,"post_training_scale":null},"registered_name":"qkeras>quantized_bits"}"#,
        )
        .unwrap();
        let c = call_from_json(&v).unwrap();
        assert_eq!(c.name, "quantized_bits");
        assert!(c.kwargs.iter().any(|(_, k, v)| k == "keep_negative" && *v == Value::Bool(true)));
    }
}
