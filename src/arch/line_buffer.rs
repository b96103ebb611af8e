//! The blocks of the streaming architecture that move data rather than
//! compute: the line buffer ([`line_buffer`]), which turns a stream of
//! pixels into a stream of windows, the repeater ([`repeater`]) of
//! nearest-neighbour upsampling, the dilator ([`dilator`]) of transposed
//! convolutions, and the collector ([`collector`]), which
//! gathers the beats of a sample into one parallel vector.
//!
//! Line buffers come in two kinds ([`LineBufferKind`]), picked per window
//! by the rate its reader takes windows at ([`line_buffer_kind`]).
//!
//! Serial line buffer. Input pixels (`cin` elements each) are written row by row
//! into a RAM of `B` row slots (B a power of two, at least the window's
//! height plus its stride, so the next rows arrive while a row of windows
//! is read); a row of input goes into slot `(rows received) mod B`. For
//! each output position in raster order the block waits until the window's
//! bottom-right pixel has arrived, reads its taps one per cycle, column by
//! column (a padding tap reads nothing and gives the pad value: zeros, a
//! max pooling's lowest code), into a shift
//! register, and hands the finished window to an output register with a
//! valid/ready handshake. Column reuse: where the stride is a whole number
//! `j` of dilated columns (`sw = j·dw`, `j < kw`; stride 1 on an undilated
//! kernel is `j = 1`), the next window of a row shares all but its last `j`
//! columns with the one before, which the shift register still holds: only
//! those `j·kh` taps are read, and shifting them in drops the first `j`
//! columns (the register holds the window column-major, so a column is
//! `kh` consecutive taps; the output wires it back to row-major). A 3×3
//! window at stride 1 takes 6 cycles instead of 12 but on the first
//! position of a row. Flow control is by counting:
//! - `held` = rows started − rows released; the input may start a row only
//!   while `held < B`, so it never overwrites a row a window still needs
//!   (rows are released when the output moves below them, and all of them
//!   at the end of an image);
//! - `ahead` = images the input has finished − images the output has
//!   finished (−1, 0 or 1): a window is ready when the input is ahead, or in
//!   the same image and past the window's last pixel; the input may not
//!   finish a second image ahead.
//!
//! No deadlock: a window needs at most `(kh − 1)·dh + 1` rows at once and
//! `B` exceeds that. Reset returns every counter to the start of an image.
//!
//! Sliding line buffer. It walks the padded map (the input with its padding
//! around it) in raster order, one position a cycle: at a position of the
//! input it takes the next pixel, at one of the padding it makes a zero.
//! A RAM holds one word per column of the map: that column's last
//! `(kh − 1)·dh` rows. The position's word is read as the position is
//! taken (a registered read), and the next cycle it is joined by the new
//! pixel into the column (the window's `kh` taps are every `dh`-th of it)
//! and written back without its oldest row. A shift register holds the
//! last `(kw − 1)·dw` columns; at the position of a window's bottom-right
//! tap (rows and columns counted by where the next window ends, so no
//! division) the window, in row-major order, goes to the output register.
//! Stride and dilation cost nothing; each padding position costs a cycle.
//! Consecutive positions read and write different columns, so the read
//! never sees a pending write; a map one column wide keeps its column in a
//! register instead. Before a window is complete the words hold the
//! previous image's rows, which no window reads.
//!
//! Flow control: the walk and its second stage advance together unless the
//! second stage holds a window the output register cannot take; the input
//! is ready when the walk advances at a position of the input. No image
//! counter is needed: the walk wraps to the next image's first position,
//! and reset returns it there. hls4ml's io_stream line buffers and FINN's
//! sliding-window generator also produce a window per input pixel; this
//! one also covers dilation, padding and crops in one block.

use super::netlist::{Cmp, Module, NetId, width_of};
use crate::plan::Geo;

/// A line buffer and what it costs.
#[derive(Debug, Clone)]
pub struct LineBuffer {
    pub module: Module,
    /// Cycles of the slowest window at full rate (serial: every tap, the
    /// wait and the hand-over; sliding: from its last pixel to its
    /// hand-over).
    pub cycles_per_window: usize,
    /// Cycles of an image at full rate (serial: the first window of each
    /// row reads every tap, the others the columns they do not share;
    /// sliding: one per position of the padded map).
    pub cycles_per_image: usize,
}

/// The columns a window reads that the window before it in the row does
/// not hold: `j` where the stride is `j` dilated columns (`sw = j·dw`,
/// `j < kw`), else every column.
pub fn new_columns(geo: &Geo) -> usize {
    if geo.sw.is_multiple_of(geo.dw) && geo.sw / geo.dw < geo.kw { geo.sw / geo.dw } else { geo.kw }
}

/// `q + step`, wrapping to `first` after `last` (when `wrap`).
fn stepped(m: &mut Module, q: NetId, step: i128, wrap: NetId, first: i128) -> NetId {
    let s = m.constant(step);
    let next = m.add(q, s);
    let f = m.constant(first);
    m.mux(wrap, f, next)
}

/// `q == v`.
fn is(m: &mut Module, q: NetId, v: i128) -> NetId {
    let c = m.constant(v);
    m.compare(Cmp::Eq, q, c)
}

/// Drive the register `q` (range `lo..=hi`) with `d`.
fn set(m: &mut Module, q: NetId, d: NetId) {
    let (lo, hi) = (m.get(q).lo, m.get(q).hi);
    let d = m.narrow(d, lo, hi);
    m.drive(q, d);
}

/// Step the counter `q` by one on `en`, back to 0 after `last`.
fn advance(m: &mut Module, q: NetId, en: NetId, last: NetId) {
    let d = stepped(m, q, 1, last, 0);
    let d = m.mux(en, d, q);
    set(m, q, d);
}

/// A fetch counter: `start` on `go`, `next` while fetching, else held.
fn fetch_step(m: &mut Module, q: NetId, fetching: NetId, go: NetId, start: NetId, next: NetId) {
    let d = m.mux(fetching, next, q);
    let d = m.mux(go, start, d);
    set(m, q, d);
}

/// The valid bit of an output register (reset to 0) and whether the
/// register is free to load: empty, or handed over this cycle.
fn output_register(m: &mut Module, m_ready: NetId, rst: NetId) -> (NetId, NetId) {
    let m_valid = m.reg_later(0, 1, None, Some((rst, 0)));
    let not_valid = m.not(m_valid);
    let free = m.or(not_valid, m_ready);
    (m_valid, free)
}

/// Drive an output register's valid: set on `load`, cleared when taken.
fn drive_valid(m: &mut Module, m_valid: NetId, load: NetId, m_ready: NetId) {
    let (zero, one) = (m.constant(0), m.constant(1));
    let stay = m.mux(m_ready, zero, m_valid);
    let d = m.mux(load, one, stay);
    set(m, m_valid, d);
}

/// The ports every stream block has: clock, reset, the input stream's
/// data (`in_bits`) and valid, and the output's ready (the block drives
/// `s_ready` and the `m_*` outputs).
fn stream_ports(m: &mut Module, in_bits: u32) -> (NetId, NetId, NetId, NetId) {
    m.clock_input("clk");
    let rst = m.input_bit("rst");
    let s_data = m.input("s_data", 0, 0, in_bits);
    let s_valid = m.input_bit("s_valid");
    let m_ready = m.input_bit("m_ready");
    (rst, s_data, s_valid, m_ready)
}

