//! `qkhw rom --layout folded --reuse-factor R`: the weight ROMs of the
//! folded architecture, word for word what the generated Verilog holds
//! (the same [`crate::arch::folded::rom_words`] fills both). Each word is
//! the weights of one cycle: for output lane `l` and input lane `p`,
//! element `l·P_in + p` (element 0 in the low bits), each `width` bits of
//! two's complement at the layer's weight fraction (unsigned where no
//! weight of the layer is negative: the manifest's `signed`).

use std::path::Path;

use serde::Serialize;

use crate::arch::folded::{rom_words, Fold};
use crate::arch::schedule::schedule;
use crate::error::{Error, Result};
use crate::passes::hw_tensors::HwWeight;
use crate::plan::{Plan, StepOp};

/// One folded ROM in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct FoldedRom {
    pub layer: String,
    /// The Verilog block holding it: `fold` (the layer's), or
    /// `rec_cell{d}_fold{j}` (a recurrent cell's projection of its state).
    pub block: String,
    pub file: String,
    /// Words (cycles of one row) and bits per word.
    pub depth: usize,
    pub word_width: usize,
    /// Bits per weight, and its fraction: value = code × 2^-frac.
    pub width: u32,
    /// Two's complement codes; unsigned where no weight is negative (a
    /// layer of positive powers of two: 256 in 9 bits).
    pub signed: bool,
    pub frac: i32,
    pub reuse_factor: usize,
    pub lanes_out: usize,
    pub lanes_in: usize,
    /// Output positions computed at once (`parallelization_factor`): that
    /// many copies of the lanes read each word.
    pub rows_at_once: usize,
    pub groups: usize,
    pub chunks: usize,
    /// The weight matrix the ROM holds, `n_in × n_out` (`w[i·n_out + j]`,
    /// input i, output j): a Dense's kernel, a convolution's kernel as
    /// (taps·C_in) × C_out, a depthwise one's per channel; a recurrent
    /// layer's blocks hold its input kernel (`fold`) and slices of its
    /// recurrent kernel (`rec_cell{d}_fold{j}`: `units` rows, the gates'
    /// columns that block multiplies).
    pub n_in: usize,
    pub n_out: usize,
    pub order: String,
    /// Where the matrix comes from: the tensor of the layer (as `qkhw
    /// rom` names it) that holds `w`.
    pub tensor: Option<TensorOrigin>,
}

/// The stored tensor a folded ROM's matrix comes from. Viewed as a
/// matrix of `n_in` rows (a Dense's `(n_in, n_out)` kernel, a
/// convolution's `(kh, kw, C_in, C_out)` as `(kh·kw·C_in) × C_out`, a
/// depthwise one's `(kh, kw, C, multiplier)` as `(kh·kw) × (C·multiplier)`,
/// a recurrent kernel as `units × gates·units`), `w[i·n_out + j]` is its
/// element `(i, columns[j])`: every column in order where `columns` is
/// absent, some of the gates' columns for a recurrent cell's block.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TensorOrigin {
    /// `kernel`, `depthwise_kernel`, `pointwise_kernel`,
    /// `recurrent_kernel`, `backward/kernel`, …
    pub layer: String,
    pub name: String,
    pub shape: Vec<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<usize>>,
    /// `value`: `code × 2^-frac` is the tensor's value, scale applied (what
    /// `qkhw rom`'s manifest computes); `code`: the ROM holds the tensor's
    /// codes, and its per-channel scale is applied after the product.
    pub equal_in: &'static str,
}

/// The tensor of `layer` (or of the separable layer whose depthwise
/// step it is) among `tensors` whose columns hold the `n_in × n_out`
/// matrix `w` (value `w[i] × 2^-frac`), compared by value, else by code.
/// Equal columns are interchangeable: any of them gives the same words.
fn origin(tensors: &[HwWeight], layer: &str, w: &[i128], n_in: usize, frac: i32) -> Option<TensorOrigin> {
    let n_out = w.len() / n_in.max(1);
    let owner = layer.strip_suffix("_depthwise");
    let candidates = || {
        tensors.iter().filter(move |t| (t.layer == layer || Some(t.layer.as_str()) == owner) && t.tensor.ends_with("kernel") && !t.codes.is_empty() && t.codes.len().is_multiple_of(n_in))
    };
    let scale = crate::fxp::pow2(-frac);
    for by_value in [true, false] {
        let same = |t: &HwWeight, k: usize, c: i128| if by_value { t.value(k) == c as f64 * scale } else { t.signs.is_empty() && t.codes[k] as i128 == c };
        let equal_in = if by_value { "value" } else { "code" };
        for t in candidates() {
            let cols = t.codes.len() / n_in;
            let column_is = |j: usize, c: usize| (0..n_in).all(|i| same(t, i * cols + c, w[i * n_out + j]));
            let mut used = vec![false; cols];
            let mut columns = Vec::with_capacity(n_out);
            for j in 0..n_out {
                let Some(c) = (0..cols).filter(|&c| !used[c]).find(|&c| column_is(j, c)).or_else(|| (0..cols).find(|&c| column_is(j, c))) else { break };
                used[c] = true;
                columns.push(c);
            }
            if columns.len() == n_out {
                let in_order = cols == n_out && columns.iter().enumerate().all(|(j, &c)| c == j);
                return Some(TensorOrigin { layer: t.layer.clone(), name: t.tensor.clone(), shape: t.shape.clone(), columns: (!in_order).then_some(columns), equal_in });
            }
        }
    }
    None
}

