"""A small Mandate deployment for the Python tests: a bundle key, an IdP, a decision point with a
grant key, three registered agents and a guardrail, minted through the package (the core's
mint). The same world as the npm package's tests (bindings-js/test/world.js): the issuer keys
are the seeded world's (tests/vectors/world.json, from `cargo run -p testkit --bin
gen-vectors`); the agents' keys are made per run. `NOW` is fixed unless a test asks for the
wall clock (servers and other processes decide with their own clock)."""

from __future__ import annotations

import json
import pathlib
import secrets
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import mandate_pdp as m

ROOT = pathlib.Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"
WORLD = json.loads((VECTORS / "world.json").read_text())

NOW = 1767225600
API = "https://api.example.com"
IDP = "https://idp.example.com"
PDP_ISS = "https://pdp.example.com"

# The guardrail of the SDK test worlds, shared with the npm suite (bindings-js/test/world.js).
GUARDRAIL = (ROOT / "tests" / "sdk-world" / "guardrail.rego").read_text()


def seeded(name: str, kid: Optional[str] = None) -> Dict[str, str]:
    """The seeded world's private JWK `name`, with `kid` if given."""
    p = WORLD["keys"][name]["private"]
    key = {k: p[k] for k in ("kty", "crv", "x", "y", "d")}
    if kid:
        key["kid"] = kid
    return key


@dataclass
class World:
    now: int
    root: Dict[str, str]
    idp: Dict[str, str]
    grant_key: Dict[str, str]
    travel: Dict[str, str]
    helper: Dict[str, str]
    idle: Dict[str, str]
    contents: Dict[str, Any]
    bundle: str
    config: Dict[str, Any] = field(default_factory=dict)

    def delegate(
        self,
        sub: str = "alice",
        agent: str = "agent:travel",
        agent_key: Optional[Dict[str, str]] = None,
        scope: str = "secrets:read tool:*",
        iat: Optional[int] = None,
        exp: Optional[int] = None,
        aud: Optional[List[str]] = None,
        **extra: Any,
    ) -> str:
        """A person's delegation to an agent, signed by the IdP."""
        jwk = agent_key or self.travel
        claims = {
            "iss": IDP,
            "sub": sub,
            "aud": aud or [API],
            "iat": self.now - 60 if iat is None else iat,
            "exp": self.now + 3600 if exp is None else exp,
            "jti": f"dlg-{secrets.token_hex(8)}",
            "scope": scope,
            "act": {"sub": agent},
            "cnf": {"jkt": m.thumbprint(jwk)},
            **extra,
        }
        return m.mint({"kind": "delegation", "key": self.idp, "claims": claims})

    def input(
        self,
        url: str = f"{API}/v1/secrets/db",
        method: str = "GET",
        action: str = "secrets:read",
        ip: str = "10.20.0.7",
        token: Optional[str] = None,
        proof_now: Optional[int] = None,
        **extra: Any,
    ) -> Dict[str, Any]:
        """A decide input for `method url` presented by agent:travel with a fresh proof."""
        tok = token or self.delegate()
        proof = m.create_proof(self.travel, method, url, token=tok, now=self.now if proof_now is None else proof_now)
        return {
            "now": self.now,
            "request": {"method": method, "uri": url, "ip": ip, "action": action},
            "credentials": {"delegation": [tok], "proof": proof},
            **extra,
        }


def make_world(now: int = NOW, signer: str = "root", **overrides: Any) -> World:
    """Keys, registry and a signed bundle; `overrides` patch the bundle contents."""
    root = seeded(signer, "root-1")
    idp = seeded("idp", "idp-1")
    grant_key = seeded("pdp", "pdp-1")
    travel = m.generate_key()
    helper = seeded("summarizer")
    idle = m.generate_key()
    contents: Dict[str, Any] = {
        "revision": "test-1",
        "iat": now - 3600,
        "exp": now + 86400,
        "issuers": [
            {"iss": IDP, "keys": [m.public_jwk(idp)], "audiences": [API]},
            {"iss": PDP_ISS, "keys": [m.public_jwk(grant_key)], "audiences": [API], "typ": ["mandate-grant+jwt"]},
        ],
        "agents": [
            {
                "id": "agent:travel",
                "owner": "team-travel",
                "status": "active",
                "keys": [m.public_jwk(travel)],
                "delegators": {"users": ["alice", "bob"]},
                "ceiling": {"scopes": ["secrets:read", "payments:send", "tool:*"]},
                "may_delegate_to": ["agent:helper"],
                "labels": {"vendor": "acme", "risk": "low"},
            },
            {
                "id": "agent:helper",
                "owner": "team-travel",
                "status": "active",
                "keys": [m.public_jwk(helper)],
                "delegators": {"agents": ["agent:travel"]},
                "ceiling": {"scopes": ["secrets:read"]},
            },
            {
                "id": "agent:idle",
                "owner": "team-travel",
                "status": "suspended",
                "keys": [m.public_jwk(idle)],
                "delegators": {"users": ["alice"]},
                "ceiling": {"scopes": ["secrets:read"]},
            },
        ],
        "policies": {"guardrail.rego": GUARDRAIL},
        "settings": {"grant_issuer": PDP_ISS, "grant_max_ttl": 60, "proof_max_age": 60, "clock_skew": 30},
        **overrides,
    }
    bundle = m.mint({"kind": "bundle", "key": root, "contents": contents})
    world = World(now, root, idp, grant_key, travel, helper, idle, contents, bundle)
    world.config = {"bundle": bundle, "trust_keys": [m.public_jwk(root)], "grant_key": grant_key}
    return world
