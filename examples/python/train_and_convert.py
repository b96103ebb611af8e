#!/usr/bin/env python3
"""Train a small QKeras model for a few steps, then, from the same
notebook-style session: the bit-exact golden model, the hardware weights,
Verilog with folded layers, and a Verilator proof that the RTL equals the
golden model.

    pip install .  (from the repository root; then pip install "qkeras-v3==1.2.1" "keras==3.15.1" "tensorflow==2.21.0")
    python examples/python/train_and_convert.py [OUT_DIR]

Verification needs Verilator (apt-get install verilator).
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras import QActivation, QDense  # noqa: E402
from qkeras.quantizers import quantized_bits, quantized_relu  # noqa: E402

import qkhw  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "py_tagger_rtl"

# 1. A QKeras model, trained for a few steps on random data.
keras.utils.set_random_seed(0)
inp = L.Input((16,), name="features")
h = QActivation(quantized_bits(10, 4, alpha=1), name="qin")(inp)
h = QDense(32, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="fc1")(h)
h = QActivation(quantized_relu(6, 2), name="relu1")(h)
h = QDense(5, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="fc2")(h)
model = keras.Model(inp, h, name="py_tagger")
x = np.random.default_rng(0).normal(size=(512, 16)).astype(np.float32)
y = keras.utils.to_categorical(np.random.default_rng(1).integers(0, 5, 512), 5)
model.compile(optimizer="adam", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
model.fit(x, y, epochs=2, batch_size=64, verbose=0)

# 2. Convert: the in-memory model, read by qkhw's own reader.
m = qkhw.load(model)
print(m)

# 3. The golden model equals QKeras bit for bit.
golden = m.predict(x)
assert np.array_equal(golden.view(np.uint32), model.predict(x, verbose=0).view(np.uint32))
print("predict: equal to model.predict on all", golden.size, "values")

# 4. Per-layer configuration, hls4ml style: fold every layer 4 times.
cfg = qkhw.config_from_model(m, granularity="model", reuse_factor=4, strategy="resource")

# 5. Verilog, then a Verilator run against the golden model.
design = m.write("verilog", out, force=True, config=cfg)
print(f"{len(design.files)} files -> {design.path}; latency {design.interface['latency_cycles']} cycles, II {design.interface['initiation_interval']}")
report = m.verify("verilog", x=x[:200], random=500, design=design)
print(report.text)
report.raise_for_mismatch()
