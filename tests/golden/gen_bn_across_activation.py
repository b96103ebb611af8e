#!/usr/bin/env python3
"""A convolution with its own activation, then a QBatchNormalization.

QKeras's model_save_quantized_weights fuses such a batch norm into the
convolution across the activation (its bn_inv / fused_bias apply to the
activation's output minus the convolution's bias), and here the bias
(quantized_bits(7,2,1): steps of 2^-4) is finer than the activation's
output (quantized_relu(5,2,negative_slope=0.125)). qkhw's default (the
fused tables) refuses it in one line that names `--bn qkeras`; with
`--bn qkeras` its predict equals model.predict (tests/predict_golden.rs).
Found by cross-check batch 10.

Run (pinned versions in requirements.txt):
    python tests/golden/gen_bn_across_activation.py
Writes tests/golden/bn_across_activation/: model.keras, inputs.npy and
outputs.npy (model.predict).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import numpy as np  # noqa: E402
import keras  # noqa: E402
from qkeras import QActivation, QBatchNormalization, QConv2D, QDense, quantized_bits, quantized_relu  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bn_across_activation")


def model():
    i = keras.Input((4, 4, 3), name="x")
    h = QConv2D(5, 2, strides=2, kernel_quantizer=quantized_bits(7, 0, 1), bias_quantizer=quantized_bits(7, 2, 1),
                activation=quantized_relu(5, 2, negative_slope=0.125), name="conv")(i)
    h = QBatchNormalization(name="bn")(h)
    h = QActivation(quantized_bits(5, 1, 1), name="q")(h)
    h = keras.layers.Flatten(name="flat")(h)
    h = QDense(2, kernel_quantizer=quantized_bits(8, 0, 1), bias_quantizer=quantized_bits(8, 0, 1), name="out")(h)
    m = keras.Model(i, h, name="bn_across_activation")
    rng = np.random.default_rng(21)
    for layer in m.layers:
        for w in layer.weights:
            name = w.name.split("/")[-1]
            if name == "moving_variance":
                w.assign(rng.uniform(0.2, 3.0, w.shape).astype(np.float32))
            else:
                w.assign(rng.uniform(-1.0, 1.0, w.shape).astype(np.float32))
    return m


def main():
    os.makedirs(OUT, exist_ok=True)
    m = model()
    m.save(os.path.join(OUT, "model.keras"))
    x = np.random.default_rng(22).uniform(-4, 4, (256, 4, 4, 3)).astype(np.float32)
    np.save(os.path.join(OUT, "inputs.npy"), x)
    np.save(os.path.join(OUT, "outputs.npy"), m.predict(x, verbose=0).astype(np.float32))


if __name__ == "__main__":
    main()
