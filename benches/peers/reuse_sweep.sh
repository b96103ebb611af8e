#!/usr/bin/env bash
# The folded-architecture table of the README: jet_tagger_da at reuse
# factors 1, 2, 4, 8, 16, 64, with and without --no-dsp. For each design:
# Yosys 0.23 `synth_xilinx -flatten` (-nodsp with --no-dsp) of the top
# (LUT, CARRY4, FF, BRAM36, DSP), the latency and initiation interval from
# interface.json, the Verilator build seconds and simulated inferences/s
# from `qkhw verify --random 1000` (a fresh build cache each time).
# Usage: bash benches/peers/reuse_sweep.sh [MODEL] [FACTORS...]
#   MODES="dsp" (or "nodsp") limits the rows (default both).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet
Q=target/release/qkhw
MODEL=${1:-examples/models/jet_tagger_da.keras}
shift || true
FACTORS=${*:-1 2 4 8 16 64}
OUT=$(mktemp -d)
CACHE=$(mktemp -d)
printf "| R | --no-dsp | LUT | CARRY4 | FF | BRAM36 | DSP | latency | II | Verilator build s | sim inferences/s |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
for R in $FACTORS; do
  for MODE in ${MODES:-dsp nodsp}; do
    NODSP=""; [ "$MODE" = nodsp ] && NODSP="--no-dsp"
    D="$OUT/r$R$NODSP"
    $Q gen "$MODEL" -o "$D" --reuse-factor "$R" $NODSP > /dev/null 2>&1
    TOP=$(python3 -c "import json,sys; print(json.load(open('$D/interface.json'))['top'])")
    READS=$(sed "s|^|read_verilog $D/|; s|$|;|" "$D/files.f" | tr '\n' ' ')
    FLAG=""; [ -n "$NODSP" ] && FLAG="-nodsp"
    yosys -q -p "$READS synth_xilinx -flatten $FLAG -top $TOP; tee -o $D/stat.txt stat" > /dev/null 2>&1
    cnt() { awk -v p="$1" '$1 ~ "^"p {s+=$2} END {print s+0}' "$D/stat.txt"; }
    LUT=$(cnt LUT); CARRY=$(cnt CARRY4); FF=$(cnt FD); DSP=$(cnt DSP48)
    BRAM=$(awk '$1 ~ /^RAMB36/ {s+=$2} $1 ~ /^RAMB18/ {s+=$2/2} END {print s+0}' "$D/stat.txt")
    LAT=$(python3 -c "import json; i=json.load(open('$D/interface.json')); print(i['latency_cycles'], i['initiation_interval'])")
    V=$(QKHW_CACHE="$CACHE" $Q verify "$MODEL" --design "$D" --random 1000 2>&1 | grep "^build")
    BUILD=$(echo "$V" | sed -E 's/build ([0-9.]+) s.*/\1/'); SIM=$(echo "$V" | sed -E 's/.*simulation ([0-9]+) inferences.*/\1/')
    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$R" "${NODSP:+yes}" "$LUT" "$CARRY" "$FF" "$BRAM" "$DSP" ${LAT} "$BUILD" "$SIM"
  done
done
rm -rf "$OUT" "$CACHE"
