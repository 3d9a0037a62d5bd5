#!/usr/bin/env bash
# Builds the portable module: dist/mandate.wasm (crate wasm), and enforces its size budget.
#
#   scripts/build-wasm.sh            # zc: "z", with the crypto crates at 3 (see docs/bench/host.md)
#   MANDATE_WASM_OPT=z scripts/build-wasm.sh   # size-optimised throughout, for comparison
#   MANDATE_WASM_OPT=3 scripts/build-wasm.sh   # speed-optimised throughout (over the size budget)
#
# Works on a fresh machine: scripts/wasm-env.sh installs the wasm32 toolchain if needed, and
# wasm-opt comes from the npm package binaryen, pinned, under .tools/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/wasm-env.sh
source scripts/wasm-env.sh

OPT="${MANDATE_WASM_OPT:-zc}"
# zc: opt-level "z" for everything but the P-256/SHA-2 crates, which get 3 (see docs/bench/host.md).
CRYPTO_CRATES="p256 primeorder primefield elliptic-curve crypto-bigint ecdsa ff group sha2 ctutils cmov hybrid-array"
EXTRA=()
case "$OPT" in
  3) PROFILE=wasm-o3; LEVEL=3; WASM_OPT_LEVEL=-O3 ;;
  z) PROFILE=wasm-oz; LEVEL='"z"'; WASM_OPT_LEVEL=-Oz ;;
  s) PROFILE=wasm-os; LEVEL='"s"'; WASM_OPT_LEVEL=-Os ;;
  zc)
    PROFILE=wasm-ozc; LEVEL='"z"'; WASM_OPT_LEVEL=-Oz
    for c in $CRYPTO_CRATES; do EXTRA+=(--config "profile.$PROFILE.package.$c.opt-level=3"); done
    ;;
  *) echo "build-wasm: MANDATE_WASM_OPT must be zc, z, s or 3" >&2; exit 2 ;;
esac
OUT="${MANDATE_WASM_OUT:-$ROOT/dist/mandate.wasm}"
MAX_RAW=1200000   # bytes, 1.2 MB
MAX_GZIP=400000   # bytes, 400 KB

BINARYEN_VERSION=132.0.0
TOOLS="$ROOT/.tools"
WASM_OPT="$TOOLS/node_modules/.bin/wasm-opt"
if [ ! -x "$WASM_OPT" ] || ! "$WASM_OPT" --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
  echo "build-wasm: installing binaryen@$BINARYEN_VERSION (wasm-opt) under .tools/" >&2
  mkdir -p "$TOOLS"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS" "binaryen@$BINARYEN_VERSION" >&2
fi

# A named profile per opt-level, defined here rather than in Cargo.toml: the module's release
# settings (lto, one codegen unit, abort on panic) are its own, and each variant keeps its own
# output directory so switching between them rebuilds nothing.
# When std is built from source (Debian's toolchain, see wasm-env.sh), build it for size and let a
# panic abort at once (no message formatting is linked; a panic was a trap before too): the
# module is a size-budgeted artifact, and std's size-optimized paths (formatting, sorting) are off
# the decision's hot path, which is P-256 and Rego.
PANIC=abort
STD_FEATURES=()
if [ -n "${WASM_BUILD_STD:-}" ]; then
  PANIC=immediate-abort
  STD_FEATURES=(-Zbuild-std-features=optimize_for_size -Zpanic-immediate-abort)
fi
wasm_cargo build -p wasm --profile "$PROFILE" "${STD_FEATURES[@]}" \
  --config "profile.$PROFILE.inherits=\"release\"" \
  --config "profile.$PROFILE.lto=true" \
  --config "profile.$PROFILE.codegen-units=1" \
  --config "profile.$PROFILE.panic=\"$PANIC\"" \
  --config "profile.$PROFILE.opt-level=$LEVEL" \
  --config "profile.$PROFILE.strip=\"debuginfo\"" \
  "${EXTRA[@]}"

RAW_MODULE="$WASM_TARGET_DIR/wasm32-unknown-unknown/$PROFILE/wasm.wasm"
mkdir -p "$(dirname "$OUT")"
# Explicit features: `-all` would enable proposals (e.g. GC, exceptions) that Node 20 rejects.
"$WASM_OPT" "$WASM_OPT_LEVEL" \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-multivalue --enable-reference-types \
  --strip-debug --strip-producers \
  "$RAW_MODULE" -o "$OUT.tmp"
mv "$OUT.tmp" "$OUT"

RAW=$(stat -c %s "$OUT")
GZ=$(gzip -9 -c "$OUT" | wc -c)
printf 'build-wasm: %s (opt-level %s): %d bytes raw, %d bytes gzip -9 (budget %d / %d)\n' \
  "${OUT#"$ROOT"/}" "$OPT" "$RAW" "$GZ" "$MAX_RAW" "$MAX_GZIP"
if [ "$RAW" -gt "$MAX_RAW" ] || [ "$GZ" -gt "$MAX_GZIP" ]; then
  echo "build-wasm: FAIL: the module is over its size budget" >&2
  exit 1
fi
