//! The golden model's SIMD kernels against its portable ones: `qkhw predict`
//! with `QKHW_NO_SIMD=1` (no AVX2 path anywhere) must write the same bytes
//! as the default run, on every example model, on raw float inputs and at a
//! coarse input format, so every kernel the range analysis picks is
//! covered. (Each kernel also equals the exact i128 sum on extreme codes:
//! the unit tests in `src/golden/madd16.rs`.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The first `n` samples of a golden input file, written to `to`.
fn head(from: &Path, n: usize, to: &Path) {
    let x = qkhw::npy::read_f32(from).unwrap();
    let per: usize = x.shape[1..].iter().product();
    let n = n.min(x.shape[0]);
    let mut shape = x.shape.clone();
    shape[0] = n;
    std::fs::write(to, qkhw::npy::encode_f32(&shape, &x.data[..n * per])).unwrap();
}

fn run(args: &[&std::ffi::OsStr], portable: bool) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qkhw"));
    c.args(args);
    if portable {
        c.env("QKHW_NO_SIMD", "1");
    } else {
        c.env_remove("QKHW_NO_SIMD");
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "qkhw {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn portable_kernels_write_the_same_outputs_as_the_simd_ones() {
    let dir = std::env::temp_dir().join(format!("qkhw-kernels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let golden = root().join("tests/golden/predict");
    let mut names: Vec<String> = std::fs::read_dir(&golden).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let simd = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    if !simd {
        eprintln!("note: this CPU has no AVX2 + FMA: both runs use the portable kernels");
    }
    let mut kernels = BTreeSet::new();
    let mut runs = 0;
    for name in &names {
        let model = root().join(format!("examples/models/{name}.keras"));
        if !model.exists() {
            continue;
        }
        // Every input of the model, cut to 12 samples (debug build).
        let mut args: Vec<std::ffi::OsString> = vec!["predict".into(), model.clone().into()];
        for k in 0.. {
            let f = golden.join(name).join(if k == 0 { "inputs.npy".to_string() } else { format!("inputs.{k}.npy") });
            if !f.exists() {
                break;
            }
            let cut = dir.join(format!("{name}.in{k}.npy"));
            head(&f, 12, &cut);
            args.push("--input".into());
            args.push(cut.into());
        }
        for format in [None, Some("fixed<8,3>")] {
            let mut outs = vec![];
            for portable in [false, true] {
                let tag = format!("{name}.{}.{}", format.is_some(), portable);
                let (y, dump) = (dir.join(format!("{tag}.y.npy")), dir.join(format!("{tag}.dump")));
                let fmt: Vec<std::ffi::OsString> = format.map(|f| vec!["--input-format".into(), f.into()]).unwrap_or_default();
                // `predict` (outputs only, its fast path) and `dump` (every
                // layer's codes).
                let mut a = args.clone();
                a.extend(["--output".into(), y.clone().into(), "--threads".into(), "2".into()]);
                a.extend(fmt.iter().cloned());
                let refs: Vec<&std::ffi::OsStr> = a.iter().map(|s| s.as_os_str()).collect();
                run(&refs, portable);
                let mut a: Vec<std::ffi::OsString> = vec!["dump".into()];
                a.extend(args[1..].iter().cloned());
                a.extend(["--out".into(), dump.clone().into()]);
                a.extend(fmt.iter().cloned());
                let refs: Vec<&std::ffi::OsStr> = a.iter().map(|s| s.as_os_str()).collect();
                run(&refs, portable);
                let mut files: Vec<PathBuf> = std::fs::read_dir(&dump).unwrap().map(|e| e.unwrap().path()).collect();
                files.sort();
                let mut bytes = std::fs::read(&y).unwrap();
                for f in &files {
                    bytes.extend(f.file_name().unwrap().to_string_lossy().as_bytes());
                    bytes.extend(std::fs::read(f).unwrap());
                }
                assert!(files.len() >= 2, "{name}: dump wrote {files:?}");
                outs.push(bytes);
                // Which kernels ran: `debug` names them.
                let mut d: Vec<std::ffi::OsString> = vec!["debug".into()];
                d.extend(args[1..].iter().cloned());
                if let Some(f) = format {
                    d.extend(["--input-format".into(), f.into()]);
                }
                let refs: Vec<&std::ffi::OsStr> = d.iter().map(|s| s.as_os_str()).collect();
                let text = String::from_utf8_lossy(&run(&refs, portable).stdout).into_owned();
                let lines: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("golden-model arithmetic")).skip(1).take_while(|l| l.starts_with("  ")).collect();
                for l in &lines {
                    let k = l.split_once(": ").map_or(*l, |p| p.1);
                    if simd {
                        assert_eq!(k.contains("AVX"), !portable && (k.contains("i16")), "{name}: {l}");
                    }
                    assert!(!portable || !k.contains("AVX"), "{name}: QKHW_NO_SIMD=1 still ran {l}");
                    kernels.insert(k.replace("AVX-VNNI vpdpwssd", "SIMD").replace("AVX2 vpmaddwd", "SIMD").replace("portable", "SIMD").trim_start_matches(|c: char| c.is_ascii_digit()).to_string());
                }
            }
            assert!(outs[0] == outs[1], "{name} (input format {format:?}): the portable kernels wrote different outputs");
            runs += 1;
        }
    }
    assert!(runs >= 50, "only {runs} model runs");
    // Every kernel family the range analysis picks on these models was
    // exercised (the generic i64 / i128 kernel is one generic function; no
    // example needs it at i64).
    let all: Vec<&String> = kernels.iter().collect();
    for family in ["i16 pairs -> i32 (SIMD)", "passes of 16-bit digits", "i32", "i128", "f64 (exact"] {
        let ran = kernels.iter().any(|k| if family.starts_with('i') { k == family } else { k.contains(family) });
        assert!(ran, "no model ran the `{family}` kernel: {all:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
