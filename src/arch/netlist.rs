//! The netlist: hardware as typed nets and cells, printed to Verilog-2005 by
//! one writer ([`Module::verilog`]). Every net carries the exact range of
//! the values it holds and its width follows from it, so operands are
//! extended to a cell's output width and combined modulo 2^width, which is
//! exact because the true result fits (no Verilog signedness rules are
//! relied on, and widths always match: lint-clean under `verilator -Wall`).
//! Resource counts and unused-net checks are queries on the cells, never
//! scans of emitted text; every emitted line is one cell (or one memory
//! word), so line lengths stay bounded whatever the layer size.

use std::fmt::Write as _;

/// A net's index in its module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetId(pub usize);

/// How a net is driven and seen from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetKind {
    Wire,
    /// Driven by a register cell.
    Reg,
    Input,
    Output,
    /// A named wire a simulation harness reads by its hierarchical name
    /// (Verilator: `public_flat_rd`), e.g. a FIFO's occupancy; synthesis
    /// drops it.
    Probe,
    /// Declared by the text around a [`Module::body`] (a template's
    /// handshake signal the datapath reads or drives): not declared here.
    Extern,
    /// A named wire of a [`Module::body`] the text around it reads.
    Shared,
    /// A net [`Module::prune`] found no use for: not declared.
    Pruned,
}

/// A value in the design: its name, width and exact range.
#[derive(Debug, Clone, PartialEq)]
pub struct Net {
    pub name: String,
    pub width: u32,
    pub lo: i128,
    pub hi: i128,
    pub kind: NetKind,
}

impl Net {
    pub fn signed(&self) -> bool {
        self.lo < 0
    }
}

/// A requantizer that drops fraction bits, as the `qkhw_requant`
/// primitive computes it: `shift` fraction bits dropped with rounding mode
/// `round` (the primitive's `ROUND`), then saturated to `min..=max` (or
/// wrapped to `out_width` bits, when `min..=max` is the output format's
/// whole range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requant {
    pub shift: u32,
    pub round: u32,
    pub sat: bool,
    pub min: i128,
    pub max: i128,
    pub out_width: u32,
}

/// Width of the narrowest two's complement (or unsigned, when never
/// negative) format for `lo..=hi`.
pub fn width_of(lo: i128, hi: i128) -> u32 {
    crate::plan::fmt_for(lo.min(hi), hi.max(lo), 0).width
}

/// The range of `a × b` for operands in the ranges `a` and `b` (the
/// extreme products are at the corners).
pub fn product_range(a: (i128, i128), b: (i128, i128)) -> (i128, i128) {
    let c = [a.0 * b.0, a.0 * b.1, a.1 * b.0, a.1 * b.1];
    (c.into_iter().min().unwrap_or(0), c.into_iter().max().unwrap_or(0))
}

/// Comparison operators (signed by the operands' ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Ge,
    Gt,
    Eq,
}

/// How a ROM gets its contents, and where synthesis should put it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RomInit {
    /// `Some(file)`: `$readmemh` of this file, found under the macro
    /// `QKHW_ROM_DIR` (default `"."`, the design folder); `None`: the
    /// words written inline in an `initial` block (works in every tool).
    pub file: Option<String>,
    /// `rom_style` attribute (None: the tool's choice).
    pub style: Option<RomStyle>,
}

/// Where synthesis puts a ROM (`--rom-style`): the `rom_style` attribute
/// Vivado and Yosys read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RomStyle {
    /// Block RAM.
    Block,
    /// LUTs (distributed RAM).
    Distributed,
}

impl std::fmt::Display for RomStyle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RomStyle::Block => "block",
            RomStyle::Distributed => "distributed",
        })
    }
}

/// The operations of the netlist.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Const { y: NetId, value: i128 },
    Add { y: NetId, a: NetId, b: NetId },
    Sub { y: NetId, a: NetId, b: NetId },
    /// `a × b` (a DSP or LUT multiplier). Written as a signed multiply of
    /// the operands extended to the result's width, so that synthesis sees
    /// each operand's own width: as an unsigned multiply of extended
    /// operands, a 24-bit code times a 6-bit weight written 30 × 30 took
    /// three DSP48E1 in Yosys, a 16-bit code times a constant four; signed
    /// they take one. The low bits, all the result has, are the same.
    /// `tile`: a further piece of one product cut into DSP-width tiles,
    /// counted as no multiplier of its own (its slices are counted).
    Mul { y: NetId, a: NetId, b: NetId, tile: bool },
    /// `y = a op b` (one bit).
    Compare { y: NetId, op: Cmp, a: NetId, b: NetId },
    /// `y = sel ? one : zero`.
    Mux { y: NetId, sel: NetId, one: NetId, zero: NetId },
    /// `y = a[lsb +: width of y]`.
    Slice { y: NetId, a: NetId, lsb: u32 },
    /// `y = a` sign- or zero-extended (or truncated, when the range allows).
    Extend { y: NetId, a: NetId },
    /// `y = a · 2^s` (`{a, s zero bits}`).
    Shl { y: NetId, a: NetId, s: u32 },
    /// `y = {parts[n-1], ..., parts[0]}`: part 0 in the low bits.
    Concat { y: NetId, parts: Vec<NetId> },
    /// `q <= d` on the clock when `en` (if any) is high; `reset` loads the
    /// value instead while the reset net is high (control state only).
    Reg { q: NetId, d: NetId, en: Option<NetId>, reset: Option<(NetId, i128)> },
    /// A read-only memory with a registered read (`q <= mem[addr]` when
    /// `en`), so synthesis maps it to block RAM; each word is a list of
    /// `elem_width`-bit two's complement elements, element 0 in the low
    /// bits, written inline.
    Rom { q: NetId, addr: NetId, en: Option<NetId>, words: Vec<Vec<i128>>, elem_width: u32, init: RomInit },
    /// A simple dual-port memory of `depth` words of the width of `q`:
    /// `mem[waddr] <= wdata` when `we`, and a registered read
    /// `q <= mem[raddr]` when `ren` (block or LUT RAM, by its size).
    Ram { q: NetId, raddr: NetId, ren: NetId, waddr: NetId, wdata: NetId, we: NetId, depth: usize },
    /// An instance of another module: (port, net) connections.
    Instance { module: String, name: String, params: Vec<(String, String)>, conns: Vec<(String, NetId)> },
}

