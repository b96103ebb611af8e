#!/usr/bin/env python3
"""Golden QKeras `model.predict` outputs (and per-layer outputs) of the
example models, for checking qkhw's bit-exact inference.

Run (pinned versions in requirements.txt):
    KERAS_BACKEND=tensorflow python tests/golden/gen_predict.py [NAME ...]
Writes tests/golden/predict/NAME/ (see tests/golden/predict/README.md):
  inputs.npy   float32 (N, *input_shape): a few edge rows first (zeros, values
               on the first quantized layer's grid, +-8, +-100, +-1e-6), the
               rest standard normal like the training data of make_models.py
               (other seed)
  outputs.npy  float32 model.predict(inputs, batch_size=100)
  logits.npy   (only for models ending in Activation('softmax')) the output
               of the layer feeding the softmax, all N inputs, batch_size=100
  layer_II_NAME.npy  float32 output of every non-input layer (II = index in
               model.layers) for the first 32 inputs, batch_size=32 (8 for
               ad_autoencoder: LAYER_SAMPLES, meta.json "layer_samples")
  meta.json    shapes, layer list, source file
Every model is reloaded from its saved file (never rebuilt). QKeras cannot
reload four of them as is (see examples/models/README.md):
conv_bn_folded -> its .h5 is used; dense_bn_folded.keras and
ad_autoencoder.keras -> loaded under make_models.dense_bn_clone_patch;
zoo_hswish.keras -> loaded with
quantized_hswish.from_config dropping `keep_negative` (always True in its
constructor) and `post_training_scale` (None), which its __init__ refuses.
"""
import contextlib
import json
import os
import re
import shutil
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from qkeras.quantizers import quantized_hswish  # noqa: E402
from qkeras.utils import _add_supported_quantized_objects  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "predict")
sys.path.insert(0, os.path.join(ROOT, "examples", "models"))
from make_models import dense_bn_clone_patch  # noqa: E402

SEED = 20250  # rows come from default_rng((SEED, crc32(name))): not the
              # integer seeds make_models.py trained with
BATCH = 100
N_LAYER_SAMPLES = 32
MODELS = {  # name -> (file under examples/models, N)
    "jet_tagger": ("jet_tagger.keras", 1000),
    "jet_tagger_da": ("jet_tagger_da.keras", 1000),
    "po2_mlp": ("po2_mlp.keras", 256),
    "auto_po2_mlp": ("auto_po2_mlp.keras", 256),
    "binary_ternary": ("binary_ternary.keras", 256),
    "cnn_bn": ("cnn_bn.keras", 1000),
    "bn_variants": ("bn_variants.keras", 256),
    "conv_bn_folded": ("conv_bn_folded.h5", 256),
    "dense_bn_folded": ("dense_bn_folded.keras", 256),
    "pooling": ("pooling.keras", 256),
    "functional_add": ("functional_add.keras", 256),
    "merges": ("merges.keras", 256),
    "merges_conv": ("merges_conv.keras", 256),
    "dense_relu_tail": ("dense_relu_tail.keras", 256),
    "index_layers": ("index_layers.keras", 256),
    "two_heads": ("two_heads.keras", 256),
    "kernel_variants": ("kernel_variants.keras", 256),
    "zoo_conv1d": ("zoo_conv1d.keras", 256),
    "zoo_hswish": ("zoo_hswish.keras", 256),
    "zoo_conv2d": ("zoo_conv2d.keras", 256),
    "zoo_rnn": ("zoo_rnn.keras", 256),
    "ad_autoencoder": ("ad_autoencoder.keras", 256),
    "conv_transpose_pad": ("conv_transpose_pad.keras", 256),
    "act_alpha": ("act_alpha.keras", 256),
    "two_inputs": ("two_inputs.keras", 256),
    "const_outputs": ("const_outputs.keras", 256),
    "stream_cnn": ("stream_cnn.keras", 256),
    "dscnn_kws": ("dscnn_kws.keras", 160),
    "resnet8": ("resnet8.keras", 160),
    "stream_resnet": ("stream_resnet.keras", 256),
    "stream_two_images": ("stream_two_images.keras", 256),
    "stream_drop_rows": ("stream_drop_rows.keras", 256),
    "avg_divide": ("avg_divide.keras", 256),
    "avg_merge": ("avg_merge.keras", 400),
    "rnn_simple": ("rnn_simple.keras", 256),
    "rnn_lstm": ("rnn_lstm.keras", 256),
    "rnn_gru": ("rnn_gru.keras", 256),
    "rnn_bilstm": ("rnn_bilstm.keras", 256),
    "dscnn_bn": ("dscnn_bn.keras", 512),
}
# Fewer per-layer samples for the big models (file size); the key
# layer_samples in meta.json then gives their number.
LAYER_SAMPLES = {"ad_autoencoder": 8, "dscnn_kws": 2, "resnet8": 1, "dscnn_bn": 256}
CO = {}
_add_supported_quantized_objects(CO)


