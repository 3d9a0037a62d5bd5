"""The ASGI middleware against real Starlette and FastAPI apps (Starlette's TestClient): allows
with the decision in `request.state.mandate`, and every deny checked in full (403, JSON,
`x-mandate-reason`, `x-mandate-decision-id`, the body's reason codes) with the app not called.
Middleware decides with the host clock, so the world is minted around the real time."""

from __future__ import annotations

import contextlib
import time
from typing import Any, AsyncIterator, Dict, List, Optional

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

import mandate_pdp as m
from mandate_pdp.asgi import MandateMiddleware, asgi_http_request
from world import API, World, make_world

ROUTES = [
    "GET /v1/secrets/* secrets:read",
    "POST /v1/payments payments:send",
    "GET /v2/secrets/* secrets:read",
    "GET /ws/* secrets:read",
]
# The test client sends Host api.example.com over plain HTTP: TLS "ends at a proxy in front".
BASE = "http://api.example.com"
TRUSTED = ("10.20.0.7", 40000)
LOOPBACK = ("127.0.0.1", 40000)


@pytest.fixture(scope="module")
def world() -> World:
    return make_world(now=int(time.time()))


@pytest.fixture()
def pdp(world: World) -> m.Pdp:
    return m.Pdp(world.config)


def agent(world: World, token: Optional[str] = None) -> m.Agent:
    return m.Agent(world.travel, [token or world.delegate()])


def creds(world: World, path: str, method: str = "GET", token: Optional[str] = None) -> Dict[str, str]:
    """Fresh credentials for `method https://api.example.com<path>` (the proof's htu drops the query)."""
    return agent(world, token).headers(method, f"{API}{path.split('?')[0]}")


def assert_denied(res: Any, code: str) -> Dict[str, Any]:
    """A deny answered as `mandate serve`, the Envoy filter and the npm middleware answer it."""
    assert res.status_code == 403, res.text
    assert res.headers["content-type"] == "application/json"
    assert res.headers["x-mandate-reason"] == code, res.text
    body = res.json()
    assert sorted(body) == ["decision", "decision_id", "reasons"]
    assert body["decision"] == "deny"
    assert all(sorted(r) == ["code", "message"] for r in body["reasons"])
    assert body["reasons"][0]["code"] == code, body
    assert body["decision_id"] and res.headers["x-mandate-decision-id"] == body["decision_id"]
    return body


def starlette_app(pdp: m.Pdp, calls: List[str], **options: Any) -> Starlette:
    async def show(request: Request) -> JSONResponse:
        calls.append(request.url.path)
        d = request.state.mandate
        return JSONResponse(
            {"decision": d["decision"], "agent": d["principal"]["agent"], "user": d["principal"]["user"],
             "obligations": d.get("obligations", {}), "grant": "grant" in d}
        )

    async def pay(request: Request) -> JSONResponse:
        calls.append("pay")
        return JSONResponse({"paid": True})

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"user": websocket.state.mandate["principal"]["user"]})
        await websocket.close()

    options.setdefault("routes", ROUTES)
    options.setdefault("scheme", "https")
    return Starlette(
        routes=[
            Route("/v1/secrets/{name}", show),
            Route("/v2/secrets/{name}", show),
            Route("/v1/payments", pay, methods=["POST"]),
            WebSocketRoute("/ws/feed", ws),
        ],
        middleware=[Middleware(MandateMiddleware, pdp=pdp, **options)],
    )


def client(app: Any, peer: Any = TRUSTED, **kw: Any) -> TestClient:
    return TestClient(app, base_url=BASE, client=peer, **kw)


def test_an_agent_with_a_delegation_and_a_proof_gets_through_with_the_decision(world: World, pdp: m.Pdp) -> None:
    calls: List[str] = []
    c = client(starlette_app(pdp, calls))
    res = c.get("/v1/secrets/db?version=2", headers=creds(world, "/v1/secrets/db"))
    assert res.status_code == 200, res.text
    assert res.json() == {"decision": "allow", "agent": "agent:travel", "user": "alice", "obligations": {}, "grant": False}
    assert calls == ["/v1/secrets/db"]


