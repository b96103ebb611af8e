"""What the cross-check generators (make_models.py, make_models2.py,
make_models3.py) share: training settings, the input and target
distributions, the record of dropped combinations, quantizer formatting and
the reload check. Import it after the TensorFlow environment is set up."""
import inspect
import os
import re
import traceback
import warnings

import numpy as np
import keras
from qkeras import QActivation
from qkeras.quantizers import quantized_bits, quantized_relu
from qkeras.utils import _add_supported_quantized_objects

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


def ends_in_softmax(model):
    last = model.layers[-1]
    cls = type(last).__name__
    if cls == "Softmax":
        return True
    return cls == "Activation" and last.get_config().get("activation") == "softmax"


def run_batch(out, only, models, seed_base, legacy_h5, describe_layer, readme_head, notes, static_drops):
    """Train, save and predict each model of a batch into `out` (see the
    generators' docstrings for the files), then write README.txt: `readme_head`,
    one entry per model, `notes`, the combinations dropped."""
    os.makedirs(out, exist_ok=True)
    custom = {}
    _add_supported_quantized_objects(custom)
    readme = []
    failures = []
    for idx, (name, builder) in enumerate(models):
        if only and name not in only:
            continue
        seed = seed_base + idx
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        try:
            model, kind = builder(name)
            in_shape = tuple(model.input_shape[1:])
            out_shapes = [tuple(s[1:]) for s in
                          (model.output_shape if isinstance(model.output_shape, list) else [model.output_shape])]
            xtr = make_inputs(rng, N_TRAIN, in_shape)
            ytr = [make_targets(rng, xtr, s, kind) for s in out_shapes]
            loss = "categorical_crossentropy" if kind == "softmax" else "mse"
            model.compile(optimizer=keras.optimizers.Adam(LR),
                          loss=[loss] * len(ytr) if len(ytr) > 1 else loss)
            model.fit(xtr, ytr if len(ytr) > 1 else ytr[0], epochs=EPOCHS, batch_size=BATCH,
                      verbose=0, shuffle=True)
            path = os.path.join(out, name + ".keras")
            model.save(path)
            x = make_inputs(rng, N_TEST, in_shape)
            ys = predict_checked(model, x)
            np.save(os.path.join(out, name + ".x.npy"), x)
            for k, y in enumerate(ys):
                np.save(os.path.join(out, name + (".y.npy" if k == 0 else f".y.{k}.npy")), y)
            inp = model.layers[0].input if isinstance(model, keras.Sequential) else model.input
            has_logits, logit_note = save_logits(model, inp, x, ys, out, name)
            reload_diff = reload_check(path, custom, x, ys)
            h5_note = save_legacy_h5(model, x, ys, out, name, custom) if name in legacy_h5 else None
            layers_desc = " > ".join(describe_layer(l) for l in model.layers
                                     if type(l).__name__ != "InputLayer")
            stats = "; ".join(f"out{k}: y[min,max]=[{y.min():.4g},{y.max():.4g}] unique={len(np.unique(np.round(y, 6)))} "
                              f"std={float(y.std(0).mean()):.3g}" for k, y in enumerate(ys))
            print(f"{name}: in={in_shape} out={out_shapes} kind={kind} {stats} reload_maxdiff={reload_diff}"
                  + logit_note + (f" | {h5_note}" if h5_note else ""), flush=True)
            drops = DROPPED.get(name, [])
            files = [f"{name}.keras", f"{name}.x.npy", f"{name}.y.npy"] + \
                [f"{name}.y.{k}.npy" for k in range(1, len(ys))] + \
                ([f"{name}.logits.npy"] if has_logits else []) + \
                ([f"{name}_legacy.h5"] if h5_note and "written" in h5_note else [])
            readme.append(
                f"{name}  ({'Sequential' if isinstance(model, keras.Sequential) else 'functional'})\n"
                f"  input shape: {in_shape}   output shape(s): {', '.join(map(str, out_shapes))}   output: {kind}\n"
                f"  purpose: {builder.__doc__.strip().splitlines()[0]}\n"
                f"  layers: {layers_desc}\n"
                f"  files: {' '.join(files)}\n"
                f"  dropped: " + ("; ".join(f"{w} -> {e}" for w, e in drops) if drops else "none")
                + f"\n  reload check max|diff| (.keras): {reload_diff}\n"
                + (f"  legacy h5: {h5_note}\n" if h5_note else ""))
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            failures.append((name, short_err(e)))
            print(f"{name}: FAILED {e}", flush=True)

    write_readme(out, readme_head, readme, notes, static_drops, failures)


def predict_checked(model, x):
    """model.predict as a list of outputs, run twice: finite and the same."""
    ys = as_list(model.predict(x, batch_size=BATCH, verbose=0))
    ys_again = as_list(model.predict(x, batch_size=BATCH, verbose=0))
    for y in ys:
        if not np.all(np.isfinite(y)):
            raise RuntimeError("non-finite predictions")
    if any(not np.array_equal(a, b) for a, b in zip(ys, ys_again)):
        raise RuntimeError("predict is not deterministic")
    return ys


def save_logits(model, inp, x, ys, out, name):
    """For a model ending in a softmax, NAME.logits.npy (the layer before
    it): (whether written, the README note)."""
    if not ends_in_softmax(model):
        return False, ""
    sub = keras.Model(inp, model.layers[-2].output)
    z = np.asarray(sub.predict(x, batch_size=BATCH, verbose=0), dtype=np.float32)
    np.save(os.path.join(out, name + ".logits.npy"), z)
    sm = np.exp(z - z.max(1, keepdims=True))
    sm = sm / sm.sum(1, keepdims=True)
    return True, f" softmax(logits)-y max|diff|={float(np.abs(sm - ys[0]).max()):.2g}"


def save_legacy_h5(model, x, ys, out, name, custom):
    """NAME_legacy.h5 and its reload check, or why Keras refused it."""
    h5 = os.path.join(out, name + "_legacy.h5")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save(h5)
        return f"{name}_legacy.h5 written; reload check max|diff|: {reload_check(h5, custom, x, ys)}"
    except Exception as e:  # noqa: BLE001
        return f"legacy .h5 save REFUSED ({short_err(e)})"


def write_readme(out, readme_head, readme, notes, static_drops, failures):
    """README.txt of a batch: the head, one entry per model, the notes, the
    combinations QKeras or Keras refused and the models that failed."""
    with open(os.path.join(out, "README.txt"), "w") as f:
        f.write(readme_head)
        for r in readme:
            f.write(r + "\n")
        f.write(notes)
        if static_drops:
            f.write("Combinations dropped while writing the script (QKeras or Keras rejected them):\n")
            for w, e in static_drops:
                f.write(f"  - {w}: {e}\n")
        if failures:
            f.write("\nModels that FAILED entirely (QKeras could not build, train, save or reload them):\n")
            for n, e in failures:
                f.write(f"  - {n}: {e}\n")
    print("failures:", failures)
