//! What a new user tripped over (issue 15): one test per fix, each failing
//! without it. Command-line behaviour is tested through the binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn qkhw() -> Command {
    Command::new(env!("CARGO_BIN_EXE_qkhw"))
}

fn model(name: &str) -> PathBuf {
    common::root().join("examples/models").join(name)
}

fn golden_inputs(name: &str) -> PathBuf {
    common::root().join("tests/golden/predict").join(name).join("inputs.npy")
}

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut c = qkhw();
    for a in args {
        c.arg(a);
    }
    c.output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// Exit 2 with one line naming `want`.
fn fails(o: &Output, want: &str) -> String {
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains(want), "expected `{want}` in: {e}");
    e
}

fn files_in(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d).map(|r| r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    v.sort();
    v
}

fn npy_i64(p: &Path) -> Vec<i64> {
    let b = std::fs::read(p).unwrap();
    let (_, off) = qkhw::npy::parse_header(&b).unwrap();
    b[off..].chunks(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect()
}

/// 1, 3: dump works wherever predict does (codes wider than 64 bits as two
/// planes) and prints the softmax notice.
#[test]
fn dump_writes_wide_codes_as_two_planes_with_notices() {
    let d = common::tmp("dump-wide");
    let out = d.join("dump");
    let o = run(&[&"dump", &model("cnn_bn.keras"), &"--input", &golden_inputs("cnn_bn"), &"-o", &out]);
    let text = ok(&o);
    assert!(text.contains("NAME.codes.hi.npy") && text.contains("bn1"), "{text}");
    let (hi, lo) = (out.join("bn1.codes.hi.npy"), out.join("bn1.codes.lo.npy"));
    assert!(hi.exists() && lo.exists() && !out.join("bn1.codes.npy").exists());
    let (h, l) = (npy_i64(&hi), npy_i64(&lo));
    // The planes give back the golden model's codes and its float32 values.
    let bin = std::fs::read(out.join("bn1.bin")).unwrap();
    let g = qkhw::load_graph(model("cnn_bn.keras"), Default::default()).unwrap();
    let x = qkhw::npy::read_f32(&golden_inputs("cnn_bn")).unwrap();
    let p = qkhw::golden::predict(&g, &x.data, &x.shape, &qkhw::golden::PredictOptions { keep: Some(qkhw::golden::Keep::Layers), ..Default::default() }).unwrap();
    let s = p.plan.steps.iter().position(|s| s.layer.as_deref() == Some("bn1")).unwrap();
    let codes = p.run.codes(s);
    assert!(p.plan.steps[s].fmt.width > 64);
    for k in 0..codes.len() {
        assert_eq!(((h[k] as i128) << 64) + (l[k] as u64 as i128), codes[k], "element {k}");
    }
    assert_eq!(bin.len(), codes.len() * 4);
    // 3: the dropped softmax is said.
    let o = run(&[&"dump", &model("jet_tagger.keras"), &"--input", &golden_inputs("jet_tagger"), &"-o", &d.join("j")]);
    assert!(ok(&o).contains("float softmax at the output"));
}

/// 2: a failing command leaves no file behind.
#[test]
fn failing_commands_write_nothing() {
    let d = common::tmp("atomic");
    let x = d.join("x.npy");
    std::fs::write(&x, qkhw::npy::encode_f32(&[3], &[0.5, f32::NAN, 1.0])).unwrap();
    let (y, c) = (d.join("y.npy"), d.join("c.npy"));
    // hard_tanh has no integer code; a NaN has none either.
    fails(&run(&[&"quantize", &"hard_tanh", &"--input", &x, &"--output", &y, &"--codes", &c]), "");
    fails(&run(&[&"quantize", &"quantized_bits(8,0,1)", &"--input", &x, &"--output", &y, &"--codes", &c]), "NaN");
    assert_eq!(files_in(&d), ["x.npy"]);
    // dump into a new folder that fails: no folder either.
    let out = d.join("new/dump");
    fails(&run(&[&"dump", &model("jet_tagger.keras"), &"--input", &x, &"-o", &out]), "inputs of shape");
    assert!(!d.join("new").exists());
}

/// 4: gen replaces the previous design's files, never a user's, and
/// refuses a foreign non-empty folder without --force.
#[test]
fn gen_replaces_only_its_own_files() {
    let d = common::tmp("regen");
    let out = d.join("rtl");
    ok(&run(&[&"gen", &model("jet_tagger.keras"), &"-o", &out]));
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    assert!(out.join("jet_tagger.v").exists());
    ok(&run(&[&"gen", &model("po2_mlp.keras"), &"-o", &out]));
    let names = files_in(&out);
    assert!(names.contains(&"po2_mlp.v".to_string()) && names.contains(&"notes.txt".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("jet_tagger")), "{names:?}");
    let foreign = d.join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("keep.v"), "").unwrap();
    fails(&run(&[&"gen", &model("jet_tagger.keras"), &"--target", &"c", &"-o", &foreign]), "--force");
    assert_eq!(files_in(&foreign), ["keep.v"]);
    ok(&run(&[&"gen", &model("jet_tagger.keras"), &"--target", &"c", &"-o", &foreign, &"--force"]));
    assert!(foreign.join("keep.v").exists() && foreign.join("jet_tagger.c").exists());
    // 12: an output path that is a file is said in words.
    fails(&run(&[&"gen", &model("jet_tagger.keras"), &"-o", &foreign.join("keep.v/x")]), "is a file, not a folder");
}