impl Cell {
    /// The net the cell drives (an instance drives its outputs itself).
    pub(crate) fn drives(&self) -> Option<NetId> {
        match self {
            Cell::Const { y, .. }
            | Cell::Add { y, .. }
            | Cell::Sub { y, .. }
            | Cell::Mul { y, .. }
            | Cell::Compare { y, .. }
            | Cell::Mux { y, .. }
            | Cell::Slice { y, .. }
            | Cell::Extend { y, .. }
            | Cell::Shl { y, .. }
            | Cell::Concat { y, .. } => Some(*y),
            Cell::Reg { q, .. } | Cell::Rom { q, .. } | Cell::Ram { q, .. } => Some(*q),
            Cell::Instance { .. } => None,
        }
    }

    /// The nets the cell reads.
    pub(crate) fn reads(&self) -> Vec<NetId> {
        match self {
            Cell::Const { .. } => vec![],
            Cell::Add { a, b, .. } | Cell::Sub { a, b, .. } | Cell::Mul { a, b, .. } | Cell::Compare { a, b, .. } => vec![*a, *b],
            Cell::Mux { sel, one, zero, .. } => vec![*sel, *one, *zero],
            Cell::Slice { a, .. } | Cell::Extend { a, .. } | Cell::Shl { a, .. } => vec![*a],
            Cell::Concat { parts, .. } => parts.clone(),
            Cell::Reg { d, en, reset, .. } => [Some(*d), *en, reset.map(|r| r.0)].into_iter().flatten().collect(),
            Cell::Rom { addr, en, .. } => [Some(*addr), *en].into_iter().flatten().collect(),
            Cell::Ram { raddr, ren, waddr, wdata, we, .. } => vec![*raddr, *ren, *waddr, *wdata, *we],
            Cell::Instance { conns, .. } => conns.iter().map(|c| c.1).collect(),
        }
    }
}

/// A module: ports (in declaration order), nets and cells.
#[derive(Debug, Clone, Default)]
pub struct Module {
    pub name: String,
    pub nets: Vec<Net>,
    pub cells: Vec<Cell>,
    /// The clock net, when the module has registers or memories.
    pub clock: Option<NetId>,
    /// Comment lines written above the module.
    pub header: Vec<String>,
    /// Nets an instance drives that nothing reads (named in the
    /// `unused_nets` reduction, so lint sees them read).
    pub sinks: Vec<NetId>,
}

/// What a module costs, counted on its cells.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Resources {
    pub multipliers: usize,
    pub adders: usize,
    pub comparisons: usize,
    pub muxes: usize,
    pub ff_bits: usize,
    pub memory_bits: usize,
    /// The RAMs [`ram_style`] puts in block RAM, in BRAM36.
    pub ram_bram36: f64,
    /// The DSP48E1 slices Yosys gives the multipliers
    /// ([`crate::arch::folded::dsp48s`]): folded layers' and constant
    /// products alike (a batch norm's 216 constant multipliers are 216).
    pub dsp48: usize,
}

/// Where a RAM of `depth` words of `width` bits goes (its `ram_style`):
/// block RAM from 64 words and 2 Kbit (the rule the estimates use,
/// [`crate::arch::folded::bram36`]), LUT RAM below. A shallow, wide RAM
/// (a line buffer over a narrow map, a short FIFO) in block RAM would
/// leave most of each BRAM empty.
pub fn ram_style(depth: usize, width: u32) -> &'static str {
    if super::folded::bram36(depth, width as usize) > 0.0 { "block" } else { "distributed" }
}

impl Module {
    pub fn new(name: impl Into<String>) -> Module {
        Module { name: name.into(), ..Default::default() }
    }

    fn net(&mut self, name: Option<&str>, lo: i128, hi: i128, width: Option<u32>, kind: NetKind) -> NetId {
        let id = NetId(self.nets.len());
        let name = name.map_or_else(|| format!("n{}", id.0), str::to_string);
        let width = width.unwrap_or(0).max(width_of(lo, hi));
        self.nets.push(Net { name, width, lo, hi, kind });
        id
    }

    /// An input port of `width` bits holding `lo..=hi`.
    pub fn input(&mut self, name: &str, lo: i128, hi: i128, width: u32) -> NetId {
        self.net(Some(name), lo, hi, Some(width), NetKind::Input)
    }

    /// A net declared by the text around the module's [`Module::body`].
    pub fn extern_net(&mut self, name: &str, width: u32) -> NetId {
        self.net(Some(name), 0, 0, Some(width), NetKind::Extern)
    }

    /// A named wire holding `lo..=hi` that the text around the module's
    /// [`Module::body`] reads, driven by an instance (or later by [`Module::assign`]).
    pub fn shared(&mut self, name: &str, lo: i128, hi: i128, width: u32) -> NetId {
        self.net(Some(name), lo, hi, Some(width), NetKind::Shared)
    }

    /// A one-bit input port.
    pub fn input_bit(&mut self, name: &str) -> NetId {
        self.input(name, 0, 1, 1)
    }

    /// The clock input (registers and memories use it).
    pub fn clock_input(&mut self, name: &str) -> NetId {
        let c = self.input_bit(name);
        self.clock = Some(c);
        c
    }

    /// An output port driven by `from` (extended to `width`).
    pub fn output(&mut self, name: &str, from: NetId, width: u32) -> NetId {
        let (lo, hi) = (self.nets[from.0].lo, self.nets[from.0].hi);
        let y = self.net(Some(name), lo, hi, Some(width), NetKind::Output);
        self.cells.push(Cell::Extend { y, a: from });
        y
    }

    /// A probe named `name` showing `from` to the verification harness
    /// (see [`NetKind::Probe`]).
    pub fn probe(&mut self, name: &str, from: NetId) -> NetId {
        let (lo, hi, w) = (self.nets[from.0].lo, self.nets[from.0].hi, self.nets[from.0].width);
        let y = self.net(Some(name), lo, hi, Some(w), NetKind::Probe);
        self.cells.push(Cell::Extend { y, a: from });
        y
    }

    pub fn get(&self, n: NetId) -> &Net {
        &self.nets[n.0]
    }

