//! Snapshots (insta) of the text each backend generates for a tiny model
//! (`tests/snapshots/tiny.keras`, from `make_tiny.py`): any change in the
//! generated Verilog, C or HLS C++ shows up as a reviewable diff. The
//! numbers themselves are checked elsewhere, bit for bit, by simulation.
//! Review and accept changes with `cargo insta review` (or
//! `INSTA_UPDATE=always cargo test --test snapshots`).

mod common;

use qkhw::backend::hls::Flavor;
use qkhw::ir::BuildOptions;

const HEADER: &str = "qkhw snapshot";

fn tiny() -> qkhw::ir::Graph {
    qkhw::load_graph(common::root().join("tests/snapshots/tiny.keras"), BuildOptions::default()).unwrap()
}

fn plan(g: &qkhw::ir::Graph) -> qkhw::plan::Plan {
    let (spec, _, _) = qkhw::golden::hardware_input(g, None, &Default::default()).unwrap();
    qkhw::plan::plan_with(g, spec, &Default::default()).unwrap()
}

/// Every file of the design folder `gen --target verilog` writes, except
/// the hand-written primitives (copied from `hw/`, tested on their own).
fn verilog(no_dsp: bool, axis_names: bool, tag: &str) {
    let g = tiny();
    let opts = qkhw::backend::verilog::Options { pipeline_levels: 4, no_dsp, axis_names, internal_sigmoid: qkhw::quant::InternalSigmoid::Hard, header: HEADER.into(), ..Default::default() };
    let (d, _, _) = qkhw::backend::verilog::from_graph(&g, None, &Default::default(), &opts).unwrap();
    let dir = common::tmp(&format!("snap-{tag}"));
    qkhw::backend::verilog::files::write(&d, &dir, &opts, &qkhw::backend::folder::Origin { model: &g.name, sha256: "0", target: "verilog", golden: None }, true).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for name in names.iter().filter(|n| !n.starts_with("qkhw_")) {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        insta::assert_snapshot!(format!("{tag}__{name}"), text);
    }
}

#[test]
fn verilog_default() {
    verilog(false, false, "verilog");
}

#[test]
fn verilog_no_dsp_axis_names() {
    verilog(true, true, "verilog_no_dsp_axis");
}

#[test]
fn c() {
    let g = tiny();
    let m = qkhw::backend::c::generate(&g, &plan(&g), HEADER, qkhw::quant::InternalSigmoid::Hard).unwrap();
    insta::assert_snapshot!("c__tiny.h", m.header);
    insta::assert_snapshot!("c__tiny.c", m.source);
}

#[test]
fn hls_both_flavors() {
    let g = tiny();
    let p = plan(&g);
    for flavor in [Flavor::Vitis, Flavor::Catapult] {
        for (name, text) in qkhw::backend::hls::generate(&g, &p, HEADER, qkhw::quant::InternalSigmoid::Hard, flavor).unwrap() {
            insta::assert_snapshot!(format!("hls_{flavor}__{name}"), text);
        }
    }
}
