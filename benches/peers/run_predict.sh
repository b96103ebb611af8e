#!/usr/bin/env bash
# Inference throughput side by side, same machine, same inputs, same run:
# QKeras model.predict / model(x), hls4ml's compiled C++ emulation and
# `qkhw predict`, with agreement against QKeras's logits.
# Usage: bash benches/peers/run_predict.sh [python-with-qkeras-v3 [python-with-hls4ml]] [-- predict_peers.py options]
#   defaults: /opt/qk/bin/python (tests/golden/requirements.txt) and
#             /opt/qk2/bin/python (benches/peers/requirements-hls4ml.txt)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/opt/qk/bin/python
PY2=/opt/qk2/bin/python
if [[ $# -gt 0 && $1 != -- ]]; then PY=$1; shift; fi
if [[ $# -gt 0 && $1 != -- ]]; then PY2=$1; shift; fi
if [[ $# -gt 0 && $1 == -- ]]; then shift; fi
cargo build --release
"$PY" benches/peers/predict_peers.py --hls4ml-python "$PY2" "$@"
