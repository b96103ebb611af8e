//! The hand-written primitives in hw/, under Verilator and Icarus: the
//! requantizer on every 10-bit input through eight parameter sets against
//! `fxp::requantize`, the skid buffer under random valid/ready, the
//! pipelined adder tree against the sums and its latency, the look-up ROM
//! on every address.

mod common;

use std::process::Command;

use qkhw::fxp::{requantize, round_shift_right, FixedFormat, Overflow, Rounding};

fn run_bench(sim: &str, tb: &str, top: &str, prims: &[&str]) -> (String, std::path::PathBuf) {
    let dir = common::tmp(&format!("{sim}-{top}"));
    // The look-up ROM's table: y = (x * 37 + 5) mod 256 over 6-bit x.
    let table: String = (0..64).map(|i| format!("{:02x}\n", (i * 37 + 5) % 256)).collect();
    std::fs::write(dir.join("lut.mem"), table).unwrap();
    let hw = common::root().join("hw");
    let mut files: Vec<std::path::PathBuf> = vec![hw.join("tb").join(tb)];
    files.extend(prims.iter().map(|p| hw.join(p)));
    let out = if sim == "verilator" {
        let b = Command::new("verilator")
            .args(["--binary", "--timing", "-Wno-fatal", "--top-module", top, "-Mdir"])
            .arg(dir.join("obj"))
            .args(&files)
            .output()
            .unwrap();
        assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
        Command::new(dir.join("obj").join(format!("V{top}"))).current_dir(&dir).output().unwrap()
    } else {
        let b = Command::new("iverilog").args(["-g2005", "-o"]).arg(dir.join("sim")).args(&files).output().unwrap();
        assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
        Command::new("vvp").arg("-n").arg(dir.join("sim")).current_dir(&dir).output().unwrap()
    };
    (String::from_utf8_lossy(&out.stdout).to_string(), dir)
}

fn expected(x: i128) -> Vec<i128> {
    let from = |s: i32| FixedFormat { width: 10, frac: s, signed: true };
    let to = |w: u32| FixedFormat { width: w, frac: 0, signed: true };
    vec![
        requantize(x, from(4), to(6), Rounding::TiesEven, Overflow::Saturate),
        requantize(x, from(4), to(6), Rounding::TiesAway, Overflow::Saturate),
        requantize(x, from(4), to(6), Rounding::Floor, Overflow::Saturate),
        requantize(x, from(4), to(6), Rounding::TiesEven, Overflow::Wrap),
        round_shift_right(x, 3, Rounding::TiesEven).clamp(0, 40),
        requantize(x, from(1), to(4), Rounding::TiesAway, Overflow::Wrap),
        requantize(x, from(1), to(12), Rounding::Floor, Overflow::Wrap),
        requantize(x, from(8), to(2), Rounding::TiesEven, Overflow::Saturate),
    ]
}

#[test]
fn requantizer_matches_fxp_on_every_input() {
    for sim in ["verilator", "iverilog"] {
        common::require(sim);
        let (_, dir) = run_bench(sim, "tb_requant.v", "tb_requant", &["qkhw_requant.v"]);
        let text = std::fs::read_to_string(dir.join("requant.txt")).unwrap();
        let mut n = 0;
        for line in text.lines() {
            let v: Vec<i128> = line.split_whitespace().map(|t| t.parse().unwrap()).collect();
            let x = v[0];
            assert_eq!(v[1..].to_vec(), expected(x), "{sim}: x = {x}");
            n += 1;
        }
        assert_eq!(n, 1024, "{sim}");
    }
}

#[test]
fn skid_buffer_loses_and_duplicates_nothing() {
    for sim in ["verilator", "iverilog"] {
        common::require(sim);
        let (out, _) = run_bench(sim, "tb_skid.v", "tb_skid", &["qkhw_skid.v"]);
        assert!(out.contains("PASS"), "{sim}: {out}");
    }
}

#[test]
fn adder_tree_sums_with_its_latency() {
    for sim in ["verilator", "iverilog"] {
        common::require(sim);
        let (out, _) = run_bench(sim, "tb_adder_tree.v", "tb_adder_tree", &["qkhw_adder_tree.v"]);
        assert!(out.contains("PASS"), "{sim}: {out}");
    }
}

#[test]
fn lookup_rom_reads_every_word() {
    for sim in ["verilator", "iverilog"] {
        common::require(sim);
        let (out, _) = run_bench(sim, "tb_lut.v", "tb_lut", &["qkhw_lut.v"]);
        assert!(out.contains("PASS 64"), "{sim}: {out}");
    }
}

#[test]
fn primitives_are_lint_clean() {
    common::require("verilator");
    for (f, params) in [("qkhw_requant.v", vec![]), ("qkhw_requant.v", vec!["-GSAT=0", "-GOUT_W=20"]), ("qkhw_requant.v", vec!["-GSAT=0", "-GOUT_W=4"]), ("qkhw_skid.v", vec![]), ("qkhw_adder_tree.v", vec![]), ("qkhw_adder_tree.v", vec!["-GN=5", "-GIN_W=6", "-GOUT_W=9", "-GLEVELS_PER_STAGE=3"]), ("qkhw_adder_tree.v", vec!["-GN=1", "-GOUT_W=8"]), ("qkhw_lut.v", vec![])] {
        let o = Command::new("verilator").args(["--lint-only", "-Wall"]).args(&params).arg(common::root().join("hw").join(f)).output().unwrap();
        assert!(o.status.success() && o.stderr.is_empty(), "{f} {params:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
}
