"""The shared conformance vectors (tests/vectors/conformance.json) replayed through Envoy.

Each vector is a load config, a decide input and the native decision. Through Envoy the filter
builds the decide input itself from an HTTP request, so a vector runs here when its input is one
an HTTP request can carry, and the filter's observable answer is compared with the native one:
the decision (200 forwarded / 403) and every reason code in order (`x-mandate-reason` is the first,
the body lists all).

How an input becomes a request:
- `now`: every Envoy here has its wall clock frozen at the corpus's `now` (fixed_clock.c), which
  is what the filter reads through get_current_time;
- `request.method`, and `request.uri` split into `:scheme` (the listener's
  scheme_header_transformation: https), `Host` and `:path`;
- `request.ip`: `x-forwarded-for`, which a listener with use_remote_address: false turns into
  the `source.address` the filter reads;
- `request.action` / `request.resource`: the listener's `routes` rule (the core's `Route`) for that
  method and normalized path;
- `context`: the listener's `context` option;
- `mint_grant`: the listener's `grant` option (the load's `grant_key`, `aud`, `ttl`), the `jti` as
  `x-request-id` (which the filter uses as the grant's jti);
- `credentials`: `Authorization: DPoP <last>` + `Mandate-Chain: <the others>` + `DPoP: <proof>`,
  or `Authorization: Mandate-Grant <grant>`;
- the load config: the filter's `bundle`, `trust_keys` and `audiences` (a load without a bundle
  becomes a `bundle_source` that answers 404, so the filter starts with no bundle);
- `replay`: a vector that expects `replay.detected` is sent again if its first answer is an allow
  (the filter's own store then holds the jti). The store-error vector cannot be caused from outside.

Skipped, with the reason printed: inputs that are not a JSON object; a `now` other than the
corpus's; `body_digest` (the vectors' digests have no known body to send); `mint_grant` without a
grant key (the filter refuses such a configuration); a `context` that is not an object; no `ip` (Envoy always has a client address); a method or URI that is not a valid HTTP
request line; a grant together with a delegation (one Authorization header); credentials with
characters a header cannot carry; a `decision_id` the filter would not pass; a forced store error;
a duplicate member (the core refuses the document; a request has no JSON); `enforces` (the filter
declares no obligation).

A URI the core's HTTP binding refuses (an authority that is not host[:port], a path with a
dot-segment or an encoded slash) is sent as is, with no route for it: the binding answers.

`run_http` replays tests/vectors/http.json, whose inputs are HTTP requests as received; see its
docstring.
"""

import base64
import json
import os
import re
from urllib.parse import unquote, urlsplit

import harness

TOKEN_CHARS = re.compile(r"^[A-Za-z0-9._~+/=-]+$")
METHOD = re.compile(r"^[A-Z]+$")
INPUT_KEYS = {"now", "request", "credentials", "decision_id", "context", "mint_grant"}
REQUEST_KEYS = {"method", "uri", "ip", "action", "resource"}


class DuplicateMember(ValueError):
    pass


def strict_object(pairs):
    """json.loads hook: a duplicate member (which the core refuses) is an error, not the last one."""
    names = [n for n, _ in pairs]
    if len(names) != len(set(names)):
        raise DuplicateMember(names)
    return dict(pairs)