    pub fn constant(&mut self, value: i128) -> NetId {
        self.constant_at(value, 0)
    }

    /// A constant written at `width` bits (at least its own width).
    pub fn constant_at(&mut self, value: i128, width: u32) -> NetId {
        let y = self.net(None, value, value, Some(width), NetKind::Wire);
        self.cells.push(Cell::Const { y, value });
        y
    }

    /// A wire of `width` bits (at least the range's) holding `lo..=hi`,
    /// driven by the cell `make(y)`: for builders that compute a result's
    /// range themselves (tighter than the operand nets say) or want a
    /// wider result than the range needs.
    pub fn wire(&mut self, lo: i128, hi: i128, width: u32, make: impl FnOnce(NetId) -> Cell) -> NetId {
        let y = self.net(None, lo, hi, Some(width), NetKind::Wire);
        self.cells.push(make(y));
        y
    }

    /// A clock-enabled register `q <= d` whose value lies in `lo..=hi`
    /// (within `d`'s range), at `d`'s width.
    pub fn reg_range(&mut self, d: NetId, en: Option<NetId>, lo: i128, hi: i128) -> NetId {
        let w = self.get(d).width;
        let q = self.net(None, lo, hi, Some(w), NetKind::Reg);
        self.cells.push(Cell::Reg { q, d, en, reset: None });
        q
    }

    pub fn add(&mut self, a: NetId, b: NetId) -> NetId {
        let (x, z) = (self.get(a).clone(), self.get(b).clone());
        let y = self.net(None, x.lo + z.lo, x.hi + z.hi, None, NetKind::Wire);
        self.cells.push(Cell::Add { y, a, b });
        y
    }

    pub fn sub(&mut self, a: NetId, b: NetId) -> NetId {
        let (x, z) = (self.get(a).clone(), self.get(b).clone());
        let y = self.net(None, x.lo - z.hi, x.hi - z.lo, None, NetKind::Wire);
        self.cells.push(Cell::Sub { y, a, b });
        y
    }

    /// `a · 2^s`: zeros appended, no logic.
    pub fn shl(&mut self, a: NetId, s: u32) -> NetId {
        if s == 0 {
            return a;
        }
        let x = self.get(a).clone();
        let y = self.net(None, x.lo << s, x.hi << s, Some(x.width + s), NetKind::Wire);
        self.cells.push(Cell::Shl { y, a, s });
        y
    }

    pub fn mul(&mut self, a: NetId, b: NetId) -> NetId {
        self.product(a, b, false)
    }

    /// A further piece of a product cut into tiles (see [`Cell::Mul`]).
    pub fn mul_tile(&mut self, a: NetId, b: NetId) -> NetId {
        self.product(a, b, true)
    }

    fn product(&mut self, a: NetId, b: NetId, tile: bool) -> NetId {
        let (lo, hi) = product_range((self.get(a).lo, self.get(a).hi), (self.get(b).lo, self.get(b).hi));
        let y = self.net(None, lo, hi, None, NetKind::Wire);
        self.cells.push(Cell::Mul { y, a, b, tile });
        y
    }

    pub fn compare(&mut self, op: Cmp, a: NetId, b: NetId) -> NetId {
        let y = self.net(None, 0, 1, Some(1), NetKind::Wire);
        self.cells.push(Cell::Compare { y, op, a, b });
        y
    }

    pub fn mux(&mut self, sel: NetId, one: NetId, zero: NetId) -> NetId {
        let (x, z) = (self.get(one).clone(), self.get(zero).clone());
        let y = self.net(None, x.lo.min(z.lo), x.hi.max(z.hi), None, NetKind::Wire);
        self.cells.push(Cell::Mux { y, sel, one, zero });
        y
    }

    /// A bus of `width` bits that is data, not a number (a pixel, a
    /// window): multiplexed and registered whole, never extended by range.
    pub fn bus_mux(&mut self, sel: NetId, one: NetId, zero: NetId) -> NetId {
        let w = self.get(one).width.max(self.get(zero).width);
        let y = self.net(None, 0, 0, Some(w), NetKind::Wire);
        self.cells.push(Cell::Mux { y, sel, one, zero });
        y
    }

    /// The low `bits` bits of `a` (its two's complement, extended or
    /// truncated), as an unsigned net: an address, a slot modulo 2^bits.
    pub fn low_bits(&mut self, a: NetId, bits: u32) -> NetId {
        let y = self.net(None, 0, (1i128 << bits) - 1, Some(bits), NetKind::Wire);
        self.cells.push(Cell::Extend { y, a });
        y
    }

    /// A data bus `a` zero-extended (or truncated) to `width` bits.
    pub fn bus_extend(&mut self, a: NetId, width: u32) -> NetId {
        let y = self.net(None, 0, 0, Some(width), NetKind::Wire);
        self.cells.push(Cell::Extend { y, a });
        y
    }

    /// `a & b` of one-bit nets.
    pub fn and(&mut self, a: NetId, b: NetId) -> NetId {
        let zero = self.constant(0);
        self.mux(a, b, zero)
    }

    /// `a | b` of one-bit nets.
    pub fn or(&mut self, a: NetId, b: NetId) -> NetId {
        let one = self.constant(1);
        self.mux(a, one, b)
    }

    /// `!a` of a one-bit net.
    pub fn not(&mut self, a: NetId) -> NetId {
        let (zero, one) = (self.constant(0), self.constant(1));
        self.mux(a, zero, one)
    }

    /// `width` bits of `a` from `lsb`, holding `lo..=hi`.
    pub fn slice(&mut self, a: NetId, lsb: u32, width: u32, lo: i128, hi: i128) -> NetId {
        let y = self.net(None, lo, hi, Some(width), NetKind::Wire);
        self.cells.push(Cell::Slice { y, a, lsb });
        y
    }

    /// `a` re-declared with the range `lo..=hi` (which must hold its values).
    pub fn narrow(&mut self, a: NetId, lo: i128, hi: i128) -> NetId {
        let y = self.net(None, lo, hi, None, NetKind::Wire);
        self.cells.push(Cell::Extend { y, a });
        y
    }

