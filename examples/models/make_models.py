#!/usr/bin/env python3
"""Small real QKeras models and their golden quantized weights.

Run (pinned versions in tests/golden/requirements.txt):
    KERAS_BACKEND=tensorflow TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 \
    TF_ENABLE_ONEDNN_OPTS=0 python examples/models/make_models.py [NAME ...]

Every model is built with fixed seeds, trained 2-3 epochs on a few hundred
synthetic samples (so the weights are not at their initial values) and
written beside this script as:
  NAME.keras          model.save (Keras 3 zip: config.json + model.weights.h5)
  NAME.weights.json   qkeras.utils.model_save_quantized_weights(model) of the
                      model reloaded from NAME.keras ("source": "reloaded"),
                      or of the in-memory model when QKeras cannot reload it
                      ("source": "in_memory")
plus, for jet_tagger, the legacy jet_tagger.h5 and the architecture/weights
pair jet_tagger_json.json + jet_tagger_json.weights.h5, and conv_bn_folded.h5
when conv_bn_folded.keras does not reload.

Values in the JSON: bool, null, list and str as such; anything numeric as
{"dtype": numpy dtype name, "shape": [...], "data": [flat C-order values]}
with NaN/inf written as "nan", "inf", "-inf".
The Rust side reads the saved models, recomputes the dict and compares.
"""
import contextlib
import json
import os
import re
import sys
import zlib

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_json import encode  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras.utils import (  # noqa: E402
    _add_supported_quantized_objects, model_save_quantized_weights,
    quantized_model_from_json)
from qkeras import (  # noqa: E402
    QActivation, QAveragePooling2D, QBatchNormalization, QBidirectional,
    QConv1D, QConv2D, QConv2DBatchnorm, QConv2DTranspose, QDense,
    QDenseBatchnorm, QDepthwiseConv2D, QDepthwiseConv2DBatchnorm,
    QGlobalAveragePooling2D, QGRU, QLSTM, QScaleShift, QSeparableConv1D,
    QSeparableConv2D, QSimpleRNN)
from qkeras.quantizers import (  # noqa: E402
    binary, quantized_bits, quantized_hswish, quantized_po2, quantized_relu,
    quantized_relu_po2, quantized_sigmoid, quantized_tanh, quantized_ulaw,
    ternary)

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = "examples/models/make_models.py"
SEED = 1234
N_SAMPLES = 256

CUSTOM_OBJECTS = {}
_add_supported_quantized_objects(CUSTOM_OBJECTS)


def qb(bits, integer, alpha=1):
    return quantized_bits(bits, integer, alpha=alpha)


# --------------------------------------------------------------- models


def jet_tagger():
    """hls4ml's jet-tagging MLP (16 -> 64 -> 32 -> 32 -> 5, 6-bit)."""
    reg = keras.regularizers.l1(1e-4)
    kw = dict(kernel_quantizer=qb(6, 0), bias_quantizer=qb(6, 0),
              kernel_initializer="lecun_uniform", kernel_regularizer=reg)
    x = inp = keras.Input((16,), name="input_1")
    for i, n in enumerate((64, 32, 32), 1):
        x = QDense(n, name=f"fc{i}", **kw)(x)
        x = QActivation(quantized_relu(6), name=f"relu{i}")(x)
    x = QDense(5, name="output", **kw)(x)
    x = L.Activation("softmax", name="softmax")(x)
    return keras.Model(inp, x, name="jet_tagger")


def jet_tagger_da():
    """The jet-tagging MLP at the precision of the distributed-arithmetic
    comparisons (da4ml): 6-bit unsigned input quantizer, 6-bit weights,
    quantized_relu(6,2) hidden activations, a linear output at exact width."""
    reg = keras.regularizers.l1(1e-4)
    kw = dict(kernel_quantizer=qb(6, 0), bias_quantizer=qb(6, 0),
              kernel_initializer="lecun_uniform", kernel_regularizer=reg)
    inp = keras.Input((16,), name="input_1")
    # quantized_bits(6,0,0,0): the 4th argument is keep_negative.
    x = QActivation(quantized_bits(6, 0, 0, 0), name="input_q")(inp)
    for i, n in enumerate((64, 32, 32), 1):
        x = QDense(n, name=f"fc{i}", **kw)(x)
        x = QActivation(quantized_relu(6, 2), name=f"relu{i}")(x)
    x = QDense(5, name="output", **kw)(x)
    return keras.Model(inp, x, name="jet_tagger_da")


def po2_mlp():
    """Power-of-two weights and activations (signs/log2 in the dict)."""
    x = inp = keras.Input((10,), name="x")
    x = QDense(16, kernel_quantizer=quantized_po2(4),
               bias_quantizer=quantized_po2(4), name="d1")(x)
    x = QActivation(quantized_relu_po2(4), name="a1")(x)
    x = QDense(8, kernel_quantizer=quantized_po2(5, 1),
               bias_quantizer=quantized_relu_po2(4, 4), name="d2")(x)
    x = QActivation(quantized_relu_po2(5, 4), name="a2")(x)
    x = QDense(8, kernel_quantizer=quantized_relu_po2(4, 2),
               bias_quantizer=quantized_po2(4, quadratic_approximation=True),
               name="d3")(x)
    x = QActivation(quantized_relu(6, 2), name="a3")(x)
    x = QDense(3, kernel_quantizer=quantized_po2(6, 2, log2_rounding="floor"),
               bias_quantizer=qb(8, 3), name="out")(x)
    return keras.Model(inp, x, name="po2_mlp")


def auto_po2_mlp():
    """quantized_bits with alpha None (-> auto_po2) and alpha='auto_po2'."""
    x = inp = keras.Input((12,), name="x")
    x = QDense(16, kernel_quantizer=quantized_bits(4, 0),
               bias_quantizer=qb(8, 3), name="d1")(x)
    x = QActivation(qb(8, 3), name="a1")(x)
    x = L.Reshape((16, 1), name="reshape")(x)
    x = QConv1D(3, 3, kernel_quantizer=quantized_bits(5, 1, alpha="auto_po2"),
                bias_quantizer=qb(8, 3), name="c1")(x)
    x = QActivation(quantized_relu(8, 3), name="a2")(x)
    x = L.Flatten(name="flatten")(x)
    x = QDense(8, kernel_quantizer=quantized_bits(6, 2, alpha="auto_po2"),
               bias_quantizer=qb(8, 3), name="d2")(x)
    x = QActivation(quantized_relu(8, 3), name="a3")(x)
    x = QDense(4, kernel_quantizer=quantized_bits(4, 0, alpha="auto_po2"),
               bias_quantizer=qb(8, 3), name="out")(x)
    return keras.Model(inp, x, name="auto_po2_mlp")


def binary_ternary():
    """binary/ternary weights with alpha=1 and alpha None (-> auto_po2)."""
    x = inp = keras.Input((10,), name="x")
    x = QDense(16, kernel_quantizer=binary(alpha=1),
               bias_quantizer=qb(8, 3), name="d1")(x)
    x = QActivation(binary(alpha=1), name="a1")(x)
    x = QDense(16, kernel_quantizer=ternary(alpha=1), name="d2")(x)
    x = QActivation(ternary(), name="a2")(x)
    x = QDense(8, kernel_quantizer=binary(), bias_quantizer=qb(6, 2),
               name="d3")(x)
    x = QActivation(quantized_relu(4, 1), name="a3")(x)
    x = QDense(3, kernel_quantizer=ternary(), use_bias=False, name="out")(x)
    return keras.Model(inp, x, name="binary_ternary")


