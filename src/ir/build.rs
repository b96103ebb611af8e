//! From a saved model to a [`Graph`]: each layer's config parsed by class,
//! the graph sorted, shapes inferred and every weight placed and checked.

use std::collections::HashMap;

use serde_json::Value;

use super::cfg::Cfg;
use super::{shape, Activation, BatchNorm, BiMerge, Graph, Layer, LayerId, Merge, Op, RnnCell, Weight};
use crate::error::{Error, Result};
use crate::keras::{SavedModel, Tensor};
use crate::quant::InternalSigmoid;

#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions {
    /// QKeras's global `set_internal_sigmoid` (it is not in the model file).
    pub sigmoid: InternalSigmoid,
    /// Keep a layer qkhw cannot build (an unsupported class or feature, or
    /// one reading such a layer whose output shape the file does not
    /// give) as [`Op::Skipped`] instead of refusing the model: enough for
    /// `qkhw weights`, whose dict skips every layer without quantizers, as
    /// QKeras's `model_save_quantized_weights` does.
    pub skip_unsupported: bool,
}

/// Every layer class the IR takes.
pub const SUPPORTED_CLASSES: &[&str] = &[
    "InputLayer", "QActivation", "QAdaptiveActivation", "QDense", "QConv1D", "QConv2D",
    "QSeparableConv1D", "QSeparableConv2D", "QDepthwiseConv2D", "QConv2DTranspose", "QSimpleRNN",
    "QLSTM", "QGRU", "QBidirectional", "QBatchNormalization", "QConv2DBatchnorm",
    "QDepthwiseConv2DBatchnorm", "QDenseBatchnorm", "QAveragePooling2D", "QGlobalAveragePooling2D",
    "QScaleShift", "Dense", "Conv1D", "Conv2D", "DepthwiseConv2D", "SeparableConv1D",
    "SeparableConv2D", "Conv2DTranspose", "BatchNormalization", "Activation", "ReLU", "Softmax", "Flatten",
    "Reshape", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D", "Permute", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
    "Concatenate",
];

impl Graph {
    /// Build and check the graph of a model file.
    pub fn from_saved(m: &SavedModel, opts: BuildOptions) -> Result<Graph> {
        let path = m.path.as_path();
        let err = |layer: &str, msg: String| Error::Model { path: path.to_path_buf(), layer: Some(layer.to_string()), msg };
        // Keras 3 saves a Masking layer's mask as `NotEqual` / `Any` op
        // layers that come first in order: name the Masking layer instead.
        if let Some(l) = m.spec.layers.iter().find(|l| l.class == "Masking" && !opts.skip_unsupported) {
            return Err(err(&l.name, "(Masking) masking is not supported: qkhw's recurrent layers run every time step, where Keras skips the masked ones; remove the Masking layer".into()));
        }
        let order = topo_order(m)?;
        let mut ids: HashMap<&str, LayerId> = HashMap::new();
        let mut layers: Vec<Layer> = Vec::with_capacity(order.len());
        for &i in &order {
            let spec = &m.spec.layers[i];
            let inputs: Vec<LayerId> = spec.inbound.iter().map(|p| ids[p.as_str()]).collect();
            let layer = match build_layer(m, spec, &inputs, &layers, opts) {
                Ok(l) => l,
                Err(e @ Error::Model { .. }) if opts.skip_unsupported => {
                    let why = match &e {
                        Error::Model { layer: Some(l), msg, .. } if *l == spec.name => msg.clone(),
                        Error::Model { layer: None, msg, .. } => msg.clone(),
                        e => e.to_string(),
                    };
                    // Whatever reads it takes its output shape from the file.
                    let shape = m.spec.layers.iter().find_map(|c| c.inbound.iter().zip(&c.read_shapes).find(|(p, _)| **p == spec.name).and_then(|(_, s)| s.clone()));
                    let skipped = Op::Skipped { why, shape_known: shape.is_some() };
                    let weights = m.weights.get(&spec.name).map(|ws| ws.iter().map(|(_, t)| Weight { role: "weight", tensor: t.clone() }).collect()).unwrap_or_default();
                    Layer { name: spec.name.clone(), class: spec.class.clone(), op: skipped, inputs, in_shapes: vec![], shape: shape.unwrap_or_default(), weights, activation: Activation::Linear }
                }
                Err(e) => return Err(e),
            };
            ids.insert(&spec.name, LayerId(layers.len()));
            layers.push(layer);
        }
        for (name, ws) in &m.weights {
            if !ws.is_empty() && !ids.contains_key(name.as_str()) {
                return Err(err(name, format!("the file holds {} weights for a layer the model config does not have", ws.len())));
            }
        }
        let find = |n: &String| ids.get(n.as_str()).copied().ok_or_else(|| err(n, "model input/output names a layer that does not exist".into()));
        let inputs = m.spec.inputs.iter().map(find).collect::<Result<Vec<_>>>()?;
        let outputs = m.spec.outputs.iter().map(find).collect::<Result<Vec<_>>>()?;
        Ok(Graph { name: m.spec.name.clone(), source: m.path.clone(), sha256: m.sha256.clone(), layers, inputs, outputs })
    }
}

