//! The Verilog backend end to end: every example model the golden model runs is
//! generated, lint-clean under `verilator -Wall`, compiles with
//! `iverilog -g2005`, and simulates equal to the golden model on all its
//! golden inputs plus 1,000 random input codes (10,000 with `QKHW_LONG=1`) with random back-pressure
//! (Verilator); the largest unrolled designs (`LONG_ONLY`) are only
//! compiled by Icarus unless `QKHW_LONG=1`; the two jet taggers also on Icarus (200 golden inputs plus 50 random
//! codes; all and 10,000 with `QKHW_LONG=1`). A corrupted weight is
//! caught and its layer named. Models it does not take give a clear error.

mod common;

use std::process::Command;

use qkhw::backend::verilog::{self, files, Options};
use qkhw::ir::BuildOptions;
use qkhw::verify::{self, DesignDir};

/// Every example model (but those `tests/stream.rs` verifies streamed:
/// the MLPerf-size ones, stream_resnet and stream_two_images).
const TAKEN: &[&str] = &[
    "auto_po2_mlp", "binary_ternary", "bn_variants", "cnn_bn", "conv_bn_folded", "dense_bn_folded", "dense_relu_tail", "functional_add", "index_layers", "merges", "merges_conv",
    "jet_tagger", "jet_tagger_da", "kernel_variants", "po2_mlp", "pooling", "two_heads", "zoo_conv1d", "zoo_conv2d", "zoo_hswish", "conv_transpose_pad", "act_alpha", "const_outputs", "two_inputs", "avg_divide", "avg_merge", "stream_cnn",
    "rnn_simple", "rnn_lstm", "rnn_gru", "rnn_bilstm", "zoo_rnn", "dscnn_bn",
];

