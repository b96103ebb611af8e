#!/usr/bin/env python3
"""The golden model's speed against its peers, side by side in one run on
the same machine (issue 16). Run by benches/peers/run_golden.sh, which
builds qkhw and the generated C first:

    bash benches/peers/run_golden.sh [python-with-qkeras]

Conditions, pinned here:
- jet_tagger, 1,000,000 samples. "raw": float32 uniform in (-1, 1), seed 0,
  taken exactly (as QKeras takes them: the exact input format is
  fixed<48,1>). "fixed<16,6>": the same values quantized to the hardware's
  input format by `--input-format fixed<16,6>`.
- `qkhw predict --threads 1` and `--threads 2`: "whole command" is the wall
  time of the process (start, .npy read, compute, .npy write); "compute"
  is qkhw's own figure (float32 inputs in memory to float32 outputs in
  memory, input quantization included). Best of 3.
- The generated C (`qkhw gen --target c`), gcc -O2 and -O3 -march=native,
  one core, inputs already int16 codes of fixed<16,6> (1,024 vectors
  cycled, in cache), compute only: benches/peers/c_bench.c.
- numpy: the same MLP in float32 (QKeras's quantized weights, x @ W + b)
  with the activation quantization (quantized_relu as QKeras computes it:
  clip(round(x * 2^f) / 2^f)), OpenBLAS pinned to 1 and to 2 threads
  (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, set before numpy loads), compute
  only (inputs in memory), best of 3. Its arg-max agreement with qkhw is
  printed (float32 logits can differ in the last bits).
- ResNet-8 and the DS-CNN (the streaming issue's examples), 1,000 inputs:
  QKeras `model.predict(x, batch_size=250)` on one TensorFlow thread, best
  of 2 after a warm-up call, against `qkhw predict` (compute, 1 and 2
  threads); outputs compared element for element.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# TensorFlow on one thread, quiet, before anything imports it.
os.environ.update(KERAS_BACKEND="tensorflow", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", TF_ENABLE_ONEDNN_OPTS="0", CUDA_VISIBLE_DEVICES="-1", TF_CPP_MIN_LOG_LEVEL="3")

ROOT = Path(__file__).resolve().parents[2]
QKHW = str(ROOT / "target" / "release" / "qkhw")
N = 1_000_000
CNN_N = 1_000


def qkhw_predict(model, x, threads, extra=()):
    """(whole-command seconds, compute seconds), best of 3, and the output."""
    out = Path(tempfile.mkdtemp()) / "y.npy"
    best = (1e9, 1e9)
    for _ in range(3):
        t = time.perf_counter()
        p = subprocess.run([QKHW, "predict", str(model), "--input", str(x), "--output", str(out), "--threads", str(threads), *extra],
                           capture_output=True, text=True)
        whole = time.perf_counter() - t
        if p.returncode != 0:
            sys.exit(f"qkhw predict failed: {p.stderr}")
        compute = float(re.search(r"^([0-9.]+) s, ", p.stdout, re.M).group(1))
        best = (min(best[0], whole), min(best[1], compute))
    import numpy as np
    return best, np.load(out)


NUMPY_FORWARD = r'''
import json, sys, time
import numpy as np
spec = json.load(open(sys.argv[1]))
x = np.load(sys.argv[2])
layers = [(np.array(l["w"], np.float32), np.array(l["b"], np.float32), l["q"]) for l in spec]
def forward(x):
    h = x
    for w, b, q in layers:
        h = h @ w + b
        if q is not None:
            m = np.float32(2.0 ** q["frac"])
            h = np.clip(np.round(h * m) / m, np.float32(0), np.float32(q["max"]))
    return h
forward(x[:1000])
best = 1e9
for _ in range(3):
    t = time.perf_counter()
    y = forward(x)
    best = min(best, time.perf_counter() - t)
np.save(sys.argv[3], y)
print(best)
'''


def jet_spec(path):
    """QKeras's quantized weights of jet_tagger's Dense layers and each
    activation's grid, for the numpy forward pass."""
    import numpy as np
    from qkeras.utils import load_qmodel
    m = load_qmodel(str(path), compile=False)
    spec = []
    for layer in m.layers:
        if type(layer).__name__ == "QDense":
            w = layer.kernel_quantizer_internal(layer.kernel).numpy()
            b = layer.bias_quantizer_internal(layer.bias).numpy()
            spec.append({"w": w.tolist(), "b": b.tolist(), "q": None})
        elif type(layer).__name__ == "QActivation" and spec:
            q = layer.activation
            bits, integer = int(q.bits), int(q.integer)
            frac = bits - integer
            spec[-1]["q"] = {"frac": frac, "max": float(2.0 ** integer - 2.0 ** -frac)}
    return spec


