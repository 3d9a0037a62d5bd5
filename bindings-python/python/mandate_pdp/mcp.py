"""MCP guard (the official MCP Python SDK, `mcp` 2.x): every `tools/call` of an `MCPServer` (or a
low-level `Server`) is decided by Mandate on behalf of the user before the tool runs, with the
tool's name and arguments visible to the guardrails as `input.request.action == "tool:<name>"`
and `input.context.tool`. The same guard as the npm package's `mandate-pdp/mcp`.

A call that arrived over HTTP (streamable HTTP, SSE: the SDK hands the Starlette request that
carried it to the handler) is decided through the core's HTTP binding (`Pdp.adecide_http`) from
that request as received - its Host, path, header fields and socket peer, the credentials read by
the core - with one route, any method and path, to `tool:<name>`. A call without HTTP (stdio,
in-process) presents `_meta["mandate/credentials"]` (`{"delegation": [...], "proof": ...}` or
`{"grant": ..., "proof": ...}`), its proof made for `POST https://mcp.invalid/tools/<name>`.

A deny returns an error tool result naming the reason code; the tool does not run. Obligations
are never dropped: `require_approval` is an `approval.required` deny and any obligation not named
in `enforces` an `obligation.unsupported` deny. On allow the tool runs with the decision in
`mandate_decision()` (its `obligations` are the tool's to enforce).

    server = MCPServer("files")
    guard_mcp(server, pdp)
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Union
from urllib.parse import quote

from mcp.server.lowlevel import Server
from mcp_types import CallToolResult, TextContent

from .asgi import asgi_http_request
from .http import INTERNAL_ERROR, http_binding
from .pdp import Pdp

#: Base URL of tool calls that arrive without an HTTP request (stdio, in-process transports).
DEFAULT_TOOL_BASE_URL = "https://mcp.invalid"
#: Where a call without HTTP carries its credentials.
CREDENTIALS_META_KEY = "mandate/credentials"
#: Where a denied call's result carries the decision.
DECISION_META_KEY = "mandate/decision"

_DECISION: contextvars.ContextVar[Optional[Dict[str, Any]]] = contextvars.ContextVar("mandate_decision", default=None)
_GUARDED = "__mandate_guard__"
# What JavaScript's encodeURIComponent leaves as it is (besides letters, digits and `-_.`).
_URI_COMPONENT_SAFE = "!~*'()"

Handler = Callable[[Any, Any], Awaitable[Any]]
#: A value, or a function of `(name, arguments, ctx)` that answers it.
CallOption = Union[None, Any, Callable[[str, Dict[str, Any], Any], Any]]


def tool_call_url(name: str, base_url: str = DEFAULT_TOOL_BASE_URL) -> str:
    """The URL a tool call made without HTTP is decided against (and the agent's DPoP proof names
    as `htu`): `<base_url>/tools/<name>`. `.invalid` is reserved: it says "no network location"."""
    return f"{base_url.rstrip('/')}/tools/{quote(name, safe=_URI_COMPONENT_SAFE)}"


def mandate_decision() -> Optional[Dict[str, Any]]:
    """The decision that let the tool call being run through (inside a guarded tool), else None."""
    return _DECISION.get()


@dataclass(frozen=True)
class GuardOptions:
    """The guard's options (see `guard_mcp`)."""

    base_url: str = DEFAULT_TOOL_BASE_URL
    method: str = "POST"
    uri: Union[None, str, Callable[[Any, str], str]] = None
    credentials: Optional[Callable[[Any, str], Any]] = None
    peer: Optional[Callable[[Any], Optional[str]]] = None
    resource: CallOption = None
    context: CallOption = None
    enforces: Optional[List[str]] = None
    now: Optional[Callable[[], int]] = None
    trusted_hops: int = 0
    scheme: Optional[str] = None
    authority: Optional[str] = None
    on_decision: Optional[Callable[[Dict[str, Any], str, Dict[str, Any]], None]] = None

    def __post_init__(self) -> None:
        if self.enforces is not None and (
            isinstance(self.enforces, (str, bytes)) or not all(isinstance(e, str) for e in self.enforces)
        ):
            raise TypeError("mandate-pdp: enforces must be a list of obligation names")
        http_binding((), self.trusted_hops)  # checks trusted_hops
        for name in ("credentials", "peer", "now", "on_decision"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(f"mandate-pdp: {name} must be a function")


def _computed(option: Any, *args: Any) -> Any:
    return option(*args) if callable(option) else option


def _with_common(inp: Dict[str, Any], name: str, arguments: Dict[str, Any], ctx: Any, options: GuardOptions) -> Dict[str, Any]:
    extra = _computed(options.context, name, arguments, ctx)
    inp["context"] = {**(extra or {}), "tool": {"name": name, "arguments": arguments}}
    if options.enforces is not None:
        inp["enforces"] = list(options.enforces)
    if options.now is not None:
        inp["now"] = int(options.now())
    return inp


def _meta_credentials(ctx: Any) -> Any:
    meta = getattr(ctx, "meta", None)
    if isinstance(meta, Mapping):
        return meta.get(CREDENTIALS_META_KEY, {})
    return {}


def tool_call_input(name: str, arguments: Dict[str, Any], ctx: Any, options: GuardOptions = GuardOptions()) -> Dict[str, Any]:
    """The decide input of a tool call made without HTTP (or with the `uri`/`credentials`
    options): the URI is `options.uri`, else `tool_call_url(name, options.base_url)`; the
    credentials `options.credentials(ctx, name)`, else `_meta["mandate/credentials"]`."""
    uri = options.uri(ctx, name) if callable(options.uri) else options.uri
    request: Dict[str, Any] = {
        "method": options.method,
        "uri": uri if uri is not None else tool_call_url(name, options.base_url),
        "action": f"tool:{name}",
    }
    resource = _computed(options.resource, name, arguments, ctx)
    if resource is not None:
        request["resource"] = resource
    peer = options.peer(ctx) if options.peer else None
    if peer:
        request["ip"] = peer
    credentials = options.credentials(ctx, name) if options.credentials else _meta_credentials(ctx)
    return _with_common({"request": request, "credentials": credentials}, name, arguments, ctx, options)


def tool_call_http_input(name: str, arguments: Dict[str, Any], ctx: Any, options: GuardOptions = GuardOptions()) -> Dict[str, Any]:
    """The HTTP decide input of a tool call that arrived over HTTP: the request that carried it
    (`ctx.request`, a Starlette request) as received, `options.peer(ctx)` instead of its socket
    peer when given, and one route, any method and path, to `tool:<name>`."""
    http = asgi_http_request(ctx.request.scope, scheme=options.scheme, authority=options.authority)
    peer = options.peer(ctx) if options.peer else None
    if peer:
        http["peer"] = peer
    route: Dict[str, str] = {"method": "*", "path": "*", "action": f"tool:{name}"}
    resource = _computed(options.resource, name, arguments, ctx)
    if resource is not None:
        route["resource"] = resource
    binding = http_binding([route], options.trusted_hops)
    return _with_common({"http": http, "binding": binding}, name, arguments, ctx, options)


def _over_http(ctx: Any, options: GuardOptions) -> bool:
    if options.credentials is not None or options.uri is not None:
        return False
    scope = getattr(getattr(ctx, "request", None), "scope", None)
    return isinstance(scope, Mapping) and scope.get("type") == "http"


async def decide_tool_call(pdp: Pdp, name: str, arguments: Dict[str, Any], ctx: Any, options: GuardOptions = GuardOptions()) -> Dict[str, Any]:
    """The decision on one tool call (over HTTP through the HTTP binding, else from `_meta`)."""
    if _over_http(ctx, options):
        return await pdp.adecide_http(tool_call_http_input(name, arguments, ctx, options))
    return await pdp.adecide(tool_call_input(name, arguments, ctx, options))


def denied_tool_result(name: str, decision: Mapping[str, Any]) -> CallToolResult:
    """The tool result returned instead of running the tool when Mandate denies the call: the
    reason code in the text and in `_meta["mandate/decision"]` (with every reason)."""
    all_reasons = decision.get("reasons") or []
    first = all_reasons[0] if all_reasons else {}
    code = first.get("code") or INTERNAL_ERROR
    message = first.get("message")
    text = f"Mandate denied tool:{name}: {code}" + (f" ({message})" if message else "")
    meta = {
        "decision": "deny",
        "code": code,
        "decision_id": decision.get("decision_id"),
        "reasons": [{"code": r.get("code"), "message": r.get("message")} for r in all_reasons],
    }
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True, _meta={DECISION_META_KEY: meta})


