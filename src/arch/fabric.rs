//! The LUT and flip-flop estimate: what a netlist's cells ask of a 7-series
//! FPGA's fabric, weighed by costs calibrated against Yosys 0.23
//! `synth_xilinx -flatten` (the fit and its error are in the README's
//! folded-architecture section; `benches/peers/fabric_fit.py` refits them).
//!
//! The estimate is a query on the netlist, never on emitted text: each cell
//! contributes by its kind and its exact widths. It is what `--budget
//! lut=N,ff=M` holds a design to, and what the report prints next to
//! Yosys's counts. It is a model, not synthesis: Yosys's optimizations
//! (constant propagation through shift-adds, LUT packing) move the real
//! count by the error the README states.

use super::netlist::{Cell, Module, NetId};

/// The fabric a module's cells need, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Fabric {
    /// Result bits of adders and subtractors (one carry-chain LUT each),
    /// the requantizers' rounding adders included; not the low bits where
    /// an operand is known zero (a shifted term of a shift-add), which
    /// pass through without logic.
    pub adder_bits: usize,
    /// Operand bits of comparisons of two variables (a carry chain over
    /// the wider operand).
    pub compare_bits: usize,
    /// Operand bits of comparisons with a constant (the requantizers'
    /// clamps, the step-function trees): far cheaper, as synthesis folds
    /// the constant into the LUTs.
    pub const_compare_bits: usize,
    /// Result bits of 2:1 multiplexers of two variables.
    pub mux_bits: usize,
    /// Result bits of 2:1 multiplexers with a constant operand (a ReLU's
    /// zero, a step function's leaves): gates synthesis merges into
    /// neighbouring LUTs.
    pub const_mux_bits: usize,
    /// Operand-width products (wa × wb) of multipliers too narrow for a
    /// DSP48 (products under 9 bits), always in LUTs.
    pub narrow_product_bits: usize,
    /// Operand-width products of multipliers Yosys maps to DSP48s (in
    /// LUTs with `--no-dsp`).
    pub wide_product_bits: usize,
    /// Register bits loaded straight from a DSP-mapped product: the DSP48's
    /// own pipeline register takes them (with `--no-dsp` they stay FFs).
    pub dsp_register_bits: usize,
    /// Result bits of adders that read such a register: a DSP48's
    /// post-adder takes them (with `--no-dsp` they are adders). Not in
    /// `adder_bits`.
    pub dsp_adder_bits: usize,
    /// LUT6s of memories in LUTs: a LUT RAM's bit per 64 words; a LUT
    /// ROM's distinct bit columns that are not a constant or an address
    /// bit (one LUT each per 64 words, shared by equal columns).
    pub lut_memory: usize,
    /// Register bits.
    pub ff_bits: usize,
}

/// The calibrated LUT costs of [`Fabric`]'s fields (LUTs per unit): the
/// non-negative least-squares fit of `benches/peers/fabric_fit.py` to the
/// Yosys counts of `fabric_data.tsv` (17 designs, relative errors). The
/// fit gives comparisons and constant multiplexers no cost of their own:
/// synthesis merges them into the LUTs of the multiplexers they select.
/// A LUT ROM's column costs four LUTs, not one: its bits feed multipliers
/// that synthesis can no longer simplify by constant weights.
const ADDER: f64 = 0.90;
const COMPARE: f64 = 0.0;
const CONST_COMPARE: f64 = 0.0;
const MUX: f64 = 0.55;
const CONST_MUX: f64 = 0.0;
const PRODUCT: f64 = 0.96;
const MEMORY: f64 = 4.1;

