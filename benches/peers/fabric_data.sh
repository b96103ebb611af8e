#!/usr/bin/env bash
# Yosys 0.23 per-module counts that calibrate the LUT and FF estimate
# (src/arch/fabric.rs): each design below is generated and every layer
# module synthesized alone (`synth_xilinx -flatten`, `-nodsp` with
# --no-dsp). Writes one TSV row per module: tag, model, gen options,
# module, LUT, FF, DSP48, CARRY4. About an hour on two cores.
# Usage: bash benches/peers/fabric_data.sh > benches/peers/fabric_data.tsv
# Then: python3 benches/peers/fabric_fit.py benches/peers/fabric_data.tsv
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet
Q=$PWD/target/release/qkhw
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
run() { # tag model options...
  local T=$1 M=$2; shift 2
  local D="$OUT/$T"
  "$Q" gen "examples/models/$M.keras" -o "$D" "$@" > /dev/null
  local NODSP=""; [[ " $* " == *" --no-dsp "* ]] && NODSP="-nodsp"
  local READS; READS=$(grep -v '^//' "$D/files.f" | sed "s|^|read_verilog $D/|; s|$|;|" | tr '\n' ' ')
  local TOP; TOP=$(python3 -c "import json; print(json.load(open('$D/interface.json'))['top'])")
  for MOD in $(python3 -c "import json; print(' '.join(sorted({l['module'] for l in json.load(open('$D/report.json'))['layers']})))"); do
    [ "$MOD" = "$TOP" ] && continue
    yosys -q -p "$READS synth_xilinx -flatten $NODSP -top $MOD; tee -o $D/$MOD.stat stat" > /dev/null
    cnt() { awk -v p="$1" '$1 ~ "^"p {s+=$2} END {print s+0}' "$D/$MOD.stat"; }
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$T" "$M" "$*" "$MOD" "$(cnt LUT)" "$(cnt FD)" "$(cnt DSP48)" "$(cnt CARRY4)"
  done
}
for R in 1 2 4 8 16 64; do
  run "jet_r$R" jet_tagger_da --reuse-factor "$R"
  run "jet_r${R}_nodsp" jet_tagger_da --reuse-factor "$R" --no-dsp
done
run cnn_r4 cnn_bn --reuse-factor 4
run cnn_r4_nodsp cnn_bn --reuse-factor 4 --no-dsp
run conv1d_r1 zoo_conv1d
run lstm_r2 rnn_lstm --reuse-factor 2
run scnn_stream stream_cnn --io stream
run dscnn_r8 dscnn_bn --reuse-factor 8
