#!/usr/bin/env bash
# The golden model against the generated C, numpy and QKeras, side by side
# in one run (conditions in benches/peers/golden_speed.py), then the
# criterion benches of `qkhw predict`.
# Usage: bash benches/peers/run_golden.sh [python-with-qkeras-v3-and-numpy]
#   default: /work/venv/bin/python, else python3 (tests/golden/requirements.txt)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:-/work/venv/bin/python}
[[ -x $PY ]] || PY=python3
cargo build --release -q
"$PY" benches/peers/golden_speed.py
cargo bench -q --bench predict 2>&1 | grep -E "^predict/|thrpt"
