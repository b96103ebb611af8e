#!/usr/bin/env python3
"""A QBatchNormalization whose inverse_quantizer is auto_po2 (cross-check
batch 16), for `qkhw freeze` and `qkhw predict`: QKeras's model.predict
quantizes the inverse as a (1, C) tensor, one scale per channel, and
model_save_quantized_weights as a vector of C, one scale for all; qkhw's
hardware weights are the latter, and freezing sets that scale, so QKeras's
model.predict of the frozen model differs from the original's.

Run (pinned versions in requirements.txt):
    KERAS_BACKEND=tensorflow python tests/golden/gen_freeze_bn.py
Writes tests/golden/freeze_bn/:
  bninv.keras        Input(10) -> QActivation q(8,3) -> QDense(6, auto_po2 5-bit)
                     -> QBatchNormalization(inverse_quantizer auto_po2 q(8,3))
                     -> quantized_relu(6,2) -> QDense(2)
  inputs.npy         128 inputs, uniform in (-6, 6)
  outputs.npy        QKeras's model.predict of it
  meta.json          "differ": the channels where QKeras's two quantizations
                     of the inverse (as (1, C) and as (C,)) differ
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras import QActivation, QBatchNormalization, QDense  # noqa: E402
from qkeras.quantizers import quantized_bits, quantized_relu  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "freeze_bn")


def auto_po2(bits, integer=0):
    return quantized_bits(bits, integer, 1, alpha="auto_po2")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(161)
    i = L.Input((10,), name="inp")
    x = QActivation(quantized_bits(8, 3, 1), name="qin")(i)
    x = QDense(6, kernel_quantizer=auto_po2(5), bias_quantizer=quantized_bits(8, 3, 1), name="d1")(x)
    x = QBatchNormalization(inverse_quantizer=auto_po2(8, 3), gamma_quantizer=None, beta_quantizer=None,
                            mean_quantizer=None, variance_quantizer=None, name="bn")(x)
    x = QActivation(quantized_relu(6, 2), name="r")(x)
    x = QDense(2, kernel_quantizer=quantized_bits(4, 0, 1, alpha=1), name="d2")(x)
    m = keras.Model(i, x)
    for layer in m.layers:
        new = []
        for w, v in zip(layer.get_weights(), layer.weights):
            n = v.path
            if "variance" in n:
                a = rng.uniform(0.3, 3.0, w.shape)
            elif "gamma" in n:
                a = rng.uniform(0.5, 2.0, w.shape)
            elif "mean" in n or "beta" in n:
                a = rng.normal(0, 0.5, w.shape)
            elif "bias" in n:
                a = rng.normal(0, 0.3, w.shape)
            else:
                # magnitudes spread per channel, so auto_po2 scales differ
                a = rng.normal(0, 0.5, w.shape) * (2.0 ** rng.integers(-3, 2, w.shape[-1:]))
            new.append(a.astype(np.float32))
        if new:
            layer.set_weights(new)
    m.save(os.path.join(OUT, "bninv.keras"))
    xs = rng.uniform(-6, 6, (128, 10)).astype(np.float32)
    np.save(os.path.join(OUT, "inputs.npy"), xs)
    np.save(os.path.join(OUT, "outputs.npy"), m.predict(xs, batch_size=128, verbose=0).astype(np.float32))
    bn = m.get_layer("bn")
    inv = (bn.gamma.numpy() / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)).astype(np.float32)
    q = bn.inverse_quantizer_internal
    as_row = np.asarray(q(inv.reshape(1, -1))).reshape(-1)
    as_vector = np.asarray(q(inv)).reshape(-1)
    differ = [int(c) for c in np.nonzero(as_row != as_vector)[0]]
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump({"differ": differ, "channels": int(inv.size)}, f, indent=1)
    print("wrote", OUT, "differ", differ)


if __name__ == "__main__":
    main()
