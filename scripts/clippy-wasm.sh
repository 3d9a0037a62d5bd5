#!/usr/bin/env bash
# Clippy (-D warnings) for the configurations that ship to wasm32-unknown-unknown: the core
# no_std (core + alloc only) and the module crate (wasm). With Debian's rustc-web it
# uses Debian's matching rust-web-clippy, installed here when missing, and -Zbuild-std.
# The core's run builds with -Zbuild-std=core,alloc: no std exists for it to link, so its passing
# is also the proof that the core is no_std (scripts/check-no-std.sh builds the same in release,
# for a developer; CI does not build it twice).
set -euo pipefail
source "$(dirname "$0")/wasm-env.sh"
cd "$MANDATE_ROOT"
if [ "$WASM_CARGO" = "/usr/bin/cargo" ]; then
  if [ ! -x /usr/bin/cargo-clippy ]; then
    echo "clippy-wasm: installing Debian rust-web-clippy (clippy for rustc-web)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rust-web-clippy >/dev/null
  fi
  run() {
    PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTUP_TOOLCHAIN= \
      /usr/bin/cargo clippy --locked --target wasm32-unknown-unknown --target-dir "$WASM_TARGET_DIR" "$@"
  }
  run -p policy-core --no-default-features -Zbuild-std=core,alloc -- -D warnings
  run -p wasm -Zbuild-std=std,panic_abort -- -D warnings
else
  cargo clippy --locked --target wasm32-unknown-unknown --target-dir "$WASM_TARGET_DIR" \
    -p policy-core --no-default-features -- -D warnings
  cargo clippy --locked --target wasm32-unknown-unknown --target-dir "$WASM_TARGET_DIR" \
    -p wasm -- -D warnings
fi
echo "clippy: policy-core (no_std: core + alloc only) and wasm are clean for wasm32-unknown-unknown"
