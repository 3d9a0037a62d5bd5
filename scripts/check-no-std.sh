#!/usr/bin/env bash
# Proves policy-core is no_std: builds it for wasm32-unknown-unknown with only core and alloc
# (-Zbuild-std=core,alloc on Debian's rustc-web; a rustup wasm32 target where one is installed).
set -euo pipefail
source "$(dirname "$0")/wasm-env.sh"
cd "$MANDATE_ROOT"
if [ "$WASM_CARGO" = "/usr/bin/cargo" ]; then
  PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTUP_TOOLCHAIN= \
    /usr/bin/cargo build --locked --release -p policy-core --no-default-features \
    --target wasm32-unknown-unknown -Zbuild-std=core,alloc --target-dir "$WASM_TARGET_DIR"
else
  cargo build --locked --release -p policy-core --no-default-features \
    --target wasm32-unknown-unknown --target-dir "$WASM_TARGET_DIR"
fi
echo "no_std: policy-core builds for wasm32-unknown-unknown with core + alloc only"
