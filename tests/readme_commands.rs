//! Every command in the README's code blocks runs: the ones on bundled
//! files are executed (in a scratch folder that sees `examples/` and
//! `tests/`), each must exit 0; the ones that name a user's file (MODEL,
//! X.npy, DIR, ...) are listed here by the placeholder they need.

mod common;

use std::process::Command;

/// Placeholders a command may name instead of a bundled file.
const PLACEHOLDERS: &[&str] = &["MODEL", "SPEC", "X.npy", "DIR", "model.keras", "scripts/test.sh", "FLOAT.keras"];

fn commands() -> Vec<String> {
    let text = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let mut out = vec![];
    let mut inside = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            inside = !inside;
            continue;
        }
        let l = line.trim();
        if inside && (l.starts_with("qkhw ") || l.starts_with("cargo run") || l.starts_with("bash ")) {
            // Drop a trailing comment and optional [..] parts.
            let l = l.split(" #").next().unwrap_or(l);
            let mut s = String::new();
            let mut depth = 0;
            for c in l.chars() {
                match c {
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    _ if depth == 0 => s.push(c),
                    _ => {}
                }
            }
            out.push(s.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    out
}

#[test]
fn every_readme_command_runs() {
    let dir = common::tmp("readme");
    for d in ["examples", "tests"] {
        std::os::unix::fs::symlink(common::root().join(d), dir.join(d)).unwrap();
    }
    let (mut run, mut named) = (vec![], 0);
    for cmd in commands() {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        if words.iter().any(|w| PLACEHOLDERS.iter().any(|p| w.contains(p))) {
            named += 1;
            continue;
        }
        let args: Vec<String> = match words.as_slice() {
            ["cargo", "run", "--release", "--", rest @ ..] => rest.iter().map(|w| w.to_string()).collect(),
            ["qkhw", rest @ ..] => rest.iter().map(|w| w.to_string()).collect(),
            _ => panic!("README command `{cmd}` is neither qkhw nor a named placeholder"),
        };
        run.push((cmd, args));
    }
    // Two at a time (no command reads another's output), so both cores
    // work: the Verilator builds are most of the time.
    let ran = run.len();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while let Some((cmd, args)) = run.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                    // Verilator's C++ at -O0: the commands simulate a few
                    // samples, and the builds (resnet8's above all) take
                    // half as long.
                    let o = Command::new(env!("CARGO_BIN_EXE_qkhw")).args(args).current_dir(&dir).env("QKHW_VERILATOR_OPT", "-O0").output().unwrap();
                    assert!(o.status.success(), "README command `{cmd}` failed: {}", String::from_utf8_lossy(&o.stderr));
                }
            });
        }
    });
    assert!(ran >= 8 && named >= 8, "ran {ran}, named {named}");
}
