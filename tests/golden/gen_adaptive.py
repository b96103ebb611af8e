#!/usr/bin/env python3
"""QAdaptiveActivation models and QKeras's predictions of them.

QKeras 1.2.1 cannot reload a QAdaptiveActivation from a .keras file
(load_qmodel fails), so the golden outputs come from the in-memory model,
trained past its ema_freeze_delay so that predict no longer moves the
averages (two predict calls are checked equal).

Run (pinned versions in requirements.txt):
    python tests/golden/gen_adaptive.py
Writes tests/golden/adaptive/:
  frozen.keras, inputs.npy (256 rows), outputs.npy   three adaptive layers
      (quantized_relu 6 bits; quantized_relu 5 bits with relu_neg_slope 0.25
      and po2_rounding; quantized_bits 6 bits, not symmetric) between QDense
      layers, trained 40 steps with ema_freeze_delay 10;
  moving.keras   the same layers saved while step <= ema_freeze_delay, which
      qkhw must refuse with the reason.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import numpy as np  # noqa: E402
import keras  # noqa: E402
from qkeras import QActivation, QAdaptiveActivation, QDense  # noqa: E402
from qkeras.quantizers import quantized_bits  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "adaptive")


def model(delay, seed):
    keras.utils.set_random_seed(seed)
    i = keras.Input((10,), name="x")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="qin")(i)
    h = QDense(12, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="d1")(h)
    h = QAdaptiveActivation("quantized_relu", 6, quantization_delay=2, ema_freeze_delay=delay, ema_decay=0.7, name="relu_a")(h)
    h = QDense(10, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="d2")(h)
    h = QAdaptiveActivation("quantized_relu", 5, relu_neg_slope=0.25, po2_rounding=True, quantization_delay=2, ema_freeze_delay=delay, ema_decay=0.7, name="leaky_a")(h)
    h = QDense(8, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="d3")(h)
    h = QAdaptiveActivation("quantized_bits", 6, symmetric=False, quantization_delay=2, ema_freeze_delay=delay, ema_decay=0.7, name="bits_a")(h)
    y = QDense(3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="out")(h)
    return keras.Model(i, y, name=f"adaptive_{delay}")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(320, 10)).astype(np.float32) * 2
    y = rng.normal(size=(320, 3)).astype(np.float32)
    m = model(10, 1)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    m.fit(x, y, batch_size=16, epochs=2, verbose=0)  # 40 steps > 10
    xs = rng.normal(size=(256, 10)).astype(np.float32) * 2
    a = m.predict(xs, batch_size=256, verbose=0)
    b = m.predict(xs, batch_size=256, verbose=0)
    assert np.array_equal(a, b), "the averages still move"
    for n in ("relu_a", "leaky_a", "bits_a"):
        l = m.get_layer(n)
        print(n, "step", float(l.step.numpy()), "ema", l.ema_min.numpy(), l.ema_max.numpy(), "integer", l.quantizer.integer.numpy())
    m.save(os.path.join(OUT, "frozen.keras"))
    np.save(os.path.join(OUT, "inputs.npy"), xs)
    np.save(os.path.join(OUT, "outputs.npy"), a)
    moving = model(1000, 2)
    moving.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    moving.fit(x[:64], y[:64], batch_size=16, epochs=1, verbose=0)
    moving.save(os.path.join(OUT, "moving.keras"))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
