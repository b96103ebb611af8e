//! Shared subexpressions in a constant matrix times a vector (CMVM): the
//! shift-add form of an unrolled Dense layer (`--no-dsp`).
//!
//! Every product `x_i · w_ij` is written in canonical signed digits, so
//! output `j` is a sum of terms `±x_i << k`. Then, greedily (as da4ml's and
//! Hartley's common-subexpression methods do), the two-term pattern
//! `a ± (b << s)` that occurs in the most outputs is built once as a new
//! signal and substituted wherever it occurs, until no pattern occurs
//! twice. A pattern is only built while its depth (adders from the inputs)
//! stays within the bound the caller gives, the depth of today's unshared
//! products, so the adder trees start no later and latency does not grow.
//!
//! Widths stay exact: each signal is a linear form `Σ c_i x_i` of the
//! inputs, whose exact range follows from the inputs' ranges (they vary
//! independently), as the unshared products' ranges did.
//! Deterministic: ties between patterns go to the smallest pattern.

use std::collections::{BinaryHeap, HashMap};

use super::rtl::{csd, Rtl, Sig, Term};

/// `±signal << shift`, one summand of an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct DTerm {
    shift: u32,
    sig: usize,
    neg: bool,
}

/// `a + (b << s)` (`neg`: minus), `a`'s term the one of lower shift.
type Pattern = (usize, usize, u32, bool);

/// The pattern of two summands and which one anchors the replacement.
fn pattern(t: DTerm, u: DTerm) -> Option<(Pattern, DTerm)> {
    let (p, q) = if (t.shift, t.sig) <= (u.shift, u.sig) { (t, u) } else { (u, t) };
    if p.sig == q.sig && p.shift == q.shift {
        return None;
    }
    Some(((p.sig, q.sig, q.shift - p.shift, p.neg != q.neg), p))
}

/// One signal: its linear form over the inputs, its depth in adders, and
/// the pattern that built it (`None` for an input).
struct Node {
    form: HashMap<usize, i128>,
    depth: u32,
    from: Option<Pattern>,
}