def cnn_bn():
    """QConv2D and QDepthwiseConv2D each followed by a (fused) QBN."""
    x = inp = keras.Input((8, 8, 1), name="x")
    x = QConv2D(4, (3, 3), kernel_quantizer=qb(6, 0),
                bias_quantizer=qb(8, 3), name="conv1")(x)
    x = QBatchNormalization(momentum=0.9, name="bn1")(x)
    x = QActivation(quantized_relu(6, 2), name="relu1")(x)
    x = QDepthwiseConv2D((3, 3), depthwise_quantizer=qb(6, 0),
                         bias_quantizer=qb(8, 3), name="dw1")(x)
    x = QBatchNormalization(
        gamma_quantizer=quantized_relu_po2(4, 8),
        variance_quantizer=quantized_relu_po2(4, 8),
        beta_quantizer=quantized_po2(5), mean_quantizer=quantized_po2(5),
        momentum=0.9, name="bn2")(x)
    x = QActivation(quantized_relu(6, 2), name="relu2")(x)
    x = L.Flatten(name="flatten")(x)
    x = QDense(3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="dense")(x)
    return keras.Model(inp, x, name="cnn_bn")


def bn_variants():
    """QBatchNormalization with scale=False, center=False, an inverse
    quantizer, and one not fusable (after a QDense)."""
    x = inp = keras.Input((6, 6, 2), name="x")
    x = QConv2D(4, (3, 3), kernel_quantizer=qb(6, 0),
                bias_quantizer=qb(8, 3), name="conv1")(x)
    x = QBatchNormalization(scale=False, momentum=0.9, name="bn_noscale")(x)
    x = QActivation(quantized_relu(6, 2), name="relu1")(x)
    x = QDepthwiseConv2D((2, 2), depthwise_quantizer=qb(6, 0),
                         use_bias=False, name="dw1")(x)
    x = QBatchNormalization(center=False, momentum=0.9, name="bn_nocenter")(x)
    x = QActivation(quantized_relu(6, 2), name="relu2")(x)
    x = QConv2D(2, (1, 1), kernel_quantizer=qb(6, 0),
                bias_quantizer=qb(8, 3), name="conv2")(x)
    x = QBatchNormalization(gamma_quantizer=None, variance_quantizer=None,
                            inverse_quantizer=qb(8, 4), momentum=0.9,
                            name="bn_inv")(x)
    x = L.Flatten(name="flatten")(x)
    x = QDense(4, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="dense")(x)
    x = QBatchNormalization(momentum=0.9, name="bn_dense")(x)
    x = QDense(2, kernel_quantizer=qb(6, 0), name="out")(x)
    return keras.Model(inp, x, name="bn_variants")


def conv_bn_folded():
    """QConv2DBatchnorm and QDepthwiseConv2DBatchnorm."""
    x = inp = keras.Input((8, 8, 1), name="x")
    x = QConv2DBatchnorm(4, (3, 3), kernel_quantizer=qb(6, 0),
                         bias_quantizer=qb(8, 3), momentum=0.9,
                         name="conv_bn")(x)
    x = QActivation(quantized_relu(6, 2), name="relu1")(x)
    x = QDepthwiseConv2DBatchnorm((3, 3), depthwise_quantizer=qb(6, 0),
                                  bias_quantizer=qb(8, 3), momentum=0.9,
                                  name="dw_bn")(x)
    x = QActivation(quantized_relu(6, 2), name="relu2")(x)
    x = L.Flatten(name="flatten")(x)
    x = QDense(3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="out")(x)
    return keras.Model(inp, x, name="conv_bn_folded")


def dense_bn_folded():
    """QDenseBatchnorm (kept apart: QKeras cannot even clone it)."""
    x = inp = keras.Input((12,), name="x")
    x = QDenseBatchnorm(8, kernel_quantizer=qb(6, 0),
                        bias_quantizer=qb(8, 3), momentum=0.9,
                        name="dense_bn")(x)
    x = QActivation(quantized_relu(6, 2), name="relu1")(x)
    x = QDense(3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="out")(x)
    return keras.Model(inp, x, name="dense_bn_folded")


def pooling():
    """QAveragePooling2D (quantized / not / padding='same' on an odd size)
    and QGlobalAveragePooling2D."""
    x = inp = keras.Input((14, 14, 2), name="x")
    x = QConv2D(4, (3, 3), kernel_quantizer=qb(6, 0),
                bias_quantizer=qb(8, 3), name="conv1")(x)       # 12x12x4
    x = QActivation(quantized_relu(6, 2), name="relu1")(x)
    x = QAveragePooling2D(3, average_quantizer=qb(8, 0), name="pool1")(x)
    x = QConv2D(6, (2, 2), kernel_quantizer=qb(6, 0),
                bias_quantizer=qb(8, 3), name="conv2")(x)       # 3x3x6
    x = QAveragePooling2D(2, strides=1, padding="same",
                          average_quantizer=qb(8, 0), name="pool_same")(x)
    x = QAveragePooling2D((1, 2), strides=1, name="pool_noq")(x)  # 3x2x6
    x = QGlobalAveragePooling2D(average_quantizer=qb(8, 1), name="gap")(x)
    x = QDense(3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="out")(x)
    return keras.Model(inp, x, name="pooling")


def functional_add():
    """Branches joined by Add and Concatenate."""
    inp = keras.Input((16,), name="x")
    a = QDense(16, kernel_quantizer=qb(6, 0), bias_quantizer=qb(6, 0),
               name="a")(inp)
    a = QActivation(quantized_relu(6, 2), name="a_act")(a)
    b1 = QDense(8, kernel_quantizer=qb(6, 0), bias_quantizer=qb(6, 0),
                name="b1")(a)
    b2 = QDense(8, kernel_quantizer=qb(4, 0), bias_quantizer=qb(6, 0),
                name="b2")(a)
    s = L.Add(name="add")([b1, b2])
    s = QActivation(quantized_relu(6, 2), name="add_act")(s)
    c = L.Concatenate(name="concat")([s, a])
    out = QDense(4, kernel_quantizer=qb(6, 0), bias_quantizer=qb(6, 0),
                 name="out")(c)
    return keras.Model(inp, out, name="functional_add")


def merges():
    """Every other Keras merge on quantized branches: Multiply, Maximum,
    Minimum, Average (of two: exact in fixed point) and Subtract."""
    inp = keras.Input((12,), name="x")
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(inp)
    a = QDense(8, kernel_quantizer=qb(6, 0), bias_quantizer=qb(6, 0),
               name="a")(x)
    a = QActivation(quantized_relu(6, 2), name="a_act")(a)
    b = QDense(8, kernel_quantizer=qb(5, 0), bias_quantizer=qb(6, 0),
               name="b")(x)
    b = QActivation(quantized_bits(6, 2, 1), name="b_act")(b)
    c = QDense(8, kernel_quantizer=ternary(alpha=1), bias_quantizer=qb(6, 0),
               name="c")(x)
    c = QActivation(quantized_tanh(5), name="c_act")(c)
    mul = L.Multiply(name="mul")([a, b])
    mul = QActivation(quantized_bits(8, 3, 1), name="mul_act")(mul)
    mx = L.Maximum(name="max")([a, b, c])
    mn = L.Minimum(name="min")([b, c])
    av = L.Average(name="avg")([a, c])
    sub = L.Subtract(name="sub")([b, c])
    cat = L.Concatenate(name="concat")([mul, mx, mn, av, sub])
    out = QDense(4, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
                 name="out")(cat)
    return keras.Model(inp, out, name="merges")