    pub fn concat(&mut self, parts: Vec<NetId>) -> NetId {
        let w: u32 = parts.iter().map(|p| self.get(*p).width).sum();
        let y = self.net(None, 0, 0, Some(w.max(1)), NetKind::Wire);
        self.cells.push(Cell::Concat { y, parts });
        y
    }

    /// A register of `d` (same range), loaded when `en`.
    pub fn reg(&mut self, d: NetId, en: Option<NetId>) -> NetId {
        let n = self.get(d).clone();
        let q = self.net(None, n.lo, n.hi, Some(n.width), NetKind::Reg);
        self.cells.push(Cell::Reg { q, d, en, reset: None });
        q
    }

    /// A control register with a reset value.
    pub fn reg_reset(&mut self, d: NetId, en: Option<NetId>, rst: NetId, value: i128) -> NetId {
        let n = self.get(d).clone();
        let q = self.net(None, n.lo.min(value), n.hi.max(value), Some(n.width.max(width_of(value, value))), NetKind::Reg);
        self.cells.push(Cell::Reg { q, d, en, reset: Some((rst, value)) });
        q
    }

    /// A register whose input is given later by [`Module::drive`] (for
    /// counters and accumulators that read their own output).
    pub fn reg_later(&mut self, lo: i128, hi: i128, en: Option<NetId>, reset: Option<(NetId, i128)>) -> NetId {
        let q = self.net(None, lo, hi, None, NetKind::Reg);
        self.cells.push(Cell::Reg { q, d: q, en, reset });
        q
    }

    /// A [`Module::reg_later`] register of `width` data bits (a bus).
    pub fn bus_reg_later(&mut self, width: u32, en: Option<NetId>, reset: Option<(NetId, i128)>) -> NetId {
        let q = self.net(None, 0, 0, Some(width), NetKind::Reg);
        self.cells.push(Cell::Reg { q, d: q, en, reset });
        q
    }

    /// Pick `options[sel]` (numbers) with a tree of 2:1 multiplexers on
    /// the bits of `sel`.
    pub fn mux_tree(&mut self, options: Vec<NetId>, sel: NetId) -> NetId {
        self.select_tree(options, sel, Module::mux)
    }

    /// [`Module::mux_tree`] of data buses (see [`Module::bus_mux`]).
    pub fn bus_mux_tree(&mut self, options: Vec<NetId>, sel: NetId) -> NetId {
        self.select_tree(options, sel, Module::bus_mux)
    }

    fn select_tree(&mut self, options: Vec<NetId>, sel: NetId, mux: fn(&mut Module, NetId, NetId, NetId) -> NetId) -> NetId {
        let mut cur = options;
        let mut bit = 0;
        while cur.len() > 1 {
            let b = self.slice(sel, bit, 1, 0, 1);
            let mut next = vec![];
            let mut it = cur.into_iter();
            while let Some(lo) = it.next() {
                match it.next() {
                    Some(hi) => next.push(mux(self, b, hi, lo)),
                    None => next.push(lo),
                }
            }
            cur = next;
            bit += 1;
        }
        cur[0]
    }

    /// A counter `0..limit` (reset to 0 by `rst`) advanced by `step`,
    /// wrapping after the last count, and restarting at 0 on `restart`
    /// (the count this cycle is then 0): returns (the count this cycle,
    /// whether it is the last).
    pub fn counter(&mut self, limit: usize, step: NetId, restart: Option<NetId>, rst: NetId) -> (NetId, NetId) {
        let hi = limit.saturating_sub(1) as i128;
        let q = self.reg_later(0, hi, Some(step), Some((rst, 0)));
        let zero = self.constant(0);
        let cur = match restart {
            Some(r) => {
                let c = self.mux(r, zero, q);
                self.narrow(c, 0, hi)
            }
            None => q,
        };
        let last_c = self.constant(hi);
        let last = self.compare(Cmp::Eq, cur, last_c);
        let one = self.constant(1);
        let inc = self.add(cur, one);
        let next = self.mux(last, zero, inc);
        let next = self.narrow(next, 0, hi);
        self.drive(q, next);
        (cur, last)
    }

    /// A control bit delayed by `n` clock-enabled registers, reset to 0 (an
    /// unknown bit in the line must not start anything).
    pub fn delay_reset(&mut self, d: NetId, n: usize, ce: NetId, rst: NetId) -> NetId {
        (0..n).fold(d, |x, _| self.reg_reset(x, Some(ce), rst, 0))
    }

    /// A simple dual-port RAM of `depth` words of `width` bits (see [`Cell::Ram`]).
    #[allow(clippy::too_many_arguments)]
    pub fn ram(&mut self, depth: usize, width: u32, waddr: NetId, wdata: NetId, we: NetId, raddr: NetId, ren: NetId) -> NetId {
        let q = self.net(None, 0, 0, Some(width), NetKind::Reg);
        self.cells.push(Cell::Ram { q, raddr, ren, waddr, wdata, we, depth });
        q
    }

    /// Give a [`Module::reg_later`] register its input.
    pub fn drive(&mut self, q: NetId, d: NetId) {
        for c in &mut self.cells {
            if let Cell::Reg { q: cq, d: cd, .. } = c
                && *cq == q {
                    *cd = d;
                }
        }
    }

    /// A ROM with a registered read of `words`, each a list of elements of
    /// `elem_width` bits (element 0 in the low bits).
    pub fn rom_elems(&mut self, addr: NetId, en: Option<NetId>, words: Vec<Vec<i128>>, elem_width: u32, init: RomInit) -> NetId {
        let n = words.first().map_or(1, |w| w.len().max(1)) as u32;
        let q = self.net(None, 0, 0, Some(n * elem_width), NetKind::Reg);
        self.cells.push(Cell::Rom { q, addr, en, words, elem_width, init });
        q
    }

    /// The `$readmemh` files of this module's ROMs: (file name, contents).
    pub fn rom_files(&self) -> Vec<(String, String)> {
        self.cells
            .iter()
            .filter_map(|c| match c {
                Cell::Rom { words, elem_width, init: RomInit { file: Some(f), .. }, .. } => {
                    let text: String = words.iter().map(|w| packed_lit(w, *elem_width).split_once('h').map_or(String::new(), |(_, h)| h.to_string()) + "\n").collect();
                    Some((f.clone(), text))
                }
                _ => None,
            })
            .collect()
    }

