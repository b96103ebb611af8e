//! `--synth`: Yosys 0.23 `synth_xilinx -flatten` for resource counts, and
//! `ltp -noff` for the logic depth (there is no timing analysis here).
//! Yosys can fail inside ABC and still exit 0, so its log is checked for
//! `Assertion` and undriven wires.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Resources {
    pub module: String,
    /// LUTs as Vivado's "Slice LUTs" counts them: logic LUTs, the LUTs of
    /// LUT RAM (a `RAM32M` is four) and SRL shift registers (one each),
    /// all of which take a LUT site of the part.
    pub luts: usize,
    /// Of `luts`, those that are LUT RAM or shift registers.
    pub lut_memory: usize,
    pub ffs: usize,
    pub dsps: usize,
    pub carry4: usize,
    /// Block RAMs in BRAM36 units (a RAMB18 counts as half).
    pub bram36: f64,
    /// Longest combinational path in cells (`ltp -noff`).
    pub ltp: Option<usize>,
    pub secs: f64,
}

/// Whether Yosys's counts of the whole design `top` fit the part, and
/// the budget where one chose the design: lines for `synth.txt`. The
/// budget chose by the estimate, so Yosys can disagree (cross-check batch
/// 15: a design chosen within `dsp=20` took 24 DSP48E1, and `--synth`
/// compared them with the part's 220 only).
pub fn fit_lines(top: &Resources, part: &crate::arch::part::Part, budget: Option<&crate::arch::schedule::Budget>) -> String {
    let fits = top.luts <= part.luts && top.ffs <= part.ffs && top.dsps <= part.dsps && top.bram36 <= part.bram36 as f64;
    let mut text = format!(
        "{} {}: LUT {}/{} ({} of them LUT RAM and shift registers), FF {}/{}, DSP {}/{}, BRAM36 {:.1}/{} (Yosys counts; a vendor tool's can differ)\n",
        if fits { "fits" } else { "does NOT fit" },
        part.name,
        top.luts,
        part.luts,
        top.lut_memory,
        top.ffs,
        part.ffs,
        top.dsps,
        part.dsps,
        top.bram36,
        part.bram36
    );
    if let Some(b) = budget {
        // (item, Yosys's count, the budget's, over it)
        let items: Vec<(String, bool)> = [
            b.lut.map(|n| (format!("LUT {}/{n}", top.luts), top.luts > n)),
            b.ff.map(|n| (format!("FF {}/{n}", top.ffs), top.ffs > n)),
            b.dsp.map(|n| (format!("DSP {}/{n}", top.dsps), top.dsps > n)),
            b.bram36.map(|n| (format!("BRAM36 {:.1}/{n}", top.bram36), top.bram36 > n)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let over = items.iter().any(|i| i.1);
        text += &format!(
            "{} --budget: {} (Yosys counts; the budget chose the design by the estimate{})\n",
            if over { "does NOT fit" } else { "fits" },
            items.iter().map(|i| i.0.as_str()).collect::<Vec<_>>().join(", "),
            if over { ", which Yosys exceeds" } else { "" }
        );
    }
    text
}

fn count(stat: &str, prefix: &str) -> usize {
    cells(stat).filter(|(name, _)| name.starts_with(prefix)).map(|(_, n)| n).sum()
}

/// Each `<cell type> <count>` line of Yosys's `stat`.
fn cells(stat: &str) -> impl Iterator<Item = (&str, usize)> {
    stat.lines().filter_map(|l| {
        let mut it = l.split_whitespace();
        let name = it.next()?;
        Some((name, it.next()?.parse().ok()?))
    })
}

/// The LUT sites each LUT RAM or shift-register primitive of Yosys's
/// Xilinx library takes (7-series and UltraScale; UG474, UG574).
const LUT_MEMORY: &[(&str, usize)] = &[
    ("RAM16X1S", 1), ("RAM32X1S", 1), ("RAM64X1S", 1), ("RAM16X1D", 2), ("RAM32X1D", 2), ("RAM64X1D", 2),
    ("RAM128X1S", 2), ("RAM128X1D", 4), ("RAM256X1S", 4), ("RAM256X1D", 8), ("RAM512X1S", 8),
    ("RAM32M", 4), ("RAM64M", 4), ("RAM32M16", 8), ("RAM64M8", 8), ("RAM32X16DR8", 8), ("RAM64X8SW", 8),
    ("SRL16E", 1), ("SRLC16E", 1), ("SRLC32E", 1),
];

/// The LUT sites `stat`'s LUT RAM and shift registers take.
fn lut_memory(stat: &str) -> usize {
    cells(stat).filter_map(|(name, n)| LUT_MEMORY.iter().find(|(p, _)| *p == name).map(|(_, luts)| n * luts)).sum()
}

/// Synthesize `top` from the files of `dir` (in `files` order); `nodsp`
/// keeps every multiplier in LUTs (`synth_xilinx -nodsp`, for `--no-dsp`).
pub fn synth(dir: &Path, files: &[String], top: &str, ltp: bool, nodsp: bool) -> Result<Resources> {
    let t = Instant::now();
    // Yosys's reports go to a scratch folder: the design folder is not
    // touched, even when Yosys fails.
    let scratch = std::env::temp_dir().join(format!("qkhw-synth-{}-{top}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| Error::io(&scratch, e))?;
    let reads: Vec<String> = files.iter().map(|f| format!("read_verilog {}", dir.join(f).display())).collect();
    let script = format!(
        "{}; synth_xilinx -flatten{} -top {top}; tee -o {stat} stat{}",
        reads.join("; "),
        if nodsp { " -nodsp" } else { "" },
        // `ltp -noff` knows only Yosys's own flip-flop cells, not the
        // mapped FDRE/FDSE, SRL and RAM primitives: without deselecting
        // them the "longest path" runs through every register. Nor does it
        // know a DSP48E1's own registers, into which Yosys moves the
        // pipeline registers around a product: a slice with a registered
        // input, product or output is a register boundary too (counted as
        // no cell). In qkhw's designs every product's operands are
        // registers or constants, so a slice with one input register has
        // the other operand registered or constant.
        if ltp { "; select * t:FD* %d t:RAM* %d t:SRL* %d t:DSP48E1 r:AREG!=0 %i t:DSP48E1 r:BREG!=0 %i %u t:DSP48E1 r:MREG!=0 %i %u t:DSP48E1 r:PREG!=0 %i %u %d; tee -o LTP ltp -noff" } else { "" },
        stat = scratch.join(format!("stat-{top}.txt")).display()
    )
    .replace("LTP", &scratch.join(format!("ltp-{top}.txt")).display().to_string());
    let out = Command::new("yosys").args(["-q", "-p", &script]).output();
    let stat = std::fs::read_to_string(scratch.join(format!("stat-{top}.txt"))).unwrap_or_default();
    let ltp_text = std::fs::read_to_string(scratch.join(format!("ltp-{top}.txt"))).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&scratch);
    let out = out.map_err(|e| Error::Tool { tool: "yosys".into(), msg: format!("cannot run it ({e}); install it (apt-get install yosys)") })?;
    let log = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || log.contains("Assertion") || log.to_lowercase().contains("undriven") {
        return Err(Error::Tool { tool: "yosys".into(), msg: format!("failed on {top}: {}", log.lines().rev().take(5).collect::<Vec<_>>().join(" | ")) });
    }
    let ltp = if ltp { ltp_text.split("length=").nth(1).and_then(|r| r.split(')').next()).and_then(|n| n.trim().parse().ok()) } else { None };
    let lut_memory = lut_memory(&stat);
    Ok(Resources {
        module: top.to_string(),
        luts: count(&stat, "LUT") + lut_memory,
        lut_memory,
        ffs: count(&stat, "FD"),
        dsps: count(&stat, "DSP48"),
        carry4: count(&stat, "CARRY4"),
        bram36: count(&stat, "RAMB36") as f64 + count(&stat, "RAMB18") as f64 / 2.0,
        ltp,
        secs: t.elapsed().as_secs_f64(),
    })
}

/// Synthesize every module of `modules` (the top first, then each layer's
/// module) two at a time, printing an estimate first and a line per module
/// as it finishes. `counts` (one per layer module) size the estimate.
pub fn synth_all(dir: &Path, files: &[String], modules: &[String], counts: &[super::Counts], nodsp: bool) -> Result<Vec<Resources>> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
    // Calibrated on Yosys 0.23 (zoo_hswish: its 1,112 comparisons took
    // 109 s, its dense layer of 111 operators 7.8 s): about 1.5 s per
    // module, 0.1 s per comparison and 0.05 s per other operator; the
    // whole design costs about as much as its layers together.
    let module_secs: f64 = counts.iter().map(|c| 1.5 + 0.1 * c.comparisons as f64 + 0.05 * (c.adders + c.multipliers + c.shift_adds) as f64).sum();
    let ops: usize = counts.iter().map(|c| c.adders + c.multipliers + c.shift_adds + c.comparisons).sum();
    let estimate = 2.0 * module_secs / workers as f64;
    eprintln!(
        "yosys synth_xilinx -flatten on {} modules ({} operators), {workers} at a time: about {:.0} s",
        modules.len(),
        ops,
        estimate.max(1.0)
    );
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<Resources>>>> = modules.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers.min(modules.len()) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if k >= modules.len() {
                    break;
                }
                let r = synth(dir, files, &modules[k], true, nodsp);
                let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                match &r {
                    Ok(x) => eprintln!("[{n}/{}] {}: {} LUT, {:.1} s", modules.len(), x.module, x.luts, x.secs),
                    Err(e) => eprintln!("[{n}/{}] {}: {e}", modules.len(), modules[k]),
                }
                if let Ok(mut slot) = results[k].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| m.into_inner().ok().flatten().unwrap_or_else(|| Err(Error::Internal("a synthesis worker stopped".into()))))
        .collect()
}

#[cfg(test)]
mod tests {
    /// `--synth` says whether Yosys's counts fit the budget as well as the
    /// part (it compared them with the part only).
    #[test]
    fn synth_compares_yosys_with_the_budget() {
        let top = Resources { module: "m".into(), luts: 900, ffs: 300, dsps: 24, bram36: 0.5, ..Default::default() };
        let part: crate::arch::part::Part = "xc7z020".parse().unwrap();
        let alone = fit_lines(&top, &part, None);
        assert!(alone.starts_with("fits xc7z020: LUT 900/53200") && !alone.contains("--budget"), "{alone}");
        let b: crate::arch::schedule::Budget = "dsp=20,lut=1000".parse().unwrap();
        let text = fit_lines(&top, &part, Some(&b));
        assert!(text.contains("\ndoes NOT fit --budget: LUT 900/1000, DSP 24/20 (Yosys counts; the budget chose the design by the estimate, which Yosys exceeds)\n"), "{text}");
        let b: crate::arch::schedule::Budget = "dsp=24,bram=0.5".parse().unwrap();
        assert!(fit_lines(&top, &part, Some(&b)).contains("\nfits --budget: DSP 24/24, BRAM36 0.5/0.5 (Yosys counts; the budget chose the design by the estimate)\n"));
    }

    use super::*;

    /// LUT RAM and shift registers take LUT sites: a 32-word FIFO of
    /// 1,216 bits is 203 `RAM32M`, 812 LUTs that `LUT*` alone misses.
    #[test]
    fn lut_ram_and_srls_count_as_luts() {
        let stat = "   Number of cells:   1450\n     CARRY4    6\n     FDRE   1233\n     LUT2   5\n     LUT6   7\n     RAM32M   203\n     RAM64X1D   2\n     SRLC32E   3\n     RAMB18E1   1\n";
        assert_eq!(count(stat, "LUT"), 12);
        assert_eq!(lut_memory(stat), 203 * 4 + 2 * 2 + 3);
    }
}
