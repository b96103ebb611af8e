//! Every QKeras quantizer, bit for bit.
//!
//! Each quantizer gives two views of its output:
//! - the float32 QKeras returns (the literal straight-through expression,
//!   evaluated with TensorFlow's op order: [`Quantizer::apply`]);
//! - the hardware view: integer codes with their [`Encoding`] and, for
//!   alpha / auto scales, the per-channel scale ([`Quantizer::hardware`]).
//!
//! They differ only where QKeras's float arithmetic does (|x| far beyond the
//! range, where `x + (-x + xq)` loses `xq`, or NaN from inf − inf).

mod act;
mod args;
mod auto;
mod binary;
pub mod bits;
pub mod ops;
mod po2;
mod relu;
pub mod spec;
pub mod tensor;
pub mod tfmath;

pub use act::{Function, QuantizedSigmoid, QuantizedTanh, QuantizedUlaw};
pub use binary::{Binary, Ternary};
pub use bits::{Alpha, QuantizedBits, QuantizedHswish, QuantizedLinear};
pub use po2::{Log2Rounding, Po2Exp, QuantizedPo2, QuantizedReluPo2};
pub use relu::QuantizedRelu;
pub use tensor::{Groups, Scale};

use crate::error::{Error, Result};
use crate::fxp::FixedFormat;
use args::Args;
use spec::Call;

/// QKeras's process-wide `set_internal_sigmoid` switch, made explicit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum InternalSigmoid {
    #[default]
    Hard,
    Smooth,
    Real,
}

impl InternalSigmoid {
    /// One element; `tail` is its TF path (see [`ops::tail_start`]).
    #[inline]
    pub fn apply(self, x: f32, tail: bool) -> f32 {
        match self {
            InternalSigmoid::Hard => ops::hard_sigmoid(x),
            InternalSigmoid::Smooth => ops::smooth_sigmoid(x),
            InternalSigmoid::Real => ops::sigmoid(x, tail),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            InternalSigmoid::Hard => "hard",
            InternalSigmoid::Smooth => "smooth",
            InternalSigmoid::Real => "real",
        }
    }
}

impl std::fmt::Display for InternalSigmoid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for InternalSigmoid {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "hard" => Ok(InternalSigmoid::Hard),
            "smooth" => Ok(InternalSigmoid::Smooth),
            "real" => Ok(InternalSigmoid::Real),
            _ => Err(Error::Usage(format!("internal sigmoid `{s}` is not one of hard, smooth, real"))),
        }
    }
}

/// How a hardware code maps to a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Encoding {
    /// value = code × 2^-frac (× the channel scale, if any).
    Fixed(FixedFormat),
    /// value = ±2^code; the sign is kept beside the exponent when `signed`.
    Po2 { signed: bool, min_exp: i32, max_exp: i32 },
    /// value = values[code]: outputs that are not on a grid (μ-law).
    Table { index: FixedFormat, values: Vec<f32> },
}

/// One evaluation: QKeras's float and the value before the scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Eval {
    /// What QKeras returns.
    pub float: Vec<f32>,
    /// The quantized value on the encoding's grid, before `scale`.
    pub grid: Vec<f32>,
    /// Per-channel (or per-element, or scalar) factor: xq = scale × grid.
    pub scale: Option<Scale>,
}

/// How a quantizer's output mixes its float input with the quantized
/// value: QKeras's `use_ste` and `qnoise_factor`. At `qnoise_factor` 1 (the
/// only value a hardware path takes) the output is the quantized value up
/// to float32 rounding of the straight-through form; below 1 it is a mix,
/// not a grid, which only `qkhw quantize` reproduces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    pub use_ste: bool,
    /// As written (Python float): TensorFlow casts it, and `1 - it`, to
    /// float32 where it meets a tensor.
    pub qnoise: f64,
}

impl Mix {
    /// Fully quantized, straight-through.
    pub const FULL: Mix = Mix { use_ste: true, qnoise: 1.0 };

