#!/usr/bin/env python3
"""Models with layers qkhw does not build, for `qkhw weights`
(tests/weights_golden.rs): QKeras's model_save_quantized_weights keeps only
the layers with quantizers, so their dict is still defined, and qkhw
prints it, leaving out the same layers.

Run (pinned versions in requirements.txt):
    python tests/golden/gen_weights_skipped.py
Writes tests/golden/weights_skipped/NAME.keras and NAME.weights.json
(the encoded dict, as examples/models/make_models.py writes it):
- timedistributed: QLSTM(return_sequences) -> TimeDistributed(QDense) ->
  Flatten -> QDense (the QDense after it reads a shape the file gives);
- masking: Masking -> QLSTM -> QDense;
- keras_bidirectional: keras Bidirectional(LSTM) -> QDense;
- initial_state: QGRU whose initial_state is a second input, -> QDense;
- return_state: QLSTM(return_state=True) whose h and c states are
  concatenated into a QDense. QKeras's model_save_quantized_weights raises
  on it (its bn-fusing graph pass reads `layer.output.shape`, a list here),
  so the dict written is that of its twin `return_state_twin` (the same
  QLSTM and QDense, weights copied, without return_state, the QDense
  reading [h, h]): the dict QKeras builds layer by layer, which a layer's
  weights alone decide.
Trained one epoch on noise so the weights are not the initializer's.
Run with model names to write only those (e.g. `return_state`).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import json  # noqa: E402
import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras import QActivation, QDense, QGRU, QLSTM  # noqa: E402
from qkeras.quantizers import quantized_bits  # noqa: E402
from qkeras.utils import model_save_quantized_weights  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "models"))
from golden_json import encode  # noqa: E402

OUT = os.path.join(HERE, "weights_skipped")


def k():
    return dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1))


def r():
    return dict(recurrent_quantizer=quantized_bits(6, 0, alpha=1), state_quantizer=quantized_bits(8, 1, alpha=1), **k())


def timedistributed():
    i = keras.Input((5, 3), name="x")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    h = QLSTM(4, return_sequences=True, name="lstm", **r())(h)
    h = L.TimeDistributed(QDense(3, **k()), name="td")(h)
    return keras.Model(i, QDense(2, name="out", **k())(L.Flatten(name="flat")(h)), name="timedistributed")


def masking():
    i = keras.Input((5, 3), name="x")
    h = L.Masking(0.0, name="mask")(i)
    h = QLSTM(4, name="lstm", **r())(h)
    return keras.Model(i, QDense(2, name="out", **k())(h), name="masking")


def keras_bidirectional():
    i = keras.Input((5, 3), name="x")
    h = L.Bidirectional(L.LSTM(3), name="bi")(i)
    return keras.Model(i, QDense(2, name="out", **k())(h), name="keras_bidirectional")


def initial_state():
    s = keras.Input((5, 3), name="seq")
    v = keras.Input((4,), name="vec")
    h = QGRU(4, name="gru", **r())(s, initial_state=[v])
    return keras.Model([s, v], QDense(2, name="out", **k())(h), name="initial_state")


def return_state():
    i = keras.Input((5, 3), name="x")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    _y, hs, cs = QLSTM(4, return_state=True, name="lstm", **r())(h)
    return keras.Model(i, QDense(2, name="out", **k())(L.Concatenate(name="cat")([hs, cs])), name="return_state")


def return_state_twin(m):
    i = keras.Input((5, 3), name="x")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    hs = QLSTM(4, name="lstm", **r())(h)
    t = keras.Model(i, QDense(2, name="out", **k())(L.Concatenate(name="cat")([hs, hs])), name="return_state_twin")
    # Layer by layer in the same order (QLSTM's constructor drops `name`
    # in this QKeras, so the dict's keys are mapped back by position).
    for a, b in zip(t.layers, m.layers):
        a.set_weights(b.get_weights())
    return t


def main():
    os.makedirs(OUT, exist_ok=True)
    only = sys.argv[1:]
    for n, build in enumerate([timedistributed, masking, keras_bidirectional, initial_state, return_state]):
        if only and build.__name__ not in only:
            continue
        keras.utils.set_random_seed(21 + n)
        rng = np.random.default_rng(n)
        m = build()
        m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        xs = [rng.standard_normal((128,) + tuple(t.shape[1:])).astype(np.float32) for t in m.inputs]
        y = rng.standard_normal((128,) + tuple(m.output.shape[1:])).astype(np.float32)
        m.fit(xs if len(xs) > 1 else xs[0], y, epochs=1, batch_size=32, verbose=0)
        m.save(os.path.join(OUT, f"{m.name}.keras"))
        if build is return_state:
            t = return_state_twin(m)
            names = {a.name: b.name for a, b in zip(t.layers, m.layers)}
            d = {names[a]: v for a, v in model_save_quantized_weights(t).items()}
        else:
            d = model_save_quantized_weights(m)
        doc = dict(generator="tests/golden/gen_weights_skipped.py", model=m.name,
                   weights={a: {b: encode(c) for b, c in v.items()} for a, v in d.items()})
        with open(os.path.join(OUT, f"{m.name}.weights.json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        print(m.name, sorted(d))


if __name__ == "__main__":
    main()