/// The output register of a stream block: `data` (`width` bits) and
/// `last` loaded on `load`, its valid driven, and the block's stream
/// outputs.
fn output_ports(m: &mut Module, s_ready: NetId, (m_valid, m_ready): (NetId, NetId), load: NetId, (data, width): (NetId, u32), last: NetId) {
    let m_data = m.bus_reg_later(width, Some(load), None);
    m.drive(m_data, data);
    let m_last = m.reg(last, Some(load));
    drive_valid(m, m_valid, load, m_ready);
    m.output("s_ready", s_ready, 1);
    m.output("m_data", m_data, width);
    m.output("m_valid", m_valid, 1);
    m.output("m_last", m_last, 1);
}

/// The counters of a raster walk over a `w × h` map, one step per `step`
/// (reset to the start): column `x`, row `y`, and whether each is at its
/// last.
struct Raster {
    x: NetId,
    y: NetId,
    x_last: NetId,
    y_last: NetId,
}

fn raster(m: &mut Module, w: usize, h: usize, step: NetId, rst: NetId) -> Raster {
    let rs = Some((rst, 0));
    let (w, h) = (w as i128, h as i128);
    let x = m.reg_later(0, w - 1, None, rs);
    let y = m.reg_later(0, h - 1, None, rs);
    let x_last = is(m, x, w - 1);
    let y_last = is(m, y, h - 1);
    advance(m, x, step, x_last);
    let row_done = m.and(step, x_last);
    advance(m, y, row_done, y_last);
    Raster { x, y, x_last, y_last }
}

/// The map a [`line_buffer`] walks, padding included: (height, width).
/// It spans the padding above and left of the input, the input, and below
/// and right of it as far as the last window reaches (a `valid` window that
/// stops short of the input's last rows still has them consumed).
pub fn padded_map(geo: &Geo) -> (usize, usize) {
    let h = (geo.pad_top + geo.in_h).max((geo.out_h - 1) * geo.sh + (geo.kh - 1) * geo.dh + 1);
    let w = (geo.pad_left + geo.in_w).max((geo.out_w - 1) * geo.sw + (geo.kw - 1) * geo.dw + 1);
    (h, w)
}

/// Row slots of the line buffer of `geo`: a power of two of at least the
/// window's height plus its stride.
fn row_slots(geo: &Geo) -> usize {
    ((geo.kh - 1) * geo.dh + 1 + geo.sh).next_power_of_two()
}

/// Which line buffer a window stage gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineBufferKind {
    /// One tap a cycle into a shift register, from a RAM one pixel wide:
    /// the least memory width, `j·kh + 3` cycles a window (`kh·kw + 3` at
    /// a row's start).
    Serial,
    /// One position of the padded map a cycle, from a RAM a column of
    /// `(kh − 1)·dh` pixels wide: a window a cycle.
    Sliding,
}

/// The line buffer a window stage whose reader takes a window every
/// `reader_cycles` cycles needs: the serial one where its windows of an
/// image take no longer than the reader's (its narrow RAM then costs less),
/// else the sliding one. A stage folded by its reuse factor takes a window
/// every R cycles. Measured with `qkhw gen MODEL --io stream
/// --reuse-factor R` (cycles an image, serial only → chosen): cnn_bn at
/// R = 1 263 → 64 and at R = 2 263 → 123; stream_cnn at R = 2 1,152 →
/// 428; ResNet-8 at R = 4 6,336 → 5,279, at R = 8 9,216 either way (all
/// sliding: 9,496, so the serial one is kept where it keeps up). A FIFO
/// before a sliding line buffer (which takes pixels in step with its
/// windows) shortened those intervals by 2 to 7% at 2 to 8 times the
/// latency, and filled wherever the input ran ahead: there is none.
pub fn line_buffer_kind(geo: &Geo, reader_cycles: usize) -> LineBufferKind {
    if serial_cycles_per_image(geo) <= reader_cycles * geo.out_h * geo.out_w { LineBufferKind::Serial } else { LineBufferKind::Sliding }
}

/// Cycles of an image through the serial line buffer at full rate: the
/// first window of each row reads every tap, the others the columns they
/// do not share, each plus the wait, the last tap and the hand-over.
fn serial_cycles_per_image(geo: &Geo) -> usize {
    let taps = geo.kh * geo.kw;
    geo.out_h * (taps + 3 + (geo.out_w - 1) * (new_columns(geo) * geo.kh + 3))
}

/// The line buffer of `geo` over pixels of `geo.cin` elements of `width`
/// bits; a padding tap gives `pad` in every element.
pub fn line_buffer(name: &str, geo: &Geo, width: u32, kind: LineBufferKind, pad: i128) -> LineBuffer {
    let mut m = Module::new(name);
    let what = match kind {
        LineBufferKind::Serial => "Serial line buffer (a tap a cycle)",
        LineBufferKind::Sliding => "Sliding line buffer (a position of the padded map a cycle)",
    };
    m.header.push(format!(
        "{what}: {}x{}x{} pixels in, one {}x{}x{} window per output position ({}x{}), stride {}x{}, dilation {}x{}, padding top {} left {}.",
        geo.in_h, geo.in_w, geo.cin, geo.kh, geo.kw, geo.cin, geo.out_h, geo.out_w, geo.sh, geo.sw, geo.dh, geo.dw, geo.pad_top, geo.pad_left
    ));
    let pix = geo.cin as u32 * width;
    let ports = stream_ports(&mut m, pix);
    let pad_pix = if pad == 0 {
        m.constant_at(0, pix)
    } else {
        m.header.push(format!("A padding tap gives {pad} in every element."));
        let one = m.constant_at(pad, width);
        m.concat(vec![one; geo.cin])
    };
    match kind {
        LineBufferKind::Serial => serial_line_buffer(m, geo, pix, ports, pad_pix),
        LineBufferKind::Sliding => sliding_line_buffer(m, geo, pix, ports, pad_pix),
    }
}

/// The RAM of the line buffer of `geo` over `width`-bit elements: (words,
/// bits per word). Serial: row slots × the row length rounded up to a
/// power of two, a pixel a word. Sliding: one word per column of the padded
/// map (rounded up to a power of two) holding that column's last
/// `(kh − 1)·dh` rows; (0, 0) where no RAM is needed (a window one row
/// high, or a map one column wide, whose column is a register).
pub fn line_buffer_ram(geo: &Geo, width: u32, kind: LineBufferKind) -> (usize, u32) {
    if kind == LineBufferKind::Serial {
        return (row_slots(geo) << geo.in_w.next_power_of_two().trailing_zeros(), geo.cin as u32 * width);
    }
    let rows = (geo.kh - 1) * geo.dh;
    let (_, w) = padded_map(geo);
    if rows == 0 || w == 1 {
        return (0, 0);
    }
    (w.next_power_of_two(), (rows * geo.cin) as u32 * width)
}

/// The RAM words of a [`fifo`] of `capacity` words (one more waits in its
/// output register; the RAM's words are a power of two).
pub fn fifo_ram(capacity: usize) -> (usize, u32) {
    let d = (capacity.max(2) - 1).max(1);
    let bits = d.next_power_of_two().trailing_zeros().max(1);
    (1 << bits, bits)
}

