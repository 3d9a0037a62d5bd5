"""A warm decision from Python, timed: the conformance vector `seed/allow-trusted-network` (the
input host-rust's criterion bench `decide_warm` decides) through `mandate_pdp.Pdp.decide_bytes`,
with a store that never sees a replay (so one input can be decided again and again), on both
verifiers. Compare with `cargo bench -p host-rust --bench host -- decide_warm` in the same run
(BENCHMARKS.md, "Python").

Usage: python bindings-python/bench/bench.py [--iterations N] [--repeats R]"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import time

import mandate_pdp as m

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "tests" / "vectors" / "conformance.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    vectors = json.loads(VECTORS.read_text())
    case = next(c for c in vectors["cases"] if c["name"] == "seed/allow-trusted-network")
    config = vectors["loads"][case["load"]]
    data = case["input"].encode()
    for verifier in ("native", "portable"):
        pdp = m.Pdp(config, replay_store=m.CallbackReplayStore(lambda entries, now: []), verifier=verifier)
        assert json.loads(pdp.decide_bytes(data))["decision"] == "allow"
        for _ in range(200):
            pdp.decide_bytes(data)
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for _ in range(args.iterations):
                pdp.decide_bytes(data)
            runs.append((time.perf_counter() - start) / args.iterations)
        print(
            f"python decide_bytes, {verifier:8} verifier: median {statistics.median(runs) * 1e6:7.1f} µs"
            f"  (min {min(runs) * 1e6:.1f}, max {max(runs) * 1e6:.1f}; {args.repeats} x {args.iterations})"
        )


if __name__ == "__main__":
    main()
