#!/usr/bin/env python3
"""QBidirectional(merge_mode=None): a layer with two output tensors, the
forward and the backward direction, each read on its own
(tests/bi_split.rs).

Run (pinned versions in requirements.txt):
    python tests/golden/gen_bi_split.py
Writes tests/golden/bi_split/NAME.keras, NAME.x.npy (300 standard-normal
inputs) and NAME.y.npy, NAME.y.1.npy, ... (QKeras's model.predict, one file
per model output):
- seq_two_heads: QBidirectional(QLSTM(3, return_sequences=True)) whose
  forward sequence feeds a per-step QDense(2) and whose backward sequence
  is the model's second output as it is;
- last_swapped: QBidirectional(QSimpleRNN(4)) with a different backward
  layer (QSimpleRNN(4, go_backwards=True) of its own); the two last states
  are concatenated backward first, then a QDense(3);
- forward_backwards: QBidirectional(QSimpleRNN(4, return_sequences=True,
  go_backwards=True)) with a backward layer that runs forwards, concat,
  then a per-step QDense(2): Keras flips the backward layer's sequence and
  never the forward one's, whatever their go_backwards.
`python tests/golden/gen_bi_split.py NAME...` writes only those models.
Trained one epoch on noise so the weights are not the initializer's.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from qkeras import QActivation, QBidirectional, QDense, QLSTM, QSimpleRNN  # noqa: E402
from qkeras.quantizers import quantized_bits  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bi_split")


def rq(**kw):
    d = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), recurrent_quantizer=quantized_bits(6, 0, alpha=1),
             bias_quantizer=quantized_bits(8, 3, alpha=1))
    d.update(kw)
    return d


def dense(n, name):
    return QDense(n, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name=name)


def seq_two_heads():
    i = keras.Input((5, 3), name="x")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    f, b = QBidirectional(QLSTM(3, return_sequences=True, **rq(state_quantizer=quantized_bits(8, 1, alpha=1))),
                          merge_mode=None, name="bi")(h)
    return keras.Model(i, [dense(2, "head")(f), b], name="seq_two_heads")


def last_swapped():
    i = keras.Input((6, 2), name="x")
    h = QActivation(quantized_bits(6, 2, alpha=1), name="in_q")(i)
    fwd = QSimpleRNN(4, **rq())
    bwd = QSimpleRNN(4, go_backwards=True, **rq(kernel_quantizer=quantized_bits(5, 0, alpha=1)))
    f, b = QBidirectional(fwd, backward_layer=bwd, merge_mode=None, name="bi")(h)
    h = L.Concatenate(name="cat")([b, f])
    return keras.Model(i, dense(3, "out")(h), name="last_swapped")


def forward_backwards():
    i = keras.Input((5, 3), name="x")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="in_q")(i)
    fwd = QSimpleRNN(4, return_sequences=True, go_backwards=True, **rq())
    bwd = QSimpleRNN(4, return_sequences=True, **rq())
    h = QBidirectional(fwd, backward_layer=bwd, merge_mode="concat", name="bi")(h)
    return keras.Model(i, dense(2, "head")(h), name="forward_backwards")


def main():
    os.makedirs(OUT, exist_ok=True)
    for k, build in enumerate([seq_two_heads, last_swapped, forward_backwards]):
        if len(sys.argv) > 1 and build.__name__ not in sys.argv[1:]:
            continue
        keras.utils.set_random_seed(11 + k)
        rng = np.random.default_rng(100 + k)
        m = build()
        m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        shape = tuple(m.input.shape[1:])
        outs = m.outputs
        xt = rng.standard_normal((256,) + shape).astype(np.float32)
        yt = [rng.standard_normal((256,) + tuple(o.shape[1:])).astype(np.float32) for o in outs]
        m.fit(xt, yt if len(yt) > 1 else yt[0], epochs=1, batch_size=64, verbose=0)
        x = rng.standard_normal((300,) + shape).astype(np.float32)
        y = m.predict(x, batch_size=100, verbose=0)
        y = y if isinstance(y, list) else [y]
        m.save(os.path.join(OUT, f"{m.name}.keras"))
        np.save(os.path.join(OUT, f"{m.name}.x.npy"), x)
        for j, t in enumerate(y):
            np.save(os.path.join(OUT, f"{m.name}.y{'' if j == 0 else f'.{j}'}.npy"), t)
        print(m.name, [t.shape for t in y])


if __name__ == "__main__":
    main()
