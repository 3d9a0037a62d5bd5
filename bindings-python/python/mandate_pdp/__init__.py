"""Mandate for Python: authorization for AI agents acting for people.

The same engine as `mandate serve`, the npm package and the Envoy filter (the Rust core, linked
natively): delegation tokens (RFC 8693 `act`), DPoP proofs (RFC 9449), Rego guardrails, use-once
ids in a replay store, and a hash-chained audit log. Every decision is a dict with `decision`
("allow" or "deny") and `reasons`, each with a stable `code` (docs/reason-codes.md).
"""

from __future__ import annotations

from os import PathLike
from typing import Dict, Union

from . import _native
from ._native import (
    CallbackReplayStore,
    FileReplayStore,
    MandateError,
    MemoryReplayStore,
    RedisReplayStore,
)
from .agent import (
    Agent,
    body_digest,
    create_proof,
    create_subdelegation,
    generate_key,
    mint,
    public_jwk,
    thumbprint,
)
from .http import deny_body, deny_headers, http_binding, reason_code
from .pdp import Pdp, ReplayStore, reasons, unix_now

# MandateError(code, message): the stable code and the message, by name too.
MandateError.code = property(lambda self: self.args[0] if self.args else "internal.error")  # type: ignore[method-assign,assignment]
MandateError.message = property(lambda self: self.args[1] if len(self.args) > 1 else "")  # type: ignore[method-assign,assignment]

#: Every stable reason code, with what it means.
CODES: Dict[str, str] = dict(_native.codes())


def verify_audit_log(
    path: Union[str, "PathLike[str]"], key: Union[bytes, str, "PathLike[str]", None] = None
) -> tuple:
    """Verifies an audit log from its first record against its head: `(records, last_hash)`;
    raises `MandateError` (`audit.tampered`, naming the record) when it does not verify.

    A keyed log (an HMAC-SHA256 chain, `mandate serve --audit-key`) needs its chain `key`: the
    key itself as `bytes` (32 or more), or the path of its key file (hex). Without it a keyed log
    raises `audit.key_required`; a key the log is not chained under, or a key for an unkeyed
    log, `audit.key_mismatch`. Give the key whenever the log should be keyed."""
    return _native.verify_audit_log(path, key)


__all__ = [
    "CODES",
    "Agent",
    "CallbackReplayStore",
    "FileReplayStore",
    "MandateError",
    "MemoryReplayStore",
    "Pdp",
    "RedisReplayStore",
    "ReplayStore",
    "body_digest",
    "create_proof",
    "create_subdelegation",
    "deny_body",
    "deny_headers",
    "generate_key",
    "http_binding",
    "mint",
    "public_jwk",
    "reason_code",
    "reasons",
    "thumbprint",
    "unix_now",
    "verify_audit_log",
]
