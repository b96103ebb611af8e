//! The plan: the one integer IR every target runs. Each [`Step`] of a
//! [`Plan`] has an exact fixed-point format, a code range and exact integer
//! constants; the golden model interprets it (`crate::golden`) and every
//! backend renders it, so no backend decides arithmetic.
//!
//! - [`lower`](plan_inputs) turns the layer graph into a plan (precision
//!   inference, DESIGN.md's numeric contract);
//! - [`requantizer`] maps a quantizer to the [`Act`] that reproduces it;
//! - [`Geo`] is a window's geometry;
//! - [`float_tail`] finds the steps QKeras computes in float32.

mod act;
mod float_tail;
mod geo;
mod lower;
mod requant;

pub use float_tail::{FloatTail, float_tail};
pub use geo::Geo;
pub use lower::{hardware_plan, plan, plan_inputs, plan_with};
pub use requant::{ScaledAct, requantizer, scaled_requantizer};

use crate::fxp::{FixedFormat, Overflow, Rounding};
use crate::quant::Quantizer;

#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    /// Round ties-to-even from the input's fraction to `out_frac`, clamp.
    Grid { out_frac: i32, min: i128, max: i128 },
    /// max(0, x), exact.
    Relu,
    /// Through the float32 quantizer core; codes at `out_frac`.
    Generic { q: Quantizer, out_frac: i32 },
    /// A `--config` output format: round and fit.
    Requant { out: FixedFormat, rounding: Rounding, overflow: Overflow },
    /// A float activation given a format by `--config`: evaluated in
    /// float32 as TensorFlow does, then rounded and fitted.
    Float { func: FloatFn, out: FixedFormat, rounding: Rounding, overflow: Overflow },
    /// A quantizer of an average QKeras computes in float32: `q(fl(S / n))`
    /// (or `q(fl(S · fl(1/n)))`, [`MeanKind`]) of the exact sum `S` (below
    /// 2^24 codes, so fl(S) = S), codes at
    /// `out_frac`. Monotone in `S`: hardware compares `S` with the change
    /// points ([`crate::passes::segments`]).
    Mean { n: u32, kind: MeanKind, q: Quantizer, out_frac: i32 },
}

/// The float activations `--config` can give a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatFn {
    Tanh,
    Sigmoid,
}

impl FloatFn {
    pub fn apply(self, x: f32) -> f32 {
        match self {
            FloatFn::Tanh => crate::quant::tfmath::tanh(x),
            FloatFn::Sigmoid => crate::quant::tfmath::sigmoid(x),
        }
    }
}

/// How TensorFlow computes an average over a count `n` that is not a power
/// of two in `model.predict`, from the float32 sum `S`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeanKind {
    /// fl(S / n): the pooling kernels and the mean reduction divide.
    Divide,
    /// fl(S · fl(1/n)): `keras.layers.Average` divides by `n`, which the
    /// graph optimizer rewrites into a product with the float32 reciprocal
    /// (eager mode divides).
    Reciprocal,
}

