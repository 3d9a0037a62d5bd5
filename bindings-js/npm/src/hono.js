// Hono middleware: verifies the request's Mandate credentials with the decision point, sets the
// decision as `c.get('mandate')`, and answers 403 JSON with the reason code on deny.

import { denyBody, httpDecideInput, resolveBodyDigest } from './http.js';

/**
 * `options.ip(c)` supplies the client address (Hono has no portable one: e.g. `getConnInfo` on
 * Node, the `cf-connecting-ip` header on Cloudflare). `options.url(c)` overrides the public URL.
 * `action`, `resource`, `context`, `bodyDigest`, `mintGrant` are values or functions of `c`
 * (`bodyDigest` may be async, e.g. `async (c) => bodyDigest(await c.req.arrayBuffer())`).
 */
export function mandateHono(pdp, baseOptions = {}) {
  return async function mandate(c, next) {
    const options = await resolveBodyDigest(baseOptions, c);
    const input = httpDecideInput(
      {
        method: c.req.method,
        url: options.url ? options.url(c) : c.req.url,
        ip: options.ip ? options.ip(c) : undefined,
        getHeader: (name) => c.req.header(name),
      },
      options,
      c,
    );
    const decision = await pdp.decide(input);
    c.set('mandate', decision);
    if (decision.decision !== 'allow') return c.json(denyBody(decision), 403);
    await next();
  };
}
