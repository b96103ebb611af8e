#!/usr/bin/env bash
# Side by side, same machine, same run: qkhw's criterion bench, then QKeras.
# Usage: bash benches/peers/run_quantize.sh [path/to/python-with-qkeras]
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:-python3}
cargo bench --bench quantize -- --noplot 2>&1 | grep -E "^quantize/|thrpt"
"$PY" benches/peers/quantize_qkeras.py 2>/dev/null
