//! The model as a DAG of layers with shapes, weights and parsed quantizers:
//! the one representation every pass and backend reads.

mod adaptive;
mod build;
mod cfg;
mod shape;

use std::path::PathBuf;

use crate::keras::Tensor;
use crate::quant::Quantizer;

pub use build::{BuildOptions, SUPPORTED_CLASSES};

/// Index of a layer in [`Graph::layers`] (topological order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LayerId(pub usize);

/// A tensor shape without the batch axis.
pub type Shape = Vec<usize>;

/// A model as read from its file: layers in Keras's order (a DAG), each
/// with its shapes, quantizers and weights. Everything downstream (hardware
/// weights, the golden plan, every backend) starts from this one graph.
#[derive(Debug, Clone)]
pub struct Graph {
    pub name: String,
    /// The file it came from and its SHA-256, for generated-file headers.
    pub source: PathBuf,
    pub sha256: String,
    /// Topologically sorted: a layer's inputs come before it.
    pub layers: Vec<Layer>,
    pub inputs: Vec<LayerId>,
    pub outputs: Vec<LayerId>,
}

#[derive(Debug, Clone)]
pub struct Layer {
    pub name: String,
    /// The Keras class as saved (`QDense`, `MaxPooling2D`, …).
    pub class: String,
    pub op: Op,
    pub inputs: Vec<LayerId>,
    pub in_shapes: Vec<Shape>,
    pub shape: Shape,
    /// The layer's weights in Keras's `get_weights()` order.
    pub weights: Vec<Weight>,
    /// The activation the layer applies to its output.
    pub activation: Activation,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    /// `kernel`, `bias`, `gamma`, … (Keras's variable name).
    pub role: &'static str,
    pub tensor: Tensor,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Activation {
    Linear,
    Quantized(Quantizer),
    /// A float activation (`relu`, `softmax`, …), described as saved.
    Float(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    Valid,
    Same,
    Causal,
}

/// Convolution geometry shared by the conv-like layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilation: Vec<usize>,
    pub padding: Padding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RnnCell {
    Simple,
    Lstm,
    Gru,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    Add,
    Subtract,
    Multiply,
    Average,
    Maximum,
    Minimum,
    /// Along this axis of the batch-less shape.
    Concatenate(usize),
}

/// How a QBidirectional joins its two directions (Keras's `merge_mode`;
/// `None`, two output tensors, is `Concat` read through
/// [`Op::OutputPart`] nodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BiMerge {
    Concat,
    Sum,
    Mul,
    Ave,
}

/// Batch-norm parameters (standalone, or folded into a conv / dense).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm {
    pub epsilon: f32,
    pub center: bool,
    pub scale: bool,
    /// gamma, beta, mean, variance, inverse — QKeras's `quantizers` order.
    pub quantizers: [Option<Quantizer>; 5],
}

/// What a layer computes, with its weight quantizers: the Keras / QKeras
/// layer classes qkhw reads, folded into the operations they share.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Input,
    Dense { units: usize, use_bias: bool, kernel_q: Option<Quantizer>, bias_q: Option<Quantizer> },
    Conv { filters: usize, window: Window, use_bias: bool, kernel_q: Option<Quantizer>, bias_q: Option<Quantizer> },
    ConvTranspose {
        filters: usize,
        window: Window,
        output_padding: Option<Vec<usize>>,
        use_bias: bool,
        kernel_q: Option<Quantizer>,
        bias_q: Option<Quantizer>,
    },
    Depthwise { multiplier: usize, window: Window, use_bias: bool, depthwise_q: Option<Quantizer>, bias_q: Option<Quantizer> },
    Separable {
        filters: usize,
        multiplier: usize,
        window: Window,
        use_bias: bool,
        depthwise_q: Option<Quantizer>,
        pointwise_q: Option<Quantizer>,
        bias_q: Option<Quantizer>,
    },
    /// QConv2DBatchnorm / QDepthwiseConv2DBatchnorm / QDenseBatchnorm: the
    /// inner layer with its batch norm folded in before quantization.
    Folded { inner: Box<Op>, bn: BatchNorm },
    BatchNorm(BatchNorm),
    /// QActivation, Activation, ReLU: the work is in [`Layer::activation`].
    Activation,
    /// QAdaptiveActivation whose moving averages do not define one
    /// quantizer (a frozen one becomes [`Op::Activation`]): why not.
    AdaptiveActivation { quantizer: String, total_bits: usize, moving: String },
    Pool { max: bool, pool: Vec<usize>, strides: Vec<usize>, padding: Padding, average_q: Option<Quantizer> },
    GlobalPool { max: bool, rank: usize, keepdims: bool, average_q: Option<Quantizer> },
    Flatten,
    Reshape { target: Vec<i64> },
    Dropout,
    ZeroPadding { pads: Vec<(usize, usize)> },
    /// Cropping1D/2D: (before, after) per spatial axis.
    Cropping { crops: Vec<(usize, usize)> },
    /// UpSampling1D/2D, nearest neighbour: the factor per spatial axis.
    UpSampling { size: Vec<usize> },
    /// Permute: Keras's `dims` (1-based, without the batch axis).
    Permute { dims: Vec<usize> },
    Merge(Merge),
    /// QSimpleRNN / QLSTM / QGRU; quantizers: kernel, recurrent, bias, state.
    /// The cell applies `activation` inside every time step, so the layer
    /// itself carries none (its [`Layer::activation`] is `Linear`).
    Rnn {
        cell: RnnCell,
        units: usize,
        return_sequences: bool,
        use_bias: bool,
        reset_after: bool,
        /// Keras's `implementation` (1 or 2): the same equations; QKeras
        /// 1.2.1's QGRU with 2 and `reset_after=False` fails in its call.
        implementation: usize,
        go_backwards: bool,
        quantizers: Box<[Option<Quantizer>; 4]>,
        activation: Activation,
        recurrent_activation: Activation,
    },
    Bidirectional { forward: Box<Op>, backward: Box<Op>, merge: BiMerge },
    /// Output tensor `index` of a layer with `parts` output tensors (a
    /// `QBidirectional(merge_mode=None)`, computed as the concatenation of
    /// its parts): that part of its last axis. qkhw adds this node for each
    /// part a model reads, named `LAYER:index`.
    OutputPart { index: usize, parts: usize },
    /// A layer qkhw does not build, kept only when asked
    /// ([`BuildOptions::skip_unsupported`]): why, and whether its output
    /// shape is known (from what the file says its readers read).
    Skipped { why: String, shape_known: bool },
    ScaleShift { use_bias: bool, weight_q: Option<Quantizer>, bias_q: Option<Quantizer> },
}

impl Graph {
    pub fn layer(&self, name: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.name == name)
    }

    /// The layers reading `id`'s output.
    pub fn successors(&self, id: LayerId) -> impl Iterator<Item = LayerId> + '_ {
        self.layers.iter().enumerate().filter(move |(_, l)| l.inputs.contains(&id)).map(|(i, _)| LayerId(i))
    }
}

impl Layer {
    pub fn weight(&self, role: &str) -> Option<&Tensor> {
        self.weights.iter().find(|w| w.role == role).map(|w| &w.tensor)
    }

    /// Number of weight values.
    pub fn param_count(&self) -> usize {
        self.weights.iter().map(|w| w.tensor.data.len()).sum()
    }
}
