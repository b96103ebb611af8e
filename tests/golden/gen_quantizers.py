#!/usr/bin/env python3
"""Golden data for every QKeras quantizer, from the real QKeras.

Run (pinned versions in requirements.txt):
    KERAS_BACKEND=tensorflow TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 \
    TF_ENABLE_ONEDNN_OPTS=0 python tests/golden/gen_quantizers.py

Writes, beside this script:
  quantizers_inputs.npy   all input sets, float32, concatenated (1-D)
  quantizers_outputs.npy  every case's output, float32, concatenated (1-D)
  quantizers_cases.json   the input sets (name, shape, offset) and the cases
                          (spec, internal sigmoid, input set, output offset)
The Rust tests apply each spec with qkhw and compare float32 bit patterns.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinned_env  # noqa: E402,F401  (before TensorFlow loads)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
import qkeras  # noqa: E402
from qkeras import quantizers as qz  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
f32 = np.float32


def edge_inputs():
    """1-D set: rounding ties, saturation bounds and their neighbours,
    specials, po2 decision points, random values."""
    v = []
    v += list(np.arange(-160, 161) / 64.0)          # 1/64 grid in [-2.5, 2.5]
    v += list(np.arange(-72, 73) / 8.0)             # 1/8 grid in [-9, 9]
    v += [float(k) for k in range(10, 71)] + [float(-k) for k in range(10, 71)]
    v += list(np.arange(-60, 61) / 1024.0)          # fine ties near 0
    grid = (np.arange(-64, 65) / 16.0).astype(f32)  # neighbours of bounds
    v += list(np.nextafter(grid, f32(np.inf)))
    v += list(np.nextafter(grid, f32(-np.inf)))
    for k in range(-12, 13):                         # po2 decision points
        b = f32(2.0 ** k * np.sqrt(2.0))
        for d in (-2, -1, 0, 1, 2):
            x = b
            for _ in range(abs(d)):
                x = np.nextafter(x, f32(np.inf) if d > 0 else f32(-np.inf))
            v.append(x)
            if k % 3 == 0:
                v.append(-x)
    tiny = [0.0, -0.0, 1e-45, -1e-45, 1e-40, -1e-40, 1.1754944e-38, 1e-30,
            1e-10, 1e-8, -1e-8, 1e-7, -1e-7, 1.5e-7, 5e-8]
    tiny += [np.nextafter(f32(1e-7), f32(1)), np.nextafter(f32(1e-7), f32(0))]
    huge = [1e4, -1e4, 1e6, -1e6, 1e8, -1e8, 3.4e38, -3.4e38,
            float(np.finfo(f32).max), -float(np.finfo(f32).max),
            np.inf, -np.inf, np.nan]
    v += tiny + huge
    rng = np.random.default_rng(20261127)
    v += list(rng.normal(0, 1, 96)) + list(rng.normal(0, 10, 48)) + list(rng.normal(0, 0.1, 48))
    arr = np.array(v, dtype=f32)
    # Deduplicate by bit pattern, keep first occurrence (order is stable).
    _, idx = np.unique(arr.view(np.uint32), return_index=True)
    arr = arr[np.sort(idx)]
    # A multiple of 16 so every element takes TensorFlow's packet path.
    pad = (-len(arr)) % 16
    arr = np.concatenate([arr, rng.normal(0, 2, pad).astype(f32)])
    return arr


def mat_inputs():
    """2-D set (rows, channels) for per-channel auto scales: each column
    has its own magnitude; one column is all zero."""
    rng = np.random.default_rng(7)
    scales = np.array([0.003, 0.1, 0.5, 1.0, 3.0, 8.0, 40.0, 0.0], dtype=f32)
    return (rng.normal(0, 1, (48, 8)) * scales).astype(f32)


def cube_inputs():
    """3-D set (rows, middle, channels): a kept middle axis and
    elements_per_scale exercise TensorFlow's generic reduction order."""
    rng = np.random.default_rng(13)
    scales = np.array([0.05, 0.3, 1.0, 2.5], dtype=f32)[None, :, None]
    return (rng.normal(0, 1, (6, 4, 8)) * scales).astype(f32)


