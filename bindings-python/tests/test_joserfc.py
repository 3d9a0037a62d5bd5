"""Interop with an ordinary JOSE library (joserfc): tokens and proofs joserfc signs are accepted
by Mandate, and every token Mandate mints (delegation, sub-delegation, proof, grant, bundle)
verifies under joserfc with the signer's public key."""

from __future__ import annotations

import base64
import hashlib
import secrets

from joserfc import jws, jwt
from joserfc.jwk import ECKey

import mandate_pdp as m
from world import API, IDP, NOW, make_world

URL = f"{API}/v1/secrets/db"


def ath(token: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()


def joserfc_delegation(world, **claims) -> str:
    body = {
        "iss": IDP, "sub": "alice", "aud": [API], "iat": NOW - 60, "exp": NOW + 3600,
        "jti": f"dlg-{secrets.token_hex(6)}", "scope": "secrets:read", "act": {"sub": "agent:travel"},
        "cnf": {"jkt": m.thumbprint(world.travel)}, **claims,
    }
    return jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": "idp-1"}, body, ECKey.import_key(world.idp))


def joserfc_proof(world, token: str, **claims) -> str:
    body = {"htm": "GET", "htu": URL, "iat": NOW, "jti": secrets.token_urlsafe(12), "ath": ath(token), **claims}
    header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": m.public_jwk({**world.travel, "kid": None})}
    return jwt.encode(header, body, ECKey.import_key(world.travel))


def decide(pdp, token: str, proof: str) -> list:
    d = pdp.decide({"now": NOW, "request": {"method": "GET", "uri": URL, "ip": "10.20.0.7", "action": "secrets:read"},
                    "credentials": {"delegation": [token], "proof": proof}})
    return [d["decision"], *m.reasons(d)]


def test_a_joserfc_delegation_and_proof_are_allowed():
    world = make_world()
    pdp = m.Pdp(world.config)
    token = joserfc_delegation(world)
    assert decide(pdp, token, joserfc_proof(world, token)) == ["allow"]
    # joserfc's proof over Mandate's token, and Mandate's proof over joserfc's token.
    ours = world.delegate(scope="secrets:read")
    assert decide(pdp, ours, joserfc_proof(world, ours)) == ["allow"]
    assert decide(pdp, token, m.create_proof(world.travel, "GET", URL, token=token, now=NOW)) == ["allow"]


def test_joserfc_tokens_that_break_the_rules_are_denied_with_their_codes():
    world = make_world()
    pdp = m.Pdp(world.config)
    expired = joserfc_delegation(world, iat=NOW - 7200, exp=NOW - 3600)
    assert decide(pdp, expired, joserfc_proof(world, expired)) == ["deny", "token.expired"]
    token = joserfc_delegation(world)
    assert decide(pdp, token, joserfc_proof(world, token, htm="POST")) == ["deny", "proof.method_mismatch"]
    assert decide(pdp, token, joserfc_proof(world, token, ath=ath("another token"))) == ["deny", "proof.token_mismatch"]
    # Signed by the agent's key but claiming the IdP's kid: not the IdP's signature.
    forged = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": "idp-1"},
                        jwt.decode(token, ECKey.import_key(world.idp)).claims, ECKey.import_key(world.travel))
    assert decide(pdp, forged, joserfc_proof(world, forged)) == ["deny", "token.signature_invalid"]


def verify(token: str, jwk: dict) -> dict:
    return jwt.decode(token, ECKey.import_key(m.public_jwk(jwk)), algorithms=["ES256"]).claims


def test_mandates_tokens_verify_under_joserfc():
    world = make_world()
    token = world.delegate()
    assert verify(token, world.idp)["act"] == {"sub": "agent:travel"}
    proof = m.create_proof(world.travel, "GET", URL, token=token, now=NOW, nonce="n-1")
    obj = jws.deserialize_compact(proof, ECKey.import_key(m.public_jwk(world.travel)), algorithms=["ES256"])
    assert obj.protected["typ"] == "dpop+jwt" and obj.protected["alg"] == "ES256"
    claims = verify(proof, world.travel)
    assert claims["ath"] == ath(token) and claims["nonce"] == "n-1" and claims["htu"] == URL
    hop = m.create_subdelegation(world.travel, token, "agent:helper", world.helper, "secrets:read", now=NOW)
    assert verify(hop, world.travel)["act"] == {"sub": "agent:helper", "act": {"sub": "agent:travel"}}
    assert verify(world.bundle, world.root)["revision"] == "test-1"
    pdp = m.Pdp(world.config)
    d = pdp.decide({**world.input(), "mint_grant": {"aud": API, "ttl": 30}})
    assert d["decision"] == "allow", d["reasons"]
    grant = verify(d["grant"], world.grant_key)
    assert grant["sub"] == "alice" and grant["cnf"]["jkt"] == m.thumbprint(world.travel)
