#!/usr/bin/env python3
"""Streamed models whose joins stress the FIFO sizes and the timing model
(tests/stream.rs).

Run (pinned versions in requirements.txt):
    python tests/golden/gen_stream_nested.py
Writes tests/golden/stream_nested/long_skip.keras: r0 forks three ways, to
a residual block (two 3x3 convolutions, Add with r0), to a 1x1 convolution,
and the two are concatenated, then max pooling, a convolution and a QDense
head. Both inputs of the Concatenate fork from r0, one of them through the
Add. And mul_join.keras (a cross-check's model): asymmetric ZeroPadding,
a convolution, then a convolution and a depthwise convolution joined by
Multiply, a three-way Average and a channel Concatenate with the skip,
max pooling, QKeras global average pooling and a QDense; folded at R = 5
its stages' phase counters drift against each other. And crop.keras:
a 2-D model whose residual Add joins a valid convolution with a
Cropping2D of its input, then an asymmetric Cropping2D (rows after, columns
before), max pooling, a convolution cropped on the left only, global
average pooling and a QDense; crop1d.keras: a Conv1D, a Cropping1D of two
steps before and one after, a Conv1D, Flatten and a QDense. And
nested_res.keras (cross-check batch 13): r0 forks to a branch that holds
a residual block of its own (3x3 convolution, fork ra, 3x3 convolution,
Add with ra, 1x1 convolution) and to the skip, joined by an outer Add;
Flatten and a QDense. And upsample.keras: UpSampling2D by (2, 3) whose
output forks to a 3x3 convolution and the skip of a residual Add, then
UpSampling2D by (1, 2), a strided convolution, global max pooling and a
QDense; upsample1d.keras: UpSampling1D of the input by 3, a strided
Conv1D, UpSampling1D by 2, a Conv1D, Flatten and a QDense. And
two_reductions.keras (once in stream_refusals): one stream read by three
global poolings (average, max, QKeras average) joined by a Concatenate;
reductions.keras (a cross-check's shape): one stream read by a Flatten, a
global average pooling and a 1x1 convolution whose output is max-pooled,
all concatenated into a QDense head. And avg_same.keras: `same`-padded
average pooling (3x3 at stride 2 on a 7x9 map; a QAveragePooling2D 2x2 at
stride 1 with an average quantizer), whose count varies at the border;
avg_same1d.keras: AveragePooling1D of 4 at stride 2, `same`. And
conv_t.keras: three QConv2DTranspose (3x3 at stride 2 `same`; 3x2 at
strides (2, 3) `valid` with output_padding (1, 2); 2x3 at stride 1
`same`, an even kernel's uneven crop; TensorFlow's CPU kernels cannot run
a dilated one, so QKeras has no output for it), a strided convolution and
a QDense. And wide_vector.keras: a 360-element vector input (12-bit
codes, 4,320 bits) through two quantizers added and requantized to
16 bits (5,760 bits): wider than a stream port's 4,096 bits each way.
And budget_ram.keras (cross-check batch 11's m3): a depthwise 3x3
convolution, a 1x1 convolution, max pooling, Flatten and a QDense, whose
streamed `--budget` unrolls the convolutions, their line buffers sliding
(wider RAM than serial ones). And budget_fifo.keras (batch 11's m4): two
3x3 convolutions added to their input's skip, max pooling, Flatten and a
QDense; the skip's FIFO at twice its minimum reaches a block RAM.
And twice_forked.keras (cross-check batch 15's w22): a vector input
quantized, three QDense branches a, b, c (8-, 4- and 6-bit kernels) with
their quantizers, and Concatenate([Add(a, c), Add(a, b)]): a forked twice,
its partner branches forked at the input.
Untrained
(seeded weights): only structure and flow matter.
`python tests/golden/gen_stream_nested.py NAME...` writes only those.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras import QActivation, QAveragePooling2D, QConv1D, QConv2D, QConv2DTranspose, QDense, QDepthwiseConv2D, QGlobalAveragePooling2D  # noqa: E402
from qkeras.quantizers import quantized_bits, quantized_relu  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stream_nested")


def mul_join():
    keras.utils.set_random_seed(6)
    q = lambda: quantized_bits(6, 2, alpha=1)  # noqa: E731
    i = keras.Input((8, 8, 2), name="img")
    x = QActivation(q(), name="in_q")(i)
    x = L.ZeroPadding2D(((2, 0), (0, 1)), name="zp")(x)
    x = QConv2D(4, 3, kernel_quantizer=q(), bias_quantizer=q(), name="c0")(x)
    x = QActivation(quantized_relu(6, 2), name="r0")(x)
    a = QActivation(q(), name="qa")(QConv2D(4, 3, padding="same", kernel_quantizer=q(), bias_quantizer=q(), name="ca")(x))
    b = QActivation(q(), name="qb")(QDepthwiseConv2D(3, padding="same", depthwise_quantizer=q(), bias_quantizer=q(), name="dwb")(x))
    m = QActivation(quantized_bits(8, 3, alpha=1), name="qm")(L.Multiply(name="mul")([a, b]))
    v = QActivation(quantized_bits(8, 3, alpha=1), name="qv")(L.Average(name="avg")([a, b, m]))
    x = L.MaxPooling2D(2, name="mp")(L.Concatenate(name="cat")([x, v]))
    x = QGlobalAveragePooling2D(average_quantizer=quantized_bits(10, 0, alpha=1), name="gap")(x)
    y = QDense(3, kernel_quantizer=q(), bias_quantizer=q(), name="out")(x)
    keras.Model(i, y, name="mul_join").save(os.path.join(OUT, "mul_join.keras"))


def crop():
    keras.utils.set_random_seed(7)
    q = lambda: quantized_bits(6, 2, alpha=1)  # noqa: E731
    i = keras.Input((10, 9, 2), name="img")
    x = QActivation(q(), name="in_q")(i)
    a = QConv2D(3, 3, kernel_quantizer=q(), bias_quantizer=q(), name="ca")(x)                  # 8x7x3
    b = QConv2D(3, 1, kernel_quantizer=q(), bias_quantizer=q(), name="cb")(L.Cropping2D(1, name="crop_b")(x))
    x = QActivation(quantized_relu(6, 2), name="r0")(L.Add(name="add")([a, b]))                # 8x7x3
    x = L.Cropping2D(((0, 2), (3, 0)), name="crop_rc")(x)                                    # 6x4x3
    x = L.MaxPooling2D(2, name="mp")(x)                                                       # 3x2x3
    x = QConv2D(4, (2, 1), padding="same", kernel_quantizer=q(), bias_quantizer=q(), name="c1")(x)
    x = L.Cropping2D(((0, 0), (1, 0)), name="crop_l")(QActivation(q(), name="q1")(x))        # 3x1x4
    x = QGlobalAveragePooling2D(average_quantizer=quantized_bits(10, 0, alpha=1), name="gap")(x)
    y = QDense(3, kernel_quantizer=q(), bias_quantizer=q(), name="out")(x)
    keras.Model(i, y, name="crop").save(os.path.join(OUT, "crop.keras"))


def crop1d():
    keras.utils.set_random_seed(8)
    q = lambda: quantized_bits(6, 2, alpha=1)  # noqa: E731
    i = keras.Input((16, 2), name="seq")
    x = QActivation(q(), name="in_q")(i)
    x = QActivation(quantized_relu(6, 2), name="r0")(QConv1D(3, 3, kernel_quantizer=q(), bias_quantizer=q(), name="c0")(x))
    x = L.Cropping1D((2, 1), name="crop")(x)                                                 # 11x3
    x = QActivation(q(), name="q1")(QConv1D(2, 3, kernel_quantizer=q(), bias_quantizer=q(), name="c1")(x))
    y = QDense(2, kernel_quantizer=q(), bias_quantizer=q(), name="out")(L.Flatten(name="flat")(x))
    keras.Model(i, y, name="crop1d").save(os.path.join(OUT, "crop1d.keras"))


def nested_res():
    keras.utils.set_random_seed(13)
    k = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1))
    i = keras.Input((8, 8, 2), name="img")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    h = QConv2D(3, 3, padding="same", name="c0", **k)(h)
    r0 = QActivation(quantized_relu(6, 2), name="r0")(h)
    a = QConv2D(3, 3, padding="same", name="ca", **k)(r0)
    ra = QActivation(quantized_relu(6, 2), name="ra")(a)
    b = QConv2D(3, 3, padding="same", name="cb", **k)(ra)
    b = L.Add(name="add_in")([b, ra])
    b = QActivation(quantized_relu(6, 2), name="r_in")(b)
    c = QConv2D(3, 1, name="cc", **k)(b)
    h = L.Add(name="add_out")([c, r0])
    h = QActivation(quantized_relu(6, 2), name="r_out")(h)
    y = QDense(3, name="out", **k)(L.Flatten(name="flat")(h))
    keras.Model(i, y, name="nested_res").save(os.path.join(OUT, "nested_res.keras"))


def upsample():
    keras.utils.set_random_seed(14)
    k = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1))
    i = keras.Input((5, 7, 2), name="img")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    h = QActivation(quantized_relu(6, 2), name="r0")(QConv2D(3, 3, padding="same", name="c0", **k)(h))
    u = L.UpSampling2D((2, 3), name="up")(h)                                                  # 10x21x3
    b = QActivation(quantized_relu(6, 2), name="rb")(QConv2D(3, 3, padding="same", name="cb", **k)(u))
    h = QActivation(quantized_relu(6, 2), name="ra")(L.Add(name="add")([b, u]))
    h = L.UpSampling2D((1, 2), name="up_w")(h)                                                # 10x42x3
    h = QActivation(quantized_relu(6, 2), name="r1")(QConv2D(4, 3, strides=2, name="c1", **k)(h))  # 4x20x4
    h = L.GlobalMaxPooling2D(name="gmp")(h)
    y = QDense(3, name="out", **k)(h)
    keras.Model(i, y, name="upsample").save(os.path.join(OUT, "upsample.keras"))


def upsample1d():
    keras.utils.set_random_seed(15)
    k = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1))
    i = keras.Input((9, 2), name="seq")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    h = L.UpSampling1D(3, name="up_in")(h)                                                    # 27x2
    h = QActivation(quantized_relu(6, 2), name="r0")(QConv1D(4, 3, strides=2, name="c0", **k)(h))  # 13x4
    h = L.UpSampling1D(2, name="up")(h)                                                       # 26x4
    h = QActivation(quantized_bits(6, 2, alpha=1), name="q1")(QConv1D(2, 3, name="c1", **k)(h))  # 24x2
    y = QDense(2, name="out", **k)(L.Flatten(name="flat")(h))
    keras.Model(i, y, name="upsample1d").save(os.path.join(OUT, "upsample1d.keras"))


def two_reductions():
    # Once in stream_refusals (refused: two reductions of one stream).
    keras.utils.set_random_seed(3)
    i = keras.Input((8, 8, 2), name="x")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="qin")(i)
    h = QConv2D(4, 3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="c1")(h)
    h = QActivation(quantized_relu(6, 2), name="r1")(h)
    a = QActivation(quantized_bits(8, 2, alpha=1), name="qa")(L.GlobalAveragePooling2D(name="gap_a")(h))
    b = L.GlobalMaxPooling2D(name="gmp_b")(h)
    c = QGlobalAveragePooling2D(name="gap_c", average_quantizer=quantized_bits(8, 2, alpha=1))(h)
    y = QDense(3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="out")(L.Concatenate(name="cat")([a, b, c]))
    keras.Model(i, y, name="two_reductions").save(os.path.join(OUT, "two_reductions.keras"))


def reductions():
    keras.utils.set_random_seed(16)
    k = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1))
    i = keras.Input((8, 8, 2), name="img")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    h = QActivation(quantized_relu(6, 2), name="r1")(QConv2D(4, 3, name="c1", **k)(h))       # 6x6x4
    h = L.MaxPooling2D(2, name="mp")(h)                                                       # 3x3x4
    f = L.Flatten(name="flat")(h)
    a = QActivation(quantized_bits(8, 2, alpha=1), name="gap_q")(L.GlobalAveragePooling2D(name="gap")(h))
    p = QActivation(quantized_relu(6, 2), name="rp")(QConv2D(2, 1, name="cp", **k)(h))
    m = L.GlobalMaxPooling2D(name="gmp")(p)
    z = QActivation(quantized_relu(8, 3), name="r2")(QDense(6, name="d1", **k)(L.Concatenate(name="cat")([f, a, m])))
    y = QDense(3, name="out", **k)(z)
    keras.Model(i, y, name="reductions").save(os.path.join(OUT, "reductions.keras"))


def avg_same():
    keras.utils.set_random_seed(17)
    k = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1))
    i = keras.Input((7, 9, 2), name="img")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    h = QActivation(quantized_relu(6, 2), name="r0")(QConv2D(3, 3, padding="same", name="c0", **k)(h))
    h = L.AveragePooling2D(3, strides=2, padding="same", name="avg_s2")(h)                    # 4x5x3
    h = QActivation(quantized_bits(8, 3, alpha=1), name="q1")(h)
    h = QAveragePooling2D(2, strides=1, padding="same", average_quantizer=quantized_bits(8, 0, alpha=1), name="qavg")(h)
    h = QActivation(quantized_relu(6, 2), name="r1")(QConv2D(4, 3, name="c1", **k)(h))       # 2x3x4
    y = QDense(3, name="out", **k)(L.Flatten(name="flat")(h))
    keras.Model(i, y, name="avg_same").save(os.path.join(OUT, "avg_same.keras"))


def avg_same1d():
    keras.utils.set_random_seed(18)
    k = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1))
    i = keras.Input((11, 2), name="seq")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    h = QActivation(quantized_relu(6, 2), name="r0")(QConv1D(3, 3, name="c0", **k)(h))       # 9x3
    h = L.AveragePooling1D(4, strides=2, padding="same", name="avg")(h)                       # 5x3
    y = QDense(2, name="out", **k)(L.Flatten(name="flat")(QActivation(quantized_bits(8, 2, alpha=1), name="q1")(h)))
    keras.Model(i, y, name="avg_same1d").save(os.path.join(OUT, "avg_same1d.keras"))


def conv_t():
    keras.utils.set_random_seed(19)
    k = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1))
    i = keras.Input((4, 5, 2), name="img")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    h = QConv2DTranspose(3, 3, strides=2, padding="same", name="ct_same", **k)(h)                  # 8x10x3
    h = QActivation(quantized_relu(6, 2), name="r0")(h)
    h = QConv2DTranspose(2, (3, 2), strides=(2, 3), output_padding=(1, 2), name="ct_valid", **k)(h)  # 18x31x2
    h = QActivation(quantized_relu(6, 2), name="r1")(h)
    h = QConv2DTranspose(3, (2, 3), padding="same", name="ct_s1", **k)(h)                          # 18x31x3
    h = QActivation(quantized_relu(6, 2), name="r2")(h)
    h = QConv2D(2, 3, strides=3, name="c_down", **k)(h)                                             # 6x10x2
    y = QDense(3, name="out", **k)(L.Flatten(name="flat")(QActivation(quantized_relu(6, 2), name="r3")(h)))
    keras.Model(i, y, name="conv_t").save(os.path.join(OUT, "conv_t.keras"))


def wide_vector():
    keras.utils.set_random_seed(20)
    i = keras.Input((360,), name="vec")
    h = QActivation(quantized_bits(12, 4, alpha=1), name="in_q")(i)                     # 360 x 12 bits: 2 beats
    a = QActivation(quantized_relu(10, 4), name="relu")(h)
    b = QActivation(quantized_bits(8, 2, alpha=1), name="narrow")(h)
    y = QActivation(quantized_bits(16, 6, alpha=1), name="out_q")(L.Add(name="add")([a, b]))  # 360 x 16 bits: 2 beats
    keras.Model(i, y, name="wide_vector").save(os.path.join(OUT, "wide_vector.keras"))


def budget_ram():
    keras.utils.set_random_seed(21)
    k = dict(kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1))
    i = keras.Input((12, 12, 4), name="x")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    h = QDepthwiseConv2D(3, depthwise_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1), name="dw")(h)  # 10x10x4
    h = QActivation(quantized_relu(6, 2), name="r1")(h)
    h = QActivation(quantized_relu(6, 2), name="r2")(QConv2D(8, 1, name="pw", **k)(h))                   # 10x10x8
    h = L.MaxPooling2D(2, name="mp")(h)                                                                  # 5x5x8
    y = QDense(6, name="fc", **k)(L.Flatten(name="fl")(h))
    keras.Model(i, y, name="budget_ram").save(os.path.join(OUT, "budget_ram.keras"))


def budget_fifo():
    keras.utils.set_random_seed(22)
    k = dict(kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1))
    i = keras.Input((8, 8, 4), name="x")
    s = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    h = QActivation(quantized_relu(6, 2), name="r1")(QConv2D(4, 3, padding="same", name="c1", **k)(s))
    h = QConv2D(4, 3, padding="same", name="c2", **k)(h)
    h = QActivation(quantized_bits(8, 3, alpha=1), name="q2")(h)
    h = QActivation(quantized_relu(6, 2), name="r2")(L.Add(name="add")([h, s]))
    h = L.MaxPooling2D(2, name="mp")(h)                                                                  # 4x4x4
    y = QDense(6, name="fc", **k)(L.Flatten(name="fl")(h))
    keras.Model(i, y, name="budget_fifo").save(os.path.join(OUT, "budget_fifo.keras"))


def twice_forked():
    keras.utils.set_random_seed(15)
    i = keras.Input((6,), name="x")
    x = QActivation(quantized_bits(8, 2, 1), name="qin")(i)
    a = QActivation(quantized_bits(10, 3, 1), name="aa")(QDense(4, kernel_quantizer=quantized_bits(8, 0, 1, alpha=1), name="da")(x))
    b = QActivation(quantized_bits(12, 3, 1), name="ab")(QDense(4, kernel_quantizer=quantized_bits(4, 0, 1, alpha=1), name="db")(x))
    c = QActivation(quantized_bits(6, 2, 1), name="ac")(QDense(4, kernel_quantizer=quantized_bits(6, 0, 1, alpha=1), name="dc")(x))
    y = L.Concatenate(name="cat")([L.Add(name="addac")([a, c]), L.Add(name="addab")([a, b])])
    keras.Model(i, y, name="twice_forked").save(os.path.join(OUT, "twice_forked.keras"))


def max_same():
    """Max poolings padded `same` over negative values (Keras pads them with
    -inf: a zero padding won a border window; cross-check batch 17), with
    QKeras's predictions of 64 inputs (max_same.x.npy, max_same.y.npy)."""
    keras.utils.set_random_seed(18)
    k = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1))
    i = keras.Input((5, 6, 2), name="img")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    h = L.MaxPooling2D(3, strides=1, padding="same", name="mp3")(h)                          # 5x6x2
    h = L.MaxPooling2D(2, strides=2, padding="same", name="mp2")(h)                          # 3x3x2
    h = QActivation(quantized_bits(8, 3, alpha=1), name="q1")(QConv2D(3, 2, padding="same", name="c1", **k)(h))
    h = L.MaxPooling2D((2, 3), strides=(1, 2), padding="same", name="mp23")(h)              # 3x2x3
    y = QDense(3, name="out", **k)(L.Flatten(name="flat")(h))
    m = keras.Model(i, y, name="max_same")
    m.save(os.path.join(OUT, "max_same.keras"))
    x = np.random.default_rng(18).uniform(-5, 5, (64, 5, 6, 2)).astype(np.float32)
    np.save(os.path.join(OUT, "max_same.x.npy"), x)
    np.save(os.path.join(OUT, "max_same.y.npy"), m.predict(x, batch_size=64, verbose=0).astype(np.float32))


