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
    pub luts: usize,
    pub ffs: usize,
    pub dsps: usize,
    pub carry4: usize,
    /// Longest combinational path in cells (`ltp -noff`), whole design only.
    pub ltp: Option<usize>,
    pub secs: f64,
}

fn count(stat: &str, prefix: &str) -> usize {
    stat.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let name = it.next()?;
            let n: usize = it.next()?.parse().ok()?;
            name.starts_with(prefix).then_some(n)
        })
        .sum()
}

/// Synthesize `top` from the files of `dir` (in `files` order).
pub fn synth(dir: &Path, files: &[String], top: &str, ltp: bool) -> Result<Resources> {
    let t = Instant::now();
    let reads: Vec<String> = files.iter().map(|f| format!("read_verilog {}", dir.join(f).display())).collect();
    let script = format!(
        "{}; synth_xilinx -flatten -top {top}; tee -o {stat} stat{}",
        reads.join("; "),
        if ltp { "; tee -o LTP ltp -noff" } else { "" },
        stat = dir.join(format!(".stat-{top}.txt")).display()
    )
    .replace("LTP", &dir.join(format!(".ltp-{top}.txt")).display().to_string());
    let out = Command::new("yosys")
        .args(["-q", "-p", &script])
        .output()
        .map_err(|e| Error::Usage(format!("cannot run yosys ({e}); install it (apt-get install yosys)")))?;
    let log = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || log.contains("Assertion") || log.to_lowercase().contains("undriven") {
        return Err(Error::Usage(format!("yosys failed on {top}: {}", log.lines().rev().take(5).collect::<Vec<_>>().join(" | "))));
    }
    let stat = std::fs::read_to_string(dir.join(format!(".stat-{top}.txt"))).unwrap_or_default();
    let _ = std::fs::remove_file(dir.join(format!(".stat-{top}.txt")));
    let ltp = if ltp {
        let t = std::fs::read_to_string(dir.join(format!(".ltp-{top}.txt"))).unwrap_or_default();
        let _ = std::fs::remove_file(dir.join(format!(".ltp-{top}.txt")));
        t.split("length=").nth(1).and_then(|r| r.split(')').next()).and_then(|n| n.trim().parse().ok())
    } else {
        None
    };
    Ok(Resources {
        module: top.to_string(),
        luts: count(&stat, "LUT"),
        ffs: count(&stat, "FD"),
        dsps: count(&stat, "DSP48"),
        carry4: count(&stat, "CARRY4"),
        ltp,
        secs: t.elapsed().as_secs_f64(),
    })
}
