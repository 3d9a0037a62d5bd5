# Sourced by every script that builds for wasm32-unknown-unknown.
#
# Prefers a rustup toolchain that already has the wasm32 target (a developer's own machine after
# `rustup target add wasm32-unknown-unknown`). Falls back to Debian's rustc-web, which ships the
# std sources, and builds std itself with -Zbuild-std (rustup cannot download targets here).
#
# Exports: WASM_CARGO (the cargo to call), WASM_BUILD_STD (extra args, may be empty),
#          WASM_TARGET_DIR (separate from the native target dir so fingerprints never mix).
set -euo pipefail
MANDATE_ROOT="${MANDATE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export WASM_TARGET_DIR="${WASM_TARGET_DIR:-$MANDATE_ROOT/target-wasm}"

if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  export WASM_CARGO="cargo"
  export WASM_BUILD_STD=""
  export WASM_RUSTC_BOOTSTRAP=""
else
  if [ ! -x /usr/bin/cargo ] || [ ! -d /usr/lib/rustlib/src/rust ] || [ ! -x /usr/bin/rust-lld ]; then
    echo "wasm-env: installing Debian rustc-web (the wasm32 toolchain for this machine)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web cargo-web rust-web-src lld-22 >/dev/null
  fi
  export WASM_CARGO="/usr/bin/cargo"
  export WASM_BUILD_STD="-Zbuild-std=std,panic_abort"
  export WASM_RUSTC_BOOTSTRAP="1"
fi

# wasm_cargo ARGS...: run the chosen cargo for wasm32 with the right toolchain on PATH.
wasm_cargo() {
  if [ "$WASM_CARGO" = "/usr/bin/cargo" ]; then
    PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTUP_TOOLCHAIN= \
      /usr/bin/cargo "$@" --target wasm32-unknown-unknown $WASM_BUILD_STD --target-dir "$WASM_TARGET_DIR"
  else
    cargo "$@" --target wasm32-unknown-unknown --target-dir "$WASM_TARGET_DIR"
  fi
}
