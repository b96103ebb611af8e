#!/usr/bin/env python3
"""A streamed model whose skips nest: the FIFO sizes of a join whose branch
holds a join of its own (tests/stream.rs).

Run (pinned versions in requirements.txt):
    python tests/golden/gen_stream_nested.py
Writes tests/golden/stream_nested/long_skip.keras: r0 forks three ways, to
a residual block (two 3x3 convolutions, Add with r0), to a 1x1 convolution,
and the two are concatenated, then max pooling, a convolution and a QDense
head. Both inputs of the Concatenate fork from r0, one of them through the
Add. Untrained (seeded weights): only its structure and flow matter.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras import QActivation, QConv2D, QDense  # noqa: E402
from qkeras.quantizers import quantized_bits, quantized_relu  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stream_nested")


def main():
    os.makedirs(OUT, exist_ok=True)
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
