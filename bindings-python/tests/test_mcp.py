"""The MCP guard around an `MCPServer` of the official MCP Python SDK, called by the SDK's
`Client`: in-process (credentials in `_meta["mandate/credentials"]`, proofs for
`POST https://mcp.invalid/tools/<name>`, both the legacy handshake and the 2026 per-request path)
and over streamable HTTP (the agent's DPoP headers on every POST, decided through the core's HTTP
binding). Every deny is checked in full: the error tool result, its text, its
`_meta["mandate/decision"]`, and that the tool did not run."""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable, Dict, Generator, List, Optional, Tuple

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult

import mandate_pdp as m
from mandate_pdp.mcp import DEFAULT_TOOL_BASE_URL, guard_mcp, mandate_decision, tool_call_url
from world import API, World, make_world

MODES = ["legacy", "auto"]
ENDPOINT = f"{API}/mcp"


@pytest.fixture(scope="module")
def world() -> World:
    return make_world(now=int(time.time()))


@pytest.fixture(scope="module")
def root(world: World) -> str:
    return world.delegate()


@pytest.fixture()
def pdp(world: World) -> m.Pdp:
    # In-process calls are decided against https://mcp.invalid/tools/<name>: the decision point is
    # named by its configured audience, the tokens' aud.
    return m.Pdp({**world.config, "audiences": [API]})


class Files:
    """A guarded MCPServer with four tools, recording what ran and what was decided."""

    def __init__(self, pdp: Any, **options: Any) -> None:
        self.ran: List[Tuple[Any, ...]] = []
        self.decided: List[Tuple[str, str, List[str], Optional[Dict[str, Any]]]] = []
        self.server: MCPServer = MCPServer("files")
        guard_mcp(
            self.server,
            pdp,
            context=lambda name, args, ctx: {"client": "test", **({"export": True} if args.get("export") else {})},
            on_decision=lambda d, name, args: self.decided.append(
                (name, d["decision"], m.reasons(d), (d.get("audit") or {}).get("request"))
            ),
            **options,
        )
        ran = self.ran

        @self.server.tool()
        def read_file(path: str, export: bool = False) -> str:
            d = mandate_decision()
            assert d is not None
            ran.append(("read_file", path, d["principal"]["agent"], d["obligations"]))
            return f"contents of {path} for {d['principal']['user']}"

        @self.server.tool()
        async def delete_file(path: str) -> str:
            ran.append(("delete_file", path))
            return "deleted"

        @self.server.tool()
        def send_money(amount: int) -> str:
            ran.append(("send_money", amount))
            return "sent"

        @self.server.tool()
        def whoami() -> str:
            d = mandate_decision()
            assert d is not None
            ran.append(("whoami", d["principal"]["user"]))
            return d["principal"]["user"]


def meta(world: World, name: str, token: str) -> Dict[str, Any]:
    """`_meta` with the agent's credentials for one call of tool `name` (a fresh proof)."""
    return {"mandate/credentials": m.Agent(world.travel, [token]).credentials("POST", tool_call_url(name))}


def run(fn: Callable[[], Awaitable[None]]) -> None:
    anyio.run(fn)


def text(res: CallToolResult) -> str:
    return res.content[0].text  # type: ignore[union-attr]


def assert_tool_denied(res: CallToolResult, name: str, code: str, files: Files, ran_before: int) -> None:
    assert res.is_error is True
    assert text(res).startswith(f"Mandate denied tool:{name}: {code}"), text(res)
    d = (res.meta or {})["mandate/decision"]
    assert d["decision"] == "deny" and d["code"] == code
    assert d["reasons"][0]["code"] == code and d["reasons"][0]["message"]
    assert isinstance(d["decision_id"], str) and d["decision_id"]
    assert files.decided[-1][:2] == (name, "deny") and files.decided[-1][2][0] == code
    assert len(files.ran) == ran_before, "the tool must not run"


@pytest.mark.parametrize("mode", MODES)
def test_an_allowed_tool_runs_with_the_decision_and_the_guardrails_see_the_call(world: World, root: str, pdp: m.Pdp, mode: str) -> None:
    files = Files(pdp)

    async def go() -> None:
        async with Client(files.server, mode=mode) as c:
            res = await c.call_tool("read_file", {"path": "/etc/motd"}, meta=meta(world, "read_file", root))
            assert res.is_error is False, res
            assert text(res) == "contents of /etc/motd for alice"
            res = await c.call_tool("whoami", None, meta=meta(world, "whoami", root))
            assert res.is_error is False and text(res) == "alice"

    run(go)
    assert files.ran == [("read_file", "/etc/motd", "agent:travel", {}), ("whoami", "alice")]
    name, outcome, codes, request = files.decided[0]
    assert (name, outcome, codes) == ("read_file", "allow", [])
    assert request == {"method": "POST", "uri": f"{DEFAULT_TOOL_BASE_URL}/tools/read_file", "ip": None,
                       "action": "tool:read_file", "resource": None}
    assert mandate_decision() is None