def merges_conv():
    """Merges of 3-D tensors: Concatenate on the channel axis and on an
    inner axis, an Average of three (not a power of two: a float32 factor),
    Multiply and Maximum, feeding pooling and dense layers."""
    inp = keras.Input((6, 6, 2), name="x")
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(inp)
    a = QConv2D(4, 3, padding="same", kernel_quantizer=qb(6, 0),
                bias_quantizer=qb(6, 0), name="a")(x)
    a = QActivation(quantized_relu(6, 2), name="a_act")(a)
    b = QConv2D(4, 3, padding="same", kernel_quantizer=qb(5, 0),
                bias_quantizer=qb(6, 0), name="b")(x)
    b = QActivation(quantized_bits(6, 2, 1), name="b_act")(b)
    c = QConv2D(4, 1, kernel_quantizer=ternary(alpha=1),
                bias_quantizer=qb(6, 0), name="c")(x)
    c = QActivation(quantized_tanh(5), name="c_act")(c)
    avg = L.Average(name="avg3")([a, b, c])
    cat = L.Concatenate(name="cat_ch")([avg, a, b])
    cat = QActivation(quantized_bits(8, 3, 1), name="cat_q")(cat)
    pooled = L.MaxPooling2D(2, name="pool")(cat)
    mul = L.Multiply(name="mul")([a, c])
    mx = L.Maximum(name="max")([b, c])
    cat1 = L.Concatenate(axis=1, name="cat_rows")([mul, mx])
    cat1 = QActivation(quantized_bits(8, 3, 1), name="rows_q")(cat1)
    d1 = QDense(4, kernel_quantizer=qb(6, 0), bias_quantizer=qb(6, 0),
                name="d1")(L.Flatten(name="flat1")(pooled))
    d2 = QDense(4, kernel_quantizer=qb(6, 0), bias_quantizer=qb(6, 0),
                name="d2")(L.Flatten(name="flat2")(cat1))
    out = L.Add(name="out")([d1, d2])
    return keras.Model(inp, out, name="merges_conv")


def dense_relu_tail():
    """A float `activation="relu"` between two po2 Dense layers at the
    output, on relu_po2 activations: the sums span more than float32's 24
    bits, so QKeras rounds that tail in its own order and predict must
    compute it in float32 as it does."""
    inp = keras.Input((10,), name="x")
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(inp)
    x = QDense(16, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 0),
               name="fc1")(x)
    x = QActivation(quantized_relu_po2(5, 4), name="relu1")(x)
    x = QDense(8, kernel_quantizer=quantized_po2(5), bias_quantizer=qb(8, 0),
               activation="relu", name="fc2")(x)
    out = QDense(2, kernel_quantizer=quantized_po2(5),
                 bias_quantizer=qb(8, 0), name="out")(x)
    return keras.Model(inp, out, name="dense_relu_tail")


def index_layers():
    """Pure index layers (Cropping2D, nearest UpSampling2D, Permute), a
    function activation, which Keras 3 saves as a function reference, and a
    float GlobalAveragePooling2D over 12 positions before the logits."""
    inp = keras.Input((6, 6, 2), name="x")
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(inp)
    x = QConv2D(4, 3, padding="same", kernel_quantizer=qb(6, 0),
                bias_quantizer=qb(6, 0), name="c1")(x)
    x = QActivation("binary_tanh", name="sign")(x)
    x = L.Cropping2D(((1, 0), (0, 2)), name="crop")(x)
    x = L.UpSampling2D(2, name="up")(x)
    x = L.Permute((2, 1, 3), name="swap")(x)
    x = QConv2D(4, 3, strides=2, kernel_quantizer=qb(6, 0),
                bias_quantizer=qb(6, 0), name="c2")(x)
    x = QActivation(quantized_relu(6, 2), name="relu2")(x)
    # A float mean over 12 positions (not a power of two) into the logits.
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = QDense(3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(6, 0),
                 name="out")(x)
    return keras.Model(inp, out, name="index_layers")


def two_heads():
    """Two outputs (a classifier-style head and a regression-style head) on
    a 1-D sequence. Head A averages relu codes (an unsigned sum) into a
    quantizer, head B ends in quantized_sigmoid."""
    inp = keras.Input((32, 2), name="x")
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(inp)
    x = QConv1D(6, 3, padding="same", kernel_quantizer=qb(6, 0),
                bias_quantizer=qb(6, 0), name="c1")(x)               # 32x6
    x = QActivation(quantized_relu(6, 2), name="relu1")(x)
    a = L.AveragePooling1D(4, name="a_ap")(x)                          # 8x6
    a = L.GlobalAveragePooling1D(name="a_gap")(a)
    a = QActivation(quantized_bits(8, 2, 1), name="a_q")(a)
    a = QDense(2, kernel_quantizer=qb(8, 2), bias_quantizer=qb(8, 2),
               name="out_a")(a)
    b = QConv1D(4, 3, kernel_quantizer=qb(5, 0), bias_quantizer=qb(5, 0),
                name="b_c")(x)                                         # 30x4
    b = QActivation(quantized_tanh(6), name="b_tanh")(b)
    b = L.GlobalMaxPooling1D(name="b_gmp")(b)
    b = QDense(3, kernel_quantizer=qb(8, 2), bias_quantizer=qb(8, 2),
               name="b_fc")(b)
    b = QActivation(quantized_sigmoid(8), name="out_b")(b)
    return keras.Model(inp, [a, b], name="two_heads")


def kernel_variants():
    """Kernel quantizers whose hardware values need care: alpha="auto"
    (QKeras's weight is the float32 product scale*code), a fixed
    post_training_scale (saved as a nested list), po2 kernels and
    activations with max_value; and a QDense over the last axis of a
    (T, C) input."""
    inp = keras.Input((8, 6), name="x")
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(inp)
    x = QDense(5, kernel_quantizer=quantized_bits(5, 0, 1, alpha="auto"),
               bias_quantizer=qb(6, 0), name="d_time")(x)             # 8x5
    x = QActivation(quantized_relu(6, 2), name="relu1")(x)
    x = QDense(4, kernel_quantizer=quantized_po2(4, max_value=0.5),
               bias_quantizer=qb(6, 0), name="d_po2")(x)               # 8x4
    x = QActivation(quantized_relu_po2(5, max_value=8,
                                       quadratic_approximation=True),
                    name="rpo2")(x)
    x = L.Flatten(name="flat")(x)
    pts = np.array([[0.75, 1.25, 0.5]], dtype=np.float32)
    x = QDense(3, kernel_quantizer=quantized_bits(6, 0, 1, alpha="auto",
                                                  post_training_scale=pts),
               bias_quantizer=qb(8, 2), name="out")(x)
    return keras.Model(inp, x, name="kernel_variants")


def zoo_conv1d():
    x = inp = keras.Input((16, 3), name="x")
    x = QConv1D(4, 3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
                name="conv1d")(x)                                # 14x4
    x = QActivation(quantized_tanh(6), name="tanh")(x)
    x = QSeparableConv1D(6, 3, depthwise_quantizer=qb(6, 0),
                         pointwise_quantizer=qb(6, 0),
                         bias_quantizer=qb(8, 3), name="sepconv1d")(x)
    x = QActivation(quantized_sigmoid(6), name="sigmoid")(x)
    x = L.Dropout(0.1, name="dropout")(x)
    x = L.Flatten(name="flatten")(x)
    x = QDense(3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="out")(x)
    return keras.Model(inp, x, name="zoo_conv1d")


def zoo_hswish():
    """quantized_hswish alone: its saved config does not reload."""
    x = inp = keras.Input((8,), name="x")
    x = QDense(8, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="dense")(x)
    x = QActivation(quantized_hswish(8, 3), name="hswish")(x)
    x = QDense(3, kernel_quantizer=qb(6, 0), name="out")(x)
    return keras.Model(inp, x, name="zoo_hswish")


