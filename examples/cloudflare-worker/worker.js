// Cloudflare Worker that protects an upstream API with Mandate: every request must carry a user's delegation + the agent's DPoP proof (or an ephemeral grant); denials answer 403 JSON with the reason code; use-once jtis go to a Durable Object shared by every node. Run locally: `bash scripts/build-js.sh && MANDATE_CONFIG="$(cat load-config.json)" PUBLIC_ORIGIN=https://api.example.com npx workerd serve examples/cloudflare-worker/config.capnp`; tested by `bash scripts/test-js.sh`.

import { DurableObjectReplayStore, Pdp, authorizeRequest, denyResponse } from 'mandate-pdp';

// The Durable Object class must be exported by the Worker's main module.
export { ReplayDurableObject } from 'mandate-pdp';

// Credentials headers never reach the upstream: it sees who is acting instead.
const CREDENTIAL_HEADERS = ['authorization', 'dpop', 'mandate-chain'];

// 1. One decision point per isolate: the bundle is verified and its policies compiled once.
let decisionPoint;
function pdpFor(env) {
  decisionPoint ??= Pdp.load(env.MANDATE_CONFIG, {
    replayStore: new DurableObjectReplayStore({ namespace: env.REPLAY }),
  });
  return decisionPoint;
}

// 2. What requests ask to do, in the vocabulary of the delegations' scopes: the core matches these
//    on the normalized path (the same binding as `mandate serve --route` and the Envoy filter).
const ROUTES = ['GET /v1/secrets/* secrets:read', 'HEAD /v1/secrets/* secrets:read', '* /v1/secrets/* secrets:write'];

// The public origin, when the Worker sits behind another hop (e.g. several nodes behind one name):
// TLS ends in front of it (scheme), and requests must name that host (authority: any other Host
// is a request.invalid deny).
function publicOrigin(env) {
  if (!env.PUBLIC_ORIGIN) return {};
  const url = new URL(env.PUBLIC_ORIGIN);
  return { scheme: url.protocol.slice(0, -1), authority: url.host };
}

export default {
  async fetch(request, env) {
    const pdp = await pdpFor(env);

    // 3. Decide: the core reads the request as received (method, Host, path, every header field:
    //    the credentials), the client address is the one Cloudflare vouches for.
    const decision = await authorizeRequest(pdp, request, {
      routes: ROUTES,
      peer: (r) => r.headers.get('cf-connecting-ip') ?? undefined,
      ...publicOrigin(env),
    });
    if (decision.decision !== 'allow') return denyResponse(decision);

    // 4. Forward to the upstream with the principal instead of the credentials.
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    for (const h of CREDENTIAL_HEADERS) headers.delete(h);
    headers.set('mandate-agent', decision.principal.agent);
    headers.set('mandate-user', decision.principal.user);
    headers.set('mandate-decision-id', decision.decision_id);
    const upstream = new Request(`${env.UPSTREAM_ORIGIN}${url.pathname}${url.search}`, {
      method: request.method,
      headers,
      body: request.body,
    });
    return env.UPSTREAM.fetch(upstream);
  },
};
