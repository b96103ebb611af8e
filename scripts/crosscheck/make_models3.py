"""Cross-check models, batch 3 (y01..y15): QKeras features the first two batches
(make_models.py h01..h15, make_models2.py x01..x15) did not cover.

Run with qkeras-v3 1.2.1 / Keras 3 / TF:
    python scripts/crosscheck/make_models3.py OUT_DIR [NAME ...]
For each model NAME writes into OUT_DIR:
  NAME.keras        model.save
  NAME.x.npy        float32 inputs (200, *input_shape), same distribution as batches 1 and 2
  NAME.y.npy        float32 model.predict(x, batch_size=32) of the in-memory model
  NAME.logits.npy   for models ending in Activation('softmax') or a keras.layers.Softmax
                    layer: output of layers[-2]
  NAME_legacy.h5    for the LEGACY_H5 models: model.save('...h5') (legacy HDF5)
and README.txt.  Deterministic: seed 3000+index, single-threaded TF, op determinism,
keras.backend.clear_session() before each model so auto layer names are stable.
"""
import os

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
os.environ["TF_NUM_INTEROP_THREADS"] = "1"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sys

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
    QBatchNormalization,
    QConv1D,
    QConv2D,
    QDense,
    QDepthwiseConv2D,
    QSeparableConv2D,
)
from qkeras.quantizers import (
    binary,
    quantized_po2,
    quantized_relu,
    quantized_relu_po2,
    quantized_sigmoid,
    quantized_tanh,
    stochastic_binary,
    stochastic_ternary,
    ternary,
)
from _common import (  # noqa: E402
    _q,
    fmt_q,
    qb,
    qr,
    run_batch,
)

OUT = sys.argv[1] if len(sys.argv) > 1 else "crosscheck3-out"
LEGACY_H5 = {"y01_act_strings_nobias", "y14_softmax_layer_noise"}


# --------------------------------------------------------------------------
# data (identical to batches 1 and 2)
# --------------------------------------------------------------------------


def K(bits=6, integer=0, alpha=1, **kw):
    """Usual kernel quantizer: quantized_bits(bits, integer, symmetric=1, alpha=1)."""
    return qb(bits, integer, 1, alpha=alpha, **kw)


