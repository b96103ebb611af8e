"""Cross-check models, batch 4 (z01..z15): recurrent layers and what sits around
them (Conv1D front ends, several inputs, TimeDistributed, Bidirectional),
auto_po2 kernels to freeze, and a float model for quantize-model.  Written apart
from examples/models/ and from the earlier batches (make_models.py,
make_models2.py, make_models3.py).

Run with qkeras-v3 1.2.1 / Keras 3 / TF:
    python scripts/crosscheck/make_models4.py OUT_DIR [NAME ...]
For each model NAME writes into OUT_DIR:
  NAME.keras        model.save
  NAME.x.npy        float32 inputs (200, *input_shape) (same distribution as batches 1-3);
                    a model with several inputs: NAME.x.npy for input 0, NAME.x.K.npy for input K
  NAME.y.npy        float32 model.predict(x, batch_size=32) (NAME.y.K.npy for output K)
  NAME.logits.npy   for models ending in Activation('softmax'): output of layers[-2]
  NAME_legacy.h5    for the LEGACY_H5 models: model.save('...h5') (legacy HDF5)
  NAME.qconfig.json for the float model (z15): the quantizer_config used with
                    qkeras.utils.model_quantize / qkhw quantize-model
and README.txt.  Deterministic: seed 4000+index, single-threaded TF, op determinism,
keras.backend.clear_session() before each model so auto layer names are stable.

Also writes OUT_DIR/errors/ with small models qkhw is expected to REFUSE (or handle):
e01..e10 (see ERROR_MODELS), same file conventions, no README entry per model.

The shared parts (training settings, inputs, targets, drop records) come from
_common.py; the training loop is written here because _common.run_batch takes
one input only.
"""
import os

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
os.environ["TF_NUM_INTEROP_THREADS"] = "1"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json
import sys
import traceback
import warnings

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
    QBidirectional,
    QConv1D,
    QConv2D,
    QDense,
    QDepthwiseConv2D,
    QGRU,
    QLSTM,
    QSimpleRNN,
)
from qkeras.quantizers import (
    binary,
    quantized_bits,
    quantized_po2,
    quantized_relu,
    quantized_sigmoid,
    quantized_tanh,
    ternary,
)
from qkeras.utils import _add_supported_quantized_objects

import _common as C  # noqa: E402
from _common import _q, fmt_q, note_drop, qb, qr, short_err, write_readme  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else "crosscheck4-out"
LEGACY_H5 = {"z04_stack3_mixed_q", "z09_two_inputs_seq_vec"}


def K(bits=5, integer=0, alpha=1, **kw):
    """Usual kernel quantizer: quantized_bits(bits, integer, symmetric=1, alpha=1)."""
    return qb(bits, integer, 1, alpha=alpha, **kw)


def B(bits=6, integer=2):
    return qb(bits, integer, 1)


def S(bits=8, integer=2):
    """State quantizer (h(t-1) and c(t-1)); keeps QKeras's float32 cell exact."""
    return qb(bits, integer, 1)