/// One layer of `m`, reading `inputs` (already built).
fn build_layer(m: &SavedModel, spec: &crate::keras::config::LayerSpec, inputs: &[LayerId], layers: &[Layer], opts: BuildOptions) -> Result<Layer> {
    let cfg = Cfg { map: &spec.config, path: &m.path, layer: &spec.name, class: &spec.class, sigmoid: opts.sigmoid };
    let (mut op, mut activation) = parse_layer(&cfg)?;
    let mut in_shapes: Vec<_> = if op == Op::Input {
        vec![input_shape(&cfg)?]
    } else {
        inputs
            .iter()
            .enumerate()
            .map(|(k, id)| match &layers[id.0].op {
                // A skipped producer's shape is what the file says this
                // layer reads.
                Op::Skipped { shape_known: false, .. } => Err(cfg.err(format!("reads `{}`, a layer qkhw does not build", layers[id.0].name))),
                Op::Skipped { .. } => spec.read_shapes.get(k).cloned().flatten().ok_or_else(|| cfg.err(format!("reads `{}`, a layer qkhw does not build", layers[id.0].name))),
                _ => Ok(layers[id.0].shape.clone()),
            })
            .collect::<Result<_>>()?
    };
    if let Op::Merge(Merge::Concatenate(raw)) = op {
        let rank = in_shapes.first().map_or(0, Vec::len);
        let axis = concat_axis(raw, rank).ok_or_else(|| cfg.err(format!("concatenation axis {} is outside the input rank", raw as isize)))?;
        op = Op::Merge(Merge::Concatenate(axis));
    }
    // An initial state changes no weight: `qkhw weights` takes the layer.
    if matches!(op, Op::Rnn { .. } | Op::Bidirectional { .. }) && in_shapes.len() > 1 && opts.skip_unsupported {
        in_shapes.truncate(1);
    }
    if matches!(op, Op::Rnn { .. } | Op::Bidirectional { .. }) && in_shapes.len() > 1 {
        return Err(cfg.err(format!(
            "is called with {} inputs: an `initial_state` is not supported (qkhw's recurrent layers start from a zero state, as QKeras's do without one)",
            in_shapes.len()
        )));
    }
    if op != Op::Input && !matches!(op, Op::Merge(_)) && in_shapes.len() != 1 {
        return Err(cfg.err(format!("takes one input, the config gives {}", in_shapes.len())));
    }
    let shape = shape::infer(&op, &in_shapes).map_err(|e| cfg.err(e))?;
    let mut weights = place_weights(&cfg, &op, &in_shapes, m.weights.get(&spec.name))?;
    if let Op::AdaptiveActivation { moving, .. } = &mut op {
        match super::adaptive::resolve(&cfg, &weights, opts.sigmoid)? {
            super::adaptive::Resolved::Quantizer(q) => {
                (op, activation, weights) = (Op::Activation, Activation::Quantized(q), vec![]);
            }
            super::adaptive::Resolved::Moving(why) => *moving = why,
        }
    }
    Ok(Layer { name: spec.name.clone(), class: spec.class.clone(), op, inputs: inputs.to_vec(), in_shapes, shape, weights, activation })
}