def test_behind_one_trusted_proxy_the_forwarded_address_is_the_client(world: World, pdp: m.Pdp) -> None:
    calls: List[str] = []
    c = client(starlette_app(pdp, calls, trusted_hops=1), peer=LOOPBACK)
    res = c.get("/v1/secrets/db", headers={**creds(world, "/v1/secrets/db"), "X-Forwarded-For": "10.20.0.7"})
    assert res.status_code == 200, res.text
    assert res.json()["user"] == "alice"
    # One proxy in front: the entry it appended, not one the client wrote before it.
    res = c.get("/v1/secrets/db", headers={**creds(world, "/v1/secrets/db"), "X-Forwarded-For": "10.20.0.7, 192.0.2.1"})
    assert_denied(res, "policy.denied")
    assert calls == ["/v1/secrets/db"]


def test_no_credentials_is_credentials_missing_and_a_bearer_token_is_not_accepted(world: World, pdp: m.Pdp) -> None:
    calls: List[str] = []
    c = client(starlette_app(pdp, calls))
    assert_denied(c.get("/v1/secrets/db"), "credentials.missing")
    assert_denied(c.get("/v1/secrets/db", headers={"Authorization": f"Bearer {world.delegate()}"}), "credentials.missing")
    assert_denied(c.get("/v1/secrets/db", headers={"Authorization": f"DPoP {world.delegate()}"}), "proof.missing")
    assert calls == []


def test_an_untrusted_client_address_is_denied_by_the_guardrail(world: World, pdp: m.Pdp) -> None:
    calls: List[str] = []
    c = client(starlette_app(pdp, calls), peer=("192.0.2.1", 40000))
    assert_denied(c.get("/v1/secrets/db", headers=creds(world, "/v1/secrets/db")), "policy.denied")
    assert calls == []


def test_a_spoofed_x_forwarded_for_is_not_read_without_trusted_hops(world: World, pdp: m.Pdp) -> None:
    calls: List[str] = []
    c = client(starlette_app(pdp, calls), peer=LOOPBACK)
    res = c.get("/v1/secrets/db", headers={**creds(world, "/v1/secrets/db"), "X-Forwarded-For": "10.20.0.7"})
    assert_denied(res, "policy.denied")
    assert calls == []


def test_a_replayed_request_is_replay_detected(world: World, pdp: m.Pdp) -> None:
    calls: List[str] = []
    c = client(starlette_app(pdp, calls))
    headers = creds(world, "/v1/secrets/db")
    assert c.get("/v1/secrets/db", headers=headers).status_code == 200
    assert_denied(c.get("/v1/secrets/db", headers=headers), "replay.detected")
    assert calls == ["/v1/secrets/db"]


def test_a_tampered_token_is_denied(world: World, pdp: m.Pdp) -> None:
    calls: List[str] = []
    c = client(starlette_app(pdp, calls))
    token = world.delegate()
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert_denied(c.get("/v1/secrets/db", headers=creds(world, "/v1/secrets/db", token=tampered)), "token.signature_invalid")
    assert calls == []


def test_an_unrouted_path_is_request_unrouted_and_a_path_variant_is_never_routed(world: World, pdp: m.Pdp) -> None:
    calls: List[str] = []
    c = client(starlette_app(pdp, calls))
    assert_denied(c.get("/v1/other", headers=creds(world, "/v1/other")), "request.unrouted")
    assert_denied(c.get("/v1/Secrets/db", headers=creds(world, "/v1/Secrets/db")), "request.unrouted")
    # The raw target reaches the core: an encoded dot-segment is refused, not decoded and routed.
    assert_denied(c.get("/v1/secrets/%2e%2e/payments", headers=creds(world, "/v1/secrets/%2e%2e/payments")), "request.invalid")
    assert calls == []


def test_an_action_outside_the_delegation_and_require_approval_are_denied(world: World, pdp: m.Pdp) -> None:
    calls: List[str] = []
    c = client(starlette_app(pdp, calls))
    assert_denied(c.post("/v1/payments", headers=creds(world, "/v1/payments", "POST")), "delegation.scope_insufficient")
    paying = world.delegate(scope="payments:send")
    assert_denied(c.post("/v1/payments", headers=creds(world, "/v1/payments", "POST", token=paying)), "approval.required")
    assert calls == []


