#!/usr/bin/env python3
"""Small real QKeras models written by the Keras 2 stack (legacy HDF5).

Keras 2 counterpart of examples/models/make_models.py: the same kind of
models, but built, trained and saved with QKeras 0.9.0 on tf.keras 2.14, so
that the Rust HDF5 reader is tested on files written by Keras 2 / h5py.

Set up (exact pins in requirements.txt beside this script):
    python3 -m venv /opt/qk2
    /opt/qk2/bin/pip install -r examples/models/keras2/requirements.txt

Run (from the repository root; writes beside this script):
    /opt/qk2/bin/python examples/models/keras2/make_keras2.py [NAME ...]

(TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 TF_ENABLE_ONEDNN_OPTS=0
CUDA_VISIBLE_DEVICES=-1 are set by the script unless already set.)

Every model is built with fixed seeds, trained 2 epochs on 256 synthetic
samples (Adam, lr 0.01) and written as:
  NAME.h5             model.save("NAME.h5"): Keras 2 full-model HDF5
                      (root attrs model_config, keras_version, backend,
                      training_config; group model_weights)
  NAME.weights.json   qkeras.utils.model_save_quantized_weights(model) of the
                      model reloaded from NAME.h5 with QKeras's custom
                      objects ("source": "reloaded"), or of the trained
                      in-memory model if that fails ("source": "in_memory")
plus, for k2_jet_tagger, k2_jet_tagger_json.json (model.to_json()) and
k2_jet_tagger_json.h5 (model.save_weights: Keras 2 weights-only HDF5).

Values in the JSON, recursively: bool -> bool, None -> null, list/tuple ->
list, str -> str, dict -> object (order kept); anything else (numpy arrays
and scalars, tf tensors, python int/float) ->
{"dtype": np.asarray(v).dtype.name, "shape": [...],
 "data": [float(x) for x in flat C-order values]}, NaN/inf as "nan"/"inf"/
"-inf".

Note: QKeras 0.9.0's model_save_quantized_weights works in place (it calls
layer.set_weights with the quantized weights and does not clone the model),
so it is only ever called after the model has been saved.
"""
import json
import os
import sys
import zlib

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")

import numpy as np  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from golden_json import encode  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow import keras  # noqa: E402
from tensorflow.keras import layers as L  # noqa: E402
import keras as keras_pkg  # noqa: E402  (only for its __version__)
import qkeras  # noqa: E402
from qkeras import (  # noqa: E402
    QActivation, QBatchNormalization, QConv2D, QDense, QDepthwiseConv2D)
from qkeras.quantizers import (  # noqa: E402
    quantized_bits, quantized_po2, quantized_relu)
from qkeras.utils import (  # noqa: E402
    _add_supported_quantized_objects, model_save_quantized_weights,
    quantized_model_from_json)

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = "examples/models/keras2/make_keras2.py"
SEED = 4321
N_SAMPLES = 256
EPOCHS = 2

CUSTOM_OBJECTS = {}
_add_supported_quantized_objects(CUSTOM_OBJECTS)

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.experimental.enable_op_determinism()


def qb(bits, integer, alpha=1):
    return quantized_bits(bits, integer, alpha=alpha)


# --------------------------------------------------------------- models


def k2_jet_tagger():
    """hls4ml-style jet tagger 16 -> 64 -> 32 -> 5, 6-bit (functional)."""
    kw = dict(kernel_quantizer=qb(6, 0), bias_quantizer=qb(6, 0),
              kernel_initializer="lecun_uniform")
    inp = keras.Input((16,), name="input_1")
    x = QDense(64, name="fc1", **kw)(inp)
    x = QActivation("quantized_relu(6)", name="relu1")(x)
    x = QDense(32, name="fc2", **kw)(x)
    x = QActivation(quantized_relu(6), name="relu2")(x)
    x = QDense(5, name="output", **kw)(x)
    x = L.Activation("softmax", name="softmax")(x)
    return keras.Model(inp, x, name="k2_jet_tagger")


def k2_cnn_bn():
    """QConv2D/QDepthwiseConv2D each followed by QBatchNormalization."""
    inp = keras.Input((8, 8, 1), name="input_1")
    x = QConv2D(4, (3, 3), kernel_quantizer=qb(6, 0),
                bias_quantizer=qb(8, 3), name="conv1")(inp)
    x = QBatchNormalization(name="bn1")(x)
    x = QActivation(quantized_relu(6, 2), name="relu1")(x)
    x = QDepthwiseConv2D((3, 3), depthwise_quantizer=qb(6, 0),
                         bias_quantizer=qb(8, 3), name="dw")(x)
    x = QBatchNormalization(name="bn2")(x)
    x = QActivation(quantized_relu(6, 2), name="relu2")(x)
    x = L.Flatten(name="flatten")(x)
    # alpha None: QKeras turns it into "auto_po2" when first called
    x = QDense(3, kernel_quantizer=quantized_bits(4, 0), name="out")(x)
    return keras.Model(inp, x, name="k2_cnn_bn")