    pub fn instance(&mut self, module: &str, name: &str, params: Vec<(String, String)>, conns: Vec<(String, NetId)>) {
        self.cells.push(Cell::Instance { module: module.into(), name: name.into(), params, conns });
    }

    /// Drive the declared net `y` (an [`Module::instance_output`]
    /// placeholder) with `a`.
    pub fn assign(&mut self, y: NetId, a: NetId) {
        self.cells.push(Cell::Extend { y, a });
    }

    /// Mark an instance-driven net as deliberately unread.
    pub fn sink(&mut self, n: NetId) {
        self.sinks.push(n);
    }

    /// max(0, x) of `x`, which holds `lo..=hi` on `w` bits: the sign bit
    /// picks zero, else the low bits (unsigned) are the value. The one
    /// ReLU of every architecture.
    pub fn relu(&mut self, x: NetId, lo: i128, hi: i128, w: u32) -> NetId {
        if lo >= 0 {
            return x;
        }
        let ow = width_of(0, hi.max(0));
        let sign = self.slice(x, w - 1, 1, 0, 1);
        let low = self.slice(x, 0, ow, 0, i128::MAX >> (127 - ow.min(127)));
        let zero = self.constant_at(0, ow);
        self.wire(0, hi.max(0), ow, |y| Cell::Mux { y, sel: sign, one: zero, zero: low })
    }

    /// The `qkhw_requant` primitive (instance `name`) on `x`, which holds
    /// `lo..=hi` on `w` bits: the one lowering of a requantizer that drops
    /// fraction bits, for every architecture. An unsigned input gets a zero
    /// sign bit, since the primitive reads two's complement.
    pub fn requant(&mut self, name: &str, x: NetId, lo: i128, hi: i128, w: u32, q: Requant) -> NetId {
        let in_w = (w + u32::from(lo >= 0)).max(q.shift + 2);
        let xin = if in_w > w { self.wire(lo, hi, in_w, |y| Cell::Extend { y, a: x }) } else { x };
        let y = self.instance_output(q.min, q.max, q.out_width);
        let params = [
            ("IN_W", in_w.to_string()),
            ("SHIFT", q.shift.to_string()),
            ("OUT_W", q.out_width.to_string()),
            ("ROUND", q.round.to_string()),
            ("SAT", u8::from(q.sat).to_string()),
            ("MIN_CODE", lit(q.min, q.out_width + 1)),
            ("MAX_CODE", lit(q.max, q.out_width + 1)),
        ];
        let params = params.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        self.instance("qkhw_requant", name, params, vec![("x".into(), xin), ("y".into(), y)]);
        y
    }

    /// A net an instance drives (declared, assigned by no cell).
    pub fn instance_output(&mut self, lo: i128, hi: i128, width: u32) -> NetId {
        self.net(None, lo, hi, Some(width), NetKind::Wire)
    }

    /// Drop the cells whose results nothing needs, transitively: a result
    /// is needed when an output, a probe, a shared net, an instance (kept
    /// whole) or a needed cell reads it. Their nets become
    /// [`NetKind::Pruned`] (not declared). Returns the cells dropped.
    pub fn prune(&mut self) -> usize {
        let mut driver: Vec<Option<usize>> = vec![None; self.nets.len()];
        for (k, c) in self.cells.iter().enumerate() {
            if let Some(y) = c.drives() {
                driver[y.0] = Some(k);
            }
        }
        let mut live = vec![false; self.cells.len()];
        let mut stack: Vec<NetId> = self
            .nets
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.kind, NetKind::Output | NetKind::Probe | NetKind::Shared))
            .map(|(i, _)| NetId(i))
            .collect();
        for (k, c) in self.cells.iter().enumerate() {
            if let Cell::Instance { conns, .. } = c {
                live[k] = true;
                stack.extend(conns.iter().map(|(_, n)| *n));
            }
        }
        while let Some(x) = stack.pop() {
            if let Some(k) = driver[x.0]
                && !live[k]
            {
                live[k] = true;
                stack.extend(self.cells[k].reads());
            }
        }
        let before = self.cells.len();
        let mut k = 0;
        self.cells.retain(|_| {
            k += 1;
            live[k - 1]
        });
        for (i, d) in driver.iter().enumerate() {
            if let Some(c) = d
                && !live[*c]
            {
                self.nets[i].kind = NetKind::Pruned;
            }
        }
        before - self.cells.len()
    }

    /// Resource counts of this module's own cells.
    pub fn resources(&self) -> Resources {
        let mut r = Resources::default();
        for c in &self.cells {
            match c {
                Cell::Mul { a, b, tile, .. } => {
                    r.multipliers += usize::from(!tile);
                    r.dsp48 += super::folded::dsp48s((self.get(*a).lo, self.get(*a).hi), (self.get(*b).lo, self.get(*b).hi));
                }
                Cell::Add { .. } | Cell::Sub { .. } => r.adders += 1,
                Cell::Compare { .. } => r.comparisons += 1,
                Cell::Mux { .. } => r.muxes += 1,
                Cell::Reg { q, .. } => r.ff_bits += self.get(*q).width as usize,
                Cell::Rom { q, words, .. } => r.memory_bits += words.len() * self.get(*q).width as usize,
                Cell::Ram { q, depth, .. } => {
                    let w = self.get(*q).width;
                    r.memory_bits += depth * w as usize;
                    r.ram_bram36 += super::folded::bram36(*depth, w as usize);
                }
                _ => {}
            }
        }
        r
    }

    /// Bits no cell reads (of nets that are not outputs or constants):
    /// what lint calls UNUSED, as `name` or `name[hi:lo]` selections.
    fn unread(&self, consts: &[Option<i128>]) -> Vec<String> {
        let mut used: Vec<Vec<bool>> = self.nets.iter().map(|n| vec![false; n.width as usize]).collect();
        let mut mark = |n: NetId, lsb: u32, w: u32| {
            let u = &mut used[n.0];
            for b in lsb..(lsb + w).min(u.len() as u32) {
                u[b as usize] = true;
            }
        };
        let width = |n: NetId| self.nets[n.0].width;
        for c in &self.cells {
            match c {
                Cell::Const { .. } => {}
                Cell::Add { y, a, b } | Cell::Sub { y, a, b } | Cell::Mul { y, a, b, .. } => {
                    mark(*a, 0, width(*y));
                    mark(*b, 0, width(*y));
                }
                Cell::Compare { a, b, .. } => {
                    mark(*a, 0, u32::MAX / 2);
                    mark(*b, 0, u32::MAX / 2);
                }
                Cell::Mux { y, sel, one, zero } => {
                    mark(*sel, 0, 1);
                    mark(*one, 0, width(*y));
                    mark(*zero, 0, width(*y));
                }
                Cell::Slice { y, a, lsb } => mark(*a, *lsb, width(*y)),
                Cell::Extend { y, a } => mark(*a, 0, width(*y)),
                Cell::Shl { a, .. } => mark(*a, 0, width(*a)),
                Cell::Concat { parts, .. } => parts.iter().for_each(|p| mark(*p, 0, u32::MAX / 2)),
                Cell::Reg { q, d, en, reset } => {
                    mark(*d, 0, width(*q));
                    if let Some(e) = en {
                        mark(*e, 0, 1);
                    }
                    if let Some((r, _)) = reset {
                        mark(*r, 0, 1);
                    }
                }
                Cell::Rom { addr, en, .. } => {
                    mark(*addr, 0, u32::MAX / 2);
                    if let Some(e) = en {
                        mark(*e, 0, 1);
                    }
                }
                Cell::Ram { raddr, ren, waddr, wdata, we, .. } => {
                    for n in [raddr, waddr, wdata] {
                        mark(*n, 0, u32::MAX / 2);
                    }
                    mark(*ren, 0, 1);
                    mark(*we, 0, 1);
                }
                Cell::Instance { conns, .. } => conns.iter().for_each(|(_, n)| mark(*n, 0, u32::MAX / 2)),
            }
        }
        if let Some(c) = self.clock {
            mark(c, 0, 1);
        }
        let mut out = vec![];
        for (i, n) in self.nets.iter().enumerate() {
            if matches!(n.kind, NetKind::Output | NetKind::Probe | NetKind::Extern | NetKind::Shared | NetKind::Pruned) || consts[i].is_some() {
                continue;
            }
            let u = &used[i];
            if u.iter().all(|&b| !b) {
                out.push(n.name.clone());
                continue;
            }
            let mut b = 0;
            while b < u.len() {
                if u[b] {
                    b += 1;
                    continue;
                }
                let start = b;
                while b < u.len() && !u[b] {
                    b += 1;
                }
                out.push(if b - start == 1 && n.width == 1 { n.name.clone() } else if b - start == 1 { format!("{}[{start}]", n.name) } else { format!("{}[{}:{start}]", n.name, b - 1) });
            }
        }
        out
    }

    /// The value of each net a [`Cell::Const`] drives: the writer prints
    /// it as a literal where it is read (no wire, no assign).
    fn consts(&self) -> Vec<Option<i128>> {
        let mut k = vec![None; self.nets.len()];
        for c in &self.cells {
            if let Cell::Const { y, value } = c {
                k[y.0] = Some(*value);
            }
        }
        k
    }
}

