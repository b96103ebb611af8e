#!/usr/bin/env python3
"""Golden data for qkhw::quant::tfmath: TF 2.21's float32 log, tanh, sigmoid.

Run (pinned versions in requirements.txt):
    KERAS_BACKEND=tensorflow TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 \
    TF_ENABLE_ONEDNN_OPTS=0 CUDA_VISIBLE_DEVICES=-1 python tests/golden/gen_tfmath.py

Writes tfmath.json beside this script:
  {"log": [["<x bits>", "<y bits>"], ...], "tanh": [...], "sigmoid": [...],
   "log_tail": [...], "sigmoid_tail": [...]}
with float32 bit patterns as 8-digit lowercase hex.

"log"/"tanh"/"sigmoid" are Eigen's packet path: the inputs are evaluated in
one tensor padded to a multiple of 8 elements, so every element goes through
the AVX packet code (what tfmath::{log, tanh, sigmoid} reproduce).
"log_tail"/"sigmoid_tail" are the scalar tail: inputs fed 7 at a time, so
every element is a tail element (tfmath::{log_tail, sigmoid_tail}); these go
through the system glibc's logf/expf and are only portable across machines
with the same glibc.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20260521


def bits(vals):
    """float-ish list -> unique uint32 bit patterns, order kept."""
    out = []
    for v in vals:
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            out.append(np.uint32(v))
        else:
            out.append(np.float32(v).view(np.uint32))
    a = np.array(out, np.uint32)
    _, idx = np.unique(a, return_index=True)
    return a[np.sort(idx)]


def neighbours(x, k=3):
    """x and the k float32 neighbours on each side (as bits)."""
    b = int(np.float32(x).view(np.uint32))
    return [(b + d) & 0xFFFFFFFF for d in range(-k, k + 1)]


def common_edges():
    v = [0x00000000, 0x80000000,                       # +-0
         0x00000001, 0x80000001, 0x00000400, 0x007FFFFF, 0x807FFFFF,  # subnormals
         0x00800000, 0x80800000, 0x00800001,           # +-min normal
         0x7F7FFFFF, 0xFF7FFFFF,                       # +-max
         0x7F800000, 0xFF800000,                       # +-inf
         0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FFFFFFF, 0xFFFFFFFF]  # NaNs
    for x in [1.0, -1.0, 0.5, 2.0, 1e-7, 1e-30, 1e30]:
        v += neighbours(x, 2)
    return v


def edges_log():
    v = common_edges()
    v += neighbours(1.0, 40)                           # around 1 (x = m - 1 tiny)
    sq = np.float32(0.707106781186547524)              # branch point sqrt(1/2)
    for e in range(-126, 128, 9):
        v += neighbours(np.ldexp(np.float32(sq), e), 2)
        v += neighbours(np.ldexp(np.float32(1.0), e), 1)
    v += neighbours(np.float32(np.e), 3) + neighbours(1.0 + 1e-7, 3)
    v += [1.0 + 1e-7, 1.0 - 1e-7, 1e-7]                # keras epsilon
    v += list(np.float32(2.0) ** np.arange(-20, 21, dtype=np.float32))
    return v


def edges_tanh():
    v = common_edges()
    for c in [7.90738964080810547, 8.01773357391357422, 8.0, 9.0, 0.5, 1e-4, 1e-3, 0.125, 3.0]:
        v += neighbours(c, 3) + neighbours(-c, 3)
    v += list(np.linspace(-9, 9, 145, dtype=np.float32))
    return v


def edges_sigmoid():
    v = common_edges()
    for c in [16.6355324, 16.0, 17.0, -104.0, -103.9, -87.33, -87.0, -88.0, -100.0,
              0.5, 1.0, 5.0, 10.0, 1e-4, 30.0]:
        v += neighbours(c, 3) + neighbours(-c, 3) if c > 0 else neighbours(c, 3)
    v += list(np.linspace(-110, 20, 131, dtype=np.float32))
    v += list(np.linspace(-6, 6, 97, dtype=np.float32))
    return v


def random_part(rng, lo, hi, n_bits=900, n_range=1000, n_unit=700):
    rb = rng.integers(0, 2**32, n_bits, dtype=np.uint64).astype(np.uint32)
    rr = rng.uniform(lo, hi, n_range).astype(np.float32).view(np.uint32)
    ru = rng.uniform(-4, 4, n_unit).astype(np.float32).view(np.uint32)
    return list(rb) + list(rr) + list(ru)


def run_packet(fn, xb):
    """Evaluate in one tensor padded to a multiple of 8 (packet path only)."""
    pad = (-len(xb)) % 8
    x = np.concatenate([xb, np.full(pad, 0x3F800000, np.uint32)]).view(np.float32)
    y = fn(tf.constant(x)).numpy()
    return y.view(np.uint32)[: len(xb)]


def run_tail(fn, xb):
    """Evaluate 7 at a time (every element takes Eigen's scalar tail path)."""
    x = xb.view(np.float32)
    ys = [fn(tf.constant(x[i:i + 7])).numpy() for i in range(0, len(x), 7)]
    return np.concatenate(ys).view(np.uint32)


def pairs(xb, yb):
    return [[f"{int(a):08x}", f"{int(b):08x}"] for a, b in zip(xb, yb)]


def main():
    rng = np.random.default_rng(SEED)
    sets = {
        "log": (tf.math.log, bits(edges_log() + random_part(rng, 0.0, 100.0)
                                  + list(rng.uniform(0, 1e-3, 300).astype(np.float32)))),
        "tanh": (tf.math.tanh, bits(edges_tanh() + random_part(rng, -9.0, 9.0))),
        "sigmoid": (tf.math.sigmoid, bits(edges_sigmoid() + random_part(rng, -105.0, 18.0))),
    }
    out = {}
    for name, (fn, xb) in sets.items():
        out[name] = pairs(xb, run_packet(fn, xb))
    tails = {
        "log_tail": (tf.math.log, bits(common_edges() + random_part(rng, 0.0, 100.0, 150, 150, 100))),
        "sigmoid_tail": (tf.math.sigmoid, bits(common_edges() + random_part(rng, -105.0, 18.0, 150, 150, 100))),
    }
    for name, (fn, xb) in tails.items():
        out[name] = pairs(xb, run_tail(fn, xb))
    path = os.path.join(HERE, "tfmath.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(path, {k: len(v) for k, v in out.items()}, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