def k2_seq():
    """keras.Sequential without an Input layer (batch_input_shape config)."""
    return keras.Sequential([
        QDense(8, kernel_quantizer=quantized_po2(4),
               bias_quantizer=quantized_po2(4), input_shape=(10,), name="d1"),
        QActivation(quantized_relu(4), name="a1"),
        QDense(4, kernel_quantizer=qb(6, 0), bias_quantizer=qb(6, 0),
               name="out"),
    ], name="k2_seq")


MODELS = [k2_jet_tagger, k2_cnn_bn, k2_seq]


# ------------------------------------------------------------- training


def train(model, seed):
    rng = np.random.default_rng(seed)
    shape = (N_SAMPLES,) + tuple(model.input_shape[1:])
    xs = rng.normal(size=shape).astype("float32")
    flat = xs.reshape(N_SAMPLES, -1)
    n_out = model.output_shape[-1]
    proj = rng.normal(size=(flat.shape[1], n_out)).astype("float32")
    target = flat @ proj / np.sqrt(flat.shape[1])
    if model.layers[-1].name == "softmax":
        ys = np.eye(n_out, dtype="float32")[np.argmax(target, axis=1)]
        loss = "categorical_crossentropy"
    else:
        ys = np.tanh(target).astype("float32")
        loss = "mse"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                  loss=loss, metrics=["accuracy"] if loss.startswith("cat")
                  else None)
    model.fit(xs, ys, batch_size=32, epochs=EPOCHS, shuffle=True, verbose=0)
    return xs


# ------------------------------------------------------------- encoding


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=None, separators=(",", ":"))
        f.write("\n")


# ---------------------------------------------------------------- main


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def load_h5(path):
    return keras.models.load_model(path, custom_objects=CUSTOM_OBJECTS,
                                   compile=False)


def make(build, versions):
    name = build.__name__
    seed = SEED + zlib.crc32(name.encode()) % 10000
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build()
    xs = train(model, seed)
    ref = model.predict(xs, verbose=0)
    path = os.path.join(HERE, f"{name}.h5")
    model.save(path)  # .h5 suffix -> Keras 2 legacy HDF5 format
    print(f"[{name}] wrote {os.path.basename(path)}")

    if name == "k2_jet_tagger":
        jname = f"{name}_json"
        with open(os.path.join(HERE, f"{jname}.json"), "w") as f:
            f.write(model.to_json())
            f.write("\n")
        model.save_weights(os.path.join(HERE, f"{jname}.h5"))
        try:
            m2 = quantized_model_from_json(
                open(os.path.join(HERE, f"{jname}.json")).read())
            m2.load_weights(os.path.join(HERE, f"{jname}.h5"))
            print(f"[{name}] json+weights reload: max |predict diff| = "
                  f"{max_diff(m2.predict(xs, verbose=0), ref):g}")
        except Exception as e:  # noqa: BLE001
            print(f"[{name}] {jname}.json does NOT reload with "
                  f"quantized_model_from_json: {type(e).__name__}: "
                  f"{str(e)[:200]}")

    try:
        target = load_h5(path)
        diff = max_diff(target.predict(xs, verbose=0), ref)
        print(f"[{name}] reloaded .h5: max |predict diff| = {diff:g}")
        if diff != 0:
            raise RuntimeError(f"reload changes predict by {diff:g}")
        source = "reloaded"
    except Exception as e:  # noqa: BLE001
        print(f"[{name}] .h5 does NOT reload: {type(e).__name__}: {e}")
        target, source = model, "in_memory"

    saved = model_save_quantized_weights(target)
    doc = dict(generator=GENERATOR, **versions, model=name, source=source,
               weights=encode(saved))
    write_json(os.path.join(HERE, f"{name}.weights.json"), doc)
    print(f"[{name}] wrote {name}.weights.json ({source}); layers: "
          + ", ".join(f"{k}:{sorted(v)}" for k, v in saved.items()))


def main(argv):
    versions = {"qkeras": qkeras.__version__,
                "keras": keras_pkg.__version__,
                "tensorflow": tf.__version__}
    wanted = set(argv[1:])
    unknown = wanted - {b.__name__ for b in MODELS}
    if unknown:
        sys.exit(f"unknown model(s): {sorted(unknown)}")
    for build in MODELS:
        if not wanted or build.__name__ in wanted:
            make(build, versions)


if __name__ == "__main__":
    main(sys.argv)
