#!/usr/bin/env python3
"""A small model of the layer classes that are other names for what qkhw
already runs: keras.layers.Softmax (= Activation("softmax")) and the
layers that are identities at inference (SpatialDropout1D, GaussianNoise,
GaussianDropout, AlphaDropout, ActivityRegularization).

Run (pinned versions in requirements.txt):
    python tests/golden/gen_layer_aliases.py
Writes tests/golden/layer_aliases/: model.keras, inputs.npy (200 standard
normal rows) and logits.npy (the output of the layer feeding the Softmax,
model.predict at batch_size=100). Untrained (seeded random weights): the
point is the layer classes, not accuracy.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras import QActivation, QConv1D, QDense  # noqa: E402
from qkeras.quantizers import quantized_bits, quantized_relu  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layer_aliases")


def qb(bits, integer):
    return quantized_bits(bits, integer, 1, alpha=1)


def main():
    keras.utils.set_random_seed(3)
    inp = keras.Input((12, 3), name="x")
    x = QActivation(quantized_bits(8, 3, 1), name="in_q")(inp)
    x = QConv1D(4, 3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(6, 0), name="c1")(x)
    x = L.SpatialDropout1D(0.2, name="sdrop")(x)
    x = L.GaussianNoise(0.1, name="noise")(x)
    x = L.GaussianDropout(0.1, name="gdrop")(x)
    x = L.AlphaDropout(0.1, name="adrop")(x)
    x = L.ActivityRegularization(0.01, name="reg")(x)
    x = QActivation(quantized_relu(6, 2), name="relu")(x)
    x = L.Flatten(name="flat")(x)
    logits = QDense(4, kernel_quantizer=qb(6, 0), bias_quantizer=qb(6, 0), name="logits")(x)
    out = L.Softmax(name="softmax")(logits)
    model = keras.Model(inp, out, name="layer_aliases")
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "model.keras")
    model.save(path)
    model = keras.models.load_model(path, compile=False)
    xs = np.random.default_rng(0).normal(size=(200, 12, 3)).astype(np.float32)
    sub = keras.Model(model.inputs, model.get_layer("logits").output)
    np.save(os.path.join(OUT, "inputs.npy"), xs)
    np.save(os.path.join(OUT, "logits.npy"), sub.predict(xs, batch_size=100, verbose=0).astype(np.float32))


if __name__ == "__main__":
    main()
