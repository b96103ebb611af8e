//! A tiny RTL builder: signals with exact value ranges, and the
//! arithmetic the generator needs (constant multiplies as shift-adds or
//! multipliers, pipelined adder trees), emitted as Verilog-2005 lines.
//!
//! Every signal carries the exact range of the values it holds; its width
//! is the narrowest two's complement (or unsigned, when never negative)
//! width for that range. Operands are extended to the result's width and
//! combined modulo 2^width, which is exact because the true result fits:
//! no signedness rules of Verilog are relied on, and widths always match
//! (lint-clean under `verilator -Wall`).

/// A value in the design: a Verilog expression name and its range.
#[derive(Debug, Clone, PartialEq)]
pub struct Sig {
    pub name: String,
    pub lo: i128,
    pub hi: i128,
    /// Declared width (at least `width(lo, hi)`).
    pub bits: u32,
}

/// Width of the narrowest format for `lo..=hi` (two's complement if it can
/// be negative).
pub fn width(lo: i128, hi: i128) -> u32 {
    crate::passes::precision::fmt_for(lo.min(hi), hi.max(lo), 0).width
}

impl Sig {
    pub fn new(name: impl Into<String>, lo: i128, hi: i128) -> Sig {
        Sig { name: name.into(), lo, hi, bits: width(lo, hi) }
    }
    pub fn w(&self) -> u32 {
        self.bits
    }
    pub fn signed(&self) -> bool {
        self.lo < 0
    }
}

/// `v` as a Verilog literal of `w` bits (two's complement).
pub fn lit(v: i128, w: u32) -> String {
    let mask: u128 = if w >= 128 { u128::MAX } else { (1u128 << w) - 1 };
    format!("{w}'h{:x}", (v as u128) & mask)
}

/// Counts for the report.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Counts {
    pub multipliers: usize,
    pub shift_adds: usize,
    pub adders: usize,
    pub ff_bits: usize,
    pub adder_levels: u32,
    /// Adder levels inside the shift-add products, before the tree.
    pub product_levels: u32,
    /// Comparisons (each with its 2:1 mux) of step-function activations.
    pub comparisons: usize,
    /// Comparison levels of the deepest activation tree.
    pub compare_levels: u32,
    /// ROM bits (folded layers' weights).
    pub memory_bits: usize,
    /// Cycles per sample (1 unrolled; a folded layer's schedule).
    pub cycles: usize,
    /// Estimated DSP48 slices (folded multipliers Yosys maps to DSPs).
    pub dsp_estimate: usize,
    /// Estimated BRAM36 of the ROMs.
    pub bram36_estimate: f64,
}

impl Counts {
    /// Add a sub-module's counts (sums; the deepest levels and longest
    /// cycle count).
    pub fn add(&mut self, k: &Counts) {
        self.multipliers += k.multipliers;
        self.shift_adds += k.shift_adds;
        self.adders += k.adders;
        self.ff_bits += k.ff_bits;
        self.comparisons += k.comparisons;
        self.adder_levels = self.adder_levels.max(k.adder_levels);
        self.product_levels = self.product_levels.max(k.product_levels);
        self.compare_levels = self.compare_levels.max(k.compare_levels);
        self.memory_bits += k.memory_bits;
        self.cycles = self.cycles.max(k.cycles);
        self.dsp_estimate += k.dsp_estimate;
        self.bram36_estimate += k.bram36_estimate;
    }
}

/// The lines of one module body.
#[derive(Debug, Default)]
pub struct Rtl {
    pub decls: Vec<String>,
    pub assigns: Vec<String>,
    pub regs: Vec<String>,
    pub counts: Counts,
    n: usize,
    prefix: String,
    /// Products already built, by (signal, odd constant, shift-add): a
    /// signal times `±odd·2^k` is the shared `signal·odd`, shifted and
    /// signed (multiple-constant multiplication by shared odd multiples).
    products: std::collections::HashMap<(String, i128, bool), Sig>,
}

/// A summand: `value = neg ? -sig : sig`.
#[derive(Debug, Clone)]
pub struct Term {
    pub sig: Sig,
    pub neg: bool,
}

impl Rtl {
    pub fn new(prefix: &str) -> Rtl {
        Rtl { prefix: prefix.to_string(), ..Default::default() }
    }

