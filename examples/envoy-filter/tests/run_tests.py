"""End-to-end tests of the Mandate filter in a real Envoy. Driven by scripts/test-envoy.sh.

1. The fixtures binary mints, for the current time, a bundle (v1), an updated bundle (v2), a
   tampered bundle, and one request per case (tokens and DPoP proofs from policy_core::mint).
2. One Envoy (2 workers) serves a listener with the filter; the upstream echoes what it received.
3. Each case is sent and its answer asserted: status, x-mandate-reason and JSON body on a deny;
   on an allow, the principal headers the upstream saw and the stripped credentials.
4. Bundle updates: the filter polls the upstream's /bundle; v2 is picked up without a restart,
   and a tampered bundle leaves v2 serving.
5. The shared conformance vectors (tests/vectors/conformance.json) that an HTTP request can
   express, and the HTTP vectors (tests/vectors/http.json, requests as received), each in an
   Envoy whose wall clock is frozen at the corpus's `now` (vectors.py).

Prints `N passed, M failed` and exits non-zero on any failure.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import vectors  # noqa: E402


FIXTURE_API = "http://api.mandate.test"


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn):
        try:
            fn()
        except Exception as e:  # a failed assertion or an unexpected answer
            self.failed += 1
            print(f"FAIL {name}: {e}")
            if not isinstance(e, AssertionError):
                traceback.print_exc()
        else:
            self.passed += 1
            print(f"ok   {name}")


def check(cond, message):
    if not cond:
        raise AssertionError(message)


ANSWERS = {"allow": 0, "deny": 0, "replay": 0}


def send(port, case, authority):
    return count(send_uncounted(port, case, authority))


def count(answer):
    ANSWERS["allow" if answer[0] == 200 else "deny"] += 1
    ANSWERS["replay"] += answer[1].get("x-mandate-reason") == "replay.detected"
    return answer


# The main listener is an edge Envoy behind one load balancer: the balancer appends the client's
# address to X-Forwarded-For (the test sends it as that header), Envoy (use_remote_address: true)
# appends the balancer's, so the filter trusts two hops from the right.
TRUSTED_HOPS = 2
BALANCED_CLIENT = "127.0.0.1"


def front(authority, ip=None):
    """The headers every request to the main listener carries: Host and the balancer's hop."""
    return [("Host", authority), ("X-Forwarded-For", ip or BALANCED_CLIENT)]


def send_uncounted(port, case, authority):
    headers = front(case.get("authority", authority), case.get("ip")) + list(case.get("headers", {}).items())
    body = case["body"].encode() if case.get("body") is not None else None
    return harness.request(port, case["method"], case["path"], headers=headers, body=body)


def assert_allow(answer, expect, sent_body=None):
    status, headers, body = answer
    check(status == 200, f"status {status}, body {body[:300]!r}")
    echo = json.loads(body)
    if sent_body is not None:
        check(echo["body_bytes"] == len(sent_body.encode()), f"upstream got {echo['body_bytes']} body bytes")
    seen = echo["headers"]
    for key in ("agent", "user", "chain"):
        got = seen.get("x-mandate-" + key)
        check(got == expect[key], f"upstream saw x-mandate-{key}={got!r}, want {expect[key]!r}")
    check(seen.get("x-mandate-decision-id"), "upstream saw no x-mandate-decision-id")
    for name in ("authorization", "dpop", "mandate-chain"):
        check(name not in seen, f"credential header {name} reached the upstream")
    check("x-mandate-reason" not in headers, "an allow carried x-mandate-reason")


def assert_deny(answer, expect):
    status, headers, body = answer
    check(status == expect.get("status", 403), f"status {status}, want {expect.get('status', 403)}; body {body[:300]!r}")
    check(headers.get("x-mandate-reason") == expect["reason"],
          f"x-mandate-reason {headers.get('x-mandate-reason')!r}, want {expect['reason']!r}")
    check(headers.get("content-type") == "application/json", f"content-type {headers.get('content-type')!r}")
    doc = json.loads(body)
    check(doc.get("decision") == "deny", f"body decision {doc.get('decision')!r}")
    codes = [r.get("code") for r in doc.get("reasons", [])]
    check(codes and codes[0] == expect["reason"], f"body reasons {codes}, want first {expect['reason']!r}")
    check(all(r.get("message") for r in doc["reasons"]), "a reason without a message")