def B(bits=6, integer=0):
    return qb(bits, integer, 1)


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------
def y01_act_strings_nobias(name):
    """In-layer activation STRINGS on QConv2D ('quantized_relu(4,0)', 'quantized_bits(6,2,1)') and QDense ('quantized_tanh(4)', 'quantized_sigmoid(5)'), use_bias=False on a QConv2D and a QDense that carry an activation."""
    i = keras.Input((8, 8, 2))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QConv2D(4, 3, padding="same", kernel_quantizer=K(), bias_quantizer=B(),
                activation="quantized_relu(4,0)", name="c1_relu40")(x)                 # 8x8x4
    x = QConv2D(6, 3, strides=2, use_bias=False, kernel_quantizer=K(),
                activation="quantized_bits(6,2,1)", name="c2_nobias_qbits")(x)          # 3x3x6
    x = L.Flatten(name="flat")(x)
    x = QDense(12, kernel_quantizer=K(), bias_quantizer=B(), activation="quantized_tanh(4)",
               name="fc1_tanh4")(x)
    x = QDense(8, use_bias=False, kernel_quantizer=K(), activation="quantized_sigmoid(5)",
               name="fc2_nobias_sig5")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def y02_qbn_quantizers(name):
    """QBatchNormalization with explicit gamma/beta/mean/variance quantizers (quantized_bits, quantized_po2, quantized_relu_po2) and one with inverse_quantizer (gamma/variance quantizers None)."""
    i = keras.Input((12,))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QDense(16, kernel_quantizer=K(), bias_quantizer=B(), name="fc1")(x)
    x = QBatchNormalization(gamma_quantizer=qb(6, 2, 1, alpha=1), beta_quantizer=qb(6, 2, 1),
                            mean_quantizer=qb(8, 3, 1),
                            variance_quantizer=qb(8, 4, 0, keep_negative=False, alpha=1),
                            momentum=0.9, name="bn_bits")(x)
    x = qr(6, 2, name="relu1")(x)
    x = QDense(12, kernel_quantizer=K(), bias_quantizer=B(), name="fc2")(x)
    x = QBatchNormalization(gamma_quantizer=quantized_po2(4, max_value=2), beta_quantizer=quantized_po2(5),
                            mean_quantizer=quantized_po2(5), variance_quantizer=quantized_relu_po2(6),
                            momentum=0.9, name="bn_po2")(x)
    x = qr(6, 2, name="relu2")(x)
    x = QDense(8, kernel_quantizer=K(), bias_quantizer=B(), name="fc3")(x)
    x = QBatchNormalization(gamma_quantizer=None, variance_quantizer=None, mean_quantizer=None,
                            beta_quantizer=qb(6, 2, 1), inverse_quantizer=qb(8, 3, 1),
                            momentum=0.9, name="bn_inverse_q")(x)
    x = qr(6, 2, name="relu3")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def y03_conv1d_keras_bn(name):
    """Plain keras BatchNormalization after QConv1D: center=False (after use_bias=False conv), scale=False (after stride-2 conv), center=False+scale=False; Flatten of a 1-D map."""
    i = keras.Input((24, 3))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QConv1D(6, 3, use_bias=False, kernel_quantizer=K(), name="c1_nobias")(x)        # 22x6
    x = L.BatchNormalization(center=False, momentum=0.9, name="bn_nocenter")(x)
    x = qr(6, 2, name="relu1")(x)
    x = QConv1D(6, 3, strides=2, kernel_quantizer=K(), bias_quantizer=B(), name="c2_s2")(x)  # 10x6
    x = L.BatchNormalization(scale=False, momentum=0.9, name="bn_noscale")(x)
    x = QActivation(quantized_tanh(6), name="tanh2")(x)
    x = QConv1D(4, 1, use_bias=False, kernel_quantizer=K(), name="c3_pw")(x)            # 10x4
    x = L.BatchNormalization(center=False, scale=False, momentum=0.9, name="bn_bare")(x)
    x = qr(6, 2, name="relu3")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def y04_kernel_bits_variants(name):
    """quantized_bits kernels: alpha='auto' with integer=2, unsigned keep_negative=False kernel (alpha=1), 2-bit symmetric, keep_negative=False with alpha='auto' (still signed), alpha='auto' with a frozen post_training_scale."""
    i = keras.Input((16,))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QDense(16, kernel_quantizer=qb(6, 2, 1, alpha="auto"), bias_quantizer=B(6, 2), name="fa_auto_int2")(x)
    x = qr(6, 2, name="relu_a")(x)
    x = QDense(12, kernel_quantizer=qb(4, 0, 0, keep_negative=False, alpha=1), bias_quantizer=B(6, 2),
               name="fb_unsigned_k")(x)
    x = QActivation(quantized_tanh(6), name="tanh_b")(x)
    x = QDense(12, kernel_quantizer=qb(2, 0, 1, alpha=1), bias_quantizer=B(6, 2), name="fc_2bit")(x)
    x = qr(6, 2, name="relu_c")(x)
    # alpha='auto' with keep_negative=False: QKeras still keeps the sign (z = sign(x) * ...),
    # only m = 2**(bits - keep_negative) changes.
    x = QDense(10, kernel_quantizer=qb(4, 0, 1, keep_negative=False, alpha="auto"),
               bias_quantizer=B(6, 2), name="fd_auto_unsigned")(x)
    x = qr(6, 2, name="relu_d")(x)
    x = QDense(8, kernel_quantizer=qb(5, 0, 1, alpha="auto", post_training_scale=PTS_FE),
               bias_quantizer=B(6, 2), name="fe_auto_pts")(x)
    x = qr(6, 2, name="relu_e")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


