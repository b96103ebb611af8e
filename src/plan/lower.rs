//! Lowering (precision inference): every tensor of the graph gets a
//! [`FixedFormat`] and exact integer constants, giving the [`Plan`] the
//! golden model runs and the backends render.
//!
//! Policy (DESIGN.md, numeric contract):
//! - the input is `--input-format`, or for `predict` on raw floats the
//!   narrowest format holding every input value exactly;
//! - weights are their quantizers' values, held exactly (auto_po2 and alpha
//!   scales folded into the codes); tensors QKeras leaves as float32 (batch
//!   norm tables, unquantized biases) are held exactly too;
//! - accumulators grow exactly: the width is what the true range needs,
//!   from the input range and each output's weights (zero weights add
//!   nothing), so nothing ever overflows;
//! - every quantizer is a requantizer to its own output format: fixed grids
//!   (quantized_bits, quantized_relu) round ties-to-even and saturate in
//!   integers; the others (tanh, sigmoid, po2, ulaw, hswish, binary, ...)
//!   take the value rounded to float32, as QKeras receives it, through the
//!   bit-exact quantizer core;
//! - a final float softmax is dropped (logits out, arg-max unchanged); any
//!   other float activation is an error naming the layer, except relu and
//!   linear, which are exact on fixed point.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::fxp::FixedFormat;
use crate::passes::config::Config;
use crate::ir::{Activation, Graph, Layer, LayerId, Merge, Op, Padding, Window};
use crate::passes::bn_fusing;
use crate::passes::hw_tensors::{hw_tensors, HwWeight};
use crate::quant::{Encoding, Quantizer};

use super::requant::{requantizer, scaled_requantizer};
use super::{fmt_for, frac_needed, Act, FloatFn, Geo, InputSpec, MeanKind, MergeKind, Plan, Step, StepOp};

fn err(g: &Graph, l: &Layer, msg: impl Into<String>) -> Error {
    Error::Model { path: g.source.clone(), layer: Some(l.name.clone()), msg: format!("({}) {}", l.class, msg.into()) }
}

/// [`err`] for a value too wide to hold, saying why when the layer is not
/// quantized: its float32 weights are held exactly, as codes of up to 150
/// fraction bits, which is what a plain Keras model runs into.
fn too_wide(g: &Graph, l: &Layer, msg: &str) -> Error {
    let float = match &l.op {
        Op::Dense { kernel_q, .. } | Op::Conv { kernel_q, .. } | Op::ConvTranspose { kernel_q, .. } => kernel_q.is_none(),
        Op::Depthwise { depthwise_q, .. } => depthwise_q.is_none(),
        Op::Separable { depthwise_q, pointwise_q, .. } => depthwise_q.is_none() || pointwise_q.is_none(),
        Op::BatchNorm(bn) => bn.quantizers.iter().all(Option::is_none),
        _ => false,
    };
    let hint = if float {
        "; the layer is not quantized: its float32 weights are held exactly, which takes values this wide (quantize the model first: `qkhw quantize-model`)"
    } else {
        ""
    };
    err(g, l, format!("{msg}{hint}"))
}

/// Exact values as integer codes at a common fraction (at least `min_frac`).
struct Consts {
    frac: i32,
    values: Vec<f64>,
}

impl Consts {
    fn of(w: &HwWeight) -> Consts {
        Consts { frac: 0, values: (0..w.codes.len()).map(|i| w.value(i)).collect() }.settle()
    }
    fn from(values: Vec<f64>) -> Consts {
        Consts { frac: 0, values }.settle()
    }
    fn settle(mut self) -> Consts {
        self.frac = self.values.iter().filter_map(|&v| frac_needed(v)).max().unwrap_or(0).max(-64);
        self
    }
    /// Codes at `frac` (>= self.frac).
    fn codes(&self, frac: i32) -> Option<Vec<i128>> {
        self.values
            .iter()
            .map(|&v| {
                let c = v * crate::fxp::pow2(frac);
                (c.fract() == 0.0 && c.abs() < 1.7e38).then_some(c as i128)
            })
            .collect()
    }
}

mod recurrent;
mod unread_columns;

/// A constant held exactly (every value is a float32 QKeras multiplies by):
/// QScaleShift's weight and bias, TensorFlow's batch-norm constants, a
/// recurrent cell's slices of its kernels and biases.
fn exact_weight(layer: &str, name: &str, shape: Vec<usize>, values: &[f64]) -> HwWeight {
    let f32s: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let (fmt, codes) = FixedFormat::exact_for(&f32s).unwrap_or((FixedFormat { width: 1, frac: 0, signed: false }, vec![0; values.len()]));
    HwWeight { layer: layer.to_string(), tensor: name.to_string(), shape, quantizer: None, codes, signs: vec![], encoding: Encoding::Fixed(fmt), scale: None }
}

struct Builder<'g> {
    g: &'g Graph,
    cfg: &'g Config,
    tensors: HashMap<(String, String), HwWeight>,
    steps: Vec<Step>,
    /// IR layer → step holding its output.
    at: HashMap<LayerId, usize>,
    notices: Vec<String>,
    /// Averages QKeras computes in float32 (a count `n` that is not a power
    /// of two): the step multiplying by fl(1/n) → (the exact sum's step, `n`,
    /// how TensorFlow rounds).
    means: HashMap<usize, (usize, u32, MeanKind)>,
    /// `--bn qkeras` batch norms: the exact affine step (TensorFlow's
    /// constants) → its input step and those constants.
    float_bn: HashMap<usize, (usize, crate::passes::bn_float::FloatBn)>,
}

/// The plan of `g` for inputs in `input`, with no overrides.
pub fn plan(g: &Graph, input: InputSpec) -> Result<Plan> {
    plan_with(g, input, &Config::default())
}

/// The plan of `g` for inputs in `input` (every input, where the model
/// has several), with `--config` overrides.
pub fn plan_with(g: &Graph, input: InputSpec, cfg: &Config) -> Result<Plan> {
    plan_inputs(g, &vec![input; g.inputs.len().max(1)], cfg)
}

