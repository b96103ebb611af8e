//! Where `predict` spends its time, phase by phase (a profiling aid):
//! `cargo run --release --example predict_timing -- MODEL N`.
use qkhw::golden::{self, Keep};
use qkhw::ir::BuildOptions;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = args.get(1).map(String::as_str).unwrap_or("examples/models/jet_tagger.keras");
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let g = qkhw::load_graph(model, BuildOptions::default()).unwrap();
    let shape = g.layers[g.inputs[0].0].shape.clone();
    let per: usize = shape.iter().product();
    // X=file.npy to time real inputs (raw normal floats need a 46-bit input format).
    let x: Vec<f32> = match std::env::var("X") {
        Ok(p) => qkhw::npy::read_f32(std::path::Path::new(&p)).unwrap().data,
        Err(_) => (0..n * per).map(|i| ((i * 7919 % 1000) as f32 / 300.0) - 1.6).collect(),
    };
    let n = x.len() / per;
    let t = Instant::now();
    let (f, lo, hi) = golden::exact_inputs(&x, &[x.len()]).unwrap();
    eprintln!("exact input format {f}: {:?}", t.elapsed());
    let plan = qkhw::plan::plan(&g, qkhw::plan::InputSpec::exact(f, lo, hi)).unwrap();
    eprintln!("max width {}", plan.max_width);
    for threads in [1, 2] {
        let t = Instant::now();
        let input = golden::Input::Exact { x: &x, frac: f.frac };
        let _r = golden::run_progress(&plan, input, n, Keep::Outputs, threads, &|_| {}).unwrap();
        let s = t.elapsed().as_secs_f64();
        eprintln!("run, {threads} threads: {s:.3} s = {:.0} inferences/s", n as f64 / s);
    }
}
