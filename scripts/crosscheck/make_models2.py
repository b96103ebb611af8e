"""Cross-check models, batch 2 (x01..x15): QKeras features the first batch
(scripts/crosscheck/make_models.py, h01..h15) did not cover.

Run with qkeras-v3 1.2.1 / Keras 3 / TF:
    python scripts/crosscheck/make_models2.py OUT_DIR [NAME ...]
For each model NAME writes into OUT_DIR:
  NAME.keras        model.save
  NAME.x.npy        float32 inputs (200, *input_shape), same distribution as batch 1
  NAME.y.npy        float32 model.predict(x, batch_size=32) of the in-memory model
                    (two-output model x14: output 0 in NAME.y.npy, output 1 in NAME.y.1.npy,
                    matching `qkhw predict`'s naming of extra outputs)
  NAME.logits.npy   for models ending in Activation('softmax'): output of layers[-2]
  NAME_legacy.h5    for the LEGACY_H5 models: model.save('...h5') (legacy HDF5)
and README.txt.  Deterministic: seed 2000+index, single-threaded TF, op determinism,
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
    QAveragePooling2D,
    QBatchNormalization,
    QConv1D,
    QConv2D,
    QDense,
    QDepthwiseConv2D,
    QScaleShift,
    QSeparableConv1D,
)
from qkeras.quantizers import (
    binary,
    quantized_linear,
    quantized_relu,
    quantized_sigmoid,
    quantized_tanh,
    smooth_sigmoid,
    stochastic_binary,
    stochastic_ternary,
    ternary,
)
from _common import (  # noqa: E402
    _q,
    fmt_q,
    note_drop,
    qb,
    qr,
    run_batch,
    short_err,
)

OUT = sys.argv[1] if len(sys.argv) > 1 else "crosscheck2-out"
LEGACY_H5 = {"x01_seq_string_mlp", "x03_act_zoo", "x06_seq_cnn_stride_bn"}


def try_act(model, what, q_primary, q_fallback, x, name):
    """QActivation(q_primary) if a probe model using it works both in predict() and
    traced with an unknown batch dimension (what fit() and keras.models.load_model do);
    otherwise record the error and use QActivation(q_fallback)."""
    shape = tuple(x.shape[1:])
    try:
        pi = keras.Input(shape)
        probe = keras.Model(pi, QActivation(q_primary)(pi))
        probe.predict(np.zeros((2, *shape), np.float32), verbose=0)
        f = tf.function(lambda t: probe(t, training=True),
                        input_signature=[tf.TensorSpec((None, *shape), tf.float32)])
        f(tf.zeros((2, *shape)))
        return QActivation(q_primary, name=name)(x)
    except Exception as e:  # noqa: BLE001
        note_drop(model, what, short_err(e))
        return QActivation(q_fallback, name=name)(x)


def try_layer(model, what, make_primary, make_fallback, x):
    """Build+call the primary layer; on failure record it and use the fallback."""
    try:
        return make_primary()(x)
    except Exception as e:  # noqa: BLE001
        note_drop(model, what, short_err(e))
        return make_fallback()(x)


# --------------------------------------------------------------------------
# data (identical to batch 1)
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------
def x01_seq_string_mlp(name):
    """keras.Sequential, auto layer names, every quantizer given as a STRING (default alpha -> auto_po2 on kernels; integer>0 kernel); softmax."""
    m = keras.Sequential([
        keras.Input((16,)),
        QActivation("quantized_bits(8,3,1)"),
        QDense(16, kernel_quantizer="quantized_bits(4,0,1)", bias_quantizer="quantized_bits(4,0,1)"),
        QActivation("quantized_relu(4,0)"),
        QDense(12, kernel_quantizer="quantized_bits(6,2,1,alpha=1)", bias_quantizer="quantized_bits(6,2,1)"),
        QActivation("quantized_tanh(4)"),
        QDense(4, kernel_quantizer="quantized_bits(8,3,1,alpha=1)", bias_quantizer="quantized_bits(8,3,1)"),
        L.Activation("softmax"),
    ], name=name)
    return m, "softmax"


def x02_deep_mlp_mixed(name):
    """Deeper MLP: 6 QDense with 3..10-bit kernels, symmetric=0 quantizers, use_bias=False, unsigned keep_negative=False activation, Dropout, Activation('linear')."""
    i = keras.Input((20,))
    x = QActivation(qb(10, 4, 0), name="in_q")(i)                         # symmetric=0 (explicit 0)
    x = QDense(32, kernel_quantizer=qb(3, 0, 1, alpha=1), bias_quantizer=qb(3, 0, 1), name="fc1")(x)
    x = qr(3, 1, name="relu1")(x)
    x = QDense(24, kernel_quantizer=qb(4, 1, 1, alpha=1), use_bias=False, name="fc2_nobias")(x)
    x = QActivation(qb(4, 2, 0, keep_negative=False), name="unsigned2")(x)  # [0, 3.75]
    x = L.Dropout(0.2, name="drop")(x)
    x = QDense(16, kernel_quantizer=qb(5, 0, symmetric=0, alpha=1), bias_quantizer=qb(5, 1, 0), name="fc3")(x)
    x = qr(5, 2, name="relu3")(x)
    x = QDense(12, kernel_quantizer=qb(6, 2, 0, alpha=1), bias_quantizer=qb(6, 2, 1), name="fc4")(x)
    x = L.Activation("linear", name="lin4")(x)
    x = QActivation(qb(6, 2, 1), name="q4")(x)
    x = QDense(8, kernel_quantizer=qb(8, 1, 1, alpha=1), bias_quantizer=qb(8, 3, 1), name="fc5")(x)
    x = qr(8, 3, name="relu5")(x)
    o = QDense(3, kernel_quantizer=qb(10, 2, 1, alpha=1), bias_quantizer=qb(10, 4, 1), name="fc6_out")(x)
    return keras.Model(i, o, name=name), "linear"


def x03_act_zoo(name):
    """No input quantizer: quantized_relu(8,4) straight on the wide raw input; leaky relu (negative_slope=0.125), quantized_relu use_sigmoid=1, quantized_tanh symmetric=True, quantized_sigmoid use_real_sigmoid=True."""
    i = keras.Input((12,))
    x = QActivation(quantized_relu(8, 4), name="wide_relu84")(i)
    x = QDense(16, kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 2, 1), name="fc1")(x)
    x = QActivation(quantized_relu(6, 2, negative_slope=0.125), name="leaky")(x)
    x = QDense(12, kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 2, 1), name="fc2")(x)
    x = try_layer(name, "quantized_relu(6,2,use_sigmoid=1)",
                  lambda: QActivation(quantized_relu(6, 2, use_sigmoid=1), name="relu_sigmoid"),
                  lambda: QActivation(quantized_relu(6, 2), name="relu_sigmoid"), x)
    x = QDense(12, kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 2, 1), name="fc3")(x)
    x = QActivation(quantized_tanh(5, symmetric=True), name="tanh_sym")(x)
    x = QDense(8, kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 2, 1), name="fc4")(x)
    x = QActivation(quantized_sigmoid(6, use_real_sigmoid=True), name="real_sigmoid")(x)
    o = QDense(2, kernel_quantizer=qb(8, 2, 1, alpha=1), bias_quantizer=qb(8, 2, 1), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def x04_exotic_kernels(name):
    """quantized_linear kernel on the output layer (as input quantizer: dropped, see below); binary(alpha='auto_po2'), ternary(alpha='auto_po2'), stochastic_binary(), stochastic_ternary(alpha='auto_po2') kernels (inference = deterministic path)."""
    i = keras.Input((16,))
    x = try_act(name, "QActivation(quantized_linear(8,3)) as input quantizer, replaced by quantized_bits(8,3,1) "
                "(predict() on the in-memory model works, but fit() and keras.models.load_model trace it "
                "with batch dim None and quantized_linear.__call__ does Kops.reshape(res, x.shape))",
                quantized_linear(8, 3), qb(8, 3, 1), i, "in_q")
    x = QDense(16, kernel_quantizer=binary(alpha="auto_po2"), bias_quantizer=qb(6, 2, 1), name="f_bin")(x)
    x = qr(5, 2, name="relu1")(x)
    x = QDense(16, kernel_quantizer=ternary(alpha="auto_po2"), bias_quantizer=qb(6, 2, 1), name="f_ter")(x)
    x = qr(5, 2, name="relu2")(x)
    x = QDense(12, kernel_quantizer=stochastic_binary(), bias_quantizer=qb(6, 2, 1), name="f_sbin")(x)
    x = qr(5, 2, name="relu3")(x)
    x = QDense(12, kernel_quantizer=stochastic_ternary(alpha="auto_po2"), bias_quantizer=qb(6, 2, 1),
               name="f_ster")(x)
    x = QActivation(quantized_tanh(6), name="tanh4")(x)
    o = QDense(3, kernel_quantizer=quantized_linear(8, 2, alpha=1), bias_quantizer=qb(8, 2, 1),
               name="out_qlin")(x)
    return keras.Model(i, o, name=name), "linear"


def x05_fn_acts_float_out(name):
    """QKeras functions as activations: QDense(activation='hard_tanh'), QActivation('binary_tanh'), QActivation(smooth_sigmoid); plain float keras Dense output layer."""
    i = keras.Input((10,))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QDense(16, kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 0, 1),
               activation="hard_tanh", name="fc1_hard_tanh")(x)
    x = QDense(12, kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 0, 1), name="fc2")(x)
    x = QActivation("binary_tanh", name="binary_tanh")(x)
    x = QDense(8, kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 0, 1), name="fc3")(x)
    x = QActivation(smooth_sigmoid, name="smooth_sigmoid")(x)
    o = L.Dense(3, name="float_out")(x)
    return keras.Model(i, o, name=name), "linear"


def x06_seq_cnn_stride_bn(name):
    """keras.Sequential, auto names: QConv2D strides=2 padding='same' use_bias=False alpha='auto_po2' -> plain keras BatchNormalization; (1,3) kernel alpha=1 (string quantizers); MaxPooling2D(3, strides=2); softmax."""
    m = keras.Sequential([
        keras.Input((12, 12, 3)),
        QActivation("quantized_bits(8,3,1)"),
        QConv2D(8, 3, strides=2, padding="same", use_bias=False,
                kernel_quantizer=qb(6, 0, 1, alpha="auto_po2")),                  # 6x6x8
        L.BatchNormalization(momentum=0.9),
        QActivation("quantized_relu(6,2)"),
        QConv2D(8, (1, 3), padding="same", kernel_quantizer="quantized_bits(6,0,1,alpha=1)",
                bias_quantizer="quantized_bits(6,0,1)"),                           # 6x6x8
        QActivation("quantized_relu(6,2)"),
        L.MaxPooling2D(pool_size=3, strides=2),                                    # 2x2x8
        L.Flatten(),
        QDense(4, kernel_quantizer=qb(8, 3, 1, alpha=1), bias_quantizer=qb(8, 3, 1)),
        L.Activation("softmax"),
    ], name=name)
    return m, "softmax"


def x07_dilated_gap9(name):
    """dilation_rate=2 conv with ternary(alpha='auto_po2') kernel, QBatchNormalization(scale=False), QAveragePooling2D(padding='same') 5x5->3x3, GlobalAveragePooling2D over 3x3 (count 9)."""
    i = keras.Input((9, 9, 3))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QConv2D(6, 3, dilation_rate=2, kernel_quantizer=ternary(alpha="auto_po2"),
                bias_quantizer=qb(6, 2, 1), name="dil")(x)                        # 5x5x6
    x = QBatchNormalization(scale=False, momentum=0.9, name="bn_noscale")(x)
    x = qr(6, 2, name="relu1")(x)
    x = QAveragePooling2D(2, padding="same", average_quantizer=qb(8, 2, 1), name="qap_same")(x)  # 3x3x6
    x = QConv2D(8, 1, kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 0, 1), name="pw")(x)
    x = qr(6, 2, name="relu2")(x)
    x = L.GlobalAveragePooling2D(name="gap9")(x)
    o = QDense(3, kernel_quantizer=qb(8, 2, 1, alpha=1), bias_quantizer=qb(8, 2, 1), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def x08_dw_dm2_crop(name):
    """Cropping2D (asymmetric), QDepthwiseConv2D depth_multiplier=2 use_bias=False alpha='auto_po2', QBatchNormalization(center=False), 1x1 conv alpha=1, MaxPooling2D, Flatten."""
    i = keras.Input((12, 12, 3))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = L.Cropping2D(((1, 1), (2, 0)), name="crop")(x)                              # 10x10x3
    x = QDepthwiseConv2D(3, depth_multiplier=2, use_bias=False,
                         depthwise_quantizer=qb(6, 0, 1, alpha="auto_po2"), name="dw_dm2")(x)  # 8x8x6
    x = QBatchNormalization(center=False, momentum=0.9, name="bn_nocenter")(x)
    x = qr(6, 2, name="relu1")(x)
    x = QConv2D(8, 1, kernel_quantizer=qb(5, 0, 1, alpha=1), bias_quantizer=qb(5, 1, 1), name="pw")(x)
    x = qr(6, 2, name="relu2")(x)
    x = L.MaxPooling2D(2, name="pool")(x)                                            # 4x4x8
    x = L.Flatten(name="flat")(x)
    x = QDense(16, kernel_quantizer=qb(5, 0, 1, alpha=1), bias_quantizer=qb(5, 1, 1), name="fc1")(x)
    x = qr(5, 2, name="relu3")(x)
    o = QDense(3, kernel_quantizer=qb(8, 2, 1, alpha=1), bias_quantizer=qb(8, 2, 1), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def x09_conv1d_sep(name):
    """ZeroPadding1D((2,1)), QConv1D strides=2 padding='same' alpha='auto_po2', QSeparableConv1D, AveragePooling1D, GlobalMaxPooling1D."""
    i = keras.Input((32, 3))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = L.ZeroPadding1D((2, 1), name="zpad")(x)                                     # 35x3
    x = QConv1D(8, 3, strides=2, padding="same", kernel_quantizer=qb(6, 0, 1, alpha="auto_po2"),
                bias_quantizer=qb(6, 0, 1), name="c1_s2")(x)                      # 18x8
    x = qr(6, 2, name="relu1")(x)
    x = QSeparableConv1D(8, 3, depthwise_quantizer=qb(6, 0, 1, alpha=1),
                         pointwise_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 0, 1),
                         depthwise_initializer="he_normal", pointwise_initializer="he_normal",
                         name="sep1d")(x)                                           # 16x8
    x = qr(6, 2, name="relu2")(x)
    x = L.AveragePooling1D(2, name="ap1d")(x)                                        # 8x8
    x = QActivation(qb(8, 2, 1), name="ap_q")(x)
    x = L.GlobalMaxPooling1D(name="gmp1d")(x)
    o = QDense(2, kernel_quantizer=qb(8, 2, 1, alpha=1), bias_quantizer=qb(8, 2, 1), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def x10_seq_conv1d_flatten(name):
    """keras.Sequential, auto names, string quantizers: QConv1D, Dropout, QConv1D strides=2 valid use_bias=False ternary, Flatten straight after the conv, QDense with string activation."""
    m = keras.Sequential([
        keras.Input((24, 2)),
        QActivation("quantized_bits(8,3,1)"),
        QConv1D(4, 5, kernel_quantizer="quantized_bits(5,0,1,alpha='auto_po2')",
                bias_quantizer="quantized_bits(5,1,1)"),                            # 20x4
        QActivation("quantized_relu(5,2)"),
        L.Dropout(0.25),
        QConv1D(6, 3, strides=2, use_bias=False, kernel_quantizer="ternary(alpha=1)"),  # 9x6
        L.Flatten(),
        QDense(8, kernel_quantizer="quantized_bits(4,0,1,alpha=1)", bias_quantizer="quantized_bits(4,1,1)",
               activation="quantized_relu(4,2)"),
        QDense(1, kernel_quantizer="quantized_bits(8,2,1,alpha=1)", bias_quantizer="quantized_bits(8,2,1)"),
    ], name=name)
    return m, "linear"


def x11_reshape_roundtrip(name):
    """Dense -> Reshape((4,4,2)) -> QConv2D same -> Reshape((64,)) -> dense head."""
    i = keras.Input((16,))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QDense(32, kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 0, 1), name="fc1")(x)
    x = qr(6, 2, name="relu1")(x)
    x = L.Reshape((4, 4, 2), name="to3d")(x)
    x = QConv2D(4, 3, padding="same", kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 0, 1),
                name="conv")(x)                                                     # 4x4x4
    x = qr(6, 2, name="relu2")(x)
    x = L.Reshape((64,), name="to1d")(x)
    x = QDense(8, kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 0, 1), name="fc2")(x)
    x = qr(6, 2, name="relu3")(x)
    o = QDense(2, kernel_quantizer=qb(8, 2, 1, alpha=1), bias_quantizer=qb(8, 2, 1), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def x12_upsample_permute(name):
    """Non-square 6x4 input, UpSampling2D(2), Permute((2,1,3)) (H<->W), stride-2 conv, plain float keras Dense output."""
    i = keras.Input((6, 4, 2))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QConv2D(4, 3, padding="same", kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 0, 1),
                name="c1")(x)                                                       # 6x4x4
    x = qr(6, 2, name="relu1")(x)
    x = L.UpSampling2D(2, name="up2")(x)                                            # 12x8x4
    x = L.Permute((2, 1, 3), name="perm")(x)                                         # 8x12x4
    x = QConv2D(6, 3, strides=2, kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 0, 1),
                name="c2_s2")(x)                                                    # 3x5x6
    x = qr(6, 2, name="relu2")(x)
    x = L.Flatten(name="flat")(x)
    x = QDense(8, kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 0, 1), name="fc1")(x)
    x = qr(6, 2, name="relu3")(x)
    o = L.Dense(2, name="float_out")(x)
    return keras.Model(i, o, name=name), "linear"


def x13_scaleshift_bn(name):
    """No input quantizer: QScaleShift on the raw input, QBatchNormalization(scale=False) and (center=False), QScaleShift with activation."""
    i = keras.Input((12,))
    x = QScaleShift(weight_quantizer=qb(4, 2, 1), bias_quantizer=qb(4, 2, 1), name="ss_in")(i)
    x = QActivation(qb(8, 3, 1), name="ss_q")(x)
    x = QDense(16, kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 0, 1), name="fc1")(x)
    x = QBatchNormalization(scale=False, momentum=0.9, name="bn_noscale")(x)
    x = qr(6, 2, name="relu1")(x)
    x = QDense(12, kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 0, 1), name="fc2")(x)
    x = QBatchNormalization(center=False, momentum=0.9, name="bn_nocenter")(x)
    x = qr(6, 2, name="relu2")(x)
    x = QScaleShift(weight_quantizer=qb(6, 2, 1), bias_quantizer=qb(6, 2, 1),
                    activation=quantized_relu(6, 3), name="ss_act")(x)
    o = QDense(3, kernel_quantizer=qb(8, 2, 1, alpha=1), bias_quantizer=qb(8, 2, 1), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def x14_two_heads(name):
    """Two-output functional model on a 1-D sequence: head A AveragePooling1D+GlobalAveragePooling1D -> linear, head B QConv1D+GlobalMaxPooling1D -> quantized_sigmoid."""
    i = keras.Input((32, 2))
    x = QActivation(qb(8, 3, 1), name="in_q")(i)
    x = QConv1D(6, 3, padding="same", kernel_quantizer=qb(6, 0, 1, alpha=1), bias_quantizer=qb(6, 0, 1),
                name="c1")(x)                                                       # 32x6
    x = qr(6, 2, name="relu1")(x)
    a = L.AveragePooling1D(4, name="a_ap")(x)                                        # 8x6
    a = L.GlobalAveragePooling1D(name="a_gap")(a)
    a = QActivation(qb(8, 2, 1), name="a_q")(a)
    a = QDense(2, kernel_quantizer=qb(8, 2, 1, alpha=1), bias_quantizer=qb(8, 2, 1), name="out_a")(a)
    b = QConv1D(4, 3, kernel_quantizer=qb(5, 0, 1, alpha=1), bias_quantizer=qb(5, 0, 1), name="b_c")(x)  # 30x4
    b = QActivation(quantized_tanh(6), name="b_tanh")(b)
    b = L.GlobalMaxPooling1D(name="b_gmp")(b)
    b = QDense(3, kernel_quantizer=qb(8, 2, 1, alpha=1), bias_quantizer=qb(8, 2, 1), name="b_fc")(b)
    b = QActivation(quantized_sigmoid(8), name="out_b")(b)
    return keras.Model(i, [a, b], name=name), "linear"


def x15_seq_cnn_mixed(name):
    """keras.Sequential, auto names: quantized_bits(8,2,0) (symmetric=0) input, leaky relu as a string, alpha=1 vs alpha='auto_po2' convs, unsigned keep_negative=False activation, quantized_linear kernel, GAP over 3x3, Activation('linear'), softmax."""
    m = keras.Sequential([
        keras.Input((10, 10, 3)),
        QActivation("quantized_bits(8,2,0)"),
        QConv2D(8, 3, kernel_quantizer=qb(4, 0, 1, alpha=1), bias_quantizer=qb(4, 0, 1)),          # 8x8x8
        QActivation("quantized_relu(6,2,negative_slope=0.25)"),
        QConv2D(8, 3, strides=2, kernel_quantizer=qb(4, 0, 1, alpha="auto_po2"),
                bias_quantizer=qb(4, 0, 1)),                                                        # 3x3x8
        QActivation(qb(6, 2, 0, keep_negative=False)),
        QConv2D(4, 1, kernel_quantizer=quantized_linear(6, 1, alpha=1), bias_quantizer=qb(6, 1, 1)),  # 3x3x4
        L.GlobalAveragePooling2D(),
        L.Activation("linear"),
        QDense(3, kernel_quantizer=qb(8, 2, 1, alpha=1), bias_quantizer=qb(8, 2, 1)),
        L.Activation("softmax"),
    ], name=name)
    return m, "softmax"


MODELS = [
    ("x01_seq_string_mlp", x01_seq_string_mlp),
    ("x02_deep_mlp_mixed", x02_deep_mlp_mixed),
    ("x03_act_zoo", x03_act_zoo),
    ("x04_exotic_kernels", x04_exotic_kernels),
    ("x05_fn_acts_float_out", x05_fn_acts_float_out),
    ("x06_seq_cnn_stride_bn", x06_seq_cnn_stride_bn),
    ("x07_dilated_gap9", x07_dilated_gap9),
    ("x08_dw_dm2_crop", x08_dw_dm2_crop),
    ("x09_conv1d_sep", x09_conv1d_sep),
    ("x10_seq_conv1d_flatten", x10_seq_conv1d_flatten),
    ("x11_reshape_roundtrip", x11_reshape_roundtrip),
    ("x12_upsample_permute", x12_upsample_permute),
    ("x13_scaleshift_bn", x13_scaleshift_bn),
    ("x14_two_heads", x14_two_heads),
    ("x15_seq_cnn_mixed", x15_seq_cnn_mixed),
]


# --------------------------------------------------------------------------
# description helpers (extended from batch 1)
# --------------------------------------------------------------------------


def describe_layer(layer):
    cls = type(layer).__name__
    parts = []
    cfg = layer.get_config()
    for k in ("units", "filters", "kernel_size", "pool_size", "strides", "padding", "dilation_rate",
              "depth_multiplier", "target_shape", "dims", "size", "cropping", "rate", "axis"):
        if k in cfg and cfg[k] is not None:
            v = cfg[k]
            if isinstance(v, list):
                v = tuple(tuple(e) if isinstance(e, list) else e for e in v)
            if k in ("strides", "dilation_rate") and tuple(np.atleast_1d(v)) in ((1,), (1, 1)):
                continue
            if k == "axis" and cls not in ("Concatenate",):
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
    elif cls == "QScaleShift":
        if layer.activation is not None:
            parts.append(f"act={fmt_q(layer.activation)}")
    elif "activation" in cfg and cfg["activation"] not in (None, "linear"):
        a = cfg["activation"]
        if not isinstance(a, str):
            a = fmt_q(getattr(layer, "activation", None)) or str(a)
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
    run_batch(OUT, set(sys.argv[2:]), MODELS, 2000, LEGACY_H5, describe_layer, README_HEAD, NOTES, STATIC_DROPS)


STATIC_DROPS = []

README_HEAD = (
    "Cross-check models, batch 2 (x01..x15), qkeras-v3 1.2.1, Keras 3, TF backend.\n"
    "Generated by scripts/crosscheck/make_models2.py (deterministic, seed 2000+index, clear_session per model).\n"
    "Each NAME has NAME.keras, NAME.x.npy (float32, (200,*input_shape), same distribution as\n"
    "batch 1: N(0,1.5), ~5% of entries x4; image/sequence inputs get a per-sample per-channel\n"
    "common component), NAME.y.npy (float32 model.predict(x, batch_size=32) of the in-memory\n"
    "model after saving), NAME.logits.npy for models ending in Activation('softmax')\n"
    "(output of the layer before it). Two-output model x14: second output in NAME.y.1.npy\n"
    "(the name `qkhw predict --output NAME.y.npy` would give it). Trained 2 epochs on 300\n"
    "samples, targets a random linear teacher (argmax one-hot for softmax), batch 32, Adam(3e-3).\n"
    "predict() was run twice and checked bit-identical and finite.\n\n"
)

NOTES = """Notes
  * Everything requested was accepted by QKeras 1.2.1 except quantized_linear as an
    ACTIVATION (x04, see 'dropped'): quantized_linear.__call__ ends with
    Kops.reshape(res, x.shape), which fails whenever the batch dimension is None, i.e.
    in fit() and in keras.models.load_model of any model containing it. (predict() of an
    in-memory model works, because Keras traces predict with concrete batch shapes.)
    quantized_linear as a KERNEL quantizer works (x04 out_qlin, x15 q_conv2d_2).
    Accepted and kept: quantized_relu(6,2,use_sigmoid=1), negative_slope leaky relus,
    quantized_tanh(5,symmetric=True), quantized_sigmoid(6,use_real_sigmoid=True),
    QScaleShift, QSeparableConv1D, QBatchNormalization(scale=False)/(center=False),
    hard_tanh / binary_tanh / smooth_sigmoid as activations.
  * quantized_bits positional arguments are (bits, integer, symmetric, keep_negative, alpha):
    "quantized_bits(4,0,1)" means symmetric=1; quantized_bits(10,4,0) / (8,2,0) /
    (5,0,symmetric=0) are the asymmetric ones (x02, x15). The layer listings print every
    non-default argument, so symmetric=1 shows up explicitly.
  * alpha=None on a weight quantizer is turned into alpha='auto_po2' by the QKeras layer
    (_set_trainable_parameter): x01's string kernel "quantized_bits(4,0,1)" and x04's
    stochastic_binary() are auto_po2 in the saved config. QScaleShift does this for BOTH its
    weight and its bias quantizer (x13: bias quantizers are auto_po2 too). The listings above
    show these effective settings (as saved in config.json).
  * stochastic_binary / stochastic_ternary: QDense calls the kernel quantizer without
    training=True, so training and inference both use the deterministic binary / ternary
    path (predict checked bit-identical on two runs).
  * hard_tanh / binary_tanh / smooth_sigmoid are plain QKeras functions. config.json stores
    QDense(activation='hard_tanh') as the string "hard_tanh" and the QActivation ones as
    {"module": "builtins", "class_name": "function", "config": "binary_tanh"} (likewise
    "smooth_sigmoid"); keras.models.load_model restores them.
  * QBatchNormalization (x07, x08, x13): the trained moving_mean and moving_variance are the
    SAME value for every channel (QKeras 1.2.1 behaviour; gamma/beta vary per channel).
    Plain keras BatchNormalization (x06) has per-channel statistics as usual.
  * QScaleShift weight and bias are single (1,1) scalars shared by the whole tensor.
  * Dropout layers (x02, x10) are identities at inference.
  * Legacy HDF5: Keras 3 did NOT refuse model.save('NAME_legacy.h5') (only a 'legacy format'
    warning); all three .h5 copies reload with identical predictions.
  * x14 has two outputs, [out_a (2,), out_b (3,)]: NAME.y.npy is out_a, NAME.y.1.npy is out_b.
  * Softmax models (x01, x06, x15; all Sequential): NAME.logits.npy is the QDense before the
    softmax; softmax(logits) matches y.npy to < 2e-7.
  * .keras files include the (Adam) optimizer state because the models were compiled.

"""

if __name__ == "__main__":
    main()