/// How the writer names nets: a constant as its literal, any other net by
/// its name.
struct Names<'a> {
    m: &'a Module,
    consts: Vec<Option<i128>>,
}

impl Names<'_> {
    /// Net `a` at its own width.
    fn name(&self, a: NetId) -> String {
        self.ext(a, self.m.get(a).width)
    }

    /// `a` as an expression of `w` bits (sign- or zero-extended, or its low
    /// bits when `w` is narrower: exact where the ranges say so).
    fn ext(&self, a: NetId, w: u32) -> String {
        if let Some(v) = self.consts[a.0] {
            return lit(v, w.max(1));
        }
        let n = self.m.get(a);
        if w == n.width {
            return n.name.clone();
        }
        if w < n.width {
            return if w == 1 { format!("{}[0]", n.name) } else { format!("{}[{}:0]", n.name, w - 1) };
        }
        if n.signed() {
            if n.width == 1 {
                return format!("{{{w}{{{}}}}}", n.name);
            }
            format!("{{{{{}{{{}[{}]}}}}, {}}}", w - n.width, n.name, n.width - 1, n.name)
        } else {
            format!("{{{}'d0, {}}}", w - n.width, n.name)
        }
    }

    /// `w` bits of `a` from `lsb`.
    fn slice(&self, a: NetId, lsb: u32, w: u32) -> String {
        if let Some(v) = self.consts[a.0] {
            return lit(v >> lsb.min(127), w);
        }
        let an = &self.m.get(a).name;
        if self.m.get(a).width == 1 {
            an.clone()
        } else if w == 1 {
            format!("{an}[{lsb}]")
        } else {
            format!("{an}[{}:{lsb}]", lsb + w - 1)
        }
    }
}

impl Module {
    /// The module as Verilog-2005.
    pub fn verilog(&self) -> String {
        let mut s = String::new();
        for h in &self.header {
            let _ = writeln!(s, "// {h}");
        }
        if self.cells.iter().any(|c| matches!(c, Cell::Rom { init: RomInit { file: Some(_), .. }, .. })) {
            let _ = writeln!(s, "// ROM files are read from `QKHW_ROM_DIR (default \".\": run the tools in the design folder,");
            let _ = writeln!(s, "// or define it, e.g. verilator -DQKHW_ROM_DIR='\"/path/to/design\"').");
            let _ = writeln!(s, "`ifndef QKHW_ROM_DIR");
            let _ = writeln!(s, "`define QKHW_ROM_DIR \".\"");
            let _ = writeln!(s, "`endif");
        }
        let ports: Vec<&Net> = self.nets.iter().filter(|n| matches!(n.kind, NetKind::Input | NetKind::Output)).collect();
        let _ = writeln!(s, "module {} (", self.name);
        for (k, p) in ports.iter().enumerate() {
            let dir = if p.kind == NetKind::Input { "input " } else { "output" };
            let range = if p.width > 1 { format!("[{}:0] ", p.width - 1) } else { String::new() };
            let _ = writeln!(s, "    {dir} wire {range}{}{}", p.name, if k + 1 < ports.len() { "," } else { "" });
        }
        let _ = writeln!(s, ");");
        s += &self.body();
        let _ = writeln!(s, "endmodule");
        s
    }