# frozen per-output-channel scale of y04's fe_auto_pts, shape (1, 8), in QKeras's "scale * m" units
PTS_FE = np.array([[0.75, 1.0, 1.25, 0.5, 1.5, 0.875, 1.0625, 0.625]], dtype=np.float32)


def y05_po2_maxval(name):
    """quantized_po2 kernels with max_value, log2_rounding='floor' and quadratic_approximation; quantized_relu_po2(max_value) and signed quantized_po2(max_value) activations."""
    i = keras.Input((12,))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QDense(16, kernel_quantizer=quantized_po2(4, max_value=0.5), bias_quantizer=B(6, 2), name="f_po2_max05")(x)
    x = QActivation(quantized_relu_po2(4, max_value=2), name="relu_po2_max2")(x)
    x = QDense(12, kernel_quantizer=quantized_po2(5, max_value=1, log2_rounding="floor"), bias_quantizer=B(6, 2),
               name="f_po2_floor")(x)
    x = QActivation(quantized_po2(5, max_value=4), name="po2_act_max4")(x)
    x = QDense(8, kernel_quantizer=quantized_po2(6, quadratic_approximation=True), bias_quantizer=B(6, 2),
               name="f_po2_quad")(x)
    x = QActivation(quantized_relu_po2(5, max_value=8, quadratic_approximation=True), name="relu_po2_quad")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def y06_ternary_binary_auto(name):
    """Kernels ternary(alpha='auto') and binary(alpha='auto') on convs, stochastic_ternary/stochastic_binary(alpha='auto') on dense, ternary(alpha=1, threshold=0.2), binary(alpha=1) on a conv."""
    i = keras.Input((8, 8, 2))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QConv2D(6, 3, kernel_quantizer=ternary(alpha="auto"), bias_quantizer=B(6, 2), name="c_ter_auto")(x)  # 6x6x6
    x = qr(5, 2, name="relu1")(x)
    x = QConv2D(6, 3, kernel_quantizer=binary(alpha="auto"), bias_quantizer=B(6, 2), name="c_bin_auto")(x)   # 4x4x6
    x = qr(5, 2, name="relu2")(x)
    x = QConv2D(4, 1, kernel_quantizer=binary(alpha=1), bias_quantizer=B(6, 2), name="c_bin_1")(x)           # 4x4x4
    x = qr(5, 2, name="relu3")(x)
    x = L.MaxPooling2D(2, name="pool")(x)                                                                    # 2x2x4
    x = L.Flatten(name="flat")(x)
    x = QDense(12, kernel_quantizer=stochastic_ternary(alpha="auto"), bias_quantizer=B(6, 2), name="f_ster_auto")(x)
    x = qr(5, 2, name="relu4")(x)
    x = QDense(8, kernel_quantizer=stochastic_binary(alpha="auto"), bias_quantizer=B(6, 2), name="f_sbin_auto")(x)
    x = QActivation(quantized_tanh(6), name="tanh5")(x)
    x = QDense(8, kernel_quantizer=ternary(alpha=1, threshold=0.2), bias_quantizer=B(6, 2), name="f_ter_thr02")(x)
    x = qr(5, 2, name="relu6")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def y07_binary_ternary_acts(name):
    """ternary / binary as ACTIVATIONS: 'ternary()' and 'binary()' strings, ternary(threshold=0.5), binary(use_01=True), binary(alpha=1)."""
    i = keras.Input((16,))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QDense(16, kernel_quantizer=K(), bias_quantizer=B(), name="fc1")(x)
    x = QActivation("ternary()", name="ter_str")(x)
    x = QDense(16, kernel_quantizer=K(), bias_quantizer=B(), name="fc2")(x)
    x = QActivation(ternary(threshold=0.5), name="ter_thr05")(x)
    x = QDense(12, kernel_quantizer=K(), bias_quantizer=B(), name="fc3")(x)
    x = QActivation("binary()", name="bin_str")(x)
    x = QDense(12, kernel_quantizer=K(), bias_quantizer=B(), name="fc4")(x)
    x = QActivation(binary(use_01=True), name="bin_01")(x)
    x = QDense(8, kernel_quantizer=K(), bias_quantizer=B(), name="fc5")(x)
    x = QActivation(binary(alpha=1), name="bin_a1")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def y08_act_real_relu_variants(name):
    """quantized_tanh(use_real_tanh=True), quantized_relu(relu_upper_bound=3) (inactive: is_quantized_clip defaults True), leaky quantized_relu with use_sigmoid=1, quantized_relu(4,6) (integer > bits), quantized_sigmoid(symmetric=True,use_real_sigmoid=True), 'quantized_relu_po2(4,2)' string."""
    i = keras.Input((12,))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QDense(16, kernel_quantizer=K(), bias_quantizer=B(), name="fc1")(x)
    x = QActivation(quantized_tanh(6, use_real_tanh=True), name="real_tanh")(x)
    x = QDense(16, kernel_quantizer=K(6, 1), bias_quantizer=B(6, 1), name="fc2")(x)
    # relu_upper_bound is saved, but is_quantized_clip (default True) takes precedence and is
    # not saved, so the bound has no effect (see README notes).
    x = QActivation(quantized_relu(6, 2, relu_upper_bound=3.0), name="relu_ub3")(x)
    x = QDense(12, kernel_quantizer=K(6, 1), bias_quantizer=B(6, 1), name="fc3")(x)
    x = QActivation(quantized_relu(6, 2, use_sigmoid=1, negative_slope=0.25), name="leaky_sigmoid")(x)
    x = QDense(12, kernel_quantizer=K(6, 1), bias_quantizer=B(6, 1), name="fc4")(x)
    x = QActivation(quantized_relu(4, 6), name="relu_4_6")(x)
    x = QDense(10, kernel_quantizer=K(), bias_quantizer=B(), name="fc5")(x)
    x = QActivation(quantized_sigmoid(6, symmetric=True, use_real_sigmoid=True), name="real_sig_sym")(x)
    x = QDense(8, kernel_quantizer=K(6, 1), bias_quantizer=B(6, 1), name="fc6")(x)
    x = QActivation("quantized_relu_po2(4,2)", name="relu_po2_str")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def y09_conv_odd_stride_same(name):
    """Odd 11x11 input: stride-2 padding='same' conv (11->6), (3,1) valid kernel, (1,3) kernel strides=(1,2) same, MaxPooling2D(padding='same') on an odd 4x3 map."""
    i = keras.Input((11, 11, 2))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QConv2D(4, 3, strides=2, padding="same", kernel_quantizer=K(), bias_quantizer=B(), name="c1_s2_same")(x)  # 6x6x4
    x = qr(6, 2, name="relu1")(x)
    x = QConv2D(6, (3, 1), kernel_quantizer=K(), bias_quantizer=B(), name="c2_k31")(x)                       # 4x6x6
    x = qr(6, 2, name="relu2")(x)
    x = QConv2D(6, (1, 3), strides=(1, 2), padding="same", kernel_quantizer=K(), bias_quantizer=B(),
                name="c3_k13_s12")(x)                                                                        # 4x3x6
    x = qr(6, 2, name="relu3")(x)
    x = L.MaxPooling2D(2, padding="same", name="pool_same")(x)                                             # 2x2x6
    x = L.Flatten(name="flat")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def y10_dw_dm3_stride(name):
    """QDepthwiseConv2D depth_multiplier=3 with bias, strides=2 padding='same' on odd 9x9; second depthwise with alpha='auto' kernel; 1x1 conv; Flatten."""
    i = keras.Input((9, 9, 2))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QDepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=3, depthwise_quantizer=K(),
                         bias_quantizer=B(), name="dw_dm3_s2")(x)                                            # 5x5x6
    x = qr(6, 2, name="relu1")(x)
    x = QDepthwiseConv2D(3, depthwise_quantizer=qb(5, 0, 1, alpha="auto"), bias_quantizer=B(),
                         name="dw_auto")(x)                                                                  # 3x3x6
    x = qr(6, 2, name="relu2")(x)
    x = QConv2D(4, 1, kernel_quantizer=K(), bias_quantizer=B(), name="pw")(x)                               # 3x3x4
    x = qr(6, 2, name="relu3")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def y11_sepconv_stride(name):
    """QSeparableConv2D strides=2 padding='same' depth_multiplier=2 on 10x10x3, then QSeparableConv2D strides=2 valid (auto_po2 pointwise)."""
    i = keras.Input((10, 10, 3))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QSeparableConv2D(8, 3, strides=2, padding="same", depth_multiplier=2,
                         depthwise_quantizer=K(), pointwise_quantizer=K(), bias_quantizer=B(),
                         depthwise_initializer="he_normal", pointwise_initializer="he_normal",
                         name="sep1_s2_dm2")(x)                                                              # 5x5x8
    x = qr(6, 2, name="relu1")(x)
    x = QSeparableConv2D(6, 3, strides=2, depthwise_quantizer=K(),
                         pointwise_quantizer=qb(6, 0, 1, alpha="auto_po2"), bias_quantizer=B(),
                         depthwise_initializer="he_normal", pointwise_initializer="he_normal",
                         name="sep2_s2")(x)                                                                  # 2x2x6
    x = qr(6, 2, name="relu2")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def y12_dense_3d(name):
    """QDense over the last axis of a (T, C) = (8, 6) input, QConv1D between, QDense with activation string on 3-D, Reshape to 4-D and QDense on (2,3,4)."""
    i = keras.Input((8, 6))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QDense(8, kernel_quantizer=K(), bias_quantizer=B(), name="d_time")(x)                     # 8x8
    x = qr(6, 2, name="relu1")(x)
    x = QConv1D(6, 3, kernel_quantizer=K(), bias_quantizer=B(), name="c1")(x)                      # 6x6
    x = qr(6, 2, name="relu2")(x)
    x = QDense(4, kernel_quantizer=K(), bias_quantizer=B(), activation="quantized_tanh(5)", name="d_tanh")(x)  # 6x4
    x = L.Reshape((2, 3, 4), name="to4d")(x)
    x = QDense(3, kernel_quantizer=K(), bias_quantizer=B(), name="d_4d")(x)                        # 2x3x3
    x = qr(6, 2, name="relu3")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def y13_deep_cnn16(name):
    """Deeper CNN on 16x16x1: 3 QConv2D (same / valid / same) with 2 MaxPooling2D, 2 QDense, softmax (Verilator build time)."""
    i = keras.Input((16, 16, 1))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QConv2D(4, 3, padding="same", kernel_quantizer=K(4), bias_quantizer=B(), name="conv1")(x)  # 16x16x4
    x = qr(4, 2, name="relu1")(x)
    x = L.MaxPooling2D(2, name="pool1")(x)                                                           # 8x8x4
    x = QConv2D(6, 3, kernel_quantizer=K(4), bias_quantizer=B(), name="conv2")(x)                  # 6x6x6
    x = qr(4, 2, name="relu2")(x)
    x = L.MaxPooling2D(2, name="pool2")(x)                                                           # 3x3x6
    x = QConv2D(8, 3, padding="same", kernel_quantizer=K(4), bias_quantizer=B(), name="conv3")(x)  # 3x3x8
    x = qr(4, 2, name="relu3")(x)
    x = L.Flatten(name="flat")(x)
    x = QDense(16, kernel_quantizer=K(), bias_quantizer=B(), name="fc1")(x)
    x = qr(6, 2, name="relu4")(x)
    x = QDense(4, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="fc2")(x)
    o = L.Activation("softmax", name="softmax")(x)
    return keras.Model(i, o, name=name), "softmax"


