#!/usr/bin/env python3
"""A QGRU with implementation=2 and reset_after=False, which QKeras 1.2.1
saves but cannot run (its call fails), and the same layer with
implementation=1 (cross-check batch 16): qkhw computes the first as the
second and says so.

Run (pinned versions in requirements.txt):
    KERAS_BACKEND=tensorflow python tests/golden/gen_gru_impl2.py
Writes tests/golden/gru_impl2/:
  impl2.keras, impl1.keras  Input(4, 2) -> QActivation q(6,2) -> QGRU(3,
                   reset_after=False, 4-bit kernels, a 6-bit state_quantizer),
                   the same weights, implementation 2 and 1
  inputs.npy       64 inputs, uniform in (-3, 3)
  outputs.npy      QKeras's model.predict of impl1.keras
  meta.json        "impl2_predict": the error QKeras's model.predict of
                   impl2.keras raises (its type)
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras import QActivation, QGRU  # noqa: E402
from qkeras.quantizers import quantized_bits  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gru_impl2")


def build(implementation):
    i = L.Input((4, 2), name="inp")
    x = QActivation(quantized_bits(6, 2, 1), name="qin")(i)
    x = QGRU(3, implementation=implementation, reset_after=False,
             kernel_quantizer=quantized_bits(4, 0, 1, alpha=1), recurrent_quantizer=quantized_bits(4, 0, 1, alpha=1),
             bias_quantizer=quantized_bits(8, 3, 1), state_quantizer=quantized_bits(6, 1, 1), name="gru")(x)
    return keras.Model(i, x)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(1616)
    one, two = build(1), build(2)
    weights = [rng.normal(0, 0.6, w.shape).astype(np.float32) for w in one.get_weights()]
    one.set_weights(weights)
    two.set_weights(weights)
    one.save(os.path.join(OUT, "impl1.keras"))
    two.save(os.path.join(OUT, "impl2.keras"))
    xs = rng.uniform(-3, 3, (64, 4, 2)).astype(np.float32)
    np.save(os.path.join(OUT, "inputs.npy"), xs)
    np.save(os.path.join(OUT, "outputs.npy"), one.predict(xs, batch_size=64, verbose=0).astype(np.float32))
    try:
        two.predict(xs, batch_size=64, verbose=0)
        failed = None
    except Exception as e:  # noqa: BLE001  (what QKeras raises is the record)
        failed = type(e).__name__
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump({"impl2_predict": failed}, f, indent=1)
    print("wrote", OUT, "impl2 predict:", failed)


if __name__ == "__main__":
    main()
