"""Fit the LUT costs of src/arch/fabric.rs to Yosys's per-module counts.

Input: the TSV `fabric_data.sh` writes (design tag, model, gen options,
module, Yosys LUT, FF, DSP48, CARRY4 of `synth_xilinx -flatten` on that
layer module alone). Each design is generated again by the current
`target/release/qkhw` for its layers' `fabric` (report.json). Output: the
non-negative least-squares LUT costs per fabric field, and for every
design (the sum of its modules) Yosys's LUT and FF next to the estimate
with the fitted costs and with the costs compiled into qkhw.

Usage: python3 benches/peers/fabric_fit.py benches/peers/fabric_data.tsv
"""
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict

import numpy as np
from scipy.optimize import nnls

FIELDS = ["adder_bits", "compare_bits", "const_compare_bits", "mux_bits", "const_mux_bits", "lut_product_bits", "lut_memory"]
# The constants of src/arch/fabric.rs, per field of FIELDS.
CONSTS = ["ADDER", "COMPARE", "CONST_COMPARE", "MUX", "CONST_MUX", "PRODUCT", "MEMORY"]


def compiled(root):
    """The costs compiled into qkhw now (src/arch/fabric.rs)."""
    text = open(os.path.join(root, "src", "arch", "fabric.rs")).read()
    return np.array([float(re.search(rf"const {c}: f64 = ([0-9.]+);", text).group(1)) for c in CONSTS])


def features(fab, no_dsp):
    return [
        fab["adder_bits"] + (fab["dsp_adder_bits"] if no_dsp else 0),
        fab["compare_bits"],
        fab["const_compare_bits"],
        fab["mux_bits"],
        fab["const_mux_bits"],
        fab["narrow_product_bits"] + (fab["wide_product_bits"] if no_dsp else 0),
        fab["lut_memory"],
    ]


def ffs(fab, no_dsp):
    return fab["ff_bits"] - (0 if no_dsp else fab["dsp_register_bits"])


def main(data):
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    qkhw = os.path.join(root, "target", "release", "qkhw")
    tmp = tempfile.mkdtemp()
    rows = []
    reports = {}
    for line in open(data):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 8:
            continue
        tag, model, opts, module, lut, ff, dsp, carry = parts
        if tag not in reports:
            d = os.path.join(tmp, tag)
            subprocess.run([qkhw, "gen", os.path.join(root, "examples", "models", model + ".keras"), "-o", d] + opts.split(), check=True, capture_output=True)
            reports[tag] = json.load(open(os.path.join(d, "report.json")))
        rep = reports[tag]
        layer = [l for l in rep["layers"] if l["module"] == module]
        if not layer:
            print(f"# {tag} {module}: not in the report, skipped", file=sys.stderr)
            continue
        fab = layer[0]["fabric"]
        rows.append((tag, int(lut), int(ff), features(fab, rep["no_dsp"]), ffs(fab, rep["no_dsp"])))
    # What the estimate is for is a whole design: fit the designs' sums,
    # each weighed by 1 / its count (relative errors count).
    sums = defaultdict(lambda: [0.0, np.zeros(len(FIELDS))])
    for tag, lut, _, x, _ in rows:
        sums[tag][0] += lut
        sums[tag][1] += np.array(x, dtype=float)
    a = np.array([v[1] for v in sums.values()])
    b = np.array([v[0] for v in sums.values()])
    w = 1.0 / np.maximum(b, 200.0)
    coef, _ = nnls(a * w[:, None], b * w)
    now = compiled(root)
    print("fitted LUT costs:", ", ".join(f"{f} {c:.3f}" for f, c in zip(FIELDS, coef)))
    print("qkhw's LUT costs:", ", ".join(f"{f} {c:.3f}" for f, c in zip(FIELDS, now)))
    # Per design: the modules' sums (the top's own handshake is not in
    # the modules Yosys counted).
    per_design = defaultdict(lambda: [0, 0.0, 0.0, 0, 0])
    for tag, lut, ff, x, fe in rows:
        d = per_design[tag]
        d[0] += lut
        d[1] += float(np.dot(coef, x))
        d[2] += float(np.dot(now, x))
        d[3] += ff
        d[4] += fe
    print("| design | Yosys LUT | est. LUT (fit) | est. LUT (qkhw) | error (qkhw) | Yosys FF | est. FF | error |")
    print("|---|---|---|---|---|---|---|---|")
    errs, ferrs = [], []
    for tag, (lut, fit, est, ff, fe) in per_design.items():
        el = (est - lut) / lut * 100 if lut else 0.0
        ef = (fe - ff) / ff * 100 if ff else 0.0
        errs.append(abs(el))
        ferrs.append(abs(ef))
        print(f"| {tag} | {lut:,} | {fit:,.0f} | {est:,.0f} | {el:+.0f}% | {ff:,} | {fe:,} | {ef:+.0f}% |")
    print(f"\n|error| over designs: LUT median {np.median(errs):.0f}%, max {max(errs):.0f}%; FF median {np.median(ferrs):.0f}%, max {max(ferrs):.0f}%")


if __name__ == "__main__":
    main(sys.argv[1])