def inq(name="in_q", bits=8, integer=3):
    return QActivation(qb(bits, integer, 1), name=name)


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------
def z01_srnn_autopo2(name):
    """QSimpleRNN whose kernel and recurrent quantizers are quantized_bits WITHOUT alpha (QKeras turns both into auto_po2), plain bias quantizer, quantized_relu activation, last step -> QDense."""
    i = keras.Input((8, 3))
    x = inq()(i)
    x = QSimpleRNN(6, activation=quantized_relu(6, 2), kernel_quantizer=qb(4, 0, 1),
                   recurrent_quantizer=qb(5, 0, 1), bias_quantizer=B(), name="srnn_auto")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def z02_lstm_impl2_timedist(name):
    """QLSTM implementation=2 (fused gates) returning the sequence, a kernel-1 QConv1D (a TimeDistributed Dense; keras TimeDistributed itself is errors/e09), a QDense over (T, C), Flatten -> QDense."""
    i = keras.Input((6, 4))
    x = inq()(i)
    x = QLSTM(5, implementation=2, return_sequences=True, kernel_quantizer=K(5, 0),
              recurrent_quantizer=K(5, 0), bias_quantizer=B(), state_quantizer=S(),
              activation=quantized_tanh(6), name="lstm_i2")(x)                    # 6x5
    x = QConv1D(4, 1, kernel_quantizer=K(6, 0), bias_quantizer=B(), name="td_conv1")(x)             # 6x4
    x = qr(6, 2, name="relu_td")(x)
    x = QDense(3, kernel_quantizer=K(6, 0), bias_quantizer=B(), name="dense_tc")(x)   # 6x3
    x = QActivation(qb(8, 2, 1), name="q_tc")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def z03_gru_ra_back_seq(name):
    """QGRU reset_after=True implementation=2, go_backwards=True with return_sequences=True (returned order matters: Flatten, not pooling), recurrent_activation 'quantized_sigmoid(6)'."""
    i = keras.Input((8, 3))
    x = inq()(i)
    x = QGRU(6, reset_after=True, implementation=2, go_backwards=True, return_sequences=True,
             kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0), bias_quantizer=B(),
             state_quantizer=S(8, 1), activation=quantized_tanh(6),
             recurrent_activation="quantized_sigmoid(6)", name="gru_back")(x)      # 8x6
    x = QActivation(qb(8, 1, 1), name="q_seq")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def z04_stack3_mixed_q(name):
    """Three stacked recurrent layers: QSimpleRNN (po2 kernel, ternary recurrent) -> QLSTM go_backwards (binary kernel, no bias) -> QGRU reset_after=False (po2 recurrent) last step."""
    i = keras.Input((7, 4))
    x = inq()(i)
    x = QSimpleRNN(6, return_sequences=True, kernel_quantizer=quantized_po2(4, 1),
                   recurrent_quantizer=ternary(alpha=1), bias_quantizer=B(),
                   activation="quantized_tanh(5)", name="srnn_po2")(x)                 # 7x6
    x = QLSTM(5, return_sequences=True, go_backwards=True, use_bias=False,
              kernel_quantizer=binary(alpha=1), recurrent_quantizer=K(4, 0),
              state_quantizer=S(6, 1), activation="quantized_tanh(5)",
              name="lstm_back_bin")(x)                                                # 7x5
    x = QActivation(qb(8, 1, 1), name="q_mid")(x)
    # quantized_po2(4, 1) as the recurrent quantizer makes qkhw refuse the layer (the cell needs 26
    # significant bits, more than QKeras's float32 holds); 3 bits (exponents 0..-3) keep it exact.
    x = QGRU(4, reset_after=False, kernel_quantizer=K(4, 0), recurrent_quantizer=quantized_po2(3, 1),
             bias_quantizer=B(), state_quantizer=S(6, 1), activation="quantized_tanh(5)",
             name="gru_po2")(x)                                                       # 4
    x = QActivation(qb(8, 1, 1), name="q_last")(x)
    o = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def z05_bidir_lstm_gru(name):
    """QBidirectional with a DIFFERENT backward layer: forward QLSTM, backward QGRU(go_backwards=True) with other quantizers, merge concat, sequences -> QDense over (T, C) -> Flatten."""
    i = keras.Input((6, 3))
    x = inq()(i)
    fwd = QLSTM(4, return_sequences=True, kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0),
                bias_quantizer=B(), state_quantizer=S(), activation=quantized_tanh(6), name="fwd_lstm")
    # Keras's Bidirectional takes the merged width from the forward layer alone (2 x its units),
    # so the backward layer must have the same number of units (see STATIC_DROPS).
    bwd = QGRU(4, return_sequences=True, go_backwards=True, reset_after=True,
               kernel_quantizer=K(4, 0), recurrent_quantizer=K(4, 0), bias_quantizer=B(6, 1),
               state_quantizer=S(7, 1), activation=quantized_tanh(5), name="bwd_gru")
    try:
        x = QBidirectional(fwd, backward_layer=bwd, merge_mode="concat", name="bi_mixed")(x)   # 6x8
    except Exception as e:  # noqa: BLE001
        note_drop(name, "QBidirectional(QLSTM, backward_layer=QGRU)", short_err(e))
        bwd = QLSTM(4, return_sequences=True, go_backwards=True, kernel_quantizer=K(4, 0),
                    recurrent_quantizer=K(4, 0), bias_quantizer=B(6, 1), state_quantizer=S(7, 1),
                    activation=quantized_tanh(5), name="bwd_lstm")
        x = QBidirectional(fwd, backward_layer=bwd, merge_mode="concat", name="bi_mixed")(x)
    x = QActivation(qb(8, 1, 1), name="q_bi")(x)
    x = QDense(3, kernel_quantizer=K(6, 0), bias_quantizer=B(), name="dense_tc")(x)   # 6x3
    x = qr(6, 2, name="relu_tc")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def z06_bidir_merge_none(name):
    """QBidirectional around a QGRU with merge_mode=None (two outputs), combined as Subtract(bwd, fwd) and Concatenate([bwd, bwd - fwd, fwd]) (keras.layers.Bidirectional itself is errors/e10)."""
    i = keras.Input((5, 4))
    x = inq()(i)
    g = QGRU(4, reset_after=True, kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0),
             bias_quantizer=B(), state_quantizer=S(), activation=quantized_tanh(6), name="gru")
    fwd, bwd = QBidirectional(g, merge_mode=None, name="bi_none")(x)
    fwd = QActivation(qb(8, 1, 1), name="q_fwd")(fwd)
    bwd = QActivation(qb(8, 1, 1), name="q_bwd")(bwd)
    d = L.Subtract(name="sub")([bwd, fwd])
    c = L.Concatenate(name="cat")([bwd, d, fwd])
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(c)
    return keras.Model(i, o, name=name), "linear"


