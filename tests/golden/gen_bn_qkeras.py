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
Also tests/golden/bn_qkeras/rsqrt.json: the same for Keras's own
BatchNormalization, whose tf.nn.batch_normalization takes
`rsqrt(variance + eps)` (on inputs of rank 1 to 3 without the batch axis:
the kernel is the same),
and tests/golden/bn_qkeras/kbn/: a DS-CNN-like model with Keras
BatchNormalization layers before quantized_relu(8,2) and an average pool
over 6 positions, its inputs, `model.predict` outputs and the quantized
relus' outputs (relu1.npy, relu2.npy, pool_q.npy) for `--bn qkeras`.
Measured on the machine in "cpu" (rcpps / rsqrtps tables differ between
vendors).
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


def tf_rsqrt(var, rank):
    """Keras BatchNormalization's `rsqrt(var + eps)` on an input of `rank`
    (1: (c,), 2: (3, c), 3: (2, 3, c)): out = 1 * inv + (0 - 0 * inv)."""
    c = var.size
    shape = {1: (), 2: (3,), 3: (2, 3)}[rank] + (c,)
    i = keras.Input(shape)
    bn = keras.layers.BatchNormalization(epsilon=EPS)
    m = keras.Model(i, bn(i))
    values = {"gamma": np.ones(c, np.float32), "beta": np.zeros(c, np.float32),
              "moving_mean": np.zeros(c, np.float32), "moving_variance": var}
    for w in bn.weights:
        w.assign(values[w.name])
    out = m.predict(np.ones((2,) + shape, np.float32), verbose=0)[0].reshape(-1, c)
    assert (out == out[0]).all()
    return out[0]


def kbn_model():
    """A DS-CNN-like model with Keras BatchNormalization layers (float32 in
    model.predict, TensorFlow's rsqrt) before quantized_relu(8,2). bn1 has
    a large variance (4096 + eps: rsqrt is just below 2^-6), gamma 64, means
    +-1 / +-2 and beta 0.5, so its exact outputs lie just off the relu's
    rounding ties and float32's rounding of x * inv decides the side; bn2
    has random statistics. Then an average pool over 6 positions (not a
    power of two) and its quantizer."""
    from qkeras import QActivation, QConv2D, QDepthwiseConv2D, QDense, quantized_bits, quantized_relu
    L = keras.layers
    qb = quantized_bits
    x = inp = keras.Input((8, 6, 1), name="x")
    x = QActivation(qb(8, 2, alpha=1), name="in_q")(x)
    x = QConv2D(8, (3, 3), strides=(2, 2), padding="same", kernel_quantizer=qb(8, 0, alpha=1),
                bias_quantizer=qb(8, 3, alpha=1), name="conv1")(x)          # 4x3x8
    x = L.BatchNormalization(name="bn1")(x)
    x = QActivation(quantized_relu(8, 2), name="relu1")(x)
    x = QDepthwiseConv2D((3, 3), padding="same", depthwise_quantizer=qb(8, 0, alpha=1),
                         bias_quantizer=qb(8, 3, alpha=1), name="dw1")(x)
    x = L.BatchNormalization(name="bn2")(x)
    x = QActivation(quantized_relu(8, 2), name="relu2")(x)
    x = L.AveragePooling2D((2, 3), name="pool")(x)                          # 2x1x8
    x = QActivation(qb(8, 2, alpha=1), name="pool_q")(x)
    x = L.Flatten(name="flat")(x)
    x = QDense(4, kernel_quantizer=qb(8, 0, alpha=1), bias_quantizer=qb(8, 3, alpha=1), name="out")(x)
    m = keras.Model(inp, x, name="kbn")
    rng = np.random.default_rng(11)
    for layer in m.layers:
        for w in layer.weights:
            if "kernel" in w.name or "bias" in w.name:
                w.assign(rng.uniform(-1, 1, w.shape).astype(np.float32))
    c = 8
    bn1 = {"gamma": np.full(c, 64.0), "beta": np.full(c, 0.5),
           "moving_mean": np.array([1.0, -1.0, 2.0, -2.0] * 2), "moving_variance": np.full(c, 4096.0)}
    bn2 = {"gamma": rng.uniform(0.5, 1.5, c), "beta": rng.uniform(-0.5, 0.5, c),
           "moving_mean": rng.uniform(-1, 1, c), "moving_variance": np.exp(rng.uniform(-2, 1, c))}
    for name, values in (("bn1", bn1), ("bn2", bn2)):
        for w in m.get_layer(name).weights:
            w.assign(values[w.name].astype(np.float32))
    return m


def write_kbn():
    d = os.path.join(OUT, "kbn")
    os.makedirs(d, exist_ok=True)
    m = kbn_model()
    m.save(os.path.join(d, "kbn.keras"))
    rng = np.random.default_rng(12)
    # Inputs on the input quantizer's grid (codes of 2^-5 in [-4, 4)).
    x = (rng.integers(-128, 128, (512, 8, 6, 1)) / 32.0).astype(np.float32)
    np.save(os.path.join(d, "inputs.npy"), x)
    np.save(os.path.join(d, "outputs.npy"), m.predict(x, verbose=0).astype(np.float32))
    for name in ("relu1", "relu2", "pool_q"):
        sub = keras.Model(m.inputs, m.get_layer(name).output)
        np.save(os.path.join(d, f"{name}.npy"), sub.predict(x, verbose=0).astype(np.float32))


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
    cases = []
    for rank in (1, 2, 3):
        for c in (5, 8, 13, 100, 1003):
            var = np.exp(rng.uniform(-8, 4, c)).astype(np.float32)
            inv = tf_rsqrt(var, rank)
            ve = (var + np.float32(EPS)).astype(np.float32)
            ieee = (np.float32(1) / np.sqrt(ve)).astype(np.float32)
            cases.append({"c": c, "rank": rank, "var_eps": ve.view(np.uint32).tolist(), "inv": inv.view(np.uint32).tolist(),
                          "ieee": int(np.sum(inv == ieee))})
            print("rsqrt", rank, c, "equal to IEEE 1/sqrt:", int(np.sum(inv == ieee)))
    with open(os.path.join(OUT, "rsqrt.json"), "w") as f:
        json.dump({"cpu": cpu(), "eps": EPS, "cases": cases}, f)
        f.write("\n")
    write_kbn()


if __name__ == "__main__":
    main()