/// 5: activation chains are balanced, pipelined comparison trees, counted
/// in the report.
#[test]
fn activation_trees_are_counted_and_pipelined() {
    let d = common::tmp("hswish");
    let text = ok(&run(&[&"gen", &model("zoo_hswish.keras"), &"-o", &d.join("a")]));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("a/report.json")).unwrap()).unwrap();
    let layers = report["layers"].as_array().unwrap();
    let hs = layers.iter().find(|l| l["comparisons"].as_u64().unwrap_or(0) > 0).expect("a layer with comparisons");
    let levels = hs["compare_levels"].as_u64().unwrap();
    let n = hs["comparisons"].as_u64().unwrap();
    // A balanced tree over ~255 pieces: 8 levels, not a chain of 255.
    assert!(levels <= 9 && n > 100, "{hs}");
    assert!(hs["latency"].as_u64().unwrap() >= 1, "8 levels at 4 per stage need a register: {hs}");
    assert!(text.contains("compares"), "{text}");
    ok(&run(&[&"gen", &model("zoo_hswish.keras"), &"-o", &d.join("b"), &"--pipeline-levels", &"16"]));
    let r2: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("b/report.json")).unwrap()).unwrap();
    assert!(r2["latency_cycles"].as_u64() < report["latency_cycles"].as_u64());
}

/// 6: a --config key that does nothing for its layer is an error; a fused
/// batch norm's tables are configured under the convolution's name.
#[test]
fn config_keys_must_apply() {
    let d = common::tmp("cfgkeys");
    let x = golden_inputs("cnn_bn");
    let cfg = |text: &str| {
        let p = d.join(format!("c{}.toml", text.len()));
        std::fs::write(&p, text).unwrap();
        p
    };
    let e = fails(&run(&[&"predict", &model("cnn_bn.keras"), &"--input", &x, &"--output", &d.join("y.npy"), &"--config", &cfg("[layer.relu1]\nbn_inv = \"fixed<8,2>\"\n")]), "relu1");
    assert!(e.contains("bn_inv"), "{e}");
    let both = cfg("[layer.conv1]\nbn_inv = \"fixed<4,0>\"\n[layer.bn1]\nbn_inv = \"fixed<4,0>\"\n");
    fails(&run(&[&"predict", &model("cnn_bn.keras"), &"--input", &x, &"--output", &d.join("y.npy"), &"--config", &both]), "once, under [layer.conv1]");
    let plain = d.join("plain.npy");
    ok(&run(&[&"predict", &model("cnn_bn.keras"), &"--input", &x, &"--output", &plain]));
    let conv = d.join("conv.npy");
    ok(&run(&[&"predict", &model("cnn_bn.keras"), &"--input", &x, &"--output", &conv, &"--config", &cfg("[layer.conv1]\nbn_inv = \"fixed<4,0>\"\n")]));
    let bn = d.join("bn.npy");
    ok(&run(&[&"predict", &model("cnn_bn.keras"), &"--input", &x, &"--output", &bn, &"--config", &cfg("[layer.bn1]\nbn_inv = \"fixed<4,0>\"\n\n")]));
    let (p, c, b) = (qkhw::npy::read_f32(&plain).unwrap(), qkhw::npy::read_f32(&conv).unwrap(), qkhw::npy::read_f32(&bn).unwrap());
    assert_ne!(p.data, c.data, "[layer.conv1] bn_inv changes the fused table");
    assert_eq!(c.data, b.data, "both names reach the same table");
    fails(&run(&[&"predict", &model("cnn_bn.keras"), &"--input", &x, &"--output", &d.join("y.npy"), &"--config", &cfg("[layer.fc]\nrounding = \"floor\"\n")]), "do nothing");
}