@contextlib.contextmanager
def hswish_patch():
    """Let quantized_hswish.from_config drop the keys its __init__ refuses."""
    own = quantized_hswish.__dict__.get("from_config")
    base = quantized_hswish.from_config.__func__

    def from_config(cls, config):
        drop = ("keep_negative", "post_training_scale")
        return base(cls, {k: v for k, v in config.items() if k not in drop})

    quantized_hswish.from_config = classmethod(from_config)
    try:
        yield
    finally:
        if own is None:
            del quantized_hswish.from_config
        else:
            quantized_hswish.from_config = own


def load(name, fname):
    keras.backend.clear_session()  # stable automatic names (zoo_rnn)
    patch = {"dense_bn_folded": dense_bn_clone_patch,
             "ad_autoencoder": dense_bn_clone_patch,
             "zoo_hswish": hswish_patch}.get(name, contextlib.nullcontext)
    with patch():
        return keras.models.load_model(
            os.path.join(ROOT, "examples", "models", fname),
            custom_objects=dict(CO), compile=False)


def grid_values(model):
    """Values exactly on the grid of the first quantized layer's first
    quantizer (the kernel's): k * 2^(integer - bits + keep_negative) over the
    whole range for quantized_bits; +-2^e (e = -5..1) and 0 otherwise
    (po2, binary)."""
    for layer in model.layers:
        qs = [q for q in getattr(layer, "get_quantizers", list)() if q]
        if not qs:
            continue
        q = qs[0]
        if type(q).__name__ == "quantized_bits":
            kn = int(bool(q.keep_negative))
            step = 2.0 ** (q.integer - q.bits + kn)
            lo = -(2 ** (q.bits - kn)) if kn else 0
            return np.arange(lo, 2 ** (q.bits - kn)) * step
        break
    p = 2.0 ** np.arange(-5, 2)
    return np.concatenate([[0.0], p, -p])