def translate(case, corpus_now):
    """The HTTP request for a vector, or (None, why it cannot be one)."""
    try:
        data = json.loads(case["input"], object_pairs_hook=strict_object)
    except DuplicateMember:
        return None, "input has a duplicate member (the core refuses the document; a request has no JSON)"
    except ValueError:
        return None, "input is not JSON"
    if not isinstance(data, dict):
        return None, "input is not an object"
    extra = set(data) - INPUT_KEYS
    if extra:
        return None, "input carries " + ", ".join(sorted(extra))
    if "context" in data and not isinstance(data["context"], dict):
        return None, "context is not an object (the filter's `context` option is one)"
    if data.get("now") != corpus_now:
        return None, "now differs from the corpus's frozen clock"
    if "decision_id" in data and not (isinstance(data["decision_id"], str) and 1 <= len(data["decision_id"]) <= 128):
        return None, "decision_id the filter would not pass"
    req = data.get("request")
    if not isinstance(req, dict) or set(req) - REQUEST_KEYS:
        return None, "request carries " + ", ".join(sorted(set(req or {}) - REQUEST_KEYS)) if isinstance(req, dict) else "no request"
    method, uri, ip = req.get("method"), req.get("uri"), req.get("ip")
    if not isinstance(method, str) or not METHOD.match(method):
        return None, "method is not an HTTP token"
    if not isinstance(ip, str):
        return None, "no client ip (Envoy always has one)"
    parts = urlsplit(uri) if isinstance(uri, str) else None
    if not parts or parts.scheme.lower() != "https" or not parts.netloc or not uri.isascii() or " " in uri:
        return None, "uri is not an absolute https URI"
    path = parts.path or "/"
    target = path + ("?" + parts.query if parts.query else "")
    # A URI the core's binding refuses (not host[:port], an ambiguous path) is still sent: the
    # binding answers before routes matter, so no route is set up for it.
    refused = not AUTHORITY.match(parts.netloc) or ambiguous(path)
    for key in ("action", "resource"):
        if req.get(key) is not None and not isinstance(req[key], str):
            return None, key + " is not a string"
    creds = data.get("credentials", {})
    if not isinstance(creds, dict) or set(creds) - {"delegation", "proof", "grant"}:
        return None, "credentials of another shape"
    delegation, proof, grant = creds.get("delegation", []), creds.get("proof"), creds.get("grant")
    values = (delegation if isinstance(delegation, list) else [None]) + [v for v in (proof, grant) if v is not None]
    if not all(isinstance(v, str) and TOKEN_CHARS.match(v) for v in values):
        return None, "a credential a header cannot carry"
    if grant is not None and delegation:
        return None, "grant and delegation together (one Authorization header)"
    headers = {"Host": parts.netloc, "X-Forwarded-For": ip}
    if delegation:
        headers["Authorization"] = "DPoP " + delegation[-1]
        if len(delegation) > 1:
            headers["Mandate-Chain"] = " ".join(delegation[:-1])
    if grant is not None:
        headers["Authorization"] = "Mandate-Grant " + grant
    if proof is not None:
        headers["DPoP"] = proof
    replay = case.get("replay")
    if replay and replay.get("store_error"):
        return None, "a replay-store error cannot be caused from outside"
    route = (method, path, None, None) if refused else (method, path, req.get("action"), req.get("resource"))
    context = data.get("context")
    grant = None
    if "mint_grant" in data:
        ask = data["mint_grant"]
        if not isinstance(ask, dict) or set(ask) != {"aud", "ttl", "jti"} or not isinstance(ask["jti"], str) or not TOKEN_CHARS.match(ask["jti"]):
            return None, "a mint_grant the filter's `grant` option cannot express"
        grant = {"aud": ask["aud"], "ttl": ask["ttl"]}
        headers["X-Request-Id"] = ask["jti"]
    request = {"method": method, "target": target, "headers": headers, "route": route, "context": context, "grant": grant}
    request["jtis"] = {j for j in (jwt_jti(proof), jwt_jti(creds.get("grant"))) if j}
    return request, None


def jwt_jti(token):
    """The `jti` claim of a compact JWS, read (not verified) to keep vectors' stores apart."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("jti")
    except (AttributeError, IndexError, ValueError, TypeError):
        return None


AUTHORITY = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")
UNRESERVED = re.compile(r"%([0-9A-Fa-f]{2})")


def ambiguous(path):
    """The core's `path_is_ambiguous`: a dot-segment (also %2e), an encoded / or \\, a raw \\."""
    lower = path.lower()
    if "\\" in lower or "%2f" in lower or "%5c" in lower:
        return True
    return any(seg in (".", "..") for seg in lower.replace("%2e", ".").split("/"))


def normalize(path):
    """The core's path normalization for a path `ambiguous` accepts: percent-encodings upper-case,
    unreserved characters decoded (what routes are matched on)."""
    def one(m):
        c = chr(int(m.group(1), 16))
        return c if c.isascii() and (c.isalnum() or c in "-._~") else "%" + m.group(1).upper()
    return UNRESERVED.sub(one, path)


def glob(pattern, text):
    """The core's route glob: `*` matches any run of characters, `/` included."""
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), text, re.S) is not None