/// 7: flags of another target, and meaningless values, are refused.
#[test]
fn flags_that_do_not_apply_are_refused() {
    let m = model("jet_tagger.keras");
    let d = common::tmp("flags");
    let o = d.join("o");
    for (args, want) in [
        (vec!["gen", "--pipeline-levels", "0", "-o"], "invalid value '0' for '--pipeline-levels <PIPELINE_LEVELS>': give a whole number of 1 or more"),
        (vec!["gen", "--target", "c", "--synth", "-o"], "--synth applies to --target verilog only"),
        (vec!["gen", "--target", "verilog", "--flavor", "catapult", "-o"], "--flavor applies to --target hls only"),
        (vec!["gen", "--target", "c", "--no-dsp", "-o"], "--no-dsp applies to --target verilog only"),
        (vec!["gen", "--target", "hls", "--pack-dsp", "-o"], "--pack-dsp applies to --target verilog only"),
        (vec!["gen", "--pack-dsp", "--no-dsp", "-o"], "--pack-dsp packs products into DSP48 slices and --no-dsp uses none"),
        (vec!["gen", "--target", "c", "--reuse-factor", "4", "-o"], "--reuse-factor applies to --target verilog and hls"),
        // HLS streams too (cross-check batch 9: the message said verilog only).
        (vec!["gen", "--target", "c", "--io", "stream", "-o"], "--io stream applies to --target verilog and hls"),
        // A negative value is a bad value, not an unknown option `-1`
        // (cross-check batch 10).
        (vec!["gen", "--reuse-factor", "-1", "-o"], "invalid value '-1' for '--reuse-factor <REUSE_FACTOR>': give a whole number of 1 or more"),
        (vec!["gen", "--clock-period", "-5", "-o"], "--clock-period -5: give a positive number of ns"),
    ] {
        let mut c = qkhw();
        c.args(&args[..1]).arg(&m).args(&args[1..]).arg(&o);
        let out = c.output().unwrap();
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains(want) && e.trim().lines().count() == 1, "{args:?}: {e}");
    }
    for (args, want) in [
        (vec!["--target", "c", "--sim", "iverilog"], "--sim applies to --target verilog only"),
        (vec!["--target", "c", "--design", "d"], "--design applies"),
        (vec!["--target", "hls", "--trace", "x.vcd"], "--trace applies"),
        (vec!["--random", "0"], "0"),
        (vec!["--random", "-5"], "invalid value '-5' for '--random <RANDOM>': give a whole number of 1 or more"),
    ] {
        let out = qkhw().arg("verify").arg(&m).args(&args).output().unwrap();
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(want), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(!o.exists());
    // 12: an unknown flag is one line, without clap's `-- --flag` tip.
    let out = qkhw().arg("gen").arg(&m).arg("--colour").output().unwrap();
    let e = fails(&out, "unknown option `--colour`");
    assert!(!e.contains("-- --colour") && e.trim().lines().count() == 1, "{e}");
}

/// 8, 10: predict says which input format it used and how to match the
/// hardware; a NaN input names its sample and element with a correct hint.
#[test]
fn predict_states_its_input_format_and_nan_position() {
    let d = common::tmp("fmt");
    let out = ok(&run(&[&"predict", &model("jet_tagger.keras"), &"--input", &golden_inputs("jet_tagger"), &"--output", &d.join("y.npy")]));
    assert!(out.contains("add --input-format fixed<16,6>"), "{out}");
    let out = ok(&run(&[&"predict", &model("jet_tagger.keras"), &"--input", &golden_inputs("jet_tagger"), &"--output", &d.join("y.npy"), &"--input-format", &"fixed<16,6>"]));
    assert!(out.contains("the same as the hardware's"), "{out}");
    let x = d.join("nan.npy");
    let mut v = vec![0.25f32; 2 * 16];
    v[16 + 5] = f32::NAN;
    std::fs::write(&x, qkhw::npy::encode_f32(&[2, 16], &v)).unwrap();
    for extra in [vec![], vec!["--input-format", "fixed<16,6>"]] {
        let mut c = qkhw();
        c.arg("predict").arg(model("jet_tagger.keras")).arg("--input").arg(&x).arg("--output").arg(d.join("n.npy")).args(&extra);
        let e = fails(&c.output().unwrap(), "sample 1, element (5)");
        assert!(e.contains("nan_to_num") && !e.contains("give --input-format"), "{e}");
    }
    // An infinity, or tiny and huge values together, taken exactly (no
    // format given) name the file too (cross-check batch 10: they did not).
    for (name, at, value, want) in [("inf.npy", 3, f32::INFINITY, "input sample 0, element (3): inf has no exact fixed-point code"), ("wide.npy", 1, 1e-30, "the inputs span more than 127 bits")] {
        let x = d.join(name);
        let mut v = vec![1.0e4f32; 16];
        v[at] = value;
        std::fs::write(&x, qkhw::npy::encode_f32(&[1, 16], &v)).unwrap();
        let e = fails(&run(&[&"predict", &model("jet_tagger.keras"), &"--input", &x, &"--output", &d.join("w.npy")]), want);
        assert!(e.starts_with(&format!("error: {}: ", x.display())) && e.trim().lines().count() == 1, "{e}");
        ok(&run(&[&"predict", &model("jet_tagger.keras"), &"--input", &x, &"--output", &d.join("w.npy"), &"--input-format", &"fixed<16,6>"]));
    }
}