/// The sliding line buffer of `geo` in module `m` (its header and stream
/// ports made), over pixels of `pix` bits: one position of the padded map
/// a cycle, one window per output position (see the module's
/// documentation).
fn sliding_line_buffer(mut m: Module, geo: &Geo, pix: u32, (rst, s_data, s_valid, m_ready): (NetId, NetId, NetId, NetId), pad_pix: NetId) -> LineBuffer {
    let (ph, pw) = padded_map(geo);
    let rows = (geo.kh - 1) * geo.dh;
    let cols = (geo.kw - 1) * geo.dw + 1;
    let taps = geo.kh * geo.kw;
    let rs = |v: i128| Some((rst, v));

    // The pipeline advances unless its second stage holds a window the
    // output register cannot take.
    let (m_valid, out_free) = output_register(&mut m, m_ready, rst);
    let p1_valid = m.reg_later(0, 1, None, rs(0));
    let p1_emit = m.reg_later(0, 1, None, None);
    let pending = m.and(p1_valid, p1_emit);
    let not_free = m.not(out_free);
    let stuck = m.and(pending, not_free);
    let adv = m.not(stuck);

    // Stage 0: the walk over the padded map; an input pixel is taken at
    // the positions of the input, the pad value made at the padding's.
    // (The walk's counters step on `step`, which reads them: driven below.)
    let step = m.instance_output(0, 1, 1);
    let Raster { x: px, y: py, x_last: px_last, y_last: py_last } = raster(&mut m, pw, ph, step, rst);
    let within = |m: &mut Module, q: NetId, lo: usize, n: usize| {
        let a = m.constant(lo as i128);
        let b = m.constant((lo + n) as i128);
        let ge = m.compare(Cmp::Ge, q, a);
        let lt = m.compare(Cmp::Lt, q, b);
        m.and(ge, lt)
    };
    let in_rows = within(&mut m, py, geo.pad_top, geo.in_h);
    let in_cols = within(&mut m, px, geo.pad_left, geo.in_w);
    let need = m.and(in_rows, in_cols);
    let not_need = m.not(need);
    let have = m.or(not_need, s_valid);
    let stepping = m.and(adv, have);
    m.assign(step, stepping);
    let s_ready = m.and(adv, need);
    let row_end = m.and(step, px_last);
    let img_end = m.and(row_end, py_last);
    // Where windows end: the row `ybot` (and column `xbot`) of the next
    // window's bottom (right) taps, `oy` (`ox`) windows done before it, and
    // whether the map's windows are all done.
    let bottom = |m: &mut Module, span: usize, stride: usize, n: usize, step: NetId, restart: NetId, here: NetId| {
        let first = span as i128;
        let bot = m.reg_later(first, first + ((n - 1) * stride) as i128, None, rs(first));
        let o = m.reg_later(0, n as i128 - 1, None, rs(0));
        let done = m.reg_later(0, 1, None, rs(0));
        let at = m.compare(Cmp::Eq, here, bot);
        let not_done = m.not(done);
        let hit = m.and(at, not_done);
        let o_last = is(m, o, n as i128 - 1);
        let moved = m.and(step, hit);
        // Past the last window the counters stay (`done`) until restart.
        let d = stepped(m, bot, stride as i128, o_last, first);
        let d = m.mux(moved, d, bot);
        let fc = m.constant(first);
        let d = m.mux(restart, fc, d);
        set(m, bot, d);
        let d = stepped(m, o, 1, o_last, 0);
        let d = m.mux(moved, d, o);
        let zero = m.constant(0);
        let d = m.mux(restart, zero, d);
        set(m, o, d);
        let finish = m.and(moved, o_last);
        let one = m.constant(1);
        let d = m.mux(finish, one, done);
        let d = m.mux(restart, zero, d);
        set(m, done, d);
        (hit, o_last)
    };
    // A row's window flags advance at its end; a column's at each step.
    let (row_hit, oy_last) = bottom(&mut m, rows, geo.sh, geo.out_h, row_end, img_end, py);
    let (col_hit, ox_last) = bottom(&mut m, cols - 1, geo.sw, geo.out_w, step, row_end, px);
    let emit = m.and(row_hit, col_hit);
    let last_xy = m.and(oy_last, ox_last);
    let last = m.and(emit, last_xy);

    // Stage 1 registers (loaded when the pipeline advances).
    let pixel = m.bus_mux(need, s_data, pad_pix);
    let p1_pix = m.bus_reg_later(pix, Some(adv), None);
    m.drive(p1_pix, pixel);
    let d = m.mux(adv, step, p1_valid);
    set(&mut m, p1_valid, d);
    let emit_d = m.and(step, emit);
    let d = m.mux(adv, emit_d, p1_emit);
    set(&mut m, p1_emit, d);
    let p1_last = m.reg(last, Some(adv));
    let work = m.and(adv, p1_valid);

    // The column: the `rows` rows above from the column store, then the
    // pixel (oldest row in the low bits).
    let column = if rows == 0 {
        p1_pix
    } else {
        let store_bits = rows as u32 * pix;
        // (old rows, the net their write-back drives)
        let (old, write) = if pw == 1 {
            let r = m.bus_reg_later(store_bits, Some(work), None);
            (r, None)
        } else {
            let ab = pw.next_power_of_two().trailing_zeros().max(1);
            let raddr = m.low_bits(px, ab);
            let p1_px = m.reg(raddr, Some(adv));
            let wdata = m.instance_output(0, 0, store_bits);
            (m.ram(1 << ab, store_bits, p1_px, wdata, work, raddr, step), Some(wdata))
        };
        let full = m.concat(vec![old, p1_pix]);
        let kept = m.slice(full, pix, store_bits, 0, 0);
        // Write back the column's last `rows` rows.
        match write {
            Some(wdata) => m.assign(wdata, kept),
            None => m.drive(old, kept),
        }
        full
    };
    // The window's taps of this column (tap ky: row ky·dh of the column).
    let tap = |m: &mut Module, col: NetId, ky: usize| m.slice(col, (ky * geo.dh) as u32 * pix, pix, 0, 0);
    let this: Vec<NetId> = (0..geo.kh).map(|ky| tap(&mut m, column, ky)).collect();
    let this_col = m.concat(this);
    // The columns before it, oldest first: a shift register of
    // `(kw − 1)·dw` columns of taps.
    let regs: Vec<NetId> = (0..cols - 1).map(|_| m.bus_reg_later(geo.kh as u32 * pix, Some(work), None)).collect();
    for c in 0..cols.saturating_sub(1) {
        let d = if c + 2 < cols { regs[c + 1] } else { this_col };
        m.drive(regs[c], d);
    }
    let col_of = |c: usize| if c + 1 == cols { this_col } else { regs[c] };
    let mut window = vec![];
    for ky in 0..geo.kh {
        for kx in 0..geo.kw {
            let c = col_of(kx * geo.dw);
            window.push(m.slice(c, ky as u32 * pix, pix, 0, 0));
        }
    }
    let window = m.concat(window);
    let load = m.and(work, p1_emit);
    output_ports(&mut m, s_ready, (m_valid, m_ready), load, (window, taps as u32 * pix), p1_last);
    LineBuffer { module: m, cycles_per_window: 2, cycles_per_image: ph * pw }
}