def y14_softmax_layer_noise(name):
    """Ends in a keras.layers.Softmax LAYER (class Softmax, not Activation); GaussianNoise, SpatialDropout2D, GaussianDropout, AlphaDropout and Dropout (identities at inference)."""
    i = keras.Input((8, 8, 2))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = L.GaussianNoise(0.2, name="gnoise")(x)
    x = QConv2D(6, 3, kernel_quantizer=K(), bias_quantizer=B(), name="c1")(x)                     # 6x6x6
    x = qr(6, 2, name="relu1")(x)
    x = L.SpatialDropout2D(0.2, name="sdrop")(x)
    x = QConv2D(6, 3, strides=2, kernel_quantizer=K(), bias_quantizer=B(), name="c2_s2")(x)       # 2x2x6
    x = qr(6, 2, name="relu2")(x)
    x = L.GaussianDropout(0.1, name="gdrop")(x)
    x = L.Flatten(name="flat")(x)
    x = L.AlphaDropout(0.1, name="adrop")(x)
    x = QDense(8, kernel_quantizer=K(), bias_quantizer=B(), name="fc1")(x)
    x = qr(6, 2, name="relu3")(x)
    x = L.Dropout(0.2, name="drop")(x)
    x = QDense(4, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="fc2")(x)
    o = L.Softmax(name="softmax_layer")(x)
    return keras.Model(i, o, name=name), "softmax"