    /// The module's declarations and cells without its ports (the
    /// datapath inside a template that declares the [`NetKind::Extern`] nets).
    pub fn body(&self) -> String {
        let nm = Names { m: self, consts: self.consts() };
        let mut s = String::new();
        let decl = |n: &Net| if n.width > 1 { format!("[{}:0] {}", n.width - 1, n.name) } else { n.name.clone() };
        for (i, n) in self.nets.iter().enumerate() {
            match n.kind {
                NetKind::Wire | NetKind::Shared if nm.consts[i].is_none() => {
                    let _ = writeln!(s, "    wire {};", decl(n));
                }
                NetKind::Probe => {
                    let _ = writeln!(s, "    wire {} /*verilator public_flat_rd*/;", decl(n));
                }
                NetKind::Reg => {
                    match self.cells.iter().find(|c| matches!(c, Cell::Rom { q, .. } | Cell::Ram { q, .. } if q.0 == i)) {
                        Some(Cell::Rom { words, init, .. }) => {
                            let attr = init.style.map_or(String::new(), |st| format!("(* rom_style = \"{st}\" *) "));
                            let _ = writeln!(s, "    {attr}reg [{}:0] {}_mem [0:{}];", n.width - 1, n.name, words.len().max(1) - 1);
                        }
                        Some(Cell::Ram { depth, .. }) => {
                            let style = ram_style(*depth, n.width);
                            let _ = writeln!(s, "    (* ram_style = \"{style}\" *) reg [{}:0] {}_mem [0:{}];", n.width - 1, n.name, depth.max(&1) - 1);
                        }
                        _ => {}
                    }
                    let _ = writeln!(s, "    reg {};", decl(n));
                }
                _ => {}
            }
        }
        let clk = self.clock.map(|c| self.get(c).name.clone()).unwrap_or_else(|| "clk".into());
        // Datapath registers (no reset) share one always block per enable.
        let mut groups: Vec<(Option<NetId>, Vec<String>)> = vec![];
        for c in &self.cells {
            match c {
                Cell::Const { .. } => {}
                Cell::Mul { y, a, b, .. } => {
                    let w = self.get(*y).width;
                    let _ = writeln!(s, "    assign {} = $signed({}) * $signed({});", self.get(*y).name, nm.ext(*a, w), nm.ext(*b, w));
                }
                Cell::Add { y, a, b } | Cell::Sub { y, a, b } => {
                    let w = self.get(*y).width;
                    let op = if matches!(c, Cell::Add { .. }) { "+" } else { "-" };
                    let _ = writeln!(s, "    assign {} = {} {op} {};", self.get(*y).name, nm.ext(*a, w), nm.ext(*b, w));
                }
                Cell::Compare { y, op, a, b } => {
                    let w = self.get(*a).width.max(self.get(*b).width) + 1;
                    let op = match op {
                        Cmp::Lt => "<",
                        Cmp::Ge => ">=",
                        Cmp::Gt => ">",
                        Cmp::Eq => "==",
                    };
                    let _ = writeln!(s, "    assign {} = $signed({}) {op} $signed({});", self.get(*y).name, nm.ext(*a, w), nm.ext(*b, w));
                }
                Cell::Mux { y, sel, one, zero } => {
                    let w = self.get(*y).width;
                    let _ = writeln!(s, "    assign {} = {} ? {} : {};", self.get(*y).name, nm.name(*sel), nm.ext(*one, w), nm.ext(*zero, w));
                }
                Cell::Slice { y, a, lsb } => {
                    let _ = writeln!(s, "    assign {} = {};", self.get(*y).name, nm.slice(*a, *lsb, self.get(*y).width));
                }
                Cell::Extend { y, a } => {
                    let w = self.get(*y).width;
                    let _ = writeln!(s, "    assign {} = {};", self.get(*y).name, nm.ext(*a, w));
                }
                Cell::Shl { y, a, s: sh } => {
                    let _ = writeln!(s, "    assign {} = {{{}, {sh}'d0}};", self.get(*y).name, nm.name(*a));
                }
                Cell::Concat { y, parts } => {
                    let _ = writeln!(s, "    assign {} = {{", self.get(*y).name);
                    let names: Vec<String> = parts.iter().rev().map(|p| nm.name(*p)).collect();
                    for (k, chunk) in names.chunks(8).enumerate() {
                        let last = (k + 1) * 8 >= names.len();
                        let _ = writeln!(s, "        {}{}", chunk.join(", "), if last { "" } else { "," });
                    }
                    let _ = writeln!(s, "    }};");
                }
                Cell::Reg { q, d, en, reset } => {
                    let w = self.get(*q).width;
                    let qn = &self.get(*q).name;
                    match reset {
                        Some((r, v)) => {
                            let body = match en {
                                Some(e) => format!("if ({}) {qn} <= {};", nm.name(*e), nm.ext(*d, w)),
                                None => format!("{qn} <= {};", nm.ext(*d, w)),
                            };
                            let _ = writeln!(s, "    always @(posedge {clk}) if ({}) {qn} <= {}; else {body}", nm.name(*r), lit(*v, w));
                        }
                        None => {
                            let line = format!("{qn} <= {};", nm.ext(*d, w));
                            match groups.iter_mut().find(|g| g.0 == *en) {
                                Some(g) => g.1.push(line),
                                None => groups.push((*en, vec![line])),
                            }
                        }
                    }
                }
                Cell::Rom { q, addr, en, words, elem_width, init } => {
                    let qn = &self.get(*q).name;
                    let aw = self.get(*addr).width;
                    match &init.file {
                        Some(f) => {
                            let _ = writeln!(s, "    initial $readmemh({{`QKHW_ROM_DIR, \"/{f}\"}}, {qn}_mem);");
                        }
                        None => {
                            let _ = writeln!(s, "    initial begin");
                            for (k, wd) in words.iter().enumerate() {
                                let _ = writeln!(s, "        {qn}_mem[{k}] = {};", packed_lit(wd, *elem_width));
                            }
                            let _ = writeln!(s, "    end");
                        }
                    }
                    let rd = format!("{qn} <= {qn}_mem[{}];", nm.ext(*addr, aw));
                    match en {
                        Some(e) => {
                            let _ = writeln!(s, "    always @(posedge {clk}) if ({}) {rd}", nm.name(*e));
                        }
                        None => {
                            let _ = writeln!(s, "    always @(posedge {clk}) {rd}");
                        }
                    }
                }
                Cell::Ram { q, raddr, ren, waddr, wdata, we, .. } => {
                    let qn = &self.get(*q).name;
                    let (aw, rw, dw) = (self.get(*waddr).width, self.get(*raddr).width, self.get(*q).width);
                    let _ = writeln!(s, "    always @(posedge {clk}) if ({}) {qn}_mem[{}] <= {};", nm.name(*we), nm.ext(*waddr, aw), nm.ext(*wdata, dw));
                    let _ = writeln!(s, "    always @(posedge {clk}) if ({}) {qn} <= {qn}_mem[{}];", nm.name(*ren), nm.ext(*raddr, rw));
                }
                Cell::Instance { module, name, params, conns } => {
                    let c: Vec<String> = conns.iter().map(|(p, n)| format!(".{p}({})", nm.name(*n))).collect();
                    if params.is_empty() {
                        let _ = writeln!(s, "    {module} {name} (");
                    } else {
                        let ps: Vec<String> = params.iter().map(|(k, v)| format!(".{k}({v})")).collect();
                        let _ = writeln!(s, "    {module} #({}) {name} (", ps.join(", "));
                    }
                    for (k, line) in c.iter().enumerate() {
                        let _ = writeln!(s, "        {line}{}", if k + 1 < c.len() { "," } else { "" });
                    }
                    let _ = writeln!(s, "    );");
                }
            }
        }
        for (en, lines) in &groups {
            match (en, lines.as_slice()) {
                (Some(e), [one]) => {
                    let _ = writeln!(s, "    always @(posedge {clk}) if ({}) {one}", nm.name(*e));
                }
                (None, [one]) => {
                    let _ = writeln!(s, "    always @(posedge {clk}) {one}");
                }
                _ => {
                    let _ = match en {
                        Some(e) => writeln!(s, "    always @(posedge {clk}) if ({}) begin", nm.name(*e)),
                        None => writeln!(s, "    always @(posedge {clk}) begin"),
                    };
                    for l in lines {
                        let _ = writeln!(s, "        {l}");
                    }
                    let _ = writeln!(s, "    end");
                }
            }
        }
        let mut unread = self.unread(&nm.consts);
        for n in &self.sinks {
            let name = self.get(*n).name.clone();
            if !unread.contains(&name) {
                unread.push(name);
            }
        }
        if !unread.is_empty() {
            let _ = writeln!(s, "    wire unused_nets = ^{{");
            for (k, chunk) in unread.chunks(8).enumerate() {
                let last = (k + 1) * 8 >= unread.len();
                let _ = writeln!(s, "        {}{}", chunk.join(", "), if last { "" } else { "," });
            }
            let _ = writeln!(s, "    }};");
        }
        s
    }
}

