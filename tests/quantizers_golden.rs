//! Every golden case from `tests/golden/gen_quantizers.py` (real QKeras),
//! compared bit for bit: float32 patterns, −0.0 ≠ 0.0, any NaN = any NaN.
//! And the hardware view: every code × scale reproduces QKeras's quantized
//! value wherever QKeras's float output is that value.

use qkhw::npy;
use qkhw::quant::{Encoding, InternalSigmoid, Quantizer};
use std::collections::BTreeMap;
use std::path::Path;

struct Golden {
    inputs: Vec<f32>,
    outputs: Vec<f32>,
    meta: serde_json::Value,
}

fn load() -> Golden {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let inputs = npy::read_f32(&dir.join("quantizers_inputs.npy")).unwrap().data;
    let outputs = npy::read_f32(&dir.join("quantizers_outputs.npy")).unwrap().data;
    let meta = serde_json::from_str(&std::fs::read_to_string(dir.join("quantizers_cases.json")).unwrap()).unwrap();
    Golden { inputs, outputs, meta }
}

fn crate_pow2(e: i32) -> f64 {
    qkhw::fxp::pow2(e)
}

fn same(a: f32, b: f32) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

struct Case<'a> {
    spec: String,
    sigmoid: InternalSigmoid,
    x: &'a [f32],
    shape: Vec<usize>,
    want: &'a [f32],
}

fn cases(g: &Golden) -> Vec<Case<'_>> {
    let mut out = vec![];
    for c in g.meta["cases"].as_array().unwrap() {
        if c.get("error").is_some() {
            continue;
        }
        let inp = &g.meta["inputs"][c["input"].as_str().unwrap()];
        let shape: Vec<usize> = inp["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        let n: usize = shape.iter().product();
        let xo = inp["offset"].as_u64().unwrap() as usize;
        let yo = c["offset"].as_u64().unwrap() as usize;
        out.push(Case {
            spec: c["spec"].as_str().unwrap().to_string(),
            sigmoid: c["internal_sigmoid"].as_str().unwrap().parse().unwrap(),
            x: &g.inputs[xo..xo + n],
            shape,
            want: &g.outputs[yo..yo + n],
        });
    }
    out
}

#[test]
fn every_golden_case_is_bit_exact() {
    let g = load();
    let cases = cases(&g);
    assert!(cases.len() > 300, "golden set too small: {}", cases.len());
    let mut bad = vec![];
    let mut per_family: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for c in &cases {
        let q = Quantizer::parse(&c.spec, c.sigmoid).unwrap_or_else(|e| panic!("{e}"));
        let got = q.apply_shaped(c.x, &c.shape).unwrap_or_else(|e| panic!("{e}"));
        // The one-pass path and the full evaluation must agree bit for bit.
        let full = q.eval(c.x, &c.shape).unwrap().float;
        assert!(got.iter().zip(&full).all(|(a, b)| same(*a, *b)), "{}: fast path differs", c.spec);
        let family = c.spec.split('(').next().unwrap().to_string();
        let e = per_family.entry(family).or_default();
        e.0 += 1;
        e.1 += c.x.len();
        let diffs: Vec<usize> = (0..c.x.len()).filter(|&i| !same(got[i], c.want[i])).collect();
        if !diffs.is_empty() {
            let i = diffs[0];
            bad.push(format!(
                "{} [sigmoid={}]: {} of {} differ; first x={:e} ({:#010x}) want {:e} ({:#010x}) got {:e} ({:#010x})",
                c.spec, c.sigmoid.name(), diffs.len(), c.x.len(), c.x[i], c.x[i].to_bits(),
                c.want[i], c.want[i].to_bits(), got[i], got[i].to_bits()
            ));
        }
    }
    for (f, (n, v)) in &per_family {
        println!("{f}: {n} cases, {v} values");
    }
    assert!(bad.is_empty(), "{} of {} cases differ:\n{}", bad.len(), cases.len(), bad.join("\n"));
}

#[test]
fn codes_reproduce_the_quantized_value() {
    let g = load();
    let mut checked = 0usize;
    let mut exceptions = 0usize;
    let mut refused_mixes = 0usize;
    let mut bad = vec![];
    for c in cases(&g) {
        let q = Quantizer::parse(&c.spec, c.sigmoid).unwrap();
        let Some(enc) = q.encoding() else { continue };
        // Degenerate po2 configurations (bits=1) have no power-of-two code.
        let finite: Vec<f32> = c.x.iter().map(|&v| if v.is_nan() { 0.0 } else { v }).collect();
        if q.qnoise_factor() != 1.0 {
            // A mix of float and quantized values has no integer codes.
            let e = q.hardware(&finite, &c.shape).expect_err(&c.spec).to_string();
            assert!(e.contains("not a grid of integer codes"), "{}: {e}", c.spec);
            refused_mixes += 1;
            continue;
        }
        let hw = match q.hardware(&finite, &c.shape) {
            Ok(h) => h,
            Err(e) => {
                if matches!(enc, Encoding::Po2 { .. }) && c.spec.contains("(1") {
                    continue;
                }
                bad.push(format!("{}: {e}", c.spec));
                continue;
            }
        };
        let ev = q.eval(&finite, &c.shape).unwrap();
        let scales = hw.scale.as_ref().map(|s| s.expand(&c.shape).unwrap());
        for i in 0..finite.len() {
            let grid = hw.grid_value(i);
            let xq = match &scales {
                Some(s) => (s[i] as f64 * grid) as f32,
                None => grid as f32,
            };
            // Where QKeras's output is the quantized value itself, the code
            // must give exactly that value.
            let x = finite[i];
            if x.abs() < 1e4 && !ev.float[i].is_nan() && ev.float[i] == xq {
                checked += 1;
            } else if x.abs() < 1e4 && ev.grid[i] as f64 != grid {
                // The two documented places where QKeras's float32 is not the
                // hardware value: TF flushes 2^min_exp below 2^-126 to 0, and
                // above 24 bits the clip bound 2^n - 1 rounds up to 2^n.
                let po2_flushed = matches!(hw.encoding, Encoding::Po2 { min_exp, .. }
                    if ev.grid[i] == 0.0 && hw.codes[i] == min_exp as i64 && min_exp < -126);
                let wide_saturated = matches!(hw.encoding, Encoding::Fixed(f)
                    if f.width > 24 && (hw.codes[i] as i128 == f.max_code() || hw.codes[i] as i128 == f.min_code())
                    && (ev.grid[i] as f64 - grid).abs() == crate_pow2(-f.frac));
                if po2_flushed || wide_saturated {
                    exceptions += 1;
                    continue;
                }
                bad.push(format!("{} x={x}: grid {} vs code value {grid}", c.spec, ev.grid[i]));
            }
        }
    }
    println!("{checked} codes checked against QKeras's quantized value, {exceptions} documented exceptions, {refused_mixes} qnoise mixes refused");
    assert!(refused_mixes >= 60, "the qnoise_factor cases are in the golden set: {refused_mixes}");
    assert!(exceptions < 3000, "{exceptions} exceptions");
    assert!(checked > 200_000);
    assert!(bad.is_empty(), "{}", bad[..bad.len().min(20)].join("\n"));
}