/// 11: verify --design checks the model the design came from.
#[test]
fn verify_design_names_its_model() {
    let d = common::tmp("vdesign").join("rtl");
    ok(&run(&[&"gen", &model("jet_tagger_da.keras"), &"-o", &d]));
    let e = fails(&run(&[&"verify", &model("jet_tagger.keras"), &"--design", &d]), "this design was generated from jet_tagger_da");
    assert!(e.contains("sha256"), "{e}");
    // A missing folder is named as such, before anything else is printed
    // (cross-check batch 10: it said `files.f: No such file or directory`
    // after an input-format line).
    let missing = d.with_file_name("nodir");
    let o = run(&[&"verify", &model("jet_tagger.keras"), &"--design", &missing]);
    let e = fails(&o, "nodir: no such design folder");
    assert!(e.trim().lines().count() == 1, "{e}");
}

/// verify --design compares a design with the golden model it was
/// generated against (cross-check batch 12: a design made with --config
/// and verified without it failed, "114 samples differ", first at the
/// layer the config changed): other precision options are refused
/// naming gen's, and architecture options, which --design ignored, are
/// refused. Options that change only the architecture (a config of
/// reuse factors) need not be repeated.
#[test]
fn verify_design_checks_the_options_it_was_made_with() {
    let d = common::tmp("vdesign-opts");
    let (prec, reuse) = (d.join("prec.toml"), d.join("reuse.toml"));
    std::fs::write(&prec, "[layer.fc1]\noutput = \"fixed<12,6>\"\n").unwrap();
    std::fs::write(&reuse, "[layer.fc1]\nreuse_factor = 4\n").unwrap();
    let rtl = d.join("rtl");
    ok(&run(&[&"gen", &model("jet_tagger.keras"), &"-o", &rtl, &"--config", &prec]));
    let m = std::fs::read_to_string(rtl.join("qkhw-manifest.json")).unwrap();
    assert!(m.contains("plan_sha256") && m.contains("prec.toml"), "{m}");
    let e = fails(&run(&[&"verify", &model("jet_tagger.keras"), &"--design", &rtl, &"--random", &"5"]), "this design computes another golden model than these options give");
    assert!(e.contains(&format!("gen's options: `--config {}`; here: none", prec.display())) && e.trim().lines().count() == 1, "{e}");
    let e = fails(&run(&[&"verify", &model("jet_tagger.keras"), &"--design", &rtl, &"--config", &prec, &"--reuse-factor", &"4"]), "--reuse-factor chooses the design `gen` makes");
    assert!(e.trim().lines().count() == 1, "{e}");
    // A config that only folds leaves the golden model as it is.
    let rtl2 = d.join("rtl2");
    ok(&run(&[&"gen", &model("jet_tagger.keras"), &"-o", &rtl2, &"--config", &reuse]));
    let a: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(rtl2.join("qkhw-manifest.json")).unwrap()).unwrap();
    let rtl3 = d.join("rtl3");
    ok(&run(&[&"gen", &model("jet_tagger.keras"), &"-o", &rtl3]));
    let b: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(rtl3.join("qkhw-manifest.json")).unwrap()).unwrap();
    assert_eq!(a["golden"]["plan_sha256"], b["golden"]["plan_sha256"]);
    assert_ne!(a["golden"]["plan_sha256"], serde_json::from_str::<serde_json::Value>(&m).unwrap()["golden"]["plan_sha256"]);
}

/// 13: no scale file (and no scale words) when alpha is 1; ranges in
/// interval notation; po2 says which range is the format's.
#[test]
fn quantize_messages_and_files() {
    let d = common::tmp("qmsg");
    let x = d.join("x.npy");
    std::fs::write(&x, qkhw::npy::encode_f32(&[4], &[0.3, -0.7, 0.01, 2.0])).unwrap();
    let out = ok(&run(&[&"quantize", &"quantized_bits(6,0,1,alpha=1)", &"--input", &x, &"--output", &d.join("y.npy"), &"--codes", &d.join("c.npy")]));
    assert!(!d.join("c.scale.npy").exists() && !out.contains("scale"), "{out}");
    assert!(out.contains("the format holds codes [-32, 31]") && !out.contains("..="), "{out}");
    let out = ok(&run(&[&"quantize", &"quantized_po2(4)", &"--input", &x, &"--output", &d.join("y2.npy"), &"--codes", &d.join("p.npy")]));
    assert!(out.contains("the format holds exponents") && out.contains("these data use"), "{out}");
}