def route_rules(routes):
    """The filter's `routes`: one rule (the core's Route) per (method, normalized path), longest
    path first."""
    rules = [
        {"method": method, "path": normalize(path), "action": action, **({"resource": resource} if resource else {})}
        for (method, path), (action, resource) in routes.items()
        if action is not None
    ]
    return sorted(rules, key=lambda r: -len(r["path"]))


def route_for(rules, method, path):
    """What the core's binding gives for these routes; used to place vectors on listeners."""
    for r in rules:
        if (r["method"] == "*" or r["method"].lower() == method.lower()) and glob(r["path"], normalize(path)):
            return r["action"], r.get("resource")
    return None, None


def place(groups, load, request, allows):
    """Puts a vector on a listener of its load, context and grant option whose routes give it its
    action and resource. Each listener has its own replay store, and a vector the native runner
    allows never shares one with an earlier allowed vector that used the same proof or grant (the
    native runner decides every vector with an empty store)."""
    method, path, action, resource = request["route"]
    for group in groups:
        if group["load"] != load or group["context"] != request["context"] or group["grant"] != request["grant"]:
            continue
        if allows and group["recorded"] & request["jtis"]:
            continue
        routes = dict(group["routes"])
        routes.setdefault((method, path), (action, resource))
        rules = route_rules(routes)
        members = group["requests"] + [request]
        if all(route_for(rules, *r["route"][:2]) == tuple(r["route"][2:]) for r in members):
            group["routes"] = routes
            group["requests"].append(request)
            break
    else:
        group = {"load": load, "context": request["context"], "grant": request["grant"],
                 "routes": {(method, path): (action, resource)}, "requests": [request], "recorded": set()}
        groups.append(group)
    if allows:
        group["recorded"] |= request["jtis"]
    return group


def filter_config(load_text, routes, context, grant, store, trusted_hops=0, unrouted="guardrails"):
    """A listener's filter configuration. A decide input without an `action` names none, so the
    conformance listeners let the guardrails decide requests their routes do not match
    (`unrouted: guardrails`); the http.json listeners take the case's binding."""
    load = json.loads(load_text)
    config = {"trust_keys": load.get("trust_keys", []), "routes": routes if isinstance(routes, list) else route_rules(routes),
              "trusted_hops": trusted_hops, "unrouted": unrouted, "replay": {"shards": 16, "key_prefix": store}}
    if "audiences" in load:
        config["audiences"] = load["audiences"]
    if context is not None:
        config["context"] = context
    if grant is not None:
        config["grant"] = {"key": load["grant_key"], **grant}
    if "bundle" in load:
        config["bundle"] = load["bundle"]
    else:
        config["bundle_source"] = {"cluster": "upstream", "path": "/status/404", "refresh_seconds": 60}
    return config


def observe(answer):
    status, headers, body = answer
    if status == 200:
        return "allow", []
    if status != 403:
        return f"status {status}", [body[:200].decode(errors="replace")]
    try:
        doc = json.loads(body)
        codes = [r["code"] for r in doc["reasons"]]
        if headers.get("x-mandate-reason") != (codes[0] if codes else None):
            return "inconsistent", [headers.get("x-mandate-reason")] + codes
        return doc["decision"], codes
    except (ValueError, KeyError, TypeError):
        return f"status {status}", [body[:200].decode(errors="replace")]


