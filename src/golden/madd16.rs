//! Dense layers and convolutions on 16-bit codes: pairs of products summed
//! into 32-bit lanes, 16 products per instruction with AVX2's `vpmaddwd`.
//!
//! **Exact by construction.** Two's-complement multiply-add is exact modulo
//! 2^32 whatever the partial sums do (`vpmaddwd`'s one overflowing case,
//! 2·(−2^15)·(−2^15) = 2^31, wraps to −2^31, which is the same residue), so
//! the result is the exact sum whenever the sum itself fits `i32`. The plan's
//! range analysis proves that ([`fits`]); nothing here inspects values. The
//! portable loop does the same arithmetic with wrapping `i32` operations, so
//! both paths give identical outputs (tested on codes at the edges).
//!
//! Layout: weights are stored as pairs `(w[2p][j], w[2p+1][j])`, outputs
//! padded to a multiple of 8 lanes; an input row is `2·pairs` `i16` codes
//! (an odd input count is padded with a zero). A convolution gathers each
//! output position's window into such a row (im2col, zeros for padding), so
//! one row kernel serves both.

use crate::plan::Geo;

/// Which instructions a kernel may use, decided once per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX2 with AVX-512 VNNI on 256-bit vectors (AVX512VL): `vpdpwssd`
    /// multiplies the pairs and adds them to the accumulator in one
    /// instruction (AMD Zen 4, Intel Ice Lake and later; the VEX-encoded
    /// AVX-VNNI of some Intel client CPUs without AVX-512 is not used).
    Vnni,
    /// AVX2 `vpmaddwd` + `vpaddd`.
    Avx2,
    /// Plain Rust, any CPU.
    Portable,
}

impl Isa {
    /// The best the CPU has (detected at run time, with FMA for the float
    /// kernels), unless `QKHW_NO_SIMD` is set (to check that the portable
    /// path gives the same outputs). Read once per process.
    pub fn detect() -> Isa {
        static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *ISA.get_or_init(|| {
            if std::env::var_os("QKHW_NO_SIMD").is_some_and(|v| !v.is_empty() && v != "0") {
                return Isa::Portable;
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return if std::arch::is_x86_feature_detected!("avx512vnni") && std::arch::is_x86_feature_detected!("avx512vl") { Isa::Vnni } else { Isa::Avx2 };
            }
            Isa::Portable
        })
    }

    /// How `debug` names the pair multiply-add.
    pub fn describe(self) -> &'static str {
        match self {
            Isa::Vnni => "AVX-512 VNNI vpdpwssd",
            Isa::Avx2 => "AVX2 vpmaddwd",
            Isa::Portable => "portable",
        }
    }
}

/// Whether the AVX2 paths of the golden model may run (see [`Isa::detect`]).
pub fn avx2() -> bool {
    Isa::detect() != Isa::Portable
}

/// Whether a linear step can run here: inputs and weights are 16-bit codes
/// and every output (bias included) fits `i32` — the last is all exactness
/// needs (see the module doc).
pub fn fits(x_lo: i128, x_hi: i128, w: &[i128], b: &[i128], y_lo: i128, y_hi: i128) -> bool {
    let i16s = |v: i128| (i16::MIN as i128..=i16::MAX as i128).contains(&v);
    let i32s = |v: i128| (i32::MIN as i128..=i32::MAX as i128).contains(&v);
    i16s(x_lo) && i16s(x_hi) && w.iter().all(|&v| i16s(v)) && b.iter().all(|&v| i32s(v)) && i32s(y_lo) && i32s(y_hi)
}

/// How many 16-bit digits write every code of `[lo, hi]` exactly, when
/// some number up to 4 does and each digit's dot product with any column
/// of `w` fits `i32` (`2^15 · Σ_i |w[i][j]| < 2^31`). Such a step of wide
/// inputs runs as that many 16-bit passes ([`Limbs`]).
pub fn limbs(lo: i128, hi: i128, w: &[i128], n_out: usize) -> Option<u32> {
    if !w.iter().all(|&v| (i16::MIN as i128..=i16::MAX as i128).contains(&v)) || lo < i64::MIN as i128 || hi > i64::MAX as i128 {
        return None;
    }
    let mut col = vec![0i128; n_out];
    for (k, &v) in w.iter().enumerate() {
        col[k % n_out.max(1)] += v.abs();
    }
    if col.iter().any(|&c| c << 15 >= 1 << 31) {
        return None;
    }
    // The top digit, x >> 16(k−1), must fit i16.
    let top_fits = |k: u32| [lo, hi].iter().all(|&x| (-(1 << 15)..1 << 15).contains(&(x >> (16 * (k - 1)))));
    (2..=4u32).find(|&k| top_fits(k))
}