/// 14: debug separates clamping below and above the range and does not call
/// a ReLU's zeroing of negatives saturation.
#[test]
fn debug_separates_relu_from_saturation() {
    let out = ok(&run(&[&"debug", &model("jet_tagger.keras"), &"--input", &golden_inputs("jet_tagger"), &"--input-format", &"fixed<16,6>"]));
    let relu1 = out.lines().find(|l| l.starts_with("relu1")).unwrap();
    let cols: Vec<&str> = relu1.split_whitespace().collect();
    let below = cols.iter().position(|c| c.ends_with("/64000")).unwrap();
    assert_eq!(cols[below + 1], "relu", "{relu1}");
    let high: usize = cols[below + 2].split('/').next().unwrap().parse().unwrap();
    let low: usize = cols[below].split('/').next().unwrap().parse().unwrap();
    assert!(low > 0 && high < low, "{relu1}");
    assert!(out.contains("input format fixed<16,6>"), "{out}");
}

/// 15: the HLS folder carries golden C-simulation vectors that its own
/// testbench checks (and a wrong expected code fails it).
#[test]
fn hls_testbench_checks_its_vectors() {
    common::require("g++");
    let d = common::tmp("hlsvec").join("h");
    ok(&run(&[&"gen", &model("jet_tagger.keras"), &"--target", &"hls", &"-o", &d]));
    // The ap_types headers: verify downloads and caches them.
    let cache = common::root().join("target").join("qkhw-hls-cache");
    let o = qkhw().env("QKHW_CACHE", &cache).arg("verify").arg(model("jet_tagger.keras")).args(["--target", "hls", "--random", "2"]).output().unwrap();
    ok(&o);
    let inc = walk(&cache).into_iter().find(|p| p.ends_with("ap_fixed.h")).unwrap();
    let st = Command::new("g++")
        .args(["-std=c++14", "-O1", "-w", "-I"])
        .arg(inc.parent().unwrap())
        .arg(d.join("jet_tagger.cpp"))
        .arg(d.join("jet_tagger_tb.cpp"))
        .arg("-o")
        .arg(d.join("tb"))
        .status()
        .unwrap();
    assert!(st.success());
    let o = Command::new(d.join("tb")).current_dir(&d).output().unwrap();
    let text = ok(&o);
    assert!(text.contains("100 samples") && text.contains("equal"), "{text}");
    assert!(std::fs::read_to_string(d.join("build_prj.tcl")).unwrap().contains("add_files -tb tb_vectors.txt"));
    let v = std::fs::read_to_string(d.join("tb_vectors.txt")).unwrap();
    let mut lines: Vec<String> = v.lines().map(str::to_string).collect();
    let mut codes: Vec<i64> = lines[2].split(' ').map(|c| c.parse().unwrap()).collect();
    codes[0] += 1;
    lines[2] = codes.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" ");
    std::fs::write(d.join("tb_vectors.txt"), lines.join("\n") + "\n").unwrap();
    let o = Command::new(d.join("tb")).current_dir(&d).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("sample 0 output 0"));
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// 16: an unwritable --junit path fails before any simulation.
#[test]
fn junit_path_is_checked_first() {
    let t = std::time::Instant::now();
    let e = fails(&run(&[&"verify", &model("jet_tagger.keras"), &"--target", &"c", &"--junit", &"/nonexistent/dir/j.xml"]), "does not exist");
    assert!(!e.contains("samples"), "{e}");
    assert!(t.elapsed().as_secs() < 30);
}

/// `verify --json` records the seed of its random vectors on every target
/// (cross-check batch 9: the C and HLS reports said `"seed": null`, the
/// back-pressure seed, though `--seed` had made their vectors).
#[test]
fn verify_json_records_the_input_seed() {
    let d = common::tmp("json-seed");
    let j = d.join("r.json");
    ok(&run(&[&"verify", &model("jet_tagger.keras"), &"--target", &"c", &"--random", &"3", &"--seed", &"5", &"--json", &j]));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&j).unwrap()).unwrap();
    assert_eq!((v["input_seed"].as_u64(), v["passed"].as_bool()), (Some(5), Some(true)), "{v}");
}

/// 17: hls4ml's ap_fixed spelling means what Vitis means.
#[test]
fn ap_fixed_input_format_truncates_and_wraps() {
    let d = common::tmp("apfixed");
    let x = d.join("x.npy");
    // 0.7 at 2 fraction bits: floor 0.5 (code 2), nearest 0.75 (3); 9.0
    // (code 36) in 5 bits wraps to 4, saturates to 15.
    let mut v = vec![0.0f32; 16];
    v[0] = 0.7;
    v[1] = 9.0;
    std::fs::write(&x, qkhw::npy::encode_f32(&[1, 16], &v)).unwrap();
    let codes = |f: &str| {
        let spec: qkhw::fxp::InputFormat = f.parse().unwrap();
        qkhw::golden::quantize_inputs(&v[..2], &[1, 2], spec).unwrap()
    };
    assert_eq!(codes("fixed<5,3>"), vec![3, 15]);
    assert_eq!(codes("ap_fixed<5,3>"), vec![2, 4]);
    assert_eq!(codes("ap_fixed<5,3,AP_RND_CONV,AP_SAT>"), vec![3, 15]);
    let a = d.join("a.npy");
    ok(&run(&[&"predict", &model("jet_tagger.keras"), &"--input", &x, &"--output", &a, &"--input-format", &"ap_fixed<5,3>"]));
    let b = d.join("b.npy");
    ok(&run(&[&"predict", &model("jet_tagger.keras"), &"--input", &x, &"--output", &b, &"--input-format", &"fixed<5,3>"]));
    assert_ne!(qkhw::npy::read_f32(&a).unwrap().data, qkhw::npy::read_f32(&b).unwrap().data);
    fails(&run(&[&"predict", &model("jet_tagger.keras"), &"--input", &x, &"--output", &a, &"--input-format", &"ap_fixed<5,3,AP_RND>"]), "AP_RND is not supported");
}

