"""The agent side: keys, RFC 9449 DPoP proofs (with the server's nonce when it asks for one),
sub-delegations, and the headers an agent sends. Every token is minted by the core, the code
every Mandate host and the CLI mint with."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any, Dict, List, Mapping, Optional, Sequence
from urllib.parse import urlsplit

from . import _native
from ._json import dumps
from .pdp import unix_now


def generate_key(kid: Optional[str] = None) -> dict:
    """A fresh P-256 private JWK (from the OS's randomness)."""
    return json.loads(_native.generate_key(kid))


def public_jwk(key: Mapping[str, Any]) -> dict:
    """The public members of a P-256 JWK (`kty crv x y`, and `kid` when it has one)."""
    out = {"kty": "EC", "crv": "P-256", "x": key["x"], "y": key["y"]}
    if key.get("kid"):
        out["kid"] = key["kid"]
    return out


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 thumbprint of a P-256 JWK: what a token's `cnf.jkt` names."""
    return _native.thumbprint(dumps(dict(jwk)))


def mint(input: Mapping[str, Any]) -> str:
    """Mints a token through the core: `{"kind": "bundle" | "delegation" | "subdelegation" |
    "proof" | "grant", "key": <private JWK>, ...}` (docs/formats.md)."""
    return _native.mint(dumps(dict(input)))


def body_digest(body: bytes) -> str:
    """base64url SHA-256 of a request body: a proof's and a decide input's `body_digest`."""
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()


def new_jti() -> str:
    return secrets.token_urlsafe(24)


def create_proof(
    key: Mapping[str, Any],
    method: str,
    url: str,
    *,
    token: Optional[str] = None,
    now: Optional[int] = None,
    jti: Optional[str] = None,
    body_digest: Optional[str] = None,
    nonce: Optional[str] = None,
) -> str:
    """An RFC 9449 DPoP proof for one request, signed with the agent's private JWK. `token` is
    the presented (last) delegation token (its hash becomes `ath`); `nonce` the server's
    `DPoP-Nonce` when it asked for one. The query and fragment are dropped from `htu`."""
    proof: Dict[str, Any] = {
        "htm": method.upper(),
        "htu": url,
        "iat": unix_now() if now is None else now,
        "jti": jti or new_jti(),
    }
    if token is not None:
        proof["token"] = token
    if body_digest is not None:
        proof["body_digest"] = body_digest
    if nonce is not None:
        proof["nonce"] = nonce
    return mint({"kind": "proof", "key": dict(key), "proof": proof})


def create_subdelegation(
    key: Mapping[str, Any],
    parent: str,
    agent: str,
    agent_key: Mapping[str, Any],
    scope: str,
    *,
    authorization_details: Optional[Sequence[Mapping[str, Any]]] = None,
    aud: Optional[Sequence[str]] = None,
    now: Optional[int] = None,
    ttl: int = 300,
    exp: Optional[int] = None,
    jti: Optional[str] = None,
) -> str:
    """A sub-delegation: the agent holding `parent` (signing with its `key`) hands a narrower
    task to `agent`, whose public key is `agent_key`. Each hop may only narrow scope, details,
    audience and lifetime; the decision point checks that."""
    iat = unix_now() if now is None else now
    hop: Dict[str, Any] = {
        "agent": agent,
        "agent_key": {k: v for k, v in public_jwk(agent_key).items() if k != "kid"},
        "scope": scope,
        "iat": iat,
        "exp": iat + ttl if exp is None else exp,
        "jti": jti or new_jti(),
    }
    if authorization_details is not None:
        hop["authorization_details"] = [dict(d) for d in authorization_details]
    if aud is not None:
        hop["aud"] = list(aud)
    return mint({"kind": "subdelegation", "key": dict(key), "parent": parent, "hop": hop})


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class Agent:
    """An agent acting for a person: its private key and its delegation chain (root token
    first). Makes the credentials of each request, fresh every time (a proof is used once),
    and remembers each server's `DPoP-Nonce` (RFC 9449 §8) for the next proof to that origin.
    """

    def __init__(self, key: Mapping[str, Any], chain: Sequence[str]) -> None:
        if not chain:
            raise ValueError("an agent needs at least one delegation token")
        self.key = dict(key)
        self.chain: List[str] = list(chain)
        self._nonces: Dict[str, str] = {}

    @property
    def token(self) -> str:
        """The token presented (the last of the chain)."""
        return self.chain[-1]

    def remember_nonce(self, url: str, headers: Mapping[str, str]) -> bool:
        """Keeps the `DPoP-Nonce` of a server's answer for the next proof to its origin;
        True when the answer carried one (retry the request with a new proof)."""
        for name, value in headers.items():
            if name.lower() == "dpop-nonce" and value:
                self._nonces[_origin(url)] = value
                return True
        return False

    def proof(self, method: str, url: str, *, body: Optional[bytes] = None, now: Optional[int] = None) -> str:
        """A fresh DPoP proof for one request (bound to `body` when given)."""
        return create_proof(
            self.key,
            method,
            url,
            token=self.token,
            now=now,
            body_digest=None if body is None else body_digest(body),
            nonce=self._nonces.get(_origin(url)),
        )

    def headers(self, method: str, url: str, *, body: Optional[bytes] = None, now: Optional[int] = None) -> Dict[str, str]:
        """The request headers: `Authorization: DPoP <token>`, `DPoP: <proof>`, and
        `Mandate-Chain` with the tokens before the last when the chain has more than one."""
        out = {"Authorization": f"DPoP {self.token}", "DPoP": self.proof(method, url, body=body, now=now)}
        if len(self.chain) > 1:
            out["Mandate-Chain"] = " ".join(self.chain[:-1])
        return out

    def credentials(self, method: str, url: str, *, body: Optional[bytes] = None, now: Optional[int] = None) -> Dict[str, Any]:
        """The `credentials` of a decide input (or of an MCP call's `_meta["mandate/credentials"]`)."""
        return {"delegation": list(self.chain), "proof": self.proof(method, url, body=body, now=now)}

    def delegate(
        self,
        agent: str,
        agent_key: Mapping[str, Any],
        scope: str,
        **options: Any,
    ) -> List[str]:
        """A sub-delegation to `agent` (public key `agent_key`), narrower than this agent's
        own: answers the sub-agent's chain, for `Agent(sub_key, chain)`."""
        hop = create_subdelegation(self.key, self.token, agent, agent_key, scope, **options)
        return [*self.chain, hop]
