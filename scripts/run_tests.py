#!/usr/bin/env python3
"""Run every Rust test the cargo arguments select (the test command: the
whole workspace), each test in its own process, on a pool of workers across all test binaries, longest first.

Why not `cargo test`: it runs the test binaries one after another, and
prints no test's time. Here every test of every binary is one job on one
pool (so no core waits for one binary's last long test; measured on two
cores the suite took as long as under `cargo test`, being CPU-bound, and
each test's time is printed), ordered by how long it took last time
(`scripts/test_times.tsv`, rewritten by `--save-times`; a test not listed
there counts as 10 s), so the longest start first and the short ones fill
the gaps. A test runs exactly as `cargo test` runs it (its binary, the
package's folder as the working directory, `--exact NAME`), alone in its
process. Nothing is skipped: a test that fails, or a name that matches no
test, fails the run, and its output is printed.

Each test gets a temporary folder of its own as TMPDIR (under
`target/test-tmp`, emptied when a run starts): removed when the test
passes, kept and named when it fails (its designs and simulator logs).
Before, every run left its generated designs in /tmp (7.8 GB after a few
dozen runs).

Usage: run_tests.py [--jobs N] [--save-times] [-- CARGO_ARGS...]
(`--jobs` defaults to $QKHW_TEST_JOBS, else the cores + 1: a test that
simulates uses one core, one that builds uses two for part of its time.)
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMES = os.path.join(ROOT, "scripts", "test_times.tsv")
SCRATCH = os.path.join(ROOT, "target", "test-tmp")
DEFAULT_SECS = 10.0


def executables(cargo_args):
    """(label, path, kind, package folder) of every test executable cargo builds."""
    cmd = ["cargo", "test", "--all-targets", "--no-run", "--message-format=json-render-diagnostics"] + cargo_args
    out = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        sys.exit(f"error: `{' '.join(cmd)}` failed (exit {out.returncode})")
    found = []
    for line in out.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable") or not msg["profile"]["test"]:
            continue
        kind = msg["target"]["kind"][0]
        found.append((f"{kind}:{msg['target']['name']}", msg["executable"], kind, os.path.dirname(msg["manifest_path"])))
    if not found:
        sys.exit("error: cargo built no test executable")
    return found


def jobs_of(label, exe, kind, cwd):
    """The jobs of one executable: one per test, or the whole bench; each
    runs in its package's folder, as under `cargo test`."""
    if kind == "bench":
        # Criterion run without --bench runs each benchmark once (test mode).
        return [(label, None, [exe], cwd)]
    out = subprocess.run([exe, "--list", "--format", "terse"], cwd=cwd, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        sys.exit(f"error: {exe} --list failed (exit {out.returncode})")
    names = [l[: -len(": test")] for l in out.stdout.splitlines() if l.endswith(": test")]
    return [(label, n, [exe, "--exact", n, "--test-threads", "1"], cwd) for n in names]


def load_times():
    times = {}
    if os.path.exists(TIMES):
        with open(TIMES) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                key, secs = line.rstrip("\n").split("\t")
                times[key] = float(secs)
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("QKHW_TEST_JOBS", "0")) or (os.cpu_count() or 1) + 1)
    ap.add_argument("--save-times", action="store_true", help=f"write each test's seconds to {os.path.relpath(TIMES, ROOT)}")
    ap.add_argument("--dry-run", action="store_true", help="list the jobs in the order they would start")
    ap.add_argument("cargo_args", nargs="*")
    args = ap.parse_args()

    t0 = time.time()
    jobs = [j for e in executables(args.cargo_args) for j in jobs_of(*e)]
    times = load_times()
    key = lambda j: f"{j[0]}::{j[1] or ''}"
    jobs.sort(key=lambda j: -times.get(key(j), DEFAULT_SECS))
    print(f"{len(jobs)} tests on {args.jobs} workers, longest first", flush=True)
    if args.dry_run:
        print("\n".join(key(j) for j in jobs))
        return

    lock = threading.Lock()
    results = {}
    shutil.rmtree(SCRATCH, ignore_errors=True)
    numbered = {key(j): n for n, j in enumerate(jobs)}

    def run(job):
        label, name, cmd, cwd = job
        tmp = os.path.join(SCRATCH, str(numbered[key(job)]))
        os.makedirs(tmp)
        env = dict(os.environ, TMPDIR=tmp)
        start = time.time()
        p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        secs = time.time() - start
        ran = name is None or "test result: ok. 1 passed" in p.stdout or " 1 ignored" in p.stdout
        ok = p.returncode == 0 and ran
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        with lock:
            results[key(job)] = (ok, secs, "" if ok else f"{p.stdout}\n(its temporary files: {tmp})")
            print(f"{'ok    ' if ok else 'FAILED'} {secs:7.1f} s  {key(job)}", flush=True)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(run, jobs))

    failed = [k for k, (ok, _, _) in results.items() if not ok]
    for k in failed:
        print(f"\n---- {k} ----\n{results[k][2]}", flush=True)
    total = sum(s for _, s, _ in results.values())
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed; {time.time() - t0:.0f} s (tests {total:.0f} s on {args.jobs} workers)")
    if args.save_times:
        with open(TIMES + ".tmp", "w") as f:
            f.write("# Seconds each test took (scripts/run_tests.py --save-times): only the order tests start in.\n")
            for k, (_, s, _) in sorted(results.items(), key=lambda kv: -kv[1][1]):
                f.write(f"{k}\t{s:.1f}\n")
        os.replace(TIMES + ".tmp", TIMES)
    if failed:
        print("failed:\n  " + "\n  ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
