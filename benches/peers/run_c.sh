#!/usr/bin/env bash
# The generated C of jet_tagger against `qkhw predict` on one core, same
# input format (fixed<16,6>), one run. Usage: bash benches/peers/run_c.sh
# [--c-only] (the C rows only: benches/peers/golden_speed.py runs qkhw).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q
d=$(mktemp -d)
./target/release/qkhw gen examples/models/jet_tagger.keras --target c -o "$d" >/dev/null 2>&1
cp benches/peers/c_bench.c "$d/"
for flags in "-O2" "-O3 -march=native"; do
  gcc -std=c99 $flags -Wall -Wextra -Werror "$d/jet_tagger.c" "$d/c_bench.c" -o "$d/bench" -lm
  printf 'generated C (gcc %s): ' "$flags"; "$d/bench" 1000000
done
if [[ ${1:-} == --c-only ]]; then rm -rf "$d"; exit 0; fi
python3 - "$d/x.npy" <<'PY'
import struct, sys, random
# 1,000,000 x 16 float32 .npy without numpy: standard normal values.
n, k = 1000000, 16
random.seed(1)
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (n, k)
hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    f.write(struct.pack("<%df" % (n * k), *(random.gauss(0, 1) for _ in range(n * k))))
PY
printf 'qkhw predict --threads 1: '
./target/release/qkhw predict examples/models/jet_tagger.keras --input "$d/x.npy" --output "$d/y.npy" --threads 1 --input-format 'fixed<16,6>' 2>/dev/null | tail -1
rm -rf "$d"
