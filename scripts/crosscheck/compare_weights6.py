"""`qkhw weights --json` against QKeras's model_save_quantized_weights.
Usage: python compare_weights6.py OUT NAME... (OUT/NAME.keras, and
OUT/NAME.w.json from `qkhw weights OUT/NAME.keras --json OUT/NAME.w.json`)."""
import os, sys, json, contextlib, io
os.environ.update(KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1", TF_ENABLE_ONEDNN_OPTS="0")
import numpy as np, keras
from qkeras.utils import _add_supported_quantized_objects, model_save_quantized_weights
c = {}; _add_supported_quantized_objects(c)
def flat(d, pre=""):
    out = {}
    if isinstance(d, dict):
        if "dtype" in d and "data" in d:
            return {pre: np.asarray(d["data"], dtype=np.float64).reshape(d["shape"])}
        for k, v in d.items(): out.update(flat(v, pre + "/" + str(k)))
    elif isinstance(d, (list, tuple)):
        for i, v in enumerate(d): out.update(flat(v, pre + f"[{i}]"))
    elif isinstance(d, (int, float, bool)) and not isinstance(d, bool):
        out[pre] = np.asarray(d, dtype=np.float64)
    elif d is None or isinstance(d, (str, bool)):
        out[pre] = d
    else:
        out[pre] = np.asarray(keras.ops.convert_to_numpy(d), dtype=np.float64)
    return out
out = sys.argv[1]
for n in sys.argv[2:]:
    m = keras.models.load_model(os.path.join(out, f"{n}.keras"), custom_objects=c, compile=False)
    with contextlib.redirect_stdout(io.StringIO()):
        qw = model_save_quantized_weights(m)
    a = flat(qw); b = flat(json.load(open(os.path.join(out, f"{n}.w.json")))["weights"])
    bad = []
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b: bad.append(f"{k}: only in {'qkeras' if k in a else 'qkhw'}"); continue
        x, y = a[k], b[k]
        if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
            if x.shape != y.shape or not np.array_equal(x.astype(np.float32), y.astype(np.float32)):
                bad.append(f"{k}: shape {x.shape} vs {y.shape} maxdiff {np.abs(x.astype(np.float32)-y.astype(np.float32)).max() if x.shape==y.shape else 'n/a'}")
        elif x != y and not (isinstance(x, np.ndarray) or isinstance(y, np.ndarray)):
            bad.append(f"{k}: {x!r} vs {y!r}")
        elif isinstance(x, np.ndarray) != isinstance(y, np.ndarray):
            bad.append(f"{k}: type {type(x).__name__} vs {type(y).__name__}")
    print(n, f"{len(a)} keys qkeras, {len(b)} qkhw; mismatches: {len(bad)}", bad[:5], flush=True)