    pub(crate) fn from_args(a: &Args) -> Result<Mix> {
        Ok(Mix { use_ste: a.flag("use_ste", true)?, qnoise: bits::qnoise_arg(a)? })
    }

    /// QKeras's output: `x + qnoise * (-x + xq)` with use_ste, else
    /// `(1 - qnoise) * x + qnoise * xq`, in float32. Below 1, TensorFlow's
    /// CPU multiply flushes a subnormal product to zero (measured: 0.25 ×
    /// -2^-126 gives -0); at 1 there is no multiply to flush (TensorFlow's
    /// graph optimizer drops a product by one: a subnormal `-x + xq` stays).
    #[inline]
    #[allow(clippy::eq_op, reason = "QKeras's literal (1 - qnoise_factor) * x + qnoise_factor * xq at qnoise_factor 1: 0 * x is NaN for an infinite x, which QKeras returns")]
    pub(crate) fn apply(self, x: f32, xq: f32) -> f32 {
        if self.qnoise == 1.0 {
            return if self.use_ste { ops::ste(x, xq) } else { (1.0 - 1.0) * x + 1.0 * xq };
        }
        let q = self.qnoise as f32;
        if self.use_ste { x + ops::ftz(q * (-x + xq)) } else { ops::ftz(((1.0 - self.qnoise) as f32) * x) + ops::ftz(q * xq) }
    }
}

/// `xq = scale * grid`, then the straight-through output.
pub(crate) fn finish_scaled(
    x: &[f32],
    grid: Vec<f32>,
    scale: Option<Scale>,
    shape: &[usize],
    mix: Mix,
) -> std::result::Result<Eval, String> {
    let float = match &scale {
        None => x.iter().zip(&grid).map(|(&x, &g)| mix.apply(x, g)).collect(),
        Some(s) => {
            let s = s.expand(shape)?;
            x.iter().zip(&grid).zip(&s).map(|((&x, &g), &s)| mix.apply(x, s * g)).collect()
        }
    };
    Ok(Eval { float, grid, scale })
}

/// `out[i] = f(x[i], tail)` with TF's denormals-are-zero on the input: the
/// one loop of the element-wise fast paths. `tail` is false on the packet
/// part and true on the last `n % 8` elements (see [`ops::tail_start`]). On x86-64 with AVX2 the same code
/// is compiled 8 lanes wide (IEEE operations, no FMA contraction: results
/// are identical; the golden test compares this path with `eval`).
#[inline]
pub(crate) fn map_into(x: &[f32], out: &mut [f32], f: impl Fn(f32, bool) -> f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { map_avx2(x, out, f) };
        return;
    }
    map_plain(x, out, f)
}

