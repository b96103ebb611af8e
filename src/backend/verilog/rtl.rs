//! The datapath builder of layer modules: signals with exact value ranges,
//! and the arithmetic the generator needs (constant multiplies as
//! shift-adds or multipliers, pipelined adder trees), built as cells of a
//! [`netlist::Module`](crate::arch::netlist::Module), which its one writer
//! prints.
//!
//! Every signal carries the exact range of the values it holds; its width
//! is at least the narrowest two's complement (or unsigned, when never
//! negative) width for that range. Operands are extended to the result's
//! width and combined modulo 2^width, which is exact because the true
//! result fits: no signedness rules of Verilog are relied on, and widths
//! always match (lint-clean under `verilator -Wall`).

use crate::arch::fabric::Fabric;
use crate::arch::netlist::{Cell, Cmp, Module, NetId};

/// A value in the design: a net and the range of the values it holds
/// (within the net's own range: a builder may know more, e.g. after a
/// shared product), at the net's width.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sig {
    pub net: NetId,
    pub lo: i128,
    pub hi: i128,
    /// The net's width (at least `width(lo, hi)`).
    pub bits: u32,
}

/// Width of the narrowest format for `lo..=hi` (two's complement if it can
/// be negative).
pub fn width(lo: i128, hi: i128) -> u32 {
    crate::plan::fmt_for(lo.min(hi), hi.max(lo), 0).width
}

impl Sig {
    pub fn w(&self) -> u32 {
        self.bits
    }
    pub fn signed(&self) -> bool {
        self.lo < 0
    }
    /// A constant value (its range is one value).
    pub fn is_const(&self) -> bool {
        self.lo == self.hi
    }
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
    /// Comparisons (each with its 2:1 mux): step-function activations,
    /// maxima, arg-max and clamps.
    pub comparisons: usize,
    /// Comparison levels of the deepest activation tree.
    pub compare_levels: u32,
    /// ROM bits (folded layers' weights).
    pub memory_bits: usize,
    /// Cycles per sample (1 unrolled; a folded layer's schedule).
    pub cycles: usize,
    /// Estimated DSP48 slices: the multipliers Yosys maps to DSPs, folded
    /// layers' and constant products alike (none with `--no-dsp`, where
    /// Yosys maps none).
    pub dsp_estimate: usize,
    /// Of `dsp_estimate`, the folded layers' (the rest, constant products
    /// and products of two signals, does not change with the reuse
    /// factors: `--budget` sets it aside).
    #[serde(skip)]
    pub folded_dsp: usize,
    /// Multipliers that compute two output lanes' products (`--pack-dsp`).
    pub packed_multipliers: usize,
    /// Estimated BRAM36 of the ROMs.
    pub bram36_estimate: f64,
    /// The fabric the cells need: the LUT and FF estimate.
    pub fabric: Fabric,
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
        self.folded_dsp += k.folded_dsp;
        self.packed_multipliers += k.packed_multipliers;
        self.bram36_estimate += k.bram36_estimate;
        self.fabric.add(&k.fabric);
    }

    /// Add the operators, comparisons, flip-flops, memory bits, RAMs'
    /// block RAM and fabric counted on a netlist module's own cells.
    pub fn add_cells(&mut self, m: &Module) {
        let r = m.resources();
        self.multipliers += r.multipliers;
        self.adders += r.adders;
        self.comparisons += r.comparisons;
        self.ff_bits += r.ff_bits;
        self.memory_bits += r.memory_bits;
        self.bram36_estimate += r.ram_bram36;
        self.dsp_estimate += r.dsp48;
        self.fabric.add(&Fabric::of(m));
    }

    /// Of a netlist module's own cells ([`Counts::add_cells`]).
    pub fn of_cells(m: &Module) -> Counts {
        let mut c = Counts::default();
        c.add_cells(m);
        c
    }
}

/// One module's datapath in construction.
#[derive(Debug)]
pub struct Rtl {
    pub m: Module,
    /// What the cells do not tell: sub-blocks' counts, shift-add products
    /// and tree depths ([`Rtl::totals`] adds the module's own cells).
    pub counts: Counts,
    /// The clock and the clock enable, made on first use: a module
    /// without registers has neither port.
    clocking: Option<(NetId, NetId)>,
    /// Products already built, by (signal, odd constant, shift-add): a
    /// signal times `±odd·2^k` is the shared `signal·odd`, shifted and
    /// signed (multiple-constant multiplication by shared odd multiples).
    products: std::collections::HashMap<(NetId, i128, bool), Sig>,
}

/// A summand: `value = neg ? -sig : sig`.
#[derive(Debug, Clone)]
pub struct Term {
    pub sig: Sig,
    pub neg: bool,
}

