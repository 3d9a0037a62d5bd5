// A throwaway deployment for the example: bundle key, identity provider, one registered agent and
// a guardrail, minted with mandate-pdp. In production the bundle comes from your build pipeline
// (`mandate bundle sign`) and the delegation from your IdP.

import { generateAgentKey, mint } from 'mandate-pdp';

const API = 'https://api.example.com';

async function issuerKey(kid) {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
  const { kty, crv, x, y, d } = await crypto.subtle.exportKey('jwk', pair.privateKey);
  return { kty, crv, x, y, d, kid };
}
const publicOf = ({ d, ...pub }) => pub;

export async function demoWorld(now = Math.floor(Date.now() / 1000)) {
  const root = await issuerKey('root-1');
  const idp = await issuerKey('idp-1');
  const agentKey = await generateAgentKey(); // non-extractable WebCrypto key
  const bundle = await mint({
    kind: 'bundle',
    key: root,
    contents: {
      revision: 'example-1',
      iat: now - 60,
      exp: now + 3600,
      issuers: [{ iss: 'https://idp.example.com', keys: [publicOf(idp)], audiences: [API] }],
      agents: [
        {
          id: 'agent:travel-booker',
          owner: 'team-travel',
          status: 'active',
          keys: [agentKey.publicJwk],
          delegators: { users: ['alice'] },
          ceiling: { scopes: ['trips:read', 'trips:write'] },
        },
      ],
      policies: {
        'guardrail.rego': `package mandate
default allow := false
allow if input.user.id == "alice"
deny contains "bookings over 1000 need a person" if to_number(input.context.amount) > 1000
`,
      },
    },
  });
  const jkt = await thumbprint(agentKey.publicJwk);
  const delegation = await mint({
    kind: 'delegation',
    key: idp,
    claims: {
      iss: 'https://idp.example.com',
      sub: 'alice',
      aud: API,
      iat: now - 5,
      exp: now + 900,
      jti: crypto.randomUUID(),
      scope: 'trips:read trips:write',
      act: { sub: 'agent:travel-booker' },
      cnf: { jkt },
    },
  });
  // `audiences`: this decision point's name, the `aud` its tokens carry. Without it the request's
  // own origin is its name, and this demo serves on a loopback port.
  return { config: { bundle, trust_keys: [publicOf(root)], audiences: [API] }, agentKey, delegation };
}

async function thumbprint({ crv, kty, x, y }) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify({ crv, kty, x, y })));
  return Buffer.from(digest).toString('base64url');
}
