#!/usr/bin/env python3
"""qkhw `gen --no-dsp` against da4ml 0.6.0 on the same integer weights,
through the same Yosys 0.23 flow, at the same latency in clock cycles.

Run with the da4ml venv's python (benches/peers/run_da4ml.sh sets it up):

    python benches/peers/da4ml_compare.py --qkhw target/release/qkhw

What it does, for examples/models/jet_tagger_da.keras (16-64-32-32-5):

1. qkhw: `qkhw gen MODEL --no-dsp --part xc7z020 --synth -o WORK/qkhw`;
   LUT/FF/CARRY4/ltp of the whole design and of each layer module come from
   its synth.json, the latency in cycles from interface.json.
2. The weights: `qkhw weights MODEL --json` (float32 values of QKeras's
   model_save_quantized_weights); x 32 they are the integer codes of
   quantized_bits(6,0), checked to be integers.
3. da4ml: the network is replayed on da4ml's symbolic fixed-point arrays
   (`da4ml.trace.FixedVariableArray`, the functional API of its docs): input
   ufixed<6,0> (`from_kif(k=0, i=0, f=6)`), each Dense layer
   `h = x @ W + b` (one CMVM per layer, solved by `da4ml.cmvm.solve` with
   solver_options={'hard_dc': DC}), each activation QKeras's
   quantized_relu(6,2): relu, round half to even on the 1/16 grid, clip to
   [0, 63/16]. `comb_trace` makes the combinational logic, `to_pipeline`
   cuts it into stages every `latency_cutoff` adder levels (HWConfig(1, -1,
   -1): one unit of latency per adder), `RTLModel(...).write()` writes the
   Verilog. da4ml's pipeline registers its input and its output, so N stages
   are N + 1 cycles; the cutoff is chosen (smallest cutoff with at most
   qkhw's latency - 1 stages) so that both designs have the same latency.
4. Both designs go through the same Yosys command,
   `read_verilog ...; synth_xilinx -flatten -nodsp -top TOP; tee -o stat stat`
   (plus the same `ltp -noff` logic-depth probe qkhw's --synth runs), and
   every cell whose name starts with LUT is counted.
5. Bit-exactness: da4ml's own integer interpreter (`CombLogic.predict`) is
   run on random inputs and compared code for code with `qkhw predict`.
   The rounding ties of quantized_relu are exercised (with da4ml's built-in
   half-up rounding instead, thousands of these samples differ).

Per-layer rows: each Dense layer with its activation, traced and synthesized
alone (da4ml) against qkhw's fcN + reluN modules (the output layer alone).
The whole-design row is one synthesis of the whole network in both tools.

Prints a markdown table and writes WORK/da4ml_compare.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from math import log2
from pathlib import Path

import numpy as np

import da4ml
from da4ml.codegen import RTLModel
from da4ml.trace import FixedVariableArray, HWConfig, comb_trace, to_pipeline

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO / 'examples/models/jet_tagger_da.keras'
DENSE = ['fc1', 'fc2', 'fc3', 'output']
ACTS = {'fc1': 'relu1', 'fc2': 'relu2', 'fc3': 'relu3'}
W_FRAC = 5  # quantized_bits(6,0): value = code / 32
IN_FRAC = 6  # input quantized_bits(6,0,0,0): ufixed<6,0>
ACT_I, ACT_F = 2, 4  # quantized_relu(6,2): ufixed<6,2>
# qkhw's --synth probe of logic depth: `ltp -noff` with the flip-flops
# deselected (src/backend/verilog/synth.rs).
LTP = 'select * t:FD* %d t:RAM* %d t:SRL* %d; tee -o {ltp} ltp -noff'


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f'failed: {" ".join(map(str, cmd))}\n{r.stdout}\n{r.stderr}')
    return r


# ---------------------------------------------------------------- weights


def load_weights(qkhw: str, model: Path, work: Path):
    path = work / 'weights.json'
    run([qkhw, 'weights', str(model), '--json', str(path)])
    d = json.load(open(path))['weights']
    layers = []
    for name in DENSE:
        (k, b) = d[name]['weights']
        w = np.array(k['data'], np.float64).reshape(k['shape'])
        bias = np.array(b['data'], np.float64).reshape(b['shape'])
        wc, bc = w * 2**W_FRAC, bias * 2**W_FRAC
        assert np.all(wc == np.round(wc)) and np.all(bc == np.round(bc)), f'{name}: weights are not on the 1/32 grid'
        assert np.abs(wc).max() <= 32 and np.abs(bc).max() <= 32
        layers.append((name, wc.astype(np.int64), bc.astype(np.int64)))
    return layers


# ------------------------------------------------------------- da4ml side


def quantized_relu_6_2(h: FixedVariableArray) -> FixedVariableArray:
    """QKeras quantized_relu(6,2), bit-exact: relu, round half to even on
    the 1/16 grid (tf.round), clip to [0, 63/16].

    With ulp the step of h, g = h + (1/32 - ulp) (a constant, so da4ml
    folds it into the bias addition). floor(g * 16) is round-half-down;
    a tie (and only a tie) leaves g's bits below 1/16 all ones, and its
    1/16 bit is then h's, so "bits 1/16 .. ulp of g all ones" is exactly
    "tie and odd": add 1/16 then. Then saturate at 63/16."""
    out = []
    for v in h._vars.ravel():
        f = -int(log2(float(v.step)))
        if f <= ACT_F:
            r = v.relu()
        else:
            g = v + (2.0 ** -(ACT_F + 1) - 2.0**-f)
            r = g.relu()
            low = r.quantize(0, -(ACT_F - 1), f)  # bits 2^-4 .. ulp
            up = low.unary_bit_op('all')  # 1 iff all ones
            r = r.quantize(0, 8, ACT_F) + up * 2.0**-ACT_F  # floor to 1/16, + increment
        out.append(r.quantize(0, ACT_I, ACT_F, 'SAT', 'TRN'))
    return FixedVariableArray(np.array(out).reshape(h._vars.shape), h.solver_options, hwconf=h.hwconf)


def trace_layers(layers, dc: int, x: FixedVariableArray | None = None, which=None):
    """Replay layers `which` (default all) on x (default the model input)."""
    opts = {'hard_dc': dc}
    if x is None:
        n = layers[0][1].shape[0]
        x = FixedVariableArray.from_kif(
            np.zeros(n, int), np.zeros(n, int), np.full(n, IN_FRAC), hwconf=HWConfig(1, -1, -1), solver_options=opts
        )
    inp, h = x, x
    for name, wc, bc in layers if which is None else [layers[i] for i in which]:
        h = h @ (wc / 2.0**W_FRAC) + bc / 2.0**W_FRAC
        if name in ACTS:
            h = quantized_relu_6_2(h)
    return inp, h


def pick_cutoff(comb, max_stages: int):
    """Smallest integer latency cutoff with at most max_stages stages."""
    lat = int(np.ceil(max(comb.latency)))
    for c in range(1, lat + 2):
        pipe = to_pipeline(comb, c, verbose=False)
        if len(pipe.solutions) <= max_stages:
            return c, pipe
    raise RuntimeError('no cutoff')


def da4ml_netlist_stats(pipe) -> dict:
    """Adders (two-variable shift-adds, opcode 0/1, and constant adds,
    opcode 4) and their output widths, summed over the stages."""
    from da4ml.types import minimal_kif

    n_add = n_cadd = bits_add = bits_cadd = other = 0
    for sol in pipe.solutions:
        ref = sol.ref_count
        for i, op in enumerate(sol.ops):
            if ref[i] == 0:
                continue
            w = int(sum(minimal_kif(op.qint)))
            if op.opcode in (0, 1):
                n_add += 1
                bits_add += w
            elif op.opcode == 4:
                n_cadd += 1
                bits_cadd += w
            elif op.opcode not in (-1, 2, -2, 3, -3, 5):
                other += 1
    return {
        'adders': n_add,
        'adder_bits': bits_add,
        'const_adders': n_cadd,
        'const_adder_bits': bits_cadd,
        'other_ops': other,
        'reg_bits': int(pipe.reg_bits),
        'stages': len(pipe.solutions),
    }


def write_da4ml(pipe, name: str, out: Path) -> tuple[list[Path], str]:
    RTLModel(pipe, name, out, flavor='verilog').write()
    src = out / 'src'
    stages = sorted(src.glob(f'{name}_stage*.v'))
    text = ''.join(p.read_text() for p in stages)
    # da4ml's library modules that the stages instantiate (lookup_table.v
    # reads a .mem file at elaboration: left out when no table is used).
    lib = [p for p in sorted((src / 'static').glob('*.v')) if re.search(rf'\b{p.stem}\s*#', text)]
    files = lib + stages + [src / f'{name}.v']
    return files, name


# ------------------------------------------------------------------ Yosys


def yosys(files: list[Path], top: str, scratch: Path) -> dict:
    scratch.mkdir(parents=True, exist_ok=True)
    stat, ltp = scratch / f'stat-{top}.txt', scratch / f'ltp-{top}.txt'
    reads = '; '.join(f'read_verilog {f}' for f in files)
    script = f'{reads}; synth_xilinx -flatten -nodsp -top {top}; tee -o {stat} stat; ' + LTP.format(ltp=ltp)
    t = time.time()
    r = subprocess.run(['yosys', '-q', '-p', script], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f'yosys failed on {top}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}')
    text = stat.read_text()

    def count(prefix):
        n = 0
        for line in text.splitlines():
            p = line.split()
            if len(p) >= 2 and p[0].startswith(prefix) and p[1].isdigit():
                n += int(p[1])
        return n

    m = re.search(r'length=(\d+)', ltp.read_text()) if ltp.exists() else None
    return {
        'luts': count('LUT'),
        'ffs': count('FD'),
        'carry4': count('CARRY4'),
        'ltp': int(m.group(1)) if m else None,
        'secs': round(time.time() - t, 1),
    }


# ------------------------------------------------------------- qkhw side


def qkhw_side(qkhw: str, model: Path, work: Path, reuse: bool) -> dict:
    out = work / 'qkhw'
    if not (reuse and (out / 'synth.json').exists()):
        print(f'qkhw gen --no-dsp --synth -> {out} (about a minute) ...', file=sys.stderr)
        run([qkhw, 'gen', str(model), '--no-dsp', '--part', 'xc7z020', '--synth', '-o', str(out)])
    synth = {m['module']: m for m in json.load(open(out / 'synth.json'))}
    iface = json.load(open(out / 'interface.json'))
    top = iface['top']
    layers = {}
    for name in DENSE:
        mods = [f'{top}_{name}' if name != 'output' else f'{top}_output_l']
        if name in ACTS:
            mods.append(f'{top}_{ACTS[name]}')
        layers[name] = {k: sum(synth[m][k] for m in mods) for k in ('luts', 'ffs', 'carry4')}
    # Adders in qkhw's layer Verilog: `assign nK = A + B;` / `A - B`, width of nK.
    n_add, bits = 0, 0
    for name in DENSE:
        v = (out / (f'{top}_{name}.v' if name != 'output' else f'{top}_output_l.v')).read_text()
        widths = {m.group(2): int(m.group(1)) + 1 for m in re.finditer(r'wire \[(\d+):0\] (n\d+);', v)}
        for m in re.finditer(r'assign (n\d+) = [^;]*[^\[:]\s[+-]\s[^;]*;', v):
            n_add += 1
            bits += widths.get(m.group(1), 0)
    return {
        'whole': {k: synth[top][k] for k in ('luts', 'ffs', 'carry4', 'ltp')},
        'layers': layers,
        'latency_cycles': iface['latency_cycles'],
        'netlist': {'adders': n_add, 'adder_bits': bits},
        'report': (out / 'report.txt').read_text(),
    }


# ------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--qkhw', default=str(REPO / 'target/release/qkhw'))
    ap.add_argument('--model', default=str(DEFAULT_MODEL))
    ap.add_argument('--work', default=str(REPO / 'target/peers/da4ml'))
    ap.add_argument(
        '--hard-dc',
        type=int,
        nargs='+',
        default=[0, 2, -1],
        help="da4ml solver delay constraints (adder levels over the minimum; -1 = none, da4ml's default)",
    )
    ap.add_argument('--stages', type=int, default=None, help='da4ml pipeline stages (default: qkhw latency - 1, same cycles)')
    ap.add_argument('--no-per-layer', action='store_true', help='synthesize only the whole networks')
    ap.add_argument('--reuse-qkhw', action='store_true', help='reuse WORK/qkhw/synth.json if present')
    ap.add_argument('--verify', type=int, default=20000, help='random input vectors for the bit-exactness check')
    ap.add_argument('--jobs', type=int, default=min(2, os.cpu_count() or 1), help='Yosys runs at a time')
    a = ap.parse_args()

    work = Path(a.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    model = Path(a.model).resolve()
    yv = run(['yosys', '-V']).stdout.strip()
    print(f'da4ml {da4ml.__version__}, {yv}, model {model.name}', file=sys.stderr)
    if da4ml.__version__ != '0.6.0':
        print(f'warning: da4ml {da4ml.__version__}, not 0.6.0', file=sys.stderr)

    layers = load_weights(a.qkhw, model, work)
    qk = qkhw_side(a.qkhw, model, work, a.reuse_qkhw)
    stages = a.stages if a.stages is not None else qk['latency_cycles'] - 1

    # Reference codes from qkhw's golden model.
    rng = np.random.default_rng(0)
    codes_in = rng.integers(0, 2**IN_FRAC, (a.verify, layers[0][1].shape[0]))
    codes_in[: 2**IN_FRAC] = np.arange(2**IN_FRAC)[:, None]
    x = (codes_in / 2.0**IN_FRAC).astype(np.float32)
    np.save(work / 'x.npy', x)
    pr = run([a.qkhw, 'predict', str(model), '--input', str(work / 'x.npy'), '--output', str(work / 'y.npy'), '--codes', str(work / 'c.npy')])
    out_frac = int(re.search(r'code x 2\^-(\d+)', pr.stdout + pr.stderr).group(1))
    ref = np.load(work / 'c.npy')

    configs, jobs = [], []
    for dc in a.hard_dc:
        t = time.time()
        inp, out = trace_layers(layers, dc)
        comb = comb_trace(inp, out)
        solve_s = time.time() - t
        got = comb.predict(x.astype(np.float64))
        got_codes = np.round(got * 2.0**out_frac).astype(np.int64)
        exact = bool(np.array_equal(got_codes, ref) and np.all(got * 2.0**out_frac == got_codes))
        cutoff, pipe = pick_cutoff(comb, stages)
        name = f'da4ml_dc{dc if dc >= 0 else "m1"}'
        files, top = write_da4ml(pipe, name, work / name)
        cfg = {
            'hard_dc': dc,
            'latency_cutoff': cutoff,
            'stages': len(pipe.solutions),
            'latency_cycles': len(pipe.solutions) + 1,
            'adder_levels': float(max(comb.latency)),
            'da4ml_cost_estimate': float(comb.cost),
            'bit_exact': exact,
            'verified_vectors': int(a.verify),
            'trace_solve_s': round(solve_s, 2),
            'netlist': da4ml_netlist_stats(pipe),
            'layers': {},
        }
        configs.append(cfg)
        jobs.append((cfg, 'whole', files, top))
        if not a.no_per_layer:
            # Each layer alone, its input the exact intervals the previous
            # layer's activation gives (as in the whole network).
            h = None
            for i, (lname, _, _) in enumerate(layers):
                inp_l = (
                    None
                    if i == 0
                    else FixedVariableArray.from_lhs(
                        np.array([float(v.low) for v in h._vars]),
                        np.array([float(v.high) for v in h._vars]),
                        np.array([float(v.step) for v in h._vars]),
                        hwconf=HWConfig(1, -1, -1),
                        solver_options={'hard_dc': dc},
                    )
                )
                li, lo = trace_layers(layers, dc, x=inp_l, which=[i])
                h = lo
                lpipe = to_pipeline(comb_trace(li, lo), cutoff, verbose=False)
                lname_v = f'{name}_{lname}'
                lfiles, ltop = write_da4ml(lpipe, lname_v, work / lname_v)
                cfg['layers'][lname] = {'stages': len(lpipe.solutions)}
                jobs.append((cfg, lname, lfiles, ltop))
        print(
            f'da4ml hard_dc={dc}: {cfg["adder_levels"]:.0f} adder levels, cutoff {cutoff} -> {cfg["stages"]} stages; '
            f'bit-exact vs qkhw predict on {a.verify} vectors: {exact}',
            file=sys.stderr,
        )

    print(f'yosys: {len(jobs)} da4ml syntheses, {a.jobs} at a time ...', file=sys.stderr)

    def do(job):
        cfg, what, files, top = job
        r = yosys(files, top, work / 'yosys')
        print(f'  hard_dc={cfg["hard_dc"]} {what}: {r["luts"]} LUT ({r["secs"]} s)', file=sys.stderr)
        return job, r

    with ThreadPoolExecutor(a.jobs) as ex:
        for (cfg, what, _, _), r in ex.map(do, jobs):
            if what == 'whole':
                cfg['whole'] = r
            else:
                cfg['layers'][what].update(r)

    result = {
        'model': model.name,
        'da4ml_version': da4ml.__version__,
        'yosys': yv,
        'yosys_command': 'read_verilog FILES; synth_xilinx -flatten -nodsp -top TOP; tee -o stat.txt stat',
        'qkhw': {k: v for k, v in qk.items() if k != 'report'},
        'da4ml': configs,
    }
    (work / 'da4ml_compare.json').write_text(json.dumps(result, indent=1))

    # ------------------------------------------------------------ table
    per_layer = not a.no_per_layer
    cols = ['tool', 'parameters'] + ([f'{n} LUT' for n in DENSE] if per_layer else []) + [
        'total LUT',
        'FF',
        'CARRY4',
        'ltp',
        'latency (cycles)',
        'adders (bits)',
    ]
    rows = [
        [
            'qkhw --no-dsp',
            '--pipeline-levels 4 (default)',
            *([f'{qk["layers"][n]["luts"]:,}' for n in DENSE] if per_layer else []),
            f'**{qk["whole"]["luts"]:,}**',
            f'{qk["whole"]["ffs"]:,}',
            f'{qk["whole"]["carry4"]:,}',
            str(qk['whole']['ltp']),
            str(qk['latency_cycles']),
            f'{qk["netlist"]["adders"]:,} ({qk["netlist"]["adder_bits"]:,})',
        ]
    ]
    for c in configs:
        nl = c['netlist']
        rows.append(
            [
                'da4ml 0.6.0',
                f'hard_dc={c["hard_dc"]}, latency_cutoff={c["latency_cutoff"]} ({c["stages"]} stages)'
                + ('' if c['bit_exact'] else ', NOT bit-exact'),
                *([f'{c["layers"][n]["luts"]:,}' for n in DENSE] if per_layer else []),
                f'**{c["whole"]["luts"]:,}**',
                f'{c["whole"]["ffs"]:,}',
                f'{c["whole"]["carry4"]:,}',
                str(c['whole']['ltp']),
                str(c['latency_cycles']),
                f'{nl["adders"] + nl["const_adders"]:,} ({nl["adder_bits"] + nl["const_adder_bits"]:,})',
            ]
        )
    print(f'\n{model.name}: qkhw vs da4ml {da4ml.__version__}, same weights, Yosys `synth_xilinx -flatten -nodsp` ({yv.split("(")[0].strip()})\n')
    print('| ' + ' | '.join(cols) + ' |')
    print('|' + '|'.join('---' for _ in cols) + '|')
    for r in rows:
        print('| ' + ' | '.join(r) + ' |')
    print(
        '\nPer-layer columns: the Dense layer with its activation synthesized alone '
        '(qkhw: fcN + reluN modules). total/FF/CARRY4/ltp: the whole network in one synthesis. '
        'ltp: Yosys `ltp -noff` cells on the longest register-to-register path. '
        'adders (bits): two-operand adders and constant adders in the generated Verilog (sum of output widths); '
        'qkhw counts exclude its 128 requantizers.'
    )
    print(
        f'da4ml: FixedVariableArray.from_kif(0,0,6) input, `x @ W + b` per layer (CMVM solver, '
        f'solver_options={{"hard_dc": DC}}, other options default), HWConfig(1,-1,-1), '
        f'comb_trace -> to_pipeline(latency_cutoff) -> RTLModel.write(); every design bit-exact with '
        f'`qkhw predict` on {a.verify} random vectors: {all(c["bit_exact"] for c in configs)}.'
    )


if __name__ == '__main__':
    main()
