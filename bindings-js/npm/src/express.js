// Express middleware: hands the request, exactly as Node received it, to the core's HTTP binding
// (`pdp.decideHttp`), attaches the decision as `req.mandate` and `res.locals.mandate` (its
// `obligations` are the app's to enforce: only those it declared in `enforces` can be there), and
// answers every deny 403 JSON with the reason code in `x-mandate-reason`, as `mandate serve` and
// the Envoy filter do.

import { checkHttpOptions, denyBody, denyHeaders, httpBinding, httpDecideInput, nodeHttpRequest } from './http.js';

/**
 * Options: `routes` (`"METHOD PATH-GLOB ACTION [RESOURCE]"` or objects; the core matches them on
 * the normalized path), `trustedHops` (default 0: the socket peer is the client; N: the Nth
 * X-Forwarded-For entry from the right — never `req.ip`, see the README), `enforces` (obligation
 * names the app enforces), `scheme` (`https` when TLS ends at a proxy in front; default the
 * socket's), `authority` (pins the host; the Host header must agree), `context`, `mintGrant`,
 * `bodyDigest` (values or functions of `req`; `bodyDigest` may be async, e.g.
 * `(req) => bodyDigest(req.body)` after `express.raw()`), `now` (a clock in seconds).
 */
export function mandateExpress(pdp, options = {}) {
  checkHttpOptions(options);
  const binding = httpBinding(options);
  return async function mandate(req, res, next) {
    try {
      const http = nodeHttpRequest(req, options);
      const decision = await pdp.decideHttp(await httpDecideInput(http, binding, options, req));
      req.mandate = decision;
      if (res.locals) res.locals.mandate = decision;
      if (decision.decision !== 'allow') {
        res.writeHead(403, denyHeaders(decision));
        res.end(JSON.stringify(denyBody(decision)));
        return;
      }
      next();
    } catch (err) {
      next(err);
    }
  };
}