/// The serial line buffer of `geo` in module `m` (its header and stream
/// ports made), over pixels of `pix` bits: one tap a cycle (see the
/// module's documentation).
fn serial_line_buffer(mut m: Module, geo: &Geo, pix: u32, (rst, s_data, s_valid, m_ready): (NetId, NetId, NetId, NetId), pad_pix: NetId) -> LineBuffer {
    let (h, w) = (geo.in_h as i128, geo.in_w as i128);
    let b = row_slots(geo);
    let bb = b.trailing_zeros();
    let wb = geo.in_w.next_power_of_two().trailing_zeros();
    let taps = geo.kh * geo.kw;
    let rs = Some((rst, 0));

    // Input side.
    let ix = m.reg_later(0, w - 1, None, rs);
    let iy = m.reg_later(0, h - 1, None, rs);
    let wslot = m.reg_later(0, b as i128 - 1, None, rs);
    let held = m.reg_later(-(h + b as i128 + 2), b as i128, None, rs);
    let ahead = m.reg_later(-1, 1, None, rs);
    let ix_first = is(&mut m, ix, 0);
    let ix_last = is(&mut m, ix, w - 1);
    let iy_last = is(&mut m, iy, h - 1);
    let bc = m.constant(b as i128);
    let full = m.compare(Cmp::Ge, held, bc);
    let no_row = m.and(ix_first, full);
    let img_end = m.and(ix_last, iy_last);
    let ahead_one = is(&mut m, ahead, 1);
    let no_img = m.and(img_end, ahead_one);
    let blocked = m.or(no_row, no_img);
    let s_ready = m.not(blocked);
    let s_fire = m.and(s_valid, s_ready);
    let row_in_done = m.and(s_fire, ix_last);
    let in_done = m.and(s_fire, img_end);
    let start_row = m.and(s_fire, ix_first);
    advance(&mut m, ix, s_fire, ix_last);
    advance(&mut m, iy, row_in_done, iy_last);
    let one = m.constant(1);
    let next_slot = m.add(wslot, one);
    let next_slot = m.low_bits(next_slot, bb);
    let d = m.mux(row_in_done, next_slot, wslot);
    set(&mut m, wslot, d);

    // Output side: state 0 wait, 1 fetch, 2 last tap, 3 hand over.
    let state = m.reg_later(0, 3, None, rs);
    let ox = m.reg_later(0, geo.out_w as i128 - 1, None, rs);
    let oy = m.reg_later(0, geo.out_h as i128 - 1, None, rs);
    let (pt, pl) = (geo.pad_top as i128, geo.pad_left as i128);
    let rtop = m.reg_later(
        -pt,
        (geo.out_h as i128 - 1) * geo.sh as i128 - pt,
        None,
        Some((rst, -pt)),
    );
    let cleft = m.reg_later(
        -pl,
        (geo.out_w as i128 - 1) * geo.sw as i128 - pl,
        None,
        Some((rst, -pl)),
    );
    let obase = m.reg_later(0, b as i128 - 1, None, rs);
    let released = m.reg_later(0, h, None, rs);
    let ky = m.reg_later(0, geo.kh as i128 - 1, None, rs);
    let kx = m.reg_later(0, geo.kw as i128 - 1, None, rs);
    let tr_hi =
        (geo.out_h as i128 - 1) * geo.sh as i128 - pt + (geo.kh as i128 - 1) * geo.dh as i128;
    let tc_hi =
        (geo.out_w as i128 - 1) * geo.sw as i128 - pl + (geo.kw as i128 - 1) * geo.dw as i128;
    let tr = m.reg_later(-pt, tr_hi, None, None);
    let tc = m.reg_later(-pl, tc_hi, None, None);
    let waiting = is(&mut m, state, 0);
    let fetching = is(&mut m, state, 1);
    let last_tap = is(&mut m, state, 2);
    let holding = is(&mut m, state, 3);

    // Is the window at (oy, ox) in the buffer?
    let kspan = m.constant((geo.kh as i128 - 1) * geo.dh as i128);
    let r_end = m.add(rtop, kspan);
    let hm1 = m.constant(h - 1);
    let r_over = m.compare(Cmp::Gt, r_end, hm1);
    let rmax = m.mux(r_over, hm1, r_end);
    let cspan = m.constant((geo.kw as i128 - 1) * geo.dw as i128);
    let c_end = m.add(cleft, cspan);
    let wm1 = m.constant(w - 1);
    let c_over = m.compare(Cmp::Gt, c_end, wm1);
    let cmax = m.mux(c_over, wm1, c_end);
    let zero = m.constant(0);
    let no_rows = m.compare(Cmp::Lt, rmax, zero);
    let no_cols = m.compare(Cmp::Lt, cmax, zero);
    let past_row = m.compare(Cmp::Gt, iy, rmax);
    let on_row = m.compare(Cmp::Eq, iy, rmax);
    let past_col = m.compare(Cmp::Gt, ix, cmax);
    let in_row = m.and(on_row, past_col);
    let mut pos_ok = m.or(no_rows, no_cols);
    pos_ok = m.or(pos_ok, past_row);
    pos_ok = m.or(pos_ok, in_row);
    let same_img = is(&mut m, ahead, 0);
    let ok_same = m.and(same_img, pos_ok);
    let ready = m.or(ahead_one, ok_same);
    let go = m.and(waiting, ready);

    // Fetch: one tap per cycle, column by column (ky steps fastest); a
    // window after the first of its row starts at its first new column.
    let j = new_columns(geo);
    let ox_first = is(&mut m, ox, 0);
    // (kx, column) a fetch starts at: (0, cleft) on a row's first window,
    // else offset by the kw − j columns the window shares.
    let zero0 = m.constant(0);
    let start = |m: &mut Module, first: NetId, step: usize| {
        if j == geo.kw {
            return first;
        }
        let off = m.constant(((geo.kw - j) * step) as i128);
        let shifted = m.add(first, off);
        m.mux(ox_first, first, shifted)
    };
    let kx_start = start(&mut m, zero0, 1);
    let tc_start = start(&mut m, cleft, geo.dw);
    let kx_last = is(&mut m, kx, geo.kw as i128 - 1);
    let ky_last = is(&mut m, ky, geo.kh as i128 - 1);
    let taps_done = m.and(kx_last, ky_last);
    let tr_ok_lo = m.compare(Cmp::Ge, tr, zero);
    let hc = m.constant(h);
    let tr_ok_hi = m.compare(Cmp::Lt, tr, hc);
    let tc_ok_lo = m.compare(Cmp::Ge, tc, zero);
    let wc = m.constant(w);
    let tc_ok_hi = m.compare(Cmp::Lt, tc, wc);
    let mut inside = m.and(tr_ok_lo, tr_ok_hi);
    inside = m.and(inside, tc_ok_lo);
    inside = m.and(inside, tc_ok_hi);
    let ren = m.and(fetching, inside);
    let slot_sum = m.add(obase, tr);
    let slot = m.low_bits(slot_sum, bb);
    let raddr = if wb == 0 {
        slot
    } else {
        let col = m.low_bits(tc, wb);
        m.concat(vec![col, slot])
    };
    let waddr = if wb == 0 {
        wslot
    } else {
        let col = m.low_bits(ix, wb);
        let ws = m.low_bits(wslot, bb);
        m.concat(vec![col, ws])
    };
    let q = m.ram(b << wb, pix, waddr, s_data, s_fire, raddr, ren);
    let shift = m.reg_reset(fetching, None, rst, 0);
    let outside = m.not(inside);
    let pad = m.reg(outside, None);
    let tap_in = m.bus_mux(pad, pad_pix, q);
    let regs: Vec<NetId> = (0..taps)
        .map(|_| m.bus_reg_later(pix, Some(shift), None))
        .collect();
    for t in 0..taps {
        let d = if t + 1 < taps { regs[t + 1] } else { tap_in };
        m.drive(regs[t], d);
    }
    // regs[kx·kh + ky] holds tap (ky, kx); the window is row-major.
    let row_major: Vec<NetId> = (0..geo.kh).flat_map(|ky| (0..geo.kw).map(move |kx| (ky, kx))).map(|(ky, kx)| regs[kx * geo.kh + ky]).collect();

    // Hand-over to the output register, and the next position.
    let (m_valid, out_free) = output_register(&mut m, m_ready, rst);
    let load = m.and(holding, out_free);
    let ox_last = is(&mut m, ox, geo.out_w as i128 - 1);
    let oy_last = is(&mut m, oy, geo.out_h as i128 - 1);
    let row_done = m.and(load, ox_last);
    let img_last = m.and(ox_last, oy_last);
    let out_done = m.and(load, img_last);
    let window = m.concat(row_major);
    let m_data = m.bus_reg_later(taps as u32 * pix, Some(load), None);
    m.drive(m_data, window);
    let m_last = m.reg(img_last, Some(load));
    drive_valid(&mut m, m_valid, load, m_ready);

    // State machine.
    let two = m.constant(2);
    let three = m.constant(3);
    let after_fetch = m.mux(taps_done, two, one);
    let mut next = m.mux(go, one, state);
    next = m.mux(fetching, after_fetch, next);
    next = m.mux(last_tap, three, next);
    next = m.mux(load, zero, next);
    set(&mut m, state, next);
    // Tap counters: set at `go`, stepped while fetching (ky every cycle,
    // kx and the column at the end of a column).
    let ky_next = stepped(&mut m, ky, 1, ky_last, 0);
    fetch_step(&mut m, ky, fetching, go, zero, ky_next);
    let kx_next = stepped(&mut m, kx, 1, kx_last, 0);
    let kx_step = m.mux(ky_last, kx_next, kx);
    fetch_step(&mut m, kx, fetching, go, kx_start, kx_step);
    let dw = m.constant(geo.dw as i128);
    let tc_next = m.add(tc, dw);
    let tc_step = m.mux(ky_last, tc_next, tc);
    fetch_step(&mut m, tc, fetching, go, tc_start, tc_step);
    let dh = m.constant(geo.dh as i128);
    let tr_next = m.add(tr, dh);
    let tr_step = m.mux(ky_last, rtop, tr_next);
    fetch_step(&mut m, tr, fetching, go, rtop, tr_step);
    // Position counters, on hand-over.
    advance(&mut m, ox, load, ox_last);
    advance(&mut m, oy, row_done, oy_last);
    let d = stepped(&mut m, cleft, geo.sw as i128, ox_last, -pl);
    let d = m.mux(load, d, cleft);
    set(&mut m, cleft, d);
    let d = stepped(&mut m, rtop, geo.sh as i128, oy_last, -pt);
    let d = m.mux(row_done, d, rtop);
    set(&mut m, rtop, d);
    let hb = m.constant(h);
    let base_next = m.add(obase, hb);
    let base_next = m.low_bits(base_next, bb);
    let d = m.mux(out_done, base_next, obase);
    set(&mut m, obase, d);
    // Rows released when a row of windows is done: those above the next
    // row's windows, or all of them at the end of the image.
    let sh = m.constant(geo.sh as i128);
    let nxt = m.add(rtop, sh);
    let neg = m.compare(Cmp::Lt, nxt, zero);
    let over = m.compare(Cmp::Gt, nxt, hb);
    let clamped = m.mux(neg, zero, nxt);
    let clamped = m.mux(over, hb, clamped);
    let target = m.mux(oy_last, hb, clamped);
    let amount = m.sub(target, released);
    let rel = m.mux(row_done, amount, zero);
    let d = m.mux(oy_last, zero, target);
    let d = m.mux(row_done, d, released);
    set(&mut m, released, d);
    let grow = m.add(held, start_row);
    let d = m.sub(grow, rel);
    set(&mut m, held, d);
    let up = m.add(ahead, in_done);
    let d = m.sub(up, out_done);
    set(&mut m, ahead, d);

    m.output("s_ready", s_ready, 1);
    m.output("m_data", m_data, taps as u32 * pix);
    m.output("m_valid", m_valid, 1);
    m.output("m_last", m_last, 1);
    LineBuffer {
        module: m,
        cycles_per_window: taps + 3,
        cycles_per_image: serial_cycles_per_image(geo),
    }
}

