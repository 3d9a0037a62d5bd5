"""The decision point: a loaded bundle, its replay store and its audit log (the native
`host-rust` DecisionPoint), with the host duties the core leaves to hosts: the clock and the
grant nonce."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any, Optional, Union

from . import _native
from ._json import Document, loads, to_bytes

ReplayStore = Union[
    _native.MemoryReplayStore,
    _native.FileReplayStore,
    _native.RedisReplayStore,
    _native.CallbackReplayStore,
]


def unix_now() -> int:
    return int(time.time())


def _prepare(doc: Document) -> bytes:
    """Supplies `now` and a `mint_grant.jti` nonce to a dict input; bytes and str pass as given."""
    if isinstance(doc, dict):
        doc = dict(doc)
        if doc.get("now") is None:
            doc["now"] = unix_now()
        grant = doc.get("mint_grant")
        if isinstance(grant, dict) and grant.get("jti") is None:
            doc["mint_grant"] = {**grant, "jti": secrets.token_urlsafe(16)}
    return to_bytes(doc)


class Pdp:
    """A decision point over the native engine.

    `config` is a load config (dict, JSON str or bytes: `bundle`, `trust_keys`, ...). A config
    that does not load gives a decision point that denies everything with the load error's
    `bundle.*` code (see `status`); it never raises for a bad bundle.

    `replay_store`: a `MemoryReplayStore` (the default, private to this Pdp),
    `FileReplayStore` or `RedisReplayStore`; one store may be shared by several Pdps.
    `audit_log`: a path; each decision is appended and synced there before it is returned.
    `verifier`: "native" (ring) or "portable" (the core's p256); the same verdicts.
    """

    def __init__(
        self,
        config: Document,
        *,
        replay_store: Optional[ReplayStore] = None,
        audit_log: Optional[str] = None,
        audit_segment_bytes: Optional[int] = None,
        verifier: str = "native",
    ) -> None:
        self._native = _native.Pdp(
            to_bytes(config), replay_store, audit_log, audit_segment_bytes, verifier
        )

    @property
    def status(self) -> dict:
        """The load status: `{"ok": True, "bundle": {...}}` or `{"ok": False, "error": {...}}`."""
        return loads(self._native.status())

    def decide(self, input: Document) -> dict:
        """Decides a decide input (`request`, `credentials`, `context`, ...), records the
        allow's use-once ids in the replay store and audits it. Never raises for a bad input
        (a deny with its code); raises `MandateError` only when the audit log cannot be
        written (the decision is withheld)."""
        return loads(self._native.decide(_prepare(input)))

    def decide_bytes(self, input: Document) -> bytes:
        """`decide`, answering the decision's canonical JSON bytes (what conformance compares)."""
        return self._native.decide(_prepare(input))

    def decide_http(self, input: Document) -> dict:
        """Decides an HTTP request as received (`http`: method, scheme, authority, path,
        headers, peer; `binding`: routes, trusted_hops) through the core's one HTTP binding,
        the one `mandate serve`, the Envoy filter and the npm package use."""
        return loads(self._native.decide_http(_prepare(input)))

    def decide_http_bytes(self, input: Document) -> bytes:
        return self._native.decide_http(_prepare(input))

    async def adecide(self, input: Document) -> dict:
        """`decide` for asyncio code: runs in a worker thread (the GIL is released meanwhile)."""
        data = _prepare(input)
        return loads(await asyncio.get_running_loop().run_in_executor(None, self._native.decide, data))

    async def adecide_http(self, input: Document) -> dict:
        """`decide_http` for asyncio code."""
        data = _prepare(input)
        return loads(
            await asyncio.get_running_loop().run_in_executor(None, self._native.decide_http, data)
        )

    def replace(self, config: Document, now: Optional[int] = None) -> dict:
        """Serves `config` only when the replacement rule allows it at `now` (not expired,
        valid now, not a rollback); raises `MandateError` with the `bundle.*` code otherwise,
        and what served keeps serving."""
        return loads(self._native.replace(to_bytes(config), unix_now() if now is None else now))

    def ping(self) -> Optional[tuple]:
        """None when the replay store answers now, else `(code, message)`."""
        return self._native.ping()

    @property
    def audit_head(self) -> Optional[tuple]:
        """The last audit record's `(seq, hash)`, when there is an audit log."""
        return self._native.audit_head()


def reasons(decision: dict) -> list:
    """The reason codes of a decision, in order."""
    return [r.get("code") for r in decision.get("reasons", [])]


__all__ = ["Pdp", "ReplayStore", "reasons", "unix_now"]

