#!/usr/bin/env python3
"""Check `qkhw weights` against QKeras on any model files (yours, held-out):
loads each with QKeras, runs model_save_quantized_weights, runs
`qkhw weights --json`, and compares every key and float32 bit.

    KERAS_BACKEND=tensorflow python tests/golden/compare_weights.py [--qkhw PATH] MODEL...

Exit status 1 if any model differs, else 2 if QKeras could not load or
export some model (reported as such: nothing was compared for it), else 0.
QKeras's model_save_quantized_weights fails on every Sequential model
(qtools reads `input_shape`, which Keras 3 layers lack); such a model is
exported as the functional model of the same layers, which holds the same
weights.
"""
import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from qkeras.utils import _add_supported_quantized_objects, model_save_quantized_weights  # noqa: E402


def encode(v):
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)):
        return [encode(x) for x in v]
    a = np.asarray(keras.ops.convert_to_numpy(v) if hasattr(v, "shape") and not isinstance(v, np.ndarray) else v)
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.astype(np.float32).ravel()}


def diff(path, gold, ours):
    if isinstance(gold, dict) and "dtype" in gold:
        if list(gold["shape"]) != list(ours["shape"]):
            return f"{path}: shape {gold['shape']} vs qkhw {ours['shape']}"
        o = np.array([float(x) if not isinstance(x, str) else float(x) for x in ours["data"]], dtype=np.float32)
        g = gold["data"]
        bad = ~((g.view(np.uint32) == o.view(np.uint32)) | (np.isnan(g) & np.isnan(o)))
        if bad.any():
            i = int(np.argmax(bad))
            return f"{path}[{i}]: QKeras {g[i]!r} vs qkhw {o[i]!r} ({int(bad.sum())} of {g.size} differ)"
        return None
    if isinstance(gold, dict):
        if list(gold) != list(ours):
            return f"{path}: keys {list(gold)} vs qkhw {list(ours)}"
        for k in gold:
            d = diff(f"{path}.{k}", gold[k], ours[k])
            if d:
                return d
        return None
    if isinstance(gold, list):
        if len(gold) != len(ours):
            return f"{path}: {len(gold)} entries vs qkhw {len(ours)}"
        for i, (a, b) in enumerate(zip(gold, ours)):
            d = diff(f"{path}[{i}]", a, b)
            if d:
                return d
        return None
    return None if gold == ours else f"{path}: QKeras {gold!r} vs qkhw {ours!r}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qkhw", default=os.path.join(os.path.dirname(__file__), "..", "..", "target", "release", "qkhw"))
    ap.add_argument("models", nargs="+")
    a = ap.parse_args()
    co = {}
    _add_supported_quantized_objects(co)
    failed = unchecked = 0
    for m in a.models:
        keras.backend.clear_session()
        def export(model):
            with contextlib.redirect_stdout(io.StringIO()):
                return {k: {kk: encode(vv) for kk, vv in d.items()} for k, d in model_save_quantized_weights(model).items()}

        try:
            model = keras.models.load_model(m, custom_objects=co, compile=False)
            try:
                gold = export(model)
            except AttributeError:
                if not isinstance(model, keras.Sequential):
                    raise
                gold = export(keras.Model(model.inputs, model.outputs))
        except Exception as e:  # noqa: BLE001
            print(f"{m}: NOT COMPARED: QKeras cannot load or export it ({type(e).__name__}: {str(e)[:100]})")
            unchecked += 1
            continue
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            r = subprocess.run([a.qkhw, "weights", m, "--json", f.name], capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{m}: qkhw failed: {r.stderr.strip()}")
                failed += 1
                continue
            ours = json.load(open(f.name))["weights"]
        d = diff(os.path.basename(m), gold, ours)
        n = sum(x["data"].size for l in gold.values() for v in l.values() for x in (v if isinstance(v, list) else [v]) if isinstance(x, dict))
        print(f"{m}: {'OK' if d is None else 'DIFFERS'} ({len(gold)} layers, {n} values){'' if d is None else ': ' + d}")
        failed += d is not None
    if unchecked:
        print(f"{unchecked} of {len(a.models)} models not compared")
    sys.exit(1 if failed else 2 if unchecked else 0)


if __name__ == "__main__":
    main()
