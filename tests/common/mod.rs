//! Shared by the simulation tests: the tools they need (never skipped:
//! `scripts/test.sh` installs them; a missing one fails with the reason)
//! and a build cache shared across tests and runs.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

pub fn require(tool: &str) {
    let ok = Command::new(tool).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
        || Command::new(tool).arg("-V").output().map(|o| o.status.success() || !o.stdout.is_empty()).unwrap_or(false);
    assert!(ok, "`{tool}` is required by this test (scripts/test.sh installs it: apt-get install verilator iverilog yosys ccache)");
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Verilator builds shared by every test (keyed by design hash).
pub fn cache() -> PathBuf {
    root().join("target").join("qkhw-verilator-cache")
}

pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("qkhw-t-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The vectors of an example model: its golden inputs (tests/golden/predict;
/// `inputs.npy`, then `inputs.K.npy` for input K of a model with several)
/// through the hardware input quantizers, then `random` random input codes
/// from `seed`, each sample's inputs side by side. Returns the codes and the
/// sample count.
pub fn vectors(g: &qkhw::ir::Graph, name: &str, random: usize, seed: u64) -> (Vec<i128>, usize) {
    vectors_first(g, name, usize::MAX, random, seed)
}

/// [`vectors`] with the first `golden` golden samples only (all where
/// there are fewer).
#[allow(dead_code, reason = "used by some of the test binaries that include this module")]
pub fn vectors_first(g: &qkhw::ir::Graph, name: &str, golden: usize, random: usize, seed: u64) -> (Vec<i128>, usize) {
    let (each, _) = qkhw::golden::hardware_inputs(g, None, &Default::default()).unwrap();
    let sizes: Vec<usize> = g.inputs.iter().map(|i| g.layers[i.0].shape.iter().product()).collect();
    let mut parts = vec![];
    let mut given = 0;
    for (k, (spec, q)) in each.iter().enumerate() {
        let file = if k == 0 { "inputs.npy".to_string() } else { format!("inputs.{k}.npy") };
        let x = qkhw::npy::read_f32(&root().join(format!("tests/golden/predict/{name}/{file}"))).unwrap();
        given = x.shape[0].min(golden);
        let mut shape = x.shape.clone();
        shape[0] = given;
        let per: usize = shape[1..].iter().product();
        parts.push(qkhw::golden::hardware_codes(&x.data[..given * per], &shape, spec, q.as_ref()).unwrap());
    }
    let fmts: Vec<(usize, qkhw::fxp::FixedFormat)> = sizes.iter().zip(&each).map(|(&m, e)| (m, e.0.fmt)).collect();
    for (p, r) in parts.iter_mut().zip(qkhw::verify::random_parts(&fmts, random, seed)) {
        p.extend(r);
    }
    let n = given + random;
    (qkhw::verify::interleave(parts, &sizes, n), n)
}

/// Whether `QKHW_LONG=1` asks for the long runs (README "Long runs").
pub fn long() -> bool {
    std::env::var_os("QKHW_LONG").is_some_and(|v| v != "0")
}

/// Random samples per model in the simulation tests: 1,000 by default (the
/// steady run needs a few hundred), 10,000 with `QKHW_LONG=1`.
pub fn long_random() -> usize {
    if long() { 10_000 } else { 1_000 }
}

/// One arithmetic operator of generated Verilog changed: the first
/// constant multiplier's literal with its low bit flipped, or, where the
/// constants are shared shift-adds, the first adder made a subtractor.
#[allow(dead_code)]
pub fn corrupt_one_operator(text: &str) -> String {
    if let Some(at) = text.find(" * ") {
        let end = at + text[at..].find(';').unwrap();
        // The literal's hex digits (inside `$signed(...)` when signed).
        if let Some(k) = text[at + 3..end].find("'h") {
            let start = at + 3 + k + 2;
            let len = text[start..end].find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(end - start);
            let v = u64::from_str_radix(&text[start..start + len], 16).unwrap() ^ 1;
            return format!("{}{v:x}{}", &text[..start], &text[start + len..]);
        }
    }
    let at = text.find(" + ").expect("an adder or a constant multiplier");
    format!("{} - {}", &text[..at], &text[at + 3..])
}

/// A copy of the `.keras` archive `src` at `dst` with its `config.json`
/// rewritten by `edit` (every other member byte for byte): a model that
/// differs from an example model in one place, without a generator run.
#[allow(dead_code, reason = "used by some of the test binaries that include this module")]
pub fn edit_keras_config(src: &std::path::Path, dst: &std::path::Path, edit: impl FnOnce(String) -> String) {
    use std::io::{Read, Write};
    let mut zin = zip::ZipArchive::new(std::fs::File::open(src).unwrap()).unwrap();
    let mut zout = zip::ZipWriter::new(std::fs::File::create(dst).unwrap());
    let mut edit = Some(edit);
    for k in 0..zin.len() {
        let mut f = zin.by_index(k).unwrap();
        let name = f.name().unwrap().to_string();
        let mut bytes = vec![];
        f.read_to_end(&mut bytes).unwrap();
        if name == "config.json"
            && let Some(e) = edit.take()
        {
            bytes = e(String::from_utf8(bytes).unwrap()).into_bytes();
        }
        zout.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        zout.write_all(&bytes).unwrap();
    }
    zout.finish().unwrap();
}
