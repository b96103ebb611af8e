#!/usr/bin/env python3
"""The tiny QKeras model behind the snapshot tests (tests/snapshots.rs).

Small enough that its generated Verilog, C and HLS fit in a reviewable
snapshot, yet it takes the main emitters: an input quantizer, a
quantized_bits dense layer (constant multiplies), a quantized_relu
requantizer and a po2 dense layer (shifts). Weights are drawn from a fixed
seed. Run with the pinned QKeras (tests/golden/requirements.txt):
    python tests/snapshots/make_tiny.py
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from qkeras import QActivation, QDense  # noqa: E402
from qkeras.quantizers import quantized_bits, quantized_po2, quantized_relu  # noqa: E402

keras.utils.set_random_seed(7)
x = keras.Input((4,), name="x")
h = QActivation(quantized_bits(6, 2, 1, alpha=1), name="in_q")(x)
h = QDense(3, kernel_quantizer=quantized_bits(4, 0, 1, alpha=1),
           bias_quantizer=quantized_bits(4, 0, 1, alpha=1), name="fc1")(h)
h = QActivation(quantized_relu(4, 2), name="relu1")(h)
y = QDense(2, kernel_quantizer=quantized_po2(4), bias_quantizer=quantized_bits(6, 2, 1, alpha=1), name="fc2")(h)
model = keras.Model(x, y, name="tiny")
rng = np.random.default_rng(7)
model.set_weights([rng.uniform(-1, 1, w.shape).astype("float32") for w in model.get_weights()])
model.save(os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny.keras"))
