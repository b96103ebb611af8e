#!/usr/bin/env python3
"""hls4ml's compiled C++ emulation of a qkhw example model: the hls4ml
column of benches/peers/predict_peers.py.

hls4ml 1.3.0 only reads Keras-2 QKeras models, so this runs in its own venv
(QKeras 0.9.0 / tf.keras 2.14 + hls4ml 1.3.0; exact pins in
benches/peers/requirements-hls4ml.txt):

    /opt/qk2/bin/python benches/peers/hls4ml_emulation.py \
        --model jet_tagger --input /tmp/peers/jet_tagger_x.npy --n 20000 \
        --output /tmp/peers/jet_tagger_hls4ml.npy --outdir /tmp/peers/hls_jet_tagger

It rebuilds the architecture of examples/models/MODEL.keras with QKeras
0.9.0 (same layer names, same quantizers as examples/models/make_models.py),
copies the weights out of the Keras 3 file's model.weights.h5 (read with
h5py, matched by the `name` attribute of each layers/<x>/vars group), and
converts it with hls4ml (Vivado backend, io_parallel, Strategy Latency,
granularity "name", default precision). For jet_tagger the float softmax is
left out: the hls4ml model ends at the QDense "output", i.e. it computes the
logits, like qkhw and like the QKeras sub-model predict_peers.py compares.

Writes:
  --output           hls4ml's predictions on the first --n inputs (float32)
  --output.qk2.npy   QKeras 0.9.0's predictions of the rebuilt model on the
                     same inputs (a check that the rebuild is faithful)
and prints one JSON line (prefixed "RESULT ") with the timings and the
precisions hls4ml chose.
"""
import argparse
import io
import json
import os
import sys
import time
import zipfile

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow import keras  # noqa: E402
from tensorflow.keras import layers as L  # noqa: E402
from qkeras import (  # noqa: E402
    QActivation, QBatchNormalization, QConv2D, QDense, QDepthwiseConv2D)
from qkeras.quantizers import (  # noqa: E402
    quantized_bits, quantized_po2, quantized_relu, quantized_relu_po2)


def qb(bits, integer, alpha=1):
    return quantized_bits(bits, integer, alpha=alpha)


# Same architectures as examples/models/make_models.py (Keras 3 there).
def jet_tagger():
    kw = dict(kernel_quantizer=qb(6, 0), bias_quantizer=qb(6, 0))
    x = inp = keras.Input((16,), name="input_1")
    for i, n in enumerate((64, 32, 32), 1):
        x = QDense(n, name=f"fc{i}", **kw)(x)
        x = QActivation(quantized_relu(6), name=f"relu{i}")(x)
    x = QDense(5, name="output", **kw)(x)
    x = L.Activation("softmax", name="softmax")(x)
    return keras.Model(inp, x, name="jet_tagger")


def cnn_bn():
    x = inp = keras.Input((8, 8, 1), name="x")
    x = QConv2D(4, (3, 3), kernel_quantizer=qb(6, 0),
                bias_quantizer=qb(8, 3), name="conv1")(x)
    # QKeras's defaults, spelt out (the Keras 3 model uses the defaults too).
    x = QBatchNormalization(
        gamma_quantizer=quantized_relu_po2(6, 2048),
        variance_quantizer=quantized_relu_po2(6, quadratic_approximation=True),
        beta_quantizer=quantized_po2(5), mean_quantizer=quantized_po2(5),
        momentum=0.9, epsilon=1e-3, name="bn1")(x)
    x = QActivation(quantized_relu(6, 2), name="relu1")(x)
    x = QDepthwiseConv2D((3, 3), depthwise_quantizer=qb(6, 0),
                         bias_quantizer=qb(8, 3), name="dw1")(x)
    x = QBatchNormalization(
        gamma_quantizer=quantized_relu_po2(4, 8),
        variance_quantizer=quantized_relu_po2(4, 8),
        beta_quantizer=quantized_po2(5), mean_quantizer=quantized_po2(5),
        momentum=0.9, epsilon=1e-3, name="bn2")(x)
    x = QActivation(quantized_relu(6, 2), name="relu2")(x)
    x = L.Flatten(name="flatten")(x)
    x = QDense(3, kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
               name="dense")(x)
    return keras.Model(inp, x, name="cnn_bn")


