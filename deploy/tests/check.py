"""Checks of deploy/ that need no container engine, no cluster and no systemd as PID 1.

Run by scripts/test-deploy.sh from the repository root, in .tools/deploy-venv:

    check.py k8s                  the manifests against the Kubernetes schemas, and with each other
    check.py dockerfile           the Dockerfile's structure and its build context
    check.py systemd              the unit's settings (systemd-analyze verifies its syntax)
    check.py smoke MANDATE        serve started with deploy/serve.yaml, rewritten to temp paths

Every check fails loudly: an unmet expectation exits non-zero with what was found.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path.cwd()
DEPLOY = ROOT / "deploy"
SERVE_YAML = DEPLOY / "serve.yaml"
CONFIG_PATH = "/etc/mandate/serve.yaml"
SERVE_ARGS = ["serve", "--config", CONFIG_PATH]
# The oldest Kubernetes the manifests promise (lifecycle.preStop.sleep is on by default from
# 1.30) and the newest whose schemas kubernetes-validate ships.
K8S_VERSIONS = ["1.30.0", "1.37.0"]
REPLAY_BLOCK = re.compile(r"^# >>> replay.*?^# <<< replay\n", re.M | re.S)

failures: list[str] = []


def fail(msg: str) -> None:
    failures.append(msg)
    print(f"FAIL {msg}", file=sys.stderr)


def expect(cond: bool, msg: str) -> bool:
    if not cond:
        fail(msg)
    return cond


def seconds(v: object) -> float:
    """serve's durations (250ms, 2s, 1m, 1h) and systemd's (30s, 1min, 500ms), in seconds."""
    s = str(v).strip()
    m = re.fullmatch(r"(\d+)\s*(ms|s|sec|m|min|h|d)?", s)
    if not m:
        raise ValueError(f"`{s}` is not a duration")
    unit = {"ms": 0.001, None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
    return int(m.group(1)) * unit[m.group(2)]


def load_config(text: str, where: str) -> dict:
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict):
        raise SystemExit(f"{where}: not a mapping")
    for k, v in doc.items():
        ok = isinstance(v, (str, int)) or (
            isinstance(v, list) and all(isinstance(i, (str, int)) for i in v)
        )
        expect(ok, f"{where}: `{k}` must be a string, a number or a list of them, not {v!r}")
    return doc


def config_flags(doc: dict) -> list[str]:
    """The command-line arguments a config file stands for (cli/src/serve_config.rs)."""
    out = []
    for k, v in doc.items():
        for item in v if isinstance(v, list) else [v]:
            if item is True:
                out.append(f"--{k}")
            elif item is False or item is None:
                continue
            else:
                out.append(f"--{k}={item}")
    return out


def base_config() -> tuple[str, dict]:
    text = SERVE_YAML.read_text()
    return text, load_config(text, "deploy/serve.yaml")


def paths_in(doc: dict, keys: tuple[str, ...]) -> list[str]:
    out = []
    for k in keys:
        v = doc.get(k)
        if v is None:
            continue
        for item in v if isinstance(v, list) else [v]:
            out.append(str(item))
    return out


READ_PATHS = ("bundle", "trust", "grant-key", "wasm")
WRITE_PATHS = ("audit", "replay-file", "wasm-cache")


# ---------------------------------------------------------------------------------- k8s


def k8s() -> None:
    import kubernetes_validate

    files = sorted((DEPLOY / "k8s").glob("*.yaml")) + sorted((DEPLOY / "k8s/examples").glob("*.yaml"))
    expect(len(files) >= 5, f"deploy/k8s: expected the manifests, found {files}")
    docs: list[tuple[Path, dict]] = []
    for f in files:
        for d in yaml.safe_load_all(f.read_text()):
            if d is None:
                continue
            docs.append((f, d))
            name = f"{f.relative_to(ROOT)}: {d.get('kind')}/{d.get('metadata', {}).get('name')}"
            for v in K8S_VERSIONS:
                try:
                    kubernetes_validate.validate(d, v, strict=True)
                except Exception as e:  # noqa: BLE001 (every kind of refusal is a failure)
                    fail(f"{name} against Kubernetes {v} (strict): {type(e).__name__}: {e}")
            expect("namespace" not in d["metadata"], f"{name}: no namespace (apply with -n)")
    print(f"k8s: {len(docs)} resources in {len(files)} files valid against the Kubernetes "
          f"{' and '.join(K8S_VERSIONS)} schemas (strict: no unknown fields)")

    by_kind: dict[str, list[dict]] = {}
    for _, d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    applied = [d for f, d in docs if f.parent.name == "k8s"]
    applied_kinds = sorted(d["kind"] for d in applied)
    expect(
        applied_kinds == ["ConfigMap", "PodDisruptionBudget", "Service", "Service", "StatefulSet"],
        f"deploy/k8s/*.yaml holds {applied_kinds}",
    )
    expect(
        not any(d["kind"] == "Secret" for d in applied),
        "a Secret with placeholders must not be in deploy/k8s/ itself (kubectl apply -f would apply it)",
    )

    (sts,) = by_kind["StatefulSet"]
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    expect(spec["replicas"] >= 2, f"StatefulSet replicas {spec['replicas']} < 2")
    expect(spec["selector"]["matchLabels"] == labels, "StatefulSet selector != template labels")

    services = {s["metadata"]["name"]: s for s in by_kind["Service"]}
    headless = services.get(spec["serviceName"])
    expect(headless is not None and headless["spec"].get("clusterIP") == "None",
           f"serviceName {spec['serviceName']} is not a headless Service here")
    for s in services.values():
        expect(s["spec"]["selector"] == labels, f"Service {s['metadata']['name']} selects other pods")
    (pdb,) = by_kind["PodDisruptionBudget"]
    expect(pdb["spec"]["selector"]["matchLabels"] == labels, "PodDisruptionBudget selects other pods")
    budget = pdb["spec"].get("maxUnavailable")
    expect(budget is not None and 1 <= budget < spec["replicas"],
           f"PodDisruptionBudget maxUnavailable {budget} must keep a replica up")

    psc = pod["securityContext"]
    expect(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0,
           f"pod securityContext must run as non-root: {psc}")
    expect(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp RuntimeDefault")
    expect(pod.get("automountServiceAccountToken") is False, "no service account token")
    (c,) = pod["containers"]
    expect(c.get("args") == SERVE_ARGS and "command" not in c,
           f"container runs {c.get('command')} {c.get('args')}, not the image's mandate {SERVE_ARGS}")
    csc = c["securityContext"]
    expect(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
    expect(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation: false")
    expect(csc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities drop ALL")
    res = c.get("resources", {})
    for part in ("requests", "limits"):
        expect({"cpu", "memory"} <= set(res.get(part, {})), f"resources.{part} needs cpu and memory")

    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        got = c.get(probe, {}).get("httpGet", {})
        expect(got.get("path") == path and got.get("port") in ports,
               f"{probe} must GET {path} on a container port: {got}")
    for s in services.values():
        for p in s["spec"]["ports"]:
            expect(p["targetPort"] in ports or p["targetPort"] in ports.values(),
                   f"Service {s['metadata']['name']} targets {p['targetPort']}, not a container port")

    # The ConfigMap's serve.yaml: deploy/serve.yaml, its replay block swapped for Redis.
    cms = {m["metadata"]["name"]: m for m in by_kind["ConfigMap"]}
    k8s_text = cms["mandate-config"]["data"]["serve.yaml"]
    text, base = base_config()
    expect(len(REPLAY_BLOCK.findall(text)) == 1 and len(REPLAY_BLOCK.findall(k8s_text)) == 1,
           "deploy/serve.yaml and the ConfigMap must each hold one '# >>> replay ... # <<< replay' block")
    if REPLAY_BLOCK.sub("", k8s_text) != REPLAY_BLOCK.sub("", text):
        import difflib

        diff = difflib.unified_diff(REPLAY_BLOCK.sub("", text).splitlines(),
                                    REPLAY_BLOCK.sub("", k8s_text).splitlines(),
                                    "deploy/serve.yaml", "configmap.yaml serve.yaml", lineterm="")
        fail("the ConfigMap's serve.yaml differs from deploy/serve.yaml outside the replay block:\n"
             + "\n".join(diff))
    kconf = load_config(k8s_text, "configmap.yaml serve.yaml")
    base_rest = {k: v for k, v in base.items() if k not in ("replay-file", "redis", "redis-timeout")}
    k8s_rest = {k: v for k, v in kconf.items() if k not in ("replay-file", "redis", "redis-timeout")}
    expect(base_rest == k8s_rest, "settings outside the replay block differ")
    expect("replay-file" in base and "redis" not in base, "deploy/serve.yaml: one instance, replay-file")
    expect(str(kconf.get("redis", "")).startswith("redis://") and "replay-file" not in kconf,
           "the ConfigMap: several replicas share use-once ids in Redis (redis:, no replay-file:)")
    print("k8s: the ConfigMap's serve.yaml is deploy/serve.yaml byte for byte outside the replay "
          "block (replay-file there, redis here)")

    # Every path serve.yaml names is where the pod has it: read ones in the projected volume,
    # written ones on a writable volume (the root filesystem is read-only).
    vols = {v["name"]: v for v in pod["volumes"]}
    claims = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
    files_at: set[str] = set()
    writable: list[str] = []
    secrets = {s["metadata"]["name"]: s for s in by_kind.get("Secret", [])}
    for m in c["volumeMounts"]:
        name, at = m["name"], m["mountPath"].rstrip("/")
        expect(name in vols or name in claims, f"volumeMount {name} has no volume")
        if name in claims:
            expect(not m.get("readOnly"), f"{at} (the claim) must be writable")
            writable.append(at)
        elif "projected" in vols[name]:
            for src in vols[name]["projected"]["sources"]:
                kind, ref = next(iter(src.items()))
                pool = cms if kind == "configMap" else secrets
                obj = pool.get(ref["name"])
                if not expect(obj is not None, f"projected {kind} {ref['name']} is not in deploy/k8s"):
                    continue
                keys = set(obj.get("data", {})) | set(obj.get("stringData", {}))
                for item in ref["items"]:
                    expect(item["key"] in keys, f"{kind} {ref['name']} has no key {item['key']}")
                    files_at.add(f"{at}/{item['path']}")
    expect(CONFIG_PATH in files_at, f"{CONFIG_PATH} is not mounted: {sorted(files_at)}")
    for p in paths_in(kconf, READ_PATHS):
        if not p.startswith("https://"):
            expect(p in files_at, f"serve.yaml reads {p}, which the pod does not mount")
    for p in paths_in(kconf, WRITE_PATHS):
        expect(any(p.startswith(w + "/") for w in writable), f"serve.yaml writes {p}, not on a claim")
    listen_port = int(str(kconf["listen"]).rsplit(":", 1)[1])
    expect(listen_port in ports.values(), f"serve listens on {listen_port}, not a container port")

    sleep = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    expect(grace > sleep + seconds(kconf.get("drain", "10s")),
           f"terminationGracePeriodSeconds {grace} must exceed preStop {sleep}s + drain")
    print("k8s: selectors, ports, probes (/healthz, /readyz), non-root read-only pod, every "
          "serve.yaml path mounted, grace period > preStop + drain")


# ---------------------------------------------------------------------------- dockerfile


def ignore_patterns(path: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """A .dockerignore's patterns as moby's patternmatcher reads them: (exclusion, regex)."""
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        pat = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rx, i = "", 0
        while i < len(pat):
            ch = pat[i]
            if pat.startswith("**", i):
                i += 2
                if pat.startswith("/", i):
                    i += 1
                    rx += "(.*/)?"
                else:
                    rx += ".*"
                continue
            rx += {"*": "[^/]*", "?": "[^/]"}.get(ch, re.escape(ch))
            i += 1
        out.append((neg, re.compile(rx + r"\Z")))
    return out


def ignored(rel: str, pats: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether the context leaves `rel` out: the last pattern matching it or a parent wins."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    matched = False
    for neg, rx in pats:
        if any(rx.match(p) for p in prefixes):
            matched = not neg
    return matched


def dockerfile() -> None:
    from dockerfile_parse import DockerfileParser

    df = DockerfileParser(path=str(DEPLOY / "Dockerfile"))
    instrs = [(i["instruction"], i["value"]) for i in df.structure]
    froms = [n for n, (ins, _) in enumerate(instrs) if ins == "FROM"]
    expect(len(froms) >= 2, f"multi-stage: {len(froms)} FROM")
    stages = [instrs[a:b] for a, b in zip(froms, froms[1:] + [len(instrs)])]
    build, final = stages[0], stages[-1]
    b_image, _, b_name = build[0][1].partition(" AS ")
    expect(b_image.startswith("rust:") and "bookworm" in b_image and b_name == "build",
           f"build stage: FROM {build[0][1]} (want rust:*-bookworm AS build)")
    runs = " ".join(v for ins, v in build if ins == "RUN")
    cargo = re.search(r"cargo build[^&;]*", runs)
    expect(cargo is not None and {"--locked", "--release", "-p", "cli"} <= set(cargo.group(0).split()),
           f"build stage must run cargo build --locked --release -p cli: {cargo and cargo.group(0)}")
    expect("deploy/serve.yaml /out" + CONFIG_PATH in runs, f"the image must carry deploy/serve.yaml at {CONFIG_PATH}")
    f_image = final[0][1]
    expect(f_image.startswith("gcr.io/distroless/") and f_image.endswith(":nonroot")
           or re.fullmatch(r"debian:[\w.-]*slim", f_image) is not None,
           f"runtime stage FROM {f_image} (want distroless :nonroot or debian slim)")
    last = {ins: v for ins, v in final}
    user = last.get("USER", "root").split(":")[0]
    expect(user not in ("", "root", "0"), f"runtime USER {user!r} must not be root")
    entry = json.loads(last.get("ENTRYPOINT", "[]"))
    expect(len(entry) == 1 and Path(entry[0]).name == "mandate", f"ENTRYPOINT {entry}")
    expect(json.loads(last.get("CMD", "[]")) == SERVE_ARGS, f"CMD {last.get('CMD')} != {SERVE_ARGS}")
    expect(last.get("EXPOSE", "").split() == ["8181"], f"EXPOSE {last.get('EXPOSE')}")
    expect("--from=build" in last.get("COPY", ""), "runtime stage copies from the build stage only")
    expect(not any(ins in ("RUN", "ADD") for ins, _ in final), "runtime stage runs nothing (no shell)")
    print(f"dockerfile: {len(froms)} stages; build FROM {b_image} runs `{cargo.group(0).strip()}`; "
          f"runtime FROM {f_image} as USER {last['USER']}, ENTRYPOINT {entry} CMD {SERVE_ARGS}, EXPOSE 8181")

    # The build context: the repository root less deploy/Dockerfile.dockerignore.
    pats = ignore_patterns(DEPLOY / "Dockerfile.dockerignore")
    ctx = Path(tempfile.mkdtemp(prefix="mandate-docker-ctx."))
    try:
        count = size = 0
        for top, dirs, files in os.walk(ROOT):
            rel_top = os.path.relpath(top, ROOT)
            rel_top = "" if rel_top == "." else rel_top + "/"
            dirs[:] = [d for d in dirs if not ignored(rel_top + d, pats)]
            for name in files:
                rel = rel_top + name
                if ignored(rel, pats) or not os.path.isfile(os.path.join(top, name)):
                    continue
                (ctx / rel_top).mkdir(parents=True, exist_ok=True)
                shutil.copy2(os.path.join(top, name), ctx / rel)
                count += 1
                size += os.path.getsize(ctx / rel)
        for need in ("Cargo.toml", "Cargo.lock", "deploy/serve.yaml"):
            expect((ctx / need).is_file(), f"the build context lacks {need}")
        expect(size < 64 << 20, f"the build context is {size >> 20} MiB: build output or caches leak in")
        print(f"dockerfile: build context {count} files, {size / (1 << 20):.1f} MiB")
        meta = subprocess.run(
            ["cargo", "metadata", "--locked", "--format-version", "1",
             "--manifest-path", str(ctx / "Cargo.toml")],
            capture_output=True, text=True, env={**os.environ, "CARGO_TARGET_DIR": str(ctx / "target")},
        )
        if not expect(meta.returncode == 0, f"cargo metadata --locked in the build context:\n{meta.stderr}"):
            return
        m = json.loads(meta.stdout)
        pkgs = {p["id"]: p for p in m["packages"]}
        members = set(m["workspace_members"])
        nodes = {n["id"]: n for n in m["resolve"]["nodes"]}
        (cli,) = [i for i in members if pkgs[i]["name"] == "cli"]
        # The workspace crates `cli` builds from (normal and build dependencies).
        todo, seen = [cli], set()
        while todo:
            i = todo.pop()
            if i in seen or i not in members:
                continue
            seen.add(i)
            for d in nodes[i]["deps"]:
                if any(k["kind"] in (None, "build") for k in d["dep_kinds"]):
                    todo.append(d["pkg"])
        included = 0
        for i in sorted(seen):
            for t in pkgs[i]["targets"]:
                if not set(t["kind"]) & {"lib", "rlib", "bin", "proc-macro", "custom-build"}:
                    continue
                for rs in Path(t["src_path"]).parent.rglob("*.rs"):
                    for inc in re.findall(r'include_(?:str|bytes)!\(\s*"([^"]+)"', rs.read_text()):
                        included += 1
                        expect((rs.parent / inc).is_file(),
                               f"{rs.relative_to(ctx)} includes {inc}, missing from the build context")
        print(f"dockerfile: the context resolves the workspace with --locked; `cli` builds from "
              f"{', '.join(sorted(pkgs[i]['name'] for i in seen))}, and all {included} files "
              f"they include are in it")
    finally:
        shutil.rmtree(ctx, ignore_errors=True)


# ------------------------------------------------------------------------------- systemd


def unit_settings(path: Path) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    section = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = out.setdefault(line.strip("[]"), {})
            continue
        k, _, v = line.partition("=")
        assert section is not None, line
        section.setdefault(k.strip(), []).append(v.strip())
    return out


def systemd() -> None:
    u = unit_settings(DEPLOY / "systemd/mandate-serve.service")
    s = {k: v[-1] for k, v in u["Service"].items()}
    want = {
        "Type": "simple",
        "ExecStart": f"/usr/local/bin/mandate {' '.join(SERVE_ARGS)}",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "Restart": "on-failure",
        "KillSignal": "SIGTERM",
        "StateDirectory": "mandate",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "CapabilityBoundingSet": "",
    }
    for k, v in want.items():
        expect(s.get(k) == v, f"unit: {k}={s.get(k)!r}, want {v!r}")
    expect("@system-service" in u["Service"].get("SystemCallFilter", []), "SystemCallFilter=@system-service")
    expect(s.get("LimitNOFILE", "").isdigit(), "LimitNOFILE")
    user = s.get("User")
    expect(s.get("DynamicUser") == "yes" or user not in (None, "root", "0"), "runs as a non-root user")
    sysusers = (DEPLOY / "systemd/mandate.sysusers").read_text()
    expect(re.search(rf"^u {user} ", sysusers, re.M) is not None, f"mandate.sysusers creates {user}")
    _, base = base_config()
    drain = seconds(base.get("drain", "10s"))
    expect(seconds(s.get("TimeoutStopSec", "90s")) > drain, f"TimeoutStopSec must exceed drain ({drain}s)")
    # ProtectSystem=strict: serve writes only in its StateDirectory, reads from /etc/mandate.
    for p in paths_in(base, WRITE_PATHS):
        expect(p.startswith(f"/var/lib/{s['StateDirectory']}/"), f"serve.yaml writes {p}, outside StateDirectory")
    for p in paths_in(base, READ_PATHS):
        expect(p.startswith("/etc/mandate/") or p.startswith("https://"), f"serve.yaml reads {p}")
    expect(u["Install"].get("WantedBy") == ["multi-user.target"], "WantedBy=multi-user.target")
    print(f"systemd: Type=simple, ExecStart mandate {' '.join(SERVE_ARGS)}, SIGHUP reload, User={user}, "
          f"TimeoutStopSec={s['TimeoutStopSec']} > drain {drain:g}s, hardening set, serve.yaml's "
          f"paths inside /etc/mandate and StateDirectory")


# --------------------------------------------------------------------------------- smoke


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"content-type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def smoke(mandate: str) -> None:
    mandate = str(Path(mandate).resolve())
    tmp = Path(tempfile.mkdtemp(prefix="mandate-deploy."))
    procs: list[subprocess.Popen] = []

    def run(*args: str) -> str:
        r = subprocess.run([mandate, *args], cwd=tmp, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"mandate {' '.join(args)}: exit {r.returncode}\n{r.stdout}{r.stderr}")
        return r.stdout

    def start(args: list[str], tag: str) -> tuple[subprocess.Popen, str]:
        out = open(tmp / f"{tag}.out", "w+")
        err = open(tmp / f"{tag}.err", "w+")
        p = subprocess.Popen([mandate, *args], cwd=tmp, stdout=out, stderr=err)
        procs.append(p)
        for _ in range(300):
            m = re.search(r"listening on http://(\S+)", (tmp / f"{tag}.out").read_text())
            if m:
                return p, m.group(1)
            if p.poll() is not None:
                break
            time.sleep(0.1)
        raise SystemExit(f"serve ({tag}) did not start: exit {p.poll()}\n{(tmp / f'{tag}.err').read_text()}")

    def stop(p: subprocess.Popen, tag: str, limit: float) -> None:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
            fail(f"serve ({tag}) did not stop within {limit}s of SIGTERM")
        expect(rc == 0, f"serve ({tag}) exited {rc} on SIGTERM\n{(tmp / f'{tag}.err').read_text()}")

    def probe(addr: str, tag: str) -> None:
        code, body = http("GET", f"http://{addr}/healthz")
        expect(code == 200 and json.loads(body).get("status") == "ok", f"{tag} /healthz {code} {body!r}")
        code, body = http("GET", f"http://{addr}/readyz")
        expect(code == 200 and json.loads(body).get("status") == "ready", f"{tag} /readyz {code} {body!r}")
        code, body = http("POST", f"http://{addr}/v1/decide", b"{}")
        expect(code == 200 and json.loads(body).get("decision") == "deny", f"{tag} /v1/decide {code} {body!r}")
        code, _ = http("GET", f"http://{addr}/metrics")
        expect(code == 200, f"{tag} /metrics {code}")

    try:
        help_text = subprocess.run([mandate, "serve", "--help"], capture_output=True, text=True).stdout
        flags = set(re.findall(r"^\s+--([a-z][a-z0-9-]*)", help_text, re.M))
        text, base = base_config()
        k8s_text = yaml.safe_load((DEPLOY / "k8s/configmap.yaml").read_text())["data"]["serve.yaml"]
        for where, doc in (("deploy/serve.yaml", base), ("the ConfigMap", yaml.safe_load(k8s_text))):
            unknown = sorted(set(doc) - flags)
            expect(not unknown, f"{where}: {unknown} are not `mandate serve` flags")

        etc, var = tmp / "etc/mandate", tmp / "var/lib/mandate"
        (etc / "keys").mkdir(parents=True)
        var.mkdir(parents=True)
        for name, kid in (("root", "root-1"), ("pdp", "pdp-1"), ("idp", "idp-1")):
            run("keygen", "--kid", kid, "--out", str(etc / f"keys/{name}.jwk"))
        (tmp / "registry.yaml").write_text("agents: []\n")
        (tmp / "issuers.yaml").write_text(
            f"- iss: https://idp.example.com\n  keys: [{etc}/keys/idp.pub.jwk]\n"
            "  audiences: [https://api.example.com]\n")
        run("bundle", "build", "--registry", "registry.yaml", "--issuers", "issuers.yaml",
            "--policy", str(ROOT / "cli/demo/guardrails.rego"), "--data", str(ROOT / "cli/demo/data.yaml"),
            "--revision", "deploy-smoke", "--out", "bundle.json")
        run("bundle", "sign", "bundle.json", "--key", str(etc / "keys/root.jwk"), "--out", str(etc / "bundle.jws"))

        # deploy/serve.yaml as is, but for its directories and its port.
        rewritten = text
        for old, new in (("/etc/mandate/", f"{etc}/"), ("/var/lib/mandate/", f"{var}/"),
                         ("listen: 0.0.0.0:8181", "listen: 127.0.0.1:0")):
            expect(old in rewritten, f"deploy/serve.yaml has no {old!r}")
            rewritten = rewritten.replace(old, new)
        rest = [p for p in paths_in(base, tuple(base)) if p.startswith("/")
                and not p.startswith(("/etc/mandate/", "/var/lib/mandate/"))]
        expect(not rest, f"deploy/serve.yaml names paths outside /etc/mandate and /var/lib/mandate: {rest}")
        (tmp / "serve.yaml").write_text(rewritten)
        args = ["serve", *config_flags(load_config(rewritten, "serve.yaml"))]
        drain = seconds(base.get("drain", "10s"))

        p, addr = start(args, "flags")
        probe(addr, "serve (deploy/serve.yaml as flags)")
        # A second serve on the same state is refused, not interleaved.
        second = subprocess.run([mandate, *args], cwd=tmp, capture_output=True, text=True, timeout=30)
        expect(second.returncode != 0 and "audit.locked" in second.stderr + second.stdout,
               f"a second serve on the same audit log: exit {second.returncode}, {second.stderr!r}")
        stop(p, "flags", drain + 10)
        print(f"smoke: serve started with deploy/serve.yaml's settings as flags (temp paths): "
              f"/healthz, /readyz, /v1/decide, /metrics answered; a second serve on the same "
              f"audit log was refused (audit.locked); SIGTERM: exit 0")

        expect("config" in flags, f"this {Path(mandate).name} has no serve --config flag")
        p, addr = start(["serve", "--config", str(tmp / "serve.yaml")], "config")
        probe(addr, "serve --config")
        p.send_signal(signal.SIGHUP)
        # Wait for the reload to be logged (bounded, not timed: the log line is the signal).
        log = ""
        for _ in range(200):
            log = (tmp / "config.err").read_text()
            if "reloaded" in log or p.poll() is not None:
                break
            time.sleep(0.1)
        expect(p.poll() is None, f"serve --config exited {p.poll()} on SIGHUP (systemd's reload)")
        expect("reloaded" in log, f"serve logged no reload after SIGHUP:\n{log}")
        if p.poll() is None:
            code, _ = http("GET", f"http://{addr}/readyz")
            expect(code == 200, f"after SIGHUP /readyz {code}")
        stop(p, "config", drain + 10)
        print("smoke: serve --config serve.yaml: probes answered, SIGHUP reload logged and kept it serving, SIGTERM: exit 0")

        out = run("audit", "verify", str(var / "audit.jsonl"))
        print(f"smoke: mandate audit verify: {out.strip().splitlines()[-1] if out.strip() else 'ok'}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if os.environ.get("KEEP_RUN_DIR") == "1":
            print(f"smoke: files kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    cmd, *rest = sys.argv[1:] or ["?"]
    checks = {"k8s": k8s, "dockerfile": dockerfile, "systemd": systemd, "smoke": smoke}
    if cmd not in checks:
        raise SystemExit(f"usage: check.py {{{'|'.join(checks)}}} [MANDATE]")
    checks[cmd](*rest)
    if failures:
        raise SystemExit(f"check.py {cmd}: {len(failures)} failed")


if __name__ == "__main__":
    main()