def po2_path_sensitive():
    """float32 values next to 2^k*sqrt(2) whose po2 rounding of
    log(x)/ln2 differs between TF's packet kernel and its scalar tail
    (glibc logf): found here by evaluating both paths."""
    found = []
    ln2 = f32(np.log(2.0))
    for k in range(-30, 31):
        bits = f32(2.0 ** k * np.sqrt(2.0)).view(np.uint32)
        cand = (np.arange(-200, 201) + bits).astype(np.uint32).view(f32)
        pad = np.ones((-len(cand)) % 8, f32)
        packet = tf.math.log(tf.constant(np.concatenate([cand, pad]))).numpy()[:len(cand)]
        tail = np.array([tf.math.log(tf.constant([c])).numpy()[0] for c in cand], f32)
        differ = np.round(packet / ln2) != np.round(tail / ln2)
        found += list(cand[differ])
    return np.array(found, f32)


def vec_inputs():
    rng = np.random.default_rng(11)
    return (rng.normal(0, 1, 64) * 0.7).astype(f32)


def cases():
    """(spec, input set, internal sigmoid or None)."""
    out = []
    add = lambda spec, inp="edge", sig=None: out.append((spec, inp, sig))
    sigmoids = ["hard", "smooth", "real"]

    # quantized_bits, fixed path: positional (bits, integer, symmetric, keep_negative)
    for bits in (1, 2, 3, 4, 6, 8, 12, 16):
        for integer in (0, 1, 2, 3, 5):
            if integer > bits + 1:
                continue
            for sym in (0, 1):
                for kn in (1, 0):
                    add(f"quantized_bits({bits},{integer},{sym},{kn})")
    for bits in (24, 32):
        add(f"quantized_bits({bits},8,1)")
        add(f"quantized_bits({bits},0,0,0)")
    add("quantized_bits")
    add("quantized_bits()")
    add("quantized_bits(4,-2,0)")
    add("quantized_bits(6,2,1,alpha=1)")
    add("quantized_bits(6,0,alpha=1)")
    add("quantized_bits(6,2,1,alpha=1.0)")
    add("quantized_bits(5,1,0,alpha=0.75)")
    add("quantized_bits(4,0,keep_negative=False,alpha=2)")
    add("quantized_bits(8,3,1,use_stochastic_rounding=True)")
    add("quantized_bits(8,0,1,use_ste=False)")
    add("quantized_bits(bits=5, integer=2, symmetric=True)")
    add("quantized_bits(4,0,0,alpha=[0.5 1 2 4 0.25 1 1 8])", "mat")
    for alpha in ("auto", "auto_po2"):
        for bits, integer in ((2, 0), (4, 0), (8, 0), (6, 2), (1, 0), (3, 1)):
            add(f"quantized_bits({bits},{integer},1,alpha='{alpha}')", "mat")
        add(f"quantized_bits(4,0,1,alpha='{alpha}')", "vec")
        add(f"quantized_bits(6,0,0,0,alpha='{alpha}')", "mat")
    add("quantized_bits(4,0,1,alpha='auto_po2',min_po2_exponent=-3,max_po2_exponent=1)", "mat")
    add("quantized_bits(4,0,1,alpha='auto_po2',scale_axis=0)", "mat")
    add("quantized_bits(4,0,1,alpha='auto_po2',post_training_scale=[0.5 0.25 1 2 0.125 1 4 1])", "mat")
    add("quantized_bits(4,0,1,alpha='auto',post_training_scale=[0.5 0.25 1 2 0.125 1 4 1])", "mat")

    # quantized_linear
    for bits in (1, 2, 4, 8):
        for integer in (0, 2):
            for sym in (0, 1):
                add(f"quantized_linear({bits},{integer},{sym})")
    add("quantized_linear(4,0,1,keep_negative=False)")
    add("quantized_linear(1,0,keep_negative=False)")
    add("quantized_linear(6,1,alpha=2.5)")
    add("quantized_linear(4,0,alpha='auto')", "mat")
    add("quantized_linear(4,0,alpha='auto_po2')", "mat")
    add("quantized_linear(8,0,alpha='auto_po2')", "mat")
    add("quantized_linear(1,0,alpha='auto_po2')", "mat")
    add("quantized_linear(4,0,keep_negative=False,alpha='auto')", "mat")

    # quantized_relu
    for bits in (1, 2, 4, 6, 8):
        for integer in (0, 1, 3):
            add(f"quantized_relu({bits},{integer})")
    add("quantized_relu")
    add("quantized_relu(6)")
    for ns in (0.25, 0.5):
        for bits, integer in ((4, 0), (6, 2), (8, 3)):
            add(f"quantized_relu({bits},{integer},negative_slope={ns})")
    add("quantized_relu(4,2,relu_upper_bound=3)")
    add("quantized_relu(4,2,relu_upper_bound=3,is_quantized_clip=False)")
    add("quantized_relu(6,2,is_quantized_clip=False)")
    add("quantized_relu(6,1,use_stochastic_rounding=True)")
    for sig in sigmoids:
        add("quantized_relu(4,0,use_sigmoid=1)", "edge", sig)
        add("quantized_relu(6,2,use_sigmoid=1)", "edge", sig)
        add("quantized_relu(6,2,use_sigmoid=1,negative_slope=0.25)", "edge", sig)

    # tanh / sigmoid / ulaw
    for sig in sigmoids:
        for bits in (2, 4, 8):
            add(f"quantized_tanh({bits})", "edge", sig)
            add(f"quantized_sigmoid({bits})", "edge", sig)
        add("quantized_tanh(6,symmetric=True)", "edge", sig)
        add("quantized_sigmoid(6,symmetric=True)", "edge", sig)
        add("quantized_ulaw(8,0)", "edge", sig)
        add("quantized_ulaw(6,1,symmetric=1,u=100.0)", "edge", sig)
        add("hard_tanh", "edge", sig)
        add("binary_tanh", "edge", sig)
    for bits in (2, 4, 8, 16):
        add(f"quantized_tanh({bits},use_real_tanh=True)")
        add(f"quantized_sigmoid({bits},use_real_sigmoid=True)")
    add("quantized_tanh(6,symmetric=1,use_real_tanh=1)")
    add("quantized_sigmoid(6,symmetric=1,use_real_sigmoid=1)")
    for fn in ("hard_sigmoid", "smooth_sigmoid", "binary_sigmoid", "smooth_tanh",
               "relu", "linear"):
        add(fn)

    # po2
    for bits in (1, 2, 3, 4, 5, 8):
        add(f"quantized_po2({bits})")
    for mv in (0.5, 1, 4, 16):
        add(f"quantized_po2(4,{mv})")
    add("quantized_po2(5,quadratic_approximation=True)")
    add("quantized_po2(4,2,quadratic_approximation=True)")
    add("quantized_po2(4,log2_rounding='floor')")
    add("quantized_po2(6,8,log2_rounding='floor')")
    add("quantized_po2(5,use_stochastic_rounding=True)")
    for bits in (1, 2, 4, 6, 8):
        add(f"quantized_relu_po2({bits})")
    for mv in (1, 4, 8):
        add(f"quantized_relu_po2(4,{mv})")
    add("quantized_relu_po2(6,2048)")
    add("quantized_relu_po2(6,quadratic_approximation=True)")
    add("quantized_relu_po2(5,4,quadratic_approximation=True)")
    add("quantized_relu_po2(4,log2_rounding='floor')")
    add("quantized_relu_po2(5,negative_slope=0.5)")
    add("quantized_relu_po2(4,4,negative_slope=0.125)")

    # hswish
    for bits, integer in ((4, 0), (8, 2), (8, 3), (6, 1)):
        add(f"quantized_hswish({bits},{integer})")
    add("quantized_hswish(8,2,relu_shift=2,relu_upper_bound=4)")
    add("quantized_hswish(8,3,1)")

    # binary / ternary and the stochastic ones in inference mode
    for inp in ("edge", "mat"):
        add("binary", inp)
        add("binary()", inp)
        add("binary(use_01=True)", inp)
        add("binary(alpha=1)", inp)
        add("binary(alpha=0.5)", inp)
        add("binary(use_01=1,alpha=2)", inp)
        add("ternary", inp)
        add("ternary(alpha=1)", inp)
        add("ternary(alpha=0.5,threshold=0.5)", inp)
        add("ternary(threshold=0.1)", inp)
        add("stochastic_binary", inp)
        add("stochastic_ternary", inp)
        add("stochastic_ternary(alpha=1,threshold=0.2)", inp)
    for alpha in ("auto", "auto_po2"):
        for inp in ("mat", "vec"):
            add(f"binary(alpha='{alpha}')", inp)
            add(f"ternary(alpha='{alpha}')", inp)
            add(f"stochastic_binary(alpha='{alpha}')", inp)
            add(f"stochastic_ternary(alpha='{alpha}')", inp)
        add(f"binary(use_01=True,alpha='{alpha}')", "mat")
        add(f"ternary(alpha='{alpha}',number_of_unrolls=2)", "mat")
    add("binary(alpha='auto_po2',min_po2_exponent=-2,max_po2_exponent=0)", "mat")

    # elements_per_scale and other reduction layouts
    for spec in ("quantized_bits(4,0,1,alpha='auto_po2',scale_axis=1,elements_per_scale=2)",
                 "quantized_bits(4,0,1,alpha='auto_po2',scale_axis=1,elements_per_scale=4)",
                 "quantized_bits(3,0,1,alpha='auto_po2',scale_axis=0,elements_per_scale=6)",
                 "binary(alpha='auto_po2',scale_axis=1,elements_per_scale=2)",
                 "binary(alpha='auto',scale_axis=1,elements_per_scale=4)",
                 "binary(alpha='auto',scale_axis=0,elements_per_scale=8)"):
        add(spec, "mat")
    for spec in ("quantized_bits(4,0,1,alpha='auto_po2')",
                 "quantized_bits(4,0,1,alpha='auto_po2',scale_axis=1)",
                 "quantized_bits(4,0,1,alpha='auto_po2',scale_axis=2,elements_per_scale=2)",
                 "quantized_bits(4,0,1,alpha='auto_po2',scale_axis=1,elements_per_scale=2)",
                 "quantized_bits(6,1,1,alpha='auto')",
                 "quantized_linear(4,0,alpha='auto_po2')",
                 "binary(alpha='auto')",
                 "binary(alpha='auto',scale_axis=1)",
                 "binary(alpha='auto',scale_axis=0)",
                 "binary(alpha='auto',scale_axis=2,elements_per_scale=4)",
                 "ternary(alpha='auto')",
                 "ternary(alpha='auto_po2')"):
        add(spec, "cube")

    # qnoise_factor below 1: QKeras's mix of the float input and the
    # quantized value (`qkhw quantize` reproduces it; hardware refuses it).
    for qf in (0.0, 0.25, 0.5, 0.3, 0.1, 0.7):
        for ste in (True, False):
            u = "" if ste else ",use_ste=False"
            add(f"quantized_bits(4,0,1,qnoise_factor={qf}{u})")
            add(f"quantized_bits(6,2,alpha=1,qnoise_factor={qf}{u})")
            add(f"quantized_relu(4,1,qnoise_factor={qf}{u})")
            add(f"quantized_relu(6,2,negative_slope=0.25,qnoise_factor={qf}{u})")
            add(f"quantized_relu(4,0,relu_upper_bound=0.75,is_quantized_clip=False,qnoise_factor={qf}{u})")
            add(f"quantized_po2(4,qnoise_factor={qf}{u})")
            add(f"quantized_relu_po2(4,max_value=2.0,qnoise_factor={qf}{u})")
        add(f"quantized_linear(4,1,qnoise_factor={qf})")
        add(f"quantized_bits(4,0,1,alpha='auto_po2',qnoise_factor={qf})", "mat")
    return out