def y15_noinq_conv_act(name):
    """Deliberately NO input quantizer (default input format): first QConv2D with in-layer activation string on the raw input, QConv2D -> keras ReLU layer -> quantized_bits, output QDense with activation='quantized_bits(8,3,1)'."""
    i = keras.Input((6, 6, 3))
    x = QConv2D(4, 3, kernel_quantizer=K(), bias_quantizer=B(), activation="quantized_relu(6,2)",
                name="c1_relu_raw")(i)                                                              # 4x4x4
    x = QConv2D(6, 3, kernel_quantizer=K(), bias_quantizer=B(), name="c2")(x)                      # 2x2x6
    x = L.ReLU(name="keras_relu")(x)
    x = QActivation(qb(6, 2, 1), name="c2_q")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), activation="quantized_bits(8,3,1)",
               name="out_qbits")(x)
    return keras.Model(i, o, name=name), "linear"


MODELS = [
    ("y01_act_strings_nobias", y01_act_strings_nobias),
    ("y02_qbn_quantizers", y02_qbn_quantizers),
    ("y03_conv1d_keras_bn", y03_conv1d_keras_bn),
    ("y04_kernel_bits_variants", y04_kernel_bits_variants),
    ("y05_po2_maxval", y05_po2_maxval),
    ("y06_ternary_binary_auto", y06_ternary_binary_auto),
    ("y07_binary_ternary_acts", y07_binary_ternary_acts),
    ("y08_act_real_relu_variants", y08_act_real_relu_variants),
    ("y09_conv_odd_stride_same", y09_conv_odd_stride_same),
    ("y10_dw_dm3_stride", y10_dw_dm3_stride),
    ("y11_sepconv_stride", y11_sepconv_stride),
    ("y12_dense_3d", y12_dense_3d),
    ("y13_deep_cnn16", y13_deep_cnn16),
    ("y14_softmax_layer_noise", y14_softmax_layer_noise),
    ("y15_noinq_conv_act", y15_noinq_conv_act),
]


