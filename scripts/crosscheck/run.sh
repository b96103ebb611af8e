#!/usr/bin/env bash
# Cross-check: every model in DIR (from make_models.py) through
#   qkhw predict      vs QKeras model.predict (the logits for softmax models),
#   qkhw verify       --target c, hls (vitis and catapult), verilog and
#                     verilog --io stream, on the model's inputs plus 2,000
#                     random input codes (a model --io stream does not take
#                     is listed with the reason, not counted as a failure).
# Usage: PYTHON=.venv/bin/python bash scripts/crosscheck/run.sh DIR
# (PYTHON: any Python with numpy, for the predict comparison; TARGETS:
# the verify targets, ';'-separated, e.g. TARGETS="verilog --io stream")
set -u
DIR=${1:?usage: run.sh DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
Q=${QKHW:-$ROOT/target/release/qkhw}
PY=${PYTHON:-python3}
[ -x "$Q" ] || (cd "$ROOT" && cargo build --release --quiet) || exit 2
fail=0
for m in "$DIR"/*.keras "$DIR"/*_legacy.h5; do
  [ -f "$m" ] || continue
  n=$(basename "$m"); n=${n%.keras}; n=${n%_legacy.h5}
  x=$DIR/$n.x.npy
  echo "== $(basename "$m")"
  want=$DIR/$n.y.npy
  [ -f "$DIR/$n.logits.npy" ] && want=$DIR/$n.logits.npy
  if "$Q" predict "$m" --input "$x" --output "$DIR/$n.qkhw.npy" >/dev/null 2>"$DIR/$n.notes"; then
    "$PY" -c "
import numpy as np, sys
a = np.load('$DIR/$n.qkhw.npy'); b = np.load('$want')
same = int((a == b).sum())
print(f'predict: {same}/{b.size} equal to QKeras, max |diff| {float(np.abs(a.astype(\"f8\") - b).max()):.3g}')
"
  else
    echo "predict: $(tail -1 "$DIR/$n.notes")"; fail=1
  fi
  IFS=';' read -r -a targets <<< "${TARGETS:-c;hls;hls --flavor catapult;verilog;verilog --io stream}"
  for t in "${targets[@]}"; do
    # shellcheck disable=SC2086
    out=$("$Q" verify "$m" --target $t --input "$x" --random "${RANDOM_N:-2000}" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] && ! { [[ "$t" == *"--io stream"* ]] && echo "$out" | grep -q "^error: --io stream"; }; then fail=1; fi
    echo "$out" | grep -v "^note\|^verifying" | head -2 | tr '\n' ' '; echo
  done
done
exit $fail