/// Config order where possible, producers always first.
fn topo_order(m: &SavedModel) -> Result<Vec<usize>> {
    let path = &m.path;
    let index: HashMap<&str, usize> = m.spec.layers.iter().enumerate().map(|(i, l)| (l.name.as_str(), i)).collect();
    if index.len() != m.spec.layers.len() {
        return Err(Error::Model { path: path.clone(), layer: None, msg: "two layers share a name".into() });
    }
    let mut done = vec![false; m.spec.layers.len()];
    let mut order = vec![];
    while order.len() < m.spec.layers.len() {
        let before = order.len();
        for (i, l) in m.spec.layers.iter().enumerate() {
            if done[i] {
                continue;
            }
            let mut ready = true;
            for p in &l.inbound {
                match index.get(p.as_str()) {
                    None => {
                        return Err(Error::Model {
                            path: path.clone(),
                            layer: Some(l.name.clone()),
                            msg: format!("reads from `{p}`, which is not a layer of the model"),
                        });
                    }
                    Some(&j) => ready &= done[j],
                }
            }
            if ready {
                done[i] = true;
                order.push(i);
            }
        }
        if order.len() == before {
            return Err(Error::Model { path: path.clone(), layer: None, msg: "the layer graph has a cycle".into() });
        }
    }
    Ok(order)
}

fn input_shape(cfg: &Cfg) -> Result<Vec<usize>> {
    let v = cfg
        .get("batch_shape")
        .or_else(|| cfg.get("batch_input_shape"))
        .ok_or_else(|| cfg.err("no `batch_shape`"))?;
    let a = v.as_array().ok_or_else(|| cfg.err(format!("`batch_shape` must be a list, got {v}")))?;
    a.iter()
        .skip(1)
        .map(|d| {
            d.as_u64()
                .and_then(|u| usize::try_from(u).ok())
                .filter(|&u| u > 0)
                .ok_or_else(|| cfg.err(format!("input dimension {d} is not fixed; qkhw needs a fixed input shape")))
        })
        .collect()
}

fn bn(cfg: &Cfg, quantized: bool) -> Result<BatchNorm> {
    let axis = cfg.get("axis").cloned().unwrap_or(Value::from(-1));
    let axis_ok = axis == -1 || axis == serde_json::json!([-1]) || axis == serde_json::json!([3]);
    if !axis_ok {
        return Err(cfg.err(format!("batch norm over axis {axis}: only the last (channel) axis is supported")));
    }
    let q = |k: &str| if quantized { cfg.quantizer(k) } else { Ok(None) };
    let wq = |k: &str| if quantized { cfg.weight_quantizer(k) } else { Ok(None) };
    Ok(BatchNorm {
        epsilon: cfg.f64("epsilon", 1e-3)? as f32,
        center: cfg.bool("center", true)?,
        scale: cfg.bool("scale", true)?,
        quantizers: [
            wq("gamma_quantizer")?,
            q("beta_quantizer")?,
            q("mean_quantizer")?,
            wq("variance_quantizer")?,
            q("inverse_quantizer")?,
        ],
    })
}

fn rank_of(class: &str) -> usize {
    if class.contains("1D") { 1 } else { 2 }
}