#[inline(always)]
fn map_plain(x: &[f32], out: &mut [f32], f: impl Fn(f32, bool) -> f32) {
    let t = ops::tail_start(x.len().min(out.len()));
    for (o, &v) in out[..t].iter_mut().zip(&x[..t]) {
        *o = f(ops::ftz(v), false);
    }
    for (o, &v) in out[t..].iter_mut().zip(&x[t..]) {
        *o = f(ops::ftz(v), true);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn map_avx2(x: &[f32], out: &mut [f32], f: impl Fn(f32, bool) -> f32) {
    map_plain(x, out, f)
}

/// Integer codes of a quantized tensor, as hardware holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct HwTensor {
    pub codes: Vec<i64>,
    /// ±1 per element for a signed po2 encoding, empty otherwise.
    pub signs: Vec<i8>,
    pub encoding: Encoding,
    pub scale: Option<Scale>,
}

impl HwTensor {
    /// The value of element `i` before the scale, exactly.
    pub fn grid_value(&self, i: usize) -> f64 {
        match &self.encoding {
            Encoding::Fixed(f) => f.to_f64(self.codes[i] as i128),
            Encoding::Po2 { .. } => {
                let s = self.signs.get(i).copied().unwrap_or(1) as f64;
                s * crate::fxp::pow2(self.codes[i] as i32)
            }
            Encoding::Table { values, .. } => values[self.codes[i] as usize] as f64,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Bits(QuantizedBits),
    Linear(QuantizedLinear),
    Hswish(QuantizedHswish),
    Relu(QuantizedRelu),
    Tanh(QuantizedTanh),
    Sigmoid(QuantizedSigmoid),
    Ulaw(QuantizedUlaw),
    Po2(QuantizedPo2),
    ReluPo2(QuantizedReluPo2),
    Binary(Binary),
    Ternary(Ternary),
    Function(Function),
}

/// A parsed quantizer with the semantics switch it was built under.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantizer {
    pub kind: Kind,
    /// The spec as written, for messages.
    pub spec: String,
}

/// The quantizers and functions a spec may name.
pub const SUPPORTED: &str = "quantized_bits, quantized_linear, quantized_relu, quantized_tanh, \
quantized_sigmoid, quantized_ulaw, quantized_po2, quantized_relu_po2, quantized_hswish, binary, \
ternary, stochastic_binary, stochastic_ternary, hard_sigmoid, smooth_sigmoid, binary_sigmoid, \
hard_tanh, smooth_tanh, binary_tanh, relu, linear";

/// A weight quantizer written as a string (`"quantized_bits(4,0,1)"`) as
/// the serialized config QKeras saves (`{"class_name": "quantized_bits",
/// "config": {"bits": 4, "integer": 0, "symmetric": 1}}`: positional
/// arguments named, QKeras's defaults left to its constructor), so a
/// command that edits one argument (`freeze`) can. Only the quantizers
/// that take an `alpha`.
pub fn string_to_config(spec_str: &str) -> Result<serde_json::Value> {
    let call = spec::parse_call(spec_str)?;
    let params: &[&'static str] = match call.name.as_str() {
        "quantized_bits" => bits::BITS_PARAMS,
        "quantized_linear" => bits::LINEAR_PARAMS,
        "binary" => binary::BINARY_PARAMS,
        "stochastic_binary" => binary::STOCHASTIC_BINARY_PARAMS,
        "ternary" => binary::TERNARY_PARAMS,
        "stochastic_ternary" => binary::STOCHASTIC_TERNARY_PARAMS,
        other => return Err(Error::Quantizer { spec: spec_str.to_string(), msg: format!("`{other}` has no alpha to freeze") }),
    };
    let args = args::Args::bind(&call, params)?;
    let json = |v: &spec::Value| match v {
        spec::Value::Int(i) => serde_json::json!(i),
        spec::Value::Float(f) => serde_json::json!(f),
        spec::Value::Bool(b) => serde_json::json!(b),
        spec::Value::None => serde_json::Value::Null,
        spec::Value::Str(s) => serde_json::json!(s),
        spec::Value::List(l) | spec::Value::Array { values: l, .. } => serde_json::json!(l),
    };
    let config: serde_json::Map<String, serde_json::Value> = args.bound().iter().map(|(k, v)| ((*k).to_string(), json(v))).collect();
    Ok(serde_json::json!({"class_name": call.name, "config": config}))
}

/// Inputs beyond ±2^64 are taken as ±2^64 by the hardware view
/// ([`Quantizer::hardware`]): the saturated code, where QKeras's float
/// arithmetic overflows.
pub const HARDWARE_INPUT_LIMIT: f32 = 18446744073709551616.0;

impl Quantizer {
    /// QKeras's `qnoise_factor` (1 for the quantizers without one).
    pub fn qnoise_factor(&self) -> f64 {
        match &self.kind {
            Kind::Bits(b) => b.mix.qnoise,
            Kind::Linear(l) => l.qnoise,
            Kind::Relu(r) => r.mix.qnoise,
            Kind::Po2(p) => p.mix.qnoise,
            Kind::ReluPo2(p) => p.mix.qnoise,
            _ => 1.0,
        }
    }

    /// Refuse a partial quantizer (`qnoise_factor` below 1) where integer
    /// codes are needed: every hardware path and the golden model.
    pub fn check_full(&self) -> Result<()> {
        let q = self.qnoise_factor();
        if q == 1.0 {
            return Ok(());
        }
        Err(Error::Quantizer {
            spec: self.spec.clone(),
            msg: format!(
                "qnoise_factor={q}: the output is (1-{q})*x + {q}*q(x), a mix of the float input and the quantized value, not a grid of integer codes; hardware needs qnoise_factor=1 (`qkhw quantize` reproduces the mix)"
            ),
        })
    }

    /// QKeras's `_set_trainable_parameter()`, which a layer calls on its
    /// weight quantizers (kernels, depthwise and pointwise kernels, an RNN's
    /// kernel and recurrent kernel, a QBatchNormalization's gamma and
    /// variance, QScaleShift's two): `alpha=None` becomes `"auto_po2"` (and
    /// `symmetric=True`) for quantized_bits and quantized_linear, and
    /// `"auto_po2"` for binary and ternary. A saved config already shows the
    /// result; a quantizer written as a string (model_quantize's configs, a
    /// hand-written JSON) does not.
    pub fn trainable(mut self) -> Quantizer {
        match &mut self.kind {
            Kind::Bits(b) if b.alpha == bits::Alpha::None => {
                b.alpha = bits::Alpha::AutoPo2;
                b.symmetric = true;
            }
            Kind::Linear(b) if b.alpha == bits::Alpha::None => {
                b.alpha = bits::Alpha::AutoPo2;
                b.symmetric = true;
            }
            Kind::Binary(b) if b.alpha == bits::Alpha::None => b.alpha = bits::Alpha::AutoPo2,
            Kind::Ternary(t) if t.alpha == bits::Alpha::None => t.alpha = bits::Alpha::AutoPo2,
            _ => {}
        }
        self
    }

    /// Parse a spec as a QKeras user writes it.
    pub fn parse(spec: &str, sigmoid: InternalSigmoid) -> Result<Quantizer> {
        Self::from_call(&spec::parse_call(spec)?, sigmoid)
    }

    /// A serialized quantizer (`{"class_name": ..., "config": ...}` or a string).
    pub fn from_json(v: &serde_json::Value, sigmoid: InternalSigmoid) -> Result<Quantizer> {
        Self::from_call(&spec::call_from_json(v)?, sigmoid)
    }

    pub fn from_call(call: &Call, sigmoid: InternalSigmoid) -> Result<Quantizer> {
        let bind = |p: &[&'static str]| Args::bind(call, p);
        let kind = match call.name.as_str() {
            "quantized_bits" => Kind::Bits(QuantizedBits::from_args(&bind(bits::BITS_PARAMS)?)?),
            "quantized_linear" => Kind::Linear(QuantizedLinear::from_args(&bind(bits::LINEAR_PARAMS)?)?),
            "quantized_hswish" => Kind::Hswish(QuantizedHswish::from_args(&bind(bits::HSWISH_PARAMS)?)?),
            "quantized_relu" => Kind::Relu(QuantizedRelu::from_args(&bind(relu::RELU_PARAMS)?, sigmoid)?),
            "quantized_tanh" => Kind::Tanh(QuantizedTanh::from_args(&bind(act::TANH_PARAMS)?, sigmoid)?),
            "quantized_sigmoid" => {
                Kind::Sigmoid(QuantizedSigmoid::from_args(&bind(act::SIGMOID_PARAMS)?, sigmoid)?)
            }
            "quantized_ulaw" => Kind::Ulaw(QuantizedUlaw::from_args(&bind(act::ULAW_PARAMS)?, sigmoid)?),
            "quantized_po2" => Kind::Po2(QuantizedPo2::from_args(&bind(po2::PO2_PARAMS)?)?),
            "quantized_relu_po2" => Kind::ReluPo2(QuantizedReluPo2::from_args(&bind(po2::RELU_PO2_PARAMS)?)?),
            "binary" => Kind::Binary(Binary::from_args(&bind(binary::BINARY_PARAMS)?)?),
            "stochastic_binary" => {
                Kind::Binary(Binary::from_args(&bind(binary::STOCHASTIC_BINARY_PARAMS)?)?)
            }
            "ternary" => Kind::Ternary(Ternary::from_args(&bind(binary::TERNARY_PARAMS)?)?),
            "stochastic_ternary" => {
                let a = bind(binary::STOCHASTIC_TERNARY_PARAMS)?;
                if a.opt_float("threshold")? == Some(1.0) {
                    return Err(a.reject("stochastic_ternary asserts threshold != 1.0"));
                }
                Kind::Ternary(Ternary::from_args(&a)?)
            }
            "bernoulli" => {
                return Err(Error::Quantizer {
                    spec: call.source.clone(),
                    msg: "bernoulli always samples random numbers (it has no deterministic \
                          inference mode); use binary or quantized_bits(1) instead"
                        .into(),
                });
            }
            name => match Function::from_name(name) {
                Some(f) if call.args.is_empty() && call.kwargs.is_empty() => Kind::Function(f),
                Some(_) => {
                    return Err(Error::Spec {
                        spec: call.source.clone(),
                        pos: name.len(),
                        msg: format!("{name} is a function and takes no arguments"),
                    });
                }
                None => {
                    return Err(Error::Spec {
                        spec: call.source.clone(),
                        pos: 0,
                        msg: format!("unknown quantizer `{name}`; supported: {SUPPORTED}"),
                    });
                }
            },
        };
        Ok(Quantizer { kind, spec: call.source.clone() })
    }

    /// How the hardware encodes this quantizer's output, if it has a code.
    pub fn encoding(&self) -> Option<Encoding> {
        Some(match &self.kind {
            Kind::Bits(q) => q.encoding(),
            Kind::Linear(q) => q.encoding(),
            Kind::Hswish(q) => q.bits.encoding(),
            Kind::Relu(q) => q.encoding(),
            Kind::Tanh(q) => q.encoding(),
            Kind::Sigmoid(q) => q.encoding(),
            Kind::Ulaw(q) => q.encoding(),
            Kind::Po2(q) => q.encoding(),
            Kind::ReluPo2(q) => q.encoding(),
            Kind::Binary(q) => q.encoding(),
            Kind::Ternary(q) => q.encoding(),
            Kind::Function(f) => return f.encoding(),
        })
    }

    /// Evaluate on a tensor of `shape` (row-major).
    pub fn eval(&self, x: &[f32], shape: &[usize]) -> Result<Eval> {
        let n: usize = shape.iter().product();
        if n != x.len() {
            return Err(self.apply_err(format!("{} values for shape {shape:?}", x.len())));
        }
        // TensorFlow runs with denormals-are-zero: a subnormal input is ±0.
        // `linear` is the identity, no TF op at all.
        let flushed: Vec<f32>;
        let x = if self.kind != Kind::Function(Function::Linear) && x.iter().any(|v| v.is_subnormal()) {
            flushed = x.iter().map(|&v| ops::ftz(v)).collect();
            &flushed[..]
        } else {
            x
        };
        let r = match &self.kind {
            Kind::Bits(q) => q.eval(x, shape),
            Kind::Linear(q) => q.eval(x, shape),
            Kind::Hswish(q) => q.eval(x, shape),
            Kind::Relu(q) => Ok(q.eval(x)),
            Kind::Tanh(q) => Ok(q.eval(x)),
            Kind::Sigmoid(q) => Ok(q.eval(x)),
            Kind::Ulaw(q) => Ok(q.eval(x)),
            Kind::Po2(q) => Ok(q.eval(x)),
            Kind::ReluPo2(q) => Ok(q.eval(x)),
            Kind::Binary(q) => q.eval(x, shape),
            Kind::Ternary(q) => q.eval(x, shape),
            Kind::Function(f) => {
                let y: Vec<f32> = x.iter().map(|&v| f.apply(v)).collect();
                Ok(Eval { float: y.clone(), grid: y, scale: None })
            }
        };
        r.map_err(|m| self.apply_err(m))
    }

    fn apply_err(&self, msg: String) -> Error {
        Error::Apply { spec: self.spec.clone(), msg }
    }

    /// QKeras's float32 output on a 1-D tensor.
    pub fn apply(&self, x: &[f32]) -> Result<Vec<f32>> {
        self.apply_shaped(x, &[x.len()])
    }

    /// QKeras's float32 output on a tensor of `shape`.
    pub fn apply_shaped(&self, x: &[f32], shape: &[usize]) -> Result<Vec<f32>> {
        let mut out = vec![0f32; x.len()];
        self.apply_into(x, shape, &mut out)?;
        Ok(out)
    }

    /// [`Quantizer::apply_shaped`] into a caller's buffer (`out.len() ==
    /// x.len()`): the element-wise quantizers then run in one pass with no
    /// allocation, which is how the golden model calls them.
    pub fn apply_into(&self, x: &[f32], shape: &[usize], out: &mut [f32]) -> Result<()> {
        let n: usize = shape.iter().product();
        if n != x.len() || out.len() != x.len() {
            return Err(self.apply_err(format!(
                "{} values for shape {shape:?} into {} outputs",
                x.len(),
                out.len()
            )));
        }
        match &self.kind {
            Kind::Bits(q) if q.apply_fast(x, out) => return Ok(()),
            Kind::Relu(q) => return {
                let _: () = q.apply_fast(x, out);
                Ok(())
            },
            Kind::Po2(q) => return {
                let _: () = q.apply_fast(x, out);
                Ok(())
            },
            _ => {}
        }
        out.copy_from_slice(&self.eval(x, shape)?.float);
        Ok(())
    }

    /// The hardware view: the code of every element. Inputs beyond ±2^64
    /// are taken as ±2^64 (the saturated code: what hardware computes where
    /// QKeras's float arithmetic overflows); NaN has no code.
    pub fn hardware(&self, x: &[f32], shape: &[usize]) -> Result<HwTensor> {
        self.check_full()?;
        let encoding = self.encoding().ok_or_else(|| {
            self.apply_err("this function's output is not on a fixed-point grid; it has no integer code".into())
        })?;
        let xs: Vec<f32> = x.iter().map(|&v| v.clamp(-HARDWARE_INPUT_LIMIT, HARDWARE_INPUT_LIMIT)).collect();
        let ev = self.eval(&xs, shape)?;
        let mut codes = Vec::with_capacity(x.len());
        let mut signs = Vec::new();
        for (i, &g) in ev.grid.iter().enumerate() {
            if g.is_nan() {
                return Err(self.apply_err(format!("element {i} is NaN: it has no integer code")));
            }
            let code = match &encoding {
                Encoding::Fixed(f) | Encoding::Table { index: f, .. } => {
                    let c = g as f64 * crate::fxp::pow2(f.frac);
                    if c.fract() != 0.0 {
                        return Err(self.apply_err(format!(
                            "element {i}: {g} is not a code of {f} (a qkhw bug, please report)"
                        )));
                    }
                    // Above 24 bits QKeras's clip bound `m - 1` is not a
                    // float32: it becomes `m`, one past the format. Hardware
                    // saturates to `m - 1` there (clamped as an integer:
                    // from 54 bits `m - 1` is not an f64 either).
                    let mut c = c as i128;
                    if c.abs() > 1 << 24 {
                        c = c.clamp(f.min_code(), f.max_code());
                    }
                    if !f.contains(c) {
                        return Err(self.apply_err(format!(
                            "element {i}: {g} is not a code of {f} (a qkhw bug, please report)"
                        )));
                    }
                    i64::try_from(c).map_err(|_| self.apply_err(format!("element {i}: code {c} of {f} does not fit in int64")))?
                }
                Encoding::Po2 { signed, min_exp, max_exp } => {
                    // 0 only appears where TF flushed 2^min_exp < 2^-126 to
                    // zero; the quantizer's decision was min_exp.
                    if g == 0.0 {
                        if *signed {
                            signs.push(1);
                        }
                        codes.push(*min_exp as i64);
                        continue;
                    }
                    let a = g.abs();
                    let e = a.log2();
                    if a == 0.0 || e.fract() != 0.0 || !(*min_exp as f32..=*max_exp as f32).contains(&e) {
                        return Err(self.apply_err(format!(
                            "element {i}: {g} is not ±2^e with e in {min_exp}..={max_exp} \
                             (this configuration has no power-of-two encoding)"
                        )));
                    }
                    if *signed {
                        signs.push(if g < 0.0 { -1 } else { 1 });
                    }
                    e as i64
                }
            };
            codes.push(code);
        }
        Ok(HwTensor { codes, signs, encoding, scale: ev.scale })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From 54 bits a format's largest code is not an f64 either: a
    /// saturated input's code is clamped as an integer (cross-check batch
    /// 10: `quantized_bits(55,3,1)` of 100.0 was "not a code", a qkhw bug).
    #[test]
    fn a_saturated_code_of_a_wide_format_is_its_largest() {
        for bits in [25, 53, 54, 55, 60, 64] {
            let q = Quantizer::parse(&format!("quantized_bits({bits},3,1)"), InternalSigmoid::Hard).unwrap();
            let hw = q.hardware(&[100.0, -100.0, 0.5], &[3]).unwrap_or_else(|e| panic!("{bits} bits: {e}"));
            let top = i64::try_from((1i128 << (bits - 1)) - 1).unwrap();
            // (The negative end is QKeras's own: -top or -top - 1.)
            assert!(hw.codes[0] == top && (hw.codes[1] == -top || hw.codes[1] == -top - 1) && hw.codes[2] == 1i64 << (bits - 5), "{bits} bits: {:?}", hw.codes);
        }
    }

    /// QKeras computes with a flag's number (`-m + symmetric`): only 0 and
    /// 1 (or booleans) are taken, not 2 run as True (a held-out model).
    #[test]
    fn a_flag_is_zero_or_one() {
        let h = InternalSigmoid::Hard;
        for spec in ["quantized_bits(6,2,2,alpha=1)", "quantized_ulaw(8,0,255)", "quantized_bits(6,2,keep_negative=2)"] {
            let e = Quantizer::parse(spec, h).unwrap_err().to_string();
            assert!(e.contains("must be True or False (0 or 1"), "{spec}: {e}");
        }
        for spec in ["quantized_bits(6,2,1,alpha=1)", "quantized_bits(6,2,symmetric=True)", "quantized_ulaw(8,0,0)", "quantized_bits(6,2,symmetric=1.0)"] {
            Quantizer::parse(spec, h).unwrap_or_else(|e| panic!("{spec}: {e}"));
        }
    }

    /// Shared arguments are validated the same way by every quantizer
    /// (binary used to clamp a negative scale_axis to 0 and saturate a huge
    /// po2 exponent silently).
    #[test]
    fn shared_arguments_are_validated_alike() {
        for spec in [
            "quantized_bits(4,0,1,alpha='auto_po2',scale_axis=-1)",
            "quantized_linear(4,0,alpha='auto',scale_axis=-1)",
            "binary(alpha='auto_po2',scale_axis=-1)",
            "quantized_bits(4,0,1,alpha='auto_po2',min_po2_exponent=1e30)",
            "binary(alpha='auto_po2',max_po2_exponent=1e30)",
            "binary(alpha='auto_po2',min_po2_exponent=0.5)",
            "quantized_bits(4,0,1,alpha='auto_po2',elements_per_scale=2)",
            "binary(alpha='auto_po2',elements_per_scale=2)",
            "quantized_bits(4,0,1,alpha='auto',scale_axis=1,elements_per_scale=2)",
            "binary(alpha='auto_po2',scale_axis=1,elements_per_scale=[2 2])",
            "binary(alpha='auto_po2',scale_axis=1,elements_per_scale=0)",
        ] {
            let e = Quantizer::parse(spec, InternalSigmoid::Hard).unwrap_err().to_string();
            assert!(e.contains("must be") || e.contains("only supported") || e.contains("one block size"), "{spec}: {e}");
        }
        assert!(Quantizer::parse("binary(alpha='auto_po2',scale_axis=0,min_po2_exponent=-2)", InternalSigmoid::Hard).is_ok());
    }
}
