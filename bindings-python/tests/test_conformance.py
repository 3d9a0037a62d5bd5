"""The cross-host conformance vectors (tests/vectors/conformance.json and http.json, format in
tests/README.md) replayed through the package's own decide paths: every answer must be the
bytes the native Rust core produced when the vectors were generated, on both verifiers.

Each load gets a scripted replay store (a `CallbackReplayStore`): a case's `replay` says what
the host's store holds (`replayed` jtis, or `store_error`), so replay cases go through the
same decide -> store -> settle path as production."""

from __future__ import annotations

import json

import pytest

import mandate_pdp as m
from world import VECTORS


class Scripted:
    def __init__(self) -> None:
        self.script: dict = {"replayed": []}
        self.calls = 0

    def record(self, entries, now):
        self.calls += 1
        if self.script.get("store_error"):
            raise RuntimeError("scripted store outage")
        # As a real store answers: those of the given entries it already held (the Rust
        # decider does not trust a store that answers keys it was not given).
        held = set(self.script.get("replayed", []))
        return [e["jti"] for e in entries if e["jti"] in held]


def run(vectors: dict, verifier: str, http: bool) -> list:
    pdps = {}
    for name, config in vectors["loads"].items():
        store = Scripted()
        pdps[name] = (m.Pdp(config, replay_store=m.CallbackReplayStore(store.record), verifier=verifier), store)
    problems = []
    for c in vectors["cases"]:
        pdp, store = pdps[c["load"]]
        store.script = c.get("replay") or {"replayed": []}
        store.calls = 0
        got = (pdp.decide_http_bytes if http else pdp.decide_bytes)(c["input"]).decode()
        if got != c["output"]:
            problems.append(f"{c['name']}: bytes differ\n  got  {got}\n  want {c['output']}")
            continue
        doc = json.loads(got)
        codes = [r["code"] for r in doc.get("reasons", [])]
        if doc["decision"] != c["expect"]["decision"] or codes != c["expect"]["codes"]:
            problems.append(f"{c['name']}: {doc['decision']} {codes}, want {c['expect']}")
        # The store is consulted once for an allow that uses ids (a scripted replay turns it into
        # a deny afterwards), never for a deny.
        want_calls = 1 if c.get("replay") or (doc["decision"] == "allow" and doc.get("use_once")) else 0
        if store.calls != want_calls:
            problems.append(f"{c['name']}: the store was consulted {store.calls} times, want {want_calls}")
    return problems


@pytest.mark.parametrize("verifier", ["native", "portable"])
@pytest.mark.parametrize("file,http", [("conformance.json", False), ("http.json", True)])
def test_vectors_give_the_native_bytes(verifier: str, file: str, http: bool) -> None:
    vectors = json.loads((VECTORS / file).read_text())
    assert len(vectors["cases"]) >= 26
    problems = run(vectors, verifier, http)
    assert problems == [], "\n".join(problems)