/// A Dense step of wide codes as passes over 16-bit digits. The low
/// digits are the bit fields `(x >> 16k) & 0xffff`, taken as signed by
/// subtracting 2^15 (whose contribution, 2^15·2^(16k)·Σ_i w[i][j], is
/// folded into the bias); the top digit is `x >> 16(K−1)`, signed. So
/// `K` digits hold every code in `[−2^(16K−1), 2^(16K−1))`.
#[derive(Debug, Clone)]
pub struct Limbs {
    k: Weights16,
    digits: u32,
    bias: Vec<i64>,
}

impl Limbs {
    /// The caller has checked [`limbs`] (which gave `digits`).
    pub fn new(w: &[i128], b: &[i128], n_in: usize, n_out: usize, digits: u32) -> Limbs {
        let mut bias: Vec<i64> = b.iter().map(|&v| v as i64).collect();
        for (j, d) in bias.iter_mut().enumerate() {
            let col: i64 = (0..n_in).map(|i| w[i * n_out + j] as i64).sum();
            for k in 0..digits - 1 {
                *d = d.wrapping_add(col.wrapping_mul(1i64 << (15 + 16 * k)));
            }
        }
        Limbs { k: Weights16::new(w, &vec![0; n_out], n_in, n_out), digits, bias }
    }

    pub fn digits(&self) -> u32 {
        self.digits
    }

    /// Digit `d` of every code of `src` into `dst` (see the type's doc):
    /// bits 16d..16d+16, read as signed for the top digit and less 2^15
    /// (the top bit flipped) for the others. A logical shift gives the
    /// same bits as an arithmetic one, and vectorizes on AVX2.
    #[inline(always)]
    fn digits_into(&self, dst: &mut [i16], src: &[i64], d: u32) {
        let flip: u16 = if d + 1 == self.digits { 0 } else { 0x8000 };
        for (t, &v) in dst.iter_mut().zip(src) {
            *t = (((v as u64) >> (16 * d)) as u16 ^ flip) as i16;
        }
    }
}

/// A weight matrix `n_in × n_out` (row-major, as Dense and Conv store it)
/// in pair layout, with its bias.
#[derive(Debug, Clone)]
pub struct Weights16 {
    n_in: usize,
    n_out: usize,
    pairs: usize,
    /// `n_out` rounded up to 8 lanes.
    n_pad: usize,
    /// `w[(p·n_pad + j)·2 + t] = w[2p + t][j]`, zeros in the padding.
    w: Vec<i16>,
    b: Vec<i32>,
}

impl Weights16 {
    /// The caller has checked [`fits`]; values are truncated otherwise.
    pub fn new(w: &[i128], b: &[i128], n_in: usize, n_out: usize) -> Weights16 {
        let pairs = n_in.div_ceil(2);
        let n_pad = n_out.div_ceil(8) * 8;
        let mut wp = vec![0i16; pairs * n_pad * 2];
        for i in 0..n_in {
            for j in 0..n_out {
                wp[((i / 2) * n_pad + j) * 2 + i % 2] = w[i * n_out + j] as i16;
            }
        }
        let mut bp = vec![0i32; n_pad];
        for (d, &v) in bp.iter_mut().zip(b) {
            *d = v as i32;
        }
        Weights16 { n_in, n_out, pairs, n_pad, w: wp, b: bp }
    }

    /// Input codes per row, padded to pairs.
    pub fn row_len(&self) -> usize {
        self.pairs * 2
    }
}

/// `rows` rows of `n_in` codes (each fits `i16`) times `k`.
pub fn dense(x: &[i32], rows: usize, k: &Weights16, isa: Isa) -> Vec<i32> {
    let stride = k.row_len();
    let mut xs = vec![0i16; rows * stride];
    for (dst, src) in xs.chunks_exact_mut(stride).zip(x.chunks_exact(k.n_in)) {
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = v as i16;
        }
    }
    let mut y = vec![0i32; rows * k.n_out];
    rows_times(&xs, rows, k, &mut y, isa);
    y
}