/// The plan of `g` with one input spec per model input (model order).
pub fn plan_inputs(g: &Graph, specs: &[InputSpec], cfg: &Config) -> Result<Plan> {
    cfg.check(g)?;
    let tensors = hw_tensors(g)?.into_iter().map(|w| ((w.layer.clone(), w.tensor.clone()), w)).collect();
    let mut b = Builder { g, cfg, tensors, steps: vec![], at: HashMap::new(), notices: vec![], means: HashMap::new(), float_bn: HashMap::new() };
    if g.inputs.is_empty() || specs.len() != g.inputs.len() {
        return Err(Error::Internal(format!("{} input specs for a model with {} inputs", specs.len(), g.inputs.len())));
    }
    let fused = bn_fusing::pairs(g);
    // The model's inputs lead the plan, in model order (steps
    // `0..inputs.len()`): every backend packs a sample's inputs side by
    // side in that order. The other layers follow in the graph's order.
    let order = g.inputs.iter().map(|i| i.0).chain((0..g.layers.len()).filter(|i| !g.inputs.contains(&LayerId(*i))));
    for i in order {
        let (id, l) = (LayerId(i), &g.layers[i]);
        let k = g.inputs.iter().position(|&x| x == id).unwrap_or(0);
        let last = b.layer(l, id, specs[k], &fused)?;
        b.at.insert(id, last);
    }
    let inputs: Vec<usize> = g.inputs.iter().map(|i| b.at[i]).collect();
    let input = specs[0];
    let mut outputs = vec![];
    for &o in &g.outputs {
        let mut s = b.at[&o];
        // A float softmax at the output: drop it, the logits come out.
        let l = &g.layers[o.0];
        if l.activation == Activation::Float("softmax".into()) {
            b.notices.push(format!(
                "layer `{}`: the float softmax at the output is not part of the integer datapath; outputs are the logits before it (arg-max unchanged)",
                l.name
            ));
            s = b.steps[s].inputs.first().copied().unwrap_or(s);
        }
        if cfg.output_head == crate::passes::config::OutputHead::Argmax {
            let n: usize = b.steps[s].shape.iter().product();
            if n == 0 {
                return Err(Error::Usage(format!("--output-head argmax: output `{}` is empty", l.name)));
            }
            // Not an error: another output of the model can be a class
            // vector (cross-check batch 14: a sigmoid head's arg-max was
            // written, all zeros, without a word).
            if n == 1 {
                b.notices.push(format!(
                    "--output-head argmax: output `{}` has one value a sample, so its arg-max is always 0 (a one-unit sigmoid head's class is whether its logit is positive: --output-head logits gives the logit)",
                    b.steps[s].layer.as_deref().unwrap_or(&l.name)
                ));
            }
            let hi = n as i128 - 1;
            b.steps.push(Step {
                layer: Some(format!("{}_argmax", l.name)),
                inputs: vec![s],
                shape: vec![1],
                fmt: fmt_for(0, hi, 0),
                lo: 0,
                hi,
                op: StepOp::ArgMax { n },
            });
            s = b.steps.len() - 1;
        }
        outputs.push(s);
    }
    let max_width = b.steps.iter().map(|s| s.fmt.width).max().unwrap_or(1);
    let divides = b.means.iter().map(|(&avg, &(_, n, kind))| (avg, (n, kind))).collect();
    let mut plan = Plan { model: g.name.clone(), steps: b.steps, outputs, notices: b.notices, max_width, parts: vec![], input: input.format(), inputs, divides };
    unread_columns::drop_unread_columns(&mut plan);
    // The integer datapath multiplies by fl(1/n) only where no quantizer
    // takes the average (each quantizer takes the exact float32 quotient).
    let live = plan.live();
    let mut inexact_notes = vec![];
    for (&avg, &(n, _)) in &plan.divides {
        // Read by something other than a quantizer that takes it exactly,
        // or a float tail (which `predict` computes as TensorFlow does).
        let tails: std::collections::HashSet<usize> = plan.outputs.iter().flat_map(|&o| super::float_tail(&plan, o).steps).collect();
        let tail_only = tails.contains(&avg) && (0..plan.steps.len()).filter(|&k| live[k] && plan.steps[k].inputs.contains(&avg)).all(|k| tails.contains(&k));
        if live[avg] && !tail_only {
            let l = plan.steps[avg].layer.clone().unwrap_or_default();
            let hint = if g.layers.iter().any(|x| x.name == l && matches!(x.op, Op::Merge(_))) { "" } else { "; use an average_quantizer for exact hardware" };
            inexact_notes.push(format!(
                "layer `{l}`: averaging over {n} values multiplies by its factor rounded to float32 (QKeras rounds the average to float32, so the last bits can differ{hint}; a plain quantizer right after the average, or after a Flatten/Reshape of it, takes the float32 average exactly)"
            ));
        }
    }
    for n in inexact_notes {
        if !plan.notices.contains(&n) {
            plan.notices.push(n);
        }
    }
    // Exact here, rounded there: QKeras holds an output that needs more than
    // float32's 24 significant bits rounded (unless it ends in a float tail,
    // which predict evaluates in float32 as TensorFlow does).
    for (&o, &s) in g.outputs.iter().zip(&plan.outputs) {
        let st = &plan.steps[s];
        let bits = st.fmt.width - u32::from(st.fmt.signed);
        if bits > 24 && super::float_tail(&plan, s).is_empty() {
            let n = format!(
                "output of layer `{}`: exact values need {} ({bits} significant bits) and come out exact; QKeras computes them in float32 (24 significant bits), so its outputs can differ in the low bits (a quantizer on the output makes both the same)",
                g.layers[o.0].name, st.fmt
            );
            plan.notices.push(n);
        }
    }
    for n in raw_input_sum_notices(&plan, specs) {
        if !plan.notices.contains(&n) {
            plan.notices.push(n);
        }
    }
    for n in float_tail_order_notices(&plan) {
        if !plan.notices.contains(&n) {
            plan.notices.push(n);
        }
    }
    Ok(plan)
}

/// The linear layers that read raw float32 inputs (held exactly) and whose
/// exact sums need more than float32's 24 significant bits: QKeras sums
/// them in float32, so where a rounded sum lands across the next
/// quantizer's rounding boundary (a tie, say) `model.predict` differs from
/// the exact result (a cross-check's 1x1 convolution: TensorFlow's sum
/// fell on a tie and rounded to even, the exact sum just above it).
fn raw_input_sum_notices(plan: &Plan, specs: &[InputSpec]) -> Vec<String> {
    let raw: Vec<usize> = plan.inputs.iter().zip(specs).filter(|(_, s)| s.raw).map(|(&i, _)| i).collect();
    // A float tail's steps are evaluated in float32 as QKeras does.
    let tails: std::collections::HashSet<usize> = plan.outputs.iter().flat_map(|&o| super::float_tail(plan, o).steps).collect();
    plan.steps
        .iter()
        .enumerate()
        .filter(|(i, _)| !tails.contains(i))
        .map(|(_, st)| st)
        .filter(|st| matches!(st.op, StepOp::Dense { .. } | StepOp::Conv { .. } | StepOp::Depthwise { .. } | StepOp::ConvT { .. }))
        .filter(|st| st.inputs.first().is_some_and(|x| raw.contains(x)))
        .filter(|st| st.fmt.width - u32::from(st.fmt.signed) > 24)
        .filter_map(|st| st.layer.as_ref().map(|l| (l, st.fmt)))
        .map(|(l, f)| format!(
            "layer `{l}`: on the raw float32 inputs, held exactly, its sums need {} significant bits ({f}); QKeras sums them in float32 (24), so where a rounded sum falls across the next quantizer's rounding boundary model.predict differs from the exact value qkhw computes (rare: a tie, or a sum that close to one); --input-format, or an input quantizer, makes both exact",
            f.width - u32::from(f.signed)
        ))
        .collect()
}