/// 18: rom --format c writes a header that compiles with the arrays.
#[test]
fn rom_c_has_a_header() {
    let d = common::tmp("romc").join("r");
    ok(&run(&[&"rom", &model("jet_tagger.keras"), &"--format", &"c", &"-o", &d]));
    let h = std::fs::read_to_string(d.join("jet_tagger_roms.h")).unwrap();
    assert!(h.contains("extern const int8_t fc1_kernel[FC1_KERNEL_SIZE];") || h.contains("extern const"), "{h}");
    assert!(h.contains("#define FC1_KERNEL_SIZE 1024"), "{h}");
    for f in files_in(&d).iter().filter(|f| f.ends_with(".c")) {
        let st = Command::new("gcc").args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-c", "-o", "/dev/null"]).arg(d.join(f)).status().unwrap();
        assert!(st.success(), "{f}");
    }
}

/// `--output-head argmax` on an output of one value a sample says that its
/// arg-max is always 0 (cross-check batch 14, F7: a two-head model's
/// sigmoid head got a file of zeros without a word). jet_tagger_json with
/// its `output` layer cut to one unit.
#[test]
fn argmax_of_a_one_value_output_is_said() {
    let d = common::tmp("argmax-one");
    let mut c: serde_json::Value = serde_json::from_slice(&std::fs::read(model("jet_tagger_json.json")).unwrap()).unwrap();
    for l in c["config"]["layers"].as_array_mut().unwrap() {
        if l["config"]["name"] == "output" {
            l["config"]["units"] = 1.into();
        }
    }
    std::fs::write(d.join("one.json"), serde_json::to_vec(&c).unwrap()).unwrap();
    let w = d.join("one.weights.h5");
    std::fs::copy(model("jet_tagger_json.weights.h5"), &w).unwrap();
    let f = hdf5_pure::File::open_rw(&w).unwrap();
    let layers = f.root().group("layers").unwrap();
    let key = layers
        .groups()
        .unwrap()
        .into_iter()
        .find(|k| layers.group(&format!("{k}/vars")).unwrap().attrs().unwrap().get("name").and_then(|v| v.as_str().map(str::to_string)).as_deref() == Some("output"))
        .expect("the output layer's weights");
    f.root().delete(&format!("layers/{key}/vars/0")).unwrap();
    f.root().delete(&format!("layers/{key}/vars/1")).unwrap();
    f.commit().unwrap();
    let vars = f.root().group(&format!("layers/{key}/vars")).unwrap();
    vars.create_dataset("0", |b| {
        b.with_f32_data(&[0.25; 32]).with_shape(&[32, 1]);
    })
    .unwrap();
    vars.create_dataset("1", |b| {
        b.with_f32_data(&[0.5]).with_shape(&[1]);
    })
    .unwrap();
    f.commit().unwrap();
    drop(f);
    let text = ok(&run(&[&"predict", &d.join("one.json"), &"--input", &golden_inputs("jet_tagger"), &"--output-head", &"argmax", &"-o", &d.join("y.npy")]));
    assert!(text.contains("output `output` has one value a sample, so its arg-max is always 0"), "{text}");
    let text = ok(&run(&[&"predict", &d.join("one.json"), &"--input", &golden_inputs("jet_tagger"), &"-o", &d.join("z.npy")]));
    assert!(!text.contains("arg-max is always 0"), "{text}");
}

