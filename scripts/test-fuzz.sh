#!/usr/bin/env bash
# Fuzz smoke: builds the cargo-fuzz targets in fuzz/ (rustup nightly, libFuzzer, AddressSanitizer,
# debug assertions and overflow checks on) and runs each one for a short, bounded time from a
# seed corpus generated from tests/vectors/conformance.json. Prints each target's executions;
# any crash, assertion failure, leak or timeout fails the run (the input is left in
# fuzz/artifacts/<target>/). docs/fuzzing.md says what each target asserts and records long runs.
#
#   scripts/test-fuzz.sh                              # every target, FUZZ_SECONDS each (10)
#   FUZZ_SECONDS=60 FUZZ_TARGETS="uri_parse" scripts/test-fuzz.sh
#   FUZZ_RUNS=10000000 FUZZ_TARGETS=json_strict scripts/test-fuzz.sh   # bounded by executions
#
# Before fuzzing, every saved input under fuzz/regressions/<target>/ is replayed once and must
# pass. Installs cargo-fuzz (pinned) under .tools/ when missing. The wasm targets (wasm_abi,
# differential) use dist/mandate.wasm, rebuilt here with scripts/build-wasm.sh unless
# MANDATE_WASM names a module. Builds go to fuzz/target, never to the main target/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ALL_TARGETS="jws_parse json_strict uri_parse decide_json apply_replay_json wasm_abi differential"
TARGETS="${FUZZ_TARGETS:-$ALL_TARGETS}"
SECONDS_EACH="${FUZZ_SECONDS:-10}"
RUNS="${FUZZ_RUNS:-}"
CARGO_FUZZ_VERSION=0.13.2
TOOLS="$ROOT/.tools/cargo-fuzz"
# Same flags for build and run, or `cargo fuzz run` rebuilds: release, debug assertions, ASan.
FUZZ_FLAGS=(-O -a --sanitizer address)

start=$SECONDS
if ! "$TOOLS/bin/cargo-fuzz" --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
  echo "test-fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION under .tools/" >&2
  cargo install --quiet --root "$TOOLS" cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
export PATH="$TOOLS/bin:$PATH"
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "test-fuzz: FAIL: needs the rustup nightly toolchain (cargo +nightly)" >&2
  exit 1
fi

case " $TARGETS " in
  *" wasm_abi "* | *" differential "*)
    if [ -z "${MANDATE_WASM:-}" ]; then
      scripts/build-wasm.sh
    fi
    ;;
esac

CORPUS="$ROOT/fuzz/corpus"
python3 fuzz/seeds/make_seeds.py "$CORPUS" >/dev/null

echo "test-fuzz: building the targets (cargo +nightly fuzz build ${FUZZ_FLAGS[*]})"
cargo +nightly fuzz build "${FUZZ_FLAGS[@]}"
BIN_DIR="$ROOT/fuzz/target/x86_64-unknown-linux-gnu/release"
echo "test-fuzz: built in $((SECONDS - start)) s"

dict_for() {
  case "$1" in
    uri_parse) echo "$ROOT/fuzz/dicts/uri.dict" ;;
    jws_parse) echo "$ROOT/fuzz/dicts/jws.dict" ;;
    wasm_abi) echo "" ;;
    *) echo "$ROOT/fuzz/dicts/json.dict" ;;
  esac
}

# The failure itself, not libFuzzer's pages of stack: the panic message, the sanitizer's summary
# and where the input was saved.
report() {
  grep -A 3 "panicked at" "$1" | head -n 30 >&2 || true
  grep -A 12 -E "ERROR: (AddressSanitizer|LeakSanitizer)" "$1" | head -n 30 >&2 || true
  grep -E "^SUMMARY|Test unit written to|^Running: |^Executed " "$1" | head -n 10 >&2 || true
}

LOGS="$ROOT/fuzz/target/logs"
mkdir -p "$LOGS"
failed=()
summary=()
for t in $TARGETS; do
  bin="$BIN_DIR/$t"
  if [ ! -x "$bin" ]; then
    echo "test-fuzz: FAIL: no target named $t" >&2
    exit 1
  fi
  # Saved regressions first: each must run clean.
  reg="$ROOT/fuzz/regressions/$t"
  if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
    if ! "$bin" "$reg"/* >"$LOGS/$t.regressions.log" 2>&1; then
      echo "test-fuzz: FAIL: $t: a saved regression input fails again ($LOGS/$t.regressions.log):" >&2
      report "$LOGS/$t.regressions.log"
      failed+=("$t (regression)")
      summary+=("$(printf '%-18s saved regression fails  FAIL' "$t")")
      continue
    fi
  fi
  mkdir -p "$CORPUS/$t" "$ROOT/fuzz/artifacts/$t"
  case "$t" in
    wasm_abi | differential)
      # One empty input first: compiles the module (Cranelift, instrumented: ~20 s cold) into
      # the cache under fuzz/target/wasm-cache, so the timed run below spends its time fuzzing.
      : >"$LOGS/empty-input"
      "$bin" "$LOGS/empty-input" >"$LOGS/$t.warmup.log" 2>&1 || {
        echo "test-fuzz: FAIL: $t: the empty input fails:" >&2
        report "$LOGS/$t.warmup.log"
        failed+=("$t (empty input)")
        summary+=("$(printf '%-18s empty input fails  FAIL' "$t")")
        continue
      }
      ;;
  esac
  args=(-timeout=30 -rss_limit_mb=3072 -print_final_stats=1 -artifact_prefix="$ROOT/fuzz/artifacts/$t/")
  if [ -n "$RUNS" ]; then args+=(-runs="$RUNS"); else args+=(-max_total_time="$SECONDS_EACH"); fi
  dict="$(dict_for "$t")"
  if [ -n "$dict" ]; then args+=(-dict="$dict"); fi
  t0=$SECONDS
  status=0
  "$bin" "${args[@]}" "$CORPUS/$t" >"$LOGS/$t.log" 2>&1 || status=$?
  execs="$(grep -o 'stat::number_of_executed_units: [0-9]*' "$LOGS/$t.log" | awk '{print $2}' | tail -n 1)"
  line="$(printf '%-18s %12s execs in %4d s' "$t" "${execs:-?}" "$((SECONDS - t0))")"
  if [ "$status" -ne 0 ]; then
    echo "test-fuzz: FAIL: $t (exit $status), log $LOGS/$t.log:" >&2
    report "$LOGS/$t.log"
    failed+=("$t")
    summary+=("$line  FAIL")
  else
    summary+=("$line  ok")
  fi
  echo "test-fuzz: ${summary[-1]}"
done

echo "test-fuzz: summary (total $((SECONDS - start)) s):"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "test-fuzz: FAIL: ${failed[*]}" >&2
  exit 1
fi
echo "test-fuzz: ok, no crashes"
