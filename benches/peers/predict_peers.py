#!/usr/bin/env python3
"""Inference throughput, side by side on the same model and the same inputs,
in one run: QKeras (model.predict / model(x)), hls4ml's compiled C++
emulation, and `qkhw predict`. Prints inferences/s, the ratio to hls4ml,
and the agreement of every tool's logits with QKeras's.

Run from anywhere (paths are relative to the repository root), with the
QKeras 3 venv of tests/golden/requirements.txt:

    /opt/qk/bin/python benches/peers/predict_peers.py [--models jet_tagger cnn_bn]

(or `bash benches/peers/run_predict.sh`, which builds qkhw first). The
hls4ml column runs benches/peers/hls4ml_emulation.py in a second venv
(hls4ml 1.3.0 only reads Keras-2 QKeras models; pins in
benches/peers/requirements-hls4ml.txt), default /opt/qk2/bin/python.

Inputs: np.random.default_rng(7).standard_normal((N, *input_shape)) as
float32, N = 100,000 (jet_tagger) / 10,000 (cnn_bn), written to
WORKDIR/<model>_x.npy (default WORKDIR /tmp/peers) and read by every tool.
Compared output: the logits. jet_tagger ends with a float softmax; QKeras's
reference is the output of its layer "output" (a sub-model), hls4ml's model
is converted without the softmax, and qkhw drops the final softmax itself.

Columns:
  inf/s         inferences per second (N timed / wall time of the timed part)
  vs hls4ml     inf/s divided by hls4ml's inf/s
  exact elem    fraction of logits bit-equal to QKeras's (float64 compare)
  exact rows    fraction of samples whose logits are all bit-equal
  argmax        fraction of samples with the same arg-max as QKeras
QKeras's own reference is `predict(x, batch_size=1024)` on all N samples;
the batch-1 rows are compared on the samples they ran. qkhw is timed as the
whole `qkhw predict` command (process start, .npy read and write included),
and, in the "compute only" row, by its own report of the span from inputs in
memory to outputs in memory, the span the hls4ml and QKeras rows measure;
with its default threads (all cores) and again with --threads 1.
QKeras computes in float32, so its logits can depend on the batch size (sums
taken in another order cross a rounding point); where qkhw differs from
predict(batch 1024), those samples are re-run through QKeras one at a time
and the counts are printed below the tables.
TensorFlow runs on one CPU thread (TF_NUM_*_THREADS=1); hls4ml's emulation
is a ctypes call per sample from Python, one thread.
"""
import os
import re

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import warnings  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402

import numpy as np  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.join(ROOT, "benches", "peers")

# model: (samples, samples for hls4ml's emulation, logits layer or None)
MODELS = {
    "jet_tagger": (100_000, 20_000, "output"),
    "cnn_bn": (10_000, 2_000, None),
}
BATCH1_CALLS = 200


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def make_inputs(name, shape, n, workdir):
    path = os.path.join(workdir, f"{name}_x.npy")
    x = np.random.default_rng(7).standard_normal((n, *shape)).astype(np.float32)
    np.save(path, x)
    return path, x


def agreement(y, ref):
    """(exact elements, exact rows, argmax) of y against ref[:len(y)]."""
    ref = np.asarray(ref, dtype=np.float64)[: len(y)]
    y = np.asarray(y, dtype=np.float64)
    if y.size != ref.size:
        raise ValueError(f"output shape {y.shape} vs QKeras {ref.shape}")
    y = y.reshape(ref.shape)
    eq = (y == ref).reshape(len(ref), -1)
    am = (np.argmax(y.reshape(len(y), -1), axis=1)
          == np.argmax(ref.reshape(len(ref), -1), axis=1))
    return float(eq.mean()), float(eq.all(axis=1).mean()), float(am.mean())


# ------------------------------------------------------------------ QKeras