def zoo_conv2d():
    x = inp = keras.Input((8, 8, 2), name="x")
    x = L.ZeroPadding2D(1, name="pad")(x)                        # 10x10x2
    x = QSeparableConv2D(4, (3, 3), depthwise_quantizer=qb(6, 0),
                         pointwise_quantizer=qb(6, 0),
                         bias_quantizer=qb(8, 3), name="sepconv2d")(x)
    x = L.ReLU(name="relu")(x)
    x = L.MaxPooling2D(2, name="maxpool")(x)                     # 4x4x4
    x = QConv2DTranspose(3, (3, 3), strides=2, padding="same",
                         kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
                         name="convT")(x)                        # 8x8x3
    x = QActivation(quantized_ulaw(8, 0), name="ulaw")(x)
    x = QDepthwiseConv2D((3, 3), depth_multiplier=2,
                         depthwise_quantizer=qb(6, 0),
                         bias_quantizer=qb(8, 3), name="dw2")(x)  # 6x6x6
    x = QActivation(quantized_relu(6, 2), name="relu_q")(x)
    x = L.AveragePooling2D(2, name="avgpool")(x)                 # 3x3x6
    x = L.Reshape((54,), name="reshape")(x)
    x = QScaleShift(weight_quantizer=qb(8, 2), bias_quantizer=qb(8, 3),
                    name="scaleshift")(x)
    x = QDense(3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="out")(x)
    return keras.Model(inp, x, name="zoo_conv2d")


def conv_transpose_pad():
    """QConv2DTranspose with output_padding, "valid" and "same", strides 3
    and 2 (the extra rows and columns at the bottom and right)."""
    x = inp = keras.Input((2, 2, 2), name="x")
    x = QActivation(qb(8, 3), name="qin")(x)
    x = QConv2DTranspose(2, (3, 3), strides=3, padding="valid",
                         output_padding=2, kernel_quantizer=qb(6, 0),
                         bias_quantizer=qb(8, 3), name="convT_valid")(x)  # 8x8x2
    x = QActivation(qb(10, 4), name="q1")(x)
    x = QConv2DTranspose(2, (3, 3), strides=2, padding="same",
                         output_padding=1, kernel_quantizer=qb(6, 0),
                         bias_quantizer=qb(8, 3), name="convT_same")(x)  # 16x16x2
    x = QActivation(quantized_relu(6, 2), name="relu")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = QDense(3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="out")(x)
    return keras.Model(inp, x, name="conv_transpose_pad")


def act_alpha():
    """Activation quantized_bits with a numeric alpha: a power of two, a
    non-power of two, and one per channel (QKeras rounds on the grid, then
    multiplies by alpha in float32)."""
    x = inp = keras.Input((10,), name="x")
    x = QActivation(qb(8, 2), name="qin")(x)
    x = QDense(8, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="fc1")(x)
    x = QActivation(quantized_bits(6, 2, alpha=0.5), name="act_po2")(x)
    x = QDense(6, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="fc2")(x)
    x = QActivation(quantized_bits(6, 2, alpha=0.75), name="act_075")(x)
    x = QDense(4, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="fc3")(x)
    x = QActivation(quantized_bits(8, 3, alpha=[0.5, 1.5, 3.0, 0.125]),
                    name="act_channels")(x)
    x = QDense(3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="out")(x)
    return keras.Model(inp, x, name="act_alpha")


def two_inputs():
    """Two inputs: a conv branch on an image and a dense branch on
    features, joined by Concatenate."""
    img = keras.Input((6, 6, 1), name="image")
    feat = keras.Input((5,), name="features")
    a = QActivation(qb(8, 2), name="q_img")(img)
    a = QConv2D(3, (3, 3), kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
                name="conv")(a)                                   # 4x4x3
    a = QActivation(quantized_relu(6, 2), name="relu_a")(a)
    a = L.MaxPooling2D(2, name="pool")(a)                         # 2x2x3
    a = L.Flatten(name="flat")(a)                                 # 12
    b = QActivation(qb(8, 3), name="q_feat")(feat)
    b = QDense(6, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="fc_b")(b)
    b = QActivation(quantized_relu(6, 3), name="relu_b")(b)
    x = L.Concatenate(name="cat")([a, b])                         # 18
    x = QDense(3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="out")(x)
    return keras.Model([img, feat], x, name="two_inputs")


def const_outputs():
    """Table-driven activations (quantized_tanh, quantized_po2,
    quantized_sigmoid) on Dense layers with a dead unit: after training,
    POST_TRAIN zeroes column 0 of each kernel and its bias, so that output
    element is a constant (a "dead" or pruned neuron)."""
    x = inp = keras.Input((6,), name="x")
    x = QActivation(quantized_relu(6, 2), name="qin")(x)
    x = QDense(4, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               activation="quantized_tanh(4)", name="dead_tanh")(x)
    x = QDense(4, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               activation=quantized_po2(4, 2), name="dead_po2")(x)
    x = QDense(3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               activation="quantized_sigmoid(5)", name="dead_sigmoid")(x)
    return keras.Model(inp, x, name="const_outputs")


def dead_units(model):
    """Zero column 0 (kernel and bias) of every layer named dead_*."""
    for layer in model.layers:
        if layer.name.startswith("dead_"):
            k, b = layer.get_weights()
            k[:, 0] = 0.0
            b[0] = 0.0
            layer.set_weights([k, b])


