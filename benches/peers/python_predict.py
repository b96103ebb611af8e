#!/usr/bin/env python3
"""Model.predict from Python against the CLI's compute-only figure, side by
side in one run, on the same inputs, the same threads and the same build
(the `qkhw` command of the installed package runs the extension's code).

    python benches/peers/python_predict.py [--model M] [--n 100000] [--threads 0] [--input-format F]

Inputs: float32 uniform in (-1, 1) (raw features: the exact input format
is as wide as the data need), or --input-format to quantize them first.
Prints each side's best of --repeat runs and the ratio.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import qkhw

REPO = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(REPO / "examples" / "models" / "jet_tagger.keras"))
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--input-format", default=None)
    a = ap.parse_args()
    m = qkhw.load(a.model)
    shape = m.inputs[0][1]
    x = np.random.default_rng(0).uniform(-1, 1, (a.n, *shape)).astype(np.float32)
    exe = Path(sys.executable).with_name("qkhw")
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "x.npy", x)
        cli = []
        for _ in range(a.repeat):
            args = [str(exe), "predict", a.model, "--input", f"{tmp}/x.npy", "--output", f"{tmp}/y.npy", "--threads", str(a.threads)]
            if a.input_format:
                args += ["--input-format", a.input_format]
            r = subprocess.run(args, capture_output=True, text=True, check=True)
            secs = float(re.search(r"^([0-9.]+) s, [0-9]+ inferences/s$", r.stdout, re.M).group(1))
            cli.append(secs)
        y_cli = np.load(f"{tmp}/y.npy")
    py = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        y = m.predict(x, input_format=a.input_format, threads=a.threads)
        py.append(time.perf_counter() - t)
    assert np.array_equal(y.view(np.uint32), y_cli.view(np.uint32)), "Python and CLI outputs differ"
    c, p = min(cli), min(py)
    print(f"{Path(a.model).stem}, {a.n} samples, threads {a.threads or os.cpu_count()}, input {a.input_format or 'float32 exact'}")
    print(f"  CLI compute only   {c:.4f} s  {a.n / c:>12,.0f} inferences/s")
    print(f"  Model.predict      {p:.4f} s  {a.n / p:>12,.0f} inferences/s  ({p / c:.3f}x the CLI's time)")


if __name__ == "__main__":
    main()