def run_qkeras(name, x, logits_layer, workdir):
    import keras
    from qkeras.utils import _add_supported_quantized_objects
    custom = {}
    _add_supported_quantized_objects(custom)
    keras.backend.clear_session()
    t = time.perf_counter()
    model = keras.models.load_model(os.path.join(ROOT, "examples", "models",
                                                 f"{name}.keras"),
                                    custom_objects=custom, compile=False)
    if logits_layer:
        model = keras.Model(model.input, model.get_layer(logits_layer).output)
    log(f"[{name}] QKeras: loaded in {time.perf_counter() - t:.2f} s")
    rows = []

    # batch 1: BATCH1_CALLS single-sample predict calls, then model(x).
    xs = x[:BATCH1_CALLS]
    model.predict(xs[:1], batch_size=1, verbose=0)
    t = time.perf_counter()
    y1 = np.concatenate([model.predict(xs[i:i + 1], batch_size=1, verbose=0)
                         for i in range(len(xs))])
    dt = time.perf_counter() - t
    rows.append(dict(tool="QKeras predict", batch="1", n=len(xs), secs=dt,
                     y=y1))
    model(xs[:1], training=False)
    t = time.perf_counter()
    y2 = np.concatenate([np.asarray(model(xs[i:i + 1], training=False))
                         for i in range(len(xs))])
    dt = time.perf_counter() - t
    rows.append(dict(tool="QKeras model(x)", batch="1", n=len(xs), secs=dt,
                     y=y2))

    # batch 1024 on all N: the reference.
    model.predict(x[:1024], batch_size=1024, verbose=0)
    t = time.perf_counter()
    ref = model.predict(x, batch_size=1024, verbose=0)
    dt = time.perf_counter() - t
    np.save(os.path.join(workdir, f"{name}_qkeras.npy"), ref)
    rows.append(dict(tool="QKeras predict", batch="1024", n=len(x), secs=dt,
                     y=ref))
    for r in rows:
        log(f"[{name}] {r['tool']} batch {r['batch']}: {r['n']} samples "
            f"in {r['secs']:.2f} s")
    return model, ref, rows


def recheck_batch1(model, x, y, ref, limit=200):
    """QKeras's logits depend on the batch size (float32 sums in another
    order). For the samples where y differs from predict(batch 1024), run
    QKeras again one sample at a time: how many of them does y match then?"""
    ref = np.asarray(ref)
    y = np.asarray(y, dtype=np.float64).reshape(len(y), *ref.shape[1:])
    bad = np.where((y != ref[: len(y)]).reshape(len(y), -1).any(axis=1))[0]
    if len(bad) == 0 or len(bad) > limit:
        return len(bad), None, None
    y1 = np.concatenate([np.asarray(model(x[i:i + 1], training=False))
                         for i in bad]).astype(np.float64)
    same_as_b1 = int((y1 == y[bad]).reshape(len(bad), -1).all(axis=1).sum())
    b1_is_b1024 = int((y1 == ref[bad]).reshape(len(bad), -1).all(axis=1).sum())
    return len(bad), same_as_b1, b1_is_b1024


# ------------------------------------------------------------------ hls4ml