/// The unquantized Dense layers of an output's float32 tail whose sums
/// round: TensorFlow's matrix product sums in an order of its own (its
/// kernel's blocking, which depends on the CPU, the shapes and the batch
/// size: measured in the README, so no per-sample emulation exists), `predict`
/// in input order with fused multiply-adds, so the last bits can differ.
/// Where every product and partial sum is exact in float32 (its exact
/// integer bound under 2^24, on inputs that are exact themselves) any
/// order gives the same result, and nothing is said.
fn float_tail_order_notices(plan: &Plan) -> Vec<String> {
    const EXACT: i128 = 1 << 24;
    let mut out = vec![];
    for &s in &plan.outputs {
        let tail = super::float_tail(plan, s);
        // Is each step's float32 value exact (its start steps are)?
        let mut exact_at: std::collections::HashMap<usize, bool> = tail.starts.iter().map(|&k| (k, true)).collect();
        for &c in &tail.steps {
            let st = &plan.steps[c];
            let mut exact = st.inputs.iter().all(|k| exact_at.get(k).copied().unwrap_or(true));
            let x = &plan.steps[st.inputs[0]];
            let xmax = x.lo.abs().max(x.hi.abs());
            let most = |v: &[i128]| v.iter().map(|a| a.abs()).max().unwrap_or(0);
            match &st.op {
                StepOp::Dense { n_in, n_out, w, b, .. } => {
                    let fits = (0..*n_out).all(|j| {
                        let taps: i128 = (0..*n_in).map(|i| w[i * n_out + j].abs()).sum();
                        taps.saturating_mul(xmax).saturating_add(b[j].abs()) < EXACT
                    });
                    if !(exact && fits) {
                        let l = plan.steps[c..].iter().find_map(|s| s.layer.clone()).unwrap_or_default();
                        out.push(format!(
                            "layer `{l}`: QKeras computes this unquantized Dense in float32 and its sums round; TensorFlow's matrix product sums in an order of its own (it depends on the CPU, the shapes and the batch size model.predict runs with), qkhw's predict in input order with fused multiply-adds, so the last bits of the output can differ (an output quantizer makes it exact)"
                        ));
                    }
                    exact = exact && fits;
                }
                // A division TensorFlow rounds.
                StepOp::Affine { .. } if plan.divides.contains_key(&c) => exact = false,
                StepOp::Affine { sub, mul, add } => {
                    let prod = (xmax + most(sub)).saturating_mul(most(mul));
                    exact = exact && prod < EXACT && prod.saturating_add(most(add)) < EXACT;
                }
                StepOp::GlobalPool { hw, .. } => exact = exact && hw.is_power_of_two() && xmax.saturating_mul(*hw as i128) < EXACT,
                _ => {}
            }
            exact_at.insert(c, exact);
        }
    }
    out
}

/// The plan the backends render and `verify` checks: [`plan_with`], then
/// the outputs joined into one port ([`Plan::join_outputs`]).
pub fn hardware_plan(g: &Graph, input: InputSpec, cfg: &Config) -> Result<Plan> {
    plan_with(g, input, cfg).map(Plan::join_outputs)
}