def z07_kws_conv1d_gru(name):
    """Keyword-spotting shape: (32, 10) features -> QConv1D stride 2 'same' -> keras BN -> relu -> ZeroPadding1D((4,0)) + dilated QConv1D (causal) -> MaxPooling1D -> QGRU -> QDense -> softmax."""
    i = keras.Input((32, 10))
    x = inq()(i)
    x = QConv1D(8, 5, strides=2, padding="same", kernel_quantizer=K(5, 0), bias_quantizer=B(), name="c1_s2")(x)   # 16x8
    x = L.BatchNormalization(momentum=0.9, name="bn1")(x)
    x = qr(6, 2, name="relu1")(x)
    # padding="causal" is refused by QConv1D.call (see STATIC_DROPS): the same thing written out
    x = L.ZeroPadding1D((4, 0), name="causal_pad")(x)                                                            # 20x8
    x = QConv1D(8, 3, dilation_rate=2, kernel_quantizer=K(5, 0), bias_quantizer=B(),
                name="c2_causal_d2")(x)                                                                           # 16x8
    x = qr(6, 2, name="relu2")(x)
    x = L.MaxPooling1D(2, name="pool")(x)                                                                         # 8x8
    x = QGRU(8, reset_after=True, kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0), bias_quantizer=B(),
             state_quantizer=S(), activation=quantized_tanh(6), name="gru")(x)                                   # 8
    x = QActivation(qb(8, 1, 1), name="q_gru")(x)
    x = QDense(4, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="logits")(x)
    o = L.Activation("softmax", name="softmax")(x)
    return keras.Model(i, o, name=name), "softmax"


def z08_crnn_reshape(name):
    """CRNN: (12, 8, 1) spectrogram -> QConv2D same -> MaxPooling2D((1, 2)) -> Reshape to (12, 16) -> QLSTM sequence -> GlobalMaxPooling1D -> QDense."""
    i = keras.Input((12, 8, 1))
    x = inq()(i)
    x = QConv2D(4, 3, padding="same", kernel_quantizer=K(5, 0), bias_quantizer=B(), name="conv")(x)   # 12x8x4
    x = qr(6, 2, name="relu")(x)
    x = L.MaxPooling2D((1, 2), name="pool")(x)                                                         # 12x4x4
    x = L.Reshape((12, 16), name="to_seq")(x)
    x = QLSTM(6, return_sequences=True, kernel_quantizer=K(4, 0), recurrent_quantizer=K(5, 0),
              bias_quantizer=B(), state_quantizer=S(), activation=quantized_tanh(6), name="lstm")(x)   # 12x6
    x = QActivation(qb(8, 1, 1), name="q_seq")(x)
    x = L.GlobalMaxPooling1D(name="gmax")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def z09_two_inputs_seq_vec(name):
    """Two inputs: a (10, 3) sequence through QSimpleRNN (with dropout/recurrent_dropout, identities at inference) and a (5,) vector through QDense; Concatenate -> QDense."""
    s = keras.Input((10, 3), name="seq")
    v = keras.Input((5,), name="vec")
    a = inq("seq_q")(s)
    a = QSimpleRNN(6, activation=quantized_tanh(6), kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0),
                   bias_quantizer=B(), dropout=0.2, recurrent_dropout=0.2, name="srnn")(a)
    b = QActivation(qb(6, 2, 1), name="vec_q")(v)
    b = QDense(6, kernel_quantizer=K(5, 0), bias_quantizer=B(), name="vec_fc")(b)
    b = qr(6, 2, name="vec_relu")(b)
    x = L.Concatenate(name="cat")([a, b])
    x = QDense(8, kernel_quantizer=K(6, 0), bias_quantizer=B(), name="fc")(x)
    x = qr(6, 2, name="relu")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model([s, v], o, name=name), "linear"


def z10_three_in_two_out(name):
    """Three inputs in the order (vector, seqA, seqB) and two outputs: per-time-step QDense over QGRU(seqA) sequence, and QDense(concat(QLSTM(seqB) last, vector))."""
    v = keras.Input((3,), name="v")
    sa = keras.Input((6, 2), name="sa")
    sb = keras.Input((4, 3), name="sb")
    vq = QActivation(qb(6, 2, 1), name="v_q")(v)
    a = inq("sa_q")(sa)
    a = QGRU(4, return_sequences=True, reset_after=False, kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0),
             bias_quantizer=B(), state_quantizer=S(), activation=quantized_tanh(6), name="gru_a")(a)   # 6x4
    a = QActivation(qb(8, 1, 1), name="q_a")(a)
    o1 = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out_seq")(a)              # 6x2
    b = inq("sb_q")(sb)
    b = QLSTM(5, kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0), bias_quantizer=B(),
              state_quantizer=S(), activation=quantized_tanh(6), name="lstm_b")(b)
    b = QActivation(qb(8, 1, 1), name="q_b")(b)
    c = L.Concatenate(name="cat")([vq, b])
    o2 = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out_vec")(c)
    return keras.Model([v, sa, sb], [o1, o2], name=name), "linear"