# Changes after training (weights a trained model can have, made certain).
def bn_near_ties(model):
    """bn1 as a large-variance DS-CNN batch norm after QKeras's po2
    quantizers: variance 4096 (+ eps 1e-3: 1/sqrt is 2^-6 (1 - 2^-23),
    then gamma 64), means of +-1 and +-2 and beta 0.5: its exact output
    (x - mean)(1 - 2^-23) + 0.5 lies just off the relu's rounding ties,
    where float32's rounding of x * inv decides the side."""
    bn = model.get_layer("bn1")
    c = bn.gamma.shape[0]
    values = {"gamma": np.full(c, 64.0), "beta": np.full(c, 0.5),
              "moving_mean": np.array([1.0, -1.0, 2.0, -2.0] * (c // 4)),
              "moving_variance": np.full(c, 4096.0)}
    for w in bn.weights:
        w.assign(values[w.name].astype(np.float32))


POST_TRAIN = {"const_outputs": dead_units, "dscnn_bn": bn_near_ties}


def zoo_rnn():
    """The recurrent zoo. Each cell with a growing state (QLSTM's carry,
    QGRU's h) has a state_quantizer: without one QKeras's float32 state
    rounds after a few steps (qkhw refuses such a layer)."""
    kw = dict(kernel_quantizer=qb(6, 0), recurrent_quantizer=qb(6, 0),
              bias_quantizer=qb(8, 3))
    x = inp = keras.Input((5, 3), name="x")
    x = QActivation(qb(8, 2), name="in_q")(x)
    # QSimpleRNN/QLSTM/QGRU hand name= to their cell, so the layers keep
    # Keras's automatic names (q_simple_rnn, qlstm; stable after
    # clear_session). QBidirectional takes name= itself.
    x = QSimpleRNN(6, return_sequences=True, activation=quantized_tanh(8),
                   state_quantizer=qb(8, 1), **kw)(x)
    x = QLSTM(4, return_sequences=True, activation=quantized_tanh(8),
              recurrent_activation=quantized_sigmoid(8),
              state_quantizer=qb(8, 2), **kw)(x)
    x = QBidirectional(QGRU(4, activation=quantized_tanh(8),
                            recurrent_activation=quantized_sigmoid(8),
                            state_quantizer=qb(8, 1), **kw),
                       merge_mode="ave", name="bigru")(x)
    x = QDense(2, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="out")(x)
    return keras.Model(inp, x, name="zoo_rnn")


RNN_KW = dict(kernel_quantizer=qb(6, 0), recurrent_quantizer=qb(6, 0),
              bias_quantizer=qb(8, 3))


def rnn_simple():
    """QSimpleRNN reading its sequence backwards (go_backwards), its last
    output into a QDense."""
    x = inp = keras.Input((6, 4), name="x")
    x = QActivation(qb(8, 2), name="in_q")(x)
    x = QSimpleRNN(8, go_backwards=True, activation=quantized_tanh(6),
                   state_quantizer=qb(6, 1), name="rnn", **RNN_KW)(x)
    x = QDense(3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="out")(x)
    return keras.Model(inp, x, name="rnn_simple")


def rnn_lstm():
    """QLSTM with QKeras's defaults for the activations: quantized_tanh
    and the float hard_sigmoid (clip(0.5x + 0.5, 0, 1)), returning its
    sequence (not quantized by the state quantizer) into a per-step
    QDense."""
    x = inp = keras.Input((7, 3), name="x")
    x = QActivation(qb(8, 2), name="in_q")(x)
    x = QLSTM(6, return_sequences=True, state_quantizer=qb(8, 2),
              name="lstm", **RNN_KW)(x)
    x = QDense(2, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="out")(x)
    return keras.Model(inp, x, name="rnn_lstm")


def rnn_gru():
    """Two QGRUs: reset_after=False (QKeras's default float hard_sigmoid)
    returning its sequence, then reset_after=True (two bias rows) returning
    its last output. The input and gru_a's state have 6 bits: with 8,
    r * h(t-1) times the recurrent kernel needs 27 significant bits, which
    QKeras's float32 rounds (qkhw refuses that layer, naming it)."""
    x = inp = keras.Input((6, 4), name="x")
    x = QActivation(qb(6, 2), name="in_q")(x)
    x = QGRU(5, return_sequences=True, reset_after=False,
             activation=quantized_tanh(8), state_quantizer=qb(6, 1),
             name="gru_a", **RNN_KW)(x)
    # The sequence a QGRU returns is not quantized (h = z*h + (1-z)*hh,
    # 20 bits here): the next layer's float32 products would round.
    x = QActivation(qb(8, 1), name="seq_q")(x)
    x = QGRU(4, reset_after=True, activation=quantized_tanh(8),
             recurrent_activation=quantized_sigmoid(8),
             state_quantizer=qb(8, 1), name="gru_b", **RNN_KW)(x)
    x = QDense(2, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="out")(x)
    return keras.Model(inp, x, name="rnn_gru")


def rnn_bilstm():
    """QBidirectional(QLSTM, return_sequences=True) (concat) followed by a
    QDense on every step, then a QBidirectional(QSimpleRNN) summing its
    directions."""
    x = inp = keras.Input((6, 3), name="x")
    x = QActivation(qb(8, 2), name="in_q")(x)
    x = QBidirectional(QLSTM(4, return_sequences=True,
                             state_quantizer=qb(8, 2), **RNN_KW),
                       name="bilstm")(x)
    x = QDense(5, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="fc")(x)
    x = QActivation(quantized_relu(8, 2), name="relu")(x)
    x = QBidirectional(QSimpleRNN(3, activation=quantized_tanh(8),
                                  state_quantizer=qb(8, 1), **RNN_KW),
                       merge_mode="sum", name="birnn")(x)
    return keras.Model(inp, x, name="rnn_bilstm")


def dscnn_bn():
    """A small DS-CNN-like model whose batch norms stand alone before a
    quantized_relu(8,2), as QKeras users write them: float32 in
    model.predict, with TensorFlow's approximate reciprocal in 1/sqrt
    (`--bn qkeras` reproduces it; the exact tables of
    model_save_quantized_weights differ on a few values). bn1 keeps
    QBatchNormalization's default po2 quantizers, bn2 and bn3 have none;
    then an average pool over 12 positions (not a power of two) and its
    quantizer."""
    bn_float = dict(gamma_quantizer=None, beta_quantizer=None,
                    mean_quantizer=None, variance_quantizer=None)
    x = inp = keras.Input((12, 8, 1), name="x")
    x = QActivation(qb(8, 2), name="in_q")(x)
    x = QConv2D(8, (3, 3), strides=(2, 2), padding="same",
                kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3),
                name="conv1")(x)                                   # 6x4x8
    x = QBatchNormalization(name="bn1")(x)
    x = QActivation(quantized_relu(8, 2), name="relu1")(x)
    x = QDepthwiseConv2D((3, 3), padding="same",
                         depthwise_quantizer=qb(8, 0),
                         bias_quantizer=qb(8, 3), name="dw1")(x)
    x = QBatchNormalization(name="bn2", **bn_float)(x)
    x = QActivation(quantized_relu(8, 2), name="relu2")(x)
    x = QConv2D(12, (1, 1), kernel_quantizer=qb(8, 0),
                bias_quantizer=qb(8, 3), name="pw1")(x)            # 6x4x12
    x = QBatchNormalization(name="bn3", **bn_float)(x)
    x = QActivation(quantized_relu(8, 2), name="relu3")(x)
    x = L.AveragePooling2D((3, 4), name="pool")(x)                 # 2x1x12
    x = QActivation(qb(8, 2), name="pool_q")(x)
    x = L.Flatten(name="flat")(x)
    x = QDense(4, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3),
               name="out")(x)
    return keras.Model(inp, x, name="dscnn_bn")


def ad_autoencoder():
    """MLPerf-Tiny-size dense anomaly-detection autoencoder (640 -> 128 x4
    -> 8 -> 128 x4 -> 640, 8-bit), trained to reconstruct its input. Each
    Dense+BN is a QDenseBatchnorm (as dense_bn_folded): a standalone float
    BN before a quantizer is float32 in model.predict, with a graph-mode
    rsqrt, so its outputs could round differently from exact arithmetic.
    Loads and exports only under dense_bn_clone_patch (see make())."""
    kw = dict(kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3))
    inp = keras.Input((640,), name="x")
    x = QActivation(quantized_bits(8, 2, alpha=1), name="input_q")(inp)
    names = ["enc1", "enc2", "enc3", "enc4", "bottleneck",
             "dec1", "dec2", "dec3", "dec4"]
    for name in names:
        units = 8 if name == "bottleneck" else 128
        x = QDenseBatchnorm(units, momentum=0.9, name=name, **kw)(x)
        x = QActivation(quantized_relu(8, 3), name=f"relu_{name}")(x)
    x = QDense(640, name="out", **kw)(x)
    return keras.Model(inp, x, name="ad_autoencoder")


def stream_cnn():
    """A CNN for the streaming architecture (--io stream): an input
    quantizer, ZeroPadding, a strided 'same' convolution, BN, a dilated
    separable convolution, max pooling, a 1x1 convolution, a Dense on the
    channel axis (per pixel), then a global-average-pooling head."""
    x = inp = keras.Input((14, 9, 3), name="x")
    x = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(x)
    x = L.ZeroPadding2D(((1, 0), (2, 1)), name="pad")(x)
    x = QConv2D(6, (3, 3), strides=(2, 1), padding="same",
                kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3),
                name="conv_s2")(x)
    x = QBatchNormalization(momentum=0.9, name="bn1")(x)
    x = QActivation(quantized_relu(8, 3), name="relu1")(x)
    x = QSeparableConv2D(8, (3, 3), dilation_rate=(1, 2), padding="same",
                         depthwise_quantizer=qb(6, 0),
                         pointwise_quantizer=qb(6, 0),
                         bias_quantizer=qb(8, 3), name="sep")(x)
    x = QActivation(quantized_relu(8, 3), name="relu2")(x)
    x = L.MaxPooling2D((2, 3), name="pool")(x)
    x = QConv2D(8, (1, 1), kernel_quantizer=qb(8, 0),
                bias_quantizer=qb(8, 3), name="pw")(x)
    x = QActivation(quantized_bits(8, 3, alpha=1), name="act_pw")(x)
    x = QDense(5, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3),
               name="dense_px")(x)
    x = QActivation(quantized_relu(8, 3), name="relu3")(x)
    x = QGlobalAveragePooling2D(average_quantizer=quantized_bits(10, 3, alpha=1), name="gap")(x)
    x = QDense(4, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3),
               name="out")(x)
    return keras.Model(inp, x, name="stream_cnn")