impl Builder<'_> {
    #[allow(clippy::too_many_arguments, reason = "a step is its layer, inputs, shape, format and range, and op")]
    fn push(&mut self, l: &Layer, inputs: Vec<usize>, shape: Vec<usize>, frac: i32, lo: i128, hi: i128, op: StepOp) -> Result<usize> {
        let fmt = fmt_for(lo, hi, frac);
        if fmt.width > 127 {
            return Err(too_wide(self.g, l, &format!("needs a {}-bit tensor; the golden model is exact up to 127 bits", fmt.width)));
        }
        self.steps.push(Step { layer: None, inputs, shape, fmt, lo, hi, op });
        Ok(self.steps.len() - 1)
    }

    fn tensor(&self, l: &Layer, name: &str) -> Result<&HwWeight> {
        self.tensors
            .get(&(l.name.clone(), name.to_string()))
            .ok_or_else(|| err(self.g, l, format!("no `{name}` constant (a qkhw bug, please report)")))
    }

    fn input_of(&self, l: &Layer, k: usize) -> usize {
        self.at[&l.inputs[k]]
    }

    /// The steps of one layer; returns the one holding its output.
    fn layer(&mut self, l: &Layer, id: LayerId, input: InputSpec, fused: &[(LayerId, LayerId)]) -> Result<usize> {
        let mut s = match &l.op {
            Op::Input => {
                let s = self.push(l, vec![], l.shape.clone(), input.fmt.frac, input.lo, input.hi, StepOp::Input)?;
                self.steps[s].fmt = input.fmt;
                s
            }
            Op::Dense { .. } | Op::Conv { .. } | Op::Depthwise { .. } | Op::Separable { .. } | Op::Folded { .. } => {
                self.linear(l)?
            }
            Op::ConvTranspose { .. } => self.linear(l)?,
            // `--bn qkeras`: QKeras's predict runs the batch norm after its
            // producer's output (bias included), fused in the tables or not.
            Op::BatchNorm(bn) if self.cfg.bn_mode(&l.name) == crate::passes::config::BnMode::Qkeras => {
                self.float_bn(l, bn, self.input_of(l, 0))?
            }
            Op::BatchNorm(bn) => {
                let x = self.input_of(l, 0);
                let producer = fused.iter().find(|(_, b)| *b == id).map(|(p, _)| self.g.layers[p.0].name.clone());
                let (sub, inv, bias) = match fused.iter().find(|(_, b)| *b == id) {
                    // Fused: QKeras's bn_inv / fused_bias on the producer's
                    // accumulator, i.e. its output minus its bias.
                    Some((p, _)) => {
                        let pl = &self.g.layers[p.0];
                        let sub = self.tensors.get(&(pl.name.clone(), "bias".into())).map(|w| (0..w.codes.len()).map(|i| w.value(i)).collect());
                        (sub, self.tensor(pl, "bn_inv")?.clone(), self.tensor(pl, "fused_bias")?.clone())
                    }
                    None => (None, self.tensor(l, "bn_inv")?.clone(), self.tensor(l, "bn_bias")?.clone()),
                };
                if let Some(n) = crate::passes::bn_tables::inverse_differs_in_predict(l, bn)? {
                    self.notices.push(n);
                }
                let (inv, bias) = match self.cfg.bn_tables(&l.name, producer.as_deref()) {
                    Some(c) => (round_table(&inv, c.bn_inv, c), round_table(&bias, c.bn_bias, c)),
                    None => (inv, bias),
                };
                self.affine(l, x, sub, &inv, &bias)?
            }
            Op::Activation => self.input_of(l, 0),
            Op::AdaptiveActivation { moving, .. } => {
                return Err(err(self.g, l, moving));
            }
            Op::Rnn { .. } | Op::Bidirectional { .. } => self.recurrent(l)?,
            Op::ScaleShift { .. } => self.scale_shift(l)?,
            Op::Pool { .. } | Op::GlobalPool { .. } => self.pool(l)?,
            Op::Flatten | Op::Reshape { .. } | Op::Dropout => {
                let x = self.input_of(l, 0);
                let (f, lo, hi) = (self.steps[x].fmt, self.steps[x].lo, self.steps[x].hi);
                let s = self.push(l, vec![x], l.shape.clone(), f.frac, lo, hi, StepOp::Identity)?;
                self.steps[s].fmt = f;
                s
            }
            Op::ZeroPadding { pads } => {
                let x = self.input_of(l, 0);
                let (f, lo, hi) = (self.steps[x].fmt, self.steps[x].lo.min(0), self.steps[x].hi.max(0));
                self.push(l, vec![x], l.shape.clone(), f.frac, lo, hi, StepOp::ZeroPad { in_shape: l.in_shapes[0].clone(), pads: pads.clone() })?
            }
            Op::Cropping { .. } | Op::UpSampling { .. } | Op::Permute { .. } | Op::OutputPart { .. } => {
                let x = self.input_of(l, 0);
                let (f, lo, hi) = (self.steps[x].fmt, self.steps[x].lo, self.steps[x].hi);
                let idx = gather_index(&l.op, &l.in_shapes[0], &l.shape);
                let s = self.push(l, vec![x], l.shape.clone(), f.frac, lo, hi, StepOp::Gather { idx })?;
                self.steps[s].fmt = f;
                s
            }
            Op::Merge(m) => self.merge(l, m)?,
            // `why` names the class already.
            Op::Skipped { why, .. } => return Err(Error::Model { path: self.g.source.clone(), layer: Some(l.name.clone()), msg: why.clone() }),
        };
        s = self.activation(l, s)?;
        if let Some(c) = self.cfg.layer(&l.name) {
            let float_act = matches!(l.activation, Activation::Float(ref f) if f != "relu" && f != "softmax");
            // A format the layer already has exactly is no requantization
            // (config_from_model writes every layer's exact format).
            let already = c.output == Some(self.steps[s].fmt);
            if let (Some(out), false, false) = (c.output, float_act, already) {
                let shape = self.steps[s].shape.clone();
                let (lo, hi) = (out.min_code(), out.max_code());
                let act = Act::Requant { out, rounding: c.rounding, overflow: c.overflow };
                s = self.push(l, vec![s], shape, out.frac, lo, hi, StepOp::Act(act))?;
                self.steps[s].fmt = out;
            }
        }
        self.steps[s].layer = Some(l.name.clone());
        Ok(s)
    }

    fn activation(&mut self, l: &Layer, x: usize) -> Result<usize> {
        self.apply_activation(l, &l.activation, x)
    }

    /// `act` on step `x`, inside layer `l` (its own activation, or a
    /// recurrent cell's).
    fn apply_activation(&mut self, l: &Layer, act: &Activation, x: usize) -> Result<usize> {
        let (xf, xlo, xhi) = (self.steps[x].fmt, self.steps[x].lo, self.steps[x].hi);
        let shape = self.steps[x].shape.clone();
        if let Activation::Quantized(q) = act {
            self.hswish_notice(l, q);
        }
        match act {
            Activation::Linear => Ok(x),
            Activation::Float(f) if f == "relu" => {
                self.push(l, vec![x], shape, xf.frac, xlo.max(0), xhi.max(0), StepOp::Act(Act::Relu))
            }
            Activation::Float(f) if f == "softmax" && self.g.outputs.iter().any(|o| self.g.layers[o.0].name == l.name) => {
                // Kept as a pass-through step; `plan` routes the output past it.
                let s = self.push(l, vec![x], shape, xf.frac, xlo, xhi, StepOp::Identity)?;
                self.steps[s].fmt = xf;
                Ok(s)
            }
            Activation::Float(f) => {
                let func = match f.as_str() {
                    "tanh" => Some(FloatFn::Tanh),
                    "sigmoid" => Some(FloatFn::Sigmoid),
                    _ => None,
                };
                match (func, self.cfg.layer(&l.name).and_then(|c| c.output.map(|o| (o, c)))) {
                    (Some(func), Some((out, c))) => {
                        let act = Act::Float { func, out, rounding: c.rounding, overflow: c.overflow };
                        let s = self.push(l, vec![x], shape, out.frac, out.min_code(), out.max_code(), StepOp::Act(act))?;
                        self.steps[s].fmt = out;
                        Ok(s)
                    }
                    _ => Err(err(
                        self.g,
                        l,
                        format!(
                            "float activation `{f}` inside the integer datapath: replace it by a quantized activation \
                             (e.g. QActivation(\"quantized_relu(8,3)\") or quantized_tanh(8)){}",
                            if func.is_some() { ", or give it a format with --config ([layer.NAME] output = \"fixed<W,I>\")" } else { "" }
                        ),
                    )),
                }
            }
            Activation::Quantized(q) => match scaled_requantizer(q).map_err(|m| err(self.g, l, m))? {
                Some(sa) => {
                    let channels = *shape.last().unwrap_or(&1);
                    if sa.mult.len() != 1 && sa.mult.len() != channels {
                        return Err(err(self.g, l, format!("activation quantizer `{}`: {} alpha values for {channels} channels", q.spec, sa.mult.len())));
                    }
                    let grid = Act::Grid { out_frac: sa.grid_frac, min: sa.lo, max: sa.hi };
                    if sa.mult.iter().all(|&m| m == 1) {
                        // alpha = 2^e: the same codes, 2^e times the value.
                        return self.push(l, vec![x], shape, sa.grid_frac - sa.exp, sa.lo, sa.hi, StepOp::Act(grid));
                    }
                    let g = self.push(l, vec![x], shape.clone(), sa.grid_frac, sa.lo, sa.hi, StepOp::Act(grid))?;
                    let (mmax, mmin) = (sa.mult.iter().copied().max().unwrap_or(1), sa.mult.iter().copied().min().unwrap_or(1));
                    let (lo, hi) = ((sa.lo * mmax).min(sa.lo * mmin), (sa.hi * mmax).max(sa.hi * mmin));
                    let n = sa.mult.len();
                    self.push(l, vec![g], shape, sa.grid_frac - sa.exp, lo, hi, StepOp::Affine { sub: vec![0; n], mul: sa.mult, add: vec![0; n] })
                }
                None => {
                    let (act, frac, lo, hi) = requantizer(q).map_err(|m| err(self.g, l, m))?;
                    // After an average QKeras divides in float32: the
                    // quantizer of the quotient, from the exact sum (held
                    // exactly in float32 below 2^24 codes).
                    // Through Flatten / Reshape / Dropout (element order kept).
                    let mut from = x;
                    while self.steps[from].op == StepOp::Identity && self.steps[from].inputs.len() == 1 && !self.means.contains_key(&from) {
                        from = self.steps[from].inputs[0];
                    }
                    if let Some((bn_x, fb)) = self.float_bn.get(&from).cloned() {
                        let a = self.push(l, vec![x], shape, frac, lo, hi, StepOp::Act(act.clone()))?;
                        return self.bn_exceptions(l, bn_x, from, &fb, a, &act);
                    }
                    if let Some(&(sum, n, kind)) = self.means.get(&from) {
                        let st = &self.steps[sum];
                        if st.lo > -(1 << 24) && st.hi < 1 << 24 {
                            return self.push(l, vec![sum], shape, frac, lo, hi, StepOp::Act(Act::Mean { n, kind, q: q.clone(), out_frac: frac }));
                        }
                    }
                    self.push(l, vec![x], shape, frac, lo, hi, StepOp::Act(act))
                }
            },
        }
    }

    fn affine(&mut self, l: &Layer, x: usize, sub: Option<Vec<f64>>, mul: &HwWeight, add: &HwWeight) -> Result<usize> {
        let (xf, xlo, xhi) = (self.steps[x].fmt, self.steps[x].lo, self.steps[x].hi);
        let c = mul.codes.len();
        let sub_c = match sub {
            // Only a fused batch norm subtracts: its producer's bias.
            Some(v) => Consts::from(v).codes(xf.frac).ok_or_else(|| {
                err(
                    self.g,
                    l,
                    format!(
                        "QKeras's weights fuse this batch norm into the layer before it across that layer's activation (bn_inv and fused_bias apply to its output minus its bias), and that bias is finer than the activation's output {xf}, so the fused tables cannot be applied exactly; `--bn qkeras` runs the batch norm as QKeras's predict does"
                    ),
                )
            })?,
            None => vec![0; c],
        };
        let mut m = Consts::of(mul);
        // All-zero factors need no fraction: the −64 floor would put the
        // (zero) product 64 bits below its input, and whatever it is merged
        // with would be shifted by as much (a cross-check's GRU with a zero
        // recurrent bias: C that did not compile).
        if m.values.iter().all(|&v| v == 0.0) {
            m.frac = 0;
        }
        let a = Consts::of(add);
        let frac = (xf.frac + m.frac).max(a.frac);
        let mul_c = m.codes(frac - xf.frac).ok_or_else(|| err(self.g, l, format!("a per-channel factor (batch norm's bn_inv, a scale) needs more than 64 bits at 2^-{}", frac - xf.frac)))?;
        let add_c = a.codes(frac).ok_or_else(|| err(self.g, l, format!("a per-channel offset (batch norm's bias, a shift) needs more than 64 bits at 2^-{frac}")))?;
        let (mut lo, mut hi) = (i128::MAX, i128::MIN);
        let wide = || too_wide(self.g, l, "a scaled value needs more than 127 bits");
        for k in 0..c {
            let at = |x: i128| x.checked_sub(sub_c[k] as i128).and_then(|d| d.checked_mul(mul_c[k])).and_then(|p| p.checked_add(add_c[k]));
            let (a0, a1) = (at(xlo).ok_or_else(wide)?, at(xhi).ok_or_else(wide)?);
            lo = lo.min(a0.min(a1));
            hi = hi.max(a0.max(a1));
        }
        let shape = self.steps[x].shape.clone();
        self.push(l, vec![x], shape, frac, lo, hi, StepOp::Affine { sub: sub_c, mul: mul_c, add: add_c })
    }

    /// `quantized_hswish` divides by `relu_upper_bound`, exactly in eager
    /// mode (and in qkhw); inside `model.predict` TensorFlow's graph
    /// optimizer can push the divisor down onto x, (x·fl(1/bound))·r,
    /// which rounds a quantizer tie the other way (whether it
    /// does depends on the graph: renaming a layer switches it;
    /// `tests/golden/gen_hswish_graph.py`). Exact for a power-of-two bound.
    fn hswish_notice(&mut self, l: &Layer, q: &Quantizer) {
        if let crate::quant::Kind::Hswish(h) = &q.kind
            && (h.relu_upper_bound as f64).log2().fract() != 0.0
        {
            let n = format!(
                "layer `{}`: `{}` divides by relu_upper_bound {}: qkhw divides exactly, as the quantizer does eagerly; model.predict's graph can compute (x·fl(1/bound))·relu6(x + shift) instead, and then a value on a rounding tie of the quantizer goes one step the other way (README, \"Golden model\")",
                l.name, q.spec, h.relu_upper_bound
            );
            if !self.notices.contains(&n) {
                self.notices.push(n);
            }
        }
    }

    /// A kernel quantized with `alpha="auto"` (not frozen): its scale is
    /// `model_save_quantized_weights`'s, which `model.predict`'s graph can
    /// compute 1 ulp off (README, "Golden model").
    fn auto_alpha_notice(&mut self, l: &Layer, op: &Op) {
        let kernels: Vec<&Option<Quantizer>> = match op {
            Op::Dense { kernel_q, .. } | Op::Conv { kernel_q, .. } | Op::ConvTranspose { kernel_q, .. } => vec![kernel_q],
            Op::Depthwise { depthwise_q, .. } => vec![depthwise_q],
            Op::Separable { depthwise_q, pointwise_q, .. } => vec![depthwise_q, pointwise_q],
            _ => vec![],
        };
        let auto = kernels.into_iter().flatten().find(|q| matches!(&q.kind, crate::quant::Kind::Bits(b) if b.alpha == crate::quant::bits::Alpha::Auto && b.post_training_scale.is_none()));
        if let Some(q) = auto {
            let n = format!(
                "layer `{}`: `{}` has alpha=\"auto\": qkhw uses the scale model_save_quantized_weights computes (2·max|w| / levels); model.predict's graph multiplies by the float32 reciprocal of the levels instead, which can be 1 ulp off, so model.predict can differ from these weights and from qkhw's outputs (freeze the scale with post_training_scale to avoid it)",
                l.name, q.spec
            );
            if !self.notices.contains(&n) {
                self.notices.push(n);
            }
        }
    }

    fn scale_shift(&mut self, l: &Layer) -> Result<usize> {
        let x = self.input_of(l, 0);
        let w = self.tensor(l, "weight")?.clone();
        let c = *l.shape.last().unwrap_or(&1);
        let wv = vec![w.value(0); c];
        let bv = match self.tensors.get(&(l.name.clone(), "bias".into())) {
            Some(b) => vec![b.value(0); c],
            None => vec![0.0; c],
        };
        self.affine(l, x, None, &exact_weight(&l.name, "weight", vec![c], &wv), &exact_weight(&l.name, "bias", vec![c], &bv))
    }

    fn geo(&self, l: &Layer, w: &Window, in_shape: &[usize], out_shape: &[usize], transpose: bool) -> Geo {
        let (in_h, in_w, cin) = if in_shape.len() == 3 { (in_shape[0], in_shape[1], in_shape[2]) } else { (1, in_shape[0], in_shape[1]) };
        let (out_h, out_w, cout) = if out_shape.len() == 3 { (out_shape[0], out_shape[1], out_shape[2]) } else { (1, out_shape[0], out_shape[1]) };
        let two = w.kernel.len() == 2;
        let (kh, kw) = if two { (w.kernel[0], w.kernel[1]) } else { (1, w.kernel[0]) };
        let (sh, sw) = if two { (w.strides[0], w.strides[1]) } else { (1, w.strides[0]) };
        let (dh, dw) = if two { (w.dilation[0], w.dilation[1]) } else { (1, w.dilation[0]) };
        // TF "same": pad_total = max((out-1)*s + (k-1)*d + 1 - in, 0), half before.
        // Transposed: the full scatter is cropped by the same rule.
        let pad = |n_in: usize, n_out: usize, k: usize, s: usize, d: usize| -> usize {
            let kd = (k - 1) * d + 1;
            if transpose {
                let full = (n_in - 1) * s + kd;
                return full.saturating_sub(n_out) / 2;
            }
            match w.padding {
                Padding::Valid => 0,
                Padding::Same => (((n_out - 1) * s + kd).saturating_sub(n_in)) / 2,
                Padding::Causal => kd - 1,
            }
        };
        let _ = l;
        Geo {
            in_h,
            in_w,
            cin,
            out_h,
            out_w,
            cout,
            kh,
            kw,
            sh,
            sw,
            dh,
            dw,
            pad_top: pad(in_h, out_h, kh, sh, dh),
            pad_left: pad(in_w, out_w, kw, sw, dw),
        }
    }

    /// Dense / conv-like layers: exact accumulators, bias aligned.
    fn linear(&mut self, l: &Layer) -> Result<usize> {
        let x = self.input_of(l, 0);
        let in_shape = l.in_shapes[0].clone();
        let op = match &l.op {
            Op::Folded { inner, .. } => inner.as_ref().clone(),
            o => o.clone(),
        };
        self.auto_alpha_notice(l, &op);
        if let Op::Separable { window, multiplier, .. } = &op {
            // Depthwise stage (no bias), then a 1x1 conv with the bias.
            let mid_c = in_shape.last().copied().unwrap_or(0) * multiplier;
            let mut mid_shape = l.shape.clone();
            *mid_shape.last_mut().unwrap_or(&mut 0) = mid_c;
            let geo = self.geo(l, window, &in_shape, &mid_shape, false);
            let dk = self.tensor(l, "depthwise_kernel")?.clone();
            let d = self.conv_step(l, x, &dk, None, mid_shape.clone(), |w, b| StepOp::Depthwise { geo: geo.clone(), mult: *multiplier, w, b }, geo.kh * geo.kw)?;
            let ones = Window { kernel: vec![1; window.kernel.len()], strides: vec![1; window.kernel.len()], dilation: vec![1; window.kernel.len()], padding: Padding::Valid };
            let geo2 = self.geo(l, &ones, &mid_shape, &l.shape, false);
            let pk = self.tensor(l, "pointwise_kernel")?.clone();
            let bias = self.tensors.get(&(l.name.clone(), "bias".into())).cloned();
            return self.conv_step(l, d, &pk, bias.as_ref(), l.shape.clone(), |w, b| StepOp::Conv { geo: geo2.clone(), w, b }, mid_c);
        }
        let bias = self.tensors.get(&(l.name.clone(), "bias".into())).cloned();
        match &op {
            Op::Dense { units, .. } => {
                let k = self.tensor(l, "kernel")?.clone();
                let n_in = *in_shape.last().unwrap_or(&0);
                let rows = in_shape.iter().product::<usize>() / n_in.max(1);
                let n_out = *units;
                self.conv_step(l, x, &k, bias.as_ref(), l.shape.clone(), |w, b| StepOp::Dense { rows, n_in, n_out, w, b }, n_in)
            }
            Op::Conv { window, .. } => {
                let geo = self.geo(l, window, &in_shape, &l.shape, false);
                let k = self.tensor(l, "kernel")?.clone();
                let fan = geo.kh * geo.kw * geo.cin;
                self.conv_step(l, x, &k, bias.as_ref(), l.shape.clone(), |w, b| StepOp::Conv { geo: geo.clone(), w, b }, fan)
            }
            Op::Depthwise { window, multiplier, .. } => {
                let geo = self.geo(l, window, &in_shape, &l.shape, false);
                let k = self.tensor(l, "depthwise_kernel")?.clone();
                let fan = geo.kh * geo.kw;
                self.conv_step(l, x, &k, bias.as_ref(), l.shape.clone(), |w, b| StepOp::Depthwise { geo: geo.clone(), mult: *multiplier, w, b }, fan)
            }
            Op::ConvTranspose { window, .. } => {
                // output_padding is in the output shape; the padding before
                // follows from it (see `geo`).
                let geo = self.geo(l, window, &in_shape, &l.shape, true);
                let k = self.tensor(l, "kernel")?.clone();
                let fan = geo.kh * geo.kw * geo.cin;
                self.conv_step(l, x, &k, bias.as_ref(), l.shape.clone(), |w, b| StepOp::ConvT { geo: geo.clone(), w, b }, fan)
            }
            _ => Err(err(self.g, l, "not a linear layer")),
        }
    }

    /// Constants at aligned fractions and the exact accumulator range.
    /// The range is bounded per output channel (last axis of the kernel)
    /// from the input range: Σ max(w·lo, w·hi) over the channel's weights
    /// (ignoring which of them a border position really uses: an upper
    /// bound, never too small).
    #[allow(clippy::too_many_arguments, reason = "the layer, its geometry, both constants and the input step")]
    fn conv_step(
        &mut self,
        l: &Layer,
        x: usize,
        k: &HwWeight,
        bias: Option<&HwWeight>,
        shape: Vec<usize>,
        make: impl FnOnce(Vec<i128>, Vec<i128>) -> StepOp,
        _fan_in: usize,
    ) -> Result<usize> {
        let (xf, xlo, xhi) = (self.steps[x].fmt, self.steps[x].lo.min(0), self.steps[x].hi.max(0));
        let kc = Consts::of(k);
        let bc = bias.map(Consts::of);
        let bfrac = bc.as_ref().map_or(i32::MIN / 2, |b| b.frac);
        // Accumulator fraction: products at xf + wf, raised to hold the bias.
        let wfrac = kc.frac.max(bfrac - xf.frac);
        let frac = xf.frac + wfrac;
        let w = kc.codes(wfrac).ok_or_else(|| too_wide(self.g, l, "weight codes overflow 64 bits"))?;
        let n_out_ch = *k.shape.last().unwrap_or(&1);
        let b = match &bc {
            Some(bc) => bc.codes(frac).ok_or_else(|| too_wide(self.g, l, "bias codes overflow 64 bits"))?,
            None => vec![0; shape.last().copied().unwrap_or(1)],
        };
        // Depthwise kernels index channels by the last two axes.
        let per = match &k.tensor[..] {
            "depthwise_kernel" => k.shape[k.shape.len() - 2] * n_out_ch,
            _ => n_out_ch,
        };
        let mut lo_c = vec![0i128; per];
        let mut hi_c = vec![0i128; per];
        for (i, &wv) in w.iter().enumerate() {
            let c = i % per;
            let (p, q) = (wv * xlo, wv * xhi);
            lo_c[c] += p.min(q);
            hi_c[c] += p.max(q);
        }
        let nb = b.len();
        let (mut lo, mut hi) = (i128::MAX, i128::MIN);
        for c in 0..per {
            let bb = if nb == per { b[c] as i128 } else { b.get(c % nb.max(1)).copied().unwrap_or(0) as i128 };
            lo = lo.min(lo_c[c] + bb);
            hi = hi.max(hi_c[c] + bb);
        }
        if per == 0 {
            lo = 0;
            hi = 0;
        }
        self.push(l, vec![x], shape, frac, lo, hi, make(w, b))
    }

    fn pool(&mut self, l: &Layer) -> Result<usize> {
        let x = self.input_of(l, 0);
        let (xf, xlo, xhi) = (self.steps[x].fmt, self.steps[x].lo, self.steps[x].hi);
        let in_shape = l.in_shapes[0].clone();
        let factor = |q: &Option<Quantizer>, area: usize| -> Result<Option<f64>> {
            Ok(match q {
                Some(q) => {
                    let hw = q.hardware(&[crate::quant::ops::ftz(1.0 / area as f32)], &[1]).map_err(|e| err(self.g, l, e.to_string()))?;
                    let v = hw.grid_value(0) * hw.scale.as_ref().map_or(1.0, |s| s.values[0] as f64);
                    Some(v)
                }
                None => None,
            })
        };
        match &l.op {
            Op::Pool { max, pool, strides, padding, average_q } => {
                let w = Window { kernel: pool.clone(), strides: strides.clone(), dilation: vec![1; pool.len()], padding: *padding };
                let geo = self.geo(l, &w, &in_shape, &l.shape, false);
                if *max {
                    return self.push(l, vec![x], l.shape.clone(), xf.frac, xlo, xhi, StepOp::Pool { geo, max: true, mult: vec![] });
                }
                let area = geo.kh * geo.kw;
                let qf = factor(average_q, area)?;
                // Every window whole, no average quantizer, a count that is
                // not a power of two: the window sums, then the float32
                // quotient QKeras computes (see `mean`).
                let mut counts = vec![];
                for oy in 0..geo.out_h {
                    for ox in 0..geo.out_w {
                        let mut count = 0;
                        geo.taps(oy, ox, |_, _, _| count += 1);
                        counts.push(count);
                    }
                }
                if qf.is_none() && !area.is_power_of_two() && counts.iter().all(|&c| c == area) {
                    let n = area as i128;
                    let (lo, hi) = ((xlo * n).min(0), (xhi * n).max(0));
                    let ones = vec![1; counts.len()];
                    let sum = self.push(l, vec![x], l.shape.clone(), xf.frac, lo, hi, StepOp::Pool { geo, max: false, mult: ones })?;
                    return self.mean(l, sum, area, MeanKind::Divide);
                }
                // Per output position: QKeras computes avg(x * area) * q(1/area),
                // i.e. sum * area / count * q(1/area); without a quantizer sum / count.
                let mut m = vec![];
                for oy in 0..geo.out_h {
                    for ox in 0..geo.out_w {
                        let mut count = 0usize;
                        geo.taps(oy, ox, |_, _, _| count += 1);
                        let r = match qf {
                            Some(q) => area as f64 / count as f64 * q,
                            None => 1.0 / count as f64,
                        };
                        let back = match qf {
                            Some(q) => r * count as f64 / area as f64 == q,
                            None => r * count as f64 == 1.0,
                        };
                        // Not a power of two: the multiplier rounded to float32
                        // (QKeras divides in float32; the last bits can differ).
                        let r = if !back || frac_needed(r).is_none() { inexact(&mut self.notices, l, count, r) } else { r };
                        if qf.is_none() && !count.is_power_of_two() && back {
                            // 1/count held to double precision: closest to
                            // QKeras's fl(S/count), not always equal.
                            // Whole windows go this way too where others are cut.
                            let which = if count < area { "cut by `same` padding" } else { "whole, beside windows cut by `same` padding" };
                            let n = format!(
                                "layer `{}`: windows of {count} values ({which}) multiply by 1/{count} to 53 bits; QKeras divides in float32, so the last bits can differ (padding=\"valid\" or an average_quantizer is exact)",
                                l.name
                            );
                            if !self.notices.contains(&n) {
                                self.notices.push(n);
                            }
                        }
                        m.push(r);
                    }
                }
                let mc = Consts::from(m);
                let mcodes = mc.codes(mc.frac).ok_or_else(|| err(self.g, l, "pooling factor overflow"))?;
                let mx = mcodes.iter().copied().max().unwrap_or(0);
                let n = area as i128;
                let (lo, hi) = ((xlo.min(0) * n * mx).min(xlo * n * mx), (xhi.max(0) * n * mx).max(xhi * n * mx));
                self.push(l, vec![x], l.shape.clone(), xf.frac + mc.frac, lo.min(0), hi.max(0), StepOp::Pool { geo, max: false, mult: mcodes })
            }
            Op::GlobalPool { max, average_q, .. } => {
                let c = *in_shape.last().unwrap_or(&1);
                let hw: usize = in_shape.iter().product::<usize>() / c.max(1);
                if *max {
                    return self.push(l, vec![x], l.shape.clone(), xf.frac, xlo, xhi, StepOp::GlobalPool { hw, c, max: true, mult: 1, mean: false });
                }
                if average_q.is_none() && !hw.is_power_of_two() {
                    // The sums, then the float32 quotient (see `mean`).
                    let n = hw as i128;
                    let (a, b) = (xlo * n, xhi * n);
                    let sum = self.push(l, vec![x], l.shape.clone(), xf.frac, a.min(b).min(0), a.max(b).max(0), StepOp::GlobalPool { hw, c, max: false, mult: 1, mean: false })?;
                    return self.mean(l, sum, hw, MeanKind::Divide);
                }
                let r = match factor(average_q, hw)? {
                    Some(q) => q,
                    None => {
                        let r = 1.0 / hw as f64;
                        if r * hw as f64 != 1.0 || !hw.is_power_of_two() { inexact(&mut self.notices, l, hw, r) } else { r }
                    }
                };
                let mc = Consts::from(vec![r]);
                let m = mc.codes(mc.frac).ok_or_else(|| err(self.g, l, "pooling factor overflow"))?[0];
                let n = hw as i128 * m as i128;
                let (a, b) = (xlo * n, xhi * n);
                self.push(l, vec![x], l.shape.clone(), xf.frac + mc.frac, a.min(b).min(0), a.max(b).max(0), StepOp::GlobalPool { hw, c, max: false, mult: m, mean: average_q.is_none() })
            }
            _ => Err(err(self.g, l, "not a pooling layer")),
        }
    }

    /// An average QKeras computes in float32 as fl(S / n) of the exact sum
    /// `S` (step `sum`), `n` not a power of two. A quantizer right after it
    /// takes fl(S / n) exactly ([`Act::Mean`]: a step function of `S`);
    /// anything else gets `S` times fl(1/n), exact, with a notice (and the
    /// float tail divides, as TensorFlow does).
    /// `--bn qkeras`: the exact affine with TensorFlow's float32 constants
    /// (remembered, so that the quantizer reading it adds the codes where
    /// float32 rounds otherwise: [`Self::bn_exceptions`]).
    fn float_bn(&mut self, l: &Layer, bn: &crate::ir::BatchNorm, x: usize) -> Result<usize> {
        if l.class != "QBatchNormalization" && l.class != "BatchNormalization" {
            return Err(err(
                self.g,
                l,
                format!("--bn qkeras reproduces QBatchNormalization's and BatchNormalization's float32 arithmetic; a {} is not one (use --bn tables for this layer: [layer.{}] bn = \"tables\")", l.class, l.name),
            ));
        }
        let (lo, hi) = (self.steps[x].lo, self.steps[x].hi);
        if lo.abs().max(hi.abs()) >= 1 << 24 {
            return Err(err(
                self.g,
                l,
                format!("--bn qkeras: the batch norm's input needs {} bits, beyond float32's exact 24, so QKeras rounds it before the batch norm; quantize it first or use --bn tables", 128 - lo.abs().max(hi.abs()).leading_zeros()),
            ));
        }
        let fb = crate::passes::bn_float::constants(l, bn).map_err(|e| err(self.g, l, e.to_string()))?;
        let c = fb.inv.len();
        let values = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
        let inv = exact_weight(&l.name, "tf_inv", vec![c], &values(&fb.inv));
        let add = exact_weight(&l.name, "tf_add", vec![c], &values(&fb.add));
        let s = self.affine(l, x, None, &inv, &add)?;
        self.float_bn.insert(s, (x, fb));
        self.notices.push(format!(
            "{}: --bn qkeras: computed as QKeras's model.predict does in float32 (TensorFlow's x86-64 {}), not with the bn_inv / bn_bias tables",
            l.name,
            if l.class == "BatchNormalization" { "rsqrt" } else { "1/sqrt" }
        ));
        Ok(s)
    }

    /// After the quantizer `a` (step) of a `--bn qkeras` batch norm `aff`
    /// (reading `x`): the per-channel input codes where TensorFlow's
    /// float32 gives another output code.
    fn bn_exceptions(&mut self, l: &Layer, x: usize, aff: usize, fb: &crate::passes::bn_float::FloatBn, a: usize, act: &Act) -> Result<usize> {
        let StepOp::Affine { mul, add, .. } = &self.steps[aff].op else {
            return Err(err(self.g, l, "--bn qkeras: the batch norm is not an affine step (a qkhw bug, please report)"));
        };
        let (mul, add) = (mul.clone(), add.clone());
        let (xf, lo, hi, af) = (self.steps[x].fmt.frac, self.steps[x].lo, self.steps[x].hi, self.steps[aff].fmt.frac);
        let mut fixes = vec![];
        let (mut olo, mut ohi) = (self.steps[a].lo, self.steps[a].hi);
        for k in 0..fb.inv.len() {
            let f = crate::passes::bn_float::exceptions(xf, lo, hi, fb.inv[k], fb.add[k], af, mul[k], add[k], act)
                .map_err(|e| err(self.g, l, format!("--bn qkeras, channel {k}: {e}")))?;
            for &(_, y) in &f {
                olo = olo.min(y);
                ohi = ohi.max(y);
            }
            fixes.push(f);
        }
        let n: usize = fixes.iter().map(Vec::len).sum();
        if n == 0 {
            return Ok(a);
        }
        let (shape, frac) = (self.steps[a].shape.clone(), self.steps[a].fmt.frac);
        let s = self.push(l, vec![x, a], shape, frac, olo, ohi, StepOp::Exceptions { fixes })?;
        self.notices.push(format!("{}: --bn qkeras: {n} input codes where float32 rounds to another output code, compared per channel", l.name));
        Ok(s)
    }

    fn mean(&mut self, l: &Layer, sum: usize, n: usize, kind: MeanKind) -> Result<usize> {
        let (f, lo, hi) = (self.steps[sum].fmt.frac, self.steps[sum].lo, self.steps[sum].hi);
        let mc = Consts::from(vec![((1.0 / n as f64) as f32) as f64]);
        let m = mc.codes(mc.frac).ok_or_else(|| err(self.g, l, "average factor overflow"))?[0];
        let c = *self.steps[sum].shape.last().unwrap_or(&1);
        let avg = self.push(l, vec![sum], self.steps[sum].shape.clone(), f + mc.frac, lo * m, hi * m, StepOp::Affine { sub: vec![0; c], mul: vec![m; c], add: vec![0; c] })?;
        self.means.insert(avg, (sum, n as u32, kind));
        Ok(avg)
    }

    fn merge(&mut self, l: &Layer, m: &Merge) -> Result<usize> {
        let ins: Vec<usize> = (0..l.inputs.len()).map(|k| self.input_of(l, k)).collect();
        self.merge_steps(l, ins, l.shape.clone(), m)
    }

    /// Steps `ins` (one shape) merged into a step of `shape`.
    fn merge_steps(&mut self, l: &Layer, ins: Vec<usize>, shape: Vec<usize>, m: &Merge) -> Result<usize> {
        let frac = ins.iter().map(|&s| self.steps[s].fmt.frac).max().unwrap_or(0);
        let shifts: Vec<u32> = ins.iter().map(|&s| (frac - self.steps[s].fmt.frac) as u32).collect();
        // Every bound exactly, or a clear error where it needs more than
        // 127 bits (a recurrent state that grows every step, say).
        let wide = || too_wide(self.g, l, "a merged value needs more than 127 bits");
        let shifted = |v: i128, sh: u32| v.checked_mul(1i128.checked_shl(sh)?);
        let mut rs: Vec<(i128, i128)> = vec![];
        for (&s, &sh) in ins.iter().zip(&shifts) {
            rs.push((shifted(self.steps[s].lo, sh).ok_or_else(wide)?, shifted(self.steps[s].hi, sh).ok_or_else(wide)?));
        }
        let sum = |f: fn(&(i128, i128)) -> i128| rs.iter().map(f).try_fold(0i128, |a, v| a.checked_add(v)).ok_or_else(wide);
        let (sum_lo, sum_hi) = (sum(|r| r.0)?, sum(|r| r.1)?);
        let (kind, frac, lo, hi) = match m {
            Merge::Add => (MergeKind::Add, frac, sum_lo, sum_hi),
            Merge::Subtract => (MergeKind::Subtract, frac, rs[0].0.checked_sub(rs[1].1).ok_or_else(wide)?, rs[0].1.checked_sub(rs[1].0).ok_or_else(wide)?),
            Merge::Maximum => (MergeKind::Maximum, frac, rs.iter().map(|r| r.0).max().unwrap_or(0), rs.iter().map(|r| r.1).max().unwrap_or(0)),
            Merge::Minimum => (MergeKind::Minimum, frac, rs.iter().map(|r| r.0).min().unwrap_or(0), rs.iter().map(|r| r.1).min().unwrap_or(0)),
            Merge::Average => {
                let n = ins.len();
                if !n.is_power_of_two() {
                    // The sum, then the float32 quotient (see `mean`).
                    let (lo, hi) = (sum_lo, sum_hi);
                    let sum = self.push(l, ins, shape.clone(), frac, lo, hi, StepOp::Merge { kind: MergeKind::Add, shifts })?;
                    return self.mean(l, sum, n, MeanKind::Reciprocal);
                }
                let k = n.trailing_zeros();
                (MergeKind::Average(k), frac + k as i32, sum_lo, sum_hi)
            }
            Merge::Multiply => {
                let frac: i32 = ins.iter().map(|&s| self.steps[s].fmt.frac).sum();
                let (mut lo, mut hi) = (1i128, 1i128);
                for &s in &ins {
                    let (a, b) = (self.steps[s].lo, self.steps[s].hi);
                    let c = [lo.checked_mul(a), lo.checked_mul(b), hi.checked_mul(a), hi.checked_mul(b)];
                    let c: Vec<i128> = c.into_iter().collect::<Option<_>>().ok_or_else(|| too_wide(self.g, l, "a product needs more than 127 bits"))?;
                    lo = *c.iter().min().unwrap_or(&0);
                    hi = *c.iter().max().unwrap_or(&0);
                }
                let shifts = vec![0; ins.len()];
                return self.push(l, ins, shape.clone(), frac, lo, hi, StepOp::Merge { kind: MergeKind::Multiply, shifts });
            }
            Merge::Concatenate(axis) => {
                let lo = rs.iter().map(|r| r.0).min().unwrap_or(0);
                let hi = rs.iter().map(|r| r.1).max().unwrap_or(0);
                return self.push(l, ins, shape.clone(), frac, lo, hi, StepOp::Concat { axis: *axis, shifts });
            }
        };
        self.push(l, ins, shape.clone(), frac, lo, hi, StepOp::Merge { kind, shifts })
    }
}