/// Elements of `w` bits each (element 0 in the low bits) as one Verilog
/// hexadecimal literal.
pub fn packed_lit(elems: &[i128], w: u32) -> String {
    let total = (elems.len() as u32 * w).max(1);
    let mut bits = vec![false; total as usize];
    for (k, &e) in elems.iter().enumerate() {
        for b in 0..w {
            bits[(k as u32 * w + b) as usize] = if b < 128 { (e >> b.min(127)) & 1 == 1 } else { e < 0 };
        }
    }
    let digits: String = bits
        .chunks(4)
        .rev()
        .map(|c| {
            let v = c.iter().enumerate().fold(0u32, |a, (i, &bit)| a | (u32::from(bit) << i));
            char::from_digit(v, 16).unwrap_or('0')
        })
        .collect();
    format!("{total}'h{digits}")
}

/// `v` as a Verilog literal of `w` bits (two's complement).
pub fn lit(v: i128, w: u32) -> String {
    let mask: u128 = if w >= 128 { u128::MAX } else { (1u128 << w) - 1 };
    format!("{w}'h{:x}", (v as u128) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_give_widths_and_the_writer_extends_operands() {
        let mut m = Module::new("t");
        let a = m.input("a", -8, 7, 4);
        let b = m.input("b", 0, 15, 4);
        let p = m.mul(a, b);
        assert_eq!((m.get(p).lo, m.get(p).hi, m.get(p).width), (-120, 105, 8));
        let s = m.add(p, a);
        m.output("y", s, 8);
        let v = m.verilog();
        // Every multiply is written signed (the low 8 bits are the same
        // either way), so that synthesis sees the operands' own widths.
        assert!(v.contains("assign n2 = $signed({{4{a[3]}}, a}) * $signed({4'd0, b});"), "{v}");
        assert!(v.contains("module t ("), "{v}");
        assert_eq!(m.resources().multipliers, 1);
        assert!(v.lines().all(|l| l.len() < 200));
    }

    /// A chain nothing reads is dropped with its nets; what an output or
    /// an instance reads stays, and an unread input is still named.
    #[test]
    fn pruning_drops_logic_nothing_reads() {
        let mut m = Module::new("p");
        let a = m.input("a", 0, 3, 2);
        let b = m.input("b", 0, 3, 2);
        let dead = m.add(a, b);
        let dead2 = m.shl(dead, 2);
        let kept = m.sub(a, b);
        let inst_in = m.mul(a, a);
        let q = m.instance_output(0, 15, 4);
        m.instance("sub", "u", vec![], vec![("x".into(), inst_in), ("y".into(), q)]);
        m.sink(q);
        m.output("y", kept, 3);
        assert_eq!(m.prune(), 2);
        let v = m.verilog();
        for n in [dead, dead2] {
            assert!(!v.contains(&m.get(n).name.to_string()), "{v}");
        }
        assert!(v.contains(&format!("assign {} = ", m.get(inst_in).name)), "{v}");
        assert_eq!(m.resources().adders, 1);
    }

    #[test]
    fn unread_nets_are_named_for_lint() {
        let mut m = Module::new("u");
        let a = m.input("a", 0, 3, 2);
        let _b = m.input("b", 0, 3, 2);
        m.output("y", a, 2);
        assert!(m.verilog().contains("wire unused_nets = ^{\n        b\n    };"));
    }
}
