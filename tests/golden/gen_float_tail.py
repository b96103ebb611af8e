#!/usr/bin/env python3
"""Float32 tails that branch: averages QKeras rounds in float32 (over counts
that are not powers of two, with no quantizer after them) joined by a
Concatenate into a model output (tests/predict_golden.rs).

Run (pinned versions in requirements.txt):
    python tests/golden/gen_float_tail.py
Writes tests/golden/float_tail/avg_concat.keras, .x.npy (300 inputs) and
.y.npy / .y.1.npy (QKeras's model.predict): output 0 concatenates a 3x3
average pooling (fl(S/9)) with a max pooling of the same map, output 1 a
global average pooling (fl(sum/36)) with a global max pooling. Untrained
(seeded weights).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras import QActivation, QConv2D  # noqa: E402
from qkeras.quantizers import quantized_bits, quantized_relu  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "float_tail")


def main():
    os.makedirs(OUT, exist_ok=True)
    keras.utils.set_random_seed(3)
    i = keras.Input((6, 6, 2), name="img")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    a = QConv2D(3, 3, padding="same", kernel_quantizer=quantized_bits(6, 0, alpha=1),
                bias_quantizer=quantized_bits(8, 3, alpha=1), name="conv")(h)
    a = QActivation(quantized_relu(6, 2), name="relu")(a)
    y0 = L.Concatenate(name="pools")([L.AveragePooling2D(3, name="avg")(a), L.MaxPooling2D(3, name="max")(a)])
    y1 = L.Concatenate(name="globals")([L.GlobalAveragePooling2D(name="gavg")(a), L.GlobalMaxPooling2D(name="gmax")(a)])
    m = keras.Model(i, [y0, y1], name="avg_concat")
    x = np.random.default_rng(1).standard_normal((300, 6, 6, 2)).astype(np.float32)
    y = m.predict(x, batch_size=100, verbose=0)
    m.save(os.path.join(OUT, "avg_concat.keras"))
    np.save(os.path.join(OUT, "avg_concat.x.npy"), x)
    for k, t in enumerate(y):
        np.save(os.path.join(OUT, f"avg_concat.y{'' if k == 0 else f'.{k}'}.npy"), t)


if __name__ == "__main__":
    main()