@pytest.mark.parametrize("mode", MODES)
def test_denied_calls_do_not_run_the_tool(world: World, root: str, pdp: m.Pdp, mode: str) -> None:
    files = Files(pdp)

    async def go() -> None:
        async with Client(files.server, mode=mode) as c:
            res = await c.call_tool("delete_file", {"path": "/etc/motd"}, meta=meta(world, "delete_file", root))
            assert_tool_denied(res, "delete_file", "policy.denied", files, 0)
            res = await c.call_tool("send_money", {"amount": 5}, meta=meta(world, "send_money", root))
            assert_tool_denied(res, "send_money", "approval.required", files, 0)
            res = await c.call_tool("whoami", None)
            assert_tool_denied(res, "whoami", "credentials.missing", files, 0)
            res = await c.call_tool("whoami", None, meta={"mandate/credentials": {"delegation": [root]}})
            assert_tool_denied(res, "whoami", "proof.missing", files, 0)
            narrow = world.delegate(scope="secrets:read")
            res = await c.call_tool("read_file", {"path": "/x"}, meta=meta(world, "read_file", narrow))
            assert_tool_denied(res, "read_file", "delegation.scope_insufficient", files, 0)
            # A proof made for another tool is not this call's.
            res = await c.call_tool("read_file", {"path": "/x"}, meta=meta(world, "whoami", root))
            assert_tool_denied(res, "read_file", "proof.uri_mismatch", files, 0)

    run(go)
    assert files.ran == []


def test_a_replayed_proof_is_replay_detected(world: World, root: str, pdp: m.Pdp) -> None:
    files = Files(pdp)

    async def go() -> None:
        async with Client(files.server) as c:
            same = meta(world, "whoami", root)
            assert text(await c.call_tool("whoami", None, meta=same)) == "alice"
            assert_tool_denied(await c.call_tool("whoami", None, meta=same), "whoami", "replay.detected", files, 1)
            # A fresh proof is allowed again.
            assert text(await c.call_tool("whoami", None, meta=meta(world, "whoami", root))) == "alice"

    run(go)
    assert files.ran == [("whoami", "alice"), ("whoami", "alice")]


def test_obligations_are_never_dropped(world: World, root: str, pdp: m.Pdp) -> None:
    plain, enforcing = Files(pdp), Files(pdp, enforces=["watermark"])

    async def go() -> None:
        async with Client(plain.server) as c:
            res = await c.call_tool("read_file", {"path": "/srv/a", "export": True}, meta=meta(world, "read_file", root))
            assert_tool_denied(res, "read_file", "obligation.unsupported", plain, 0)
        async with Client(enforcing.server) as c:
            res = await c.call_tool("read_file", {"path": "/srv/a", "export": True}, meta=meta(world, "read_file", root))
            assert res.is_error is False, res
            # Declaring one obligation never lets approval through.
            res = await c.call_tool("send_money", {"amount": 5}, meta=meta(world, "send_money", root))
            assert_tool_denied(res, "send_money", "approval.required", enforcing, 1)

    run(go)
    assert enforcing.ran == [("read_file", "/srv/a", "agent:travel", {"watermark": "alice"})]


class FailingPdp:
    async def adecide(self, input: Any) -> Dict[str, Any]:
        raise RuntimeError("the replay store is down")

    async def adecide_http(self, input: Any) -> Dict[str, Any]:
        raise RuntimeError("the replay store is down")


def test_an_error_of_the_decision_point_never_runs_the_tool(world: World, root: str) -> None:
    files = Files(FailingPdp())

    async def go() -> None:
        async with Client(files.server) as c:
            with pytest.raises(MCPError):
                await c.call_tool("whoami", None, meta=meta(world, "whoami", root))

    run(go)
    assert files.ran == [] and files.decided == []