/// How many samples a [`collector`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectBuffers {
    /// The beats' registers are the output: the stream before it stops
    /// from a sample's last beat until the reader takes the sample.
    One,
    /// An output register besides: the next sample's beats (all but its
    /// last) shift in while the finished sample waits, so a reader that
    /// takes samples only at its own slots (a folded per-sample tail) does
    /// not stop the stream before it. With one buffer n08 of cross-check
    /// batch 8 took 160 cycles a sample at R = 2 beside an 80-cycle tail:
    /// its next sample missed each slot by a few cycles. It costs a
    /// sample's bits of flip-flops, so it is chosen where the timing
    /// simulation finds it faster.
    Two,
}

/// Gathers `beats` beats of `elems` elements of `width` bits into one
/// sample (beat 0 in the low bits: the C order of the tensor), in
/// `buffers` buffers. Either takes the next sample's first beat while the
/// finished one is being handed over.
pub fn collector(name: &str, beats: usize, elems: usize, width: u32, buffers: CollectBuffers) -> Module {
    let mut m = Module::new(name);
    m.header.push(format!(
        "Collector: {beats} beats of {elems} elements in, one sample of {} elements out{}.",
        beats * elems,
        match buffers {
            CollectBuffers::One => "",
            CollectBuffers::Two => "; the next sample's beats but its last are taken while the finished one waits",
        }
    ));
    let bits = elems as u32 * width;
    let (rst, s_data, s_valid, m_ready) = stream_ports(&mut m, bits);
    let (m_valid, free) = output_register(&mut m, m_ready, rst);
    let cnt = m.reg_later(0, beats as i128 - 1, None, Some((rst, 0)));
    let last = is(&mut m, cnt, beats as i128 - 1);
    // With one buffer a beat is taken while the output is free; with two,
    // only the last beat waits for it.
    let s_ready = match buffers {
        CollectBuffers::One => free,
        CollectBuffers::Two => {
            let not_last = m.not(last);
            m.or(not_last, free)
        }
    };
    let s_fire = m.and(s_valid, s_ready);
    advance(&mut m, cnt, s_fire, last);
    // A shift register of the sample's beats (beat 0 ends in regs[0]); with
    // two buffers, of all but the last, which goes with them to the output
    // register.
    let shifted = match buffers {
        CollectBuffers::One => beats,
        CollectBuffers::Two => beats - 1,
    };
    let regs: Vec<NetId> = (0..shifted)
        .map(|_| m.bus_reg_later(bits, Some(s_fire), None))
        .collect();
    for (k, &r) in regs.iter().enumerate() {
        m.drive(r, regs.get(k + 1).copied().unwrap_or(s_data));
    }
    let done = m.and(s_fire, last);
    let all = match buffers {
        CollectBuffers::One => m.concat(regs),
        CollectBuffers::Two => {
            let all = m.concat(regs.into_iter().chain([s_data]).collect());
            let out = m.bus_reg_later(beats as u32 * bits, Some(done), None);
            m.drive(out, all);
            out
        }
    };
    let one = m.constant(1);
    drive_valid(&mut m, m_valid, done, m_ready);
    m.output("s_ready", s_ready, 1);
    m.output("m_data", all, beats as u32 * bits);
    m.output("m_valid", m_valid, 1);
    m.output("m_last", one, 1);
    m
}