# --------------------------------------------------------------------------
# description helpers (as batch 2; QBatchNormalization lists its quantizers)
# --------------------------------------------------------------------------


def describe_layer(layer):
    cls = type(layer).__name__
    parts = []
    cfg = layer.get_config()
    for k in ("units", "filters", "kernel_size", "pool_size", "strides", "padding", "dilation_rate",
              "depth_multiplier", "target_shape", "dims", "size", "cropping", "rate", "stddev", "axis"):
        if k in cfg and cfg[k] is not None:
            v = cfg[k]
            if isinstance(v, list):
                v = tuple(tuple(e) if isinstance(e, list) else e for e in v)
            if k in ("strides", "dilation_rate") and tuple(np.atleast_1d(v)) in ((1,), (1, 1)):
                continue
            if k == "axis" and cls not in ("Concatenate", "Softmax"):
                continue
            if k == "padding" and cls.startswith("Global"):
                continue
            parts.append(f"{k}={v}")
    if cfg.get("use_bias") is False:
        parts.append("use_bias=False")
    if "BatchNormalization" in cls:
        if cfg.get("scale") is False:
            parts.append("scale=False")
        if cfg.get("center") is False:
            parts.append("center=False")
    for attr, tag in (("kernel_quantizer", "k"), ("depthwise_quantizer", "dw"),
                      ("pointwise_quantizer", "pw"), ("weight_quantizer", "w"),
                      ("bias_quantizer", "b"), ("average_quantizer", "avg_q")):
        s = _q(layer, attr)
        if s:
            parts.append(f"{tag}={s}")
    if cls == "QActivation":
        parts.append(fmt_q(layer.activation))
    elif cls == "Activation":
        parts.append(str(cfg.get("activation")))
    elif "activation" in cfg and cfg["activation"] not in (None, "linear"):
        a = cfg["activation"]
        if not isinstance(a, str):
            a = fmt_q(getattr(layer, "activation", None)) or str(a)
        parts.append(f"act={a}")
    if cls == "QBatchNormalization":
        for a in ("gamma", "beta", "mean", "variance", "inverse"):
            parts.append(f"{a}_q={_q(layer, a + '_quantizer')}")
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
    run_batch(OUT, set(sys.argv[2:]), MODELS, 3000, LEGACY_H5, describe_layer, README_HEAD, NOTES, STATIC_DROPS)


