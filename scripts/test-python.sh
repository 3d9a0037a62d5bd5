#!/usr/bin/env bash
# Builds the Python package mandate-pdp (bindings-python: PyO3 + maturin, one abi3 wheel for
# CPython >= 3.9) and tests it: the wheel installs offline into a fresh venv from the wheel
# alone and decides there; mypy checks the package against its stubs; then the pytest suite (the conformance vectors byte for byte on both
# verifiers, the API, the ASGI middleware, the MCP guard, the LangChain example, joserfc
# interop, Redis across two processes against a real redis-server).
# Idempotent: the venv with the build and test tools is .tools/py-venv (from
# bindings-python/requirements-dev.txt, reinstalled when that file changes); redis-server comes
# from Debian when missing. Usage: scripts/test-python.sh [--bench]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1
VENV="$ROOT/.tools/py-venv"
REQS="$ROOT/bindings-python/requirements-dev.txt"

if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQS" "$VENV/requirements-dev.txt"; then
  echo "test-python: installing the build and test tools into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
  cp "$REQS" "$VENV/requirements-dev.txt"
fi
if ! command -v redis-server >/dev/null; then
  echo "test-python: installing redis-server from Debian" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi

echo "== the wheel (maturin, profile wheel)"
WHEELS="${CARGO_TARGET_DIR:-$ROOT/target}/wheels"
rm -f "$WHEELS"/mandate_pdp-*.whl
"$VENV/bin/maturin" build --quiet --locked --profile wheel -m bindings-python/Cargo.toml -o "$WHEELS"
WHEEL="$(ls "$WHEELS"/mandate_pdp-*-abi3-*.whl)"
echo "test-python: $(basename "$WHEEL"), $(stat -c %s "$WHEEL") bytes"

echo "== pip install of the wheel alone, offline, into a fresh venv"
FRESH="$(mktemp -d -t mandate-py.XXXXXX)"
trap 'rm -rf "$FRESH"' EXIT
python3 -m venv "$FRESH/venv"
"$FRESH/venv/bin/pip" install -q --disable-pip-version-check --no-index "$WHEEL"
(cd "$FRESH" && "$FRESH/venv/bin/python" - "$ROOT/tests/vectors/conformance.json" "$WHEEL" <<'PY'
import json, sys, zipfile
import mandate_pdp
names = zipfile.ZipFile(sys.argv[2]).namelist()
for want in ("mandate_pdp/_native.pyi", "mandate_pdp/py.typed"):
    assert want in names, (want, names)
assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
vectors = json.load(open(sys.argv[1]))
case = next(c for c in vectors["cases"] if "replay" not in c and c["expect"]["decision"] == "allow")
pdp = mandate_pdp.Pdp(vectors["loads"][case["load"]])
got = pdp.decide_bytes(case["input"]).decode()
assert got == case["output"], (got, case["output"])
print(f"fresh venv: {case['name']} allowed, bytes as native; {len(mandate_pdp.CODES)} codes")
PY
)

echo "== mypy (the package against its stubs)"
"$VENV/bin/mypy" --no-incremental bindings-python/python/mandate_pdp

echo "== pytest"
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --force-reinstall "$WHEEL"
(cd bindings-python && "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests)

if [ "${1:-}" = "--bench" ]; then
  "$VENV/bin/python" bindings-python/bench/bench.py
fi
echo "test-python: ok"