def test_every_header_field_reaches_the_core_in_order_with_repeats(world: World, pdp: m.Pdp) -> None:
    calls: List[str] = []
    c = client(starlette_app(pdp, calls))
    headers = creds(world, "/v1/secrets/db")
    repeated = [*headers.items(), ("dpop", headers["DPoP"])]
    assert_denied(c.get("/v1/secrets/db", headers=repeated), "request.header_repeated")
    assert calls == []


def test_scheme_and_authority_pin_the_origin_the_proof_must_name(world: World, pdp: m.Pdp) -> None:
    calls: List[str] = []
    pinned = client(starlette_app(pdp, calls, authority="api.example.com"))
    assert pinned.get("/v1/secrets/db", headers=creds(world, "/v1/secrets/db")).status_code == 200
    other = TestClient(pinned.app, base_url="http://evil.example.com", client=TRUSTED)
    assert_denied(other.get("/v1/secrets/db", headers=creds(world, "/v1/secrets/db")), "request.invalid")
    # Without scheme="https" the request is http://api.example.com/...: not the decision point the
    # token names (its aud is https://api.example.com), nor the URL its proof names.
    plain = client(starlette_app(pdp, calls, scheme=None))
    assert_denied(plain.get("/v1/secrets/db", headers=creds(world, "/v1/secrets/db")), "token.audience_mismatch")
    assert calls == ["/v1/secrets/db"]


