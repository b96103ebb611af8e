#!/usr/bin/env python3
"""Golden `qkeras.utils.get_model_sparsity(model, per_layer=True)` of every
example model QKeras can reload, for `qkhw inspect`'s sparsity column.

Run (pinned versions in requirements.txt):
    KERAS_BACKEND=tensorflow python tests/golden/gen_sparsity.py
Writes tests/golden/sparsity.json: {file: {"total": x, "layers": [[name, x], ...]}}.
Models QKeras cannot reload (conv_bn_folded.keras, dense_bn_folded.keras,
zoo_hswish.keras; see examples/models/README.md) are left out.
"""
import contextlib
import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import keras  # noqa: E402
from qkeras.utils import _add_supported_quantized_objects, get_model_sparsity  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "..", "examples", "models")
co = {}
_add_supported_quantized_objects(co)
out = {}
for f in sorted(os.listdir(MODELS)):
    if not (f.endswith(".keras") or (f.endswith(".h5") and not f.endswith(".weights.h5"))):
        continue
    keras.backend.clear_session()
    try:
        m = keras.models.load_model(os.path.join(MODELS, f), custom_objects=co, compile=False)
        with contextlib.redirect_stdout(io.StringIO()):
            total, layers = get_model_sparsity(m, per_layer=True)
    except Exception as e:  # noqa: BLE001 - recorded, not hidden
        print(f"skip {f}: {type(e).__name__}: {str(e)[:120]}")
        continue
    out[f] = {"total": float(total), "layers": [[n, float(s)] for n, s in layers]}
    print(f, float(total))
with open(os.path.join(HERE, "sparsity.json"), "w") as fh:
    json.dump(out, fh, indent=1)
    fh.write("\n")
