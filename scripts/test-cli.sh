#!/usr/bin/env bash
# Tests the `mandate` CLI and decision service: the crate's tests (every command and its bad
# inputs, the service over real HTTP on loopback, hot reload, restart under load, the demo's
# output), then a bounded load run on loopback that must end with zero errors.
#
#   scripts/test-cli.sh                       # load run of 60 s (MANDATE_LOAD_SECS)
#   MANDATE_LOAD_SECS=10 scripts/test-cli.sh  # shorter load run
#   MANDATE_LOAD_PROFILE=release scripts/test-cli.sh   # load run on an optimized build
#
# Idempotent; needs only cargo (no Redis: the tests use the in-memory replay store).
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${MANDATE_LOAD_SECS:-60}"
profile="${MANDATE_LOAD_PROFILE:-dev}"

echo "== cargo test -p mandate-cli"
cargo test -p mandate-cli --locked

echo "== mandate demo"
cargo run -q -p mandate-cli --locked -- demo

echo "== load: ${secs}s on loopback (${profile} build)"
# Exit status is non-zero on any error, unexpected decision, or audit mismatch.
MANDATE_LOAD_SECS="$secs" cargo run -q -p mandate-cli --locked --profile "$profile" -- bench-serve --concurrency 4
echo "test-cli: ok"
