"""What the cross-check generators (make_models.py, make_models2.py,
make_models3.py) share: training settings, the input and target
distributions, the record of dropped combinations, quantizer formatting and
the reload check. Import it after the TensorFlow environment is set up."""
import inspect
import re
import warnings

import numpy as np
import keras
from qkeras import QActivation
from qkeras.quantizers import quantized_bits, quantized_relu

N_TRAIN = 300
N_TEST = 200
EPOCHS = 2
BATCH = 32
LR = 3e-3

# model name -> [(what was tried, the error)]: combinations QKeras refused.
DROPPED = {}


def note_drop(model, what, err):
    DROPPED.setdefault(model, []).append((what, err))


def short_err(e):
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln).strip() for ln in str(e).splitlines()]
    lines = [ln for ln in lines if ln]
    key = [ln for ln in lines if ln.startswith("Exception encountered:") or ln.startswith("Layer '")
           or ln.startswith("Failed to convert")]
    return f"{type(e).__name__}: " + (key[-1] if key else (lines[0] if lines else ""))[:240]


def make_inputs(rng, n, shape):
    """Normal(0, 1.5) with ~5% of entries blown up x4 so quantizers saturate."""
    x = rng.normal(0.0, 1.0, size=(n, *shape))
    if len(shape) >= 2:
        # images / sequences: add a per-sample, per-channel common component so
        # that pooled/global features actually vary between samples (marginal
        # std stays 1.5: 0.6^2 + 0.8^2 = 1).
        common = rng.normal(0.0, 1.0, size=(n,) + (1,) * (len(shape) - 1) + (shape[-1],))
        x = 0.6 * common + 0.8 * x
    x = 1.5 * x
    big = rng.random(size=x.shape) < 0.05
    x = np.where(big, x * 4.0, x)
    return x.astype(np.float32)


def make_targets(rng, x, out_shape, kind):
    """Random targets from a random linear 'teacher' of the input (so the model
    learns an input-dependent map instead of collapsing to the mean, which pure
    noise targets + softmax cross-entropy tend to do)."""
    n = x.shape[0]
    flat = np.clip(x.reshape(n, -1), -4, 4)
    k = int(np.prod(out_shape))
    w = rng.normal(0.0, 1.0 / np.sqrt(flat.shape[1]), size=(flat.shape[1], k))
    t = flat @ w + 0.3 * rng.normal(size=(n, k))
    if kind == "softmax":
        return np.eye(k, dtype=np.float32)[np.argmax(t, axis=1)]
    t = t / (t.std(axis=0, keepdims=True) + 1e-6)
    return t.reshape(n, *out_shape).astype(np.float32)


def qb(*a, **k):
    return quantized_bits(*a, **k)


def qr(b, i, name=None, **kw):
    return QActivation(quantized_relu(b, i, **kw), name=name)


def fmt_q(q):
    """Short string for a quantizer object (from get_config, not __str__, which
    asserts for some quantizers such as quantized_hswish)."""
    if q is None:
        return None
    if isinstance(q, str):
        return q
    if not hasattr(q, "get_config"):
        return getattr(q, "__name__", str(q))
    try:
        cfg = q.get_config()
        sig = inspect.signature(type(q).__init__).parameters
    except Exception:
        return type(q).__name__
    args = []
    for k, v in cfg.items():
        if k in ("bits", "integer"):
            args.append(str(v))
            continue
        d = sig[k].default if k in sig else inspect.Parameter.empty
        if d is inspect.Parameter.empty or v != d:
            if k == "symmetric" and isinstance(v, bool):
                v = int(v)
            args.append(f"{k}={v!r}")
    return f"{type(q).__name__}(" + ",".join(args) + ")"


def _q(layer, attr):
    q = getattr(layer, attr + "_internal", None)
    if q is None:
        q = getattr(layer, attr, None)
    return fmt_q(q)


def as_list(y):
    return [np.asarray(t, dtype=np.float32) for t in (y if isinstance(y, (list, tuple)) else [y])]


def reload_check(path, custom, x, ys):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m2 = keras.models.load_model(path, custom_objects=custom, compile=False)
        y2 = as_list(m2.predict(x, batch_size=BATCH, verbose=0))
        return float(max(np.max(np.abs(a - b)) for a, b in zip(y2, ys)))
    except Exception as e:  # noqa: BLE001
        return f"keras.models.load_model FAILED ({short_err(e)})"