fn rnn(cfg: &Cfg, class: &str) -> Result<(Op, Activation)> {
    let cell = match class.trim_start_matches('Q') {
        "SimpleRNN" => RnnCell::Simple,
        "LSTM" => RnnCell::Lstm,
        "GRU" => RnnCell::Gru,
        c => return Err(cfg.err(format!("`{c}` is not a recurrent layer qkhw knows"))),
    };
    if cfg.bool("stateful", false)? {
        return Err(cfg.err("`stateful=True` is not supported (qkhw runs a recurrent layer from a zero state)"));
    }
    // `return_state=True`: output 0 is the layer's usual output; a read of
    // a state (output 1, 2, ...) is a part node that refuses to build
    // (`crate::keras::config`), so only models that use no state run.
    let recurrent_activation = match cell {
        RnnCell::Simple => Activation::Linear,
        _ => cfg.activation("recurrent_activation")?,
    };
    let op = Op::Rnn {
        cell,
        units: cfg.usize("units", None)?,
        return_sequences: cfg.bool("return_sequences", false)?,
        use_bias: cfg.bool("use_bias", true)?,
        reset_after: cfg.bool("reset_after", false)?,
        implementation: cfg.usize("implementation", Some(1))?,
        go_backwards: cfg.bool("go_backwards", false)?,
        quantizers: Box::new([
            cfg.weight_quantizer("kernel_quantizer")?,
            cfg.weight_quantizer("recurrent_quantizer")?,
            cfg.quantizer("bias_quantizer")?,
            cfg.quantizer("state_quantizer")?,
        ]),
        activation: cfg.activation("activation")?,
        recurrent_activation,
    };
    Ok((op, Activation::Linear))
}