def run(args, procs, results, check):
    path = os.path.join(args.vectors, "conformance.json")
    if not os.path.exists(path):
        results.run("conformance vectors present", lambda: check(False, path + " is missing"))
        return
    with open(path) as f:
        corpus = json.load(f)
    now = corpus["now"]

    groups, skipped = [], []
    for case in corpus["cases"]:
        request, why = translate(case, now)
        if request is None:
            skipped.append((case["name"], why))
            continue
        load = json.loads(corpus["loads"][case["load"]]) if case["load"] in corpus["loads"] else None
        if not isinstance(load, dict) or set(load) - {"bundle", "trust_keys", "grant_key", "audiences"}:
            skipped.append((case["name"], "load config the filter cannot take"))
            continue
        if request["grant"] is not None and not isinstance(load.get("grant_key"), dict):
            skipped.append((case["name"], "mint_grant without a grant key (the filter refuses that configuration)"))
            continue
        request["case"] = case
        place(groups, case["load"], request, case["expect"]["decision"] == "allow")

    upstream = harness.start_upstream(procs, args.run_dir)
    listeners = []
    for i, group in enumerate(groups):
        group["port"] = harness.free_port()
        config = filter_config(corpus["loads"][group["load"]], group["routes"], group["context"], group["grant"], f"vectors{i}.")
        flt = harness.wasm_filter(config, args.wasm)
        listeners.append(harness.listener(f"vectors{i}", group["port"], [flt], trust_xff=True, scheme="https"))
    harness.start_envoy(procs, args.envoy, "envoy-vectors", harness.envoy_config(harness.free_port(), listeners, upstream),
                        fixed_now=now, fixed_clock=args.fixed_clock)

    by_name = {}
    for group in groups:
        for request in group["requests"]:
            by_name[request["case"]["name"]] = (group, request)
    covered = 0
    for case in corpus["cases"]:  # corpus order, so replays follow the uses they replay
        if case["name"] not in by_name:
            continue
        group, request = by_name[case["name"]]
        want = (case["expect"]["decision"], case["expect"]["codes"])

        def one(group=group, request=request, want=want):
            send = lambda: harness.request(group["port"], request["method"], request["target"], headers=request["headers"])
            got = observe(send())
            if want[1][:1] == ["replay.detected"] and got == ("allow", []):
                got = observe(send())  # the first use; the vector's answer is the replay's
            check(got == (want[0], list(want[1])), f"Envoy answered {got}, native {want}")

        results.run("vector " + case["name"], one)
        covered += 1
    print(f"vectors: {covered} of {len(corpus['cases'])} run through Envoy on {len(groups)} listeners; skipped:")
    for name, why in skipped:
        print(f"  skip {name}: {why}")


# --- tests/vectors/http.json: HTTP requests as received, replayed as real requests -------------

HTTP_DOC = """How an http.json case becomes a request to Envoy:
- `http.method` and `http.path`: the request line, as is (Envoy normalizes no path here);
- `http.authority`: the `Host` header (HTTP/1 has no separate `:authority`); a case that also
  carries a `Host` header sends both, which Envoy joins into one `:authority`;
- `http.headers`: every other header, in order, repeats kept (Envoy itself joins repeated
  `Authorization` headers into one value with a comma, which the binding counts as repeated);
- `binding`: the listener's `routes`, `trusted_hops` and `unrouted`, verbatim; `context`: its
  `context`;
- `http.peer`: Envoy's `source.address`. The vector listeners run with `use_remote_address:
  false`, so Envoy takes the rightmost `X-Forwarded-For` entry as the client address: with
  `trusted_hops: 0` the peer's IP is appended to the case's `X-Forwarded-For` (which the core
  then ignores, as it ignores the header at 0 hops); with `trusted_hops > 0` the case's
  `X-Forwarded-For` is sent as is (the core reads only the header, never the peer);
- `now`: the Envoy's frozen wall clock.
Compared: the decision and every reason code, in order (not bytes: the filter's decision id is
Envoy's `x-request-id`, the vectors' is derived from their input)."""

# An authority Envoy's HTTP/1 codec refuses itself (400) before any filter runs.
ENVOY_REFUSED_HOST = re.compile(r"[^A-Za-z0-9._~:@\[\]!$&'()*+,;=%-]")


def translate_http(case, corpus_now):
    """(request, None), or (None, why the case cannot be sent through the filter)."""
    data = json.loads(case["input"])
    if data.get("now") != corpus_now:
        return None, "now differs from the corpus's frozen clock"
    if data.get("enforces"):
        return None, "declares obligations it enforces (`enforces`); the filter enforces none, so declares none"
    extra = set(data) - {"now", "http", "binding", "context"}
    if extra:
        return None, "input carries " + ", ".join(sorted(extra)) + " (no filter option sets it)"
    http = data["http"]
    if http.get("body_digest") is not None:
        return None, "body_digest (the filter hashes no bodies)"
    if http.get("scheme") != "https" or not METHOD.match(http.get("method", "")):
        return None, "not an https request with a token method"
    peer = http.get("peer")
    if not isinstance(peer, str):
        return None, "no peer (Envoy always has one)"
    binding = data.get("binding", {})
    hops = binding.get("trusted_hops", 0)
    hosts = ([http["authority"]] if http.get("authority") else [])
    xff, others = [], []
    for name, value in http.get("headers", []):
        if name.lower() == "host":
            hosts.append(value)
        elif name.lower() == "x-forwarded-for":
            xff.append(value)
        else:
            others.append((name, value))
    if hops == 0:
        ip = peer.rsplit(":", 1)[0] if peer.count(":") == 1 else peer.strip("[]").split("]:")[0]
        # Envoy (use_remote_address: false) takes the rightmost entry as the client address.
        xff = [", ".join(xff + [ip])]
    headers = [("Host", h) for h in hosts] + [("X-Forwarded-For", v) for v in xff] + others
    refused_by_envoy = any(ENVOY_REFUSED_HOST.search(h) for h in hosts)
    jtis = {jwt_jti(v.split(" ", 1)[-1]) for n, v in others if n.lower() in ("dpop", "authorization")} - {None}
    return {"method": http["method"], "target": http["path"], "headers": headers, "jtis": jtis,
            "routes": binding.get("routes", []), "hops": hops, "unrouted": binding.get("unrouted", "deny"),
            "context": data.get("context"),
            "refused_by_envoy": refused_by_envoy}, None