BUILDERS = {"jet_tagger": jet_tagger, "cnn_bn": cnn_bn}
# The layer whose output is compared (the logits, before any float softmax).
LOGITS = {"jet_tagger": "output", "cnn_bn": "dense"}


def keras3_weights(path):
    """{layer name: [vars/0, vars/1, ...]} from a Keras 3 .keras zip."""
    with zipfile.ZipFile(path) as z:
        blob = z.read("model.weights.h5")
    out = {}
    with h5py.File(io.BytesIO(blob), "r") as f:
        for group in f["layers"].values():
            v = group["vars"]
            name = v.attrs["name"]
            name = name.decode() if isinstance(name, bytes) else str(name)
            out[name] = [np.asarray(v[str(i)]) for i in range(len(v))]
    return out


def copy_weights(model, weights):
    for layer in model.layers:
        mine = layer.get_weights()
        if not mine:
            continue
        theirs = weights[layer.name]
        if len(theirs) != len(mine) or any(
                a.shape != b.shape for a, b in zip(mine, theirs)):
            raise SystemExit(f"weights of {layer.name} do not match: "
                             f"{[a.shape for a in mine]} vs "
                             f"{[b.shape for b in theirs]}")
        layer.set_weights(theirs)


def precisions(hls_model):
    """Per layer: result type, and weight/bias/accum types where present."""
    out = {}
    for layer in hls_model.get_layers():
        d = {"class": layer.class_name,
             "result": str(layer.get_output_variable().type.precision)}
        for k in ("weight", "bias", "scale", "accum"):
            t = layer.types.get(f"{k}_t")
            if t is not None:
                d[k] = str(t.precision)
        out[layer.name] = d
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=sorted(BUILDERS))
    ap.add_argument("--keras", help="Keras 3 file (default "
                    "examples/models/MODEL.keras)")
    ap.add_argument("--input", required=True)
    ap.add_argument("--n", type=int, required=True,
                    help="time and save the first N inputs")
    ap.add_argument("--output", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--input-precision",
                    help="override the input layer's precision (default: "
                    "hls4ml's default_precision, fixed<16,6>)")
    args = ap.parse_args()

    import hls4ml  # late: its import is slow and noisy
    import qkeras

    keras_path = args.keras or f"examples/models/{args.model}.keras"
    x = np.ascontiguousarray(np.load(args.input)[: args.n], dtype=np.float32)

    keras.backend.clear_session()
    full = BUILDERS[args.model]()
    copy_weights(full, keras3_weights(keras_path))
    model = keras.Model(full.inputs, full.get_layer(LOGITS[args.model]).output,
                        name=full.name)
    qk2 = model.predict(x, batch_size=1024, verbose=0)
    np.save(args.output + ".qk2.npy", qk2.astype(np.float32))

    t0 = time.perf_counter()
    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name",
                                               backend="Vivado")
    cfg["Model"]["Strategy"] = "Latency"
    if args.input_precision:
        inp = model.layers[0].name
        cfg["LayerName"][inp]["Precision"]["result"] = args.input_precision
    hls_model = hls4ml.converters.convert_from_keras_model(
        model, hls_config=cfg, backend="Vivado", io_type="io_parallel",
        output_dir=args.outdir, project_name="myproject")
    t1 = time.perf_counter()
    hls_model.compile()
    t2 = time.perf_counter()

    hls_model.predict(x[:10])  # warm up
    t3 = time.perf_counter()
    y = hls_model.predict(x)
    t4 = time.perf_counter()
    y = np.asarray(y, dtype=np.float32).reshape(qk2.shape)
    np.save(args.output, y)

    res = {
        "model": args.model, "n": int(len(x)),
        "convert_s": t1 - t0, "compile_s": t2 - t1, "predict_s": t4 - t3,
        "inferences_per_s": len(x) / (t4 - t3),
        "config_model": {k: str(v) for k, v in cfg["Model"].items()},
        "precisions": precisions(hls_model),
        "versions": {"hls4ml": hls4ml.__version__,
                     "qkeras": getattr(qkeras, "__version__", "?"),
                     "tensorflow": tf.__version__,
                     "numpy": np.__version__, "python": sys.version.split()[0]},
    }
    print("RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