/// The op and activation of one layer, from its class and config.
fn parse_layer(cfg: &Cfg) -> Result<(Op, Activation)> {
    let class = cfg.class;
    let quantized = class.starts_with('Q');
    let q = |k: &str| if quantized { cfg.quantizer(k) } else { Ok(None) };
    let wq = |k: &str| if quantized { cfg.weight_quantizer(k) } else { Ok(None) };
    let act = || cfg.activation("activation");
    let bias = || cfg.bool("use_bias", true);
    let op = match class {
        "InputLayer" => return Ok((Op::Input, Activation::Linear)),
        "QActivation" | "Activation" => return Ok((Op::Activation, act()?)),
        // keras.layers.Softmax: the same float softmax as Activation("softmax").
        "Softmax" => return Ok((Op::Activation, Activation::Float("softmax".into()))),
        "ReLU" => {
            let mv = cfg.get("max_value").and_then(Value::as_f64);
            let slope = cfg.f64("negative_slope", 0.0)?;
            let th = cfg.f64("threshold", 0.0)?;
            let desc = if mv.is_none() && slope == 0.0 && th == 0.0 {
                "relu".to_string()
            } else {
                format!("relu(max_value={mv:?}, negative_slope={slope}, threshold={th})")
            };
            return Ok((Op::Activation, Activation::Float(desc)));
        }
        "QAdaptiveActivation" => {
            let quantizer = cfg.str("activation", "")?;
            return Ok((Op::AdaptiveActivation { quantizer, total_bits: cfg.usize("total_bits", None)?, moving: String::new() }, Activation::Linear));
        }
        "QDense" | "Dense" => Op::Dense {
            units: cfg.usize("units", None)?,
            use_bias: bias()?,
            kernel_q: wq("kernel_quantizer")?,
            bias_q: q("bias_quantizer")?,
        },
        "QDenseBatchnorm" => Op::Folded {
            inner: Box::new(Op::Dense {
                units: cfg.usize("units", None)?,
                use_bias: bias()?,
                kernel_q: wq("kernel_quantizer")?,
                bias_q: q("bias_quantizer")?,
            }),
            bn: bn(cfg, false)?,
        },
        "QConv1D" | "QConv2D" | "Conv1D" | "Conv2D" => Op::Conv {
            filters: cfg.usize("filters", None)?,
            window: cfg.window(rank_of(class), "kernel_size")?,
            use_bias: bias()?,
            kernel_q: wq("kernel_quantizer")?,
            bias_q: q("bias_quantizer")?,
        },
        "QConv2DBatchnorm" => Op::Folded {
            inner: Box::new(Op::Conv {
                filters: cfg.usize("filters", None)?,
                window: cfg.window(2, "kernel_size")?,
                use_bias: bias()?,
                kernel_q: wq("kernel_quantizer")?,
                bias_q: q("bias_quantizer")?,
            }),
            bn: bn(cfg, false)?,
        },
        "QConv2DTranspose" | "Conv2DTranspose" => Op::ConvTranspose {
            filters: cfg.usize("filters", None)?,
            window: cfg.window(2, "kernel_size")?,
            output_padding: match cfg.get("output_padding") {
                None => None,
                Some(_) => Some(cfg.tuple("output_padding", 2, None).or_else(|_| {
                    // zeros are legal here, which `tuple` (positive) refuses.
                    let a = cfg.get("output_padding").and_then(Value::as_array).ok_or_else(|| cfg.err("bad `output_padding`"))?;
                    a.iter().map(|x| x.as_u64().map(|u| u as usize).ok_or_else(|| cfg.err("bad `output_padding`"))).collect()
                })?),
            },
            use_bias: bias()?,
            kernel_q: wq("kernel_quantizer")?,
            bias_q: q("bias_quantizer")?,
        },
        "QDepthwiseConv2D" | "DepthwiseConv2D" => Op::Depthwise {
            multiplier: cfg.usize("depth_multiplier", Some(1))?,
            window: cfg.window(2, "kernel_size")?,
            use_bias: bias()?,
            depthwise_q: wq("depthwise_quantizer")?,
            bias_q: q("bias_quantizer")?,
        },
        "QDepthwiseConv2DBatchnorm" => Op::Folded {
            inner: Box::new(Op::Depthwise {
                multiplier: cfg.usize("depth_multiplier", Some(1))?,
                window: cfg.window(2, "kernel_size")?,
                use_bias: bias()?,
                depthwise_q: wq("depthwise_quantizer")?,
                bias_q: q("bias_quantizer")?,
            }),
            bn: bn(cfg, false)?,
        },
        "QSeparableConv1D" | "QSeparableConv2D" | "SeparableConv1D" | "SeparableConv2D" => Op::Separable {
            filters: cfg.usize("filters", None)?,
            multiplier: cfg.usize("depth_multiplier", Some(1))?,
            window: cfg.window(rank_of(class), "kernel_size")?,
            use_bias: bias()?,
            depthwise_q: wq("depthwise_quantizer")?,
            pointwise_q: wq("pointwise_quantizer")?,
            bias_q: q("bias_quantizer")?,
        },
        "QBatchNormalization" | "BatchNormalization" => Op::BatchNorm(bn(cfg, quantized)?),
        "QSimpleRNN" | "QLSTM" | "QGRU" => return rnn(cfg, class),
        "QBidirectional" => {
            let sub = |key: &str| -> Result<Option<Op>> {
                let Some(l) = cfg.get(key) else { return Ok(None) };
                let class = l.get("class_name").and_then(Value::as_str).unwrap_or("");
                let map = l.get("config").and_then(Value::as_object).ok_or_else(|| cfg.err(format!("`{key}` has no config")))?;
                let inner = Cfg { map, path: cfg.path, layer: cfg.layer, class: "QBidirectional", sigmoid: cfg.sigmoid };
                Ok(Some(rnn(&inner, class)?.0))
            };
            let forward = sub("layer")?.ok_or_else(|| cfg.err("no wrapped `layer`"))?;
            // Keras builds the backward direction from the same config with
            // go_backwards flipped, unless the model names its own.
            let backward = match sub("backward_layer")? {
                Some(b) => b,
                None => {
                    let mut b = forward.clone();
                    if let Op::Rnn { go_backwards, .. } = &mut b {
                        *go_backwards = !*go_backwards;
                    }
                    b
                }
            };
            // merge_mode=None is saved as null: two output tensors, read
            // through `OutputPart` nodes of the concatenation.
            let merge = if cfg.map.get("merge_mode").is_some_and(serde_json::Value::is_null) {
                BiMerge::Concat
            } else {
                match cfg.str("merge_mode", "concat")?.as_str() {
                    "concat" => BiMerge::Concat,
                    "sum" => BiMerge::Sum,
                    "mul" => BiMerge::Mul,
                    "ave" => BiMerge::Ave,
                    other => return Err(cfg.err(format!("merge_mode `{other}` is not supported (concat, sum, mul, ave or None)"))),
                }
            };
            return Ok((Op::Bidirectional { forward: Box::new(forward), backward: Box::new(backward), merge }, Activation::Linear));
        }
        "QScaleShift" => Op::ScaleShift { use_bias: bias()?, weight_q: wq("weight_quantizer")?, bias_q: wq("bias_quantizer")? },
        "MaxPooling1D" | "MaxPooling2D" | "AveragePooling1D" | "AveragePooling2D" | "QAveragePooling2D" => {
            cfg.channels_last()?;
            let r = rank_of(class);
            let pool = cfg.tuple("pool_size", r, Some(2))?;
            let strides = match cfg.get("strides") {
                None => pool.clone(),
                Some(_) => cfg.tuple("strides", r, None)?,
            };
            Op::Pool { max: class.starts_with("Max"), pool, strides, padding: cfg.padding()?, average_q: q("average_quantizer")? }
        }
        "GlobalMaxPooling1D" | "GlobalMaxPooling2D" | "GlobalAveragePooling1D" | "GlobalAveragePooling2D"
        | "QGlobalAveragePooling2D" => {
            cfg.channels_last()?;
            Op::GlobalPool {
                max: class.starts_with("GlobalMax"),
                rank: rank_of(class),
                keepdims: cfg.bool("keepdims", false)?,
                average_q: q("average_quantizer")?,
            }
        }
        "Flatten" => {
            cfg.channels_last()?;
            Op::Flatten
        }
        "Reshape" => {
            let t = cfg.get("target_shape").and_then(Value::as_array).ok_or_else(|| cfg.err("no `target_shape`"))?;
            let target = t.iter().map(|d| d.as_i64().ok_or_else(|| cfg.err(format!("bad target dimension {d}")))).collect::<Result<_>>()?;
            Op::Reshape { target }
        }
        "Dropout" | "SpatialDropout1D" | "SpatialDropout2D" | "GaussianNoise" | "GaussianDropout" | "AlphaDropout" | "ActivityRegularization" => {
            Op::Dropout
        }
        "ZeroPadding1D" | "ZeroPadding2D" => Op::ZeroPadding { pads: zero_pads(cfg, "padding", rank_of(class))? },
        "Cropping1D" | "Cropping2D" => {
            cfg.channels_last()?;
            Op::Cropping { crops: zero_pads(cfg, "cropping", rank_of(class))? }
        }
        "UpSampling1D" | "UpSampling2D" => {
            cfg.channels_last()?;
            if let Some(i) = cfg.get("interpolation").and_then(Value::as_str).filter(|&i| i != "nearest") {
                return Err(cfg.err(format!("interpolation `{i}` is not supported; supported: nearest")));
            }
            let rank = rank_of(class);
            let bad = || cfg.err("bad `size`");
            let size = match cfg.get("size") {
                None => vec![2; rank],
                Some(Value::Number(n)) => vec![n.as_u64().ok_or_else(bad)? as usize; rank],
                Some(Value::Array(a)) if a.len() == rank => a.iter().map(|v| v.as_u64().map(|x| x as usize).ok_or_else(bad)).collect::<Result<_>>()?,
                Some(_) => return Err(bad()),
            };
            if size.contains(&0) {
                return Err(bad());
            }
            Op::UpSampling { size }
        }
        "Permute" => {
            let d = cfg.get("dims").and_then(Value::as_array).ok_or_else(|| cfg.err("no `dims`"))?;
            let dims = d.iter().map(|v| v.as_u64().map(|x| x as usize).ok_or_else(|| cfg.err(format!("bad dimension {v}")))).collect::<Result<_>>()?;
            Op::Permute { dims }
        }
        "Add" => Op::Merge(Merge::Add),
        "Subtract" => Op::Merge(Merge::Subtract),
        "Multiply" => Op::Merge(Merge::Multiply),
        "Average" => Op::Merge(Merge::Average),
        "Maximum" => Op::Merge(Merge::Maximum),
        "Minimum" => Op::Merge(Merge::Minimum),
        "Concatenate" => {
            let axis = cfg.get("axis").and_then(Value::as_i64).unwrap_or(-1);
            // Keras's axis (negative, or counting the batch) rides here as
            // wrapped usize until `from_saved` resolves it against the rank.
            Op::Merge(Merge::Concatenate(axis as isize as usize))
        }
        crate::keras::config::OUTPUT_PART => {
            let n = |k: &str| cfg.map.get(k).and_then(Value::as_u64).map(|v| v as usize);
            // The message names the reader and the producer: not this node.
            if let Some(why) = cfg.map.get("refused").and_then(Value::as_str) {
                return Err(Error::Model { path: cfg.path.to_path_buf(), layer: None, msg: why.to_string() });
            }
            match (n("index"), n("parts")) {
                (Some(index), Some(parts)) if index < parts => Op::OutputPart { index, parts },
                _ => return Err(Error::Internal(format!("output part node `{}` without its index", cfg.layer))),
            }
        }
        "Sequential" | "Functional" | "Model" => {
            return Err(cfg.err("a nested model: qkhw reads flat models; flatten it before saving"));
        }
        other => {
            return Err(cfg.err(format!(
                "layer class `{other}` is not supported; supported: {}",
                SUPPORTED_CLASSES.join(", ")
            )));
        }
    };
    Ok((op, act()?))
}