def run_http(args, procs, results, check):
    """Replays tests/vectors/http.json through Envoy. """ + HTTP_DOC
    path = os.path.join(args.vectors, "http.json")
    if not os.path.exists(path):
        results.run("http vectors present", lambda: check(False, path + " is missing"))
        return
    with open(path) as f:
        corpus = json.load(f)
    now = corpus["now"]
    groups, skipped, run = [], [], []
    for case in corpus["cases"]:
        request, why = translate_http(case, now)
        load = json.loads(corpus["loads"].get(case["load"], "null"))
        # A grant_key only mints (the filter's `grant` option); no http case asks for a grant.
        if request is not None and (not isinstance(load, dict) or set(load) - {"bundle", "trust_keys", "grant_key", "audiences"}):
            request, why = None, "load config the filter cannot take"
        if request is None:
            skipped.append((case["name"], why))
            continue
        key = (case["load"], json.dumps(request["routes"]), request["hops"], request["unrouted"], json.dumps(request["context"]))
        allows = case["expect"]["decision"] == "allow"
        for group in groups:
            if group["key"] == key and not (allows and group["recorded"] & request["jtis"]):
                break
        else:
            group = {"key": key, "request": request, "recorded": set(), "port": harness.free_port()}
            groups.append(group)
        if allows:
            group["recorded"] |= request["jtis"]
        run.append((case, request, group))

    upstream = harness.start_upstream(procs, args.run_dir)
    listeners = []
    for i, group in enumerate(groups):
        load, _, hops, unrouted, _ = group["key"]
        first = group["request"]
        config = filter_config(corpus["loads"][load], first["routes"], first["context"], None, f"http{i}.", hops, unrouted)
        if first["context"] is None:
            config.pop("context", None)
        listeners.append(harness.listener(f"http{i}", group["port"], [harness.wasm_filter(config, args.wasm)],
                                          trust_xff=True, scheme="https"))
    harness.start_envoy(procs, args.envoy, "envoy-http-vectors", harness.envoy_config(harness.free_port(), listeners, upstream),
                        fixed_now=now, fixed_clock=args.fixed_clock)

    envoy_refused = []
    for case, request, group in run:
        want = (case["expect"]["decision"], list(case["expect"]["codes"]))

        def one(case=case, request=request, group=group, want=want):
            answer = harness.request(group["port"], request["method"], request["target"], headers=request["headers"])
            if request["refused_by_envoy"]:
                # Envoy answers 400 itself; the vector must be a deny, and the filter never saw it.
                check(want[0] == "deny", f"the vector allows a request Envoy refuses: {want}")
                check(answer[0] == 400 and "x-mandate-reason" not in answer[1], f"Envoy answered {answer[0]} {answer[1]}")
                envoy_refused.append(case["name"])
                return
            got = observe(answer)
            check(got == want, f"Envoy answered {got}, native {want}")

        results.run("http vector " + case["name"], one)
    print(f"http vectors: {len(run)} of {len(corpus['cases'])} sent through Envoy on {len(groups)} listeners"
          f" ({len(envoy_refused)} refused by Envoy itself before the filter: {', '.join(envoy_refused) or 'none'}); skipped:")
    for name, why in skipped:
        print(f"  skip {name}: {why}")
