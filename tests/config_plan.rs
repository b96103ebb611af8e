//! `--config` on the golden plan: what a per-layer format changes.

use qkhw::passes::config::Config;

fn graph(name: &str) -> qkhw::ir::Graph {
    let path = format!("{}/examples/models/{name}", env!("CARGO_MANIFEST_DIR"));
    qkhw::load_graph(path, qkhw::ir::BuildOptions { sigmoid: qkhw::quant::InternalSigmoid::Hard, ..Default::default() }).unwrap()
}

/// `qkhw.config_from_model` writes every layer's exact format: handing it
/// back must change nothing, not add a requantizer per layer (which kept
/// a Dense and its activation from fusing into one folded module).
#[test]
fn an_output_format_a_layer_already_has_adds_no_step() {
    for name in ["jet_tagger.keras", "cnn_bn.keras", "functional_add.keras"] {
        let g = graph(name);
        let (plain, _) = qkhw::golden::hardware_plan(&g, None, &Config::default()).unwrap();
        let mut text = String::new();
        for s in &plain.steps {
            let Some(l) = &s.layer else { continue };
            if g.layer(l).is_some_and(|l| l.class != "InputLayer") && !text.contains(&format!("[layer.{l}]")) {
                text += &format!("[layer.{l}]\noutput = \"{}\"\n", s.fmt);
            }
        }
        let (same, _) = qkhw::golden::hardware_plan(&g, None, &Config::parse(&text).unwrap()).unwrap();
        assert_eq!(same.steps.len(), plain.steps.len(), "{name}:\n{text}");
        for (a, b) in same.steps.iter().zip(&plain.steps) {
            assert_eq!((a.fmt, &a.layer, a.lo, a.hi), (b.fmt, &b.layer, b.lo, b.hi), "{name}");
        }
    }
    // A narrower format does requantize.
    let g = graph("jet_tagger.keras");
    let (plain, _) = qkhw::golden::hardware_plan(&g, None, &Config::default()).unwrap();
    let (narrow, _) = qkhw::golden::hardware_plan(&g, None, &Config::parse("[layer.fc1]\noutput = \"fixed<12,6>\"\n").unwrap()).unwrap();
    assert_eq!(narrow.steps.len(), plain.steps.len() + 1);
}

/// `reuse_factor` and `parallelization_factor` are taken on every layer
/// the schedule folds (a depthwise convolution and an average pooling
/// were refused though `--reuse-factor` folded them) and refused, naming
/// the layer and what folds, where they would do nothing.
#[test]
fn fold_keys_are_taken_where_the_schedule_folds() {
    let g = graph("dscnn_kws.keras");
    for table in ["[layer.dw1]\nreuse_factor = 8\nparallelization_factor = 2\n", "[layer.conv1]\nreuse_factor = 8\nparallelization_factor = 4\n", "[layer.avg_pool]\nreuse_factor = 8\n"] {
        Config::parse(table).unwrap().check(&g).unwrap_or_else(|e| panic!("{table}: {e}"));
    }
    let g = graph("cnn_bn.keras");
    let err = Config::parse("[layer.relu1]\nparallelization_factor = 2\n").unwrap().check(&g).unwrap_err().to_string();
    assert!(err.contains("[layer.relu1]") && err.contains("`parallelization_factor`") && err.contains("QActivation"), "{err}");
    let err = Config::parse("[layer.conv1]\nparallelization_factor = 0\n").unwrap_err().to_string();
    assert!(err.contains("[layer.conv1]") && err.contains("at least 1"), "{err}");
}
