#!/usr/bin/env python3
"""Recurrent layers qkhw must refuse because QKeras's own float32 result is
not the exact one, with the evidence.

Run (pinned versions in requirements.txt):
    python tests/golden/gen_rnn_refusals.py
Writes tests/golden/rnn_refusals/:
  lstm_no_state.keras  a QLSTM (8 steps) without a state_quantizer: its
                       carry c = f*c + i*g gains the gates' fraction bits at
                       every step, beyond float32's 24
  gru_no_state.keras   a QGRU (6 steps, reset_after=False, hard_sigmoid)
                       without a state_quantizer: its h
                       = z*h + (1-z)*hh gains fraction bits at every step
                       (qkhw names the missing quantizer; `gru` as the only
                       argument writes just this file)
  pool_gru.keras        a QGRU (reset_after=True, a state_quantizer) whose
                       cell needs 26 bits, reading a MaxPooling1D of a
                       quantized_relu: its input is quantized, so qkhw must
                       say to use fewer bits in its quantizers, not to
                       quantize its input (`pool` as the only argument
                       writes just this file; cross-check batch 8)
  meta.json            N inputs (standard normal, seed 7) through
                       model.predict in float32 and through the same model
                       rebuilt in float64 (keras floatx): "differing" counts
                       the output values where the two disagree, i.e. where
                       float32 rounding changed QKeras's result
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import numpy as np  # noqa: E402
import keras  # noqa: E402
from qkeras import QActivation, QConv1D, QGRU, QLSTM  # noqa: E402
from qkeras.quantizers import quantized_bits, quantized_relu, quantized_sigmoid, quantized_tanh  # noqa: E402
from qkeras.utils import _add_supported_quantized_objects  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rnn_refusals")
N = 2000


def build():
    qb = lambda b, i: quantized_bits(b, i, alpha=1)  # noqa: E731
    x = inp = keras.Input((8, 3), name="x")
    x = QActivation(qb(8, 2), name="in_q")(x)
    x = QLSTM(4, activation=quantized_tanh(8), recurrent_activation=quantized_sigmoid(8),
              kernel_quantizer=qb(6, 0), recurrent_quantizer=qb(6, 0), bias_quantizer=qb(8, 3),
              name="lstm")(x)
    return keras.Model(inp, x, name="lstm_no_state")


def write_gru():
    qb = lambda b, i: quantized_bits(b, i, alpha=1)  # noqa: E731
    keras.utils.set_random_seed(12)
    x = inp = keras.Input((6, 4), name="x")
    x = QActivation(qb(8, 2), name="in_q")(x)
    x = QGRU(5, activation=quantized_tanh(8), reset_after=False, return_sequences=True,
             kernel_quantizer=qb(6, 0), recurrent_quantizer=qb(6, 0), bias_quantizer=qb(8, 3))(x)
    m = keras.Model(inp, x, name="gru_no_state")
    m.set_weights([np.random.default_rng(6).uniform(-1, 1, w.shape).astype(np.float32) for w in m.get_weights()])
    m.save(os.path.join(OUT, "gru_no_state.keras"))
    print("gru_no_state:", m.layers[2].name)


def write_pool_gru():
    qb = lambda b, i: quantized_bits(b, i, alpha=1)  # noqa: E731
    keras.utils.set_random_seed(13)
    x = inp = keras.Input((16, 3), name="x")
    x = QActivation(qb(8, 2), name="in_q")(x)
    x = QConv1D(5, 3, strides=2, padding="same", kernel_quantizer=qb(6, 0), bias_quantizer=qb(8, 3), name="c1")(x)
    x = QActivation(quantized_relu(6, 2), name="r1")(x)
    x = keras.layers.MaxPooling1D(2, name="mp")(x)
    x = QGRU(4, reset_after=True, activation=quantized_tanh(6), kernel_quantizer=qb(6, 0), recurrent_quantizer=qb(6, 0),
             bias_quantizer=qb(8, 2), state_quantizer=qb(8, 2))(x)
    m = keras.Model(inp, x, name="pool_gru")
    m.set_weights([np.random.default_rng(8).uniform(-1, 1, w.shape).astype(np.float32) for w in m.get_weights()])
    m.save(os.path.join(OUT, "pool_gru.keras"))
    print("pool_gru:", m.layers[-1].name)


def as_float64(cfg):
    """The saved config with every layer's dtype policy float64."""
    if isinstance(cfg, dict):
        if cfg.get("class_name") == "DTypePolicy":
            return {**cfg, "config": {**cfg["config"], "name": "float64"}}
        return {k: ("float64" if k == "dtype" and v == "float32" else as_float64(v)) for k, v in cfg.items()}
    if isinstance(cfg, list):
        return [as_float64(v) for v in cfg]
    return cfg


def main():
    os.makedirs(OUT, exist_ok=True)
    keras.utils.set_random_seed(11)
    m = build()
    # Weights spread over the quantizer's range (untrained).
    m.set_weights([np.random.default_rng(5).uniform(-1, 1, w.shape).astype(np.float32) for w in m.get_weights()])
    path = os.path.join(OUT, "lstm_no_state.keras")
    m.save(path)
    x = np.random.default_rng(7).normal(size=(N, 8, 3)).astype(np.float32)
    y32 = m.predict(x, batch_size=500, verbose=0)
    co = {}
    _add_supported_quantized_objects(co)
    keras.config.set_floatx("float64")
    m64 = keras.Model.from_config(as_float64(m.get_config()), custom_objects=co)
    m64.set_weights([w.astype(np.float64) for w in m.get_weights()])
    y64 = m64.predict(x.astype(np.float64), batch_size=500, verbose=0)
    keras.config.set_floatx("float32")
    differing = int(np.sum(y32.astype(np.float64) != y64))
    # QLSTM hands name= to its cell: the layer keeps its automatic name.
    meta = {"model": "lstm_no_state.keras", "layer": m.layers[2].name, "n": N, "outputs": int(y32.size),
            "differing": differing, "max_abs_diff": float(np.max(np.abs(y32 - y64)))}
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(meta)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    if sys.argv[1:] == ["gru"]:
        write_gru()
    elif sys.argv[1:] == ["pool"]:
        write_pool_gru()
    else:
        main()
        write_gru()
        write_pool_gru()