impl Rtl {
    pub fn new(module: &str) -> Rtl {
        Rtl { m: Module::new(module), counts: Counts::default(), clocking: None, products: Default::default() }
    }

    /// The module's counts: [`Rtl::counts`] and its own cells.
    pub fn totals(&self) -> Counts {
        let mut c = self.counts.clone();
        c.add_cells(&self.m);
        c
    }

    /// The clock and the clock enable (the `clk` and `ce` ports are made
    /// on first use).
    pub fn clocking(&mut self) -> (NetId, NetId) {
        *self.clocking.get_or_insert_with(|| (self.m.clock_input("clk"), self.m.input_bit("ce")))
    }

    /// An input port of `w` bits (a bus: its elements are slices).
    pub fn port(&mut self, name: &str, w: u32) -> Sig {
        Sig { net: self.m.input(name, 0, 0, w), lo: 0, hi: 0, bits: w }
    }

    /// Whether the module has a clock.
    pub fn clocked(&self) -> bool {
        self.clocking.is_some()
    }

    /// A new wire holding `lo..=hi` on `w` bits (at least the range's
    /// width), driven by the cell `make(y)`.
    fn wire(&mut self, lo: i128, hi: i128, w: u32, make: impl FnOnce(NetId) -> Cell) -> Sig {
        let w = w.max(width(lo, hi));
        Sig { net: self.m.wire(lo, hi, w, make), lo, hi, bits: w }
    }

    /// A register of `s`, loaded when `ce` is high.
    pub fn reg(&mut self, s: &Sig) -> Sig {
        let (_, ce) = self.clocking();
        let q = self.m.reg_range(s.net, Some(ce), s.lo, s.hi);
        Sig { net: q, ..*s }
    }

    /// A constant.
    pub fn constant(&mut self, v: i128) -> Sig {
        self.constant_at(v, width(v, v))
    }

    /// A constant written at `w` bits (at least its own width).
    pub fn constant_at(&mut self, v: i128, w: u32) -> Sig {
        let bits = w.max(width(v, v));
        Sig { net: self.m.constant_at(v, bits), lo: v, hi: v, bits }
    }

    /// `s` on `w` bits (at least its width), sign- or zero-extended.
    pub fn extend(&mut self, s: &Sig, w: u32) -> Sig {
        if w <= s.w() {
            return *s;
        }
        self.wire(s.lo, s.hi, w, |y| Cell::Extend { y, a: s.net })
    }

    /// `w` bits of `s` from bit `lsb`, holding `lo..=hi`.
    pub fn slice(&mut self, s: &Sig, lsb: u32, w: u32, lo: i128, hi: i128) -> Sig {
        // The whole of a net whose range holds `lo..=hi` (so the writer
        // extends it with the right sign) is the net itself.
        let n = self.m.get(s.net);
        if lsb == 0 && w == s.w() && n.lo <= lo && hi <= n.hi {
            return Sig { lo, hi, ..*s };
        }
        self.wire(lo, hi, w, |y| Cell::Slice { y, a: s.net, lsb })
    }

    /// `a op b`, one bit (signed by the operands' ranges).
    pub fn compare(&mut self, op: Cmp, a: &Sig, b: &Sig) -> Sig {
        self.wire(0, 1, 1, |y| Cell::Compare { y, op, a: a.net, b: b.net })
    }

    /// `sel ? one : zero` on `w` bits (at least the union's width).
    pub fn mux(&mut self, sel: &Sig, one: &Sig, zero: &Sig, w: u32) -> Sig {
        let (lo, hi) = (one.lo.min(zero.lo), one.hi.max(zero.hi));
        self.wire(lo, hi, w, |y| Cell::Mux { y, sel: sel.net, one: one.net, zero: zero.net })
    }

