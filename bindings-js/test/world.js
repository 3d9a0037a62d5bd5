// A small Mandate deployment for tests: a bundle key, an IdP, a decision point with a grant key,
// three registered agents and a guardrail, all minted through the package (the core's mint for
// JWKs, WebCrypto for CryptoKeys). Fixed `NOW` keeps every decision reproducible.

import { createProof, generateAgentKey, mint, Pdp } from 'mandate-pdp';

export const NOW = 1767225600;
export const API = 'https://api.example.com';
export const IDP = 'https://idp.example.com';
export const PDP_ISS = 'https://pdp.example.com';

export const GUARDRAIL = `
package mandate

default allow := false

allow if input.user.id == "alice"

deny contains "untrusted network" if {
    is_string(input.request.ip)
    not net.cidr_contains("10.20.0.0/16", input.request.ip)
}

deny contains "delete_file is never allowed for agents" if input.context.tool.name == "delete_file"

obligations := {"require_approval": true} if input.request.action == "payments:send"

obligations := {"watermark": input.user.id} if input.context.export == true

obligations := {"require_approval": true} if input.context.tool.name == "send_money"
`;

async function privateJwk(kid) {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const { kty, crv, x, y, d } = await crypto.subtle.exportKey('jwk', pair.privateKey);
  return { kty, crv, x, y, d, kid };
}

export function publicOf({ kty, crv, x, y, kid }) {
  return kid ? { kty, crv, x, y, kid } : { kty, crv, x, y };
}

/** Builds keys, registry and a signed bundle. `overrides` patches bundle contents. */
export async function makeWorld(overrides = {}, { now = NOW } = {}) {
  const root = await privateJwk('root-1');
  const idp = await privateJwk('idp-1');
  const grantKey = await privateJwk('pdp-1');
  // agent:travel holds a non-extractable WebCrypto key; agent:helper a private JWK.
  const travel = await generateAgentKey();
  const helper = await privateJwk(undefined);
  const idle = await generateAgentKey();
  const contents = {
    revision: 'test-1',
    iat: now - 3600,
    exp: now + 86400,
    issuers: [
      { iss: IDP, keys: [publicOf(idp)], audiences: [API] },
      { iss: PDP_ISS, keys: [publicOf(grantKey)], audiences: [API], typ: ['mandate-grant+jwt'] },
    ],
    agents: [
      {
        id: 'agent:travel',
        owner: 'team-travel',
        status: 'active',
        keys: [travel.publicJwk],
        delegators: { users: ['alice', 'bob'] },
        ceiling: { scopes: ['secrets:read', 'payments:send', 'tool:*'] },
        may_delegate_to: ['agent:helper'],
        labels: { vendor: 'acme', risk: 'low' },
      },
      {
        id: 'agent:helper',
        owner: 'team-travel',
        status: 'active',
        keys: [publicOf(helper)],
        delegators: { agents: ['agent:travel'] },
        ceiling: { scopes: ['secrets:read'] },
      },
      {
        id: 'agent:idle',
        owner: 'team-travel',
        status: 'suspended',
        keys: [idle.publicJwk],
        delegators: { users: ['alice'] },
        ceiling: { scopes: ['secrets:read'] },
      },
    ],
    policies: { 'guardrail.rego': GUARDRAIL },
    settings: { grant_issuer: PDP_ISS, grant_max_ttl: 60, proof_max_age: 60, clock_skew: 30 },
    ...overrides,
  };
  const bundle = await mint({ kind: 'bundle', key: root, contents });
  const config = { bundle, trust_keys: [publicOf(root)], grant_key: grantKey };
  return { now, root, idp, grantKey, travel, helper, idle, contents, bundle, config };
}

/** A person's delegation to an agent, signed by the IdP. */
export async function delegate(world, { sub = 'alice', agent = 'agent:travel', agentJwk, scope = 'secrets:read tool:*', iat = world.now - 60, exp = world.now + 3600, jti, aud = [API], extra = {} } = {}) {
  const jwk = agentJwk ?? world.travel.publicJwk;
  const jkt = await thumbprint(jwk);
  const claims = { iss: IDP, sub, aud, iat, exp, jti: jti ?? `dlg-${Math.random().toString(36).slice(2)}`, scope, act: { sub: agent }, cnf: { jkt }, ...extra };
  return mint({ kind: 'delegation', key: world.idp, claims });
}

export async function thumbprint({ crv, kty, x, y }) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify({ crv, kty, x, y })));
  return Buffer.from(digest).toString('base64url');
}

/** A decide input for GET `url` presented by agent:travel with a fresh proof. */
export async function travelInput(world, { token, url = `${API}/v1/secrets/db`, method = 'GET', action = 'secrets:read', ip = '10.20.0.7', now = world.now, proofNow = now, jti, context, mint_grant } = {}) {
  const tok = token ?? (await delegate(world));
  const proof = await createProof({ key: world.travel, method, url, token: tok, now: proofNow, jti });
  const input = { now, request: { method, uri: url, ip, action }, credentials: { delegation: [tok], proof } };
  if (context) input.context = context;
  if (mint_grant) input.mint_grant = mint_grant;
  return input;
}

export async function loadPdp(world, options) {
  return Pdp.load(world.config, options);
}

/** Decision codes, for assertions. */
export function codes(decision) {
  return decision.reasons.map((r) => r.code);
}
