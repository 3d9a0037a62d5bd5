// Hono middleware: hands the request, as received, to the core's HTTP binding (`pdp.decideHttp`),
// sets the decision as `c.get('mandate')` (its `obligations` are the app's to enforce: only those
// it declared in `enforces` can be there), and answers every deny 403 JSON with the reason code in
// `x-mandate-reason`, as `mandate serve` and the Envoy filter do.
//
// On Node (@hono/node-server) the request is read from the Node request itself (`c.env.incoming`):
// the raw target and `rawHeaders`, because `c.req.url` is already a parsed, dot-segment-removed
// URL and fetch `Headers` join repeated fields. Elsewhere (Workers, Deno, Bun) from `c.req.raw`.

import { checkHttpOptions, denyBody, denyHeaders, fetchHttpRequest, httpBinding, httpDecideInput, nodeHttpRequest } from './http.js';

/**
 * Options as `mandateExpress` (`routes`, `trustedHops`, `enforces`, `scheme`, `authority`,
 * `context`, `mintGrant`, `bodyDigest`, `now`; values or functions of `c`), plus `peer(c)`: the
 * client address where the runtime has no socket (e.g. `cf-connecting-ip` on Cloudflare). On
 * Node the socket peer is used.
 */
export function mandateHono(pdp, options = {}) {
  checkHttpOptions(options);
  const binding = httpBinding(options);
  return async function mandate(c, next) {
    const incoming = c.env?.incoming;
    const http =
      incoming && Array.isArray(incoming.rawHeaders)
        ? nodeHttpRequest(incoming, options)
        : fetchHttpRequest(c.req.raw, { ...options, peer: options.peer ? () => options.peer(c) : undefined });
    const decision = await pdp.decideHttp(await httpDecideInput(http, binding, options, c));
    c.set('mandate', decision);
    if (decision.decision !== 'allow') return c.body(JSON.stringify(denyBody(decision)), 403, denyHeaders(decision));
    await next();
  };
}