    fn fresh(&mut self) -> String {
        self.n += 1;
        format!("{}{}", self.prefix, self.n)
    }

    /// `s` as an expression of `w` bits (sign- or zero-extended).
    pub fn ext(s: &Sig, w: u32) -> String {
        if s.lo == s.hi && s.name.contains('\'') {
            // A literal: re-emit it at the width.
            return lit(s.lo, w.max(s.w()));
        }
        let sw = s.w();
        if w <= sw {
            return s.name.clone();
        }
        if s.signed() {
            format!("{{{{{}{{{}[{}]}}}}, {}}}", w - sw, s.name, sw - 1, s.name)
        } else {
            format!("{{{}'d0, {}}}", w - sw, s.name)
        }
    }

    /// A new wire `= expr` of `w` bits, holding values in `lo..=hi`.
    pub fn wire(&mut self, lo: i128, hi: i128, w: u32, expr: String) -> Sig {
        let name = self.fresh();
        let w = w.max(width(lo, hi));
        self.decls.push(format!("wire [{}:0] {name};", w - 1));
        self.assigns.push(format!("assign {name} = {expr};"));
        Sig { name, lo, hi, bits: w }
    }

    /// A register of `s`, loaded when `ce` is high.
    pub fn reg(&mut self, s: &Sig) -> Sig {
        let name = self.fresh();
        let w = s.w();
        self.decls.push(format!("reg [{}:0] {name};", w - 1));
        self.regs.push(format!("{name} <= {};", s.name));
        self.counts.ff_bits += w as usize;
        Sig { name, lo: s.lo, hi: s.hi, bits: w }
    }

    /// A constant.
    pub fn constant(&mut self, v: i128) -> Sig {
        self.constant_at(v, width(v, v))
    }

    /// A constant written at `w` bits (at least its own width): a literal
    /// whose name and width agree, so it can be packed as it is.
    pub fn constant_at(&mut self, v: i128, w: u32) -> Sig {
        let bits = w.max(width(v, v));
        Sig { name: lit(v, bits), lo: v, hi: v, bits }
    }

    /// `s × c` as summands: canonical signed digits (shift-adds) when
    /// `shift_add`, else one constant multiplier. Zero gives nothing.
    ///
    /// Products are shared: `c = ±odd·2^k`, and `s·odd` is built once per
    /// signal and odd constant, then reused (shifted, with its sign) by
    /// every output that multiplies `s` by `±odd·2^k`. The shared product
    /// has the same depth as an unshared one, so latency does not change.
    pub fn times_const(&mut self, s: &Sig, c: i128, shift_add: bool) -> Vec<Term> {
        if c == 0 || (s.lo == 0 && s.hi == 0) {
            return vec![];
        }
        let k = c.trailing_zeros();
        let (odd, neg) = ((c >> k).abs(), c < 0);
        if odd == 1 {
            return vec![Term { sig: self.shifted(s, k), neg }];
        }
        let key = (s.name.clone(), odd, shift_add);
        let p = match self.products.get(&key) {
            Some(p) if s.lo != s.hi => p.clone(),
            _ => {
                let p = self.odd_product(s, odd, shift_add);
                if s.lo != s.hi {
                    self.products.insert(key, p.clone());
                }
                p
            }
        };
        vec![Term { sig: self.shifted(&p, k), neg }]
    }

