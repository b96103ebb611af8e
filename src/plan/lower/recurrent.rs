//! Recurrent layers (QSimpleRNN, QLSTM, QGRU and QBidirectional around
//! them) as ordinary plan steps, unrolled over the time steps.
//!
//! Every target already renders Dense, Gather, Merge, Affine and the
//! activation steps exactly, so a recurrent layer written in them runs
//! bit-exact in the golden model, C, HLS and Verilog with no new kernel.
//! The steps follow QKeras 1.2.1's cells (`qkeras/qrecurrent.py`):
//!
//! - the `state_quantizer` quantizes h(t−1) (and the LSTM's c(t−1)) at the
//!   start of each step, so the sequence the layer returns is not quantized
//!   by it;
//! - the state starts at zero (`stateful` is refused at read time);
//! - the default `recurrent_activation`, `hard_sigmoid`, is QKeras's float
//!   `clip(0.5·x + 0.5, 0, 1)`: exact in fixed point one bit finer than x;
//! - `go_backwards` reads the sequence from its end, and returns the
//!   outputs in that order; QBidirectional flips its backward layer's
//!   sequence before merging, whatever that layer's `go_backwards`, and
//!   never its forward layer's (Keras's `Bidirectional`).
//!
//! QKeras computes every step in float32. Where a value needs more than
//! float32's 24 significant bits (a state without a quantizer grows every
//! step), QKeras rounds and an exact model cannot follow: the layer is
//! refused with the reason, naming it.

use super::*;
use crate::ir::{BiMerge, RnnCell};

/// One recurrent direction's constants as QKeras multiplies by them.
struct CellWeights {
    kernel: HwWeight,
    recurrent: HwWeight,
    /// Added to the input projection (the whole bias, or a GRU with
    /// `reset_after`'s first row).
    input_bias: Option<HwWeight>,
    /// A GRU with `reset_after`: the second row, added to the recurrent
    /// projection.
    recurrent_bias: Option<HwWeight>,
}

/// Columns `range` of a `rows × cols` matrix, as an exact constant of
/// shape `[rows, range.len()]` (a matrix even with one row: a QGRU of
/// one unit).
fn columns(w: &HwWeight, name: &str, rows: usize, cols: usize, range: std::ops::Range<usize>) -> HwWeight {
    let values: Vec<f64> = (0..rows).flat_map(|r| range.clone().map(move |c| r * cols + c)).map(|i| w.value(i)).collect();
    exact_weight(&w.layer, name, vec![rows, range.len()], &values)
}

/// Elements `range` of a vector, as an exact constant of shape
/// `[range.len()]`.
fn elements(w: &HwWeight, name: &str, range: std::ops::Range<usize>) -> HwWeight {
    let values: Vec<f64> = range.clone().map(|i| w.value(i)).collect();
    exact_weight(&w.layer, name, vec![range.len()], &values)
}

/// Values below 2^24 codes are exact in float32, so QKeras's float32
/// arithmetic on them is exact as long as each result is too.
const FLOAT32_EXACT: i128 = 1 << 24;

/// The weight-name prefix of a QBidirectional's backward direction.
const BACKWARD: &str = "backward/";

