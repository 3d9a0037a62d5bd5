#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora from tests/vectors/conformance.json.

    fuzz/seeds/make_seeds.py OUT_DIR      # OUT_DIR/<target>/<name>, one file per seed

Seeds are derived, never committed: the vectors are the source of truth and change with them.
"""
import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    out = sys.argv[1]
    with open(os.path.join(ROOT, "tests/vectors/conformance.json"), encoding="utf-8") as f:
        vectors = json.load(f)
    seeds: dict[str, list[bytes]] = {t: [] for t in (
        "jws_parse", "json_strict", "uri_parse", "decide_json", "apply_replay_json",
        "differential")}

    def tokens(v, acc):
        if isinstance(v, str):
            if v.count(".") == 2 and v.startswith("eyJ"):
                acc.append(v)
        elif isinstance(v, list):
            for x in v:
                tokens(x, acc)
        elif isinstance(v, dict):
            for x in v.values():
                tokens(x, acc)

    uris = set()
    for case in vectors["cases"]:
        raw = case["input"].encode()
        seeds["decide_json"].append(raw)
        seeds["json_strict"].append(b"\x20" + raw)  # max_depth 32, 64 KiB cap
        if case.get("load") == "default":
            seeds["differential"].append(raw)
        try:
            doc = json.loads(case["input"])
        except ValueError:
            continue
        toks = []
        tokens(doc, toks)
        for t in toks:
            # flags: bit 0 allow_jwk (proofs carry one), bit 1 clear: the 8 KiB token cap
            seeds["jws_parse"].append(b"\x01" + t.encode())
            seeds["jws_parse"].append(b"\x00" + t.encode())
        req = doc.get("request") if isinstance(doc, dict) else None
        if isinstance(req, dict) and isinstance(req.get("uri"), str):
            uris.add(req["uri"])
        output = json.loads(case["output"])
        jtis = [u.get("jti") for u in output.get("use_once", []) if isinstance(u, dict)]
        for replayed, store_error in ((jtis, False), ([], False), ([], True), (["other"], False)):
            seeds["apply_replay_json"].append(json.dumps(
                {"decision": output, "replayed": replayed, "store_error": store_error},
                separators=(",", ":"), sort_keys=True).encode())
    http_path = os.path.join(ROOT, "tests/vectors/http.json")
    if os.path.exists(http_path):
        with open(http_path, encoding="utf-8") as f:
            for case in json.load(f)["cases"]:
                if case.get("load") == "default":
                    seeds["differential"].append(case["input"].encode())
    for load in vectors["loads"].values():
        seeds["json_strict"].append(b"\x20" + load.encode())
    uris |= {
        "https://api.example.com/v1/a/../b/./c?x=1#f", "HTTPS://API.Example.COM:443/%7euser/%2f",
        "http://[::1]:8080/", "http://h:80", "https://h:/p", "https://h/%41%zz",
    }
    seeds["uri_parse"] = [u.encode() for u in sorted(uris)]

    for target, items in seeds.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for item in items:
            name = hashlib.sha1(item).hexdigest()
            with open(os.path.join(d, name), "wb") as f:
                f.write(item)
        print(f"seeds: {target}: {len(set(items))}")


if __name__ == "__main__":
    main()
