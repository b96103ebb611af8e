"""What the untrained cross-check generators (make_models6.py,
make_models7.py) share: quantizer shorthands, the random weights and
batch-norm statistics, the input distribution, and the loop that writes
each model with its inputs and QKeras's predictions. Import it after
`_tf_env` (TensorFlow's environment)."""
import os
import sys
import traceback

import numpy as np

import keras
from qkeras import QActivation, QBatchNormalization
from qkeras.quantizers import quantized_bits, quantized_relu
from qkeras.utils import _add_supported_quantized_objects


def qb(b, i, **kw):
    kw.setdefault("alpha", 1)
    return quantized_bits(b, i, **kw)


def relu(b, i, name=None, **kw):
    return QActivation(quantized_relu(b, i, **kw), name=name)


def bn(name):
    return QBatchNormalization(name=name)


def randomize(model, rng):
    """Scale kernels up (glorot init is tiny next to 4-6 bit steps), random biases and
    random batch-norm statistics."""
    for layer in model.layers:
        ws = layer.weights
        if not ws:
            continue
        vals = []
        for w in ws:
            v = np.asarray(w.numpy())
            n = w.path if hasattr(w, "path") else w.name
            n = n.split("/")[-1]
            if "moving_mean" in n:
                v = rng.normal(0, 0.5, v.shape)
            elif "moving_variance" in n:
                v = rng.uniform(0.3, 2.0, v.shape)
            elif "gamma" in n:
                v = rng.uniform(0.5, 1.5, v.shape)
            elif "beta" in n:
                v = rng.normal(0, 0.3, v.shape)
            elif "bias" in n:
                v = rng.normal(0, 0.3, v.shape)
            elif "kernel" in n:
                v = v * 1.6
            vals.append(v.astype(np.float32))
        layer.set_weights(vals)


def make_x(rng, n, shape):
    x = rng.normal(0, 1.0, (n, *shape))
    if len(shape) >= 2:
        x = 0.7 * x + 0.7 * rng.normal(0, 1.0, (n,) + (1,) * (len(shape) - 1) + (shape[-1],))
    x = 1.3 * x
    x = np.where(rng.random(x.shape) < 0.04, 3.5 * x, x)
    return x.astype(np.float32)


def generate(models, script, seed_base):
    """Write each of `models` ((name, builder) pairs) to the folder the
    command line names, seeded `seed_base + index`."""
    if len(sys.argv) < 2:
        sys.exit(f"usage: {script} OUT [NAME ...]")
    out = sys.argv[1]
    only = set(sys.argv[2:])
    os.makedirs(out, exist_ok=True)
    custom = {}
    _add_supported_quantized_objects(custom)
    for idx, (name, fn) in enumerate(models):
        if only and name not in only:
            continue
        try:
            keras.backend.clear_session()
            keras.utils.set_random_seed(seed_base + idx)
            rng = np.random.default_rng(seed_base + idx)
            model = fn()
            randomize(model, rng)
            ins = model.inputs
            xs = [make_x(rng, 200, tuple(t.shape[1:])) for t in ins]
            feed = xs if len(xs) > 1 else xs[0]
            y = np.asarray(model.predict(feed, batch_size=50, verbose=0), dtype=np.float32)
            y2 = np.asarray(model.predict(feed, batch_size=50, verbose=0), dtype=np.float32)
            assert np.array_equal(y, y2) and np.all(np.isfinite(y))
            path = os.path.join(out, name + ".keras")
            model.save(path)
            m2 = keras.models.load_model(path, custom_objects=custom, compile=False)
            yr = np.asarray(m2.predict(feed, batch_size=50, verbose=0), dtype=np.float32)
            for k, x in enumerate(xs):
                np.save(os.path.join(out, name + (".x.npy" if k == 0 else f".x.{k}.npy")), x)
            np.save(os.path.join(out, name + ".y.npy"), y)
            note = ""
            if type(model.layers[-1]).__name__ == "Activation" and \
                    model.layers[-1].get_config()["activation"] == "softmax":
                sub = keras.Model(model.inputs, model.layers[-2].output)
                z = np.asarray(sub.predict(feed, batch_size=50, verbose=0), dtype=np.float32)
                np.save(os.path.join(out, name + ".logits.npy"), z)
                note = f" logits range [{z.min():.3g},{z.max():.3g}] unique={len(np.unique(z))}"
            print(f"{name}: inputs={[tuple(t.shape[1:]) for t in ins]} names={[t.name for t in ins]} "
                  f"out={y.shape} y[{y.min():.3g},{y.max():.3g}] unique={len(np.unique(y))} "
                  f"reload maxdiff={float(np.abs(yr - y).max())} params={model.count_params()}{note}",
                  flush=True)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            print(f"{name}: FAILED {e}", flush=True)
