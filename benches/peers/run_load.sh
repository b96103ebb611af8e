#!/usr/bin/env bash
# Side by side, same machine, same run: qkhw's criterion bench `load`, then
# QKeras loading the same files and computing the same dict.
# Usage: bash benches/peers/run_load.sh [path/to/python-with-qkeras]
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:-python3}
cargo bench --bench load -- --noplot 2>&1 | grep -E "^load/|time:"
"$PY" benches/peers/load_qkeras.py 2>/dev/null
