"""Cross-check models: 15 QKeras models built apart from examples/models
(different author, different layer mixes), to run qkhw on models it was not
developed against. See scripts/crosscheck/README.md.

Run with the pinned QKeras (tests/golden/requirements.txt):
    python scripts/crosscheck/make_models.py OUT_DIR [NAME ...]
For each model NAME writes into OUT_DIR:
  NAME.keras   (model.save)
  NAME.x.npy   float32 inputs, shape (200, *input_shape)
  NAME.y.npy   float32 model.predict(x) of the in-memory model (after saving)
  NAME.logits.npy  for models ending in Activation('softmax'): the output of
               the layer before it (what qkhw predict returns)
and README.txt describing every model.

Deterministic: fixed seeds per model, single-threaded TF, op determinism on.

Combinations that QKeras rejected / that were dropped are recorded in the
DROPPED dict below (with the error) and in README.txt.
"""
import os

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
os.environ["TF_NUM_INTEROP_THREADS"] = "1"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sys
import traceback

import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
try:
    tf.config.experimental.enable_op_determinism()
except Exception:  # pragma: no cover
    pass

import keras
from keras import layers as L

from qkeras import (
    QActivation,
    QAveragePooling2D,
    QBatchNormalization,
    QConv1D,
    QConv2D,
    QConv2DBatchnorm,
    QConv2DTranspose,
    QDense,
    QDenseBatchnorm,
    QDepthwiseConv2D,
    QDepthwiseConv2DBatchnorm,
    QGlobalAveragePooling2D,
    QSeparableConv2D,
)
from qkeras.quantizers import (
    binary,
    quantized_bits,
    quantized_hswish,
    quantized_po2,
    quantized_relu,
    quantized_relu_po2,
    quantized_sigmoid,
    quantized_tanh,
    quantized_ulaw,
    ternary,
)
from qkeras.utils import _add_supported_quantized_objects
from _common import (  # noqa: E402
    _q,
    BATCH,
    DROPPED,
    EPOCHS,
    fmt_q,
    LR,
    make_inputs,
    make_targets,
    N_TEST,
    N_TRAIN,
    note_drop,
)

OUT = sys.argv[1] if len(sys.argv) > 1 else "crosscheck-out"

# Combinations that were tried and dropped: {model_name: [(what, error), ...]}
# Filled in by hand after trying them (see comments at the relevant lines) and
# automatically by try_layer() if a layer construction/call fails at runtime.


def try_layer(model, what, make_primary, make_fallback, x):
    """Build+call the primary layer; on failure record it and use the fallback."""
    try:
        return make_primary()(x)
    except Exception as e:  # noqa: BLE001
        msg = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        note_drop(model, what, msg)
        return make_fallback()(x)


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------
def q_relu(b, i, **kw):
    return QActivation(quantized_relu(b, i, **kw))


def m01_jet_mlp(name):
    """Classic jet-tagging MLP: input quantizer, alpha=1 kernels, softmax."""
    i = keras.Input((16,))
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(i)
    x = QDense(32, kernel_quantizer=quantized_bits(6, 0, 1, alpha=1),
               bias_quantizer=quantized_bits(6, 0, 1), name="fc1")(x)
    x = QActivation(quantized_relu(6, 2), name="relu1")(x)
    x = QDense(16, kernel_quantizer=quantized_bits(6, 0, 1, alpha=1),
               bias_quantizer=quantized_bits(6, 0, 1),
               activation=quantized_relu(4, 1), name="fc2")(x)
    x = QDense(5, kernel_quantizer=quantized_bits(8, 3, 1, alpha=1),
               bias_quantizer=quantized_bits(8, 3, 1), name="fc3")(x)
    o = L.Activation("softmax", name="softmax")(x)
    return keras.Model(i, o, name=name), "softmax"