/// Write the folded ROMs of `plan`'s Dense layers at reuse `reuse` (and
/// the per-layer `--config` factors, which win) as `$readmemh` files plus
/// `manifest.json`.
/// `tensors` (the hardware weights `qkhw rom` writes) name the tensor each
/// matrix is, where one is.
pub fn write(model: &str, sha256: &str, plan: &Plan, tensors: &[HwWeight], reuse: Option<usize>, cfg: &crate::passes::config::Config, dir: &Path) -> Result<Vec<FoldedRom>> {
    let sched = schedule(plan, reuse, cfg);
    let mut out = crate::staging::Staged::new();
    out.dir(dir)?;
    let mut roms = vec![];
    // (layer, block, step, reuse): every folded step with weights. A
    // recurrent layer's cell folds its recurrent projections too.
    let mut blocks = vec![];
    for node in &sched.nodes {
        let Some(reuse) = node.arch.first_fold() else { continue };
        match node.arch {
            crate::arch::schedule::Arch::Recurrent { .. } => {
                for (i, block) in crate::arch::recurrent::folded_blocks(&node.recurrences, plan, reuse) {
                    blocks.push((node.layer.clone(), block, i, reuse, 1));
                }
            }
            crate::arch::schedule::Arch::Folded { parallel, .. } => blocks.push((node.layer.clone(), "fold".to_string(), node.first, reuse, parallel)),
            crate::arch::schedule::Arch::Unrolled => {}
        }
    }
    for (layer, block, first, reuse, rows_at_once) in blocks {
        let st = &plan.steps[first];
        // Layers with weights (an average pooling's factor is a constant).
        let (Some(fo), StepOp::Dense { .. } | StepOp::Conv { .. } | StepOp::Depthwise { .. }) = (crate::arch::folded::foldable(&st.op), &st.op) else { continue };
        let (n_in, n_out, w) = (fo.n_in, fo.n_out, &fo.w);
        let f = Fold::new(fo.rows, n_in, n_out, reuse);
        let words = rom_words(&f, n_in, n_out, w);
        let (lo, hi) = (w.iter().copied().min().unwrap_or(0).min(0), w.iter().copied().max().unwrap_or(0).max(0));
        let width = crate::arch::netlist::width_of(lo, hi);
        let frac = st.fmt.frac - plan.steps[st.inputs[0]].fmt.frac;
        let stem = if block == "fold" { layer.clone() } else { format!("{layer}_{block}") };
        let file = format!("{}_folded.mem", stem.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
        let mut text = format!(
            "// qkhw {}; model {model} (sha256 {sha256})\n// layer {} folded at reuse factor {reuse}: {} words of {} weights x {width} bits ({}, value = code * {lsb}); word g*{}+k: lane l, input p at element l*{}+p = w[(k*{}+p)*{n_out} + g*{}+l]\n",
            env!("CARGO_PKG_VERSION"),
            if block == "fold" { layer.clone() } else { format!("{layer} ({block})") },
            words.len(),
            f.multipliers(),
            if lo < 0 { "two's complement" } else { "unsigned" },
            f.chunks,
            f.p_in,
            f.p_in,
            f.p_out,
            lsb = crate::fxp::lsb(frac),
        );
        for wd in &words {
            let lit = crate::arch::netlist::packed_lit(wd, width);
            text.push_str(lit.split('\'').nth(1).map_or("", |h| &h[1..]));
            text.push('\n');
        }
        out.write(&dir.join(&file), text)?;
        let tensor = origin(tensors, &layer, w, n_in, frac);
        roms.push(FoldedRom {
            layer,
            block,
            file,
            depth: words.len(),
            word_width: f.multipliers() * width as usize,
            width,
            signed: lo < 0,
            frac,
            reuse_factor: reuse,
            lanes_out: f.p_out,
            lanes_in: f.p_in,
            rows_at_once,
            groups: f.groups,
            chunks: f.chunks,
            n_in,
            n_out,
            order: "word g*chunks + k (group, chunk); within a word element l*lanes_in + p (output lane l, input lane p), element 0 in the low bits, holds w[(k*lanes_in + p)*n_out + g*lanes_out + l] (0 where k*lanes_in + p >= n_in or g*lanes_out + l >= n_out)".into(),
            tensor,
        });
    }
    if roms.is_empty() {
        let at = match reuse {
            Some(r) => format!("at reuse factor {r}"),
            None => "by the configuration's reuse factors".to_string(),
        };
        return Err(Error::Usage(format!("--layout folded: no layer of {model} with weights folds {at} (R = 1 is the unrolled architecture; Dense, convolution and depthwise layers fold)")));
    }
    let manifest = serde_json::json!({
        "generator": format!("qkhw {}", env!("CARGO_PKG_VERSION")),
        "model": model,
        "model_sha256": sha256,
        "layout": "folded",
        "reuse_factor": reuse,
        "roms": roms,
    });
    out.write(&dir.join("manifest.json"), serde_json::to_string_pretty(&manifest).map_err(|e| Error::Internal(e.to_string()))? + "\n")?;
    out.commit()?;
    Ok(roms)
}