def guard_handler(pdp: Pdp, handler: Handler, options: GuardOptions = GuardOptions()) -> Handler:
    """Wraps a low-level `tools/call` handler `(ctx, params)`: each call is decided first; a deny
    answers `denied_tool_result` without calling it, an allow calls it with the decision in
    `mandate_decision()`."""
    if getattr(handler, _GUARDED, False):
        raise ValueError("mandate-pdp: this tools/call handler is already guarded (each proof is used once)")

    async def guarded(ctx: Any, params: Any) -> Any:
        name = params.name
        arguments = dict(params.arguments or {})
        decision = await decide_tool_call(pdp, name, arguments, ctx, options)
        if options.on_decision is not None:
            options.on_decision(decision, name, arguments)
        if decision.get("decision") != "allow":
            return denied_tool_result(name, decision)
        token = _DECISION.set(decision)
        try:
            return await handler(ctx, params)
        finally:
            _DECISION.reset(token)

    setattr(guarded, _GUARDED, True)
    return guarded


def _lowlevel(server: Any) -> Server:
    if isinstance(server, Server):
        return server
    # MCPServer keeps its low-level server here (the SDK's own in-process Client reads it too);
    # the one private attribute this guard touches.
    low = getattr(server, "_lowlevel_server", None)
    if not isinstance(low, Server):
        raise TypeError(
            "mandate-pdp: guard_mcp needs an mcp 2.x MCPServer or low-level Server "
            f"(got {type(server).__name__}; MCPServer without `_lowlevel_server`?)"
        )
    return low