/// Per channel, the sum (or maximum) of the pixels in rows `rows` and
/// columns `cols` of each `in_h × in_w` sample of `c`-element pixels
/// (`width`-bit elements holding `lo..=hi`): one beat of `c` results per
/// sample, each as wide as its range needs, handed over at the sample's
/// last pixel.
#[allow(clippy::too_many_arguments)]
pub fn accumulator(
    name: &str,
    in_h: usize,
    in_w: usize,
    c: usize,
    width: u32,
    (lo, hi): (i128, i128),
    rows: (usize, usize),
    cols: (usize, usize),
    max: bool,
) -> Module {
    let mut m = Module::new(name);
    let n = (rows.1 - rows.0 + 1) * (cols.1 - cols.0 + 1);
    m.header.push(format!(
        "Accumulator: the per-channel {} of rows {}..{} and columns {}..{} of each {in_h}x{in_w}x{c} sample ({n} pixels), one beat per sample.",
        if max { "maximum" } else { "sum" },
        rows.0,
        rows.1,
        cols.0,
        cols.1
    ));
    let (rst, s_data, s_valid, m_ready) = stream_ports(&mut m, c as u32 * width);
    let (m_valid, s_ready) = output_register(&mut m, m_ready, rst);
    let s_fire = m.and(s_valid, s_ready);
    let Raster { x: ix, y: iy, x_last: ix_last, y_last: iy_last } = raster(&mut m, in_w, in_h, s_fire, rst);
    let img_end = m.and(ix_last, iy_last);
    let done = m.and(s_fire, img_end);
    let within = |m: &mut Module, q: NetId, (a, b): (usize, usize)| {
        let (ca, cb) = (m.constant(a as i128), m.constant(b as i128));
        let ge = m.compare(Cmp::Ge, q, ca);
        let le = m.compare(Cmp::Gt, cb, q);
        let eq = m.compare(Cmp::Eq, cb, q);
        let le = m.or(le, eq);
        m.and(ge, le)
    };
    let in_rows = within(&mut m, iy, rows);
    let in_cols = within(&mut m, ix, cols);
    let inside = m.and(in_rows, in_cols);
    let r0 = is(&mut m, iy, rows.0 as i128);
    let c0 = is(&mut m, ix, cols.0 as i128);
    let first = m.and(r0, c0);
    let take = m.and(s_fire, inside);
    let (alo, ahi) = super::stream::Stage::accumulated(lo, hi, n, max);
    let mut outs = vec![];
    for k in 0..c {
        let e = m.slice(s_data, k as u32 * width, width, lo, hi);
        let acc = m.reg_later(alo, ahi, Some(take), None);
        let next = if max {
            let gt = m.compare(Cmp::Gt, e, acc);
            m.mux(gt, e, acc)
        } else {
            m.add(acc, e)
        };
        let d = m.mux(first, e, next);
        set(&mut m, acc, d);
        // The result includes the last pixel when it lies in the window.
        let fin = m.mux(inside, d, acc);
        let fin = m.narrow(fin, alo, ahi);
        let o = m.reg(fin, Some(done));
        outs.push(o);
    }
    let one = m.constant(1);
    drive_valid(&mut m, m_valid, done, m_ready);
    let all = m.concat(outs);
    let bits = c as u32 * width_of(alo, ahi);
    m.output("s_ready", s_ready, 1);
    m.output("m_data", all, bits);
    m.output("m_valid", m_valid, 1);
    m.output("m_last", one, 1);
    m
}

/// The RAM of a [`repeater`] over `in_w`-pixel rows of `pix` bits: (words,
/// bits per word), two row slots of the row length rounded up to a power
/// of two.
pub fn repeater_ram(in_w: usize, pix: u32) -> (usize, u32) {
    (2 << in_w.next_power_of_two().trailing_zeros(), pix)
}

