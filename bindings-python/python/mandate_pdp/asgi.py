"""ASGI middleware (Starlette, FastAPI, any ASGI app): hands each request, exactly as the server
received it, to the core's HTTP binding (`Pdp.adecide_http`), puts an allow's decision in
`scope["state"]["mandate"]` (Starlette and FastAPI: `request.state.mandate`; its `obligations`
are the app's to enforce, and only those named in `enforces` can be there) and answers every
deny 403 JSON with the reason code in `x-mandate-reason`, as `mandate serve`, the Envoy filter
and the npm package's Express middleware do. Nothing here parses a credential or matches a
route: the core does.

    app.add_middleware(MandateMiddleware, pdp=pdp, routes=["GET /v1/secrets/* secrets:read"])
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, MutableMapping, Optional, Union

from .http import Route, decide_input, deny_body, deny_headers, http_binding, reason_code
from .pdp import Pdp

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: A value, or a function of the ASGI scope that answers it.
ScopeOption = Union[None, Mapping[str, Any], Callable[[Scope], Optional[Mapping[str, Any]]]]

#: The close code of a refused websocket (RFC 6455 §7.4.1: policy violation).
WS_POLICY_VIOLATION = 1008

# A websocket's handshake is an HTTP GET; its proof names the http(s) URL.
_WS_SCHEMES = {"ws": "http", "wss": "https"}


def asgi_http_request(
    scope: Mapping[str, Any],
    *,
    scheme: Optional[str] = None,
    authority: Optional[str] = None,
) -> Dict[str, Any]:
    """The `http` of an HTTP decide input from an ASGI `http` or `websocket` scope, as received:
    the raw request target (`raw_path` and `query_string`, latin-1, never a router's rewritten
    `path`), every header field in order with repeats, and the socket peer. `scheme`: how the
    request reached the service (`"https"` when TLS ends at a proxy in front); default the
    scope's (`ws`/`wss` are `http`/`https`). `authority`: pins the host (the Host header must
    agree); default the Host header, read by the core."""
    raw_path = scope.get("raw_path")
    if not isinstance(raw_path, (bytes, bytearray)) or not raw_path:
        # The decoded `path` hides encoded slashes and dot-segments from the core: refuse.
        raise RuntimeError("mandate-pdp: the ASGI server gave no raw_path; the request cannot be decided as received")
    path = bytes(raw_path).decode("latin-1")
    query = scope.get("query_string") or b""
    if query:
        path = f"{path}?{bytes(query).decode('latin-1')}"
    headers: List[List[str]] = []
    pseudo_authority = ""
    for name, value in scope.get("headers") or ():
        field, text = bytes(name).decode("latin-1"), bytes(value).decode("latin-1")
        # HTTP/2 pseudo-headers are not header fields; :authority is the authority.
        if field.startswith(":"):
            if field == ":authority":
                pseudo_authority = text
            continue
        headers.append([field, text])
    if scheme is None:
        scheme = str(scope.get("scheme") or "http")
        scheme = _WS_SCHEMES.get(scheme, scheme)
    http: Dict[str, Any] = {
        "method": "GET" if scope.get("type") == "websocket" else str(scope.get("method", "")),
        "scheme": scheme,
        "authority": pseudo_authority if authority is None else authority,
        "path": path,
        "headers": headers,
    }
    client = scope.get("client")
    if client and client[0]:
        http["peer"] = str(client[0])
    return http


def _pick(option: Any, scope: Scope) -> Any:
    return option(scope) if callable(option) else option


class MandateMiddleware:
    """Decides every `http` and `websocket` request through the core's HTTP binding.

    Options: `pdp`; `routes` (`"METHOD PATH-GLOB ACTION [RESOURCE]"` or dicts; the core matches
    them on the normalized path, first match wins); `trusted_hops` (default 0: the socket peer is
    the client; N: the Nth X-Forwarded-For entry from the right); `unrouted` (`"deny"` or
    `"guardrails"`); `scheme` (`"https"` when TLS ends at a proxy in front; default the
    scope's); `authority` (pins the host; default the Host header); `enforces` (obligation names
    the app enforces); `context`, `mint_grant` (values or functions of the ASGI scope); `now` (a
    clock: seconds). Invalid options raise here, when the middleware is made.

    An allow calls the app with the decision in `scope["state"]["mandate"]`; a deny answers 403
    (a websocket: closed with 1008, the reason code as the close reason) without calling it. An
    error of the decision point propagates (a 500), never an allow. `lifespan` passes through.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        pdp: Pdp,
        routes: Iterable[Route] = (),
        trusted_hops: int = 0,
        unrouted: str = "deny",
        scheme: Optional[str] = None,
        authority: Optional[str] = None,
        enforces: Optional[Iterable[str]] = None,
        context: ScopeOption = None,
        mint_grant: ScopeOption = None,
        now: Optional[Callable[[], int]] = None,
    ) -> None:
        if not callable(getattr(pdp, "adecide_http", None)):
            raise TypeError("mandate-pdp: pdp must be a mandate_pdp.Pdp")
        if isinstance(routes, (str, bytes)):
            raise TypeError("mandate-pdp: routes must be a list of routes, not one string")
        self.binding = http_binding(routes, trusted_hops, unrouted)
        for name, value in (("scheme", scheme), ("authority", authority)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"mandate-pdp: {name} must be a string")
        if scheme is not None and scheme not in ("http", "https"):
            raise ValueError("mandate-pdp: scheme must be 'http' or 'https'")
        if enforces is not None:
            if isinstance(enforces, (str, bytes)):
                raise TypeError("mandate-pdp: enforces must be a list of obligation names, not one string")
            enforces = list(enforces)
            if not all(isinstance(e, str) for e in enforces):
                raise TypeError("mandate-pdp: enforces must be a list of obligation names")
        if now is not None and not callable(now):
            raise TypeError("mandate-pdp: now must be a clock (a function answering seconds)")
        self.app = app
        self.pdp = pdp
        self.scheme = scheme
        self.authority = authority
        self.enforces: Optional[List[str]] = enforces
        self.context = context
        self.mint_grant = mint_grant
        self.now = now

    async def decide(self, scope: Scope) -> Dict[str, Any]:
        """The decision on the request an `http` or `websocket` scope carries."""
        http = asgi_http_request(scope, scheme=self.scheme, authority=self.authority)
        inp = decide_input(
            http,
            self.binding,
            context=_pick(self.context, scope),
            mint_grant=_pick(self.mint_grant, scope),
            enforces=self.enforces,
            now=None if self.now is None else int(self.now()),
        )
        return await self.pdp.adecide_http(inp)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            await self.app(scope, receive, send)
            return
        if kind not in ("http", "websocket"):
            raise RuntimeError(f"mandate-pdp: cannot decide an ASGI {kind!r} scope")
        decision = await self.decide(scope)
        if decision.get("decision") == "allow":
            state = scope.get("state")
            if state is None:
                state = scope["state"] = {}
            state["mandate"] = decision
            await self.app(scope, receive, send)
        elif kind == "websocket":
            await _close_websocket(decision, receive, send)
        else:
            await _answer_403(decision, send)


async def _answer_403(decision: Mapping[str, Any], send: Send) -> None:
    body = json.dumps(deny_body(decision), separators=(",", ":")).encode()
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in deny_headers(decision)]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _close_websocket(decision: Mapping[str, Any], receive: Receive, send: Send) -> None:
    # The handshake first reaches the app as websocket.connect; closing then refuses it.
    message = await receive()
    if message.get("type") == "websocket.disconnect":
        return
    await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": reason_code(decision)})


__all__ = ["MandateMiddleware", "WS_POLICY_VIOLATION", "asgi_http_request"]
