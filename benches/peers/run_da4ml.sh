#!/usr/bin/env bash
# qkhw --no-dsp against da4ml 0.6.0 on jet_tagger_da: same integer weights,
# same Yosys 0.23 `synth_xilinx -flatten -nodsp`, same latency in cycles
# (conditions in benches/peers/da4ml_compare.py). Prints a markdown table;
# the details go to target/peers/da4ml/da4ml_compare.json.
# Usage: bash benches/peers/run_da4ml.sh [da4ml_compare.py options]
#   e.g. --hard-dc 0 --no-per-layer (one da4ml design, whole network only)
# Env: DA4ML_VENV (default /tmp/da4ml-venv), created and filled from
# benches/peers/requirements-da4ml.txt when da4ml 0.6.0 is not in it;
# QKHW (default: cargo build --release, then target/release/qkhw).
# Needs yosys (0.23: apt-get install yosys) and python3 with venv.
# Takes about 8 minutes on 2 cores (Yosys: qkhw --synth, then 15 da4ml syntheses).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${DA4ML_VENV:-/tmp/da4ml-venv}
if [[ -z ${QKHW:-} ]]; then
  cargo build --release -q
  QKHW=target/release/qkhw
fi
command -v yosys >/dev/null || { echo "yosys not found (apt-get install yosys)" >&2; exit 1; }
[[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
if ! "$VENV/bin/python" -c 'import da4ml, sys; sys.exit(da4ml.__version__ != "0.6.0")' 2>/dev/null; then
  "$VENV/bin/pip" install -q -r benches/peers/requirements-da4ml.txt
fi
exec "$VENV/bin/python" benches/peers/da4ml_compare.py --qkhw "$QKHW" "$@"