impl Fabric {
    /// The fabric of `m`'s own cells (sub-modules are counted by their own
    /// modules).
    pub fn of(m: &Module) -> Fabric {
        let mut f = Fabric::default();
        let range = |n: NetId| (m.get(n).lo, m.get(n).hi);
        let width = |n: NetId| m.get(n).width as usize;
        let mut dsp_products = vec![false; m.nets.len()];
        let zeros = low_zeros(m);
        for c in &m.cells {
            match c {
                Cell::Add { y, a, b } => f.adder_bits += width(*y).saturating_sub(zeros[a.0].max(zeros[b.0]) as usize),
                Cell::Sub { y, b, .. } => f.adder_bits += width(*y).saturating_sub(zeros[b.0] as usize),
                Cell::Compare { a, b, .. } if m.get(*a).lo == m.get(*a).hi || m.get(*b).lo == m.get(*b).hi => f.const_compare_bits += width(*a).max(width(*b)),
                Cell::Compare { a, b, .. } => f.compare_bits += width(*a).max(width(*b)),
                Cell::Mux { y, one, zero, .. } if m.get(*one).lo == m.get(*one).hi || m.get(*zero).lo == m.get(*zero).hi => f.const_mux_bits += width(*y),
                Cell::Mux { y, .. } => f.mux_bits += width(*y),
                Cell::Mul { y, a, b, .. } => {
                    let bits = width(*a) * width(*b);
                    if super::folded::dsp48s(range(*a), range(*b)) > 0 {
                        f.wide_product_bits += bits;
                        dsp_products[y.0] = true;
                    } else {
                        f.narrow_product_bits += bits;
                    }
                }
                Cell::Reg { q, .. } => f.ff_bits += width(*q),
                // A LUT ROM's read register goes into the address (Yosys
                // retimes it): no FFs. Yosys keeps ROMs of up to 64 words
                // in LUTs unless told `block` (measured: jet_tagger_da at
                // R = 64 has no block RAM).
                Cell::Rom { q, words, init, elem_width, .. }
                    if init.style == Some(super::netlist::RomStyle::Distributed) || init.style.is_none() && (words.len() <= 64 || super::folded::bram36(words.len(), width(*q)) == 0.0) =>
                {
                    f.lut_memory += rom_luts(words, *elem_width, width(*q));
                }
                Cell::Ram { q, depth, .. } => {
                    let w = width(*q);
                    if super::netlist::ram_style(*depth, w as u32) == "distributed" {
                        f.lut_memory += w * depth.div_ceil(64);
                        f.ff_bits += w;
                    }
                }
                Cell::Instance { module, params, .. } if module == "qkhw_requant" => {
                    let p = |k: &str| params.iter().find(|p| p.0 == k).and_then(|p| p.1.parse::<usize>().ok()).unwrap_or(0);
                    let kept = p("IN_W").saturating_sub(p("SHIFT")) + 1;
                    f.adder_bits += kept;
                    if p("SAT") == 1 {
                        f.const_compare_bits += 2 * kept;
                        f.mux_bits += 2 * p("OUT_W");
                    }
                }
                _ => {}
            }
        }
        let mut dsp_registers = vec![false; m.nets.len()];
        for c in &m.cells {
            if let Cell::Reg { q, d, .. } = c
                && dsp_products[d.0]
            {
                f.dsp_register_bits += width(*q);
                dsp_registers[q.0] = true;
            }
        }
        for c in &m.cells {
            if let Cell::Add { y, a, b } = c
                && (dsp_registers[a.0] || dsp_registers[b.0])
            {
                let bits = width(*y).saturating_sub(zeros[a.0].max(zeros[b.0]) as usize);
                f.adder_bits -= bits;
                f.dsp_adder_bits += bits;
            }
        }
        f
    }

    /// The top template's handshake, which is not a netlist: the input
    /// (and holding) registers, the valid/TLAST pipeline and the output
    /// skid buffer (two words and their multiplexer).
    pub fn handshake(input_bits: usize, pipeline_bits: usize, out_bits: usize) -> Fabric {
        Fabric { ff_bits: input_bits + pipeline_bits + 2 * (out_bits + 2), mux_bits: out_bits + 1, ..Fabric::default() }
    }

    /// Sums (a sub-module's fabric into its parent's).
    pub fn add(&mut self, o: &Fabric) {
        self.adder_bits += o.adder_bits;
        self.compare_bits += o.compare_bits;
        self.const_compare_bits += o.const_compare_bits;
        self.mux_bits += o.mux_bits;
        self.const_mux_bits += o.const_mux_bits;
        self.narrow_product_bits += o.narrow_product_bits;
        self.wide_product_bits += o.wide_product_bits;
        self.dsp_register_bits += o.dsp_register_bits;
        self.dsp_adder_bits += o.dsp_adder_bits;
        self.lut_memory += o.lut_memory;
        self.ff_bits += o.ff_bits;
    }

    /// Estimated LUTs (`no_dsp`: the wide multipliers in LUTs too).
    pub fn luts(&self, no_dsp: bool) -> usize {
        let products = self.narrow_product_bits + if no_dsp { self.wide_product_bits } else { 0 };
        let adders = self.adder_bits + if no_dsp { self.dsp_adder_bits } else { 0 };
        let luts = ADDER * adders as f64 + COMPARE * self.compare_bits as f64 + CONST_COMPARE * self.const_compare_bits as f64 + MUX * self.mux_bits as f64 + CONST_MUX * self.const_mux_bits as f64 + PRODUCT * products as f64 + MEMORY * self.lut_memory as f64;
        luts.round() as usize
    }

