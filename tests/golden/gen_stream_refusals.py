#!/usr/bin/env python3
"""Models `--io stream` must refuse with a clear error (not a panic).

Run (pinned versions in requirements.txt):
    python tests/golden/gen_stream_refusals.py
Writes tests/golden/stream_refusals/two_reductions.keras: one streamed
tensor read by three global poolings (average, max, QKeras average), joined
by a Concatenate and a QDense head; and two_vectors.keras: two vector
inputs (nothing to stream), each through a QDense, added. Untrained: only
their structure matters.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras import QActivation, QConv2D, QDense, QGlobalAveragePooling2D  # noqa: E402
from qkeras.quantizers import quantized_bits, quantized_relu  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stream_refusals")


def main():
    os.makedirs(OUT, exist_ok=True)
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

    k = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1))
    a = keras.Input((8,), name="left")
    b = keras.Input((6,), name="right")
    ha = QDense(4, name="da", **k)(QActivation(quantized_bits(8, 2, alpha=1), name="qa")(a))
    hb = QDense(4, name="db", **k)(QActivation(quantized_bits(8, 2, alpha=1), name="qb")(b))
    y = QDense(2, name="out", **k)(L.Add(name="add")([ha, hb]))
    keras.Model([a, b], y, name="two_vectors").save(os.path.join(OUT, "two_vectors.keras"))


if __name__ == "__main__":
    main()
