"""Cross-check batch 8 (written independently of qkhw's source and earlier batches; `--io stream`
for recurrent layers, whose sequence is gathered into a per-sample tail, and for a Concatenate
along a position axis: rows, columns, time steps).

n01 QConv1D 'same' + quantized_relu -> QLSTM (last step) -> QDense
n02 QGRU(reset_after=True) sequence -> QDense per time step -> quantized_relu -> Flatten -> QDense
n03 QGRU(reset_after=False, go_backwards=True) last step -> QDense
n04 QBidirectional(QSimpleRNN, concat, sequences) -> QBidirectional(QLSTM, sum) -> QDense softmax
n05 two stacked QLSTM (the first returns its sequence) -> QDense
n06 QConv1D stride 2 'same' -> MaxPooling1D -> QBidirectional(QGRU, ave) -> QDense
n07 CNN 2D: two conv branches (3x3 valid, 1x3 valid) of one stream, Concatenate(axis=1) (rows,
    6 + 8 of them) -> strided conv -> Flatten -> QDense
n08 CNN 2D: Concatenate(axis=2) (columns) of a 'same' conv's quantized_relu with the input
    quantizer's output -> conv -> GlobalAveragePooling2D -> QActivation -> QDense
n09 two QConv1D branches (k3 valid, k5 stride 2) Concatenate(axis=1) (time: 8 + 3 steps)
    -> QSimpleRNN -> QDense
n10 QBidirectional(QLSTM, mul, last step) -> QActivation -> QDense

Usage: python make_models8.py OUT [NAME ...]
Per model: NAME.keras, NAME.x.npy, NAME.y.npy, NAME.logits.npy (softmax models: outputs of
the layer before the softmax). No training: random (scaled) weights, fixed seeds.
"""
import _tf_env  # noqa: F401  (first: TensorFlow's environment)
from _untrained import generate, qb, relu  # noqa: E402

import keras
from keras import layers as L
from qkeras import (QActivation, QBidirectional, QConv1D, QConv2D, QDense, QGRU, QLSTM,
                    QSimpleRNN)
from qkeras.quantizers import quantized_tanh


def rnn_q(kb=6, ki=0, rb=6, ri=0, bb=8, bi=2, sb=8, si=2):
    """kernel, recurrent, bias and state quantizers of a recurrent layer"""
    return dict(kernel_quantizer=qb(kb, ki), recurrent_quantizer=qb(rb, ri),
                bias_quantizer=qb(bb, bi), state_quantizer=qb(sb, si))


def dense(n, name, kb=8, ki=0):
    return QDense(n, kernel_quantizer=qb(kb, ki), bias_quantizer=qb(8, 3), name=name)