def z11_autopo2_cnn_chain(name):
    """auto_po2 kernels in a single-input chain QKeras's clone_model_and_freeze_auto_po2_scale can rebuild: QConv2D quantized_bits(4,0,1) without alpha, QDepthwiseConv2D alpha='auto_po2' integer=1, QDense alpha='auto_po2' integer=2, output QDense without alpha."""
    i = keras.Input((8, 8, 2))
    x = inq()(i)
    x = QConv2D(4, 3, kernel_quantizer=qb(4, 0, 1), bias_quantizer=B(), name="conv_auto")(x)            # 6x6x4
    x = qr(6, 2, name="relu1")(x)
    x = QDepthwiseConv2D(3, depthwise_quantizer=qb(5, 1, 1, alpha="auto_po2"), bias_quantizer=B(),
                         name="dw_auto_i1")(x)                                                            # 4x4x4
    x = qr(6, 2, name="relu2")(x)
    x = L.MaxPooling2D(2, name="pool")(x)                                                                 # 2x2x4
    x = L.Flatten(name="flat")(x)
    x = QDense(8, kernel_quantizer=qb(6, 2, 1, alpha="auto_po2"), bias_quantizer=B(), name="fc_auto_i2")(x)
    x = qr(6, 2, name="relu3")(x)
    o = QDense(3, kernel_quantizer=qb(8, 1, 1), bias_quantizer=B(8, 2), name="out_auto")(x)
    return keras.Model(i, o, name=name), "linear"


def z12_autopo2_conv1d_lstm(name):
    """auto_po2 where QKeras's freeze cannot go: QConv1D kernel without alpha, QLSTM kernel without alpha plus a 1-D auto_po2 BIAS (one scale per element), QDense with auto_po2 kernel AND bias."""
    i = keras.Input((12, 3))
    x = inq()(i)
    x = QConv1D(6, 3, kernel_quantizer=qb(4, 0, 1), bias_quantizer=B(), name="c1_auto")(x)                # 10x6
    x = qr(6, 2, name="relu1")(x)
    x = QLSTM(5, kernel_quantizer=qb(4, 0, 1), recurrent_quantizer=K(4, 0),
              bias_quantizer=qb(6, 2, 1, alpha="auto_po2"), state_quantizer=S(),
              activation=quantized_tanh(6), name="lstm_auto")(x)
    x = QActivation(qb(8, 1, 1), name="q_lstm")(x)
    o = QDense(3, kernel_quantizer=qb(6, 0, 1, alpha="auto_po2"), bias_quantizer=qb(6, 2, 1, alpha="auto_po2"),
               name="out_auto_kb")(x)
    return keras.Model(i, o, name=name), "linear"


def z13_edge_t1_units1(name):
    """Edge sizes: a T=1 sequence into QLSTM(unroll=True, return_sequences=True), then QSimpleRNN(units=1, use_bias=False, activation quantized_bits(8,3,1)), GlobalAveragePooling1D not needed (last step) -> QDense."""
    i = keras.Input((1, 5))
    x = inq()(i)
    x = QLSTM(4, unroll=True, return_sequences=True, kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0),
              bias_quantizer=B(), state_quantizer=S(), activation=quantized_tanh(6), name="lstm_t1")(x)   # 1x4
    x = QActivation(qb(8, 1, 1), name="q1")(x)
    x = QSimpleRNN(1, use_bias=False, activation=qb(8, 3, 1), kernel_quantizer=K(6, 1),
                   recurrent_quantizer=K(6, 1), name="srnn_u1")(x)                                      # 1
    o = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def z14_rnn_act_variety(name):
    """Cell activations: QSimpleRNN with quantized_bits(6,2,1) activation, QGRU reset_after=False impl 1 with quantized_relu(6,1) activation and explicit 'hard_sigmoid', QLSTM with quantized_tanh(6,symmetric=True) and quantized_sigmoid(5) recurrent activation; ternary kernel."""
    i = keras.Input((6, 4))
    x = inq()(i)
    x = QSimpleRNN(5, return_sequences=True, activation=qb(6, 2, 1), kernel_quantizer=K(5, 0),
                   recurrent_quantizer=K(4, 0), bias_quantizer=B(), name="srnn_qbits")(x)            # 6x5
    x = QGRU(5, return_sequences=True, reset_after=False, implementation=1, activation=quantized_relu(6, 1),
             recurrent_activation="hard_sigmoid", kernel_quantizer=ternary(alpha=1),
             recurrent_quantizer=K(5, 0), bias_quantizer=B(), state_quantizer=S(7, 1), name="gru_relu")(x)   # 6x5
    x = QActivation(qb(8, 1, 1), name="q_gru")(x)
    x = QLSTM(4, activation=quantized_tanh(6, symmetric=True), recurrent_activation=quantized_sigmoid(5),
              kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0), bias_quantizer=B(),
              state_quantizer=S(), name="lstm_qsig")(x)                                                 # 4
    x = QActivation(qb(8, 1, 1), name="q_lstm")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def z15_float_cnn(name):
    """PLAIN FLOAT Keras model (no QKeras layer) for quantize-model: Conv2D -> BatchNormalization -> ReLU -> Conv2D stride 2 -> BN -> Activation('relu') -> Flatten -> Dense(relu) -> Dense.  Inputs are on a 1/16 grid in [-8, 8) so a quantized model's float32 arithmetic is exact."""
    i = keras.Input((8, 8, 2))
    x = L.Conv2D(4, 3, name="conv1")(i)                                   # 6x6x4
    x = L.BatchNormalization(momentum=0.9, name="bn1")(x)
    x = L.ReLU(name="relu1")(x)
    x = L.Conv2D(6, 3, strides=2, name="conv2")(x)                        # 2x2x6
    x = L.BatchNormalization(momentum=0.9, name="bn2")(x)
    x = L.Activation("relu", name="act2")(x)
    x = L.Flatten(name="flat")(x)
    x = L.Dense(8, activation="relu", name="fc1")(x)
    o = L.Dense(3, name="out")(x)
    return keras.Model(i, o, name=name), "linear"


