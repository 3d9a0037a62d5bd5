"""LangChain tools authorized by Mandate: `mandate_tool(pdp, agent, tool)` wraps a langchain-core
tool so that every invocation is decided for the agent acting for the user before the tool runs
(`input.request.action == "tool:<name>"`, `input.context.tool == {name, arguments}`), with the
agent's delegation and a fresh DPoP proof for each call. A deny raises `MandateToolDenied`, a
`ToolException` naming the reason code (with `handle_tool_error=True` the model gets that text
as the tool's output instead, langchain-core's convention for tool errors).

Run it (no LLM, no network): `python examples/python-langchain/agent_tools.py`. It mints a
throwaway deployment (bundle key, identity provider, one agent, a guardrail), then calls one
allowed and two denied tools and prints each decision.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple
from urllib.parse import quote

from langchain_core.tools import BaseTool, StructuredTool, ToolException, tool

import mandate_pdp as m

#: The decision point the delegation names (its `aud`); tools are decided as `<base>/tools/<name>`.
TOOLS = "https://tools.example.com"

Decision = Dict[str, Any]


class MandateToolDenied(ToolException):
    """Mandate denied a tool call: `code` is the first reason code, `decision` the whole deny."""

    def __init__(self, name: str, decision: Decision) -> None:
        reasons = decision.get("reasons") or [{}]
        self.code: str = reasons[0].get("code") or "internal.error"
        self.decision = decision
        message = reasons[0].get("message")
        super().__init__(f"Mandate denied tool:{name}: {self.code}" + (f" ({message})" if message else ""))


def tool_url(name: str, url_base: str = TOOLS) -> str:
    """The URL a tool call is decided against and the agent's proof names: `<base>/tools/<name>`."""
    return f"{url_base.rstrip('/')}/tools/{quote(name, safe='')}"


def mandate_tool(
    pdp: m.Pdp,
    agent: m.Agent,
    inner: BaseTool,
    *,
    url_base: str = TOOLS,
    ip: Optional[str] = None,
    context: Optional[Dict[str, Any]] = None,
    enforces: Optional[Iterable[str]] = None,
    handle_tool_error: Optional[bool] = None,
    on_decision: Optional[Callable[[str, Decision], None]] = None,
) -> StructuredTool:
    """`inner` with every invocation authorized by Mandate for `agent` (same name, description
    and arguments). `ip`: the client address the guardrails see, when there is one; `context`:
    more for the guardrails (`context.tool` is always the call's); `enforces`: obligation names
    the tool enforces (any other obligation is an `obligation.unsupported` deny); `on_decision`
    observes every decision. An error of the decision point propagates: never an allow."""
    name = inner.name
    url = tool_url(name, url_base)

    def decide_input(arguments: Dict[str, Any]) -> Dict[str, Any]:
        request: Dict[str, Any] = {"method": "POST", "uri": url, "action": f"tool:{name}"}
        if ip is not None:
            request["ip"] = ip
        inp: Dict[str, Any] = {
            "request": request,
            "credentials": agent.credentials("POST", url),  # a fresh proof: each is used once
            "context": {**(context or {}), "tool": {"name": name, "arguments": arguments}},
        }
        if enforces is not None:
            inp["enforces"] = list(enforces)
        return inp

    def verdict(decision: Decision) -> Decision:
        if on_decision is not None:
            on_decision(name, decision)
        if decision.get("decision") != "allow":
            raise MandateToolDenied(name, decision)
        return decision

    def run(**arguments: Any) -> Any:
        verdict(pdp.decide(decide_input(arguments)))
        return inner.invoke(arguments)

    async def arun(**arguments: Any) -> Any:
        verdict(await pdp.adecide(decide_input(arguments)))
        return await inner.ainvoke(arguments)

    return StructuredTool.from_function(
        func=run,
        coroutine=arun,
        name=name,
        description=inner.description,
        args_schema=inner.args_schema,
        infer_schema=False,
        return_direct=inner.return_direct,
        handle_tool_error=inner.handle_tool_error if handle_tool_error is None else handle_tool_error,
    )


# The example's tools: ordinary langchain-core tools, unaware of Mandate.


@tool
def read_file(path: str) -> str:
    """Read one of the user's files."""
    return f"(contents of {path})"


@tool
def delete_file(path: str) -> str:
    """Delete one of the user's files."""
    return f"deleted {path}"


GUARDRAIL = """
package mandate

default allow := false

allow if input.user.id == "alice"

deny contains "agents never delete files" if input.context.tool.name == "delete_file"

deny contains "only files under /home/alice/" if {
    path := input.context.tool.arguments.path
    not startswith(path, "/home/alice/")
}
"""


def demo_world(now: Optional[int] = None) -> Tuple[Dict[str, Any], Dict[str, Any], str]:
    """A throwaway deployment: `(pdp config, agent key, alice's delegation to agent:assistant)`.
    In production the bundle comes from your build pipeline (`mandate bundle sign`) and the
    delegation from your identity provider."""
    now = int(time.time()) if now is None else now
    root, idp, agent_key = m.generate_key("root-1"), m.generate_key("idp-1"), m.generate_key()
    bundle = m.mint({
        "kind": "bundle",
        "key": root,
        "contents": {
            "revision": "langchain-example-1",
            "iat": now - 60,
            "exp": now + 3600,
            "issuers": [{"iss": "https://idp.example.com", "keys": [m.public_jwk(idp)], "audiences": [TOOLS]}],
            "agents": [{
                "id": "agent:assistant",
                "owner": "team-assistant",
                "status": "active",
                "keys": [m.public_jwk(agent_key)],
                "delegators": {"users": ["alice"]},
                "ceiling": {"scopes": ["tool:*"]},
            }],
            "policies": {"guardrail.rego": GUARDRAIL},
        },
    })
    delegation = m.mint({
        "kind": "delegation",
        "key": idp,
        "claims": {
            "iss": "https://idp.example.com",
            "sub": "alice",
            "aud": [TOOLS],
            "iat": now - 5,
            "exp": now + 900,
            "jti": secrets.token_urlsafe(12),
            "scope": "tool:read_file tool:delete_file",
            "act": {"sub": "agent:assistant"},
            "cnf": {"jkt": m.thumbprint(m.public_jwk(agent_key))},
        },
    })
    return {"bundle": bundle, "trust_keys": [m.public_jwk(root)]}, agent_key, delegation


def main() -> List[Tuple[str, str, List[str]]]:
    config, agent_key, delegation = demo_world()
    pdp = m.Pdp(config)
    agent = m.Agent(agent_key, [delegation])
    decided: List[Tuple[str, str, List[str]]] = []

    def show(name: str, decision: Decision) -> None:
        decided.append((name, decision["decision"], m.reasons(decision)))
        who = decision.get("principal") or {}
        print(f"  decision: {decision['decision']} {' '.join(m.reasons(decision))}".rstrip()
              + (f" (user {who['user']}, agent {who['agent']})" if who else ""))

    tools = {t.name: mandate_tool(pdp, agent, t, on_decision=show) for t in (read_file, delete_file)}
    for name, args in (("read_file", {"path": "/home/alice/notes.md"}),
                       ("delete_file", {"path": "/home/alice/notes.md"}),
                       ("read_file", {"path": "/etc/shadow"})):
        print(f"{name}({args['path']})")
        try:
            print(f"  -> {tools[name].invoke(args)}")
        except MandateToolDenied as denied:
            print(f"  -> refused: {denied}")
    return decided


if __name__ == "__main__":
    main()