# ---------------------------------------------------------------- models
def n01():
    """QConv1D same + relu -> QLSTM last step -> QDense"""
    i = keras.Input((10, 3), name="seq")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QConv1D(6, 3, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c1")(x)
    x = relu(6, 2, "r1")(x)                                                  # 10x6
    x = QLSTM(5, activation=quantized_tanh(6), **rnn_q(), name="lstm")(x)   # 5
    o = dense(3, "fc")(x)
    return keras.Model(i, o, name="n01")


def n02():
    """QGRU reset_after sequence -> per-step QDense -> relu -> Flatten -> QDense"""
    i = keras.Input((8, 4), name="seq")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QGRU(6, reset_after=True, return_sequences=True, activation=quantized_tanh(7),
             **rnn_q(6, 0, 6, 0, 8, 2, 6, 1), name="gru")(x)                # 8x6
    x = QDense(4, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="td")(x)  # 8x4
    x = relu(6, 2, "r_td")(x)
    x = L.Flatten(name="flat")(x)
    o = dense(3, "fc")(x)
    return keras.Model(i, o, name="n02")


def n03():
    """QGRU reset_after=False go_backwards last step -> QDense"""
    i = keras.Input((7, 3), name="seq")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QGRU(5, reset_after=False, go_backwards=True, activation=quantized_tanh(6),
             **rnn_q(6, 0, 6, 0, 8, 2, 6, 1), name="gru_b")(x)              # 5
    o = dense(3, "fc")(x)
    return keras.Model(i, o, name="n03")


def n04():
    """QBidirectional(QSimpleRNN concat seq) -> QBidirectional(QLSTM sum) -> QDense softmax"""
    i = keras.Input((6, 3), name="seq")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QBidirectional(QSimpleRNN(4, return_sequences=True, activation=quantized_tanh(6),
                                  **rnn_q(6, 0, 6, 0, 8, 2, 8, 1)),
                       merge_mode="concat", name="bi_rnn")(x)               # 6x8
    x = QBidirectional(QLSTM(4, activation=quantized_tanh(6), **rnn_q(6, 0, 6, 0, 7, 2, 8, 2)),
                       merge_mode="sum", name="bi_lstm")(x)                 # 4
    x = dense(3, "fc")(x)
    o = L.Activation("softmax", name="sm")(x)
    return keras.Model(i, o, name="n04")


def n05():
    """two stacked QLSTM -> QDense"""
    i = keras.Input((9, 4), name="seq")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QLSTM(6, return_sequences=True, activation=quantized_tanh(6), **rnn_q(), name="lstm1")(x)  # 9x6
    x = QActivation(qb(8, 1), name="q_mid")(x)
    x = QLSTM(4, activation=quantized_tanh(7), **rnn_q(7, 0, 6, 0, 8, 2, 8, 1), name="lstm2")(x)  # 4
    o = dense(2, "fc")(x)
    return keras.Model(i, o, name="n05")


def n06():
    """QConv1D stride 2 same -> MaxPooling1D -> QBidirectional(QGRU ave) -> QDense"""
    i = keras.Input((16, 3), name="seq")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QConv1D(5, 3, strides=2, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
                name="c1")(x)                                                # 8x5
    x = relu(6, 2, "r1")(x)
    x = L.MaxPooling1D(2, name="mp")(x)                                      # 4x5
    x = QBidirectional(QGRU(4, reset_after=True, activation=quantized_tanh(6), **rnn_q(6, 0, 6, 0, 8, 2, 6, 1)),
                       merge_mode="ave", name="bi_gru")(x)                  # 4
    o = dense(3, "fc")(x)
    return keras.Model(i, o, name="n06")


def n07():
    """two conv branches of one stream, Concatenate(axis=1) rows, conv, Flatten, QDense"""
    i = keras.Input((8, 8, 2), name="img")
    x = QActivation(qb(8, 2), name="in_q")(i)
    a = QConv2D(4, 3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="ca")(x)       # 6x6x4
    a = relu(6, 2, "ra")(a)
    b = QConv2D(4, (1, 3), kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="cb")(x)  # 8x6x4
    b = relu(5, 1, "rb")(b)
    x = L.Concatenate(axis=1, name="cat_rows")([a, b])                       # 14x6x4
    x = QConv2D(4, 3, strides=2, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c2")(x)  # 6x2x4
    x = relu(6, 2, "r2")(x)
    x = L.Flatten(name="flat")(x)
    o = dense(3, "fc")(x)
    return keras.Model(i, o, name="n07")


def n08():
    """Concatenate(axis=2) columns of a conv output with the input quantizer's output"""
    i = keras.Input((6, 6, 2), name="img")
    q = QActivation(qb(8, 2), name="in_q")(i)
    a = QConv2D(2, 3, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="ca")(q)
    a = relu(6, 2, "ra")(a)                                                  # 6x6x2
    x = L.Concatenate(axis=2, name="cat_cols")([a, q])                       # 6x12x2
    x = QConv2D(4, 3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c2")(x)  # 4x10x4
    x = relu(6, 2, "r2")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = QActivation(qb(8, 2), name="gap_q")(x)
    o = dense(3, "fc")(x)
    return keras.Model(i, o, name="n08")


def n09():
    """Conv1D branches Concatenate(axis=1) time -> QSimpleRNN -> QDense"""
    i = keras.Input((10, 3), name="seq")
    x = QActivation(qb(8, 2), name="in_q")(i)
    a = QConv1D(4, 3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="ca")(x)       # 8x4
    a = relu(6, 2, "ra")(a)
    b = QConv1D(4, 5, strides=2, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="cb")(x)  # 3x4
    b = relu(6, 2, "rb")(b)
    x = L.Concatenate(axis=1, name="cat_time")([a, b])                       # 11x4
    x = QSimpleRNN(6, activation=quantized_tanh(6), **rnn_q(6, 0, 6, 0, 8, 2, 8, 1), name="srnn")(x)
    o = dense(3, "fc")(x)
    return keras.Model(i, o, name="n09")


def n10():
    """QBidirectional(QLSTM, mul, last step) -> QActivation -> QDense"""
    i = keras.Input((8, 3), name="seq")
    x = QActivation(qb(8, 2), name="in_q")(i)
    x = QBidirectional(QLSTM(4, activation=quantized_tanh(6), **rnn_q(6, 0, 6, 0, 8, 2, 8, 2)),
                       merge_mode="mul", name="bi_lstm")(x)                 # 4
    x = QActivation(qb(8, 1), name="mul_q")(x)
    o = dense(3, "fc")(x)
    return keras.Model(i, o, name="n10")


MODELS = [("n01", n01), ("n02", n02), ("n03", n03), ("n04", n04), ("n05", n05), ("n06", n06),
          ("n07", n07), ("n08", n08), ("n09", n09), ("n10", n10)]


# ---------------------------------------------------------------- weights and data
def main():
    generate(MODELS, "make_models8.py", 800)


if __name__ == "__main__":
    main()