fn generate(name: &str, opts: &Options, tag: &str) -> (qkhw::ir::Graph, DesignDir, qkhw::plan::Plan) {
    let g = qkhw::load_graph(common::root().join(format!("examples/models/{name}.keras")), BuildOptions::default()).unwrap();
    let (d, plan, _) = verilog::from_graph(&g, None, &Default::default(), opts).unwrap();
    let dir = common::tmp(&format!("{name}-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    files::write(&d, &dir, opts, &qkhw::backend::folder::Origin { model: &g.name, sha256: &g.sha256, target: "verilog", golden: None }, true).unwrap();
    (g, DesignDir::read(&dir).unwrap(), plan)
}

/// `iverilog -g2005` compiles `d`.
fn icarus_compiles(d: &DesignDir) {
    let files: Vec<_> = d.files.iter().map(|f| d.dir.join(f)).collect();
    let o = Command::new("iverilog").args(["-g2005", "-o", "/dev/null"]).args(&files).output().unwrap();
    assert!(o.status.success(), "{}: iverilog -g2005: {}", d.interface.top, String::from_utf8_lossy(&o.stderr));
}

/// The unrolled designs Icarus takes 17 to 102 s each to compile (the
/// recurrent ones: zoo_rnn 90 s, rnn_bilstm 102 s; the largest CNNs:
/// zoo_conv2d 17 s, stream_cnn 20 s): by default they are only generated,
/// `QKHW_LONG=1` lints them and compiles them with Icarus too (the
/// recurrent ones' folded, time-iterating designs are what `verify` runs
/// by default; the CNNs are simulated folded and streamed).
const ICARUS_LONG_ONLY: &[&str] = &["zoo_rnn", "rnn_lstm", "rnn_gru", "rnn_bilstm", "zoo_conv2d", "stream_cnn"];

/// The largest unrolled designs: each takes Verilator 40 to 150 s to
/// build on a 2-core machine, and 15 to 70 s to lint. By default Icarus
/// compiles them (except `ICARUS_LONG_ONLY`) (and they are verified in C,
/// both HLS flavors and folded: the recurrent ones iterating over time,
/// `tests/folded.rs`, whose designs Verilator lints); `QKHW_LONG=1` also
/// lints them and runs them on Verilator. rnn_simple keeps a recurrent layer
/// unrolled over time in the default run. jet_tagger too: the default
/// verifies it on Icarus (`icarus_agrees_on_the_jet_taggers`), and
/// two_inputs (`two_inputs_get_one_port_each` verifies it on both
/// simulators, with AXI names), and cnn_bn (`tests/new_user.rs`
/// `argmax_head_in_every_target` verifies its unrolled design, with an
/// arg-max head, on Verilator).
const LONG_ONLY: &[&str] =
    &["jet_tagger", "two_inputs", "cnn_bn", "merges_conv", "pooling", "zoo_conv2d", "stream_cnn", "avg_divide", "index_layers", "two_heads", "zoo_conv1d", "conv_bn_folded", "dscnn_bn", "zoo_rnn", "rnn_lstm", "rnn_gru", "rnn_bilstm"];

#[test]
fn every_model_is_lint_clean_and_verified_on_verilator() {
    lint_and_verify(TAKEN.iter().step_by(4));
}

// The other quarters of the models (four tests, so both cores work to
// the end: the Verilator builds and runs are the suite's longest path).
#[test]
fn every_model_is_lint_clean_and_verified_on_verilator_2() {
    lint_and_verify(TAKEN.iter().skip(1).step_by(4));
}

#[test]
fn every_model_is_lint_clean_and_verified_on_verilator_3() {
    lint_and_verify(TAKEN.iter().skip(2).step_by(4));
}

#[test]
fn every_model_is_lint_clean_and_verified_on_verilator_4() {
    lint_and_verify(TAKEN.iter().skip(3).step_by(4));
}

fn lint_and_verify<'a>(models: impl Iterator<Item = &'a &'a str>) {
    common::require("verilator");
    common::require("iverilog");
    // Lint-clean: the build fails on any warning of `verilator -Wall`.
    let sim = verify::verilator::Verilator::new(common::cache()).quick_build().lint_clean();
    let mut report = vec![];
    for name in models {
        let (g, d, plan) = generate(name, &Options::default(), "dsp");
        if LONG_ONLY.contains(name) && !common::long() {
            // Verilator's lint of these takes 15 to 70 s each: Icarus
            // compiles them as Verilog-2005 (but `ICARUS_LONG_ONLY`).
            if !ICARUS_LONG_ONLY.contains(name) {
                icarus_compiles(&d);
            }
            continue;
        }
        if common::long() || !ICARUS_LONG_ONLY.contains(name) {
            icarus_compiles(&d);
        }
        let (codes, n) = common::vectors(&g, name, common::long_random(), 42);
        let r = verify::verify(&sim, &d, &plan, &codes, n, 7, None).unwrap();
        assert!(r.passed(), "{}", r.text());
        assert!(n >= common::long_random() + 256, "{name}: {n}");
        assert!(r.latency_cycles >= 2);
        report.push(format!("{name}: {n} samples, latency {} cycles, build {:.1} s, {:.0} inferences/s", r.latency_cycles, r.build_secs, r.throughput));
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn jet_tagger_da_variants_no_dsp_and_axis_names() {
    common::require("verilator");
    common::require("iverilog");
    let sim = verify::verilator::Verilator::new(common::cache()).quick_build().lint_clean();
    for (opts, tag) in [
        (Options { no_dsp: true, ..Default::default() }, "nodsp"),
        (Options { axis_names: true, pipeline_levels: 2, ..Default::default() }, "axis"),
    ] {
        let (g, d, plan) = generate("jet_tagger_da", &opts, tag);
        icarus_compiles(&d);
        if opts.no_dsp {
            let text: String = d.files.iter().map(|f| std::fs::read_to_string(d.dir.join(f)).unwrap()).collect();
            assert!(!text.contains(" * "), "--no-dsp leaves no multiplier");
        }
        let (codes, n) = common::vectors(&g, "jet_tagger_da", 2_000, 42);
        let r = verify::verify(&sim, &d, &plan, &codes, n, 11, None).unwrap();
        assert!(r.passed(), "{tag}: {}", r.text());
    }
}

#[test]
fn icarus_agrees_on_the_jet_taggers() {
    common::require("iverilog");
    // Icarus runs a few hundred inferences a second here: one thread each,
    // on the first 200 of the 1,000 golden inputs and 50 random codes (all
    // and 10,000 with QKHW_LONG=1; all and 200 took 266 s of the test
    // command's time on two cores), Verilator taking all and 1,000.
    let (golden, random) = if common::long() { (usize::MAX, common::long_random()) } else { (200, 50) };
    std::thread::scope(|s| {
        for name in ["jet_tagger", "jet_tagger_da"] {
            s.spawn(move || {
                let (g, d, plan) = generate(name, &Options::default(), &format!("iv-{name}"));
                let (codes, n) = common::vectors_first(&g, name, golden, random, 42);
                let r = verify::verify(&verify::icarus::Icarus, &d, &plan, &codes, n, 3, None).unwrap();
                assert!(r.passed(), "{}", r.text());
                eprintln!("{}", r.text());
            });
        }
    });
}

#[test]
fn a_corrupted_weight_is_caught_and_its_layer_named() {
    common::require("verilator");
    let (g, d, plan) = generate("jet_tagger_da", &Options::default(), "corrupt");
    // One operator of fc2 changed (an adder of its shared shift-adds).
    let f = d.dir.join("jet_tagger_da_fc2.v");
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, common::corrupt_one_operator(&text)).unwrap();
    let (codes, n) = common::vectors(&g, "jet_tagger_da", 1_000, 42);
    // A cache folder of its own, so that it builds: Verilator's builds go
    // through ccache (the test command installs it), its store in the
    // cache folder, not in $HOME.
    common::require("ccache");
    let cache = common::tmp("own-cache");
    let sim = verify::verilator::Verilator::new(cache.clone()).quick_build();
    let r = verify::verify(&sim, &d, &plan, &codes, n, 5, None).unwrap();
    assert!(!r.passed());
    assert!(cache.join("ccache").read_dir().is_ok_and(|mut d| d.next().is_some()), "no ccache store in {}", cache.display());
    let m = r.first.as_ref().unwrap();
    assert_eq!(m.layer.as_deref(), Some("fc2"), "{}", r.text());
    assert!(r.junit("jet_tagger_da").contains("<failure"));
}

/// A lint-clean build (how the tests lint what they simulate) refuses a
/// design `verilator -Wall` warns about, naming the warning; the same
/// design builds and passes without it (Verilator's `-Wno-fatal`, what
/// `qkhw verify` does with a user's design).
#[test]
fn a_lint_clean_build_refuses_a_warning() {
    common::require("verilator");
    let (g, d, plan) = generate("functional_add", &Options::default(), "lintbuild");
    let top = d.dir.join(format!("{}.v", d.interface.top));
    let text = std::fs::read_to_string(&top).unwrap();
    let at = text.rfind("endmodule").unwrap();
    std::fs::write(&top, format!("{}wire qkhw_probe_unread = 1'b0;\n{}", &text[..at], &text[at..])).unwrap();
    let (codes, n) = common::vectors(&g, "functional_add", 10, 3);
    let sim = verify::verilator::Verilator::new(common::cache()).quick_build();
    let e = verify::verify(&sim.lint_clean(), &d, &plan, &codes, n, 5, None).unwrap_err().to_string();
    assert!(e.contains("%Warning-UNUSED") && e.contains("qkhw_probe_unread"), "{e}");
    let sim = verify::verilator::Verilator::new(common::cache()).quick_build();
    assert!(verify::verify(&sim, &d, &plan, &codes, n, 5, None).unwrap().passed());
}

/// A layer's module reads each input port at the latency of the step that
/// reads it: a port first read after the module's earlier steps added
/// pipeline stages goes through the delay line a later read takes. Before,
/// a first read came straight from the port, so that step mixed the
/// sample with the next one (a streamed bidirectional LSTM whose
/// projections ran per beat gave wrong outputs once the next sample
/// entered; a rerun of one sample agreed). The plan is written for it: one
/// module whose Dense reads input `a` (two adder levels, one a stage) and
/// whose Add then reads input `b`; Icarus runs samples back to back.
#[test]
fn a_port_first_read_late_in_a_module_is_delayed_to_its_step() {
    use qkhw::fxp::FixedFormat;
    use qkhw::plan::{MergeKind, Step, StepOp};
    common::require("iverilog");
    let g = qkhw::load_graph(common::root().join("examples/models/two_inputs.keras"), BuildOptions::default()).unwrap();
    let (mut plan, _) = qkhw::golden::hardware_plan(&g, None, &Default::default()).unwrap();
    let fmt = |w| FixedFormat::new(w, 0, true).unwrap();
    let step = |layer: Option<&str>, inputs: Vec<usize>, w: u32, lo: i128, hi: i128, op: StepOp| Step { layer: layer.map(String::from), inputs, shape: vec![4], fmt: fmt(w), lo, hi, op };
    let w: Vec<i128> = (0..16).map(|k| (k * 5 % 7) - 3).collect();
    plan.steps = vec![
        step(Some("a"), vec![], 8, -128, 127, StepOp::Input),
        step(Some("b"), vec![], 8, -128, 127, StepOp::Input),
        step(None, vec![0], 12, -1536, 1536, StepOp::Dense { rows: 1, n_in: 4, n_out: 4, w, b: vec![0; 4] }),
        step(Some("sum"), vec![2, 1], 12, -1664, 1663, StepOp::Merge { kind: MergeKind::Add, shifts: vec![0, 0] }),
    ];
    (plan.inputs, plan.outputs, plan.max_width) = (vec![0, 1], vec![3], 12);
    plan.parts.clear();
    plan.divides.clear();
    let opts = Options { pipeline_levels: 1, ..Default::default() };
    let d = verilog::generate(&g, &plan, &opts, &qkhw::arch::schedule::schedule(&plan, None, &Default::default())).unwrap();
    assert!(d.layers.iter().any(|l| l.layer == "sum" && l.latency >= 1), "the Dense takes a stage");
    let dir = common::tmp("port-read-late");
    let _ = std::fs::remove_dir_all(&dir);
    files::write(&d, &dir, &opts, &qkhw::backend::folder::Origin { model: &g.name, sha256: &g.sha256, target: "verilog", golden: None }, true).unwrap();
    let n = 200;
    let codes: Vec<i128> = (0..n * 8).map(|k| ((k * 37 + k / 8 * 11) % 256) as i128 - 128).collect();
    let r = verify::verify(&verify::icarus::Icarus, &DesignDir::read(&dir).unwrap(), &plan, &codes, n, 3, None).unwrap();
    assert!(r.passed(), "{}", r.text());
}

/// A model with two inputs: one port pair per input (DESIGN.md), each
/// filling its own holding register. Both simulators drive the ports with
/// independent random gaps; a corrupted operator is caught; the folded
/// design (initiation interval above 1) joins its inputs the same way.
#[test]
fn two_inputs_get_one_port_each() {
    common::require("verilator");
    common::require("iverilog");
    let (g, d, plan) = generate("two_inputs", &Options { axis_names: true, ..Default::default() }, "ports");
    let ports: Vec<(String, Option<String>)> = d.interface.input_ports().into_iter().map(|(p, port)| (p, port.name.clone())).collect();
    assert_eq!(
        ports,
        [("s_axis_image".to_string(), Some("image".to_string())), ("s_axis_features".to_string(), Some("features".to_string()))]
    );
    let (fi, ff) = (&d.interface.inputs[0], &d.interface.inputs[1]);
    assert_eq!((fi.width, fi.frac, ff.width, ff.frac), (8, 5, 8, 4));
    let (codes, n) = common::vectors(&g, "two_inputs", 300, 8);
    assert_eq!(codes.len(), n * (36 + 5));
    for sim in [&verify::verilator::Verilator::new(common::cache()).quick_build() as &dyn verify::Simulator, &verify::icarus::Icarus] {
        let r = verify::verify(sim, &d, &plan, &codes, n, 21, None).unwrap();
        assert!(r.passed(), "{}", r.text());
    }
    let top = d.dir.join("two_inputs_out.v");
    let text = std::fs::read_to_string(&top).unwrap();
    std::fs::write(&top, common::corrupt_one_operator(&text)).unwrap();
    let bad = DesignDir::read(&d.dir).unwrap();
    let r = verify::verify(&verify::verilator::Verilator::new(common::cache()).quick_build(), &bad, &plan, &codes, n, 21, None).unwrap();
    assert!(!r.passed());
    assert_eq!(r.first.as_ref().and_then(|m| m.layer.as_deref()), Some("out"), "{}", r.text());
}

#[test]
fn generation_is_deterministic() {
    let a = generate("jet_tagger_da", &Options::default(), "det1").1;
    let b = generate("jet_tagger_da", &Options::default(), "det2").1;
    for f in a.files.iter().chain(["interface.json", "report.json", "files.f", "README.md"].iter().map(|s| s.to_string()).collect::<Vec<_>>().iter()) {
        assert_eq!(std::fs::read(a.dir.join(f)).unwrap(), std::fs::read(b.dir.join(f)).unwrap(), "{f}");
    }
}