def m02_auto_alpha_mlp(name):
    """No input quantizer; alpha='auto' / 'auto_po2' kernels; tanh/sigmoid; linear out."""
    i = keras.Input((12,))
    x = QDense(24, kernel_quantizer=quantized_bits(4, 0, 1, alpha="auto"),
               bias_quantizer=quantized_bits(4, 1, 1), name="fc1")(i)
    x = QActivation(quantized_tanh(4), name="tanh1")(x)
    x = QDense(12, kernel_quantizer=quantized_bits(5, 1, 1, alpha="auto_po2"),
               bias_quantizer=quantized_bits(6, 2, 1), name="fc2")(x)
    x = QActivation(quantized_sigmoid(6), name="sig2")(x)
    o = QDense(3, kernel_quantizer=quantized_bits(8, 2, 1, alpha=1),
               bias_quantizer=quantized_bits(8, 2, 1), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def m03_bnn_ternary_mlp(name):
    """quantized_bits(6,0,0) input quantizer (signed! see notes), binary + ternary kernels, QBatchNormalization after dense."""
    i = keras.Input((20,))
    x = QActivation(quantized_bits(6, 0, 0), name="in_q")(i)
    x = QDense(32, kernel_quantizer=binary(alpha=1),
               bias_quantizer=quantized_bits(8, 3, 1), name="fc1")(x)
    x = QBatchNormalization(momentum=0.9, name="bn1")(x)  # default QKeras BN quantizers
    x = q_relu(4, 2)(x)
    x = QDense(16, kernel_quantizer=ternary(alpha=1),
               bias_quantizer=quantized_bits(8, 3, 1), name="fc2")(x)
    x = QBatchNormalization(momentum=0.9, name="bn2", gamma_quantizer=None, beta_quantizer=None,
                            mean_quantizer=None, variance_quantizer=None)(x)
    x = q_relu(3, 1)(x)
    o = QDense(4, kernel_quantizer=quantized_bits(8, 3, 1, alpha=1),
               bias_quantizer=quantized_bits(8, 3, 1), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def m04_po2_ulaw_mlp(name):
    """po2 kernels, relu_po2 + ulaw activations, plain 'relu' layer activation."""
    i = keras.Input((10,))
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(i)
    x = QDense(16, kernel_quantizer=quantized_po2(4),
               bias_quantizer=quantized_bits(6, 2, 1), name="fc1")(x)
    x = QActivation(quantized_relu_po2(4, 4), name="relu_po2")(x)
    x = QDense(8, kernel_quantizer=quantized_po2(4),
               bias_quantizer=quantized_bits(6, 2, 1), name="fc2")(x)
    x = QActivation(quantized_ulaw(8, 0, 1), name="ulaw")(x)
    x = QDense(8, kernel_quantizer=quantized_bits(6, 1, 1, alpha=1),
               bias_quantizer=quantized_bits(6, 1, 1), activation="relu",
               name="fc3_relu")(x)
    o = QDense(2, kernel_quantizer=quantized_bits(8, 2, 1, alpha=1),
               bias_quantizer=quantized_bits(8, 2, 1), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def m05_dense_bn_fold(name):
    """No input quantizer; QDenseBatchnorm; hswish + quantized_bits activations."""
    i = keras.Input((14,))
    x = QDenseBatchnorm(16, kernel_quantizer=quantized_bits(6, 0, 1, alpha=1),
                        bias_quantizer=quantized_bits(8, 3, 1), momentum=0.9, name="fcbn1")(i)
    x = QActivation(quantized_hswish(8, 3, 1), name="hswish")(x)
    x = QDenseBatchnorm(8, kernel_quantizer=quantized_bits(6, 0, 1, alpha="auto_po2"),
                        bias_quantizer=quantized_bits(8, 3, 1), momentum=0.9, name="fcbn2")(x)
    x = QActivation(quantized_bits(6, 2, 1), name="qbits_act")(x)
    x = QDense(3, kernel_quantizer=quantized_bits(8, 3, 1, alpha=1),
               bias_quantizer=quantized_bits(8, 3, 1), name="out")(x)
    o = L.Activation("softmax", name="softmax")(x)
    return keras.Model(i, o, name=name), "softmax"


def m06_cnn_basic(name):
    """Small image CNN: same/valid conv, MaxPooling2D, Flatten, dense head."""
    i = keras.Input((12, 12, 3))
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(i)
    x = QConv2D(8, (3, 3), padding="same",
                kernel_quantizer=quantized_bits(6, 0, 1, alpha=1),
                bias_quantizer=quantized_bits(6, 0, 1), name="conv1")(x)
    x = q_relu(6, 2)(x)
    x = L.MaxPooling2D(2, name="pool1")(x)                       # 6x6x8
    x = QConv2D(8, (3, 3), padding="valid",
                kernel_quantizer=quantized_bits(6, 0, 1, alpha="auto_po2"),
                bias_quantizer=quantized_bits(6, 0, 1), name="conv2")(x)  # 4x4x8
    x = q_relu(6, 2)(x)
    x = L.Flatten(name="flat")(x)
    x = QDense(16, kernel_quantizer=quantized_bits(6, 0, 1, alpha=1),
               bias_quantizer=quantized_bits(6, 0, 1), name="fc1")(x)
    x = q_relu(6, 2)(x)
    x = QDense(4, kernel_quantizer=quantized_bits(8, 3, 1, alpha=1),
               bias_quantizer=quantized_bits(8, 3, 1), name="out")(x)
    o = L.Activation("softmax", name="softmax")(x)
    return keras.Model(i, o, name=name), "softmax"


def m07_cnn_stride_bn(name):
    """ZeroPadding2D + stride-2 ternary conv + QBatchNormalization + QAveragePooling2D."""
    i = keras.Input((10, 10, 3))
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(i)
    x = L.ZeroPadding2D(1, name="pad")(x)                        # 12x12
    x = QConv2D(6, (3, 3), strides=2, padding="valid",
                kernel_quantizer=ternary(alpha=1),
                bias_quantizer=quantized_bits(6, 2, 1), name="conv_s2")(x)  # 5x5x6
    x = QBatchNormalization(momentum=0.9, name="bn")(x)
    x = q_relu(4, 2)(x)
    x = QAveragePooling2D(2, average_quantizer=quantized_bits(8, 2, 1),
                          name="qavgpool")(x)                      # 2x2x6
    x = L.Flatten(name="flat")(x)
    x = QDense(8, kernel_quantizer=quantized_bits(5, 0, 1, alpha=1),
               bias_quantizer=quantized_bits(5, 1, 1), activation="relu",
               name="fc_relu")(x)
    o = QDense(2, kernel_quantizer=quantized_bits(8, 2, 1, alpha=1),
               bias_quantizer=quantized_bits(8, 2, 1), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def m08_mobilenet_like(name):
    """Unsigned input (keep_negative=False); depthwise(x2) + pointwise, AveragePooling2D, separable conv, hswish, GAP, linear out."""
    i = keras.Input((12, 12, 3))
    # NB: quantized_bits(6,0,0) is still *signed* (keep_negative defaults to True);
    # a truly unsigned input quantizer needs keep_negative=False.
    x = QActivation(quantized_bits(6, 0, 0, keep_negative=False), name="in_q")(i)
    x = QDepthwiseConv2D((3, 3), padding="same", depth_multiplier=2,
                         depthwise_quantizer=quantized_bits(6, 0, 1, alpha=1),
                         bias_quantizer=quantized_bits(6, 0, 1), name="dw1")(x)  # 12x12x6
    x = q_relu(6, 2)(x)
    x = QConv2D(8, (1, 1), kernel_quantizer=quantized_bits(6, 0, 1, alpha=1),
                bias_quantizer=quantized_bits(6, 0, 1), name="pw1")(x)
    x = q_relu(6, 2)(x)
    x = L.AveragePooling2D(2, name="avgpool")(x)                  # 6x6x8
    x = QSeparableConv2D(8, (3, 3), padding="valid",
                         depthwise_quantizer=quantized_bits(6, 0, 1, alpha=1),
                         pointwise_quantizer=quantized_bits(6, 0, 1, alpha="auto_po2"),
                         depthwise_initializer="he_normal", pointwise_initializer="he_normal",
                         bias_quantizer=quantized_bits(6, 0, 1), name="sep1")(x)  # 4x4x8
    x = QBatchNormalization(momentum=0.9, name="bn_sep")(x)
    x = QActivation(quantized_hswish(8, 2, 1), name="hswish")(x)
    x = QGlobalAveragePooling2D(average_quantizer=quantized_bits(10, 2, 1),
                                name="qgap")(x)
    x = QDense(16, kernel_quantizer=quantized_bits(6, 1, 1, alpha=1),
               bias_quantizer=quantized_bits(6, 1, 1), name="fc1")(x)
    x = q_relu(8, 3)(x)
    o = QDense(3, kernel_quantizer=quantized_bits(8, 3, 1, alpha=1),
               bias_quantizer=quantized_bits(8, 3, 1), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def m09_conv_bn_fold(name):
    """QConv2DBatchnorm + QDepthwiseConv2DBatchnorm, leaky quantized_relu, GlobalMaxPooling2D."""
    i = keras.Input((8, 8, 3))
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(i)
    x = QConv2DBatchnorm(8, (3, 3), padding="same",
                         kernel_quantizer=quantized_bits(6, 0, 1, alpha=1),
                         bias_quantizer=quantized_bits(8, 3, 1), momentum=0.9, name="convbn")(x)
    x = q_relu(6, 2)(x)
    x = QDepthwiseConv2DBatchnorm((3, 3), padding="valid",
                                  depthwise_quantizer=quantized_bits(6, 0, 1, alpha=1),
                                  bias_quantizer=quantized_bits(8, 3, 1),
                                  momentum=0.9, name="dwbn")(x)                  # 6x6x8
    x = try_layer(
        name, "quantized_relu(6,2,negative_slope=0.25)",
        lambda: QActivation(quantized_relu(6, 2, negative_slope=0.25), name="leaky"),
        lambda: QActivation(quantized_relu(6, 2), name="leaky"), x)
    x = L.GlobalMaxPooling2D(name="gmp")(x)
    o = QDense(4, kernel_quantizer=quantized_bits(8, 3, 1, alpha=1),
               bias_quantizer=quantized_bits(8, 3, 1), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def m10_conv1d_ts(name):
    """1-D time-series: QConv1D valid/same, MaxPooling1D, Flatten, dense head."""
    i = keras.Input((32, 2))
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(i)
    x = QConv1D(8, 5, kernel_quantizer=quantized_bits(6, 0, 1, alpha=1),
                bias_quantizer=quantized_bits(6, 0, 1), name="c1")(x)     # 28x8
    x = q_relu(6, 2)(x)
    x = L.MaxPooling1D(2, name="mp1")(x)                                  # 14x8
    x = QConv1D(8, 3, padding="same", kernel_quantizer=ternary(alpha=1),
                bias_quantizer=quantized_bits(6, 2, 1), name="c2")(x)     # 14x8
    x = QActivation(quantized_tanh(6), name="tanh")(x)
    x = L.MaxPooling1D(2, name="mp2")(x)                                  # 7x8
    x = L.Flatten(name="flat")(x)
    x = QDense(8, kernel_quantizer=quantized_bits(4, 0, 1, alpha="auto"),
               bias_quantizer=quantized_bits(6, 2, 1), name="fc1")(x)
    x = q_relu(5, 2)(x)
    o = QDense(1, kernel_quantizer=quantized_bits(8, 2, 1, alpha=1),
               bias_quantizer=quantized_bits(8, 2, 1), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def m11_conv_transpose_decoder(name):
    """No input quantizer; upsampling decoder with QConv2DTranspose (stride 2, same), linear 8x8x1 image out."""
    i = keras.Input((4, 4, 2))
    x = QConv2D(4, (3, 3), padding="same",
                kernel_quantizer=quantized_bits(6, 0, 1, alpha=1),
                bias_quantizer=quantized_bits(6, 0, 1), activation="relu",
                name="conv_relu")(i)
    x = QConv2DTranspose(4, (3, 3), strides=2, padding="same",
                         kernel_quantizer=quantized_bits(6, 0, 1, alpha=1),
                         bias_quantizer=quantized_bits(6, 0, 1), name="deconv")(x)  # 8x8x4
    x = q_relu(6, 2)(x)
    o = QConv2D(1, (3, 3), padding="same",
                kernel_quantizer=quantized_bits(8, 2, 1, alpha=1),
                bias_quantizer=quantized_bits(8, 2, 1), name="out")(x)   # 8x8x1
    return keras.Model(i, o, name=name), "linear"


def m12_merge_add_sub_mul(name):
    """Dense branches merged with Add / Subtract / Multiply / Concatenate."""
    i = keras.Input((16,))
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(i)
    a = QDense(8, kernel_quantizer=quantized_bits(6, 0, 1, alpha=1),
               bias_quantizer=quantized_bits(6, 0, 1), name="fa")(x)
    a = QActivation(quantized_relu(6, 2), name="fa_relu")(a)
    b = QDense(8, kernel_quantizer=ternary(alpha=1),
               bias_quantizer=quantized_bits(6, 2, 1), name="fb")(x)
    b = QActivation(quantized_bits(6, 2, 1), name="fb_q")(b)
    s = L.Add(name="add")([a, b])
    d = L.Subtract(name="sub")([a, b])
    m = L.Multiply(name="mul")([a, b])
    m = QActivation(quantized_bits(8, 3, 1), name="mul_q")(m)
    c = L.Concatenate(name="cat")([s, d, m])
    c = QActivation(quantized_bits(8, 4, 1), name="cat_q")(c)
    x = QDense(4, kernel_quantizer=quantized_bits(8, 2, 1, alpha=1),
               bias_quantizer=quantized_bits(8, 2, 1), name="out")(c)
    o = L.Activation("softmax", name="softmax")(x)
    return keras.Model(i, o, name=name), "softmax"


def m13_merge_min_max_avg(name):
    """Three dense branches (auto / po2 / binary kernels) with Maximum/Minimum/Average."""
    i = keras.Input((12,))
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(i)
    a = QDense(10, kernel_quantizer=quantized_bits(5, 0, 1, alpha="auto"),
               bias_quantizer=quantized_bits(6, 2, 1), name="fa")(x)
    a = QActivation(quantized_relu(5, 2), name="fa_relu")(a)
    b = QDense(10, kernel_quantizer=quantized_po2(4),
               bias_quantizer=quantized_bits(6, 2, 1), name="fb")(x)
    b = QActivation(quantized_tanh(5), name="fb_tanh")(b)
    c = QDense(10, kernel_quantizer=binary(alpha=1),
               bias_quantizer=quantized_bits(6, 2, 1), name="fc")(x)
    c = QActivation(quantized_bits(5, 2, 1), name="fc_q")(c)
    mx = L.Maximum(name="max")([a, b])
    mn = L.Minimum(name="min")([b, c])
    av = L.Average(name="avg")([a, b, c])
    av = QActivation(quantized_bits(8, 2, 1), name="avg_q")(av)
    y = L.Concatenate(name="cat")([mx, mn, av])
    o = QDense(3, kernel_quantizer=quantized_bits(8, 2, 1, alpha=1),
               bias_quantizer=quantized_bits(8, 2, 1), name="out")(y)
    return keras.Model(i, o, name=name), "linear"


def m14_cnn_residual(name):
    """Dense input -> Reshape to 4x4x1, residual conv block (Add) with QBatchNormalization, 1x1 convs merged by Average/Maximum/Concatenate, MaxPooling2D, Flatten."""
    i = keras.Input((16,))
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(i)
    x = L.Reshape((4, 4, 1), name="reshape")(x)
    x = QConv2D(8, (3, 3), padding="same",
                kernel_quantizer=quantized_bits(6, 0, 1, alpha=1),
                bias_quantizer=quantized_bits(6, 0, 1), name="c1")(x)
    x = q_relu(6, 2)(x)
    y = QConv2D(8, (3, 3), padding="same",
                kernel_quantizer=quantized_bits(6, 0, 1, alpha="auto"),
                bias_quantizer=quantized_bits(6, 0, 1), name="c2")(x)
    y = QBatchNormalization(momentum=0.9, name="bn2")(y)
    y = QActivation(quantized_bits(8, 3, 1), name="c2_q")(y)
    r = L.Add(name="res_add")([x, y])
    r = q_relu(6, 3)(r)
    p = QConv2D(4, (1, 1), kernel_quantizer=quantized_po2(4),
                bias_quantizer=quantized_bits(6, 2, 1), name="p1")(r)
    p = QActivation(quantized_relu_po2(5, 4), name="p1_relupo2")(p)
    q = QConv2D(4, (1, 1), kernel_quantizer=ternary(alpha=1),
                bias_quantizer=quantized_bits(6, 2, 1), name="p2")(r)
    q = QActivation(quantized_sigmoid(5), name="p2_sig")(q)
    av = L.Average(name="avg")([p, q])
    mx = L.Maximum(name="max")([p, q])
    c = L.Concatenate(axis=-1, name="cat")([av, mx])            # 4x4x8
    c = QActivation(quantized_bits(8, 3, 1), name="cat_q")(c)
    c = L.MaxPooling2D(2, name="pool")(c)                          # 2x2x8
    c = L.Flatten(name="flat")(c)
    o = QDense(3, kernel_quantizer=quantized_bits(8, 2, 1, alpha=1),
               bias_quantizer=quantized_bits(8, 2, 1), name="out")(c)
    return keras.Model(i, o, name=name), "linear"


def m15_two_input_free_mix(name):
    """No input quantizer; two parallel convs (auto_po2 / binary) merged by Subtract, Multiply, Minimum; ulaw; QAveragePooling2D; softmax."""
    i = keras.Input((8, 8, 2))
    a = QConv2D(6, (3, 3), padding="valid",
                kernel_quantizer=quantized_bits(5, 0, 1, alpha="auto_po2"),
                bias_quantizer=quantized_bits(6, 2, 1), name="ca")(i)   # 6x6x6
    a = QActivation(quantized_relu(5, 2), name="ca_relu")(a)
    b = QConv2D(6, (3, 3), padding="valid", kernel_quantizer=binary(alpha=1),
                bias_quantizer=quantized_bits(6, 2, 1), name="cb")(i)
    b = QActivation(quantized_ulaw(8, 2, 1), name="cb_ulaw")(b)
    d = L.Subtract(name="sub")([a, b])
    m = L.Multiply(name="mul")([a, b])
    m = QActivation(quantized_bits(8, 3, 1), name="mul_q")(m)
    n = L.Minimum(name="min")([d, m])
    n = QActivation(quantized_bits(6, 2, 1), name="min_q")(n)
    n = QAveragePooling2D(2, average_quantizer=quantized_bits(8, 2, 1), name="qap")(n)  # 3x3x6
    n = L.Flatten(name="flat")(n)
    x = QDense(12, kernel_quantizer=quantized_bits(4, 0, 1, alpha=1),
               bias_quantizer=quantized_bits(4, 1, 1),
               activation=quantized_relu(4, 2), name="fc1")(n)
    x = QDense(4, kernel_quantizer=quantized_bits(8, 2, 1, alpha=1),
               bias_quantizer=quantized_bits(8, 2, 1), name="out")(x)
    o = L.Activation("softmax", name="softmax")(x)
    return keras.Model(i, o, name=name), "softmax"


MODELS = [
    ("h01_jet_mlp", m01_jet_mlp),
    ("h02_auto_alpha_mlp", m02_auto_alpha_mlp),
    ("h03_bnn_ternary_mlp", m03_bnn_ternary_mlp),
    ("h04_po2_ulaw_mlp", m04_po2_ulaw_mlp),
    ("h05_dense_bn_fold", m05_dense_bn_fold),
    ("h06_cnn_basic", m06_cnn_basic),
    ("h07_cnn_stride_bn", m07_cnn_stride_bn),
    ("h08_mobilenet_like", m08_mobilenet_like),
    ("h09_conv_bn_fold", m09_conv_bn_fold),
    ("h10_conv1d_ts", m10_conv1d_ts),
    ("h11_conv_transpose_decoder", m11_conv_transpose_decoder),
    ("h12_merge_add_sub_mul", m12_merge_add_sub_mul),
    ("h13_merge_min_max_avg", m13_merge_min_max_avg),
    ("h14_cnn_residual", m14_cnn_residual),
    ("h15_conv_merge_mix", m15_two_input_free_mix),
]


# --------------------------------------------------------------------------
# description helpers
# --------------------------------------------------------------------------


def describe_layer(layer):
    cls = type(layer).__name__
    parts = []
    cfg = layer.get_config()
    for k in ("units", "filters", "kernel_size", "pool_size", "strides", "padding",
              "depth_multiplier", "target_shape", "axis"):
        if k in cfg and cfg[k] is not None:
            v = cfg[k]
            if k == "padding" and cls == "ZeroPadding2D":
                pass
            if k == "strides" and tuple(np.atleast_1d(v)) in ((1,), (1, 1)):
                continue
            if k == "axis" and cls not in ("Concatenate",):
                continue
            parts.append(f"{k}={tuple(v) if isinstance(v, list) else v}")
    for attr, tag in (("kernel_quantizer", "k"), ("depthwise_quantizer", "dw"),
                      ("pointwise_quantizer", "pw"), ("bias_quantizer", "b"),
                      ("average_quantizer", "avg_q")):
        s = _q(layer, attr)
        if s:
            parts.append(f"{tag}={s}")
    if cls == "QActivation":
        parts.append(fmt_q(layer.activation))
    elif cls == "Activation":
        parts.append(cfg.get("activation"))
    elif "activation" in cfg and cfg["activation"] not in (None, "linear"):
        a = cfg["activation"]
        if not isinstance(a, str):
            a = _q(layer, "activation") or str(a)
        parts.append(f"act={a}")
    if cls == "QBatchNormalization":
        qs = [_q(layer, a) for a in ("gamma_quantizer", "beta_quantizer",
                                     "mean_quantizer", "variance_quantizer")]
        parts.append("quantizers=" + ("default" if any(qs) else "None"))
    inb = ""
    try:
        inbound = layer._inbound_nodes[0].input_tensors  # noqa: SLF001
        if len(inbound) > 1:
            inb = "<" + ",".join(t._keras_history[0].name for t in inbound) + ">"  # noqa: SLF001
    except Exception:
        pass
    return f"{cls}[{layer.name}]{inb}(" + ", ".join(parts) + ")"


# --------------------------------------------------------------------------
def main():
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[2:])
    os.makedirs(OUT, exist_ok=True)
    custom = {}
    _add_supported_quantized_objects(custom)
    readme = []
    failures = []
    for idx, (name, builder) in enumerate(MODELS):
        if only and name not in only:
            continue
        seed = 1000 + idx
        keras.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        try:
            model, kind = builder(name)
            in_shape = tuple(model.input_shape[1:])
            out_shape = tuple(model.output_shape[1:])
            xtr = make_inputs(rng, N_TRAIN, in_shape)
            ytr = make_targets(rng, xtr, out_shape, kind)
            model.compile(optimizer=keras.optimizers.Adam(LR),
                          loss="categorical_crossentropy" if kind == "softmax" else "mse")
            model.fit(xtr, ytr, epochs=EPOCHS, batch_size=BATCH, verbose=0, shuffle=True)
            path = os.path.join(OUT, name + ".keras")
            model.save(path)
            x = make_inputs(rng, N_TEST, in_shape)
            y = np.asarray(model.predict(x, batch_size=BATCH, verbose=0), dtype=np.float32)
            if not np.all(np.isfinite(y)):
                raise RuntimeError("non-finite predictions")
            np.save(os.path.join(OUT, name + ".x.npy"), x)
            np.save(os.path.join(OUT, name + ".y.npy"), y)
            if type(model.layers[-1]).__name__ == "Activation":
                sub = keras.Model(model.input, model.layers[-2].output)
                z = np.asarray(sub.predict(x, batch_size=BATCH, verbose=0), dtype=np.float32)
                np.save(os.path.join(OUT, name + ".logits.npy"), z)
            # sanity: reload and compare (does not affect the saved outputs)
            try:
                m2 = keras.models.load_model(path, custom_objects=custom, compile=False)
                y2 = np.asarray(m2.predict(x, batch_size=BATCH, verbose=0))
                reload_diff = float(np.max(np.abs(y2 - y)))
            except Exception as e:  # noqa: BLE001
                lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
                key = [ln for ln in lines if ln.startswith("Exception encountered:")
                       or ln.startswith("Layer '")]
                msg = (key[-1] if key else (lines[0] if lines else ""))[:220]
                reload_diff = f"keras.models.load_model FAILED ({type(e).__name__}: {msg})"
            layers_desc = " > ".join(describe_layer(l) for l in model.layers
                                     if type(l).__name__ != "InputLayer")
            n_unique = len(np.unique(np.round(y, 6)))
            print(f"{name}: in={in_shape} out={out_shape} kind={kind} "
                  f"y[min,max]=[{y.min():.4g},{y.max():.4g}] unique={n_unique} std={float(y.std(0).mean()):.3g} "
                  f"reload_maxdiff={reload_diff}", flush=True)
            drops = DROPPED.get(name, [])
            readme.append(
                f"{name}\n"
                f"  input shape: {in_shape}   output shape: {out_shape}   output: {kind}\n"
                f"  purpose: {builder.__doc__.strip().splitlines()[0]}\n"
                f"  layers: {layers_desc}\n"
                f"  dropped: " + ("; ".join(f"{w} -> {e}" for w, e in drops) if drops else "none")
                + f"\n  reload check max|diff|: {reload_diff}\n")
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            failures.append((name, f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:300]}"))
            print(f"{name}: FAILED {e}", flush=True)

    with open(os.path.join(OUT, "README.txt"), "w") as f:
        f.write(
            "Held-out QKeras (qkeras-v3 1.2.1, Keras 3, TF backend) test models.\n"
            "Generated by scripts/crosscheck/make_models.py (deterministic, seed 1000+index).\n"
            "Each NAME has NAME.keras, NAME.x.npy (float32, (200,*input_shape), N(0,1.5) with\n"
            "~5% of entries x4 to saturate quantizers; image/sequence inputs get a per-sample\n"
            "per-channel common component, marginal std still 1.5), NAME.y.npy (float32 model.predict(x) of\n"
            "the in-memory model after saving). Trained 2 epochs on 300 random samples; targets are\n"
            "a random linear teacher of the input (argmax one-hot for softmax models),\n"
            "batch 32, Adam(3e-3).\n\n")
        for r in readme:
            f.write(r + "\n")
        f.write(NOTES)
        if STATIC_DROPS:
            f.write("Combinations dropped while writing the script (QKeras rejected them):\n")
            for w, e in STATIC_DROPS:
                f.write(f"  - {w}: {e}\n")
        if failures:
            f.write("\nModels that FAILED entirely:\n")
            for n, e in failures:
                f.write(f"  - {n}: {e}\n")
    print("failures:", failures)


# Combinations removed from the builders above because QKeras rejected them
# (what, error).  Kept here so README.txt lists them.
STATIC_DROPS = []

NOTES = """Notes
  * Nothing from the requested feature list had to be dropped: QKeras 1.2.1 accepted
    every combination, including quantized_relu(6,2,negative_slope=0.25) (h09).
  * quantized_bits(6,0,0) is NOT unsigned in QKeras (keep_negative defaults to True;
    range [-1, 31/32]); h03 uses it as written, h08 uses
    quantized_bits(6,0,0,keep_negative=False) which really is unsigned ([0, 63/64]).
  * Three files save fine but cannot be reloaded by keras.models.load_model in this
    QKeras version (QKeras serialization bugs; config.json + model.weights.h5 are
    complete, and y.npy comes from the in-memory model):
      - QDenseBatchnorm (h05): get_config() emits BatchNormalization kwargs
        synchronized/renorm/renorm_clipping/renorm_momentum that __init__ rejects.
      - quantized_hswish (h05, h08): get_config() emits keep_negative, which
        quantized_hswish.__init__ rejects.
      - QDepthwiseConv2DBatchnorm (h09): the weights file holds an extra scalar
        variable (vars/2 plus 'iteration') beyond what the rebuilt layer expects.
  * BatchNorm layers use momentum=0.9 so that 20 training steps move the moving
    statistics away from their initial values (0 / 1).
  * .keras files include the (Adam) optimizer state because the models were compiled.

"""

if __name__ == "__main__":
    main()