impl Builder<'_> {
    /// The steps of a recurrent layer; returns the one holding its output.
    pub(super) fn recurrent(&mut self, l: &Layer) -> Result<usize> {
        let x = self.input_of(l, 0);
        match &l.op {
            Op::Rnn { .. } => self.direction(l, x, &l.op, ""),
            Op::Bidirectional { forward, backward, merge } => {
                let f = self.direction(l, x, forward, "forward/")?;
                let b = self.direction(l, x, backward, BACKWARD)?;
                let m = match merge {
                    BiMerge::Concat => Merge::Concatenate(l.shape.len() - 1),
                    BiMerge::Sum => Merge::Add,
                    BiMerge::Mul => Merge::Multiply,
                    BiMerge::Ave => Merge::Average,
                };
                self.merge_steps(l, vec![f, b], l.shape.clone(), &m)
            }
            _ => Err(err(self.g, l, "not a recurrent layer (a qkhw bug, please report)")),
        }
    }

    fn cell_weights(&self, l: &Layer, prefix: &str, cell: RnnCell, units: usize, reset_after: bool) -> Result<CellWeights> {
        let kernel = self.tensor(l, &format!("{prefix}kernel"))?.clone();
        let recurrent = self.tensor(l, &format!("{prefix}recurrent_kernel"))?.clone();
        let bias = self.tensors.get(&(l.name.clone(), format!("{prefix}bias"))).cloned();
        let n = gates(cell) * units;
        let (input_bias, recurrent_bias) = match bias {
            Some(b) if cell == RnnCell::Gru && reset_after => {
                (Some(elements(&b, "input_bias", 0..n)), Some(elements(&b, "recurrent_bias", n..2 * n)))
            }
            b => (b, None),
        };
        Ok(CellWeights { kernel, recurrent, input_bias, recurrent_bias })
    }

    /// One direction over the whole sequence: its output sequence `[T, U]`
    /// (in input order) or its last output `[U]`.
    fn direction(&mut self, l: &Layer, x: usize, op: &Op, prefix: &str) -> Result<usize> {
        // Without a state quantizer an LSTM's c and a GRU's h gain fraction
        // bits every step: whatever gives out first (a constant's codes, a
        // width), the cause to name is the missing quantizer.
        let grows = matches!(op, Op::Rnn { cell: RnnCell::Lstm | RnnCell::Gru, quantizers, .. } if quantizers[3].is_none());
        self.direction_steps(l, x, op, prefix).map_err(|e| match e {
            Error::Model { msg, .. } if grows && !msg.contains("state_quantizer") => err(
                self.g,
                l,
                format!(
                    "without a state_quantizer the state gains fraction bits every time step, and the cell cannot be built exactly ({}); give the layer a state_quantizer (e.g. quantized_bits(8,1,alpha=1)){}",
                    msg.trim_start_matches(&format!("({}) ", l.class)),
                    if self.input_quantized(l) { "" } else { " and quantize its input (a QActivation before it, or --input-format)" }
                ),
            ),
            e => e,
        })
    }

    fn direction_steps(&mut self, l: &Layer, x: usize, op: &Op, prefix: &str) -> Result<usize> {
        let Op::Rnn { cell, units, return_sequences, reset_after, implementation, go_backwards, quantizers, activation, recurrent_activation, .. } = op else {
            return Err(err(self.g, l, "a QBidirectional around a layer that is not QSimpleRNN, QLSTM or QGRU"));
        };
        let (cell, u, reset_after) = (*cell, *units, *reset_after);
        // Cross-check batch 16: computed silently, where QKeras fails.
        if cell == RnnCell::Gru && !reset_after && *implementation == 2 {
            self.notices.push(format!(
                "layer `{}`: QGRU(implementation=2, reset_after=False) fails in QKeras 1.2.1's own call, so there is no model.predict to match; qkhw computes the GRU's equations, as implementation=1 does (Keras's two implementations differ only in how they group the matrix products)",
                l.name
            ));
        }
        let (t_len, feat) = match l.in_shapes[0][..] {
            [t, f] => (t, f),
            ref s => return Err(err(self.g, l, format!("expects a (time, features) input, got {s:?}"))),
        };
        for a in [activation, recurrent_activation] {
            if let Activation::Float(f) = a
                && f != "hard_sigmoid"
            {
                return Err(err(
                    self.g,
                    l,
                    format!("float activation `{f}` inside a recurrent cell: QKeras computes it in float32 at every step; use a quantizer (quantized_tanh(8), quantized_sigmoid(8)) or hard_sigmoid"),
                ));
            }
        }
        let state_q = quantizers[3].clone();
        if let Some(q) = &state_q {
            let zero = q.apply(&[0.0]).map_err(|e| err(self.g, l, e.to_string()))?;
            if zero.first() != Some(&0.0) {
                return Err(err(self.g, l, format!("state_quantizer `{}` maps the zero initial state to {}: qkhw starts from zero", q.spec, zero[0])));
            }
        }
        let w = self.cell_weights(l, prefix, cell, u, reset_after)?;
        let n = gates(cell) * u;
        let first = self.steps.len();
        // The input projection of every time step at once.
        let xs = self.conv_step(l, x, &w.kernel, w.input_bias.as_ref(), vec![t_len, n], |w, b| StepOp::Dense { rows: t_len, n_in: feat, n_out: n, w, b }, feat)?;
        let order: Vec<usize> = if *go_backwards { (0..t_len).rev().collect() } else { (0..t_len).collect() };
        let (mut h, mut c): (Option<usize>, Option<usize>) = (None, None);
        let mut outs = vec![];
        for &t in &order {
            let xt = self.slice(l, xs, t * n..(t + 1) * n)?;
            let hq = h.map(|h| self.state(l, state_q.as_ref(), h)).transpose()?;
            let cq = c.map(|c| self.state(l, state_q.as_ref(), c)).transpose()?;
            let dense = |b: &mut Self, x: usize, k: &HwWeight, bias: Option<&HwWeight>| {
                let (n_in, n_out) = (k.shape[0], k.shape[1]);
                b.conv_step(l, x, k, bias, vec![n_out], |w, b| StepOp::Dense { rows: 1, n_in, n_out, w, b }, n_in)
            };
            let pre = |b: &mut Self, hq: Option<usize>, k: &HwWeight| -> Result<usize> {
                match hq {
                    Some(hq) => {
                        let r = dense(b, hq, k, None)?;
                        b.merge_steps(l, vec![xt, r], vec![n], &Merge::Add)
                    }
                    None => Ok(xt),
                }
            };
            match cell {
                RnnCell::Simple => {
                    let z = pre(self, hq, &w.recurrent)?;
                    h = Some(self.apply_activation(l, activation, z)?);
                }
                RnnCell::Lstm => {
                    let z = pre(self, hq, &w.recurrent)?;
                    let gate = |b: &mut Self, k: usize, a: &Activation| -> Result<usize> {
                        let s = b.slice(l, z, k * u..(k + 1) * u)?;
                        b.cell_activation(l, a, s)
                    };
                    let i = gate(self, 0, recurrent_activation)?;
                    let f = gate(self, 1, recurrent_activation)?;
                    let g = gate(self, 2, activation)?;
                    let o = gate(self, 3, recurrent_activation)?;
                    let ig = self.merge_steps(l, vec![i, g], vec![u], &Merge::Multiply)?;
                    let cn = match cq {
                        Some(cq) => {
                            let fc = self.merge_steps(l, vec![f, cq], vec![u], &Merge::Multiply)?;
                            self.merge_steps(l, vec![fc, ig], vec![u], &Merge::Add)?
                        }
                        None => ig,
                    };
                    let ac = self.apply_activation(l, activation, cn)?;
                    h = Some(self.merge_steps(l, vec![o, ac], vec![u], &Merge::Multiply)?);
                    c = Some(cn);
                }
                RnnCell::Gru => {
                    let zr_x = self.slice(l, xt, 0..2 * u)?;
                    let h_x = self.slice(l, xt, 2 * u..3 * u)?;
                    // z and r before their activation, and the recurrent
                    // part of the candidate (before r multiplies it, with
                    // reset_after).
                    let (zr, rec_h) = if reset_after {
                        match hq {
                            Some(hq) => {
                                let rr = dense(self, hq, &w.recurrent, w.recurrent_bias.as_ref())?;
                                let rzr = self.slice(l, rr, 0..2 * u)?;
                                (self.merge_steps(l, vec![zr_x, rzr], vec![2 * u], &Merge::Add)?, Some(self.slice(l, rr, 2 * u..3 * u)?))
                            }
                            // h(−1) = 0: the recurrent projection is its bias.
                            None => match &w.recurrent_bias {
                                Some(rb) => {
                                    let ones = exact_weight(&l.name, "one", vec![2 * u], &vec![1.0; 2 * u]);
                                    let add = elements(rb, "recurrent_bias_zr", 0..2 * u);
                                    (self.affine(l, zr_x, None, &ones, &add)?, None)
                                }
                                None => (zr_x, None),
                            },
                        }
                    } else {
                        match hq {
                            Some(hq) => {
                                let k = columns(&w.recurrent, "recurrent_zr", u, 3 * u, 0..2 * u);
                                let r = dense(self, hq, &k, None)?;
                                (self.merge_steps(l, vec![zr_x, r], vec![2 * u], &Merge::Add)?, None)
                            }
                            None => (zr_x, None),
                        }
                    };
                    let zs = self.slice(l, zr, 0..u)?;
                    let z = self.cell_activation(l, recurrent_activation, zs)?;
                    let rs = self.slice(l, zr, u..2 * u)?;
                    let r = self.cell_activation(l, recurrent_activation, rs)?;
                    let rh = match (reset_after, hq, rec_h) {
                        (true, _, Some(rh)) => Some(self.merge_steps(l, vec![r, rh], vec![u], &Merge::Multiply)?),
                        (true, None, None) => match &w.recurrent_bias {
                            Some(rb) => {
                                let mul = elements(rb, "recurrent_bias_h", 2 * u..3 * u);
                                let zero = exact_weight(&l.name, "zero", vec![u], &vec![0.0; u]);
                                Some(self.affine(l, r, None, &mul, &zero)?)
                            }
                            None => None,
                        },
                        (false, Some(hq), _) => {
                            let rhq = self.merge_steps(l, vec![r, hq], vec![u], &Merge::Multiply)?;
                            let k = columns(&w.recurrent, "recurrent_h", u, 3 * u, 2 * u..3 * u);
                            Some(dense(self, rhq, &k, None)?)
                        }
                        _ => None,
                    };
                    let hh_pre = match rh {
                        Some(rh) => self.merge_steps(l, vec![h_x, rh], vec![u], &Merge::Add)?,
                        None => h_x,
                    };
                    let hh = self.apply_activation(l, activation, hh_pre)?;
                    // h = z·h(t−1) + (1 − z)·hh
                    let minus = exact_weight(&l.name, "minus_one", vec![u], &vec![-1.0; u]);
                    let one = exact_weight(&l.name, "one", vec![u], &vec![1.0; u]);
                    let one_minus_z = self.affine(l, z, None, &minus, &one)?;
                    let b = self.merge_steps(l, vec![one_minus_z, hh], vec![u], &Merge::Multiply)?;
                    h = Some(match hq {
                        Some(hq) => {
                            let zh = self.merge_steps(l, vec![z, hq], vec![u], &Merge::Multiply)?;
                            self.merge_steps(l, vec![zh, b], vec![u], &Merge::Add)?
                        }
                        None => b,
                    });
                }
            }
            outs.push(h.unwrap_or(xt));
        }
        // A simple cell's state is its activation's output, a quantizer's.
        self.check_float32(l, first, state_q.is_some() || cell == RnnCell::Simple)?;
        let last = *outs.last().ok_or_else(|| err(self.g, l, "a sequence of length zero"))?;
        if !*return_sequences {
            return Ok(last);
        }
        // The outputs in the order they were computed, except that
        // Bidirectional flips its backward direction's sequence, whatever
        // its go_backwards (Keras's `Bidirectional`): a forward layer with
        // go_backwards keeps its reversed order, a backward layer without
        // it comes out reversed.
        if prefix == BACKWARD {
            outs.reverse();
        }
        self.merge_steps(l, outs, vec![t_len, u], &Merge::Concatenate(0))
    }

    /// Elements `range` of step `x` (a flat slice).
    fn slice(&mut self, l: &Layer, x: usize, range: std::ops::Range<usize>) -> Result<usize> {
        let (f, lo, hi) = (self.steps[x].fmt, self.steps[x].lo, self.steps[x].hi);
        let idx = range.clone().map(|i| i as u32).collect();
        let s = self.push(l, vec![x], vec![range.len()], f.frac, lo, hi, StepOp::Gather { idx })?;
        self.steps[s].fmt = f;
        Ok(s)
    }

    /// The state quantizer on h(t−1) or c(t−1).
    fn state(&mut self, l: &Layer, q: Option<&Quantizer>, x: usize) -> Result<usize> {
        match q {
            Some(q) => self.apply_activation(l, &Activation::Quantized(q.clone()), x),
            None => Ok(x),
        }
    }

    /// A gate's activation: a quantizer, or QKeras's float
    /// `hard_sigmoid(x) = clip(0.5·x + 0.5, 0, 1)`, exact one bit finer.
    fn cell_activation(&mut self, l: &Layer, a: &Activation, x: usize) -> Result<usize> {
        if !matches!(a, Activation::Float(f) if f == "hard_sigmoid") {
            return self.apply_activation(l, a, x);
        }
        let (f, lo, hi) = (self.steps[x].fmt.frac, self.steps[x].lo, self.steps[x].hi);
        let c = *self.steps[x].shape.last().unwrap_or(&1);
        // 0.5·x + 0.5 at fraction f + 1: the code plus 2^f.
        let half = 1i128 << f.clamp(0, 120);
        if f < 0 {
            return Err(err(self.g, l, "hard_sigmoid of a coarser-than-integer value (a qkhw bug, please report)"));
        }
        let shape = self.steps[x].shape.clone();
        let a = self.push(l, vec![x], shape.clone(), f + 1, lo + half, hi + half, StepOp::Affine { sub: vec![0; c], mul: vec![1; c], add: vec![half; c] })?;
        let one = 1i128 << (f + 1);
        let (clo, chi) = ((lo + half).clamp(0, one), (hi + half).clamp(0, one));
        self.push(l, vec![a], shape, f + 1, clo, chi, StepOp::Act(Act::Grid { out_frac: f + 1, min: 0, max: one }))
    }

    /// Is the layer's input already a quantizer's output, directly or
    /// through layers that only move or pick its values (a max pooling, a
    /// reshape, a padding)? After a MaxPooling1D the error said to quantize
    /// an input that was (cross-check batch 8).
    fn input_quantized(&self, l: &Layer) -> bool {
        let mut at = l.inputs.first().map(|i| i.0);
        while let Some(k) = at {
            let layer = &self.g.layers[k];
            if matches!(layer.activation, crate::ir::Activation::Quantized(_)) {
                return true;
            }
            let moves = matches!(
                layer.op,
                Op::Pool { max: true, .. } | Op::GlobalPool { max: true, .. } | Op::Flatten | Op::Reshape { .. } | Op::Dropout | Op::ZeroPadding { .. } | Op::Cropping { .. } | Op::UpSampling { .. } | Op::Permute { .. }
            );
            at = if moves && matches!(layer.activation, crate::ir::Activation::Linear) { layer.inputs.first().map(|i| i.0) } else { None };
        }
        false
    }

    /// QKeras computes the cell in float32: every step from `first` on
    /// must hold its values exactly there. `state_q`: the state is
    /// quantized at each step (so it cannot be what grows).
    fn check_float32(&self, l: &Layer, first: usize, state_q: bool) -> Result<()> {
        let Some(big) = self.steps[first..]
            .iter()
            .filter(|s| matches!(s.op, StepOp::Dense { .. } | StepOp::Merge { .. } | StepOp::Affine { .. }))
            .map(|s| s.lo.abs().max(s.hi.abs()))
            .max()
            .filter(|&b| b >= FLOAT32_EXACT)
        else {
            return Ok(());
        };
        let input_quantized = self.input_quantized(l);
        let gru = matches!(&l.op, Op::Rnn { cell: RnnCell::Gru, reset_after: true, .. }) || matches!(&l.op, Op::Bidirectional { forward, .. } if matches!(**forward, Op::Rnn { cell: RnnCell::Gru, reset_after: true, .. }));
        let fix = if state_q && input_quantized {
            if gru {
                "use fewer bits in its kernel, recurrent and state quantizers (with reset_after=True the reset gate multiplies the state's projection r·(h·U), whose bits add up), or reset_after=False"
            } else {
                "use fewer bits in its kernel, recurrent and state quantizers (its input is already quantized)"
            }
        } else if state_q {
            "quantize the layer's input (a QActivation before it, or --input-format), or use fewer bits in its quantizers"
        } else if !input_quantized {
            "quantize the layer's input (a QActivation before it, or --input-format) and give the layer a state_quantizer (e.g. quantized_bits(8,1,alpha=1)): without one the state grows every step"
        } else {
            "give the layer a state_quantizer (e.g. quantized_bits(8,1,alpha=1)): without one the state grows every step"
        };
        Err(err(
            self.g,
            l,
            format!(
                "a value inside the recurrent cell needs {} significant bits and QKeras computes the cell in float32 (24), so it rounds where qkhw is exact: {fix}",
                128 - big.leading_zeros()
            ),
        ))
    }
}

/// Gates per cell: the kernel's column blocks.
fn gates(cell: RnnCell) -> usize {
    match cell {
        RnnCell::Simple => 1,
        RnnCell::Lstm => 4,
        RnnCell::Gru => 3,
    }
}
