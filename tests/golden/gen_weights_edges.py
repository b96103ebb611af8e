#!/usr/bin/env python3
"""Layers whose model_save_quantized_weights entries line up in QKeras's
own way (tests/weights_golden.rs): QKeras appends to a layer's `signs`
list for po2 and unquantized weights but not for auto_po2 ones (their
branch appends to `scales` only), so `signs` can be shorter than
`weights` (a cross-check found qkhw padding it).

Run (pinned versions in requirements.txt):
    python tests/golden/gen_weights_edges.py
Writes tests/golden/weights_edges/NAME.keras and NAME.weights.json:
- po2_bias: a QDense with an auto_po2 kernel and a quantized_po2 bias;
- bn_nocenter: a QDense, then a QBatchNormalization with center=False
  (an auto_po2 gamma and its default po2 quantizers), then a QDense.
Trained one epoch on noise so the weights are not the initializer's.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import numpy as np  # noqa: E402
import keras  # noqa: E402
from qkeras import QActivation, QBatchNormalization, QDense  # noqa: E402
from qkeras.quantizers import quantized_bits, quantized_po2, quantized_relu  # noqa: E402
from qkeras.utils import model_save_quantized_weights  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "models"))
from golden_json import encode  # noqa: E402

OUT = os.path.join(HERE, "weights_edges")


def po2_bias():
    i = keras.Input((6,), name="x")
    x = QActivation(quantized_bits(8, 3, alpha=1), name="in_q")(i)
    o = QDense(3, kernel_quantizer=quantized_bits(5, 0, alpha="auto_po2"), bias_quantizer=quantized_po2(4), name="out")(x)
    return keras.Model(i, o, name="po2_bias")


def bn_nocenter():
    i = keras.Input((6,), name="x")
    x = QActivation(quantized_bits(8, 3, alpha=1), name="in_q")(i)
    x = QDense(5, kernel_quantizer=quantized_bits(4, 0, alpha=1), name="d")(x)
    x = QBatchNormalization(center=False, gamma_quantizer=quantized_bits(6, 2, alpha="auto_po2"), name="bn")(x)
    x = QActivation(quantized_relu(5, 2), name="r")(x)
    o = QDense(2, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1), name="out")(x)
    return keras.Model(i, o, name="bn_nocenter")


def main():
    os.makedirs(OUT, exist_ok=True)
    for n, build in enumerate([po2_bias, bn_nocenter]):
        keras.utils.set_random_seed(31 + n)
        rng = np.random.default_rng(n)
        m = build()
        m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        x = rng.standard_normal((128, 6)).astype(np.float32)
        y = rng.standard_normal((128,) + tuple(m.output.shape[1:])).astype(np.float32)
        m.fit(x, y, epochs=1, batch_size=32, verbose=0)
        m.save(os.path.join(OUT, f"{m.name}.keras"))
        with contextlib.redirect_stdout(io.StringIO()):
            d = model_save_quantized_weights(m)
        doc = dict(generator="tests/golden/gen_weights_edges.py", model=m.name,
                   weights={a: {b: encode(c) for b, c in v.items()} for a, v in d.items()})
        with open(os.path.join(OUT, f"{m.name}.weights.json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        print(m.name, {a: [len(v.get("weights", [])), len(v.get("signs", [])), len(v.get("scales", []))] for a, v in d.items()})


if __name__ == "__main__":
    main()