def numpy_forward(spec_path, x, threads, out):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    p = subprocess.run([sys.executable, "-c", NUMPY_FORWARD, str(spec_path), str(x), str(out)], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"numpy forward failed: {p.stderr}")
    return float(p.stdout.split()[-1])


def qkeras_predict(model_path, x):
    from qkeras.utils import load_qmodel
    m = load_qmodel(str(model_path), compile=False)
    m.predict(x[:250], batch_size=250, verbose=0)
    best = 1e9
    for _ in range(2):
        t = time.perf_counter()
        y = m.predict(x, batch_size=250, verbose=0)
        best = min(best, time.perf_counter() - t)
    return best, y


def main():
    import numpy as np
    work = Path(tempfile.mkdtemp(prefix="qkhw-golden-speed-"))
    rows = []

    def row(what, seconds, n, note=""):
        rows.append((what, seconds, n / seconds, note))
        print(f"  {what}: {seconds:.4f} s, {n / seconds:,.0f} /s {note}", file=sys.stderr, flush=True)

    # --- jet_tagger ---------------------------------------------------------
    jet = ROOT / "examples" / "models" / "jet_tagger.keras"
    x = np.random.default_rng(0).uniform(-1, 1, (N, 16)).astype(np.float32)
    xp = work / "jet_x.npy"
    np.save(xp, x)
    print("jet_tagger, 1,000,000 samples", file=sys.stderr)
    c = subprocess.run(["bash", str(ROOT / "benches" / "peers" / "run_c.sh"), "--c-only"], capture_output=True, text=True, cwd=ROOT)
    for line in c.stdout.splitlines():
        mm = re.match(r"generated C \(gcc (.*)\): (\d+) inferences in ([0-9.]+) s", line)
        if mm:
            row(f"generated C, gcc {mm.group(1)}, 1 core (int16 inputs in cache)", float(mm.group(3)), int(mm.group(2)))
    outs = {}
    for fmt in (None, "fixed<16,6>"):
        extra = ("--input-format", fmt) if fmt else ()
        label = fmt or "raw float32"
        for threads in (1, 2):
            (whole, compute), y = qkhw_predict(jet, xp, threads, extra)
            outs[label] = y
            row(f"qkhw predict --threads {threads}, {label}, compute", compute, N)
            row(f"qkhw predict --threads {threads}, {label}, whole command", whole, N)
    spec = work / "jet_spec.json"
    spec.write_text(json.dumps(jet_spec(jet)))
    for threads in (1, 2):
        yn = work / "np_y.npy"
        s = numpy_forward(spec, xp, threads, yn)
        agree = float(np.mean(np.argmax(np.load(yn), 1) == np.argmax(outs["raw float32"], 1)))
        row(f"numpy float32 forward, {threads} BLAS thread(s), raw float32, compute", s, N, f"(arg-max equal to qkhw on {agree:.4%})")

    # --- ResNet-8 and the DS-CNN against QKeras ----------------------------
    for name, shape, lo, hi in (("resnet8", (32, 32, 3), 0.0, 1.0), ("dscnn_kws", (49, 10, 1), -1.0, 1.0)):
        model = ROOT / "examples" / "models" / f"{name}.keras"
        xc = np.random.default_rng(1).uniform(lo, hi, (CNN_N, *shape)).astype(np.float32)
        xcp = work / f"{name}_x.npy"
        np.save(xcp, xc)
        print(f"{name}, {CNN_N} samples", file=sys.stderr)
        s, yq = qkeras_predict(model, xc)
        row(f"{name}: QKeras model.predict, 1 TF thread", s, CNN_N)
        for threads in (1, 2):
            (whole, compute), y = qkhw_predict(model, xcp, threads)
            equal = float(np.mean(y == yq))
            row(f"{name}: qkhw predict --threads {threads}, compute", compute, CNN_N, f"({equal:.4%} of outputs equal to QKeras's)")
            row(f"{name}: qkhw predict --threads {threads}, whole command", whole, CNN_N)

    print("| what | seconds | per second | |\n|---|---|---|---|")
    for what, s, rate, note in rows:
        print(f"| {what} | {s:.4f} | {rate:,.0f} | {note} |")


if __name__ == "__main__":
    main()
