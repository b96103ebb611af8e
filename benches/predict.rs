//! The golden model's throughput: `qkhw predict` on jet_tagger (batch
//! 100,000) and the CNN (batch 10,000), raw float inputs (the default
//! semantics), both cores. Peers: benches/peers/predict_peers.py.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use qkhw::golden::{predict, PredictOptions};
use qkhw::ir::BuildOptions;

fn inputs(n: usize, per: usize) -> Vec<f32> {
    // xorshift normal-ish values, deterministic
    let mut s = 0x9E3779B97F4A7C15u64;
    (0..n * per)
        .map(|_| {
            let mut acc = 0.0f32;
            for _ in 0..4 {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                acc += (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            }
            acc * 1.7
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models");
    let mut g = c.benchmark_group("predict");
    g.sample_size(10);
    for (name, n, shape) in [("jet_tagger", 100_000usize, vec![16usize]), ("cnn_bn", 10_000, vec![8, 8, 1])] {
        let graph = qkhw::load_graph(dir.join(format!("{name}.keras")), BuildOptions::default()).unwrap();
        let per: usize = shape.iter().product();
        let x = inputs(n, per);
        let mut full = vec![n];
        full.extend(&shape);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(name, |b| b.iter(|| predict(&graph, &x, &full, &PredictOptions::default()).unwrap().output_f32(0)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
