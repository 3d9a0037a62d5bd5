#!/usr/bin/env bash
# Builds the npm package mandate-pdp (bindings-js/npm): the wasm-bindgen crate bindings-js for
# wasm32-unknown-unknown, then its JS glue with the pinned wasm-bindgen CLI into bindings-js/npm/wasm.
# Idempotent: installs the CLI into .tools/ (or $MANDATE_TOOLS_DIR) only when `wasm-bindgen --version`
# is not 0.2.130.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WB_VERSION=0.2.130
TOOLS="${MANDATE_TOOLS_DIR:-$ROOT/.tools}"
export PATH="$TOOLS/bin:$PATH"

if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WB_VERSION" ]; then
  echo "build-js: installing wasm-bindgen-cli $WB_VERSION into $TOOLS (a few minutes)" >&2
  # --locked first (the CLI's own lock file). A registry mirror that lags behind a locked
  # dependency makes that fail to resolve; then resolve afresh within the same semver ranges.
  if ! cargo install wasm-bindgen-cli --version "$WB_VERSION" --locked --root "$TOOLS"; then
    echo "build-js: --locked install failed to resolve; retrying without --locked" >&2
    cargo install wasm-bindgen-cli --version "$WB_VERSION" --root "$TOOLS"
  fi
fi

# shellcheck source=wasm-env.sh
source "$ROOT/scripts/wasm-env.sh"
wasm_cargo build --release -p bindings-js --lib

OUT="$ROOT/bindings-js/npm/wasm"
mkdir -p "$OUT"
wasm-bindgen --target web --no-typescript --out-name mandate_js --out-dir "$OUT" \
  "$WASM_TARGET_DIR/wasm32-unknown-unknown/release/bindings_js.wasm"
echo "build-js: $(wc -c < "$OUT/mandate_js_bg.wasm") bytes in $OUT/mandate_js_bg.wasm" >&2