    /// `s × odd` (`odd` > 1): canonical signed digits, or a multiplier.
    fn odd_product(&mut self, s: &Sig, c: i128, shift_add: bool) -> Sig {
        let (a, b) = (s.lo * c, s.hi * c);
        let (lo, hi) = (a.min(b), a.max(b));
        if shift_add {
            let digits = csd(c);
            let terms: Vec<Term> = digits.into_iter().map(|(k, neg)| Term { sig: self.shifted(s, k), neg }).collect();
            // The digits of one product are summed first, so the product
            // gets its exact range (x·c), not the looser sum of the digits'
            // ranges: narrower adders downstream.
            self.counts.shift_adds += 1;
            let mut level = terms;
            let mut depth = 0;
            while level.len() > 1 {
                depth += 1;
                let mut next = vec![];
                let mut it = level.into_iter();
                while let Some(x) = it.next() {
                    match it.next() {
                        Some(y) => next.push(self.combine(&x, &y)),
                        None => next.push(x),
                    }
                }
                level = next;
            }
            self.counts.product_levels = self.counts.product_levels.max(depth);
            let t = level.remove(0);
            let v = if t.neg {
                let w = width(-t.sig.hi, -t.sig.lo).max(t.sig.w());
                let e = format!("{w}'d0 - {}", Self::ext(&t.sig, w));
                self.wire(-t.sig.hi, -t.sig.lo, w, e)
            } else {
                t.sig
            };
            return self.narrowed(&v, lo, hi);
        }
        self.counts.multipliers += 1;
        let w = width(lo, hi).max(s.w());
        let expr = format!("{} * {}", Self::ext(s, w), lit(c, w));
        self.wire(lo, hi, w, expr)
    }

    /// `s` known to hold values in `lo..=hi` only, on the fewest bits.
    pub fn narrowed(&mut self, s: &Sig, lo: i128, hi: i128) -> Sig {
        let w = width(lo, hi);
        if w >= s.w() {
            return Sig { lo, hi, ..s.clone() };
        }
        let n = self.wire(lo, hi, w, format!("{}[{}:0]", s.name, w - 1));
        self.decls.push(format!("wire unused_{} = ^{}[{}:{}];", n.name, s.name, s.w() - 1, w));
        n
    }

    /// `s << k` (no logic: wiring).
    pub fn shifted(&mut self, s: &Sig, k: u32) -> Sig {
        if k == 0 {
            return s.clone();
        }
        let (lo, hi) = (s.lo << k, s.hi << k);
        let w = width(lo, hi).max(s.w() + k);
        let expr = format!("{{{}, {k}'d0}}", Self::ext(s, w - k));
        self.wire(lo, hi, w, expr)
    }

    /// `a × b` of two signals: one multiplier at the product's exact width
    /// (the low bits of a product of sign-extended operands are exact).
    pub fn product(&mut self, a: &Sig, b: &Sig) -> Sig {
        let c = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi];
        let (lo, hi) = (c.iter().copied().min().unwrap_or(0), c.iter().copied().max().unwrap_or(0));
        let w = width(lo, hi).max(a.w()).max(b.w());
        self.counts.multipliers += 1;
        let e = format!("{} * {}", Rtl::ext(a, w), Rtl::ext(b, w));
        self.wire(lo, hi, w, e)
    }

    /// `a + b` of two summands (combinational).
    pub fn add2(&mut self, a: &Term, b: &Term) -> Term {
        self.combine(a, b)
    }

    fn combine(&mut self, a: &Term, b: &Term) -> Term {
        self.counts.adders += 1;
        if a.neg == b.neg {
            let (lo, hi) = (a.sig.lo + b.sig.lo, a.sig.hi + b.sig.hi);
            let w = width(lo, hi).max(a.sig.w()).max(b.sig.w());
            let e = format!("{} + {}", Self::ext(&a.sig, w), Self::ext(&b.sig, w));
            Term { sig: self.wire(lo, hi, w, e), neg: a.neg }
        } else {
            let (p, n) = if a.neg { (b, a) } else { (a, b) };
            let (lo, hi) = (p.sig.lo - n.sig.hi, p.sig.hi - n.sig.lo);
            let w = width(lo, hi).max(p.sig.w()).max(n.sig.w());
            let e = format!("{} - {}", Self::ext(&p.sig, w), Self::ext(&n.sig, w));
            Term { sig: self.wire(lo, hi, w, e), neg: false }
        }
    }

    /// Pipelined adder trees, one per output, all of the same latency:
    /// pairs are added level by level, and every `levels_per_stage` levels
    /// (and at the end) all running sums are registered. Returns the sums
    /// and the number of register stages.
    pub fn adder_trees(&mut self, outputs: Vec<Vec<Term>>, levels_per_stage: u32) -> (Vec<Sig>, u32) {
        let mut cur = outputs;
        let mut level = 0;
        let mut stages = 0;
        while cur.iter().any(|t| t.len() > 1) {
            level += 1;
            let mut next = Vec::with_capacity(cur.len());
            for terms in cur {
                let mut out = Vec::with_capacity(terms.len().div_ceil(2));
                let mut it = terms.into_iter();
                while let Some(a) = it.next() {
                    match it.next() {
                        Some(b) => out.push(self.combine(&a, &b)),
                        None => out.push(a),
                    }
                }
                next.push(out);
            }
            cur = next;
            if level % levels_per_stage == 0 && cur.iter().any(|t| t.len() > 1) {
                cur = cur.into_iter().map(|ts| ts.into_iter().map(|t| Term { sig: self.reg(&t.sig), neg: t.neg }).collect()).collect();
                stages += 1;
            }
        }
        self.counts.adder_levels = self.counts.adder_levels.max(level);
        let mut sums = vec![];
        for ts in cur {
            let s = match ts.into_iter().next() {
                None => self.constant(0),
                Some(Term { sig, neg: false }) => sig,
                Some(Term { sig, neg: true }) => {
                    let (lo, hi) = (-sig.hi, -sig.lo);
                    let w = width(lo, hi).max(sig.w());
                    let e = format!("{}'d0 - {}", w, Self::ext(&sig, w));
                    self.wire(lo, hi, w, e)
                }
            };
            sums.push(s);
        }
        // The end of the tree is registered.
        let sums: Vec<Sig> = sums.iter().map(|s| if s.lo == s.hi { s.clone() } else { self.reg(s) }).collect();
        (sums, stages + 1)
    }
}