/// `rows` rows of wide codes times the step's weights: one 16-bit pass
/// per digit, each exact in `i32` (see [`limbs`]), combined in wrapping
/// `i64`, which is exact because the result fits.
pub fn dense_limbs(x: &[i64], rows: usize, l: &Limbs, isa: Isa) -> Vec<i64> {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx2` is only chosen when the CPU has AVX2.
        Isa::Avx2 | Isa::Vnni => unsafe { avx2::dense_limbs(x, rows, l, isa) },
        _ => dense_limbs_body(x, rows, l, isa),
    }
}

/// The digit extraction and the sums are vectorized inside the AVX2
/// function that inlines this.
#[inline(always)]
fn dense_limbs_body(x: &[i64], rows: usize, l: &Limbs, isa: Isa) -> Vec<i64> {
    let k = &l.k;
    let stride = k.row_len();
    let mut y: Vec<i64> = l.bias.repeat(rows);
    let mut xs = vec![0i16; rows * stride];
    let mut yk = vec![0i32; rows * k.n_out];
    for d in 0..l.digits {
        for (dst, src) in xs.chunks_exact_mut(stride).zip(x.chunks_exact(k.n_in)) {
            l.digits_into(dst, src, d);
        }
        rows_times(&xs, rows, k, &mut yk, isa);
        for (t, &v) in y.iter_mut().zip(&yk) {
            *t = t.wrapping_add((v as i64) << (16 * d));
        }
    }
    y
}

/// A convolution's kernel (`(kh, kw, cin, cout)`) in pair layout, with a
/// zero channel after an odd `cin`, so that every tap is whole pairs and
/// [`conv`] reads the windows in place.
pub fn conv_weights(w: &[i128], b: &[i128], g: &Geo) -> Weights16 {
    let (taps, cp) = (g.kh * g.kw, g.cin + g.cin % 2);
    let mut wp = vec![0i128; taps * cp * g.cout];
    for t in 0..taps {
        for ci in 0..g.cin {
            let (from, to) = ((t * g.cin + ci) * g.cout, (t * cp + ci) * g.cout);
            wp[to..to + g.cout].copy_from_slice(&w[from..from + g.cout]);
        }
    }
    Weights16::new(&wp, b, taps * cp, g.cout)
}

/// A convolution of `m` samples (NHWC codes, each fits `i16`): each
/// sample's windows are gathered into rows, then multiplied.
pub fn conv(x: &[i32], m: usize, g: &Geo, k: &Weights16, isa: Isa) -> Vec<i32> {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx2` is only chosen when the CPU has AVX2.
        Isa::Avx2 | Isa::Vnni => unsafe { avx2::conv(x, m, g, k, isa) },
        _ => conv_body(x, m, g, k, isa),
    }
}

/// The window gather is vectorized inside the AVX2 function that inlines
/// this.
#[inline(always)]
fn conv_body(x: &[i32], m: usize, g: &Geo, k: &Weights16, isa: Isa) -> Vec<i32> {
    let positions = g.out_h * g.out_w;
    let (isz, osz, stride) = (g.in_h * g.in_w * g.cin, positions * g.cout, k.row_len());
    let mut y = vec![0i32; m * osz];
    // Channels per tap in the weights: `cin`, or `cin + 1` (see
    // [`conv_weights`]).
    let cp = k.n_in / (g.kh * g.kw).max(1);
    if cp.is_multiple_of(2) && (cp == g.cin || cp == g.cin + 1) {
        // Direct: each tap's channels are whole pairs, read in place from
        // the sample (converted to i16 once, a zero channel after an odd
        // count); taps in the padding are skipped (they add 0).
        let mut xs = vec![0i16; g.in_h * g.in_w * cp];
        let mut segs = Vec::with_capacity(g.kh * g.kw);
        for (src, ys) in x.chunks_exact(isz).zip(y.chunks_exact_mut(osz)).take(m) {
            for (d, s) in xs.chunks_exact_mut(cp).zip(src.chunks_exact(g.cin)) {
                for (t, &v) in d.iter_mut().zip(s) {
                    *t = v as i16;
                }
            }
            // Positions whose every tap column lies inside the input share
            // one segment list, shifted by sw·cp per position.
            let inside = |ox: usize| (0..g.kw).all(|kx| g.in_col(ox, kx).is_some());
            for oy in 0..g.out_h {
                let mut ox = 0;
                while ox < g.out_w {
                    let run = if inside(ox) { (ox..g.out_w).take_while(|&o| inside(o)).count() } else { 1 };
                    segs.clear();
                    for ky in 0..g.kh {
                        let Some(iy) = g.in_row(oy, ky) else { continue };
                        for kx in 0..g.kw {
                            let Some(ix) = g.in_col(ox, kx) else { continue };
                            segs.push(Seg { x: (iy * g.in_w + ix) * cp, p: (ky * g.kw + kx) * cp / 2, pairs: cp / 2 });
                        }
                    }
                    let y0 = (oy * g.out_w + ox) * g.cout;
                    times_rows(&xs, &segs, g.sw * cp, run, k, &mut ys[y0..y0 + run * g.cout], isa);
                    ox += run;
                }
            }
        }
        return y;
    }
    let mut rows = vec![0i16; positions * stride];
    let idx = window_index(g, stride);
    for (s, ys) in y.chunks_exact_mut(osz).enumerate().take(m) {
        windows(x, s, g, &idx, &mut rows, |v| v as i16);
        rows_times(&rows, positions, k, ys, isa);
    }
    y
}