/// ZeroPadding's `padding` or Cropping's `cropping`: an int, one pair, or a
/// pair (or int) per spatial axis.
fn zero_pads(cfg: &Cfg, key: &str, rank: usize) -> Result<Vec<(usize, usize)>> {
    let bad = || cfg.err(format!("bad `{key}`"));
    let u = |v: &Value| v.as_u64().map(|x| x as usize).ok_or_else(bad);
    match cfg.get(key) {
        None => Ok(vec![(1, 1); rank]),
        Some(Value::Number(n)) => {
            let p = n.as_u64().ok_or_else(bad)? as usize;
            Ok(vec![(p, p); rank])
        }
        Some(Value::Array(a)) if rank == 1 && a.len() == 2 && a[0].is_number() => Ok(vec![(u(&a[0])?, u(&a[1])?)]),
        Some(Value::Array(a)) if a.len() == rank => a
            .iter()
            .map(|d| match d {
                Value::Array(p) if p.len() == 2 => Ok((u(&p[0])?, u(&p[1])?)),
                v => u(v).map(|p| (p, p)),
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}

fn place_weights(cfg: &Cfg, op: &Op, in_shapes: &[Vec<usize>], saved: Option<&Vec<(String, Tensor)>>) -> Result<Vec<Weight>> {
    let saved: &[(String, Tensor)] = saved.map(|v| v.as_slice()).unwrap_or(&[]);
    if let Op::AdaptiveActivation { .. } = op {
        return Ok(saved.iter().map(|(_, t)| Weight { role: "state", tensor: t.clone() }).collect());
    }
    let input = in_shapes.first().cloned().unwrap_or_default();
    let want = shape::weights(op, &input).map_err(|e| cfg.err(e))?;
    if saved.len() != want.len() {
        let names: Vec<&str> = want.iter().map(|w| w.0).collect();
        let got: Vec<&str> = saved.iter().map(|w| w.0.as_str()).collect();
        return Err(cfg.err(format!(
            "the file holds {} weights {got:?}; the layer needs {} {names:?}",
            saved.len(),
            want.len()
        )));
    }
    want.into_iter()
        .zip(saved)
        .map(|((role, shape), (name, t))| {
            if t.shape != shape {
                return Err(cfg.err(format!(
                    "weight `{role}` (`{name}` in the file) has shape {:?}; the config and input shape {input:?} need {shape:?}",
                    t.shape
                )));
            }
            Ok(Weight { role, tensor: t.clone() })
        })
        .collect()
}

/// Keras axes count the batch; the IR's shapes do not.
pub(super) fn concat_axis(axis: usize, rank: usize) -> Option<usize> {
    let a = axis as isize;
    let full = rank as isize + 1;
    let a = if a < 0 { full + a } else { a };
    (1..full).contains(&a).then(|| (a - 1) as usize)
}

