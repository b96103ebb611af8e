//! `qkhw inspect`'s sparsity against QKeras's `get_model_sparsity`
//! (tests/golden/sparsity.json from tests/golden/gen_sparsity.py): same
//! layers, same float32 fractions.

use std::path::Path;

use qkhw::ir::BuildOptions;
use qkhw::passes::sparsity::{fraction, sparsity};

#[test]
fn sparsity_equals_qkeras() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let gold: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("tests/golden/sparsity.json")).unwrap()).unwrap();
    let gold = gold.as_object().unwrap();
    assert!(gold.len() >= 12);
    for (file, g) in gold {
        let graph = qkhw::load_graph(root.join("examples/models").join(file), BuildOptions::default()).unwrap();
        let s = sparsity(&graph).unwrap();
        assert_eq!(s.total(), g["total"].as_f64().unwrap() as f32, "{file} total");
        let ours: Vec<(String, f32)> = s.layers.iter().map(|(n, z, v)| (n.clone(), fraction(*z, *v))).collect();
        let theirs: Vec<(String, f32)> = g["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_f64().unwrap() as f32))
            .collect();
        assert_eq!(ours, theirs, "{file}");
    }
}