def guard_mcp(
    server: Any,
    pdp: Pdp,
    *,
    base_url: str = DEFAULT_TOOL_BASE_URL,
    method: str = "POST",
    uri: Union[None, str, Callable[[Any, str], str]] = None,
    credentials: Optional[Callable[[Any, str], Any]] = None,
    peer: Optional[Callable[[Any], Optional[str]]] = None,
    resource: CallOption = None,
    context: CallOption = None,
    enforces: Optional[Iterable[str]] = None,
    now: Optional[Callable[[], int]] = None,
    trusted_hops: int = 0,
    scheme: Optional[str] = None,
    authority: Optional[str] = None,
    on_decision: Optional[Callable[[Dict[str, Any], str, Dict[str, Any]], None]] = None,
) -> Any:
    """Guards every tool of `server` (an `MCPServer` or a low-level `Server`): its `tools/call`
    handler is wrapped by `guard_handler`, below the SDK's middleware and params validation, so
    what is decided is what the tool runs with. Call it after the server has its `tools/call`
    handler (an `MCPServer` always has; tools may be added before or after). Returns the server.

    Options: `base_url` (calls without HTTP: `<base_url>/tools/<name>`), `method` (theirs,
    `POST`), `uri` (a URI or `(ctx, name) -> URI` instead), `credentials` (`(ctx, name) ->
    credentials` instead of `_meta`), `peer` (`(ctx) -> client address`), `resource` and
    `context` (values or `(name, arguments, ctx) -> value`; `context.tool` is always the call's),
    `enforces` (obligation names the tools enforce), `now` (a clock: seconds), and over HTTP
    `trusted_hops`, `scheme`, `authority` (as for `MandateMiddleware`). `on_decision(decision,
    name, arguments)` observes every decision."""
    options = GuardOptions(
        base_url=base_url, method=method, uri=uri, credentials=credentials, peer=peer, resource=resource,
        context=context, enforces=None if enforces is None else _names(enforces), now=now,
        trusted_hops=trusted_hops, scheme=scheme, authority=authority, on_decision=on_decision,
    )
    if not callable(getattr(pdp, "adecide", None)) or not callable(getattr(pdp, "adecide_http", None)):
        raise TypeError("mandate-pdp: pdp must be a mandate_pdp.Pdp")
    low = _lowlevel(server)
    entry = low.get_request_handler("tools/call")
    if entry is None:
        raise ValueError("mandate-pdp: the server has no tools/call handler yet; register it, then guard the server")
    low.add_request_handler("tools/call", entry.params_type, guard_handler(pdp, entry.handler, options))
    return server


def _names(enforces: Iterable[str]) -> List[str]:
    if isinstance(enforces, (str, bytes)):
        raise TypeError("mandate-pdp: enforces must be a list of obligation names, not one string")
    return list(enforces)


__all__ = [
    "CREDENTIALS_META_KEY",
    "DECISION_META_KEY",
    "DEFAULT_TOOL_BASE_URL",
    "GuardOptions",
    "decide_tool_call",
    "denied_tool_result",
    "guard_handler",
    "guard_mcp",
    "mandate_decision",
    "tool_call_http_input",
    "tool_call_input",
    "tool_call_url",
]
