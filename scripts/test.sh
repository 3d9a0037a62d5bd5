#!/usr/bin/env bash
# The whole test suite, as CI runs it. Installs what it needs on a fresh Debian machine: the
# wasm32 toolchain (Debian's rustc-web), Redis, Chromium, Node packages, the wasm-bindgen CLI and
# Envoy. Each stage prints its name and duration; any failure stops the run with a non-zero exit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

stage() {
  local name="$1"; shift
  local start=$SECONDS
  echo "=== $name"
  "$@"
  echo "=== $name: ok ($((SECONDS - start)) s; $(df -h --output=avail . | tail -1 | tr -d ' ') free on disk)"
}

# CI builds each crate once from clean, so incremental caches (GBs) would only fill the disk.
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0
fi
echo "=== disk: $(df -h --output=avail . | tail -1 | tr -d ' ') free at start"

stage "format" cargo fmt --all -- --check
stage "clippy (workspace, all targets, -D warnings)" cargo clippy --locked --workspace --all-targets -- -D warnings
stage "clippy (core --no-default-features, -D warnings)" cargo clippy --locked -p policy-core --no-default-features -- -D warnings
stage "clippy (wasm32: core no_std with core + alloc only, module)" scripts/clippy-wasm.sh
stage "docs (-D warnings)" env RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --workspace
stage "vectors are current" cargo run -q --locked -p testkit --bin gen-vectors -- --check
stage "schemas are current" cargo run -q --locked -p testkit --bin gen-schemas -- --check
stage "replay vectors are current" cargo run -q --locked -p testkit --bin gen-replay -- --check
stage "rust tests (core, vectors, properties, Wycheproof)" cargo test --locked -p policy-core -p testkit
for area in host cli deploy js python envoy fuzz; do
  if [ -x "scripts/test-$area.sh" ]; then
    stage "$area" "scripts/test-$area.sh"
  fi
done
echo "=== all stages passed"