def dscnn_kws():
    """The MLPerf Tiny keyword-spotting DS-CNN (49x10x1 MFCC input; Conv 64
    10x4 stride 2; four depthwise 3x3 + BN + relu + pointwise 64 + BN +
    relu blocks; average pooling 24x5 over the 25x5 map, as the MLPerf
    reference writes it; Dense 12), 8-bit kernels and activations. Each
    convolution and its BN are one QKeras folded layer (QConv2DBatchnorm),
    as QKeras deploys them: a standalone float BN before a quantizer is
    float32 in model.predict and rounds some extreme inputs differently
    from exact arithmetic. The depthwise BN is the depthwise layer's bias:
    a saved QDepthwiseConv2DBatchnorm with 'same' padding does not reload
    in qkeras-v3 1.2.1 ("expected 3 variables")."""
    k = dict(kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), momentum=0.9)
    x = inp = keras.Input((49, 10, 1), name="x")
    x = QActivation(quantized_bits(8, 3, alpha=1), name="in_q")(x)
    x = QConv2DBatchnorm(64, (10, 4), strides=(2, 2), padding="same", name="conv1", **k)(x)
    x = QActivation(quantized_relu(8, 3), name="relu1")(x)
    for b in range(1, 5):
        x = QDepthwiseConv2D((3, 3), padding="same", depthwise_quantizer=qb(8, 0),
                             bias_quantizer=qb(8, 3), name=f"dw{b}")(x)
        x = QActivation(quantized_relu(8, 3), name=f"dw{b}_relu")(x)
        x = QConv2DBatchnorm(64, (1, 1), name=f"pw{b}", **k)(x)
        x = QActivation(quantized_relu(8, 3), name=f"pw{b}_relu")(x)
    x = L.AveragePooling2D(pool_size=(24, 5), name="avg_pool")(x)
    x = L.Flatten(name="flatten")(x)
    x = QDense(12, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3), name="fc")(x)
    return keras.Model(inp, x, name="dscnn_kws")


def resnet8():
    """The MLPerf Tiny image-classification ResNet-8 (32x32x3 input; Conv 16
    3x3; three residual stacks of 16, 32, 64 filters, stride 2 on the
    second and third with a 1x1 convolution shortcut; average pooling;
    Dense 10), 8-bit kernels quantized_bits(8,0,alpha=1) and
    quantized_relu(8,3) activations. Each convolution and its BN are one
    QConv2DBatchnorm, as QKeras deploys them."""
    k = dict(kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=qb(8, 3), momentum=0.9)
    x = inp = keras.Input((32, 32, 3), name="x")
    x = QActivation(quantized_bits(8, 0, alpha=1), name="in_q")(x)
    x = QConv2DBatchnorm(16, (3, 3), padding="same", name="conv0", **k)(x)
    x = QActivation(quantized_relu(8, 3), name="relu0")(x)
    for s, f in enumerate((16, 32, 64), start=1):
        stride = 1 if s == 1 else 2
        y = QConv2DBatchnorm(f, (3, 3), strides=stride, padding="same", name=f"s{s}_conv_a", **k)(x)
        y = QActivation(quantized_relu(8, 3), name=f"s{s}_relu_a")(y)
        y = QConv2DBatchnorm(f, (3, 3), padding="same", name=f"s{s}_conv_b", **k)(y)
        if s > 1:
            x = QConv2D(f, (1, 1), strides=stride, name=f"s{s}_shortcut",
                        kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=qb(8, 3))(x)
        x = L.Add(name=f"s{s}_add")([x, y])
        x = QActivation(quantized_relu(8, 3), name=f"s{s}_relu")(x)
    x = L.AveragePooling2D(pool_size=(8, 8), name="avg_pool")(x)
    x = L.Flatten(name="flatten")(x)
    x = QDense(10, kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=qb(8, 3), name="fc")(x)
    return keras.Model(inp, x, name="resnet8")


def stream_resnet():
    """A small residual CNN for the streaming architecture's joins (fast
    enough for Icarus): an identity skip around two 3x3 convolutions, a
    stride-2 block with a 1x1 shortcut and a depthwise convolution, a
    channel Concatenate of two branches, global average pooling (over 4x4,
    so QKeras's float32 mean is exact), Dense."""
    k = dict(kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3))
    x = inp = keras.Input((8, 8, 3), name="x")
    x = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(x)
    x = QConv2D(8, (3, 3), padding="same", name="conv0", **k)(x)
    x = QActivation(quantized_relu(8, 3), name="relu0")(x)
    y = QConv2D(8, (3, 3), padding="same", name="b1_conv_a", **k)(x)
    y = QActivation(quantized_relu(8, 3), name="b1_relu_a")(y)
    y = QConv2D(8, (3, 3), padding="same", name="b1_conv_b", **k)(y)
    x = L.Add(name="b1_add")([x, y])
    x = QActivation(quantized_relu(8, 3), name="b1_relu")(x)
    y = QDepthwiseConv2D((3, 3), strides=2, padding="same", name="b2_dw",
                         depthwise_quantizer=qb(6, 0), bias_quantizer=qb(8, 3))(x)
    y = QActivation(quantized_relu(8, 3), name="b2_relu_a")(y)
    y = QConv2D(12, (1, 1), name="b2_pw", **k)(y)
    s = QConv2D(12, (1, 1), strides=2, name="b2_shortcut", **k)(x)
    x = L.Add(name="b2_add")([s, y])
    x = QActivation(quantized_relu(8, 3), name="b2_relu")(x)
    a = QConv2D(4, (3, 3), padding="same", name="c_conv", **k)(x)
    a = QActivation(quantized_relu(8, 3), name="c_relu")(a)
    x = L.Concatenate(name="cat")([x, a])
    x = QGlobalAveragePooling2D(average_quantizer=quantized_bits(10, 3, alpha=1), name="gap")(x)
    x = QDense(5, name="out", **k)(x)
    return keras.Model(inp, x, name="stream_resnet")


def stream_two_images():
    """Three inputs for the streaming design's ports (--io stream): two
    images joined pixel by pixel (`left` through a 3x3 convolution, `right`
    straight from its quantizer to the Add, so the join buffers a whole
    image of it), a stride-2 convolution, global average pooling (over 4x4,
    exact in float32), and a vector input `meta` concatenated to the pooled
    channels before the Dense head."""
    k = dict(kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3))
    left = inl = keras.Input((8, 8, 2), name="left")
    right = inr = keras.Input((8, 8, 4), name="right")
    meta = inm = keras.Input((3,), name="meta")
    left = QActivation(quantized_bits(8, 2, alpha=1), name="left_q")(left)
    left = QConv2D(4, (3, 3), padding="same", name="left_conv", **k)(left)
    left = QActivation(quantized_relu(8, 3), name="left_relu")(left)
    right = QActivation(quantized_bits(8, 2, alpha=1), name="right_q")(right)
    x = L.Add(name="add")([left, right])
    x = QActivation(quantized_relu(8, 3), name="add_relu")(x)
    x = QConv2D(6, (3, 3), strides=2, padding="same", name="down", **k)(x)
    x = QActivation(quantized_relu(8, 3), name="down_relu")(x)
    x = QGlobalAveragePooling2D(average_quantizer=quantized_bits(10, 3, alpha=1), name="gap")(x)
    meta = QActivation(quantized_bits(8, 3, alpha=1), name="meta_q")(meta)
    x = L.Concatenate(name="cat")([x, meta])
    x = QDense(4, name="out", **k)(x)
    return keras.Model([inl, inr, inm], x, name="stream_two_images")


