//! Broken model files give one clear error naming the file (and the layer
//! where there is one), never a panic and never a guess.

mod common;

use std::path::{Path, PathBuf};

use hdf5_pure::{AttrValue, File};
use qkhw::ir::BuildOptions;

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models")
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("qkhw-corrupt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn load_err(p: &Path) -> String {
    match qkhw::load_graph(p, BuildOptions::default()) {
        Ok(_) => panic!("{} loaded", p.display()),
        Err(e) => e.to_string(),
    }
}

/// A JSON + weights pair in a fresh folder, the weights edited by `edit`
/// and the config by `cfg`.
fn json_model(name: &str, cfg: impl FnOnce(&mut serde_json::Value), edit: impl FnOnce(&File)) -> PathBuf {
    let d = tmpdir(name);
    let mut c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models().join("jet_tagger_json.json")).unwrap()).unwrap();
    cfg(&mut c);
    let j = d.join("m.json");
    std::fs::write(&j, serde_json::to_vec(&c).unwrap()).unwrap();
    let w = d.join("m.weights.h5");
    std::fs::copy(models().join("jet_tagger_json.weights.h5"), &w).unwrap();
    let f = File::open_rw(&w).unwrap();
    edit(&f);
    f.commit().unwrap();
    drop(f);
    j
}

fn layer_cfg<'a>(c: &'a mut serde_json::Value, name: &str) -> &'a mut serde_json::Value {
    c["config"]["layers"].as_array_mut().unwrap().iter_mut().find(|l| l["name"] == name).unwrap()
}

#[test]
fn the_unedited_pair_loads() {
    let p = json_model("ok", |_| {}, |_| {});
    qkhw::load_graph(&p, BuildOptions::default()).unwrap();
}

#[test]
fn missing_weights_name_the_layer() {
    let p = json_model("missing", |_| {}, |f| f.root().delete("layers/q_dense_1").unwrap());
    let e = load_err(&p);
    assert!(e.contains("m.json") && e.contains("layer `fc2`") && e.contains("holds 0 weights"), "{e}");
}

#[test]
fn a_wrong_shape_is_named() {
    let p = json_model("shape", |_| {}, |f| {
        f.root().delete("layers/q_dense/vars/1").unwrap();
        f.root().create_dataset("layers/q_dense/vars/1", |b| {
            b.with_f32_data(&[0.0; 63]).with_shape(&[63]);
        }).unwrap();
    });
    let e = load_err(&p);
    assert!(e.contains("layer `fc1`") && e.contains("[63]") && e.contains("[64]"), "{e}");
}

#[test]
fn a_wrong_hdf5_type_is_named() {
    let p = json_model("dtype", |_| {}, |f| {
        f.root().delete("layers/q_dense/vars/1").unwrap();
        f.root().create_dataset("layers/q_dense/vars/1", |b| {
            b.with_f64_data(&[0.0; 64]).with_shape(&[64]);
        }).unwrap();
    });
    let e = load_err(&p);
    assert!(e.contains("layer `fc1`") && e.contains("f64") && e.contains("only float32"), "{e}");
}