/// Nearest-neighbour upsampling (UpSampling1D/2D) of a stream of
/// `in_h × in_w` maps of `c`-element pixels of `width` bits: each pixel
/// given `uw` times, each row `uh` times, one beat a cycle at full rate.
///
/// Input rows go into two row slots of a RAM, so the next row arrives
/// while the output repeats the one before. The output reads each pixel
/// once per repetition of its row (a registered read) and hands it over
/// `uw` times. Flow control by counting:
/// - `held` = rows started − rows released (at most 2): the input starts a
///   row only while `held < 2`; the read of a row's last pixel in its last
///   repetition releases it;
/// - the output reads column `fx` of the oldest held row when that row is
///   complete (`held = 2`, or `held = 1` with the input between rows) or
///   the input has written past that column.
///
/// Rows follow one another across images, so no image counter is needed;
/// TLAST marks the beat of the last pixel of the last row's last
/// repetition. Reset returns every counter to the start of an image.
pub fn repeater(name: &str, in_h: usize, in_w: usize, c: usize, width: u32, (uh, uw): (usize, usize)) -> Module {
    let mut m = Module::new(name);
    m.header.push(format!(
        "Upsampling: {in_h}x{in_w}x{c} pixels in, each pixel given {uw} times and each row {uh} times ({}x{}x{c} out).",
        in_h * uh,
        in_w * uw
    ));
    let pix = c as u32 * width;
    let (rst, s_data, s_valid, m_ready) = stream_ports(&mut m, pix);
    let rs = Some((rst, 0));
    let (h, w) = (in_h as i128, in_w as i128);
    let wb = in_w.next_power_of_two().trailing_zeros();
    let one = m.constant(1);
    let zero = m.constant(0);
    let flip = |m: &mut Module, q: NetId| {
        let one = m.constant(1);
        let n = m.add(q, one);
        m.low_bits(n, 1)
    };

    // Input side: column `ix` of the row going into slot `wslot`.
    let ix = m.reg_later(0, w - 1, None, rs);
    let wslot = m.reg_later(0, 1, None, rs);
    let held = m.reg_later(0, 2, None, rs);
    let ix_first = is(&mut m, ix, 0);
    let ix_last = is(&mut m, ix, w - 1);
    let two = m.constant(2);
    let full = m.compare(Cmp::Ge, held, two);
    let blocked = m.and(ix_first, full);
    let s_ready = m.not(blocked);
    let s_fire = m.and(s_valid, s_ready);
    let start_row = m.and(s_fire, ix_first);
    let row_in_done = m.and(s_fire, ix_last);
    advance(&mut m, ix, s_fire, ix_last);
    let d = flip(&mut m, wslot);
    let d = m.mux(row_in_done, d, wslot);
    set(&mut m, wslot, d);

    // Read side: column `fx` of repetition `fr` of row `fy`, in slot
    // `rslot`; the pixel read (`qv`) is handed over `uw` times (`rep`).
    let fx = m.reg_later(0, w - 1, None, rs);
    let fr = m.reg_later(0, uh as i128 - 1, None, rs);
    let fy = m.reg_later(0, h - 1, None, rs);
    let rslot = m.reg_later(0, 1, None, rs);
    let qv = m.reg_later(0, 1, None, rs);
    let rep = m.reg_later(0, uw as i128 - 1, None, rs);
    let (m_valid, out_free) = output_register(&mut m, m_ready, rst);
    let load = m.and(qv, out_free);
    let rep_last = is(&mut m, rep, uw as i128 - 1);
    let q_done = m.and(load, rep_last);
    let no_q = m.not(qv);
    let q_free = m.or(no_q, q_done);
    let one_held = is(&mut m, held, 1);
    let past = m.compare(Cmp::Gt, ix, fx);
    let written = m.or(ix_first, past);
    let written = m.and(one_held, written);
    let avail = m.or(full, written);
    let ren = m.and(q_free, avail);
    let fx_last = is(&mut m, fx, w - 1);
    let fr_last = is(&mut m, fr, uh as i128 - 1);
    let fy_last = is(&mut m, fy, h - 1);
    let row_read = m.and(fx_last, fr_last);
    let release = m.and(ren, row_read);
    advance(&mut m, fx, ren, fx_last);
    let rep_done = m.and(ren, fx_last);
    advance(&mut m, fr, rep_done, fr_last);
    advance(&mut m, fy, release, fy_last);
    let d = flip(&mut m, rslot);
    let d = m.mux(release, d, rslot);
    set(&mut m, rslot, d);
    let grow = m.add(held, start_row);
    let d = m.sub(grow, release);
    set(&mut m, held, d);

    let addr = |m: &mut Module, col: NetId, slot: NetId| {
        if wb == 0 {
            slot
        } else {
            let col = m.low_bits(col, wb);
            m.concat(vec![col, slot])
        }
    };
    let waddr = addr(&mut m, ix, wslot);
    let raddr = addr(&mut m, fx, rslot);
    let (words, _) = repeater_ram(in_w, pix);
    let q = m.ram(words, pix, waddr, s_data, s_fire, raddr, ren);
    let last_read = m.and(row_read, fy_last);
    let qlast = m.reg(last_read, Some(ren));

    // Hand-over.
    let stay = m.mux(q_done, zero, qv);
    let d = m.mux(ren, one, stay);
    set(&mut m, qv, d);
    advance(&mut m, rep, load, rep_last);
    let end = m.and(qlast, rep_last);
    output_ports(&mut m, s_ready, (m_valid, m_ready), load, (q, pix), end);
    m
}

/// One beat of `beats · elems` elements of `width` bits given as `beats`
/// beats of `elems` (beat 0 the low bits): a shift register loaded with
/// the sample and shifted down a beat at each transfer, so the output is a
/// register's low bits (no wide multiplexer). It takes the next sample as
/// the last beat of one leaves.
pub fn splitter(name: &str, beats: usize, elems: usize, width: u32) -> Module {
    let mut m = Module::new(name);
    m.header.push(format!("Splitter: one sample of {} elements in, {beats} beats of {elems} out.", beats * elems));
    let bb = elems as u32 * width;
    let total = beats as u32 * bb;
    let (rst, s_data, s_valid, m_ready) = stream_ports(&mut m, total);
    let rs = Some((rst, 0));
    let full = m.reg_later(0, 1, None, rs);
    let cnt = m.reg_later(0, beats as i128 - 1, None, rs);
    let m_fire = m.and(full, m_ready);
    let last = is(&mut m, cnt, beats as i128 - 1);
    let leaving = m.and(m_fire, last);
    let empty = m.not(full);
    let s_ready = m.or(empty, leaving);
    let s_fire = m.and(s_valid, s_ready);
    let buf = m.bus_reg_later(total, None, None);
    let shifted = if beats > 1 {
        let high = m.slice(buf, bb, total - bb, 0, 0);
        let zeros = m.constant_at(0, bb);
        m.concat(vec![high, zeros])
    } else {
        buf
    };
    let d = m.bus_mux(m_fire, shifted, buf);
    let d = m.bus_mux(s_fire, s_data, d);
    m.drive(buf, d);
    let step = stepped(&mut m, cnt, 1, last, 0);
    let d = m.mux(m_fire, step, cnt);
    let zero = m.constant(0);
    let d = m.mux(s_fire, zero, d);
    set(&mut m, cnt, d);
    let one = m.constant(1);
    let stay = m.mux(leaving, zero, full);
    let d = m.mux(s_fire, one, stay);
    set(&mut m, full, d);
    let low = m.slice(buf, 0, bb, 0, 0);
    m.output("s_ready", s_ready, 1);
    m.output("m_data", low, bb);
    m.output("m_valid", full, 1);
    m.output("m_last", last, 1);
    m
}

/// Zero insertion of a transposed convolution with strides `(sh, sw)`:
/// each `in_h × in_w` map of `c`-element pixels of `width` bits given as a
/// `((in_h − 1)·sh + 1) × ((in_w − 1)·sw + 1)` map holding input pixel
/// `(iy, ix)` at `(iy·sh, ix·sw)` and zeros between, so that an ordinary
/// convolution (stride 1, the kernel flipped) over it computes the
/// transposed one. No memory: a zero needs no input, and a pixel passes
/// from the input to the output register. One beat a cycle at full rate.
pub fn dilator(name: &str, in_h: usize, in_w: usize, c: usize, width: u32, (sh, sw): (usize, usize)) -> Module {
    let (zh, zw) = ((in_h - 1) * sh + 1, (in_w - 1) * sw + 1);
    let mut m = Module::new(name);
    m.header.push(format!("Zero insertion: {in_h}x{in_w}x{c} pixels in, {zh}x{zw}x{c} out (strides {sh}x{sw})."));
    let pix = c as u32 * width;
    let (rst, s_data, s_valid, m_ready) = stream_ports(&mut m, pix);
    let rs = Some((rst, 0));
    let zx = m.reg_later(0, zw as i128 - 1, None, rs);
    let zy = m.reg_later(0, zh as i128 - 1, None, rs);
    let px = m.reg_later(0, sw as i128 - 1, None, rs);
    let py = m.reg_later(0, sh as i128 - 1, None, rs);
    let (m_valid, out_free) = output_register(&mut m, m_ready, rst);
    let px0 = is(&mut m, px, 0);
    let py0 = is(&mut m, py, 0);
    let at_pixel = m.and(px0, py0);
    let s_ready = m.and(out_free, at_pixel);
    let s_fire = m.and(s_valid, s_ready);
    let no_pixel = m.not(at_pixel);
    let zero_out = m.and(out_free, no_pixel);
    let load = m.or(s_fire, zero_out);
    let zx_last = is(&mut m, zx, zw as i128 - 1);
    let zy_last = is(&mut m, zy, zh as i128 - 1);
    let px_last = is(&mut m, px, sw as i128 - 1);
    let py_last = is(&mut m, py, sh as i128 - 1);
    advance(&mut m, zx, load, zx_last);
    let wrap = m.or(zx_last, px_last);
    advance(&mut m, px, load, wrap);
    let row_done = m.and(load, zx_last);
    advance(&mut m, zy, row_done, zy_last);
    let wrap = m.or(zy_last, py_last);
    advance(&mut m, py, row_done, wrap);
    let zero_pix = m.constant(0);
    let data = m.bus_mux(at_pixel, s_data, zero_pix);
    let end = m.and(zx_last, zy_last);
    output_ports(&mut m, s_ready, (m_valid, m_ready), load, (data, pix), end);
    m
}