# quantizer_config for z15 (QKeras's model_quantize form); written as z15_float_cnn.qconfig.json
Z15_QCONFIG = {
    "QConv2D": {"kernel_quantizer": "quantized_bits(4,0,1,alpha=1)", "bias_quantizer": "quantized_bits(6,2,1)"},
    "fc1": {"kernel_quantizer": "quantized_bits(5,0,1,alpha=1)", "bias_quantizer": "quantized_bits(6,2,1)"},
    "QDense": {"kernel_quantizer": "quantized_bits(8,2,1,alpha=1)", "bias_quantizer": "quantized_bits(8,2,1)"},
    "QActivation": {"relu": "quantized_relu(6,2)"},
    "QBatchNormalization": {},
}
Z15_ACT_BITS = 6


MODELS = [
    ("z01_srnn_autopo2", z01_srnn_autopo2),
    ("z02_lstm_impl2_timedist", z02_lstm_impl2_timedist),
    ("z03_gru_ra_back_seq", z03_gru_ra_back_seq),
    ("z04_stack3_mixed_q", z04_stack3_mixed_q),
    ("z05_bidir_lstm_gru", z05_bidir_lstm_gru),
    ("z06_bidir_merge_none", z06_bidir_merge_none),
    ("z07_kws_conv1d_gru", z07_kws_conv1d_gru),
    ("z08_crnn_reshape", z08_crnn_reshape),
    ("z09_two_inputs_seq_vec", z09_two_inputs_seq_vec),
    ("z10_three_in_two_out", z10_three_in_two_out),
    ("z11_autopo2_cnn_chain", z11_autopo2_cnn_chain),
    ("z12_autopo2_conv1d_lstm", z12_autopo2_conv1d_lstm),
    ("z13_edge_t1_units1", z13_edge_t1_units1),
    ("z14_rnn_act_variety", z14_rnn_act_variety),
    ("z15_float_cnn", z15_float_cnn),
]


# --------------------------------------------------------------------------
# models qkhw should refuse with a clear error (or run correctly)
# --------------------------------------------------------------------------
def e01_initial_state(name):
    """QGRU whose initial_state comes from a second (vector) input."""
    s = keras.Input((5, 3), name="seq")
    v = keras.Input((4,), name="vec")
    a = inq("seq_q")(s)
    h0 = QActivation(qb(8, 1, 1), name="vec_q")(v)
    x = QGRU(4, reset_after=True, kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0), bias_quantizer=B(),
             state_quantizer=S(), activation=quantized_tanh(6), name="gru_init")(a, initial_state=h0)
    x = QActivation(qb(8, 1, 1), name="q")(x)
    o = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model([s, v], o, name=name), "linear"