def stream_drop_rows():
    """A CNN that never reads its input's last rows (--io stream): a valid
    3x3 convolution (16x16 -> 14x14) and a 4x4 max pooling (14x14 -> 3x3,
    its last two rows and columns dropped), so the output is complete 34
    pixels before the image's last (its last-beat latency is negative),
    then a Dense head on the flattened 3x3x4."""
    x = inp = keras.Input((16, 16, 1), name="x")
    x = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(x)
    x = QConv2D(4, (3, 3), kernel_quantizer=qb(6, 0),
                bias_quantizer=qb(8, 3), name="conv")(x)
    x = QActivation(quantized_relu(8, 3), name="relu")(x)
    x = L.MaxPooling2D(4, name="pool")(x)
    x = L.Flatten(name="flat")(x)
    x = QDense(3, kernel_quantizer=qb(8, 0), bias_quantizer=qb(8, 3),
               name="out")(x)
    return keras.Model(inp, x, name="stream_drop_rows")


def avg_divide():
    """Averages over counts that are not powers of two, which TensorFlow
    rounds to float32: AveragePooling2D((3, 5)) over 15 values (divided;
    read by a quantizer and, through a Flatten, by a second one), an Average
    of seven tensors (model.predict multiplies by fl(1/7): the graph
    optimizer's rewrite of the division) and a GlobalAveragePooling2D over 6
    positions, each into a quantizer (qkhw reproduces the float32 average
    from the exact sum); and AveragePooling2D((1, 3)) -> Flatten -> QDense
    with no quantizer (a float tail: predict divides as TensorFlow does)."""
    inp = keras.Input((9, 10, 2), name="x")
    x = QActivation(qb(8, 3), name="in_q")(inp)
    x = QConv2D(4, 3, padding="same", kernel_quantizer=qb(6, 0),
                bias_quantizer=qb(8, 3), name="c1")(x)
    x = QActivation(quantized_relu(6, 2), name="r1")(x)           # 9x10x4
    p0 = L.AveragePooling2D((3, 5), name="pool15")(x)             # 3x2x4
    # Quantizers coarser than the sums, so that quotients land on their
    # rounding ties (where fl(S/n) and S * fl(1/n) round apart).
    p = QActivation(qb(5, 3), name="pool_q")(p0)
    pf = QActivation(qb(4, 2), name="pool_flat_q")(L.Flatten(name="pool_flat")(p0))
    br = []
    for k in "abcdefg":
        y = QConv2D(3, 1, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
                    name=f"c{k}")(p)
        br.append(QActivation(qb(6, 2), name=f"q{k}")(y))
    a = L.Average(name="avg7")(br)                                # 3x2x3
    a = QActivation(quantized_relu(4, 2), name="avg_q")(a)
    g = L.GlobalAveragePooling2D(name="gap6")(a)                  # 3
    g = QActivation(qb(4, 3), name="gap_q")(g)
    t = L.AveragePooling2D((1, 3), name="pool3")(x)               # 9x3x4
    t = L.Flatten(name="flat")(t)
    t = QDense(4, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="tail")(t)
    return keras.Model(inp, [g, t, pf], name="avg_divide")


def avg_merge():
    """keras.layers.Average of 7, 13 and 15 tensors into coarse quantizers
    (a cross-check model). model.predict multiplies by fl(1/n) (the graph
    optimizer rewrites Average's division; eager mode divides): at a tie t
    with a large mantissa (1.625 for n = 7) the product lands one ulp past
    t and rounds away from even, where fl(S/n) = t rounds to even."""
    inp = keras.Input((8,), name="x")
    x = QActivation(qb(8, 3), name="in_q")(inp)
    br = []
    for k in range(15):
        act = quantized_relu(6, 2) if k % 3 else qb(6, 2)
        d = QDense(16, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name=f"b{k}")(x)
        br.append(QActivation(act, name=f"b{k}_q")(d))
    a7 = QActivation(quantized_relu(4, 2), name="a7_q")(L.Average(name="avg7")(br[:7]))
    a13 = QActivation(qb(5, 3), name="a13_q")(L.Average(name="avg13")(br[:13]))
    a15 = QActivation(qb(4, 3), name="a15_q")(L.Average(name="avg15")(br))
    a15r = QActivation(quantized_relu(3, 2), name="a15r_q")(L.Average(name="avg15r")(br))
    a15f = QActivation(qb(6, 3), name="a15f_q")(L.Average(name="avg15f")(br))
    outs = [a7, a13, a15, a15r, a15f]
    o = QDense(3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="d1")(L.Concatenate(name="cat")(outs))
    o = QActivation(qb(8, 3), name="o_q")(o)
    return keras.Model(inp, [o] + outs, name="avg_merge")


MODELS = [jet_tagger, jet_tagger_da, po2_mlp, auto_po2_mlp, binary_ternary, cnn_bn,
          bn_variants, conv_bn_folded, dense_bn_folded, pooling,
          functional_add, merges, merges_conv, dense_relu_tail, index_layers, two_heads, kernel_variants, zoo_conv1d, zoo_hswish, zoo_conv2d, zoo_rnn,
          ad_autoencoder, conv_transpose_pad, act_alpha, two_inputs, const_outputs, stream_cnn, dscnn_kws, resnet8,
          stream_resnet, avg_divide, avg_merge, rnn_simple, rnn_lstm, rnn_gru, rnn_bilstm, dscnn_bn,
          stream_two_images, stream_drop_rows]

# ------------------------------------------------------------ helpers


# QDenseBatchnorm.get_config() merges its BatchNormalization's config, whose
# keys below its constructor refuses: the layer neither reloads nor clones,
# and model_save_quantized_weights clones the model first.
REFUSED_BN_KEYS = ("synchronized", "renorm", "renorm_clipping",
                   "renorm_momentum")
# The models with a QDenseBatchnorm: their golden comes from the in-memory
# model, exported under dense_bn_clone_patch.
DENSE_BN_MODELS = ("dense_bn_folded", "ad_autoencoder")
# Autoencoders: trained to reconstruct their input.
AUTOENCODERS = ("ad_autoencoder",)
# Saved without the optimizer: model.save stores a fresh, uncompiled copy
# (same config and weights), so the .keras holds no Adam state (about 2/3
# of the file for ad_autoencoder).
NO_OPTIMIZER_MODELS = ("ad_autoencoder",)


@contextlib.contextmanager
def dense_bn_clone_patch():
    """Temporarily let QDenseBatchnorm.from_config drop REFUSED_BN_KEYS."""
    own = QDenseBatchnorm.__dict__.get("from_config")
    base = QDenseBatchnorm.from_config.__func__

    def from_config(cls, config):
        config = {k: v for k, v in config.items() if k not in REFUSED_BN_KEYS}
        return base(cls, config)

    QDenseBatchnorm.from_config = classmethod(from_config)
    try:
        yield
    finally:
        if own is None:
            del QDenseBatchnorm.from_config
        else:
            QDenseBatchnorm.from_config = own


def load(path):
    # A fresh session so automatic layer names come out as when saved.
    keras.backend.clear_session()
    return keras.models.load_model(path, custom_objects=dict(CUSTOM_OBJECTS),
                                   compile=False)


