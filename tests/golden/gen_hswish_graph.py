#!/usr/bin/env python3
"""quantized_hswish inside a model (tests/predict_golden.rs).

QKeras computes x * relu6(x + shift) / relu_upper_bound. Eager mode (the
quantizer called on a tensor, as `qkhw quantize` reproduces it) divides.
Inside model.predict, TensorFlow's graph optimizer sometimes pushes the
constant divisor down onto x, computing (x * fl(1/6)) * relu6(x + 3), and
whether it does depends on the graph (measured with these pinned
versions: renaming the hswish layer of a two-layer model switched it on
or off; in this model both outputs are rewritten). At a rounding tie of the quantizer the two round differently: x =
3.40625 gives 20.4375 / 6 = 3.40625 (54.5 steps of 1/16, ties to even:
54) but (3.40625 * fl(1/6)) * 6 = 3.4062502 (55).

Run (pinned versions in requirements.txt):
    python tests/golden/gen_hswish_graph.py
Writes tests/golden/hswish_graph/hswish.keras (one input; outputs `a_hs`
and `z_hs`, both quantized_hswish(8,3,1), after the input quantizer
quantized_bits(10,4,1) named `in_q`), hswish.x.npy (1,024 inputs k/64,
k = -512..511) and hswish.y.npy / hswish.y.1.npy (model.predict), and
hswish.eager.npy (the quantizer called eagerly on the quantized inputs).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from qkeras import QActivation  # noqa: E402
from qkeras.quantizers import quantized_bits, quantized_hswish  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hswish_graph")


def main():
    os.makedirs(OUT, exist_ok=True)
    q_in = quantized_bits(10, 4, 1)
    i = keras.Input((1,), name="x")
    h = QActivation(q_in, name="in_q")(i)
    ys = [QActivation(quantized_hswish(8, 3, 1), name=n)(h) for n in ("a_hs", "z_hs")]
    m = keras.Model(i, ys, name="hswish")
    x = (np.arange(-512, 512, dtype=np.float32) / 64.0).reshape(-1, 1)
    y = m.predict(x, batch_size=256, verbose=0)
    e = quantized_hswish(8, 3, 1)(q_in(tf.constant(x))).numpy()
    m.save(os.path.join(OUT, "hswish.keras"))
    np.save(os.path.join(OUT, "hswish.x.npy"), x)
    np.save(os.path.join(OUT, "hswish.eager.npy"), e)
    for k, t in enumerate(y):
        np.save(os.path.join(OUT, f"hswish.y{'' if k == 0 else f'.{k}'}.npy"), t)
        print(f"{m.output_names[k] if hasattr(m, 'output_names') else k}: {int(np.sum(t != e))} of {t.size} values differ between model.predict and eager")


if __name__ == "__main__":
    main()