def test_a_low_level_server_is_guarded_too_and_guard_misuse_is_refused(world: World, root: str, pdp: m.Pdp) -> None:
    from mcp_types import CallToolRequestParams, ListToolsResult, TextContent, Tool

    ran: List[str] = []

    async def call_tool(ctx: Any, params: CallToolRequestParams) -> CallToolResult:
        ran.append(params.name)
        return CallToolResult(content=[TextContent(type="text", text="ok")])

    async def list_tools(ctx: Any, params: Any) -> ListToolsResult:
        return ListToolsResult(tools=[Tool(name=n, input_schema={"type": "object"}) for n in ("anything", "delete_file")])

    low: Server[Any] = Server("low", on_call_tool=call_tool, on_list_tools=list_tools)
    assert guard_mcp(low, pdp) is low
    with pytest.raises(ValueError, match="already guarded"):
        guard_mcp(low, pdp)
    with pytest.raises(TypeError, match="MCPServer or low-level Server"):
        guard_mcp(object(), pdp)
    with pytest.raises(ValueError, match="no tools/call handler"):
        guard_mcp(Server("empty"), pdp)
    with pytest.raises(TypeError, match="enforces"):
        guard_mcp(MCPServer("x"), pdp, enforces="watermark")
    with pytest.raises(ValueError, match="trusted_hops"):
        guard_mcp(MCPServer("x"), pdp, trusted_hops=256)

    async def go() -> None:
        async with Client(low, mode="legacy") as c:
            assert text(await c.call_tool("anything", {}, meta=meta(world, "anything", root))) == "ok"
            res = await c.call_tool("delete_file", {"path": "/x"})
            assert res.is_error is True and text(res).startswith("Mandate denied tool:delete_file: credentials.missing")

    run(go)
    assert ran == ["anything"]


# Over streamable HTTP: the agent's credentials ride the HTTP request that carries each call.


class DPoPAuth(httpx2.Auth):
    """Fresh `Authorization: DPoP` + `DPoP` headers on every request (the proof's htu has no query)."""

    def __init__(self, agent: m.Agent) -> None:
        self.agent = agent

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        request.headers.update(self.agent.headers(request.method, str(request.url.copy_with(query=None))))
        yield request


async def over_http(files: Files, peer: str, auth: Optional[httpx2.Auth], calls: Callable[[Client], Awaitable[None]]) -> None:
    app = files.server.streamable_http_app(
        json_response=True,
        stateless_http=True,
        transport_security=TransportSecuritySettings(allowed_hosts=["api.example.com"]),
    )
    async with files.server.session_manager.run():
        transport = httpx2.ASGITransport(app, client=(peer, 40000))
        async with httpx2.AsyncClient(transport=transport, auth=auth) as http:
            async with Client(streamable_http_client(ENDPOINT, http_client=http)) as c:
                await calls(c)


def test_a_tool_call_over_http_is_decided_from_the_request_that_carried_it(world: World, root: str) -> None:
    # The request's own origin, https://api.example.com, is the decision point the tokens name.
    files = Files(m.Pdp(world.config))
    agent = m.Agent(world.travel, [root])

    async def calls(c: Client) -> None:
        res = await c.call_tool("read_file", {"path": "/srv/a.txt"})
        assert res.is_error is False, res
        assert text(res) == "contents of /srv/a.txt for alice"
        assert_tool_denied(await c.call_tool("delete_file", {"path": "/srv/a.txt"}), "delete_file", "policy.denied", files, 1)
        assert_tool_denied(await c.call_tool("send_money", {"amount": 5}), "send_money", "approval.required", files, 1)

    run(lambda: over_http(files, "10.20.0.7", DPoPAuth(agent), calls))
    assert files.decided[0] == ("read_file", "allow", [], {"method": "POST", "uri": ENDPOINT, "ip": "10.20.0.7",
                                                          "action": "tool:read_file", "resource": None})


def test_over_http_the_socket_peer_and_the_headers_decide_not_meta(world: World, root: str) -> None:
    untrusted, bare = Files(m.Pdp(world.config)), Files(m.Pdp(world.config))
    agent = m.Agent(world.travel, [root])

    async def from_untrusted_network(c: Client) -> None:
        assert_tool_denied(await c.call_tool("whoami", None), "whoami", "policy.denied", untrusted, 0)

    async def without_headers(c: Client) -> None:
        # `_meta` credentials are not read when the call came over HTTP: the request's headers are.
        res = await c.call_tool("whoami", None, meta=meta(world, "whoami", root))
        assert_tool_denied(res, "whoami", "credentials.missing", bare, 0)

    run(lambda: over_http(untrusted, "192.0.2.1", DPoPAuth(agent), from_untrusted_network))
    run(lambda: over_http(bare, "10.20.0.7", None, without_headers))
    assert untrusted.ran == [] and bare.ran == []
