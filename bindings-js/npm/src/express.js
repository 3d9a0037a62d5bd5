// Express middleware: verifies the request's Mandate credentials with the decision point,
// attaches the decision as `req.mandate`, and answers 403 JSON with the reason code on deny.

import { denyBody, httpDecideInput, resolveBodyDigest } from './http.js';

/**
 * `options.origin` fixes the public origin (scheme://host[:port]) that DPoP proofs name in `htu`;
 * set it in production, since the default (`req.protocol` + the Host header) is client-supplied.
 * `action`, `resource`, `context`, `bodyDigest`, `mintGrant` are values or functions of `req`
 * (`bodyDigest` may be async, e.g. `(req) => bodyDigest(req.body)` after `express.raw()`).
 */
export function mandateExpress(pdp, baseOptions = {}) {
  return async function mandate(req, res, next) {
    try {
      const options = await resolveBodyDigest(baseOptions, req);
      const origin = options.origin ?? `${req.protocol}://${req.get('host')}`;
      const input = httpDecideInput(
        {
          method: req.method,
          url: origin + req.originalUrl,
          ip: options.ip ? options.ip(req) : req.ip,
          getHeader: (name) => req.headers[name],
        },
        options,
        req,
      );
      const decision = await pdp.decide(input);
      req.mandate = decision;
      if (decision.decision !== 'allow') {
        res.status(403).json(denyBody(decision));
        return;
      }
      next();
    } catch (err) {
      next(err);
    }
  };
}
