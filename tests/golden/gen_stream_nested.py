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
its stages' phase counters drift against each other. Untrained (seeded
weights): only structure and flow matter.
`python tests/golden/gen_stream_nested.py NAME...` writes only those.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras import QActivation, QConv2D, QDense, QDepthwiseConv2D, QGlobalAveragePooling2D  # noqa: E402
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


def main():
    os.makedirs(OUT, exist_ok=True)
    if len(sys.argv) > 1 and "long_skip" not in sys.argv[1:]:
        if "mul_join" in sys.argv[1:]:
            mul_join()
        return
    mul_join()
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