    /// `-s`.
    pub fn negate(&mut self, s: &Sig) -> Sig {
        let (lo, hi) = (-s.hi, -s.lo);
        let w = width(lo, hi).max(s.w());
        let zero = self.constant(0);
        self.wire(lo, hi, w, |y| Cell::Sub { y, a: zero.net, b: s.net })
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
        let key = (s.net, odd, shift_add);
        let p = match self.products.get(&key) {
            Some(p) if !s.is_const() => *p,
            _ => {
                let p = self.odd_product(s, odd, shift_add);
                if !s.is_const() {
                    self.products.insert(key, p);
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
            let v = if t.neg { self.negate(&t.sig) } else { t.sig };
            return self.narrowed(&v, lo, hi);
        }
        let w = width(lo, hi).max(s.w());
        let k = self.constant_at(c, w);
        self.wire(lo, hi, w, |y| Cell::Mul { y, a: s.net, b: k.net, tile: false })
    }

    /// `s` known to hold values in `lo..=hi` only, on the fewest bits.
    pub fn narrowed(&mut self, s: &Sig, lo: i128, hi: i128) -> Sig {
        let w = width(lo, hi);
        if w >= s.w() {
            return Sig { lo, hi, ..*s };
        }
        self.slice(s, 0, w, lo, hi)
    }

    /// `s << k` (no logic: wiring).
    pub fn shifted(&mut self, s: &Sig, k: u32) -> Sig {
        if k == 0 {
            return *s;
        }
        // width(lo·2^k, hi·2^k) ≤ width(lo, hi) + k ≤ s.w() + k.
        self.wire(s.lo << k, s.hi << k, s.w() + k, |y| Cell::Shl { y, a: s.net, s: k })
    }

    /// `a × b` of two signals: one multiplier at the product's exact width
    /// (the low bits of a product of sign-extended operands are exact).
    pub fn product(&mut self, a: &Sig, b: &Sig) -> Sig {
        let c = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi];
        let (lo, hi) = (c.iter().copied().min().unwrap_or(0), c.iter().copied().max().unwrap_or(0));
        let w = width(lo, hi).max(a.w()).max(b.w());
        self.wire(lo, hi, w, |y| Cell::Mul { y, a: a.net, b: b.net, tile: false })
    }

    /// `a + b` of two summands (combinational).
    pub fn add2(&mut self, a: &Term, b: &Term) -> Term {
        self.combine(a, b)
    }

    fn combine(&mut self, a: &Term, b: &Term) -> Term {
        if a.neg == b.neg {
            let (lo, hi) = (a.sig.lo + b.sig.lo, a.sig.hi + b.sig.hi);
            let w = width(lo, hi).max(a.sig.w()).max(b.sig.w());
            Term { sig: self.wire(lo, hi, w, |y| Cell::Add { y, a: a.sig.net, b: b.sig.net }), neg: a.neg }
        } else {
            let (p, n) = if a.neg { (b, a) } else { (a, b) };
            let (lo, hi) = (p.sig.lo - n.sig.hi, p.sig.hi - n.sig.lo);
            let w = width(lo, hi).max(p.sig.w()).max(n.sig.w());
            Term { sig: self.wire(lo, hi, w, |y| Cell::Sub { y, a: p.sig.net, b: n.sig.net }), neg: false }
        }
    }

    /// The value of a summand (a negation when it is negative).
    pub fn value(&mut self, t: Term) -> Sig {
        if t.neg { self.negate(&t.sig) } else { t.sig }
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
                Some(t) => self.value(t),
            };
            sums.push(s);
        }
        // The end of the tree is registered.
        let sums: Vec<Sig> = sums.iter().map(|s| if s.is_const() { *s } else { self.reg(s) }).collect();
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
            let bus = r.port("x", 9);
            let x = r.slice(&bus, 0, 5, -5, 9);
            let y = r.slice(&bus, 5, 2, 0, 3);
            for c in [3i128, 6, -12, 5, 10, 7, 1, -2] {
                let t = r.times_const(&x, c, shift_add);
                assert_eq!(t.len(), 1);
                let (lo, hi) = if t[0].neg { (-t[0].sig.hi, -t[0].sig.lo) } else { (t[0].sig.lo, t[0].sig.hi) };
                assert_eq!((lo, hi), ((-5 * c).min(9 * c), (-5 * c).max(9 * c)), "x*{c}");
            }
            r.times_const(&y, 3, shift_add);
            let built = if shift_add { r.counts.shift_adds } else { r.totals().multipliers };
            assert_eq!(built, 4, "x*3, x*5, x*7 and y*3 (shift_add {shift_add})");
            // x*6 and x*-12 are wires of x*3, not new products.
            let ops = r.m.cells.iter().filter(|c| matches!(c, Cell::Add { .. } | Cell::Sub { .. } | Cell::Mul { .. })).count();
            assert!(ops <= if shift_add { 8 } else { 4 }, "{ops} operators");
        }
    }

    /// A one-element port: its element is the whole bus, which the
    /// writer sees as unsigned data. It must be a net of its own, or a
    /// negative value is zero-extended (found by a streamed DS-CNN whose
    /// one-channel input pixel went through a clamp).
    #[test]
    fn a_signed_element_filling_its_port_is_sign_extended() {
        let mut r = Rtl::new("t");
        let bus = r.port("x0", 8);
        let x = r.slice(&bus, 0, 8, -128, 127);
        assert_ne!(x.net, bus.net);
        let y = r.extend(&x, 9);
        r.m.output("y", y.net, 9);
        let v = r.m.verilog();
        assert!(v.contains(&format!("{{{{1{{{name}[7]}}}}, {name}}}", name = r.m.get(x.net).name)), "{v}");
    }

    #[test]
    fn widths() {
        assert_eq!(width(0, 63), 6);
        assert_eq!(width(-32, 31), 6);
        assert_eq!(width(-1, 0), 1);
    }
}
