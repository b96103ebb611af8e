#!/usr/bin/env python3
"""QKeras (TensorFlow eager, CPU, one thread) on 1M float32 values: the
peer of `cargo bench --bench quantize`. Prints values/s per quantizer.
Needs the venv of tests/golden/requirements.txt."""
import os
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
import time
import numpy as np
import tensorflow as tf
from qkeras import quantizers as qz

x = tf.constant(np.random.default_rng(0).normal(0, 1.5, 1_000_000).astype(np.float32))
for spec in ["quantized_bits(8,0,1)", "quantized_po2(4)", "quantized_relu(6)"]:
    q = qz.get_quantizer(spec)
    q(x).numpy()  # warm up
    best = float("inf")
    for _ in range(10):
        t = time.perf_counter()
        q(x).numpy()
        best = min(best, time.perf_counter() - t)
    print(f"qkeras {spec}: {1e6 / best / 1e6:.1f} M values/s")