impl MeanKind {
    /// The average of the float32 sum `s` over `n`, as TensorFlow rounds it.
    pub fn apply(self, s: f32, n: u32) -> f32 {
        match self {
            MeanKind::Divide => s / n as f32,
            MeanKind::Reciprocal => s * (1.0 / n as f32),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum MergeKind {
    Add,
    Subtract,
    Multiply,
    Maximum,
    Minimum,
    /// Add, then an exact right shift (the count is a power of two).
    Average(u32),
}

/// One integer operation of the plan, its constants already in integer
/// codes at the step's exact fractions: what the golden model interprets
/// and every backend renders.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOp {
    Input,
    /// Per row of `rows`: y[j] = b[j] + Σ_i x[i] w[i*n_out + j].
    Dense { rows: usize, n_in: usize, n_out: usize, w: Vec<i128>, b: Vec<i128> },
    /// w in Keras layout (kh, kw, cin, cout).
    Conv { geo: Geo, w: Vec<i128>, b: Vec<i128> },
    /// w (kh, kw, cin, mult); output channel c*mult + m.
    Depthwise { geo: Geo, mult: usize, w: Vec<i128>, b: Vec<i128> },
    /// w (kh, kw, cout, cin), TF's conv2d_transpose.
    ConvT { geo: Geo, w: Vec<i128>, b: Vec<i128> },
    /// Per channel (last axis): y = (x - sub) * mul + add.
    Affine { sub: Vec<i128>, mul: Vec<i128>, add: Vec<i128> },
    Act(Act),
    /// Max or sum over each window; a sum is then multiplied by
    /// `mult[output position]` (average pooling, exact).
    Pool { geo: Geo, max: bool, mult: Vec<i128> },
    /// `mean`: Keras's float mean (no average quantizer), which QKeras
    /// computes as a float32 sum divided by `hw`.
    GlobalPool { hw: usize, c: usize, max: bool, mult: i128, mean: bool },
    /// Flatten, Reshape, Dropout: the codes as they are (C order).
    Identity,
    ZeroPad { in_shape: Vec<usize>, pads: Vec<(usize, usize)> },
    /// Output element k is input element `idx[k]` of the same sample
    /// (Cropping, nearest UpSampling, Permute).
    Gather { idx: Vec<u32> },
    /// Inputs aligned by left shifts, then combined.
    Merge { kind: MergeKind, shifts: Vec<u32> },
    Concat { axis: usize, shifts: Vec<u32> },
    /// The index of the largest of the input's `n` elements, the first on
    /// ties (numpy's `argmax`): the `--output-head argmax` head.
    ArgMax { n: usize },
    /// `--bn qkeras`: the codes of the second input (a quantizer of the
    /// exact batch norm), except where the first input's code (the batch
    /// norm's input; channel = its last axis) is listed in
    /// `fixes[channel]` as (input code, output code), ascending: there
    /// QKeras's float32 rounds to another code ([`crate::passes::bn_float`]).
    Exceptions { fixes: Vec<Vec<(i128, i128)>> },
}

/// One tensor of the plan: its operation, inputs, shape and exact format
/// and range (every width in every backend follows from `lo..=hi`).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The layer whose output this step is (None for inner steps).
    pub layer: Option<String>,
    pub inputs: Vec<usize>,
    /// Batch-less shape.
    pub shape: Vec<usize>,
    pub fmt: FixedFormat,
    /// The range of codes this step can produce (within `fmt`).
    pub lo: i128,
    pub hi: i128,
    pub op: StepOp,
}

/// The integer IR every target reads: the model as steps of exact integer
/// arithmetic for one input format. One plan feeds the golden model, C,
/// HLS and Verilog, so a number can only mean one thing.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub model: String,
    pub steps: Vec<Step>,
    pub outputs: Vec<usize>,
    /// Things the user should know (a dropped softmax, ...).
    pub notices: Vec<String>,
    /// The widest tensor: above 63 bits the golden model runs in i128.
    pub max_width: u32,
    /// The model outputs inside the one output tensor of a
    /// [`hardware_plan`] (empty when the model has one output).
    pub parts: Vec<OutputPart>,
    /// The input format and how float inputs are brought into it (the
    /// first input's, where the model has several).
    pub input: crate::fxp::InputFormat,
    /// The `Input` step of each model input, in model order (the golden
    /// model reads input `k` into step `inputs[k]`).
    pub inputs: Vec<usize>,
    /// Steps that multiply an exact sum by fl(1/n) where QKeras divides it
    /// by `n` in float32 (an average over a count that is not a power of
    /// two, not followed by a quantizer): the float tail divides.
    pub divides: std::collections::BTreeMap<usize, (u32, MeanKind)>,
}

impl Plan {
    /// A SHA-256 (hex) of everything the plan computes: its steps (ops,
    /// constants, formats, ranges, layer names), inputs, outputs, output
    /// parts, input format and float divisions; not its notices. Two plans
    /// with one fingerprint give the same codes on every input, so a
    /// design folder records it to be verified against its own plan.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let text = format!("{:?}|{:?}|{:?}|{:?}|{:?}|{:?}", self.steps, self.inputs, self.outputs, self.parts, self.input, self.divides);
        crate::keras::hex(&sha2::Sha256::digest(text.as_bytes()))
    }
}

/// One model output inside the hardware's single output tensor: elements
/// `offset..offset + len`, C order, in the joined tensor's format (which
/// holds each of them exactly).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutputPart {
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: usize,
}

impl Plan {
    /// Elements per sample of each model input, in model order.
    pub fn in_sizes(&self) -> Vec<usize> {
        self.inputs.iter().map(|&s| self.steps[s].shape.iter().product()).collect()
    }

    /// Input codes per sample: every input's, side by side in model order
    /// (the layout of `verify`'s vectors and of the hardware's packed input).
    pub fn in_size(&self) -> usize {
        self.in_sizes().iter().sum()
    }

    /// `n` samples of side-by-side input codes ([`Plan::in_size`] each),
    /// split into one array per model input.
    pub fn split_inputs(&self, codes: &[i128], n: usize) -> Vec<Vec<i128>> {
        let sizes = self.in_sizes();
        let per = self.in_size();
        let mut out: Vec<Vec<i128>> = sizes.iter().map(|&m| Vec::with_capacity(m * n)).collect();
        for sample in codes.chunks(per.max(1)).take(n) {
            let mut at = 0;
            for (k, &m) in sizes.iter().enumerate() {
                out[k].extend_from_slice(&sample[at.min(sample.len())..(at + m).min(sample.len())]);
                at += m;
            }
        }
        out
    }

