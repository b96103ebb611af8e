#!/usr/bin/env python3
"""QKeras's side of `cargo bench --bench load`: load_model of the same
files, then model_save_quantized_weights (the dict `qkhw weights` prints).
Best of 5, seconds per model. Needs the venv of tests/golden/requirements.txt."""
import os
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
import contextlib
import io
import sys
import time

import keras
from qkeras.utils import _add_supported_quantized_objects, model_save_quantized_weights

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "..", "examples", "models")
co = {}
_add_supported_quantized_objects(co)
for name in ["jet_tagger.keras", "jet_tagger.h5", "cnn_bn.keras"]:
    path = os.path.join(MODELS, name)
    best = float("inf")
    for _ in range(5):
        keras.backend.clear_session()
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            m = keras.models.load_model(path, custom_objects=co, compile=False)
            model_save_quantized_weights(m)
        best = min(best, time.perf_counter() - t)
    print(f"qkeras load/{name}/weights: {best * 1e3:.1f} ms", file=sys.stdout)