/// [`conv`] of wide codes as passes over their 16-bit digits, as
/// [`dense_limbs`] does for a Dense: each sample's windows are gathered
/// once (codes, zeros for padding), then split into digits.
pub fn conv_limbs(x: &[i64], m: usize, g: &Geo, l: &Limbs, isa: Isa) -> Vec<i64> {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx2` is only chosen when the CPU has AVX2.
        Isa::Avx2 | Isa::Vnni => unsafe { avx2::conv_limbs(x, m, g, l, isa) },
        _ => conv_limbs_body(x, m, g, l, isa),
    }
}

#[inline(always)]
fn conv_limbs_body(x: &[i64], m: usize, g: &Geo, l: &Limbs, isa: Isa) -> Vec<i64> {
    let positions = g.out_h * g.out_w;
    let (osz, stride) = (positions * g.cout, l.k.row_len());
    let mut y: Vec<i64> = l.bias.repeat(m * positions);
    let mut rows = vec![0i64; positions * stride];
    let mut digits = vec![0i16; positions * stride];
    let mut yk = vec![0i32; osz];
    let idx = window_index(g, stride);
    for (s, ys) in y.chunks_exact_mut(osz).enumerate().take(m) {
        windows(x, s, g, &idx, &mut rows, |v| v);
        for d in 0..l.digits {
            l.digits_into(&mut digits, &rows, d);
            rows_times(&digits, positions, &l.k, &mut yk, isa);
            for (t, &v) in ys.iter_mut().zip(&yk) {
                *t = t.wrapping_add((v as i64) << (16 * d));
            }
        }
    }
    y
}

/// Where each value of a sample's im2col rows (`stride` values per output
/// position) comes from in the sample's input, `u32::MAX` for a zero
/// (padding, or the pad slot of an odd row). Made once per step and chunk,
/// so [`windows`] is one gather per value.
fn window_index(g: &Geo, stride: usize) -> Vec<u32> {
    assert!(g.in_h * g.in_w * g.cin < u32::MAX as usize, "a sample of 2^32 codes or more");
    let mut idx = vec![u32::MAX; g.out_h * g.out_w * stride];
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let row = &mut idx[(oy * g.out_w + ox) * stride..][..stride];
            for ky in 0..g.kh {
                let Some(iy) = g.in_row(oy, ky) else { continue };
                for kx in 0..g.kw {
                    let Some(ix) = g.in_col(ox, kx) else { continue };
                    for (c, d) in row[(ky * g.kw + kx) * g.cin..][..g.cin].iter_mut().enumerate() {
                        *d = ((iy * g.in_w + ix) * g.cin + c) as u32;
                    }
                }
            }
        }
    }
    idx
}

/// Sample `s`'s windows as rows of values (im2col) through `f`, by the
/// [`window_index`] of the step.
#[inline(always)]
fn windows<V: Copy, R: Copy + Default>(x: &[V], s: usize, g: &Geo, idx: &[u32], rows: &mut [R], f: impl Fn(V) -> R) {
    let isz = g.in_h * g.in_w * g.cin;
    let xs = &x[s * isz..(s + 1) * isz];
    for (d, &i) in rows.iter_mut().zip(idx) {
        *d = match xs.get(i as usize) {
            Some(&v) => f(v),
            None => R::default(),
        };
    }
}

/// A run of `pairs` input pairs starting at code `x` of an input buffer,
/// multiplied by the weight pairs from pair `p` on. A row of an im2col
/// matrix is one segment; an output position of a direct convolution is
/// one segment per kernel tap inside the input.
#[derive(Debug, Clone, Copy)]
struct Seg {
    x: usize,
    p: usize,
    pairs: usize,
}

/// `y[r] = b + xs[r] · w` for `rows` rows of `k.row_len()` codes.
fn rows_times(xs: &[i16], rows: usize, k: &Weights16, y: &mut [i32], isa: Isa) {
    times_rows(xs, &[Seg { x: 0, p: 0, pairs: k.pairs }], k.row_len(), rows, k, &mut y[..rows * k.n_out], isa);
}

/// `rows` outputs (`n_out` codes each, consecutive in `y`): output `r` is
/// `b + Σ_segments x · w` with every segment's input shifted by `r·delta`
/// codes (rows of an im2col matrix; neighbouring positions of a
/// convolution). Checks that everything read lies inside `xs` and the
/// weights (the AVX2 loop then reads unchecked).
fn times_rows(xs: &[i16], segs: &[Seg], delta: usize, rows: usize, k: &Weights16, y: &mut [i32], isa: Isa) {
    assert!(y.len() == rows * k.n_out);
    let shift = rows.saturating_sub(1) * delta;
    assert!(segs.iter().all(|s| s.x + shift + 2 * s.pairs <= xs.len() && s.p + s.pairs <= k.pairs));
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx2` is only chosen when the CPU has AVX2; the
        // segments were checked just above.
        Isa::Avx2 => unsafe { avx2::times_rows(xs, segs, delta, rows, k, y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Vnni` is only chosen when the CPU has AVX2,
        // AVX512-VNNI and AVX512VL; the segments were checked just above.
        Isa::Vnni => unsafe { vnni::times_rows(xs, segs, delta, rows, k, y) },
        _ => {
            for (r, yr) in y.chunks_exact_mut(k.n_out).enumerate() {
                portable_times_segments(xs, segs, r * delta, k, yr);
            }
        }
    }
}

fn portable_times_segments(xs: &[i16], segs: &[Seg], shift: usize, k: &Weights16, yr: &mut [i32]) {
    let mut acc = k.b.clone();
    for s in segs {
        for q in 0..s.pairs {
            let (x0, x1) = (xs[shift + s.x + 2 * q] as i32, xs[shift + s.x + 2 * q + 1] as i32);
            let wp = &k.w[(s.p + q) * k.n_pad * 2..][..k.n_pad * 2];
            for (a, w) in acc.iter_mut().zip(wp.chunks_exact(2)) {
                *a = a.wrapping_add(x0.wrapping_mul(w[0] as i32).wrapping_add(x1.wrapping_mul(w[1] as i32)));
            }
        }
    }
    yr.copy_from_slice(&acc[..k.n_out]);
}

/// The register-blocked row kernel, compiled once per instruction set:
/// `$madd` adds the pair products of `$x` and `$w` to `$a`.
#[cfg(target_arch = "x86_64")]
macro_rules! pair_kernel {
    ($features:literal, |$a:ident, $x:ident, $w:ident| $madd:expr) => {
    /// Outputs accumulate in registers over all segments: `NB` vectors of
    /// 8 lanes for each of `R` rows (`R·NB ≤ 8`), so one weight load feeds
    /// `R` rows and one broadcast pair feeds `NB` vectors; per product
    /// pair, one multiply-add (`$madd`). The caller has checked the
    /// segments.
    #[target_feature(enable = $features)]
    pub(super) unsafe fn times_rows(xs: &[i16], segs: &[Seg], delta: usize, rows: usize, k: &Weights16, y: &mut [i32]) {
        let mut j0 = 0;
        while j0 < k.n_pad {
            let nb = ((k.n_pad - j0) / 8).min(8);
            match nb {
                // SAFETY (each arm): the features are enabled on this
                // function; the caller checked the segments.
                1 => unsafe { rows_of::<6, 1>(xs, segs, delta, rows, k, j0, y) },
                2 => unsafe { rows_of::<5, 2>(xs, segs, delta, rows, k, j0, y) },
                3 => unsafe { rows_of::<3, 3>(xs, segs, delta, rows, k, j0, y) },
                4 => unsafe { rows_of::<3, 4>(xs, segs, delta, rows, k, j0, y) },
                5 => unsafe { rows_of::<2, 5>(xs, segs, delta, rows, k, j0, y) },
                6 => unsafe { rows_of::<2, 6>(xs, segs, delta, rows, k, j0, y) },
                7 => unsafe { rows_of::<1, 7>(xs, segs, delta, rows, k, j0, y) },
                _ => unsafe { rows_of::<1, 8>(xs, segs, delta, rows, k, j0, y) },
            }
            j0 += nb * 8;
        }
    }

    /// Lanes j0..j0 + 8·NB of every row, `R` rows at a time.
    #[target_feature(enable = $features)]
    #[inline]
    unsafe fn rows_of<const R: usize, const NB: usize>(xs: &[i16], segs: &[Seg], delta: usize, rows: usize, k: &Weights16, j0: usize, y: &mut [i32]) {
        let (mut r, full) = (0, rows / R * R);
        while r < full {
            // SAFETY: the features are enabled on this function; the
            // checked segments and lanes j0..j0 + 8·NB of the weights.
            unsafe { block::<R, NB>(xs, segs, r * delta, delta, k, j0, &mut y[r * k.n_out..]) };
            r += R;
        }
        while r < rows {
            // SAFETY: as above, one row.
            unsafe { block::<1, NB>(xs, segs, r * delta, delta, k, j0, &mut y[r * k.n_out..]) };
            r += 1;
        }
    }

    #[target_feature(enable = $features)]
    #[inline]
    unsafe fn block<const R: usize, const NB: usize>(xs: &[i16], segs: &[Seg], shift: usize, delta: usize, k: &Weights16, j0: usize, y: &mut [i32]) {
        debug_assert!(j0 + NB * 8 <= k.n_pad && y.len() >= (R - 1) * k.n_out + k.n_out.min(j0 + NB * 8));
        // SAFETY: every pointer below stays inside `k.b`, `k.w` (lanes
        // j0..j0 + 8·NB < n_pad of weight pairs p..p + pairs <= k.pairs)
        // and `xs` (codes shift + r·delta + x .. + 2·pairs), as the caller
        // checked.
        unsafe {
            let mut acc = [[_mm256_setzero_si256(); NB]; R];
            for row in acc.iter_mut() {
                for (v, a) in row.iter_mut().enumerate() {
                    *a = _mm256_loadu_si256(k.b.as_ptr().add(j0 + 8 * v) as *const __m256i);
                }
            }
            let w = k.w.as_ptr();
            for s in segs {
                let x = xs.as_ptr().add(shift + s.x);
                for q in 0..s.pairs {
                    let wp = w.add(((s.p + q) * k.n_pad + j0) * 2);
                    let xv: [__m256i; R] = std::array::from_fn(|r| _mm256_set1_epi32((x.add(r * delta + 2 * q) as *const i32).read_unaligned()));
                    for v in 0..NB {
                        let wv = _mm256_loadu_si256(wp.add(16 * v) as *const __m256i);
                        for (row, &xr) in acc.iter_mut().zip(&xv) {
                            row[v] = { let ($a, $x, $w) = (row[v], xr, wv); $madd };
                        }
                    }
                }
            }
            let n = (k.n_out - j0).min(NB * 8);
            for (r, row) in acc.iter().enumerate() {
                let yr = &mut y[r * k.n_out + j0..r * k.n_out + j0 + n];
                for (v, a) in row.iter().enumerate() {
                    let lanes = n.saturating_sub(8 * v).min(8);
                    if lanes == 8 {
                        // Whole vectors straight to the row: a copy through
                        // the stack, element by element, took 40% of the
                        // kernel's time on jet_tagger's first layer.
                        _mm256_storeu_si256(yr.as_mut_ptr().add(8 * v) as *mut __m256i, *a);
                    } else if lanes > 0 {
                        let mut out = [0i32; 8];
                        _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, *a);
                        yr[8 * v..8 * v + lanes].copy_from_slice(&out[..lanes]);
                    }
                }
            }
        }
    }
    };
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Isa, Limbs, Seg, Weights16};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2")]
    pub unsafe fn dense_limbs(x: &[i64], rows: usize, l: &Limbs, isa: Isa) -> Vec<i64> {
        super::dense_limbs_body(x, rows, l, isa)
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn conv(x: &[i32], m: usize, g: &crate::plan::Geo, k: &Weights16, isa: Isa) -> Vec<i32> {
        super::conv_body(x, m, g, k, isa)
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn conv_limbs(x: &[i64], m: usize, g: &crate::plan::Geo, l: &Limbs, isa: Isa) -> Vec<i64> {
        super::conv_limbs_body(x, m, g, l, isa)
    }

    pair_kernel!("avx2", |a, x, w| _mm256_add_epi32(a, _mm256_madd_epi16(x, w)));
}

/// The pair multiply-add with AVX-512 VNNI on 256-bit vectors: `vpdpwssd`
/// (wrapping, like the AVX2 pair; the saturating form is `vpdpwssds`).
#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::{Seg, Weights16};
    use std::arch::x86_64::*;

    pair_kernel!("avx2,avx512vnni,avx512vl", |a, x, w| _mm256_dpwssd_epi32(a, x, w));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact sum, in i128.
    fn reference(x: &[i128], rows: usize, n_in: usize, n_out: usize, w: &[i128], b: &[i128]) -> Vec<i128> {
        (0..rows)
            .flat_map(|r| (0..n_out).map(move |j| (r, j)))
            .map(|(r, j)| b[j] + (0..n_in).map(|i| x[r * n_in + i] * w[i * n_out + j]).sum::<i128>())
            .collect()
    }

    /// A small xorshift: deterministic test data without a dependency.
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    /// Every instruction set this CPU runs, so each kernel is checked.
    fn isas() -> Vec<Isa> {
        let mut v = vec![Isa::Portable];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            v.push(Isa::Avx2);
            if std::arch::is_x86_feature_detected!("avx512vnni") && std::arch::is_x86_feature_detected!("avx512vl") {
                v.push(Isa::Vnni);
            } else {
                eprintln!("note: this CPU has no AVX-512 VNNI: its kernel is not checked here");
            }
        } else {
            eprintln!("note: this CPU has no AVX2: only the portable kernels are checked here");
        }
        v
    }

    /// Every shape class (odd inputs, outputs not a multiple of 8, more
    /// than 64 outputs), random codes and the extreme codes: ±2^15 inputs
    /// and weights, where single pairs overflow i32 and only the final sum
    /// fits. Each is run only where [`fits`] holds, and equals the i128 sum.
    #[test]
    fn dense_equals_the_exact_sum_on_random_and_extreme_codes() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut checked = 0;
        for &(n_in, n_out) in &[(1, 1), (3, 5), (16, 64), (17, 70), (2, 130), (33, 8)] {
            for case in 0..6 {
                let rows = 3;
                let draw = |seed: &mut u64, bits: u32| -> i128 { (rng(seed) % (1 << bits)) as i128 - (1 << (bits - 1)) };
                let (x, w): (Vec<i128>, Vec<i128>) = match case {
                    // Extremes: every product is 2^30; pairs sum to 2^31.
                    0 => (vec![-32768; rows * n_in], (0..n_in * n_out).map(|i| if i % 2 == 0 { -32768 } else { 32767 }).collect()),
                    1 => (vec![32767; rows * n_in], vec![-32768; n_in * n_out]),
                    // A pair of −2^15·−2^15 wraps to −2^31; the next pair
                    // (−2^15·(2^15 − 1), twice) brings the sum back in range.
                    2 => (vec![-32768; rows * n_in], (0..n_in * n_out).map(|i| if (i / n_out / 2) % 2 == 0 { -32768 } else { 32767 }).collect()),
                    _ => ((0..rows * n_in).map(|_| draw(&mut seed, 16)).collect(), (0..n_in * n_out).map(|_| draw(&mut seed, 16)).collect()),
                };
                let b: Vec<i128> = (0..n_out).map(|j| if case == 3 { i32::MIN as i128 + 1 + j as i128 } else { draw(&mut seed, 20) }).collect();
                let want = reference(&x, rows, n_in, n_out, &w, &b);
                let (lo, hi) = (*want.iter().min().unwrap_or(&0), *want.iter().max().unwrap_or(&0));
                if !fits(-32768, 32767, &w, &b, lo, hi) {
                    continue;
                }
                let k = Weights16::new(&w, &b, n_in, n_out);
                let xi: Vec<i32> = x.iter().map(|&v| v as i32).collect();
                for isa in isas() {
                    let got: Vec<i128> = dense(&xi, rows, &k, isa).iter().map(|&v| v as i128).collect();
                    assert_eq!(got, want, "{n_in}x{n_out} case {case} {isa:?}");
                    checked += 1;
                }
            }
        }
        // The extreme cases with 1 and 2 inputs fit; the test must have run them.
        assert!(checked >= 20, "only {checked} cases fit");
    }

    /// Wide codes, up to the edges of what 2, 3 and 4 digits hold, equal
    /// the exact sum; `limbs` refuses what they cannot hold.
    #[test]
    fn dense_limbs_equal_the_exact_sum_at_the_range_edges() {
        let mut seed = 0x1234_5678u64;
        let (n_in, n_out, rows) = (5, 11, 4);
        let w: Vec<i128> = (0..n_in * n_out).map(|i| if i == 0 { -32768 } else { (rng(&mut seed) % 2001) as i128 - 1000 }).collect();
        let b: Vec<i128> = (0..n_out).map(|j| j as i128 * 977 - 5000).collect();
        // Each limb pass's sum must fit i32: keep Σ|w| per column < 2^16.
        assert!(limbs(0, 0, &[40000, 40000], 1).is_none() && limbs(0, 0, &[32767, 32767, 2], 1).is_none());
        let mut checked = 0;
        for &(lo, hi) in &[(-(1i128 << 31), (1 << 31) - 1), (-(1 << 47), (1 << 47) - 1), (-(1 << 63), (1 << 63) - 1), (0, 1 << 40)] {
            let Some(k) = limbs(lo, hi, &w, n_out) else { panic!("[{lo}, {hi}] has no digits") };
            let mut x: Vec<i128> = (0..rows * n_in).map(|_| lo + (rng(&mut seed) as i128) % (hi - lo + 1)).collect();
            x[0] = lo;
            x[1] = hi;
            x[2] = -1;
            let want = reference(&x, rows, n_in, n_out, &w, &b);
            let l = Limbs::new(&w, &b, n_in, n_out, k);
            let xi: Vec<i64> = x.iter().map(|&v| v as i64).collect();
            if want.iter().any(|&v| i64::try_from(v).is_err()) {
                continue;
            }
            for isa in isas() {
                let got: Vec<i128> = dense_limbs(&xi, rows, &l, isa).iter().map(|&v| v as i128).collect();
                assert_eq!(got, want, "[{lo}, {hi}] in {k} digits, {isa:?}");
                checked += 1;
            }
        }
        assert!(checked >= 3);
        assert_eq!(limbs(-(1 << 31), (1 << 31) - 1, &w, n_out), Some(2));
        assert_eq!(limbs(-(1 << 31) - 1, 0, &w, n_out), Some(3));
        assert_eq!(limbs(-(1 << 47), (1 << 47) - 1, &w, n_out), Some(3));
        assert_eq!(limbs(0, 1 << 47, &w, n_out), Some(4));
        assert_eq!(limbs(i64::MIN as i128 - 1, 0, &w, n_out), None);
    }

    #[test]
    fn fits_refuses_wide_codes_and_sums() {
        assert!(fits(-32768, 32767, &[1, -32768], &[0], i32::MIN as i128, i32::MAX as i128));
        assert!(!fits(-32769, 0, &[1], &[0], 0, 0));
        assert!(!fits(0, 1, &[32768], &[0], 0, 0));
        assert!(!fits(0, 1, &[1], &[0], 0, 1 << 31));
    }

    #[test]
    fn conv_equals_the_window_sum() {
        let g = Geo { in_h: 5, in_w: 4, cin: 3, out_h: 3, out_w: 2, cout: 9, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pad_top: 1, pad_left: 1 };
        let mut seed = 7u64;
        let m = 2;
        let x: Vec<i32> = (0..m * 5 * 4 * 3).map(|_| (rng(&mut seed) % 65536) as i32 - 32768).collect();
        let n_in = 27;
        let w: Vec<i128> = (0..n_in * 9).map(|_| (rng(&mut seed) % 256) as i128 - 128).collect();
        let b: Vec<i128> = (0..9).map(|j| j as i128 * 1000 - 4000).collect();
        let mut want = vec![];
        for s in 0..m {
            for oy in 0..3 {
                for ox in 0..2 {
                    for co in 0..9 {
                        let mut acc = b[co];
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (Some(iy), Some(ix)) = (g.in_row(oy, ky), g.in_col(ox, kx)) else { continue };
                                for ci in 0..3 {
                                    acc += x[s * 60 + (iy * 4 + ix) * 3 + ci] as i128 * w[((ky * 3 + kx) * 3 + ci) * 9 + co];
                                }
                            }
                        }
                        want.push(acc as i32);
                    }
                }
            }
        }
        // Gathered rows (odd cin as it is), and windows read in place (a
        // zero channel added).
        for k in [Weights16::new(&w, &b, n_in, 9), conv_weights(&w, &b, &g)] {
            for isa in isas() {
                assert_eq!(conv(&x, m, &g, &k, isa), want, "{isa:?}, {} inputs", k.n_in);
            }
        }
        // The same windows on codes 2^20 times larger (with padding, whose
        // low digits are not 0), in 16-bit digit passes.
        let wide: Vec<i64> = x.iter().map(|&v| (v as i64) << 20).collect();
        let digits = limbs(-(1 << 35), 1 << 35, &w, 9).expect("digits");
        let l = Limbs::new(&w, &b.iter().map(|&v| v << 20).collect::<Vec<_>>(), n_in, 9, digits);
        let want_wide: Vec<i64> = want.iter().map(|&v| (v as i64) << 20).collect();
        for isa in isas() {
            assert_eq!(conv_limbs(&wide, m, &g, &l, isa), want_wide, "{digits} digits, {isa:?}");
        }
    }
}
