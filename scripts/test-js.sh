#!/usr/bin/env bash
# Builds the npm package mandate-pdp and runs every JS test: the node --test suites for the API and
# the helpers (Express, Hono, MCP), jose interop, the Redis replay store against redis-server, the conformance vectors in Node and in headless
# Chromium, the Cloudflare Worker example on workerd, npm pack + install, and the runnable examples.
# Idempotent; installs what it needs (Chromium and redis-server from apt, npm packages from the lock files, the
# wasm-bindgen CLI into .tools/). Exits non-zero on any failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "test-js: Node >= 20 is required (found $(node --version))" >&2
  exit 1
fi

apt_missing=()
[ -x /usr/bin/chromium ] || apt_missing+=(chromium)          # browser conformance run
command -v redis-server >/dev/null || apt_missing+=(redis-server)  # RedisReplayStore test
if [ "${#apt_missing[@]}" -gt 0 ]; then
  echo "test-js: installing ${apt_missing[*]} from Debian" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

"$ROOT/scripts/build-js.sh"

# npm ci only when the lock file changed since the last install (npm ci always starts afresh).
npm_ci() {
  if [ ! -f "$1/node_modules/.package-lock.json" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_ci bindings-js
npm_ci examples/node-express
npm_ci examples/mcp-guard

cd bindings-js
node --test test/*.test.js