def main():
    inputs = {"edge": edge_inputs(), "mat": mat_inputs(), "vec": vec_inputs(), "cube": cube_inputs()}
    # TF evaluates the last n % 8 elements of a tensor on a scalar path with
    # other log / sigmoid bits: odd sizes, channel counts that are not a
    # multiple of 8, and tensors of fewer than 8 elements (all tail).
    inputs["odd"] = inputs["edge"][:1307]
    rng = np.random.default_rng(17)
    inputs["mat5"] = (rng.normal(0, 1, (48, 5)) * np.array([0.01, 0.2, 1, 3, 50], f32)).astype(f32)
    inputs["mat13"] = (rng.normal(0, 1, (40, 13)) * np.geomspace(0.01, 30, 13)).astype(f32)
    sens = po2_path_sensitive()
    inputs["po2path"] = np.concatenate([sens, np.ones((-len(sens)) % 8, f32)])
    for j in range(0, len(sens), 7):
        inputs[f"po2path_tail{j // 7}"] = sens[j:j + 7]
    in_meta, flat_in, off = {}, [], 0
    for name, arr in inputs.items():
        in_meta[name] = {"shape": list(arr.shape), "offset": off}
        flat_in.append(arr.reshape(-1))
        off += arr.size
    case_meta, flat_out, off = [], [], 0
    n_err = 0
    all_cases = cases()
    for name in inputs:
        if name.startswith("po2path"):
            all_cases += [("quantized_po2(8)", name, None), ("quantized_relu_po2(8)", name, None)]
    all_cases += [(spec, "odd", sig) for spec, sig in [
        ("quantized_po2(4)", None), ("quantized_relu_po2(6,quadratic_approximation=True)", None),
        ("quantized_sigmoid(8,use_real_sigmoid=True)", None), ("quantized_tanh(8)", "real"),
        ("quantized_relu(6,2,use_sigmoid=1)", "real"), ("quantized_ulaw(8,0)", "real"),
        ("quantized_ulaw(6,1,symmetric=1,u=100.0)", "hard"), ("binary", None)]]
    for inp in ("mat5", "mat13"):
        all_cases += [(spec, inp, None) for spec in (
            "quantized_bits(4,0,1,alpha='auto_po2')", "quantized_bits(6,2,1,alpha='auto_po2')",
            "quantized_linear(4,0,alpha='auto_po2')", "binary(alpha='auto_po2')",
            "ternary(alpha='auto_po2')", "binary(alpha='auto')")]
    for spec, inp, sig in all_cases:
        qz.set_internal_sigmoid(sig or "hard")
        x = inputs[inp]
        entry = {"spec": spec, "input": inp, "internal_sigmoid": sig or "hard"}
        try:
            q = qz.get_quantizer(spec)
            y = q(tf.constant(x, dtype=tf.float32))
            y = np.asarray(keras.ops.convert_to_numpy(y), dtype=f32)
            if y.shape != x.shape:
                y = np.broadcast_to(y, x.shape).astype(f32)
            entry["offset"] = off
            flat_out.append(y.reshape(-1))
            off += y.size
        except Exception as e:  # a spec QKeras itself rejects
            entry["error"] = f"{type(e).__name__}: {e}"[:300]
            n_err += 1
        case_meta.append(entry)
    qz.set_internal_sigmoid("hard")
    np.save(os.path.join(HERE, "quantizers_inputs.npy"), np.concatenate(flat_in))
    np.save(os.path.join(HERE, "quantizers_outputs.npy"), np.concatenate(flat_out))
    meta = {
        "generator": "tests/golden/gen_quantizers.py",
        "versions": {"qkeras-v3": "1.2.1", "keras": keras.__version__,
                     "tensorflow": tf.__version__, "numpy": np.__version__},
        "inputs": in_meta,
        "cases": case_meta,
    }
    with open(os.path.join(HERE, "quantizers_cases.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"{len(case_meta)} cases ({n_err} rejected by QKeras), {off} output values")


if __name__ == "__main__":
    main()
