#!/usr/bin/env python3
"""Measure how TensorFlow's float32 Dense depends on the batch size.

An unquantized Dense after a model's last quantizer is evaluated by
TensorFlow's matrix product, whose summation order depends on the CPU, the
shapes and the batch size `model.predict` runs with, so no per-sample
emulation can equal it everywhere (README, "predict"; the notice
`predict` prints for such a layer). This prints, for three Dense shapes on
64 random samples, how many output values of `model.predict` at batch sizes
1, 7 and 64 equal those at the default 32; and, at batch size 1, how many
equal an in-order float32 sum without fused multiply-adds.

    python scripts/tf_matmul_order.py   # pinned versions: tests/golden/requirements.txt
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden"))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import numpy as np  # noqa: E402
import keras  # noqa: E402


def in_order(x, w, b):
    """sum_k x[:, k] * w[k, :] in input order, each product and sum rounded to float32, then + b."""
    acc = np.zeros((x.shape[0], w.shape[1]), np.float32)
    for k in range(w.shape[0]):
        acc = (acc + (x[:, k:k + 1] * w[k:k + 1, :]).astype(np.float32)).astype(np.float32)
    return (acc + b).astype(np.float32)


def main():
    rng = np.random.default_rng(2)
    for k, n in [(16, 5), (64, 16), (100, 10), (640, 64)]:
        x = rng.normal(0, 1, (64, k)).astype(np.float32)
        i = keras.Input((k,))
        d = keras.layers.Dense(n)
        m = keras.Model(i, d(i))
        ys = {bs: m.predict(x, verbose=0, batch_size=bs) for bs in (1, 7, 32, 64)}
        same = {bs: int((ys[bs] == ys[32]).sum()) for bs in (1, 7, 64)}
        w, b = d.get_weights()
        seq = int((in_order(x, w, b) == ys[1]).sum())
        print(f"Dense {k}->{n}: of {ys[32].size} values, equal to batch_size=32's: {same}; batch_size=1 equal to the in-order sum: {seq}")


if __name__ == "__main__":
    main()