/// A batch-norm table rounded to a configured format.
fn round_table(w: &HwWeight, fmt: Option<FixedFormat>, c: &crate::passes::config::LayerConfig) -> HwWeight {
    let Some(f) = fmt else { return w.clone() };
    let codes = (0..w.codes.len())
        .map(|i| crate::fxp::quantize_f64(w.value(i), f, c.rounding, c.overflow).unwrap_or(0) as i64)
        .collect();
    HwWeight { codes, signs: vec![], encoding: Encoding::Fixed(f), scale: None, quantizer: None, ..w.clone() }
}

/// For each output element (C order) of a pure index layer, the input
/// element it copies.
fn gather_index(op: &Op, ins: &[usize], outs: &[usize]) -> Vec<u32> {
    let strides = |s: &[usize]| {
        let mut st = vec![1usize; s.len()];
        for k in (0..s.len().saturating_sub(1)).rev() {
            st[k] = st[k + 1] * s[k + 1];
        }
        st
    };
    let (ist, n) = (strides(ins), outs.iter().product::<usize>());
    let ost = strides(outs);
    (0..n)
        .map(|k| {
            let o: Vec<usize> = ost.iter().zip(outs).map(|(&st, &d)| (k / st) % d).collect();
            let i: Vec<usize> = match op {
                Op::Cropping { crops } => o.iter().enumerate().map(|(a, &v)| v + crops.get(a).map_or(0, |c| c.0)).collect(),
                Op::UpSampling { size } => o.iter().enumerate().map(|(a, &v)| v / size.get(a).copied().unwrap_or(1)).collect(),
                // Part `index` of the last axis.
                Op::OutputPart { index, .. } => {
                    let mut i = o.clone();
                    if let (Some(v), Some(&d)) = (i.last_mut(), outs.last()) {
                        *v += index * d;
                    }
                    i
                }
                Op::Permute { dims } => {
                    let mut i = vec![0; o.len()];
                    for (a, &d) in dims.iter().enumerate() {
                        i[d - 1] = o[a];
                    }
                    i
                }
                _ => o,
            };
            i.iter().zip(&ist).map(|(&v, &st)| v * st).sum::<usize>() as u32
        })
        .collect()
}

/// The policy for an average over a count that is not a power of two (a
/// float layer in QKeras): multiply by the factor rounded to float32, held
/// exactly, and say so once per layer.
fn inexact(notices: &mut Vec<String>, l: &Layer, count: usize, r: f64) -> f64 {
    let hint = if matches!(l.op, Op::Merge(_)) { "" } else { "; use an average_quantizer for exact hardware" };
    let n = format!(
        "layer `{}`: averaging over {count} values multiplies by its factor rounded to float32 (QKeras divides in float32, so the last bits can differ{hint})",
        l.name
    );
    if !notices.contains(&n) {
        notices.push(n);
    }
    (r as f32) as f64
}

