//! `qkhw gen --target verilog` on jet_tagger_da: load, plan, build the RTL
//! and render every file (in memory), with and without --no-dsp.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use qkhw::backend::verilog::{from_graph, Options};
use qkhw::ir::BuildOptions;

fn bench(c: &mut Criterion) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/jet_tagger_da.keras");
    let mut g = c.benchmark_group("gen");
    for (name, no_dsp) in [("jet_tagger_da", false), ("jet_tagger_da --no-dsp", true)] {
        let opts = Options { no_dsp, ..Default::default() };
        g.bench_function(name, |b| {
            b.iter(|| {
                let graph = qkhw::load_graph(&p, BuildOptions::default()).unwrap();
                from_graph(&graph, None, &Default::default(), &opts).unwrap().0.files.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