def make_inputs(name, model, n, shape=None):
    """Training distribution (standard normal, as make_models.train) with a
    few edge rows first (<= 10% of n); `shape`: one input's (default: the
    model's only input)."""
    shape = shape or tuple(model.input_shape[1:])
    size = int(np.prod(shape))
    rng = np.random.default_rng((SEED, zlib.crc32(name.encode())))
    x = rng.normal(size=(n, size))
    g = grid_values(model)
    # up to 4 rows walking through the grid, then grid max and min rows
    k = min(4, -(-len(g) // size))
    edges = [np.zeros(size)] + [np.resize(np.roll(g, -i * size), size)
                                for i in range(k)]
    if k == 1:
        edges.append(np.resize(g[::-1], size))
    edges += [np.full(size, g.max()), np.full(size, g.min())]
    specials = np.array([0.0, 8, -8, 100, -100, 1e-6, -1e-6])
    edges += [np.full(size, v) for v in specials[1:]]
    mixed = rng.normal(size=size)  # scattered specials in a normal row
    pick = rng.random(size) < 0.3
    mixed[pick] = rng.choice(np.concatenate([specials, g]), pick.sum())
    edges.append(mixed)
    assert len(edges) <= n // 10
    x[:len(edges)] = edges
    return x.reshape((n,) + shape).astype(np.float32), len(edges)


def softmax_logits_layer(model):
    """The layer feeding a final float Activation('softmax'), else None."""
    last = model.layers[-1]
    if not (type(last) is keras.layers.Activation
            and getattr(last.activation, "__name__", "") == "softmax"):
        return None
    return last.input._keras_history.operation


def save(path, arr):
    np.save(path, np.ascontiguousarray(arr, dtype=np.float32))


def generate(name):
    fname, n = MODELS[name]
    model = load(name, fname)
    out_dir = os.path.join(OUT, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    # Several inputs: inputs.npy, inputs.1.npy, ... in model order (what
    # `qkhw predict --input` takes in that order).
    shapes = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
    xs, n_edge = [], 0
    for k, shp in enumerate(shapes):
        xk, ne = make_inputs(name if k == 0 else f"{name}.{k}", model, n, tuple(shp[1:]))
        xs.append(xk)
        n_edge = max(n_edge, ne)
    x = xs if len(xs) > 1 else xs[0]
    ys = model.predict(x, batch_size=BATCH, verbose=0)
    # Several outputs: outputs.npy, outputs.1.npy, ... (qkhw predict's
    # naming of extra outputs).
    ys = ys if isinstance(ys, list) else [ys]
    for k, xk in enumerate(xs):
        save(os.path.join(out_dir, "inputs.npy" if k == 0 else f"inputs.{k}.npy"), xk)
    for k, yk in enumerate(ys):
        save(os.path.join(out_dir, "outputs.npy" if k == 0 else f"outputs.{k}.npy"), yk)

    logits_layer = softmax_logits_layer(model)
    if logits_layer is not None:
        sub = keras.Model(model.inputs, logits_layer.output)
        save(os.path.join(out_dir, "logits.npy"),
             sub.predict(x, batch_size=BATCH, verbose=0))

    idx = [i for i, l in enumerate(model.layers)
           if not isinstance(l, keras.layers.InputLayer)]
    probe = keras.Model(model.inputs, [model.layers[i].output for i in idx])
    n_layer = LAYER_SAMPLES.get(name, N_LAYER_SAMPLES)
    head = [xk[:n_layer] for xk in xs] if len(xs) > 1 else xs[0][:n_layer]
    outs = probe.predict(head, batch_size=n_layer, verbose=0)
    layers = []
    for i, o in zip(idx, outs):
        layer = model.layers[i]
        f = f"layer_{i:02d}_{re.sub(r'[^A-Za-z0-9_.-]', '_', layer.name)}.npy"
        save(os.path.join(out_dir, f), o)
        layers.append({"index": i, "name": layer.name,
                       "class": type(layer).__name__,
                       "shape": list(o.shape[1:]), "file": f})
    last_diff = min(float(np.max(np.abs(outs[-1] - yk[:n_layer])))
                    for yk in ys if yk.shape[1:] == outs[-1].shape[1:])

    meta = {"model": name, "source_file": f"examples/models/{fname}",
            "n": n, "edge_rows": n_edge, "batch_size": BATCH, "input_shape": list(xs[0].shape[1:]),
            "input_shapes": [list(xk.shape[1:]) for xk in xs],
            "output_shape": list(ys[0].shape[1:]),
            "output_shapes": [list(yk.shape[1:]) for yk in ys], "layers": layers,
            "last_activation": "softmax" if logits_layer else None,
            "logits_layer": logits_layer.name if logits_layer else None}
    if n_layer != N_LAYER_SAMPLES:
        meta["layer_samples"] = n_layer
    with open(os.path.join(out_dir, "meta.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
        fh.write("\n")
    print(f"{name:16s} N={n:4d} in={[tuple(xk.shape[1:]) for xk in xs]} "
          f"out={[tuple(yk.shape[1:]) for yk in ys]} layers={len(layers)} "
          f"|last layer (batch {n_layer}) - predict (batch 100)| = {last_diff:g}")


def main(argv):
    tf.config.experimental.enable_op_determinism()
    tf.get_logger().setLevel("ERROR")  # predict-retracing warnings
    keras.utils.set_random_seed(SEED)
    names = argv[1:] or list(MODELS)
    for name in names:
        generate(name)


if __name__ == "__main__":
    main(sys.argv)