def test_context_enforces_and_mint_grant_reach_the_core(world: World, pdp: m.Pdp) -> None:
    def export(scope: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        return {"export": True} if (b"x-export", b"1") in scope["headers"] else None

    calls: List[str] = []
    plain = client(starlette_app(pdp, calls, context=export))
    headers = {**creds(world, "/v2/secrets/db"), "x-export": "1"}
    assert_denied(plain.get("/v2/secrets/db", headers=headers), "obligation.unsupported")
    enforcing = client(starlette_app(pdp, calls, context=export, enforces=["watermark"]))
    res = enforcing.get("/v2/secrets/db", headers={**creds(world, "/v2/secrets/db"), "x-export": "1"})
    assert res.status_code == 200, res.text
    assert res.json()["obligations"] == {"watermark": "alice"}
    # Declaring one obligation never lets approval through.
    paying = world.delegate(scope="payments:send")
    assert_denied(enforcing.post("/v1/payments", headers=creds(world, "/v1/payments", "POST", token=paying)), "approval.required")
    granting = client(starlette_app(pdp, calls, mint_grant={"aud": API, "ttl": 30}))
    res = granting.get("/v1/secrets/db", headers=creds(world, "/v1/secrets/db"))
    assert res.status_code == 200 and res.json()["grant"] is True
    assert calls == ["/v2/secrets/db", "/v1/secrets/db"]


def test_a_mounted_app_is_decided_on_the_raw_path_not_the_routers(world: World, pdp: m.Pdp) -> None:
    seen: List[Dict[str, Any]] = []

    async def show(request: Request) -> JSONResponse:
        seen.append(request.state.mandate["audit"]["request"])
        return JSONResponse({"ok": True})

    inner = Starlette(routes=[Route("/{name}", show)], middleware=[Middleware(MandateMiddleware, pdp=pdp, routes=ROUTES, scheme="https")])
    c = client(Starlette(routes=[Mount("/v1/secrets", app=inner)]))
    assert c.get("/v1/secrets/db", headers=creds(world, "/v1/secrets/db")).status_code == 200
    assert seen[-1]["uri"] == f"{API}/v1/secrets/db" and seen[-1]["action"] == "secrets:read"


def test_websockets_are_decided_and_refused_with_1008(world: World, pdp: m.Pdp) -> None:
    calls: List[str] = []
    c = client(starlette_app(pdp, calls))
    # The test client's websockets ignore base_url: name the host in the URL.
    url = "ws://api.example.com/ws/feed"
    with c.websocket_connect(url, headers=creds(world, "/ws/feed")) as ws:
        assert ws.receive_json() == {"user": "alice"}
    unrouted = "ws://api.example.com/live"
    for target, headers, code in ((url, {}, "credentials.missing"), (unrouted, creds(world, "/live"), "request.unrouted")):
        with pytest.raises(WebSocketDisconnect) as e:
            with c.websocket_connect(target, headers=headers) as ws:
                ws.receive_json()
        assert (e.value.code, e.value.reason) == (1008, code)


def test_lifespan_passes_through(pdp: m.Pdp) -> None:
    started: List[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        started.append("up")
        yield
        started.append("down")

    app = Starlette(lifespan=lifespan, middleware=[Middleware(MandateMiddleware, pdp=pdp, routes=ROUTES)])
    with client(app):
        assert started == ["up"]
    assert started == ["up", "down"]


class FailingPdp:
    async def adecide_http(self, input: Any) -> Dict[str, Any]:
        raise RuntimeError("the replay store is down")


class AllowlessPdp:
    async def adecide_http(self, input: Any) -> Dict[str, Any]:
        return {"decision": "maybe", "decision_id": "d-1", "reasons": [{"code": "internal.error", "message": "no verdict"}]}


def test_an_error_of_the_decision_point_is_a_500_never_an_allow(world: World) -> None:
    calls: List[str] = []
    c = client(starlette_app(FailingPdp(), calls), raise_server_exceptions=False)  # type: ignore[arg-type]
    res = c.get("/v1/secrets/db", headers=creds(world, "/v1/secrets/db"))
    assert res.status_code == 500 and "x-mandate-reason" not in res.headers
    with pytest.raises(RuntimeError, match="replay store is down"):
        client(starlette_app(FailingPdp(), calls)).get("/v1/secrets/db")  # type: ignore[arg-type]
    # Anything but an explicit allow is a deny.
    assert_denied(client(starlette_app(AllowlessPdp(), calls)).get("/v1/secrets/db"), "internal.error")  # type: ignore[arg-type]
    assert calls == []


def test_invalid_options_raise_when_the_middleware_is_made(pdp: m.Pdp) -> None:
    app = Starlette()
    with pytest.raises(ValueError, match="METHOD PATH-GLOB ACTION"):
        MandateMiddleware(app, pdp=pdp, routes=["GET /x"])
    with pytest.raises(TypeError, match="not one string"):
        MandateMiddleware(app, pdp=pdp, routes="GET /x a:b")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="trusted_hops"):
        MandateMiddleware(app, pdp=pdp, trusted_hops=-1)
    with pytest.raises(ValueError, match="unrouted"):
        MandateMiddleware(app, pdp=pdp, unrouted="allow")
    with pytest.raises(ValueError, match="scheme"):
        MandateMiddleware(app, pdp=pdp, scheme="ftp")
    with pytest.raises(TypeError, match="enforces"):
        MandateMiddleware(app, pdp=pdp, enforces="watermark")
    with pytest.raises(TypeError, match="pdp"):
        MandateMiddleware(app, pdp=object())  # type: ignore[arg-type]


def test_the_request_is_handed_over_as_received() -> None:
    scope = {
        "type": "http", "method": "GET", "scheme": "http", "path": "/v1/secrets/a/b", "raw_path": b"/v1/secrets/a%2Fb",
        "query_string": b"q=\xe9", "headers": [(b"host", b"api.example.com"), (b"x-a", b"1"), (b"x-a", b"2")],
        "client": ("10.20.0.7", 5),
    }
    assert asgi_http_request(scope, scheme="https") == {
        "method": "GET", "scheme": "https", "authority": "", "path": "/v1/secrets/a%2Fb?q=\u00e9",
        "headers": [["host", "api.example.com"], ["x-a", "1"], ["x-a", "2"]], "peer": "10.20.0.7",
    }
    with pytest.raises(RuntimeError, match="raw_path"):
        asgi_http_request({**scope, "raw_path": None})


def test_fastapi_through_add_middleware(world: World, pdp: m.Pdp) -> None:
    import fastapi  # installed in the dev venv (pip install fastapi); not a dependency of the package
    app = fastapi.FastAPI()
    app.add_middleware(MandateMiddleware, pdp=pdp, routes=ROUTES, scheme="https")
    calls: List[str] = []

    @app.get("/v1/secrets/{name}")
    async def secret(name: str, request: Request) -> Dict[str, Any]:
        calls.append(name)
        return {"secret": name, "user": request.state.mandate["principal"]["user"]}

    c = client(app)
    res = c.get("/v1/secrets/db", headers=creds(world, "/v1/secrets/db"))
    assert res.status_code == 200 and res.json() == {"secret": "db", "user": "alice"}
    assert_denied(c.get("/v1/secrets/db"), "credentials.missing")
    assert_denied(c.get("/docs"), "request.unrouted")
    assert calls == ["db"]