/// A weights file whose `vars` group lost its `name` attribute (cross-check
/// batch 14, F6: 64 flipped bytes in a `.keras`'s `model.weights.h5`)
/// says it is corrupt and names the HDF5 group, not a layer: the error
/// said "layer `q_dense_1`", Keras's storage key, which the model has no
/// layer of (its layer is `fc2`).
#[test]
fn a_weights_group_without_its_layer_name_is_corrupt() {
    let p = json_model("noname", |_| {}, |f| {
        f.root().group("layers/q_dense_1/vars").unwrap().remove_attr("name").unwrap();
    });
    let e = load_err(&p);
    assert!(e.contains("the weights file is corrupt") && e.contains("`layers/q_dense_1/vars`") && !e.contains("layer `q_dense_1`"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn a_weight_for_no_layer_is_an_error() {
    let p = json_model("ghost", |_| {}, |f| {
        f.root().create_group("layers/ghost").unwrap();
        f.commit().unwrap();
        let g = f.root().create_group("layers/ghost/vars").unwrap();
        f.commit().unwrap();
        g.set_attr("name", AttrValue::VarLenString("ghost".into())).unwrap();
        g.create_dataset("0", |b| {
            b.with_f32_data(&[1.0]).with_shape(&[1]);
        }).unwrap();
    });
    let e = load_err(&p);
    assert!(e.contains("layer `ghost`") && e.contains("does not have"), "{e}");
}

#[test]
fn an_unknown_layer_class_lists_the_supported_ones() {
    let p = json_model("class", |c| layer_cfg(c, "relu1")["class_name"] = "MyCustomLayer".into(), |_| {});
    let e = load_err(&p);
    assert!(e.contains("layer `relu1`") && e.contains("MyCustomLayer") && e.contains("QConv2DBatchnorm"), "{e}");
}

#[test]
fn an_unknown_quantizer_is_named() {
    let p = json_model("quant", |c| layer_cfg(c, "fc2")["config"]["kernel_quantizer"]["class_name"] = "quantized_foo".into(), |_| {});
    let e = load_err(&p);
    assert!(e.contains("layer `fc2`") && e.contains("quantized_foo") && e.contains("quantized_bits"), "{e}");
}

#[test]
fn a_partial_qnoise_factor_is_rejected() {
    let p = json_model("qnoise", |c| layer_cfg(c, "fc1")["config"]["kernel_quantizer"]["config"]["qnoise_factor"] = 0.5.into(), |_| {});
    let e = load_err(&p);
    assert!(e.contains("layer `fc1`") && e.contains("qnoise_factor"), "{e}");
}

#[test]
fn a_dangling_producer_is_named() {
    let p = json_model("edge", |c| {
        layer_cfg(c, "fc2")["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = "nowhere".into();
    }, |_| {});
    let e = load_err(&p);
    assert!(e.contains("layer `fc2`") && e.contains("nowhere"), "{e}");
}

/// Reading a layer's second output tensor (`keras_history` [name, node,
/// tensor]) is refused naming both layers: every layer qkhw takes has one
/// output, and taking tensor 0 in its place gave a wrong answer without a
/// word (a cross-check's QBidirectional with merge_mode=None).
#[test]
fn a_second_output_tensor_is_refused() {
    let p = json_model("tensor1", |c| {
        layer_cfg(c, "fc2")["inbound_nodes"][0]["args"][0]["config"]["keras_history"][2] = 1.into();
    }, |_| {});
    let e = load_err(&p);
    assert!(e.contains("layer `fc2`") && e.contains("reads output 1 of layer `relu1`") && e.contains("one output"), "{e}");
    let p = json_model("output1", |c| c["config"]["output_layers"][2] = 1.into(), |_| {});
    let e = load_err(&p);
    assert!(e.contains("the model reads output 1 of layer"), "{e}");
}

/// `QBidirectional(merge_mode=None)` (saved as null: two output tensors):
/// the model reading tensor 0 reads the forward direction alone, through
/// the part node `birnn:0` (it was read as the default, concat; then it was
/// refused). A third tensor is refused naming both layers.
#[test]
fn a_bidirectional_layer_without_merge_mode_is_read_by_parts() {
    let dst = tmpdir("bi-none").join("bi_none.keras");
    edit_keras_config("rnn_bilstm.keras", &dst, |c| layer_cfg(c, "birnn")["config"]["merge_mode"] = serde_json::Value::Null);
    let g = qkhw::load_graph(&dst, BuildOptions::default()).unwrap();
    let (bi, part) = (g.layer("birnn").unwrap(), g.layer("birnn:0").unwrap());
    assert_eq!(part.inputs, [g.layers.iter().position(|l| l.name == "birnn").map(qkhw::ir::LayerId).unwrap()]);
    assert_eq!(bi.shape.last().unwrap(), &(2 * part.shape.last().unwrap()));
    assert_eq!(g.outputs.len(), 1, "the model reads the forward tensor");
    assert!(g.layer("birnn:1").is_none(), "no reader of the backward tensor, no node");
    let dst = tmpdir("bi-none-2").join("bi_none.keras");
    edit_keras_config("rnn_bilstm.keras", &dst, |c| {
        layer_cfg(c, "birnn")["config"]["merge_mode"] = serde_json::Value::Null;
        c["config"]["output_layers"] = serde_json::json!(["birnn", 0, 2]);
    });
    let e = load_err(&dst);
    assert!(e.contains("the model reads output 2 of layer `birnn`"), "{e}");
}

/// A recurrent layer called with an `initial_state` (a second input
/// tensor in its call's kwargs) is refused saying so (it said "takes one
/// input, the config gives 2").
#[test]
fn an_initial_state_is_refused_by_name() {
    let dst = tmpdir("init-state").join("init_state.keras");
    edit_keras_config("rnn_simple.keras", &dst, |c| {
        let l = layer_cfg(c, "q_simple_rnn");
        let x = l["inbound_nodes"][0]["args"][0].clone();
        l["inbound_nodes"][0]["kwargs"]["initial_state"] = serde_json::json!([x]);
    });
    let e = load_err(&dst);
    assert!(e.contains("layer `q_simple_rnn`") && e.contains("`initial_state` is not supported"), "{e}");
}

/// A recurrent layer on the raw float32 input (QKeras computes its cell in
/// float32 on inputs of 24 significant bits) is told to quantize its
/// input; only a cell whose state grows (an LSTM without a state
/// quantizer) is also told to add one. The QSimpleRNN's state is its
/// quantized activation: it was told to add a state quantizer, which
/// changes nothing.
#[test]
fn a_raw_input_recurrent_layer_is_told_to_quantize_its_input() {
    for (src, layer, shape, state_advice) in [("rnn_simple.keras", "q_simple_rnn", [2, 6, 4], false), ("rnn_lstm.keras", "qlstm", [2, 7, 3], true)] {
        let d = tmpdir(&format!("raw-{layer}"));
        let dst = d.join(src);
        edit_keras_config(src, &dst, |c| {
            layer_cfg(c, "in_q")["config"]["activation"] = serde_json::json!("linear");
            layer_cfg(c, layer)["config"]["state_quantizer"] = serde_json::Value::Null;
        });
        let n: usize = shape.iter().product();
        let x = d.join("x.npy");
        let xs: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 3.3).collect();
        std::fs::write(&x, qkhw::npy::encode_f32(&shape, &xs)).unwrap();
        let y = d.join("y.npy");
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_qkhw")).arg("predict").arg(&dst).arg("--input").arg(&x).arg("--output").arg(&y).output().unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && !y.exists(), "{e}");
        assert_eq!(e.trim().lines().count(), 1, "{e}");
        assert!(e.contains(&format!("layer `{layer}`")) && (e.contains("quantize the layer's input") || e.contains("quantize its input")), "{e}");
        assert_eq!(e.contains("state_quantizer"), state_advice, "{e}");
    }
}

/// A Masking layer is refused by its own name. Keras 3 saves its mask as
/// op layers (`NotEqual`, `Any`) placed before it, and the first of those
/// was named instead ("layer class `NotEqual` is not supported").
#[test]
fn a_masking_layer_is_refused_by_name() {
    let dst = tmpdir("masking").join("masking.keras");
    edit_keras_config("rnn_lstm.keras", &dst, |c| {
        let node = layer_cfg(c, "qlstm")["inbound_nodes"].clone();
        let reads = |producer: &str| {
            let mut n = node.clone();
            n[0]["args"][0]["config"]["keras_history"][0] = serde_json::json!(producer);
            n
        };
        let layers = c["config"]["layers"].as_array_mut().unwrap();
        let at = layers.iter().position(|l| l["name"] == "qlstm").unwrap();
        let op = serde_json::json!({"module": "keras.src.ops.numpy", "class_name": "NotEqual", "config": {"name": "not_equal"}, "name": "not_equal", "inbound_nodes": reads("in_q")});
        let mask = serde_json::json!({"module": "keras.layers", "class_name": "Masking", "config": {"name": "mask", "mask_value": 0.0}, "name": "mask", "inbound_nodes": reads("in_q")});
        layers.insert(at, mask);
        layers.insert(at, op);
        layers[at + 2]["inbound_nodes"] = reads("mask");
    });
    let e = load_err(&dst);
    assert!(e.contains("layer `mask`") && e.contains("Masking") && !e.contains("not_equal"), "{e}");
}

/// A copy of example model `src` at `dst` with its `config.json` edited.
fn edit_keras_config(src: &str, dst: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    common::edit_keras_config(&models().join(src), dst, |text| {
        let mut c: serde_json::Value = serde_json::from_str(&text).unwrap();
        edit(&mut c);
        serde_json::to_string(&c).unwrap()
    });
}

#[test]
fn json_without_weights_lists_where_it_looked() {
    let d = tmpdir("noweights");
    let j = d.join("lonely.json");
    std::fs::copy(models().join("jet_tagger_json.json"), &j).unwrap();
    let e = load_err(&j);
    assert!(e.contains("lonely.weights.h5") && e.contains("lonely.h5"), "{e}");
}

#[test]
fn a_keras_archive_without_weights() {
    let d = tmpdir("zip");
    let p = d.join("m.keras");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("config.json", opts).unwrap();
    std::io::Write::write_all(&mut z, b"{}").unwrap();
    z.finish().unwrap();
    let e = load_err(&p);
    assert!(e.contains("m.keras") && e.contains("model.weights.h5"), "{e}");
}

/// Every truncation of a .keras and a legacy .h5, and garbage: errors, no
/// panics, each naming the file.
#[test]
fn truncated_and_garbage_files() {
    let d = tmpdir("trunc");
    let mut n = 0;
    for src in ["jet_tagger.keras", "jet_tagger.h5", "cnn_bn.keras", "zoo_rnn.keras"] {
        let bytes = std::fs::read(models().join(src)).unwrap();
        let len = bytes.len();
        let mut cuts: Vec<usize> = (0..40).map(|k| len * k / 40).collect();
        cuts.extend([1, 4, 8, 100, 512, len - 1, len - 22, len - 100]);
        for cut in cuts {
            let p = d.join(format!("cut{cut}-{src}"));
            std::fs::write(&p, &bytes[..cut]).unwrap();
            let e = load_err(&p);
            assert!(e.contains(&format!("cut{cut}-{src}")), "{e}");
            n += 1;
        }
        // One flipped byte every 997 bytes: must not panic (it may load).
        for k in (64..len).step_by(997) {
            let mut b = bytes.clone();
            b[k] ^= 0x5a;
            let p = d.join(format!("flip-{src}"));
            std::fs::write(&p, &b).unwrap();
            let _ = qkhw::load_graph(&p, BuildOptions::default());
        }
    }
    let p = d.join("garbage.keras");
    std::fs::write(&p, b"this is not a model").unwrap();
    assert!(load_err(&p).contains("not a model file"));
    assert!(n > 150);
}

/// `return_state=True` on a recurrent layer: a functional model that reads
/// only output 0 runs as without it (the states are extra tensors; it was
/// refused); a read of a state is refused naming reader and layer (see
/// `a_second_output_tensor_is_refused` and tests/weights_golden.rs); a
/// Sequential model, which would hand the states on with the output, is
/// refused saying so.
#[test]
fn return_state_runs_where_only_output_0_is_read() {
    let dst = tmpdir("return-state").join("rs.keras");
    edit_keras_config("rnn_lstm.keras", &dst, |c| layer_cfg(c, "qlstm")["config"]["return_state"] = true.into());
    let (a, b) = (qkhw::load_graph(models().join("rnn_lstm.keras"), BuildOptions::default()).unwrap(), qkhw::load_graph(&dst, BuildOptions::default()).unwrap());
    let x: Vec<f32> = (0..40 * 7 * 3).map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0).collect();
    let shape = [40usize, 7, 3];
    assert_eq!(a.layers[a.inputs[0].0].shape, shape[1..], "rnn_lstm's input");
    let opts = qkhw::golden::PredictOptions::default();
    let (pa, pb) = (qkhw::golden::predict(&a, &x, &shape, &opts).unwrap(), qkhw::golden::predict(&b, &x, &shape, &opts).unwrap());
    assert_eq!(pa.output_f32(0), pb.output_f32(0));
    let dst = tmpdir("return-state-seq").join("rs.keras");
    edit_keras_config("rnn_lstm.keras", &dst, |c| {
        layer_cfg(c, "qlstm")["config"]["return_state"] = true.into();
        let mut layers = c["config"]["layers"].clone();
        for l in layers.as_array_mut().unwrap() {
            l.as_object_mut().unwrap().remove("inbound_nodes");
        }
        *c = serde_json::json!({"module": "keras", "class_name": "Sequential", "config": {"name": c["config"]["name"].clone(), "layers": layers}});
    });
    let e = load_err(&dst);
    assert!(e.contains("layer `qlstm`") && e.contains("return_state=True` in a Sequential model"), "{e}");
}

/// The commands that rewrite a `.keras` archive (`freeze`, `quantize-model`)
/// say a truncated one is truncated, as the reader does (they said only
/// that they read `.keras` archives; a cross-check), and write nothing.
#[test]
fn rewriting_commands_say_a_truncated_archive_is_truncated() {
    let d = tmpdir("trunc-rewrite");
    let bytes = std::fs::read(models().join("jet_tagger.keras")).unwrap();
    let cut = d.join("cut.keras");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let cfg = d.join("q.json");
    std::fs::write(&cfg, r#"{"QDense": {"kernel_quantizer": "quantized_bits(4,0,1)"}}"#).unwrap();
    let out = d.join("out.keras");
    let runs: [Vec<std::ffi::OsString>; 2] = [
        vec!["freeze".into(), cut.clone().into(), "-o".into(), out.clone().into()],
        vec!["quantize-model".into(), cut.clone().into(), "--config".into(), cfg.into(), "--activation-bits".into(), "8".into(), "-o".into(), out.clone().into()],
    ];
    for args in runs {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_qkhw")).args(&args).output().unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && e.contains("cut.keras") && e.contains("truncated"), "{args:?}: {e}");
        assert_eq!(e.trim().lines().count(), 1, "{e}");
        assert!(!out.exists());
    }
}