# Combinations removed from the builders above because QKeras cannot save them faithfully
# (what, error).  Kept here so README.txt lists them.
STATIC_DROPS = [
    ("y04 QDense kernel quantized_bits(6,0,1,alpha='auto_po2',min_po2_exponent=-2,max_po2_exponent=0) "
     "and quantized_bits(5,0,1,alpha='auto',scale_axis=0)",
     "quantized_bits.get_config() omits scale_axis, elements_per_scale, min_po2_exponent and "
     "max_po2_exponent, so keras.models.load_model rebuilds different quantizers (reload max|diff| "
     "0.248 on y.npy); replaced by keep_negative=False with alpha='auto' and by post_training_scale"),
    ("y08 quantized_relu(6,2,is_quantized_clip=False,relu_upper_bound=3.0), "
     "quantized_relu(5,1,is_quantized_clip=False), quantized_relu(6,2,use_ste=False)",
     "quantized_relu.get_config() omits is_quantized_clip and use_ste (reload max|diff| 0.126); "
     "replaced by quantized_relu(6,2,relu_upper_bound=3.0) (bound inactive), "
     "quantized_relu(6,2,use_sigmoid=1,negative_slope=0.25) and quantized_relu(4,6)"),
    ("post_training_scale given as a Python list",
     "quantized_bits.get_config() calls post_training_scale.tolist(): model.save raises "
     "AttributeError: 'list' object has no attribute 'tolist'; y04 passes a float32 numpy array"),
]