def e02_return_state(name):
    """QLSTM return_state=True: h and c both used."""
    i = keras.Input((5, 3))
    x = inq()(i)
    h, h2, c = QLSTM(4, return_state=True, kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0),
                     bias_quantizer=B(), state_quantizer=S(), activation=quantized_tanh(6), name="lstm_rs")(x)
    x = L.Concatenate(name="cat")([QActivation(qb(8, 1, 1), name="qh")(h), QActivation(qb(8, 2, 1), name="qc")(c)])
    o = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def e03_float_tanh_rnn(name):
    """QSimpleRNN with the float activation 'tanh'."""
    i = keras.Input((5, 3))
    x = inq()(i)
    x = QSimpleRNN(4, activation="tanh", kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0),
                   bias_quantizer=B(), name="srnn_tanh")(x)
    x = QActivation(qb(8, 1, 1), name="q")(x)
    o = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def e04_sigmoid_recurrent(name):
    """QLSTM with recurrent_activation='sigmoid' (float)."""
    i = keras.Input((5, 3))
    x = inq()(i)
    x = QLSTM(4, recurrent_activation="sigmoid", kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0),
              bias_quantizer=B(), state_quantizer=S(), activation=quantized_tanh(6), name="lstm_sig")(x)
    x = QActivation(qb(8, 1, 1), name="q")(x)
    o = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def e05_lstm_no_state_q(name):
    """QLSTM without state_quantizer over 8 steps (the carry's bits grow every step)."""
    i = keras.Input((8, 3))
    x = inq()(i)
    x = QLSTM(4, kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0), bias_quantizer=B(),
              activation=quantized_tanh(6), name="lstm_nostate")(x)
    x = QActivation(qb(8, 1, 1), name="q")(x)
    o = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def e06_rnn_raw_input(name):
    """QSimpleRNN directly on the raw float input (no input quantizer)."""
    i = keras.Input((5, 3))
    x = QSimpleRNN(4, activation=quantized_tanh(6), kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0),
                   bias_quantizer=B(), name="srnn_raw")(i)
    o = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def e07_masking(name):
    """keras Masking(0.0) before a QLSTM."""
    i = keras.Input((5, 3))
    x = inq()(i)
    x = L.Masking(0.0, name="mask")(x)
    x = QLSTM(4, kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0), bias_quantizer=B(),
              state_quantizer=S(), activation=quantized_tanh(6), name="lstm_m")(x)
    x = QActivation(qb(8, 1, 1), name="q")(x)
    o = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def e08_gru_seq_unquantized(name):
    """QGRU sequence returned WITHOUT a quantizer after it, into a QDense over (T, C) (QKeras's float32 h feeds the matmul)."""
    i = keras.Input((6, 3))
    x = inq()(i)
    x = QGRU(4, return_sequences=True, kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0), bias_quantizer=B(),
             state_quantizer=S(), activation=quantized_tanh(6), name="gru")(x)
    x = QDense(3, kernel_quantizer=K(6, 0), bias_quantizer=B(), name="dense_tc")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def e09_timedistributed(name):
    """keras TimeDistributed(QDense) over a QLSTM sequence."""
    i = keras.Input((6, 4))
    x = inq()(i)
    x = QLSTM(5, return_sequences=True, kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0), bias_quantizer=B(),
              state_quantizer=S(), activation=quantized_tanh(6), name="lstm")(x)
    x = L.TimeDistributed(QDense(4, kernel_quantizer=K(6, 0), bias_quantizer=B()), name="td_dense")(x)
    x = QActivation(qb(8, 2, 1), name="q")(x)
    x = L.Flatten(name="flat")(x)
    o = QDense(2, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


def e10_keras_bidirectional(name):
    """keras.layers.Bidirectional (not QBidirectional) around a QGRU, merge_mode='concat'."""
    i = keras.Input((5, 4))
    x = inq()(i)
    g = QGRU(4, reset_after=True, kernel_quantizer=K(5, 0), recurrent_quantizer=K(5, 0),
             bias_quantizer=B(), state_quantizer=S(), activation=quantized_tanh(6), name="gru")
    x = L.Bidirectional(g, merge_mode="concat", name="bi_keras")(x)
    x = QActivation(qb(8, 1, 1), name="q")(x)
    o = QDense(3, kernel_quantizer=K(8, 2), bias_quantizer=B(8, 2), name="out")(x)
    return keras.Model(i, o, name=name), "linear"


ERROR_MODELS = [
    ("e01_initial_state", e01_initial_state),
    ("e02_return_state", e02_return_state),
    ("e03_float_tanh_rnn", e03_float_tanh_rnn),
    ("e04_sigmoid_recurrent", e04_sigmoid_recurrent),
    ("e05_lstm_no_state_q", e05_lstm_no_state_q),
    ("e06_rnn_raw_input", e06_rnn_raw_input),
    ("e07_masking", e07_masking),
    ("e08_gru_seq_unquantized", e08_gru_seq_unquantized),
    ("e09_timedistributed", e09_timedistributed),
    ("e10_keras_bidirectional", e10_keras_bidirectional),
]


# --------------------------------------------------------------------------
# description helpers
# --------------------------------------------------------------------------
def describe_layer(layer):
    cls = type(layer).__name__
    cfg = layer.get_config()
    parts = []
    for k in ("units", "filters", "kernel_size", "pool_size", "strides", "padding", "dilation_rate",
              "target_shape", "merge_mode"):
        if k in cfg and cfg[k] is not None:
            v = cfg[k]
            if isinstance(v, list):
                v = tuple(v)
            if k in ("strides", "dilation_rate") and tuple(np.atleast_1d(v)) in ((1,), (1, 1)):
                continue
            if k == "padding" and cls.startswith("Global"):
                continue
            parts.append(f"{k}={v}")
    for k in ("return_sequences", "go_backwards", "unroll", "reset_after"):
        if cfg.get(k):
            parts.append(k)
    if cfg.get("implementation") not in (None, 1):
        parts.append(f"implementation={cfg['implementation']}")
    if cfg.get("use_bias") is False:
        parts.append("use_bias=False")
    target = getattr(layer, "cell", layer)
    for attr, tag in (("kernel_quantizer", "k"), ("depthwise_quantizer", "dw"), ("recurrent_quantizer", "r"),
                      ("bias_quantizer", "b"), ("state_quantizer", "state")):
        s = _q(target, attr)
        if s:
            parts.append(f"{tag}={s}")
    if cls == "QActivation":
        parts.append(fmt_q(layer.activation))
    elif cls == "Activation":
        parts.append(str(cfg.get("activation")))
    elif cls in ("QSimpleRNN", "QLSTM", "QGRU"):
        parts.append(f"act={fmt_q(layer.cell.activation)}")
        if hasattr(layer.cell, "recurrent_activation"):
            parts.append(f"rec_act={fmt_q(layer.cell.recurrent_activation)}")
    elif "activation" in cfg and cfg["activation"] not in (None, "linear"):
        parts.append(f"act={cfg['activation']}")
    inner = ""
    if cls in ("QBidirectional", "Bidirectional", "TimeDistributed"):
        subs = [layer.forward_layer, layer.backward_layer] if "Bidirectional" in cls else [layer.layer]
        inner = "{" + " | ".join(describe_layer(s) for s in subs) + "}"
    return f"{cls}[{layer.name}](" + ", ".join(parts) + ")" + inner


# --------------------------------------------------------------------------
# training / saving (as _common.run_batch, with several inputs)
# --------------------------------------------------------------------------
def input_shapes(model):
    s = model.input_shape
    return [tuple(t[1:]) for t in (s if isinstance(s, list) else [s])]


def output_shapes(model):
    s = model.output_shape
    return [tuple(t[1:]) for t in (s if isinstance(s, list) else [s])]


def grid(x, step=1.0 / 16, lo=-8.0, hi=8.0 - 1.0 / 16):
    return np.clip(np.round(x / step) * step, lo, hi).astype(np.float32)


def build_one(out, name, builder, seed, legacy_h5, custom):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model, kind = builder(name)
    ins, outs = input_shapes(model), output_shapes(model)
    on_grid = name.startswith("z15")
    mk = (lambda n, s: grid(C.make_inputs(rng, n, s))) if on_grid else (lambda n, s: C.make_inputs(rng, n, s))
    xtr = [mk(C.N_TRAIN, s) for s in ins]
    flat = np.concatenate([a.reshape(C.N_TRAIN, -1) for a in xtr], axis=1)
    ytr = [C.make_targets(rng, flat, s, kind) for s in outs]
    loss = "categorical_crossentropy" if kind == "softmax" else "mse"
    model.compile(optimizer=keras.optimizers.Adam(C.LR), loss=[loss] * len(ytr) if len(ytr) > 1 else loss)
    model.fit(xtr if len(xtr) > 1 else xtr[0], ytr if len(ytr) > 1 else ytr[0], epochs=C.EPOCHS,
              batch_size=C.BATCH, verbose=0, shuffle=True)
    path = os.path.join(out, name + ".keras")
    model.save(path)
    x = [mk(C.N_TEST, s) for s in ins]
    xin = x if len(x) > 1 else x[0]
    ys = C.predict_checked(model, xin)
    for k, a in enumerate(x):
        np.save(os.path.join(out, name + (".x.npy" if k == 0 else f".x.{k}.npy")), a)
    for k, y in enumerate(ys):
        np.save(os.path.join(out, name + (".y.npy" if k == 0 else f".y.{k}.npy")), y)
    has_logits, logit_note = C.save_logits(model, model.inputs, xin, ys, out, name)
    reload_diff = C.reload_check(path, custom, xin, ys)
    h5_note = C.save_legacy_h5(model, xin, ys, out, name, custom) if name in legacy_h5 else None
    if name.startswith("z15"):
        with open(os.path.join(out, name + ".qconfig.json"), "w") as f:
            json.dump(Z15_QCONFIG, f, indent=1)
    layers_desc = " > ".join(describe_layer(l) for l in model.layers if type(l).__name__ != "InputLayer")
    stats = "; ".join(f"out{k}: y[min,max]=[{y.min():.4g},{y.max():.4g}] unique={len(np.unique(np.round(y, 6)))} "
                      f"std={float(y.std(0).mean()):.3g}" for k, y in enumerate(ys))
    print(f"{name}: in={ins} out={outs} kind={kind} {stats} reload_maxdiff={reload_diff}" + logit_note
          + (f" | {h5_note}" if h5_note else ""), flush=True)
    drops = C.DROPPED.get(name, [])
    files = [f"{name}.keras", f"{name}.x.npy"] + [f"{name}.x.{k}.npy" for k in range(1, len(x))] + \
        [f"{name}.y.npy"] + [f"{name}.y.{k}.npy" for k in range(1, len(ys))] + \
        ([f"{name}.logits.npy"] if has_logits else []) + \
        ([f"{name}_legacy.h5"] if h5_note and "written" in h5_note else []) + \
        ([f"{name}.qconfig.json"] if name.startswith("z15") else [])
    names_in = ", ".join(("" if t.name.startswith("keras_tensor") else t.name) + str(s)
                         for t, s in zip(model.inputs, ins))
    return (f"{name}  ({'Sequential' if isinstance(model, keras.Sequential) else 'functional'})\n"
            f"  inputs (model order): {names_in}   output shape(s): {', '.join(map(str, outs))}   output: {kind}\n"
            f"  purpose: {builder.__doc__.strip().splitlines()[0]}\n"
            f"  layers: {layers_desc}\n"
            f"  files: {' '.join(files)}\n"
            f"  dropped: " + ("; ".join(f"{w} -> {e}" for w, e in drops) if drops else "none")
            + f"\n  reload check max|diff| (.keras): {reload_diff}\n"
            + (f"  legacy h5: {h5_note}\n" if h5_note else ""))


def run(out, only, models, seed_base, legacy_h5, readme_head, notes, static_drops=()):
    os.makedirs(out, exist_ok=True)
    custom = {}
    _add_supported_quantized_objects(custom)
    readme, failures = [], []
    for idx, (name, builder) in enumerate(models):
        if only and name not in only:
            continue
        try:
            readme.append(build_one(out, name, builder, seed_base + idx, legacy_h5, custom))
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            failures.append((name, short_err(e)))
            print(f"{name}: FAILED {short_err(e)}", flush=True)
    write_readme(out, readme_head, readme, notes, static_drops, failures)


# Combinations removed from the builders above because QKeras or Keras refused them (what, error).
STATIC_DROPS = [
    ("z05 QBidirectional(QLSTM(4), backward_layer=QGRU(3)) (backward layer narrower than the forward one)",
     "ValueError: Input 0 of layer 'dense_tc' is incompatible with the layer: expected axis -1 of input shape "
     "to have value 8, but received input with shape (None, 6, 7) (Keras sizes the merge from the forward "
     "layer); the backward QGRU has 4 units"),
    ("z07 QConv1D(8, 3, padding='causal', dilation_rate=2)",
     "ValueError: Exception encountered when calling QConv1D.call(). `padding` must be one of 'SAME' or "
     "'VALID'. Received: padding=CAUSAL (QKeras passes it to keras.ops.conv); written as "
     "ZeroPadding1D((4, 0)) + a valid QConv1D"),
]

README_HEAD = (
    "Cross-check models, batch 4 (z01..z15), qkeras-v3 1.2.1, Keras 3, TF backend.\n"
    "Generated by scripts/crosscheck/make_models4.py (deterministic, seed 4000+index, clear_session per model).\n"
    "Inputs: same distribution as batches 1-3 (_common.make_inputs); a model with several inputs has\n"
    "NAME.x.npy for its first input (model order) and NAME.x.K.npy for input K; z15's inputs are\n"
    "rounded to a 1/16 grid in [-8, 8). NAME.y.npy (NAME.y.K.npy) is model.predict(x, batch_size=32)\n"
    "of the in-memory model after saving; NAME.logits.npy for a model ending in Activation('softmax').\n"
    "Trained 2 epochs on 300 samples, random linear teacher targets, batch 32, Adam(3e-3).\n\n"
)

NOTES = """Notes
  * State quantizers are set on every QLSTM / QGRU of z01..z15 so that QKeras's float32 cell
    is exact (the carry otherwise gains bits every step); errors/e05 leaves it out on purpose.
  * quantized_bits kernels given without alpha (z01, z11 conv_auto / out_auto, z12) become
    alpha='auto_po2' inside the layer (_set_trainable_parameter); bias quantizers are NOT
    rewritten, so z12's auto_po2 biases are explicit.
  * QKeras's clone_model_and_freeze_auto_po2_scale can only rebuild z11 (a chain of QConv2D,
    QDepthwiseConv2D, QDense with at most one auto_po2 quantizer per layer); for z01 and z12
    only qkhw freeze applies (the frozen model is compared with the original's predictions).
  * errors/e10 uses keras.layers.Bidirectional, not QBidirectional: model_save_quantized_weights
    skips it (no get_quantizers); errors/e09's TimeDistributed(QDense) is skipped the same way.
  * QSimpleRNN / QLSTM / QGRU hand their name= to the cell: the layer itself gets an automatic
    name (q_simple_rnn, qlstm, qgru, qgru_1, ...), which is what every tool sees.
  * z15 is float; z15_float_cnn.qconfig.json is the quantizer_config for model_quantize
    (activation_bits 6).
  * errors/ holds e01..e10, models qkhw should refuse with an error naming the layer (or run
    exactly): initial_state from an input, return_state, float tanh / sigmoid in a cell, a QLSTM
    without state_quantizer, a recurrent layer on the raw input, Masking, a GRU sequence going
    unquantized into a QDense, keras TimeDistributed, keras Bidirectional.

"""


def main():
    only = set(sys.argv[2:])
    if not only or only & {n for n, _ in MODELS}:
        run(OUT, only, MODELS, 4000, LEGACY_H5, README_HEAD, NOTES, STATIC_DROPS)
    if not only or only & {n for n, _ in ERROR_MODELS}:
        run(os.path.join(OUT, "errors"), only, ERROR_MODELS, 4100, set(),
            "Batch 4 error cases (e01..e10): models qkhw should refuse cleanly or run exactly.\n\n", "")


if __name__ == "__main__":
    main()