/// The summands of each output of `x · w` (`w` is `n_in × n_out`,
/// row-major), with shared subexpressions built into `rtl` at most
/// `max_depth` adders deep. Constant inputs (`lo == hi`) are left to
/// [`Rtl::times_const`].
pub fn shared_terms(rtl: &mut Rtl, x: &[Sig], w: &[i128], n_out: usize, max_depth: u32) -> Vec<Vec<Term>> {
    let n_in = x.len();
    let mut nodes: Vec<Node> = (0..n_in).map(|i| Node { form: HashMap::from([(i, 1)]), depth: 0, from: None }).collect();
    let mut sigs: Vec<Sig> = x.to_vec();
    let mut outs: Vec<Vec<DTerm>> = vec![vec![]; n_out];
    let mut extra: Vec<Vec<Term>> = vec![vec![]; n_out];
    for (j, (terms, more)) in outs.iter_mut().zip(&mut extra).enumerate() {
        for i in 0..n_in {
            let c = w[i * n_out + j];
            if c == 0 || (x[i].lo == 0 && x[i].hi == 0) {
                continue;
            }
            if x[i].lo == x[i].hi {
                more.extend(rtl.times_const(&x[i], c, true));
                continue;
            }
            terms.extend(csd(c).into_iter().map(|(k, neg)| DTerm { shift: k, sig: i, neg }));
        }
        terms.sort();
    }
    // Pair counts over all outputs, and a max-heap of (count, pattern)
    // entries, stale ones skipped when popped.
    let mut counts: HashMap<Pattern, i64> = HashMap::new();
    for terms in &outs {
        for (a, &t) in terms.iter().enumerate() {
            for &u in &terms[a + 1..] {
                if let Some((p, _)) = pattern(t, u) {
                    *counts.entry(p).or_default() += 1;
                }
            }
        }
    }
    let mut heap: BinaryHeap<(i64, std::cmp::Reverse<Pattern>)> = counts.iter().filter(|e| *e.1 >= 2).map(|(&p, &c)| (c, std::cmp::Reverse(p))).collect();
    let bump = |counts: &mut HashMap<Pattern, i64>, heap: &mut BinaryHeap<(i64, std::cmp::Reverse<Pattern>)>, p: Pattern, d: i64| {
        let c = counts.entry(p).or_default();
        *c += d;
        if *c >= 2 {
            heap.push((*c, std::cmp::Reverse(p)));
        }
    };
    while let Some((c, std::cmp::Reverse(pat))) = heap.pop() {
        if counts.get(&pat) != Some(&c) || c < 2 {
            continue;
        }
        let (a, b, s, neg) = pat;
        let depth = nodes[a].depth.max(nodes[b].depth) + 1;
        if depth > max_depth {
            // Never buildable: drop it for good.
            counts.insert(pat, 0);
            continue;
        }
        let n = nodes.len();
        let mut form = nodes[a].form.clone();
        for (&i, &v) in &nodes[b].form {
            *form.entry(i).or_default() += if neg { -v } else { v } << s;
        }
        nodes.push(Node { form, depth, from: Some(pat) });
        let mut used = 0;
        for terms in outs.iter_mut() {
            // Non-overlapping occurrences in this output.
            loop {
                let found = terms.iter().enumerate().find_map(|(ia, &t)| {
                    terms.iter().enumerate().skip(ia + 1).find_map(|(ib, &u)| match pattern(t, u) {
                        Some((p, anchor)) if p == pat => Some((ia, ib, anchor)),
                        _ => None,
                    })
                });
                let Some((ia, ib, anchor)) = found else { break };
                let (t, u) = (terms[ia], terms[ib]);
                terms.remove(ib);
                terms.remove(ia);
                for &v in terms.iter() {
                    for old in [t, u] {
                        if let Some((p, _)) = pattern(old, v) {
                            bump(&mut counts, &mut heap, p, -1);
                        }
                    }
                }
                if let Some((p, _)) = pattern(t, u) {
                    bump(&mut counts, &mut heap, p, -1);
                }
                let new = DTerm { shift: anchor.shift, sig: n, neg: anchor.neg };
                for &v in terms.iter() {
                    if let Some((p, _)) = pattern(new, v) {
                        bump(&mut counts, &mut heap, p, 1);
                    }
                }
                terms.push(new);
                terms.sort();
                used += 1;
            }
        }
        debug_assert!(used >= 1, "pattern {pat:?} counted {c} but not found");
    }
    // Build the signals in order (each depends on earlier ones only).
    for node in &nodes[n_in..] {
        let (lo, hi) = range(&node.form, x);
        let Some((a, b, s, neg)) = node.from else { unreachable!("nodes after the inputs are built from patterns") };
        let bs = rtl.shifted(&sigs[b], s);
        let t = rtl.add2(&Term { sig: sigs[a], neg: false }, &Term { sig: bs, neg });
        rtl.counts.shift_adds += 1;
        let sig = rtl.narrowed(&t.sig, lo, hi);
        sigs.push(sig);
    }
    rtl.counts.product_levels = rtl.counts.product_levels.max(nodes.iter().map(|n| n.depth).max().unwrap_or(0));
    outs.into_iter()
        .zip(extra)
        .map(|(terms, more)| {
            let mut v: Vec<Term> = terms.into_iter().map(|t| Term { sig: rtl.shifted(&sigs[t.sig], t.shift), neg: t.neg }).collect();
            v.extend(more);
            v
        })
        .collect()
}

/// The exact range of `Σ c_i x_i` over independent inputs.
fn range(form: &HashMap<usize, i128>, x: &[Sig]) -> (i128, i128) {
    form.iter().fold((0, 0), |(lo, hi), (&i, &c)| {
        let (a, b) = (x[i].lo * c, x[i].hi * c);
        (lo + a.min(b), hi + a.max(b))
    })
}
