//! TensorFlow's float32 log / tanh / sigmoid, reproduced bit for bit
//! (pairs from `tests/golden/gen_tfmath.py`; the helper that wrote
//! `src/quant/tfmath.rs` also checked all 2^32 inputs, 0 mismatches).

use qkhw::quant::tfmath;

#[test]
fn tf_transcendentals_are_bit_exact() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/tfmath.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    type Named = (&'static str, fn(f32) -> f32);
    let fns: [Named; 5] = [
        ("log", tfmath::log),
        ("tanh", tfmath::tanh),
        ("sigmoid", tfmath::sigmoid),
        ("log_tail", tfmath::log_tail),
        ("sigmoid_tail", tfmath::sigmoid_tail),
    ];
    let mut total = 0;
    for (name, f) in fns {
        let pairs = v[name].as_array().unwrap();
        assert!(pairs.len() > 400, "{name}");
        for p in pairs {
            let x = u32::from_str_radix(p[0].as_str().unwrap(), 16).unwrap();
            let want = u32::from_str_radix(p[1].as_str().unwrap(), 16).unwrap();
            let got = f(f32::from_bits(x)).to_bits();
            assert_eq!(got, want, "{name}({x:#010x})");
            total += 1;
        }
    }
    println!("{total} TF float32 results reproduced");
}
