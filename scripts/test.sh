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
# of them: without them it fails, and so does this script. ccache too:
# Verilator's builds use it when present (OBJCACHE), so its runtime
# compiles once instead of once per design (about 80 builds).
need_sims() {
  local missing=()
  for t in verilator iverilog yosys ccache; do command -v "$t" >/dev/null || missing+=("$t"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt-get)"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq verilator iverilog yosys ccache >/dev/null \
      || { echo "error: cannot install verilator/iverilog/yosys/ccache; the hardware tests need them" >&2; exit 1; }
  fi
  verilator --version && iverilog -V 2>&1 | sed -n 1p && yosys -V && ccache --version | sed -n 1p
}

# The Python package (pyproject.toml, python/): a virtual environment with
# the pinned QKeras (tests/golden/requirements.txt), pytest and maturin,
# made once in a cache outside the checkout and reused (keyed by the
# requirement files' hash; $QKHW_PY_CACHE moves it), then `pip install .`
# of this checkout into it and the pytest suite against the real QKeras.
py_venv() {
  local key
  key=$(cat tests/golden/requirements.txt python/requirements-test.txt | sha256sum | cut -c1-16)
  echo "${QKHW_PY_CACHE:-$HOME/.cache/qkhw/python}/venv-$key"
}

make_py_venv() {
  local venv=$1 t0=$SECONDS
  echo "creating $venv (pinned QKeras, pytest, maturin)"
  rm -rf "$venv"
  python3 -m venv "$venv" \
    && "$venv/bin/pip" install -q --disable-pip-version-check -r tests/golden/requirements.txt -r python/requirements-test.txt \
    && touch "$venv/.complete" \
    && echo "created $venv in $((SECONDS - t0)) s"
}

# A missing environment is made in the background from the start, while
# the Rust tests build and run (pip mostly downloads and unpacks); the
# Python stage waits for it and says how long it waited.
start_py_venv() {
  PY_VENV=$(py_venv)
  PY_VENV_PID=""
  if [ ! -f "$PY_VENV/.complete" ]; then
    mkdir -p "$(dirname "$PY_VENV")"
    make_py_venv "$PY_VENV" > "$PY_VENV.log" 2>&1 &
    PY_VENV_PID=$!
    echo "creating $PY_VENV in the background (log: $PY_VENV.log)"
  fi
}

python_tests() {
  local venv=$PY_VENV t0=$SECONDS
  if [ -n "$PY_VENV_PID" ]; then
    if ! wait "$PY_VENV_PID"; then
      cat "$PY_VENV.log" >&2
      echo "error: cannot create the Python test environment $venv (pip install failed; log above)" >&2
      exit 1
    fi
    tail -n 1 "$PY_VENV.log"
    echo "waited $((SECONDS - t0)) s for it"
  fi
  [ -f "$venv/.complete" ] || { echo "error: the Python test environment $venv is incomplete" >&2; exit 1; }
  # No build isolation: maturin comes from the cached environment, so the
  # install needs no download; the build is cargo's (target/, incremental),
  # in the dev profile `cargo test --workspace` has just built, with the
  # same features (python/Cargo.toml says how), so the qkhw library is not
  # compiled again (a release build of the whole crate would cost minutes;
  # the tests take as long either way).
  MATURIN_PEP517_ARGS="--profile dev" PATH="$venv/bin:$PATH" "$venv/bin/pip" install -q --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps . \
    || { echo "error: pip install . failed" >&2; exit 1; }
  # From the root, where `import qkhw` finds the installed package, not the
  # source folder python/qkhw (which lacks the extension).
  "$venv/bin/python" -m pytest -q -p no:cacheprovider -n 2
}

command -v python3 >/dev/null || { echo "error: python3 (3.10 or newer) is required (the test runner, the Python package's tests)" >&2; exit 1; }

stage "toolchain" need_cargo
start_py_venv
stage "simulators" need_sims
# Unit, golden (committed QKeras data), property, fuzz-corpus and CLI tests;
# benches are built and run once in test mode so they cannot rot.
# Every test its own process, all binaries' tests on one pool, longest
# first, each test's time printed (scripts/run_tests.py says why).
# The whole workspace: the Python extension's own Rust tests (a panic
# reaches Python as qkhw.Error) run in an embedded interpreter, libpython
# from python3's LIBDIR.
LD_LIBRARY_PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  stage "cargo test" python3 scripts/run_tests.py -- --workspace --locked
# The workspace's features, as the build above: the root package alone
# would resolve its dependencies' features otherwise and compile the
# library again (79 s).
stage "doc tests" cargo test --doc --workspace --locked
stage "python package" python_tests
