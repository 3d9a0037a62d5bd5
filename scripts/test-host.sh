#!/usr/bin/env bash
# Tests the portable module (wasm) and the Rust host SDK (host-rust):
# builds dist/mandate.wasm (size budget enforced), starts a throwaway redis-server on a free
# loopback port, runs `cargo test -p host-rust -p wasm`, and stops Redis.
# Installs what it needs (Debian redis-server; the wasm toolchain and wasm-opt via build-wasm.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if ! command -v redis-server >/dev/null 2>&1; then
  echo "test-host: installing redis-server" >&2
  apt-get update -qq >/dev/null
  # RUNLEVEL=1: install the package without starting Debian's own redis service.
  RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi

bash scripts/build-wasm.sh

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
REDIS_LOG="$(mktemp)"
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no >"$REDIS_LOG" 2>&1 &
REDIS_PID=$!
cleanup() {
  kill "$REDIS_PID" 2>/dev/null || true
  wait "$REDIS_PID" 2>/dev/null || true
  rm -f "$REDIS_LOG"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  if redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG; then break; fi
  if ! kill -0 "$REDIS_PID" 2>/dev/null; then cat "$REDIS_LOG" >&2; echo "test-host: redis-server exited" >&2; exit 1; fi
  sleep 0.1
done
redis-cli -p "$PORT" ping | grep -q PONG
echo "test-host: redis-server (pid $REDIS_PID) on 127.0.0.1:$PORT" >&2

export MANDATE_REDIS_URL="redis://127.0.0.1:$PORT/"
cargo test -p host-rust -p wasm