/// 19: the arg-max head in the golden model, C, both HLS flavors and
/// Verilator, equal to numpy's argmax (first index) of the golden logits.
#[test]
fn argmax_head_in_every_target() {
    for name in ["jet_tagger", "cnn_bn"] {
        let g = qkhw::load_graph(model(&format!("{name}.keras")), Default::default()).unwrap();
        let (plan, _) = qkhw::golden::hardware_plan(&g, None, &Default::default()).unwrap();
        let cfg = qkhw::passes::config::Config { output_head: qkhw::passes::config::OutputHead::Argmax, ..Default::default() };
        let (head, _) = qkhw::golden::hardware_plan(&g, None, &cfg).unwrap();
        let (codes, n) = common::vectors(&g, name, 300, 7);
        let logits = qkhw::golden::run(&plan, &codes, n, qkhw::golden::Keep::Outputs, 1).unwrap();
        let idx = qkhw::golden::run(&head, &codes, n, qkhw::golden::Keep::Outputs, 1).unwrap();
        let l = logits.codes(plan.outputs[0]);
        let per = l.len() / n;
        let want: Vec<i128> = l.chunks(per).map(|c| c.iter().enumerate().fold(0, |b, (k, v)| if *v > c[b] { k } else { b }) as i128).collect();
        assert_eq!(idx.codes(head.outputs[0]), want.as_slice(), "{name}: golden argmax");
        assert!(want.iter().any(|&w| w != want[0]), "{name}: the vectors reach several classes");
        for target in [vec!["--target", "c"], vec!["--target", "hls"], vec!["--target", "hls", "--flavor", "catapult"], vec!["--target", "verilog"]] {
            let o = qkhw()
                .env("QKHW_CACHE", common::root().join("target").join("qkhw-hls-cache"))
                // Verilator's C++ at -O0: half the build, and 600 samples
                // simulate in well under a second either way.
                .env("QKHW_VERILATOR_OPT", "-O0")
                .arg("verify")
                .arg(model(&format!("{name}.keras")))
                .args(&target)
                .args(["--output-head", "argmax", "--random", "300", "--seed", "7", "--input"])
                .arg(golden_inputs(name))
                .output()
                .unwrap();
            let text = ok(&o);
            assert!(text.contains("all equal"), "{name} {target:?}: {text}");
        }
    }
}

/// 9: values wider than 64 bits run in C (two-word arithmetic) and in HLS
/// (128-bit ap_int inside; a port that wide is refused with the layer named).
#[test]
fn wide_values_run_in_c() {
    let g = qkhw::load_graph(model("cnn_bn.keras"), Default::default()).unwrap();
    let f: qkhw::fxp::InputFormat = "fixed<48,8>".parse().unwrap();
    let (plan, _) = qkhw::golden::hardware_plan(&g, Some(f), &Default::default()).unwrap();
    let wide: Vec<&str> = plan.steps.iter().filter(|s| s.fmt.width > 64).filter_map(|s| s.layer.as_deref()).collect();
    assert!(!wide.is_empty(), "the test needs a layer wider than 64 bits");
    let text = ok(&run(&[&"verify", &model("cnn_bn.keras"), &"--target", &"c", &"--input-format", &"fixed<48,8>", &"--input", &golden_inputs("cnn_bn"), &"--random", &"500"]));
    assert!(text.contains("all equal"), "{text}");
    let d = common::tmp("widec");
    ok(&run(&[&"gen", &model("cnn_bn.keras"), &"--target", &"c", &"--input-format", &"fixed<48,8>", &"-o", &d.join("c")]));
    assert!(std::fs::read_to_string(d.join("c/cnn_bn.h")).unwrap().contains("__extension__ typedef __int128 qkhw_wide;"));
    // HLS: 128-bit ap_int inside; an output that wide has no C type at the port.
    ok(&run(&[&"gen", &model("cnn_bn.keras"), &"--target", &"hls", &"--input-format", &"fixed<48,8>", &"-o", &d.join("h")]));
    assert!(std::fs::read_to_string(d.join("h/cnn_bn.h")).unwrap().contains("typedef ap_int<128> qkhw_wide;"));
    let cfg = d.join("w80.toml");
    std::fs::write(&cfg, "[layer.dense]\noutput = \"fixed<80,20>\"\n").unwrap();
    let e = fails(&run(&[&"gen", &model("cnn_bn.keras"), &"--target", &"hls", &"--input-format", &"fixed<48,8>", &"--config", &cfg, &"-o", &d.join("h80")]), "wider than 64 bits");
    assert!(e.contains("layer `dense`"), "{e}");
    assert!(!d.join("h80").exists());
}

/// 22: help says what MODEL is and which flags apply to which target;
/// inspect names quantizers, gives every layer a format, the whole SHA-256.
#[test]
fn help_and_inspect_speak_plainly() {
    for cmd in ["gen", "verify", "predict", "inspect", "weights", "rom", "dump", "debug"] {
        let h = String::from_utf8(qkhw().args([cmd, "--help"]).output().unwrap().stdout).unwrap();
        assert!(h.contains(".keras file") && h.contains("legacy full-model .h5"), "{cmd}: {h}");
    }
    let h = String::from_utf8(qkhw().args(["verify", "--help"]).output().unwrap().stdout).unwrap();
    assert!(h.contains("Flags by target") && h.contains("gcc") && h.contains("g++"), "{h}");
    let t = ok(&run(&[&"inspect", &model("jet_tagger.keras")]));
    let g = qkhw::load_graph(model("jet_tagger.keras"), Default::default()).unwrap();
    assert!(t.contains(&g.sha256) && g.sha256.len() == 64, "{t}");
    assert!(t.contains("kernel quantizer: quantized_bits") && !t.contains("quantizer[0]"), "{t}");
    let fc1 = t.lines().find(|l| l.starts_with("fc1 ")).unwrap();
    assert!(fc1.contains("fixed<"), "QDense rows have their output format: {fc1}");
    assert!(!t.contains(" 1 zeros"), "{t}");
}