/// Canonical signed digits of `c`: (shift, negative) pairs, fewest nonzero
/// digits (no two adjacent).
pub fn csd(c: i128) -> Vec<(u32, bool)> {
    let mut out = vec![];
    let mut v = c;
    let mut k = 0;
    while v != 0 {
        if v & 1 != 0 {
            // digit +1 if v ≡ 1 (mod 4), -1 if v ≡ 3 (mod 4)
            let d = 2 - (v & 3);
            out.push((k, d < 0));
            v -= d;
        }
        v >>= 1;
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csd_digits() {
        for c in -300i128..300 {
            let d = csd(c);
            let v: i128 = d.iter().map(|&(k, n)| if n { -(1 << k) } else { 1 << k }).sum();
            assert_eq!(v, c);
            let ks: Vec<u32> = d.iter().map(|x| x.0).collect();
            assert!(ks.windows(2).all(|w| w[1] > w[0] + 1), "{c}: {d:?}");
        }
        assert_eq!(csd(7), vec![(0, true), (3, false)]);
    }

    /// One input times 3, 6, −12, 5, 10 and 7: three odd products (3, 5,
    /// 7) are built, the others are their shifts with a sign, each with
    /// the exact range of its own constant; a second input builds its own.
    #[test]
    fn products_share_odd_multiples_of_one_signal() {
        for shift_add in [true, false] {
            let mut r = Rtl::new("t");
            let x = Sig::new("x", -5, 9);
            let y = Sig::new("y", 0, 3);
            let mut got = vec![];
            for c in [3i128, 6, -12, 5, 10, 7, 1, -2] {
                let t = r.times_const(&x, c, shift_add);
                assert_eq!(t.len(), 1);
                let (lo, hi) = if t[0].neg { (-t[0].sig.hi, -t[0].sig.lo) } else { (t[0].sig.lo, t[0].sig.hi) };
                assert_eq!((lo, hi), ((-5 * c).min(9 * c), (-5 * c).max(9 * c)), "x*{c}");
                got.push(t[0].sig.name.clone());
            }
            r.times_const(&y, 3, shift_add);
            let built = if shift_add { r.counts.shift_adds } else { r.counts.multipliers };
            assert_eq!(built, 4, "x*3, x*5, x*7 and y*3 (shift_add {shift_add})");
            // x*6 and x*-12 are wires of x*3, not new products.
            assert!(r.assigns.iter().filter(|a| a.contains(" * ") || a.contains(" + ") || a.contains(" - ")).count() <= if shift_add { 8 } else { 4 });
        }
    }

    #[test]
    fn literals_and_widths() {
        assert_eq!(lit(-1, 4), "4'hf");
        assert_eq!(width(0, 63), 6);
        assert_eq!(width(-32, 31), 6);
        assert_eq!(width(-1, 0), 1);
    }
}
