#!/usr/bin/env python3
"""Models `--io stream` must refuse with a clear error (not a panic).

Run (pinned versions in requirements.txt):
    python tests/golden/gen_stream_refusals.py
Writes tests/golden/stream_refusals/two_vectors.keras: two vector
inputs (nothing to stream), each through a QDense, added. Untrained: only
their structure matters.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras import QActivation, QDense  # noqa: E402
from qkeras.quantizers import quantized_bits  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stream_refusals")


def main():
    os.makedirs(OUT, exist_ok=True)
    k = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1))
    a = keras.Input((8,), name="left")
    b = keras.Input((6,), name="right")
    ha = QDense(4, name="da", **k)(QActivation(quantized_bits(8, 2, alpha=1), name="qa")(a))
    hb = QDense(4, name="db", **k)(QActivation(quantized_bits(8, 2, alpha=1), name="qb")(b))
    y = QDense(2, name="out", **k)(L.Add(name="add")([ha, hb]))
    keras.Model([a, b], y, name="two_vectors").save(os.path.join(OUT, "two_vectors.keras"))


if __name__ == "__main__":
    main()
