#!/usr/bin/env bash
# The test command (README "Quick start", called by .ci/run): installs what
# the tests need, idempotently, then runs every test, timing each stage.
# It fails loudly when something cannot be installed; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

stage() {
  local name=$1; shift
  local t0=$SECONDS
  echo "== $name"
  "$@"
  echo "== $name: $((SECONDS - t0)) s"
}

need_cargo() {
  command -v cargo >/dev/null || { echo "error: cargo is required (install Rust with rustup)" >&2; exit 1; }
}

# Simulators for the hardware tests (tests/verilog.rs, tests/hw_primitives.rs):
# installed from Debian's packages when missing. A test never skips for want
# of them: without them it fails, and so does this script.
need_sims() {
  local missing=()
  for t in verilator iverilog yosys; do command -v "$t" >/dev/null || missing+=("$t"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt-get)"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq verilator iverilog yosys >/dev/null \
      || { echo "error: cannot install verilator/iverilog/yosys; the hardware tests need them" >&2; exit 1; }
  fi
  verilator --version && iverilog -V 2>&1 | sed -n 1p && yosys -V
}

stage "toolchain" need_cargo
stage "simulators" need_sims
# Unit, golden (committed QKeras data), property, fuzz-corpus and CLI tests;
# benches are built and run once in test mode so they cannot rot.
stage "cargo test" cargo test --all-targets --locked
stage "doc tests" cargo test --doc --locked