def build_copy(model):
    """An independent in-memory copy (same config, same weights)."""
    copy = model.__class__.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def short(e):
    """Exception text without the (huge) config dumps Keras embeds."""
    text = re.sub(r"config=\{.*?\}\.(?=\s|$)", "config={...}.", str(e),
                  flags=re.DOTALL)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return f"{type(e).__name__}: " + " | ".join(lines)


def train(model, seed):
    rng = np.random.default_rng(seed)
    if isinstance(model.input_shape, list):
        # Several inputs: standard normal each, a target from all of them.
        xs = [rng.normal(size=(N_SAMPLES,) + tuple(s[1:])).astype(np.float32) for s in model.input_shape]
        flat = np.concatenate([x.reshape(N_SAMPLES, -1) for x in xs], axis=1)
        out = tuple(model.output_shape[1:])
        w = rng.normal(size=(flat.shape[1], int(np.prod(out))))
        y = np.tanh(flat @ w / np.sqrt(w.shape[0])).reshape((N_SAMPLES,) + out).astype(np.float32)
        model.compile(keras.optimizers.Adam(0.01), "mse")
        model.fit(xs, y, epochs=3, batch_size=32, shuffle=False, verbose=0)
        return [x[:8] for x in xs]
    shape = (N_SAMPLES,) + tuple(model.input_shape[1:])
    x = rng.normal(size=shape).astype(np.float32)
    if isinstance(model.output_shape, list):
        # Several outputs: one synthetic target each, mse.
        ys = []
        for o in model.output_shape:
            w = rng.normal(size=(int(np.prod(shape[1:])), int(np.prod(o[1:]))))
            y = np.tanh(x.reshape(N_SAMPLES, -1) @ w / np.sqrt(w.shape[0]))
            ys.append(y.reshape((N_SAMPLES,) + tuple(o[1:])).astype(np.float32))
        model.compile(keras.optimizers.Adam(0.01), ["mse"] * len(ys))
        model.fit(x, ys, epochs=3, batch_size=32, shuffle=False, verbose=0)
        return x[:8]
    if model.name in AUTOENCODERS:
        model.compile(keras.optimizers.Adam(0.01), "mse")
        model.fit(x, x, epochs=3, batch_size=32, shuffle=False, verbose=0)
        return x[:8]
    out = tuple(model.output_shape[1:])
    # Learnable synthetic target: a fixed random projection of the input.
    w = rng.normal(size=(int(np.prod(shape[1:])), int(np.prod(out))))
    y = np.tanh(x.reshape(N_SAMPLES, -1) @ w / np.sqrt(w.shape[0]))
    if model.layers[-1].name == "softmax":
        y = np.eye(out[0])[np.argmax(y, axis=1)]
        model.compile(keras.optimizers.Adam(0.01), "categorical_crossentropy")
    else:
        model.compile(keras.optimizers.Adam(0.01), "mse")
    y = y.reshape((N_SAMPLES,) + out).astype(np.float32)
    model.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0)
    return x[:8]


def max_diff(a, b):
    if isinstance(a, list):
        return max(max_diff(p, q) for p, q in zip(a, b))
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def golden(model):
    """The encoded model_save_quantized_weights dict (mutates the model)."""
    d = model_save_quantized_weights(model)
    return {k: {kk: encode(vv) for kk, vv in v.items()} for k, v in d.items()}


def save_golden(name, model, source, versions):
    doc = dict(generator=GENERATOR, **versions, model=name, source=source,
               weights=golden(model))
    with open(os.path.join(HERE, f"{name}.weights.json"), "w") as f:
        json.dump(doc, f, sort_keys=False, indent=1)
        f.write("\n")


def make(build, versions):
    name = build.__name__
    seed = SEED + zlib.crc32(name.encode()) % 10000
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build()
    xs = train(model, seed)
    if name in POST_TRAIN:
        POST_TRAIN[name](model)
    ref = model.predict(xs, verbose=0)
    path = os.path.join(HERE, f"{name}.keras")
    if name in NO_OPTIMIZER_MODELS:
        # A QDenseBatchnorm model clones only under the from_config patch.
        with dense_bn_clone_patch(), \
                keras.saving.custom_object_scope(dict(CUSTOM_OBJECTS)):
            build_copy(model).save(path)
    else:
        model.save(path)
    report = {"model": name, "layers": [(l.name, l.__class__.__name__)
                                        for l in model.layers]}
    try:
        diff = max_diff(load(path).predict(xs, verbose=0), ref)
        source, error = "reloaded", None
        print(f"[{name}] reloaded .keras: max |predict diff| = {diff:g}")
    except Exception as e:
        source, error = "in_memory", short(e)
        print(f"[{name}] .keras does NOT reload: {error}")
    report.update(source=source, error=error)

    if name == "jet_tagger":
        h5 = os.path.join(HERE, "jet_tagger.h5")
        model.save(h5)
        with open(os.path.join(HERE, "jet_tagger_json.json"), "w") as f:
            f.write(model.to_json())
        model.save_weights(os.path.join(HERE, "jet_tagger_json.weights.h5"))
        print(f"[{name}] reloaded .h5: max |predict diff| = "
              f"{max_diff(load(h5).predict(xs, verbose=0), ref):g}")
        with open(os.path.join(HERE, "jet_tagger_json.json")) as f:
            m2 = quantized_model_from_json(f.read())
        m2.load_weights(os.path.join(HERE, "jet_tagger_json.weights.h5"))
        print(f"[{name}] reloaded json+weights.h5: max |predict diff| = "
              f"{max_diff(m2.predict(xs, verbose=0), ref):g}")
    if source == "in_memory" and name == "conv_bn_folded":
        h5 = os.path.join(HERE, f"{name}.h5")
        model.save(h5)
        try:
            diff = max_diff(load(h5).predict(xs, verbose=0), ref)
            same = golden(load(h5)) == golden(build_copy(model))
            print(f"[{name}] reloaded .h5: max |predict diff| = {diff:g}, "
                  f"same quantized weights dict as in memory: {same}")
            report["h5"] = f"reloads; same dict as in memory: {same}"
        except Exception as e:
            report["h5"] = short(e)
            print(f"[{name}] .h5 does NOT reload either: {report['h5']}")

    # model_save_quantized_weights overwrites the weights: give it a model
    # nobody uses afterwards (a fresh reload, or the in-memory one last).
    try:
        save_golden(name, load(path) if source == "reloaded" else model,
                    source, versions)
    except Exception as e:
        if name not in DENSE_BN_MODELS:
            raise
        report["msqw_error"] = short(e)
        print(f"[{name}] model_save_quantized_weights fails: "
              f"{report['msqw_error']}")
        with dense_bn_clone_patch():
            diff = max_diff(load(path).predict(xs, verbose=0), ref)
            print(f"[{name}] with the from_config patch, .keras reloads: "
                  f"max |predict diff| = {diff:g}; golden from in-memory")
            save_golden(name, model, source, versions)
    return report


def main(argv):
    tf.config.experimental.enable_op_determinism()
    import importlib.metadata as md
    versions = {"qkeras": md.version("qkeras-v3"), "keras": keras.__version__,
                "tensorflow": tf.__version__}
    todo = [b for b in MODELS if not argv[1:] or b.__name__ in argv[1:]]
    reports = [make(b, versions) for b in todo]
    print("\nsummary:")
    for r in reports:
        print(f"  {r['model']:16s} {r['source']:9s} "
              + ", ".join(f"{n}:{c}" for n, c in r["layers"]))
        if r["error"]:
            print(f"    reload error: {r['error']}")
        if r.get("msqw_error"):
            print("    model_save_quantized_weights needed the from_config "
                  "patch: " + r["msqw_error"])
        if "h5" in r:
            print(f"    .h5: {r['h5']}")


if __name__ == "__main__":
    main(sys.argv)
