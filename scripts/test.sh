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

stage "toolchain" need_cargo
# Unit, golden (committed QKeras data), property, fuzz-corpus and CLI tests;
# benches are built and run once in test mode so they cannot rot.
stage "cargo test" cargo test --all-targets --locked
stage "doc tests" cargo test --doc --locked
