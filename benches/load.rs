//! Loading a model and producing its `model_save_quantized_weights` dict
//! (as JSON text), and its ROMs: the work of `qkhw weights` / `qkhw rom`.
//! Peer: benches/peers/load_qkeras.py (QKeras load_model +
//! model_save_quantized_weights), side by side via run_load.sh.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use qkhw::ir::BuildOptions;

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models");
    let mut g = c.benchmark_group("load");
    for name in ["jet_tagger.keras", "jet_tagger.h5", "cnn_bn.keras"] {
        let p = dir.join(name);
        g.bench_function(format!("{name}/weights_json"), |b| {
            b.iter(|| {
                let graph = qkhw::load_graph(&p, BuildOptions::default()).unwrap();
                let d = qkhw::passes::hw_weights::model_save_quantized_weights(&graph).unwrap();
                serde_json::to_string(&d.to_json()).unwrap()
            })
        });
    }
    let p = dir.join("jet_tagger.keras");
    g.bench_function("jet_tagger.keras/hw_tensors", |b| {
        b.iter(|| {
            let graph = qkhw::load_graph(&p, BuildOptions::default()).unwrap();
            qkhw::passes::hw_tensors::hw_tensors(&graph).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