def assert_answer(answer, expect, sent_body=None):
    if expect["status"] == 200:
        assert_allow(answer, expect, sent_body)
    else:
        assert_deny(answer, expect)


def filter_config(fixtures_dir, **extra):
    with open(os.path.join(fixtures_dir, "trust_keys.json")) as f:
        trust_keys = json.load(f)
    with open(os.path.join(fixtures_dir, "grant_key.json")) as f:
        grant_key = json.load(f)
    with open(os.path.join(fixtures_dir, "bundle.jws")) as f:
        bundle = f.read().strip()
    config = {"bundle": bundle, "trust_keys": trust_keys}
    if extra.pop("grant", False):
        config["grant"] = {"key": grant_key, "aud": FIXTURE_API, "ttl": 60}
    config.update(extra)
    return config


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--envoy", required=True)
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--vectors", required=True)
    ap.add_argument("--fixed-clock", required=True)
    args = ap.parse_args()

    results = Results()
    procs = harness.Processes(args.run_dir)
    try:
        run(args, procs, results)
    except Exception:
        results.failed += 1
        traceback.print_exc()
    finally:
        procs.stop_all()
    print(f"{results.passed} passed, {results.failed} failed")
    sys.exit(1 if results.failed or not results.passed else 0)


def run(args, procs, results):
    fixtures_dir = os.path.join(args.run_dir, "fixtures")
    now = int(time.time())
    subprocess.run([args.fixtures, "--now", str(now), "--out", fixtures_dir], check=True)
    with open(os.path.join(fixtures_dir, "cases.json")) as f:
        fixtures = json.load(f)
    authority = fixtures["authority"]

    upstream = harness.start_upstream(procs, fixtures_dir)
    port = harness.free_port()
    config = filter_config(
        fixtures_dir,
        bundle_source={"cluster": "bundle_server", "path": "/bundle", "refresh_seconds": 1, "timeout_ms": 2000},
        routes=fixtures["routes"],
        trusted_hops=TRUSTED_HOPS,
        audit_log=True,
        grant=True,
    )
    listeners = [harness.listener("mandate", port, [harness.wasm_filter(config, args.wasm)], trust_xff=False)]
    admin = harness.free_port()
    # Started "an hour ago" (fixed_clock.c): the cases' proofs, minted just before, are from after
    # its start, as for an Envoy that has been running (see restart_forgets_nothing_it_allowed).
    envoy = harness.start_envoy(procs, args.envoy, "envoy", harness.envoy_config(admin, listeners, upstream),
                                fixed_clock=args.fixed_clock)

    # Requests: every case in order (the replay cases follow the request they replay).
    for case in fixtures["cases"]:
        results.run(case["name"], lambda case=case: assert_answer(send(port, case, authority), case["expect"], case.get("body")))

    minted = {}

    def forged_principal_is_replaced():
        case = fixtures["forged"]
        status, _, body = send(port, case, authority)
        check(status == 200, f"status {status}")
        seen = json.loads(body)["headers"]
        minted["decision_id"] = seen.get("x-mandate-decision-id")
        check(seen.get("x-mandate-user") == case["expect"]["user"], f"upstream saw forged user {seen.get('x-mandate-user')!r}")
        check(seen.get("x-mandate-agent") == case["expect"]["agent"], "upstream saw a forged agent")
        grant = seen.get("x-mandate-grant", "")
        check(grant != "forged" and grant.count(".") == 2, f"upstream saw x-mandate-grant {grant!r}, not a minted grant")
        minted["grant"] = grant

    def proof(token, method, path, jti, at=None):
        """A proof by agent:booker's key over `token`, minted by the fixtures binary at `at`
        (default: the fixtures' `now`)."""
        out = subprocess.run([args.fixtures, "--now", str(now if at is None else at), "--proof-token", token,
                              "--proof-method", method,
                              "--proof-uri", fixtures["api"] + path, "--proof-jti", jti],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def minted_grant_is_accepted_once():
        check("grant" in minted, "no grant was minted")
        path = fixtures["forged"]["path"]
        grant = {"Authorization": "Mandate-Grant " + minted["grant"]}
        booker = {"agent": "agent:booker", "user": "alice", "chain": "agent:booker"}
        # Bound to the agent's key: without a proof it is refused, and nothing is recorded.
        assert_deny(send(port, {"method": "GET", "path": path, "headers": grant}, authority), {"reason": "proof.missing"})
        case = {"method": "GET", "path": path, "headers": dict(grant, DPoP=proof(minted["grant"], "GET", path, "minted-1"))}
        assert_allow(send(port, case, authority), booker)
        assert_deny(send(port, case, authority), {"reason": "replay.detected"})
        # Both use_once entries were recorded: a fresh proof does not make the grant usable again.
        again = dict(case, headers=dict(grant, DPoP=proof(minted["grant"], "GET", path, "minted-2")))
        assert_deny(send(port, again, authority), {"reason": "replay.detected"})
        other = {"method": "GET", "path": "/v1/trips/99",
                 "headers": dict(grant, DPoP=proof(minted["grant"], "GET", "/v1/trips/99", "minted-3"))}
        assert_deny(send(port, other, authority), {"reason": "grant.request_mismatch"})

    def worker_connections():
        status, _, body = harness.request(admin, "GET", "/stats?filter=downstream_cx_total")
        check(status == 200, f"admin /stats answered {status}")
        prefix = f"listener.127.0.0.1_{port}.worker_"
        counts = {}
        for line in body.decode().splitlines():
            name, _, value = line.partition(": ")
            if name.startswith(prefix) and name.endswith(".downstream_cx_total"):
                counts[name[len(prefix):].split(".")[0]] = int(value)
        return counts

    def replay_across_workers():
        case = {"method": "GET", "path": "/v1/trips", "headers": fixtures["replay_across_workers"]}
        assert_allow(send(port, case, authority), {"agent": "agent:booker", "user": "alice", "chain": "agent:booker"})
        # Replays on fresh connections until both workers have taken some (the kernel spreads
        # connections); every one must be refused, whichever worker decided it.
        before = worker_connections()
        check(len(before) == 2, f"expected 2 workers, stats show {before}")
        for _ in range(64):
            assert_deny(send(port, case, authority), {"reason": "replay.detected"})
            after = worker_connections()
            if all(after[w] > before[w] for w in before):
                return
        raise AssertionError(f"64 connections all went to one worker: {before} -> {after}")

    def hostile_headers_are_refused_and_the_filter_survives():
        good = fixtures["survivor"]
        creds = list(good["headers"].items())
        host = front(authority)
        # Bytes that are not UTF-8 in a credential: a deny from the core, not a crashed filter.
        bad = host + [("Authorization", "DPoP \xff\xfe.\xff.\xff"), ("DPoP", "\xfe")]
        assert_deny(count(harness.request(port, "GET", "/v1/trips", headers=bad)), {"reason": "token.malformed"})
        # Two DPoP headers (RFC 9449 allows one): refused by the core's binding, whichever is valid.
        twice = host + creds + [("DPoP", good["headers"]["DPoP"])]
        assert_deny(count(harness.request(port, "GET", "/v1/trips", headers=twice)), {"reason": "request.header_repeated"})
        # Two Authorization headers: Envoy itself joins them (an inline header) into one value,
        # `DPoP <token>,Bearer x`, before any filter runs; the binding counts a credential field
        # joined with a comma as repeated.
        auth_twice = host + creds + [("Authorization", "Bearer x")]
        assert_deny(count(harness.request(port, "GET", "/v1/trips", headers=auth_twice)), {"reason": "request.header_repeated"})
        # Two proofs a proxy in front already joined into one field: the same.
        joined = host + [(n, v + ", " + v if n == "DPoP" else v) for n, v in creds]
        assert_deny(count(harness.request(port, "GET", "/v1/trips", headers=joined)), {"reason": "request.header_repeated"})
        # Two Mandate-Chain headers reach the filter as two: refused by the binding.
        chain_twice = host + creds + [("Mandate-Chain", "a"), ("Mandate-Chain", "b")]
        assert_deny(count(harness.request(port, "GET", "/v1/trips", headers=chain_twice)), {"reason": "request.header_repeated"})
        # The filter still serves on every worker.
        assert_allow(send(port, good, authority), good["expect"])

    def hosts_are_host_and_port():
        # Envoy's own codec refuses a Host carrying a path or query (400): it never reaches the
        # filter, and nothing reaches the upstream.
        injected = [("Host", authority + "/v1/trips/1?"), ("X-Forwarded-For", BALANCED_CLIENT)]
        status, headers, body = harness.request(port, "GET", "/v1/trips/99", headers=injected)  # no decision: not counted
        check(status == 400 and "x-mandate-reason" not in headers, f"injected Host answered {status} {headers}")
        # Hosts Envoy passes on, which the core's binding refuses as not host[:port]; and two Host
        # headers (Envoy joins them into one :authority).
        for hosts in (["evil@" + authority], [authority + ":80:1"], [authority + ":99999"], ["[::1"],
                      [authority, "evil.example"]):
            headers = [("Host", h) for h in hosts] + [("X-Forwarded-For", BALANCED_CLIENT)]
            headers += list(fixtures["survivor"]["headers"].items())
            assert_deny(count(harness.request(port, "GET", "/v1/trips", headers=headers)), {"reason": "request.invalid"})

    def forwarded_for_counts_trusted_hops():
        # A client in front of the balancer that names the trusted network itself: the balancer
        # appends the real address, which is the one the filter takes (2 hops from the right).
        spoof = dict(fixtures["xff_spoofed"])
        spoof_headers = [("Host", authority), ("X-Forwarded-For", "10.20.0.7, " + spoof["ip"])]
        spoof_headers += list(spoof["headers"].items())
        assert_deny(count(harness.request(port, spoof["method"], spoof["path"], headers=spoof_headers)),
                    {"reason": "policy.denied"})
        # No balancer hop at all: fewer hops than trusted is refused, not read from the peer.
        missing = [("Host", authority)] + list(fixtures["xff_missing"]["headers"].items())
        assert_deny(count(harness.request(port, "GET", "/v1/trips", headers=missing)), {"reason": "request.invalid"})

    def exempt_route_skips_the_filter():
        status, _, body = harness.request(port, "GET", "/healthz", headers={"Host": authority})
        check(status == 200, f"/healthz answered {status}")
        check(not any(k.startswith("x-mandate-") for k in json.loads(body)["headers"]), "the filter ran on /healthz")
        # The neighbour is decided by the filter: no route matches it, so the binding refuses it
        # before anything else (a path the routes did not foresee is never decided unchecked).
        assert_deny(send(port, {"method": "GET", "path": "/healthz/deep"}, authority), {"reason": "request.unrouted"})
        # And an unforeseen spelling of a routed path is not the route.
        assert_deny(send(port, {"method": "GET", "path": "/v1/Secrets/db", "headers": fixtures["survivor"]["headers"]}, authority),
                    {"reason": "request.unrouted"})

    results.run("a route with the filter disabled (health checks) bypasses it; its neighbours do not", exempt_route_skips_the_filter)
    results.run("client-supplied x-mandate-* headers are replaced; a minted grant goes upstream", forged_principal_is_replaced)
    results.run("non-UTF-8 and repeated credential headers are refused, and the filter keeps serving", hostile_headers_are_refused_and_the_filter_survives)
    results.run("a Host that is not host[:port] is refused (by Envoy, or by the core's binding)", hosts_are_host_and_port)
    results.run("X-Forwarded-For: the client address is trusted_hops entries from the right", forwarded_for_counts_trusted_hops)
    results.run("a proof replayed to another worker is refused (shared data spans workers)", replay_across_workers)
    results.run("a grant Envoy minted is accepted once for its own request", minted_grant_is_accepted_once)

    def audit_record_is_logged():
        decision_id = minted.get("decision_id")
        check(decision_id, "no decision id was seen upstream")
        with open(os.path.join(args.run_dir, "envoy.log"), errors="replace") as f:
            records = [line.split("mandate audit ", 1)[1] for line in f if "mandate audit " in line]
        mine = [json.loads(r) for r in records if f'"decision_id":"{decision_id}"' in r]
        check(mine, f"no audit record for decision {decision_id} among {len(records)}")
        record = mine[0]
        check(record.get("outcome") == "allow" and record.get("agent") == "agent:booker" and record.get("user") == "alice",
              f"audit record {record}")

    results.run("each decision's audit record is in Envoy's log, joined by the decision id", audit_record_is_logged)

    # Bundle updates without a restart.
    late = fixtures["late"]

    def bundle_fetches():
        return json.loads(harness.request(upstream, "GET", "/control/stats")[2])["bundle_fetches"]

    def switch_bundle(name):
        status = harness.request(upstream, "POST", "/control/bundle", body=name.encode())[0]
        check(status == 204, f"switching the served bundle: {status}")

    def wait_for_polls(count):
        # Each root context (2 workers + the main thread) polls once a second; 7 further polls
        # mean every one of them has polled, and answered, at least once since the switch.
        start = bundle_fetches()
        harness.wait_until(lambda: bundle_fetches() >= start + count, f"{count} bundle polls", attempts=200)

    def before_update():
        assert_deny(send(port, late[0], authority), {"reason": "agent.unknown"})

    def update_is_served():
        switch_bundle("bundle-v2.jws")
        wait_for_polls(7)
        assert_allow(send(port, late[1], authority), late[1]["expect"])

    def bad_update_keeps_serving():
        switch_bundle("bundle-tampered.jws")
        wait_for_polls(7)
        assert_allow(send(port, late[2], authority), late[2]["expect"])

    results.run("bundle v1: an agent only v2 registers is unknown", before_update)
    results.run("bundle v2 is picked up from the bundle source without a restart", update_is_served)
    results.run("a tampered bundle from the source leaves v2 serving", bad_update_keeps_serving)

    def counters_match_answers():
        status, _, body = harness.request(admin, "GET", "/stats?filter=wasmcustom")
        check(status == 200, f"admin /stats answered {status}")
        stats = dict(line.split(": ", 1) for line in body.decode().splitlines() if ": " in line)
        got = lambda name: int(stats.get("wasmcustom.mandate." + name, "-1"))
        check(got("decisions.allow") == ANSWERS["allow"], f"allow counter {got('decisions.allow')}, answers {ANSWERS}")
        check(got("decisions.deny") == ANSWERS["deny"], f"deny counter {got('decisions.deny')}, answers {ANSWERS}")
        check(got("replay.detected") == ANSWERS["replay"], f"replay counter {got('replay.detected')}, answers {ANSWERS}")
        check(got("replay.store_errors") == 0, "replay store errors counted")
        check(got("bundle.loaded") >= 2 and got("bundle.rejected") >= 2, f"bundle counters {stats}")

    results.run("Envoy's stats count the filter's allows, denies, replays and bundle loads", counters_match_answers)

    def restart_forgets_nothing_it_allowed():
        # Shared data lives as long as the Envoy process: a restarted Envoy's replay store is
        # empty, so it refuses every proof issued before its start (replay.history_unknown), the
        # survivor's (already used above) among them, and takes fresh ones.
        procs.stop(envoy)
        while int(time.time()) <= now:
            time.sleep(0.05)
        harness.start_envoy(procs, args.envoy, "envoy-restarted", harness.envoy_config(admin, listeners, upstream))
        survivor = fixtures["survivor"]
        assert_deny(send(port, survivor, authority), {"reason": "replay.history_unknown"})
        token = survivor["headers"]["Authorization"].split(" ", 1)[1]
        fresh = dict(survivor, headers=dict(survivor["headers"],
                                            DPoP=proof(token, survivor["method"], survivor["path"], "after-restart",
                                                       at=int(time.time()))))
        assert_allow(send(port, fresh, authority), survivor["expect"])
        assert_deny(send(port, fresh, authority), {"reason": "replay.detected"})

    results.run("a restarted Envoy refuses proofs issued before its start (its replay store is new)",
                restart_forgets_nothing_it_allowed)

    procs.stop_all()
    results.run("the README's Envoy configuration passes envoy --mode validate", lambda: readme_config_validates(args))
    vectors.run(args, procs, results, check)
    procs.stop_all()
    vectors.run_http(args, procs, results, check)


def readme_config_validates(args):
    readme = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
    with open(readme) as f:
        match = re.search(r"## Envoy configuration\n\n```yaml\n(.*?)```", f.read(), re.S)
    check(match, "no Envoy configuration block in the README")
    yaml = match.group(1).replace("/etc/envoy/envoy_filter.wasm", args.wasm)
    # The snippet elides the backend cluster; give it one so the file is complete.
    backend = ("  - name: api_backend\n    type: STATIC\n    connect_timeout: 1s\n    load_assignment: {cluster_name: api_backend, "
               "endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 9}}}}]}]}\n")
    check("  - name: api_backend\n    # …\n" in yaml, "the README's backend cluster placeholder changed")
    yaml = yaml.replace("  - name: api_backend\n    # …\n", backend)
    path = os.path.join(args.run_dir, "readme-envoy.yaml")
    with open(path, "w") as f:
        f.write(yaml)
    out = subprocess.run([args.envoy, "--mode", "validate", "-c", path], capture_output=True, text=True, timeout=120)
    check(out.returncode == 0 and "OK" in out.stdout + out.stderr, "envoy --mode validate failed:\n" + (out.stdout + out.stderr)[-2000:])


if __name__ == "__main__":
    main()