/// A factor per output position of `geo` (`values[oy·out_w + ox]`, in
/// `lo..=hi`), given `c` times in the beat of that position: what a
/// `same`-padded average pooling multiplies each window's sum by (its
/// count of pixels inside the map varies at the border). It reads the
/// window stream (one beat per position; `in_bits` bits it ignores) and
/// gives one beat for each. A value depends only on how many of the
/// window's rows (`rows(oy)`) and columns (`cols(ox)`) fall inside the
/// map, so the hardware picks the row count among the border rows, the
/// column count among the border columns, then the value among the few
/// (rows, columns) pairs: short compare chains, not one per position.
pub fn per_position(name: &str, geo: &Geo, values: &[i128], c: usize, in_bits: u32, (lo, hi): (i128, i128)) -> Module {
    let mut m = Module::new(name);
    m.header.push(format!(
        "Per-position factor: for each {}x{} output position, {c} copies of its factor ({} distinct).",
        geo.out_h,
        geo.out_w,
        {
            let mut v = values.to_vec();
            v.sort_unstable();
            v.dedup();
            v.len()
        }
    ));
    let (rst, _, s_valid, m_ready) = stream_ports(&mut m, in_bits);
    let (m_valid, s_ready) = output_register(&mut m, m_ready, rst);
    let s_fire = m.and(s_valid, s_ready);
    let Raster { x: ox, y: oy, x_last: ox_last, y_last: oy_last } = raster(&mut m, geo.out_w, geo.out_h, s_fire, rst);
    // The count of inside rows (columns) of each output row (column): the
    // most common one, replaced at the rows (columns) where it differs.
    let class = |m: &mut Module, q: NetId, counts: &[usize]| {
        let mut common = counts.to_vec();
        common.sort_unstable();
        let most = common.iter().copied().max_by_key(|&v| common.iter().filter(|&&x| x == v).count()).unwrap_or(0);
        let mut d = m.constant(most as i128);
        for (j, &v) in counts.iter().enumerate().filter(|(_, v)| **v != most) {
            let here = is(m, q, j as i128);
            let cv = m.constant(v as i128);
            d = m.mux(here, cv, d);
        }
        d
    };
    let rows: Vec<usize> = (0..geo.out_h).map(|oy| (0..geo.kh).filter(|&ky| geo.in_row(oy, ky).is_some()).count()).collect();
    let cols: Vec<usize> = (0..geo.out_w).map(|ox| (0..geo.kw).filter(|&kx| geo.in_col(ox, kx).is_some()).count()).collect();
    let r = class(&mut m, oy, &rows);
    let cc = class(&mut m, ox, &cols);
    // The value of each (rows, columns) pair, the last pair's by default.
    let mut pairs: Vec<(usize, usize, i128)> = vec![];
    for (oy, &nr) in rows.iter().enumerate() {
        for (ox, &nc) in cols.iter().enumerate() {
            let v = values[oy * geo.out_w + ox];
            if !pairs.iter().any(|p| p.0 == nr && p.1 == nc) {
                pairs.push((nr, nc, v));
            }
        }
    }
    let mut value = m.constant(pairs.last().map_or(0, |p| p.2));
    for &(nr, nc, v) in pairs.iter().rev().skip(1) {
        let a = is(&mut m, r, nr as i128);
        let b = is(&mut m, cc, nc as i128);
        let here = m.and(a, b);
        let cv = m.constant(v);
        value = m.mux(here, cv, value);
    }
    let value = m.narrow(value, lo, hi);
    let w = width_of(lo, hi);
    let copies = m.concat(vec![value; c]);
    let end = m.and(ox_last, oy_last);
    output_ports(&mut m, s_ready, (m_valid, m_ready), s_fire, (copies, c as u32 * w), end);
    m
}

/// A first-word-fall-through FIFO holding `capacity` words of `width` bits
/// (all but one in a RAM, the last in its output register): what balances
/// the branches of a residual block. `capacity` is at least 2.
pub fn fifo(name: &str, capacity: usize, width: u32) -> Module {
    let mut m = Module::new(name);
    let depth = capacity.max(2) - 1;
    m.header.push(format!(
        "FIFO: capacity {} words of {width} bits ({depth} in a RAM, one in the output register).",
        depth + 1
    ));
    let (rst, s_data, s_valid, m_ready) = stream_ports(&mut m, width);
    let rs = Some((rst, 0));
    let d = depth.max(1);
    let (_, bits) = fifo_ram(capacity);
    let held = m.reg_later(0, d as i128, None, rs);
    let wr = m.reg_later(0, (1i128 << bits) - 1, None, rs);
    let rd = m.reg_later(0, (1i128 << bits) - 1, None, rs);
    let m_valid = m.reg_later(0, 1, None, rs);
    let dc = m.constant(d as i128);
    let s_ready = m.compare(Cmp::Lt, held, dc);
    let push = m.and(s_valid, s_ready);
    let zero = m.constant(0);
    let some = m.compare(Cmp::Gt, held, zero);
    let not_valid = m.not(m_valid);
    let free = m.or(not_valid, m_ready);
    let issue = m.and(some, free);
    let one = m.constant(1);
    let wnext = m.add(wr, one);
    let wnext = m.low_bits(wnext, bits);
    let dw = m.mux(push, wnext, wr);
    set(&mut m, wr, dw);
    let rnext = m.add(rd, one);
    let rnext = m.low_bits(rnext, bits);
    let dr = m.mux(issue, rnext, rd);
    set(&mut m, rd, dr);
    let up = m.add(held, push);
    let dh = m.sub(up, issue);
    set(&mut m, held, dh);
    drive_valid(&mut m, m_valid, issue, m_ready);
    let waddr = m.low_bits(wr, bits);
    let raddr = m.low_bits(rd, bits);
    let q = m.ram(1 << bits, width, waddr, s_data, push, raddr, issue);
    // The words held (RAM and output register) and whether it refuses
    // input: the verification harness reports the largest occupancy, and
    // names the full FIFO when the design stalls.
    let level = m.add(held, m_valid);
    m.probe("level", level);
    let full = m.not(s_ready);
    m.probe("full", full);
    m.output("s_ready", s_ready, 1);
    m.output("m_data", q, width);
    m.output("m_valid", m_valid, 1);
    m.output("m_last", zero, 1);
    m
}
