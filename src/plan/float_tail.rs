//! Which steps QKeras computes in float32 after the last exact values:
//! the golden model evaluates them in float32 (emulating TensorFlow) and
//! the lowering checks their widths, so both read the tail from here.

use super::{Act, Plan, StepOp};

/// The steps after the last exact values before output step `s` that
/// QKeras computes in float32: unquantized Dense layers, standalone batch
/// norms, averages (and the reshapes, plain ReLUs and concatenations
/// between and around them, exact in float32 themselves). A step is in the
/// tail when it rounds or reads a step of the tail; the tail is empty when
/// `s` is exact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FloatTail {
    /// The steps whose exact codes (converted to float32) start the tail
    /// (`s` itself for an empty tail).
    pub starts: Vec<usize>,
    /// The tail's steps, producers first; the last one is `s`.
    pub steps: Vec<usize>,
}

impl FloatTail {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// The float32 tail ending at step `s` (empty when `s` is exact).
pub fn float_tail(plan: &Plan, s: usize) -> FloatTail {
    // Does the float32 value of step `t` differ from its exact one (some
    // float op that rounds on the way)? Memoized over the walk.
    fn in_tail(plan: &Plan, t: usize, memo: &mut std::collections::HashMap<usize, bool>) -> bool {
        if let Some(&v) = memo.get(&t) {
            return v;
        }
        let st = &plan.steps[t];
        let one = st.inputs.len() == 1;
        // A rounding op is in the tail whatever its input; the walk goes on
        // to find the tail's start.
        let v = match &st.op {
            StepOp::Dense { .. } | StepOp::GlobalPool { max: false, mean: true, .. } if one => {
                in_tail(plan, st.inputs[0], memo);
                true
            }
            StepOp::Affine { sub, .. } if one && sub.iter().all(|&v| v == 0) => {
                in_tail(plan, st.inputs[0], memo);
                true
            }
            StepOp::Identity | StepOp::Gather { .. } | StepOp::Act(Act::Relu) if one => in_tail(plan, st.inputs[0], memo),
            StepOp::Concat { .. } => st.inputs.iter().fold(false, |a, &k| in_tail(plan, k, memo) | a),
            _ => false,
        };
        memo.insert(t, v);
        v
    }
    let mut memo = std::collections::HashMap::new();
    let mut tail = FloatTail::default();
    if !in_tail(plan, s, &mut memo) {
        tail.starts.push(s);
        return tail;
    }
    let mut todo = vec![s];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(t) = todo.pop() {
        if !seen.insert(t) {
            continue;
        }
        for &k in &plan.steps[t].inputs {
            if memo.get(&k) == Some(&true) {
                todo.push(k);
            } else if !tail.starts.contains(&k) {
                tail.starts.push(k);
            }
        }
    }
    // Steps come after their inputs in a plan.
    tail.steps = seen.into_iter().collect();
    tail.starts.sort_unstable();
    tail
}