    /// Estimated flip-flops (`no_dsp`: no DSP48 takes a product register).
    pub fn ffs(&self, no_dsp: bool) -> usize {
        self.ff_bits - if no_dsp { 0 } else { self.dsp_register_bits }
    }
}

/// The low bits of each net known to be zero (cells come in dependency
/// order, so one pass finds them): a shifted term's appended zeros, carried
/// through additions, extensions and constants.
fn low_zeros(m: &Module) -> Vec<u32> {
    let mut z = vec![0u32; m.nets.len()];
    for c in &m.cells {
        let (y, v) = match c {
            Cell::Const { y, value } => (*y, if *value == 0 { m.get(*y).width } else { value.trailing_zeros() }),
            Cell::Shl { y, a, s } => (*y, z[a.0] + s),
            Cell::Add { y, a, b } | Cell::Sub { y, a, b } => (*y, z[a.0].min(z[b.0])),
            Cell::Extend { y, a } => (*y, z[a.0]),
            _ => continue,
        };
        z[y.0] = v.min(m.get(y).width);
    }
    z
}

/// The LUT6s of a ROM in LUTs: its bit columns (each bit's values over the
/// words, a function of the address) that need logic, counted once when
/// equal (synthesis shares them), a LUT per 64 words each.
fn rom_luts(words: &[Vec<i128>], elem_width: u32, width: usize) -> usize {
    let depth = words.len();
    let bit = |w: &Vec<i128>, b: usize| {
        let (e, k) = (b / elem_width as usize, b % elem_width as usize);
        w.get(e).is_some_and(|v| (v >> k) & 1 == 1)
    };
    let free = |col: &[bool]| {
        let constant = col.iter().all(|&c| c == col[0]);
        let address = (0..usize::BITS - depth.leading_zeros()).any(|a| col.iter().enumerate().all(|(i, &c)| c == ((i >> a) & 1 == 1)) || col.iter().enumerate().all(|(i, &c)| c != ((i >> a) & 1 == 1)));
        constant || address
    };
    let mut seen = std::collections::HashSet::new();
    for b in 0..width {
        let col: Vec<bool> = words.iter().map(|w| bit(w, b)).collect();
        if !free(&col) {
            seen.insert(col);
        }
    }
    seen.len() * depth.div_ceil(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_terms_zero_bits_need_no_adder() {
        let mut m = Module::new("t");
        let a = m.input("a", -8, 7, 4);
        let b = m.input("b", -8, 7, 4);
        let s = m.shl(b, 3);
        let y = m.add(a, s);
        m.output("y", y, m.get(y).width);
        // y has 8 bits; the low 3 are a's own.
        assert_eq!(m.get(y).width, 8);
        assert_eq!(Fabric::of(&m).adder_bits, 5);
        let d = m.sub(a, s);
        m.output("d", d, m.get(d).width);
        assert_eq!(Fabric::of(&m).adder_bits, 5 + 8 - 3);
    }

    #[test]
    fn a_lut_rom_costs_its_distinct_columns_that_need_logic() {
        // Four words of one 4-bit element: bit 0 constant, bit 1 = address
        // bit 0, bit 2 and bit 3 the same function (words 1 and 2 set).
        let words = vec![vec![0b0001], vec![0b1111], vec![0b1101], vec![0b0011]];
        assert_eq!(rom_luts(&words, 4, 4), 1);
        // The complement of an address bit is free too.
        let words = vec![vec![0b10], vec![0b00], vec![0b10], vec![0b00]];
        assert_eq!(rom_luts(&words, 2, 2), 0);
        // 65 words: two LUTs per column.
        let words: Vec<Vec<i128>> = (0..65).map(|i| vec![i128::from(i % 3 == 0)]).collect();
        assert_eq!(rom_luts(&words, 1, 1), 2);
    }

    #[test]
    fn a_dsp_product_register_is_no_ff_unless_no_dsp() {
        let mut m = Module::new("t");
        let a = m.input("a", -128, 127, 8);
        let b = m.input("b", -128, 127, 8);
        let p = m.mul(a, b);
        let q = m.reg(p, None);
        m.output("q", q, m.get(q).width);
        let f = Fabric::of(&m);
        assert_eq!((f.wide_product_bits, f.dsp_register_bits, f.ff_bits), (64, 16, 16));
        assert_eq!((f.ffs(false), f.ffs(true)), (0, 16));
        assert!(f.luts(true) > f.luts(false));
    }
}