def run_hls4ml(name, xpath, n, python, workdir, input_precision=None):
    out = os.path.join(workdir, f"{name}_hls4ml.npy")
    cmd = [python, os.path.join(HERE, "hls4ml_emulation.py"), "--model", name,
           "--keras", os.path.join(ROOT, "examples", "models", f"{name}.keras"),
           "--input", xpath, "--n", str(n), "--output", out,
           "--outdir", os.path.join(workdir, f"hls_{name}")]
    if input_precision:
        cmd += ["--input-precision", input_precision]
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    with open(os.path.join(workdir, f"{name}_hls4ml.log"), "w") as f:
        f.write(p.stdout + p.stderr)
    res = [ln[7:] for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    if p.returncode != 0 or not res:
        log(f"[{name}] hls4ml FAILED (rc {p.returncode}); see "
            f"{workdir}/{name}_hls4ml.log:\n" + p.stderr[-3000:])
        return None
    res = json.loads(res[-1])
    log(f"[{name}] hls4ml: whole step {wall:.1f} s (convert "
        f"{res['convert_s']:.2f} s, compile {res['compile_s']:.1f} s, "
        f"predict {res['n']} samples {res['predict_s']:.2f} s)")
    res["y"] = np.load(out)
    res["y_qk2"] = np.load(out + ".qk2.npy")
    return res


# ------------------------------------------------------------------ qkhw


def run_qkhw(name, xpath, n, qkhw, workdir, extra=()):
    if not os.path.exists(qkhw):
        log(f"[{name}] qkhw: {qkhw} not found (cargo build --release)")
        return None
    probe = subprocess.run([qkhw, "predict", "--help"], capture_output=True,
                           text=True)
    if probe.returncode != 0:
        log(f"[{name}] qkhw: this build has no `predict` subcommand: "
            + (probe.stderr or probe.stdout).strip().splitlines()[0])
        return None
    tag = "".join(a.strip("-") for a in extra)
    out = os.path.join(workdir, f"{name}_qkhw{'_' + tag if tag else ''}.npy")
    if os.path.exists(out):
        os.remove(out)
    cmd = [qkhw, "predict",
           os.path.join(ROOT, "examples", "models", f"{name}.keras"),
           "--input", xpath, "--output", out, *extra]
    label = " ".join(["qkhw predict", *extra])
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode != 0 or not os.path.exists(out):
        log(f"[{name}] {label} FAILED (rc {p.returncode}):\n"
            + (p.stderr + p.stdout)[-3000:])
        return None
    log(f"[{name}] {label}: {n} samples in {dt:.3f} s; it said: "
        + " | ".join(ln.strip() for ln in (p.stdout + p.stderr).splitlines()
                     if ln.strip()))
    # qkhw also prints its compute time (inputs in memory to outputs in
    # memory: the span the hls4ml and QKeras rows time).
    m = re.search(r"; ([0-9.]+) s, [0-9]+ inferences/s", p.stdout)
    compute = float(m.group(1)) if m else None
    return dict(tool=label, batch="all", n=n, secs=dt,
                y=np.load(out), compute=compute)


# ------------------------------------------------------------------ report


def table(name, rows, ref, hls_rate):
    head = (f"{'tool':30s} {'batch':>6s} {'N':>7s} {'inf/s':>11s} "
            f"{'vs hls4ml':>10s} {'exact elem':>11s} {'exact rows':>11s} "
            f"{'argmax':>8s}")
    print(f"\n== {name} ==")
    print(head)
    print("-" * len(head))
    for r in rows:
        rate = r["n"] / r["secs"]
        ratio = (f"{rate / hls_rate:#9.3g}x" if hls_rate else f"{'-':>10s}")
        if r.get("y") is not None:
            e, rw, a = agreement(r["y"], ref)
            agree = f"{e:11.6f} {rw:11.6f} {a:8.6f}"
        else:
            agree = f"{'-':>11s} {'-':>11s} {'-':>8s}"
        print(f"{r['tool']:30s} {r['batch']:>6s} {r['n']:7d} {rate:11.1f} "
              f"{ratio} {agree}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS),
                    choices=list(MODELS))
    ap.add_argument("--workdir", default="/tmp/peers")
    ap.add_argument("--qkhw", default=os.path.join(ROOT, "target", "release",
                                                   "qkhw"))
    ap.add_argument("--hls4ml-python", default="/opt/qk2/bin/python")
    ap.add_argument("--hls4ml-all", action="store_true",
                    help="run hls4ml's emulation on all N samples, not the "
                    "first 20,000 / 2,000")
    ap.add_argument("--hls4ml-input-precision",
                    help="e.g. 'fixed<40,8>': override the precision of "
                    "hls4ml's input layer (default: its default_precision "
                    "fixed<16,6>, which truncates the float inputs)")
    ap.add_argument("--skip-hls4ml", action="store_true")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    os.makedirs(args.workdir, exist_ok=True)

    import keras
    import tensorflow as tf
    from importlib import metadata
    log("QKeras side: qkeras-v3 " + metadata.version("qkeras-v3")
        + f", keras {keras.__version__}, tensorflow {tf.__version__}, "
        f"numpy {np.__version__}")

    details = []
    for name in args.models:
        n, n_hls, logits_layer = MODELS[name]
        t0 = time.perf_counter()
        # The input shape, from the saved config (no model load needed).
        with zipfile.ZipFile(os.path.join(ROOT, "examples", "models",
                                          f"{name}.keras")) as z:
            cfg = json.loads(z.read("config.json"))
        shape = next(tuple(layer["config"]["batch_shape"][1:])
                     for layer in cfg["config"]["layers"]
                     if layer["class_name"] == "InputLayer")
        xpath, x = make_inputs(name, shape, n, args.workdir)
        log(f"[{name}] inputs {x.shape} -> {xpath}")

        model, ref, rows = run_qkeras(name, x, logits_layer, args.workdir)
        t1 = time.perf_counter()

        hls = None
        if not args.skip_hls4ml:
            hls = run_hls4ml(name, xpath, n if args.hls4ml_all else n_hls,
                             args.hls4ml_python, args.workdir,
                             args.hls4ml_input_precision)
        t2 = time.perf_counter()
        hls_rate = None
        if hls:
            hls_rate = hls["inferences_per_s"]
            rows.append(dict(tool="hls4ml emulation", batch="1", n=hls["n"],
                             secs=hls["predict_s"], y=hls["y"]))
            e, rw, a = agreement(hls["y_qk2"], ref)
            details.append(f"{name}: QKeras 0.9.0 rebuild (Keras 2, weights "
                           f"copied) vs QKeras 3 on {hls['n']} samples: exact "
                           f"elem {e:.6f}, rows {rw:.6f}, argmax {a:.6f}")
            details.append(f"{name}: hls4ml convert {hls['convert_s']:.2f} s, "
                           f"compile {hls['compile_s']:.1f} s; model config "
                           f"{hls['config_model']}")
            for lname, p in hls["precisions"].items():
                details.append(f"{name}:   {lname:10s} " + ", ".join(
                    f"{k}={v}" for k, v in p.items()))

        q = run_qkhw(name, xpath, n, args.qkhw, args.workdir)
        if q:
            rows.append(q)
            if q.get("compute"):
                rows.append(dict(q, tool="qkhw predict (compute only)",
                                 secs=q["compute"]))
            # Same, on one thread like TensorFlow and hls4ml here.
            q1 = run_qkhw(name, xpath, n, args.qkhw, args.workdir,
                          ("--threads", "1"))
            if q1:
                rows.append(q1)
        t3 = time.perf_counter()
        if q:
            nbad, b1, b1024 = recheck_batch1(model, x, q["y"], ref)
            if nbad and b1 is not None:
                details.append(
                    f"{name}: qkhw differs from QKeras predict(batch 1024) on "
                    f"{nbad} of {n} samples; QKeras re-run one sample at a "
                    f"time on those: qkhw equals it on {b1}, and QKeras "
                    f"batch 1 equals QKeras batch 1024 on {b1024}")
            elif nbad:
                details.append(f"{name}: qkhw differs from QKeras on {nbad} "
                               f"of {n} samples (not re-checked)")
        if not q:
            rows.append(dict(tool="qkhw predict (n/a)", batch="all", n=n,
                             secs=float("inf"), y=None))
        log(f"[{name}] wall: QKeras {t1 - t0:.1f} s, hls4ml {t2 - t1:.1f} s, "
            f"qkhw {t3 - t2:.1f} s")
        table(name, rows, ref, hls_rate)
    if details:
        print("\n" + "\n".join(details))


if __name__ == "__main__":
    main()