README_HEAD = (
    "Cross-check models, batch 3 (y01..y15), qkeras-v3 1.2.1, Keras 3, TF backend.\n"
    "Generated by scripts/crosscheck/make_models3.py (deterministic, seed 3000+index, clear_session per model).\n"
    "Each NAME has NAME.keras, NAME.x.npy (float32, (200,*input_shape), same distribution as\n"
    "batches 1 and 2: N(0,1.5), ~5% of entries x4; image/sequence inputs get a per-sample\n"
    "per-channel common component), NAME.y.npy (float32 model.predict(x, batch_size=32) of the\n"
    "in-memory model after saving), NAME.logits.npy for models ending in Activation('softmax')\n"
    "or a keras.layers.Softmax layer (output of the layer before it). Trained 2 epochs on 300\n"
    "samples, targets a random linear teacher (argmax one-hot for softmax), batch 32, Adam(3e-3).\n"
    "predict() was run twice and checked bit-identical and finite.\n\n"
)

NOTES = """Notes
  * Everything listed above builds, trains, saves and reloads with identical predictions
    (reload check 0.0 on every model, both legacy .h5 copies included). What QKeras 1.2.1
    could not save faithfully is listed under 'Combinations dropped' below.
  * quantized_bits with a string alpha forces symmetric=True. With keep_negative=False and
    alpha='auto' (y04 fd_auto_unsigned) the weights stay SIGNED: z = sign(x) * ..., only
    m = 2**(bits - keep_negative) changes. With alpha=1 (y04 fb_unsigned_k) keep_negative=False
    really clips the kernel to [0, 15/16].
  * post_training_scale (y04 fe_auto_pts) freezes the 'auto' scale: QKeras uses
    post_training_scale / m as the scale; it is saved as a nested list [[...]] of shape (1, 8).
  * quantized_po2 / quantized_relu_po2 max_value (y05) clip |x| to max_value before the log2,
    so outputs never exceed max_value, except with quadratic_approximation:
    quantized_relu_po2(5, max_value=8, quadratic_approximation=True) gives 16 for x >= 8
    (log2(sqrt(8)) = 1.5 rounds to 2). Exponent ranges: _min_exp/_max_exp -8/7 for y05's
    max_value quantizers, -16/14 (doubled: 2^-32..2^28) for the quadratic relu_po2.
  * quantized_relu(relu_upper_bound=3.0) (y08 relu_ub3): the bound is saved but has no
    effect, because is_quantized_clip (default True) takes precedence and is not saved.
  * ternary()/binary() activations (y07) have alpha=None: the output is
    tanh(x) + stop_gradient(scale*q - tanh(x)) with q from the raw x (threshold 0.33 for
    ternary() unless given); binary(use_01=True) gives {0, 1}.
  * stochastic_ternary / stochastic_binary kernels (y06): QDense calls the kernel quantizer
    without training=True, so they take the deterministic path, as in batch 2.
  * QDepthwiseConv2D with an alpha='auto' depthwise kernel (y10 dw_auto, depth_multiplier=1):
    the scale axis is the last (depth multiplier) axis, so the whole kernel has ONE scale.
  * QBatchNormalization (y02): the trained moving_mean and moving_variance are again the same
    value for every channel (QKeras 1.2.1); keras BatchNormalization (y03) is per channel.
    bn_inverse_q has gamma_quantizer=variance_quantizer=None and inverse_quantizer
    quantized_bits(8,3,1): inv = gamma / sqrt(var + eps) is quantized, mean is not.
  * GaussianNoise, SpatialDropout2D, GaussianDropout, AlphaDropout and Dropout (y14) are
    identities at inference.
  * Softmax models: y13 ends in Activation('softmax'), y14 in a keras.layers.Softmax layer;
    NAME.logits.npy is the QDense before it; softmax(logits) matches y.npy to 6e-8.
  * y15 has no input quantizer on purpose: qkhw predict takes the float32 inputs as they are,
    qkhw verify uses its default input format fixed<16,6> (with a notice).
  * .keras files include the (Adam) optimizer state because the models were compiled.

"""

if __name__ == "__main__":
    main()