def max_same1d():
    keras.utils.set_random_seed(19)
    i = keras.Input((7, 2), name="seq")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    h = L.MaxPooling1D(3, strides=1, padding="same", name="mp3")(h)
    y = L.MaxPooling1D(2, strides=2, padding="same", name="mp2")(h)
    m = keras.Model(i, y, name="max_same1d")
    m.save(os.path.join(OUT, "max_same1d.keras"))
    x = np.random.default_rng(19).uniform(-5, 5, (64, 7, 2)).astype(np.float32)
    np.save(os.path.join(OUT, "max_same1d.x.npy"), x)
    np.save(os.path.join(OUT, "max_same1d.y.npy"), m.predict(x, batch_size=64, verbose=0).astype(np.float32))


def main():
    os.makedirs(OUT, exist_ok=True)
    extra = {"mul_join": mul_join, "crop": crop, "crop1d": crop1d, "nested_res": nested_res, "upsample": upsample,
             "upsample1d": upsample1d, "two_reductions": two_reductions, "reductions": reductions,
             "avg_same": avg_same, "avg_same1d": avg_same1d, "conv_t": conv_t,
             "wide_vector": wide_vector, "budget_ram": budget_ram,
             "budget_fifo": budget_fifo, "twice_forked": twice_forked,
             "max_same": max_same, "max_same1d": max_same1d}
    if len(sys.argv) > 1 and "long_skip" not in sys.argv[1:]:
        for n in sys.argv[1:]:
            extra[n]()
        return
    for f in extra.values():
        f()
    keras.utils.set_random_seed(5)
    k = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1))
    i = keras.Input((10, 10, 2), name="img")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    h = QConv2D(3, 3, padding="same", name="c0", **k)(h)
    r0 = QActivation(quantized_relu(6, 2), name="r0")(h)
    b = QConv2D(3, 3, padding="same", name="c1", **k)(r0)
    b = QActivation(quantized_relu(6, 2), name="r1")(b)
    b = QConv2D(3, 3, padding="same", name="c2", **k)(b)
    a = L.Add(name="add")([b, r0])
    a = QActivation(quantized_relu(6, 2), name="ra")(a)
    w = QConv2D(2, 1, name="cw", **k)(r0)
    w = QActivation(quantized_relu(6, 2), name="rw")(w)
    h = L.Concatenate(name="cat")([a, w])
    h = L.MaxPooling2D(2, name="mp")(h)
    h = QConv2D(3, 3, name="c3", **k)(h)
    h = QActivation(quantized_relu(6, 2), name="r3")(h)
    y = QDense(3, name="out", **k)(L.Flatten(name="flat")(h))
    keras.Model(i, y, name="long_skip").save(os.path.join(OUT, "long_skip.keras"))


if __name__ == "__main__":
    main()
