"""Latency Envoy adds per request with the Mandate filter on and off (docs/bench/envoy.md).

One Envoy (1 worker) with two listeners to the same echo upstream: `mandate` (the filter) and
`plain` (none). One keep-alive connection per listener; requests alternate between the two so
drift on a shared machine hits both alike. Bounded: --requests allowed requests per listener
(each with a fresh DPoP proof, so the replay store records every one), plus a warm-up, and the
same count of denied requests (no credentials). Prints a Markdown table.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from run_tests import filter_config  # noqa: E402

WARMUP = 200


def timed(conn, path, headers):
    start = time.perf_counter_ns()
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    resp.read()
    return resp.status, (time.perf_counter_ns() - start) / 1000.0


def summary(samples):
    s = sorted(samples)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]
    return {"mean": statistics.fmean(s), "p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--envoy", required=True)
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--fixed-clock", required=True, help="fixed_clock.c, built: Envoy starts before the proofs")
    args = ap.parse_args()

    fixtures_dir = os.path.join(args.run_dir, "bench-fixtures")
    total = args.requests + WARMUP
    subprocess.run([args.fixtures, "--now", str(int(time.time())), "--out", fixtures_dir, "--bench", str(total)], check=True)
    with open(os.path.join(fixtures_dir, "cases.json")) as f:
        fixtures = json.load(f)
    with open(os.path.join(fixtures_dir, "bench.json")) as f:
        bench = json.load(f)
    authority, path = fixtures["authority"], bench["path"]

    procs = harness.Processes(args.run_dir)
    try:
        upstream = harness.start_upstream(procs, fixtures_dir)
        on, off = harness.free_port(), harness.free_port()
        config = filter_config(fixtures_dir, routes=fixtures["routes"])
        listeners = [
            harness.listener("mandate", on, [harness.wasm_filter(config, args.wasm)], trust_xff=False),
            harness.listener("plain", off, [], trust_xff=False),
        ]
        harness.start_envoy(procs, args.envoy, "envoy-bench", harness.envoy_config(harness.free_port(), listeners, upstream),
                            concurrency=1, fixed_clock=args.fixed_clock)
        c_on = http.client.HTTPConnection("127.0.0.1", on, timeout=10)
        c_off = http.client.HTTPConnection("127.0.0.1", off, timeout=10)
        base = {"Host": authority}
        allow_on, allow_off, deny_on, deny_off = [], [], [], []
        for i, creds in enumerate(bench["requests"]):
            status, t_on = timed(c_on, path, {**base, **creds})
            if status != 200:
                raise SystemExit(f"bench request {i} through the filter answered {status}")
            _, t_off = timed(c_off, path, {**base, **creds})
            if i >= WARMUP:
                allow_on.append(t_on)
                allow_off.append(t_off)
        for i in range(total):
            status, t_on = timed(c_on, path, base)
            if status != 403:
                raise SystemExit(f"bench deny {i} answered {status}")
            _, t_off = timed(c_off, path, base)
            if i >= WARMUP:
                deny_on.append(t_on)
                deny_off.append(t_off)
    finally:
        procs.stop_all()

    rows = [
        ("allow (token + fresh DPoP proof), filter on", summary(allow_on)),
        ("same requests, filter off", summary(allow_off)),
        ("deny (no credentials), filter on", summary(deny_on)),
        ("same requests, filter off", summary(deny_off)),
    ]
    print(f"\n{args.requests} requests per row after {WARMUP} warm-up, one keep-alive connection, µs per request:\n")
    print("| requests | mean | p50 | p90 | p99 |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, s in rows:
        print(f"| {name} | {s['mean']:.0f} | {s['p50']:.0f} | {s['p90']:.0f} | {s['p99']:.0f} |")
    added = summary(allow_on)["p50"] - summary(allow_off)["p50"]
    added_deny = summary(deny_on)["p50"] - summary(deny_off)["p50"]
    print(f"\nAdded by the filter (p50 difference): allow {added:.0f} µs, deny {added_deny:.0f} µs")


if __name__ == "__main__":
    main()
