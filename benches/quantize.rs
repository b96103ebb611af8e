//! Values per second of QKeras-exact quantization on 1M float32 values, one
//! core. `benches/peers/quantize_qkeras.py` times QKeras on the same data;
//! run both with `bash benches/peers/run_quantize.sh` for the side-by-side.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qkhw::quant::{InternalSigmoid, Quantizer};
use std::hint::black_box;

/// The same 1M values the peer script draws: normal(0, 1.5), seed 0, by
/// a fixed LCG + Box-Muller so both sides need no shared file.
pub fn data() -> Vec<f32> {
    let mut s: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..1_000_000)
        .map(|_| {
            let (u, v) = (next(), next());
            (1.5 * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let x = data();
    let mut g = c.benchmark_group("quantize");
    g.throughput(Throughput::Elements(x.len() as u64));
    g.sample_size(20);
    let mut out = vec![0f32; x.len()];
    for spec in ["quantized_bits(8,0,1)", "quantized_po2(4)", "quantized_relu(6)"] {
        let q = Quantizer::parse(spec, InternalSigmoid::Hard).unwrap();
        // Into a reused buffer (as the golden model runs), and allocating.
        g.bench_function(spec, |b| {
            b.iter(|| q.apply_into(black_box(&x), &[x.len()], &mut out).unwrap())
        });
        g.bench_function(format!("{spec} alloc"), |b| b.iter(|| q.apply(black_box(&x)).unwrap()));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
