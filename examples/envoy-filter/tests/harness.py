"""Starts and stops the real Envoy and the echo upstream on loopback, and talks HTTP to them.

Every process started here is recorded in RUN_DIR/pids/ so that scripts/test-envoy.sh's trap can
stop it even if this interpreter dies; `Processes.stop_all` stops them on the normal path.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.procs = []
        os.makedirs(os.path.join(run_dir, "pids"), exist_ok=True)

    def start(self, name, argv, env=None):
        log = open(os.path.join(self.run_dir, name + ".log"), "wb")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        with open(os.path.join(self.run_dir, "pids", name + ".pid"), "w") as f:
            f.write(str(proc.pid))
        self.procs.append((name, proc))
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self):
        for name, proc in reversed(self.procs):
            self.stop(proc)
            try:
                os.remove(os.path.join(self.run_dir, "pids", name + ".pid"))
            except FileNotFoundError:
                pass
        self.procs = []

    def log_tail(self, name, lines=40):
        try:
            with open(os.path.join(self.run_dir, name + ".log"), "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except FileNotFoundError:
            return ""


def wait_until(check, what, attempts=300, pause=0.1):
    """Polls `check` a bounded number of times (startup only; no test asserts on time)."""
    for _ in range(attempts):
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(pause)
    raise RuntimeError("gave up waiting for " + what)


def start_upstream(procs, bundle_dir):
    port = free_port()
    procs.start("upstream", [sys.executable, os.path.join(HERE, "upstream.py"), str(port), bundle_dir])
    wait_until(lambda: request(port, "GET", "/control/stats")[0] == 200, "the upstream")
    return port


def wasm_filter(filter_config, wasm_path, vm_id="mandate"):
    return {
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "mandate",
                "root_id": "mandate",
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": json.dumps(filter_config),
                },
                "vm_config": {
                    "vm_id": vm_id,
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": wasm_path}},
                },
            },
        },
    }


def listener(name, port, http_filters, trust_xff, scheme=None):
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": name,
        # Tests set the client address through x-forwarded-for; a production edge listener keeps
        # use_remote_address: true so source.address is the peer (see the README).
        "use_remote_address": not trust_xff,
        "route_config": {
            "virtual_hosts": [{
                "name": "all",
                "domains": ["*"],
                "routes": [
                    # Health checks skip the filter: Envoy's per-route switch, not a filter option.
                    {"match": {"path": "/healthz"}, "route": {"cluster": "upstream"},
                     "typed_per_filter_config": {"envoy.filters.http.wasm": {
                         "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "disabled": True}}},
                    {"match": {"prefix": "/"}, "route": {"cluster": "upstream"}},
                ],
            }]
        },
        "http_filters": http_filters + [{
            "name": "envoy.filters.http.router",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
        }],
    }
    if scheme:
        hcm["scheme_header_transformation"] = {"scheme_to_overwrite": scheme}
    return {
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}],
    }


def cluster(name, port):
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "2s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}],
        },
    }


def envoy_config(admin_port, listeners, upstream_port):
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {
            "listeners": listeners,
            "clusters": [cluster("upstream", upstream_port), cluster("bundle_server", upstream_port)],
        },
    }


#: How long before its real start an Envoy started by `start_envoy` believes it started.
EARLY_SECONDS = 3600


def start_envoy(procs, envoy_bin, name, config, fixed_now=None, fixed_clock=None, concurrency=2, early=True):
    """Starts Envoy and waits until it is ready. With `fixed_clock` (fixed_clock.c): `fixed_now`
    freezes its wall clock there; `early` makes it start EARLY_SECONDS in the past, so that the
    filter's replay store (which remembers uses since the Envoy process started, and denies
    proofs issued before with replay.history_unknown) holds the test's proofs, minted before
    Envoy started, as an Envoy that has run for a while does. Its clock is real (or frozen)
    from the moment it is ready."""
    path = os.path.join(procs.run_dir, name + ".json")
    with open(path, "w") as f:
        json.dump(config, f, indent=1)
    argv = [envoy_bin, "-c", path, "--concurrency", str(concurrency), "--disable-hot-restart", "-l", "info"]
    env = dict(os.environ)
    switch = os.path.join(procs.run_dir, name + ".clock-switch")
    if fixed_clock is not None:
        env["LD_PRELOAD"] = fixed_clock
        if fixed_now is not None:
            # Envoy's wall clock (what get_current_time returns to the filter) frozen at a vector's
            # `now`; monotonic time, which drives Envoy's timers, stays real.
            env["MANDATE_FIXED_NOW"] = str(fixed_now)
        if early:
            if os.path.exists(switch):
                os.remove(switch)
            env.update({"MANDATE_EARLY_SECONDS": str(EARLY_SECONDS), "MANDATE_CLOCK_SWITCH": switch})
    proc = procs.start(name, argv, env=env)
    admin = config["admin"]["address"]["socket_address"]["port_value"]

    def ready():
        if proc.poll() is not None:
            raise RuntimeError(name + " exited:\n" + procs.log_tail(name))
        return request(admin, "GET", "/ready")[0] == 200

    wait_until(ready, name, attempts=600)
    if fixed_clock is not None and early:
        with open(switch, "w"):
            pass
        # The shim switches on its next wall-clock read; Envoy reads it many times a second.
        time.sleep(0.3)
    return proc


def request(port, method, path, headers=None, body=None, timeout=10):
    """One request on a fresh connection; returns (status, headers dict lower-case, body bytes).

    `headers` is a dict, or a list of (name, value) pairs to send a header more than once; values
    are sent as Latin-1, so "\\xff" goes out as the byte 0xff."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(headers, list):
            names = {n.lower() for n, _ in headers}
            conn.putrequest(method, path, skip_host="host" in names, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
        else:
            conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()
