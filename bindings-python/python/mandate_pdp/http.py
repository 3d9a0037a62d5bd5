"""HTTP plumbing shared by the ASGI middleware and the MCP guard: hand the core the request
exactly as it was received, and shape the 403 answer. What a request *is* (its route, Host,
path, credentials, client address) is decided by the core's one HTTP binding
(`Pdp.decide_http`), as in `mandate serve`, the Envoy filter and the npm package; nothing here
parses a credential header or matches a route."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

Route = Union[str, Mapping[str, str]]

INTERNAL_ERROR = "internal.error"


def _route(route: Route) -> Dict[str, str]:
    if not isinstance(route, str):
        return dict(route)
    parts = route.split()
    if len(parts) not in (3, 4) or not parts[1].startswith("/"):
        raise ValueError(
            f"route {route!r} is not 'METHOD PATH-GLOB ACTION [RESOURCE]' "
            "(e.g. 'GET /v1/secrets/* secrets:read')"
        )
    out = {"method": parts[0], "path": parts[1], "action": parts[2]}
    if len(parts) == 4:
        out["resource"] = parts[3]
    return out


def http_binding(routes: Iterable[Route] = (), trusted_hops: int = 0, unrouted: str = "deny") -> Dict[str, Any]:
    """The `binding` of an HTTP decide input: `routes` (first match wins), `trusted_hops` (how
    many proxies in front append to X-Forwarded-For; 0 uses the socket peer) and `unrouted`
    (`"deny"`, or `"guardrails"`: an unrouted request is left to the guardrails alone)."""
    if not isinstance(trusted_hops, int) or isinstance(trusted_hops, bool) or not 0 <= trusted_hops <= 255:
        raise ValueError("trusted_hops must be an integer from 0 to 255")
    if unrouted not in ("deny", "guardrails"):
        raise ValueError("unrouted must be 'deny' or 'guardrails'")
    return {"routes": [_route(r) for r in routes], "trusted_hops": trusted_hops, "unrouted": unrouted}


def reason_code(decision: Mapping[str, Any]) -> str:
    """The decision's first reason code (`internal.error` when it has none)."""
    reasons = decision.get("reasons") or []
    code = reasons[0].get("code") if reasons else None
    return _header_safe(code or INTERNAL_ERROR)


def _header_safe(value: Any) -> str:
    return "".join(c for c in str(value) if c >= " " and c != "\x7f")


def deny_body(decision: Mapping[str, Any]) -> Dict[str, Any]:
    """The JSON body of a 403, as `mandate serve`'s `/v1/check` answers it."""
    return {
        "decision": "deny",
        "decision_id": decision.get("decision_id", ""),
        "reasons": [
            {"code": r.get("code", ""), "message": r.get("message", "")} for r in decision.get("reasons") or []
        ],
    }


def deny_headers(decision: Mapping[str, Any]) -> List[tuple]:
    """The headers of a 403: JSON, `x-mandate-reason`, `x-mandate-decision-id`."""
    out = [("content-type", "application/json"), ("x-mandate-reason", reason_code(decision))]
    if decision.get("decision_id"):
        out.append(("x-mandate-decision-id", _header_safe(decision["decision_id"])))
    return out


def decide_input(
    http: Dict[str, Any],
    binding: Mapping[str, Any],
    *,
    context: Optional[Mapping[str, Any]] = None,
    mint_grant: Optional[Mapping[str, Any]] = None,
    enforces: Optional[Iterable[str]] = None,
    now: Optional[int] = None,
) -> Dict[str, Any]:
    """An HTTP decide input from the request as received and the binding."""
    out: Dict[str, Any] = {"http": http, "binding": dict(binding)}
    if context is not None:
        out["context"] = dict(context)
    if mint_grant is not None:
        out["mint_grant"] = dict(mint_grant)
    if enforces is not None:
        out["enforces"] = list(enforces)
    if now is not None:
        out["now"] = now
    return out
