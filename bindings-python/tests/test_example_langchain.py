"""The LangChain example (examples/python-langchain/agent_tools.py): its `mandate_tool` wrapper
decides every invocation of a langchain-core tool for the agent acting for alice. Allowed calls
return the tool's value; denied calls raise a `ToolException` naming the reason code (or, with
`handle_tool_error`, answer it as the tool's error output) and never run the tool; each call
presents a fresh proof; and the script itself runs."""

from __future__ import annotations

import asyncio
import importlib.util
import pathlib
import subprocess
import sys
from types import ModuleType
from typing import Any, Dict, List, Tuple

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, ToolException, tool

import mandate_pdp as m

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python-langchain" / "agent_tools.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agent_tools_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ex = load_example()


class Setup:
    def __init__(self, **options: Any) -> None:
        config, key, delegation = ex.demo_world()
        self.pdp = m.Pdp(config)
        self.agent = m.Agent(key, [delegation])
        self.ran: List[Tuple[str, str]] = []
        self.decided: List[Tuple[str, str, List[str]]] = []
        ran = self.ran

        @tool
        def read_file(path: str) -> str:
            """Read one of the user's files."""
            ran.append(("read_file", path))
            return f"(contents of {path})"

        @tool
        def delete_file(path: str) -> str:
            """Delete one of the user's files."""
            ran.append(("delete_file", path))
            return "deleted"

        @tool
        def send_email(to: str) -> str:
            """Not delegated to the agent."""
            ran.append(("send_email", to))
            return "sent"

        def record(name: str, d: Dict[str, Any]) -> None:
            self.decided.append((name, d["decision"], m.reasons(d)))

        self.tools: Dict[str, BaseTool] = {
            t.name: ex.mandate_tool(self.pdp, self.agent, t, on_decision=record, **options)
            for t in (read_file, delete_file, send_email)
        }


def test_an_allowed_tool_returns_its_value_and_a_second_call_gets_a_fresh_proof() -> None:
    s = Setup()
    read = s.tools["read_file"]
    assert read.name == "read_file" and read.description == "Read one of the user's files."
    assert read.invoke({"path": "/home/alice/notes.md"}) == "(contents of /home/alice/notes.md)"
    assert read.invoke({"path": "/home/alice/todo.md"}) == "(contents of /home/alice/todo.md)"
    assert s.decided == [("read_file", "allow", []), ("read_file", "allow", [])]
    assert s.ran == [("read_file", "/home/alice/notes.md"), ("read_file", "/home/alice/todo.md")]


def test_a_denied_tool_raises_a_tool_exception_naming_the_code_and_does_not_run() -> None:
    s = Setup()
    with pytest.raises(ex.MandateToolDenied) as e:
        s.tools["delete_file"].invoke({"path": "/home/alice/notes.md"})
    assert isinstance(e.value, ToolException)
    assert e.value.code == "policy.denied" and e.value.decision["decision"] == "deny"
    assert str(e.value).startswith("Mandate denied tool:delete_file: policy.denied")
    # The guardrail reads the call's arguments too.
    with pytest.raises(ex.MandateToolDenied) as e:
        s.tools["read_file"].invoke({"path": "/etc/shadow"})
    assert e.value.code == "policy.denied" and "only files under /home/alice/" in str(e.value)
    # A tool the delegation does not name.
    with pytest.raises(ex.MandateToolDenied) as e:
        s.tools["send_email"].invoke({"to": "mallory@example.com"})
    assert e.value.code == "delegation.scope_insufficient"
    assert s.decided == [
        ("delete_file", "deny", ["policy.denied"]),
        ("read_file", "deny", ["policy.denied"]),
        ("send_email", "deny", ["delegation.scope_insufficient"]),
    ]
    assert s.ran == []


def test_with_handle_tool_error_the_denial_is_the_tools_error_output() -> None:
    s = Setup(handle_tool_error=True)
    out = s.tools["delete_file"].invoke({"path": "/home/alice/a"})
    assert out.startswith("Mandate denied tool:delete_file: policy.denied")
    msg = s.tools["delete_file"].invoke(
        {"type": "tool_call", "name": "delete_file", "args": {"path": "/home/alice/a"}, "id": "call-1"}
    )
    assert isinstance(msg, ToolMessage) and msg.status == "error" and "policy.denied" in msg.content
    ok = s.tools["read_file"].invoke({"type": "tool_call", "name": "read_file", "args": {"path": "/home/alice/a"}, "id": "call-2"})
    assert isinstance(ok, ToolMessage) and ok.status == "success" and ok.content == "(contents of /home/alice/a)"
    assert [d[1:] for d in s.decided] == [("deny", ["policy.denied"]), ("deny", ["policy.denied"]), ("allow", [])]
    assert s.ran == [("read_file", "/home/alice/a")]


def test_async_invocations_are_decided_too() -> None:
    s = Setup()

    async def go() -> None:
        assert await s.tools["read_file"].ainvoke({"path": "/home/alice/a"}) == "(contents of /home/alice/a)"
        with pytest.raises(ex.MandateToolDenied) as e:
            await s.tools["delete_file"].ainvoke({"path": "/home/alice/a"})
        assert e.value.code == "policy.denied"

    asyncio.run(go())
    assert s.decided == [("read_file", "allow", []), ("delete_file", "deny", ["policy.denied"])]
    assert s.ran == [("read_file", "/home/alice/a")]


def test_a_replayed_proof_is_refused() -> None:
    s = Setup()
    url = ex.tool_url("read_file")
    creds = s.agent.credentials("POST", url)
    inp = {"request": {"method": "POST", "uri": url, "action": "tool:read_file"}, "credentials": creds,
           "context": {"tool": {"name": "read_file", "arguments": {"path": "/home/alice/a"}}}}
    assert [s.pdp.decide(inp)["decision"], *m.reasons(s.pdp.decide(inp))] == ["allow", "replay.detected"]


def test_the_example_runs() -> None:
    out = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=True).stdout
    assert "decision: allow (user alice, agent agent:assistant)" in out
    assert "refused: Mandate denied tool:delete_file: policy.denied" in out
    assert "refused: Mandate denied tool:read_file: policy.denied" in out
    assert out.count("decision: ") == 3