/// A plain (float) Keras model: its float32 weights are held exactly, and
/// a batch norm's scaled values outgrow 127 bits. The error says the layer
/// is not quantized and points at `quantize-model` (it said only "a scaled
/// value needs more than 127 bits"; found by cross-check batch 4), and
/// nothing is written.
#[test]
fn a_float_model_is_told_to_quantize_first() {
    let f = common::root().join("examples/float_models/cnn.keras");
    let out = common::tmp("float-model-out");
    let _ = std::fs::remove_dir_all(&out);
    let e = fails(&run(&[&"gen", &f, &"--target", &"c", &"-o", &out]), "layer `bn2`");
    assert!(e.contains("is not quantized") && e.contains("qkhw quantize-model"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(!out.exists());
}

/// `inspect` lists every layer of a model with layers qkhw does not build,
/// each marked with why, and says that predict / gen / verify refuse the
/// model (it stopped at the first one with an error, so a user learned
/// about them one at a time).
#[test]
fn inspect_marks_every_layer_qkhw_does_not_build() {
    let m = common::root().join("tests/golden/weights_skipped/masking.keras");
    let o = qkhw().arg("inspect").arg(&m).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let marked: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("not built by qkhw:")).collect();
    assert_eq!(marked.len(), 3, "NotEqual, Masking, Any: {text}");
    assert!(text.contains("qlstm_2") && text.contains("predict, gen and verify refuse this model: 3 layer(s)"), "{text}");
    // What only predict refuses (an initial_state) is said too: it was
    // listed as a layer like any other (a cross-check).
    let m = common::root().join("tests/golden/weights_skipped/initial_state.keras");
    let o = qkhw().arg("inspect").arg(&m).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && text.contains("refuse this model") && text.contains("initial_state"), "{text}");
    // A model qkhw runs says nothing of the kind.
    let o = qkhw().arg("inspect").arg(model("jet_tagger.keras")).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!text.contains("not built") && !text.contains("refuse"), "{text}");
    // A layer with quantizers qkhw does not build (a grouped QConv2D) is
    // marked, and its weights are not counted unquantized as sparsity.
    let dir = common::tmp("inspect-grouped");
    let grouped = dir.join("grouped.keras");
    common::edit_keras_config(&model("cnn_bn.keras"), &grouped, |text| text.replacen("\"groups\": 1", "\"groups\": 2", 1));
    let o = qkhw().arg("inspect").arg(&grouped).arg("--json").output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    let conv1 = doc["layers"].as_array().unwrap().iter().find(|l| l["name"] == "conv1").unwrap();
    assert!(conv1["not_built"].as_str().is_some_and(|w| w.contains("groups")) && conv1["sparsity"].is_null(), "{conv1}");
    // A recurrent layer's state quantizer is listed with its others (only
    // a QBidirectional's were).
    let o = qkhw().arg("inspect").arg(model("rnn_lstm.keras")).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("    state quantizer: quantized_bits("));
}

/// An output file in a folder that does not exist is refused, by every
/// command that writes one, before it runs and without creating the
/// folder (`predict -o` and `weights --json` made it silently; a
/// cross-check).
#[test]
fn an_output_file_in_a_missing_folder_is_refused() {
    let d = common::tmp("missing-folder");
    let missing = d.join("no_such_dir");
    let x = golden_inputs("jet_tagger");
    let m = model("jet_tagger.keras");
    for args in [
        vec!["predict".to_string(), m.display().to_string(), "--input".into(), x.display().to_string(), "-o".into(), missing.join("y.npy").display().to_string()],
        vec!["predict".to_string(), m.display().to_string(), "--input".into(), x.display().to_string(), "-o".into(), d.join("y.npy").display().to_string(), "--codes".into(), missing.join("c.npy").display().to_string()],
        vec!["weights".to_string(), m.display().to_string(), "--json".into(), missing.join("w.json").display().to_string()],
    ] {
        let a: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|s| s as &dyn AsRef<std::ffi::OsStr>).collect();
        let e = fails(&run(&a), "does not exist");
        assert!(e.contains("no_such_dir") && e.trim().lines().count() == 1, "{args:?}: {e}");
        assert!(!missing.exists() && !d.join("y.npy").exists(), "{args:?}: wrote something");
    }
}