    /// Hardware has one output port (DESIGN.md): several model outputs go
    /// side by side, each flattened, in model order, aligned to one format
    /// by an exact Concat step, so every backend and `verify` see one
    /// output and the golden model computes the joined tensor itself.
    pub fn join_outputs(mut self) -> Plan {
        if self.outputs.len() < 2 {
            return self;
        }
        let frac = self.outputs.iter().map(|&o| self.steps[o].fmt.frac).max().unwrap_or(0);
        let shifts: Vec<u32> = self.outputs.iter().map(|&o| (frac - self.steps[o].fmt.frac) as u32).collect();
        let (mut lo, mut hi, mut offset) = (i128::MAX, i128::MIN, 0);
        let mut parts = vec![];
        for (&o, &sh) in self.outputs.iter().zip(&shifts) {
            let st = &self.steps[o];
            lo = lo.min(st.lo << sh);
            hi = hi.max(st.hi << sh);
            let name = st.layer.clone().unwrap_or_else(|| format!("step{o}"));
            parts.push(OutputPart { name, shape: st.shape.clone(), offset });
            offset += st.shape.iter().product::<usize>();
        }
        let fmt = fmt_for(lo, hi, frac);
        let list: Vec<String> = parts.iter().map(|p| format!("`{}` {:?} at {}", p.name, p.shape, p.offset)).collect();
        self.notices.push(format!(
            "the model has {} outputs; the hardware output carries them side by side, flattened, in model order, as one {offset}-element tensor in {fmt}: {}",
            parts.len(),
            list.join(", ")
        ));
        let op = StepOp::Concat { axis: 0, shifts };
        self.steps.push(Step { layer: Some("outputs".into()), inputs: self.outputs.clone(), shape: vec![offset], fmt, lo, hi, op });
        self.outputs = vec![self.steps.len() - 1];
        self.max_width = self.max_width.max(fmt.width);
        self.parts = parts;
        self
    }

    /// Which steps the outputs depend on (a dropped softmax is not live).
    pub fn live(&self) -> Vec<bool> {
        let mut live = vec![false; self.steps.len()];
        let mut todo: Vec<usize> = self.outputs.clone();
        while let Some(s) = todo.pop() {
            if !live[s] {
                live[s] = true;
                todo.extend(self.steps[s].inputs.iter().copied());
            }
        }
        live
    }
}

/// How the input codes are formed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputSpec {
    pub fmt: FixedFormat,
    /// Known range of the codes (the whole format if unknown).
    pub lo: i128,
    pub hi: i128,
    /// How float inputs are brought into `fmt` (the C float wrapper and
    /// `verify`'s vectors follow it).
    pub rounding: crate::fxp::Rounding,
    pub overflow: crate::fxp::Overflow,
    /// The float32 inputs themselves, held exactly (`predict` without
    /// `--input-format`): QKeras computes on them in float32, rounding
    /// where qkhw's sums are exact.
    pub raw: bool,
}

impl InputSpec {
    /// Every code of `fmt`, float inputs rounded ties-to-even, saturating.
    pub fn full(fmt: FixedFormat) -> InputSpec {
        InputSpec::of(crate::fxp::InputFormat::nearest(fmt))
    }

    /// Every code of `f`, with its rounding and overflow.
    pub fn of(f: crate::fxp::InputFormat) -> InputSpec {
        InputSpec { fmt: f.fmt, lo: f.fmt.min_code(), hi: f.fmt.max_code(), rounding: f.rounding, overflow: f.overflow, raw: false }
    }

    /// Exactly the codes `lo..=hi` of `fmt` (float32 inputs held exactly).
    pub fn exact(fmt: FixedFormat, lo: i128, hi: i128) -> InputSpec {
        InputSpec { lo, hi, raw: true, ..InputSpec::full(fmt) }
    }

    /// The format with its modes.
    pub fn format(&self) -> crate::fxp::InputFormat {
        crate::fxp::InputFormat { fmt: self.fmt, rounding: self.rounding, overflow: self.overflow }
    }
}

/// The narrowest format for codes in `lo..=hi` at `frac`.
pub fn fmt_for(lo: i128, hi: i128, frac: i32) -> FixedFormat {
    let signed = lo < 0;
    let mut w = 1;
    loop {
        let f = FixedFormat { width: w, frac, signed };
        if f.contains(lo) && f.contains(hi) || w >= 128 {
            return f;
        }
        w += 1;
    }
}

/// The fraction bits `v` needs to be an integer (0 for integers, negative
/// for multiples of 2^k), or None if not finite.
fn frac_needed(v: f64) -> Option<i32> {
    if !v.is_finite() {
        return None;
    }
    if v == 0.0 {
        return Some(i32::MIN / 2);
    }
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let man = if exp == 0 { bits & ((1 << 52) - 1) } else { (bits & ((1 << 52) - 1)) | (1 << 52) };
    let e = if exp == 0 { -1074 } else { exp - 1075 } + man.trailing_zeros() as i32;
    Some(-e)
}
