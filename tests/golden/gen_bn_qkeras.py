#!/usr/bin/env python3
"""How TensorFlow computes QBatchNormalization's `1 / sqrt(variance + eps)`
in `model.predict`, for `--bn qkeras`.

Run (pinned versions in requirements.txt):
    python tests/golden/gen_bn_qkeras.py
Writes tests/golden/bn_qkeras/recip.json: for vectors of C channels
(C = 5, 8, 13, 100, 8195, 8197; variances log-uniform in e^-8..e^4, eps
1e-3), the float32 bits of `variance + eps` and of the inverse TensorFlow
computes, read as the output of a QBatchNormalization (no quantizers,
gamma 1, beta 0, mean 0) on an input of ones: out = 1 * inv + (0 - 0 * inv)
= inv exactly. Also `ieee`: how many of them equal the correctly rounded
float32 1/sqrt (TensorFlow's CPU kernel divides in packets with an
approximate reciprocal, so fewer than all).
Measured on the machine in "cpu" (rcpps tables differ between vendors).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import numpy as np  # noqa: E402
import keras  # noqa: E402
from qkeras import QBatchNormalization  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bn_qkeras")
EPS = 1e-3


def tf_inverse(var):
    c = var.size
    i = keras.Input((c,))
    bn = QBatchNormalization(epsilon=EPS, beta_quantizer=None, gamma_quantizer=None,
                             mean_quantizer=None, variance_quantizer=None)
    m = keras.Model(i, bn(i))
    values = {"gamma": np.ones(c, np.float32), "beta": np.zeros(c, np.float32),
              "moving_mean": np.zeros(c, np.float32), "moving_variance": var}
    for w in bn.weights:
        w.assign(values[w.name])
    return m.predict(np.ones((2, c), np.float32), verbose=0)[0]


def cpu():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2024)
    cases = []
    for c in (5, 8, 13, 100, 8195, 8197):
        var = np.exp(rng.uniform(-8, 4, c)).astype(np.float32)
        inv = tf_inverse(var)
        ve = (var + np.float32(EPS)).astype(np.float32)
        ieee = (np.float32(1) / np.sqrt(ve)).astype(np.float32)
        cases.append({"c": c, "var_eps": ve.view(np.uint32).tolist(), "inv": inv.view(np.uint32).tolist(),
                      "ieee": int(np.sum(inv == ieee))})
        print(c, "equal to IEEE:", int(np.sum(inv == ieee)))
    with open(os.path.join(OUT, "recip.json"), "w") as f:
        json.dump({"cpu": cpu(), "eps": EPS, "cases": cases}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
