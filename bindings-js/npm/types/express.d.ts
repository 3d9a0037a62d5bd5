import type { HttpOptions, Pdp, Decision } from './index.js';

/** The parts of an Express request the middleware reads: the request as Node received it. */
export interface ExpressRequestLike {
  method: string;
  /** The request target as received (Express keeps it while routers rewrite `url`). */
  originalUrl: string;
  url?: string;
  /** Every header field in order, repeats kept (`req.headers` joins or drops them). */
  rawHeaders: string[];
  /** The socket: its peer is the client unless `trustedHops` says otherwise. */
  socket: { remoteAddress?: string; encrypted?: boolean };
  httpVersionMajor?: number;
  mandate?: Decision;
}

export interface ExpressResponseLike {
  locals?: Record<string, unknown>;
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body: string): unknown;
}

/**
 * Options: see `HttpOptions` (`routes`, `trustedHops`, `enforces`, `scheme`, `authority`,
 * `context`, `mintGrant`, `bodyDigest`, `now`). The old `action`, `resource`, `ip` and `origin`
 * options are refused (TypeError): the core's binding replaced them.
 */
export type MandateExpressOptions<Req extends ExpressRequestLike = ExpressRequestLike> = HttpOptions<Req>;

/**
 * Sets `req.mandate` and `res.locals.mandate` to the decision (its `obligations` are the app's to
 * enforce); answers every deny 403 JSON with the reason code in `x-mandate-reason`.
 */
export declare function mandateExpress<Req extends ExpressRequestLike = ExpressRequestLike>(
  pdp: Pdp,
  options?: MandateExpressOptions<Req>,
): (req: Req, res: ExpressResponseLike, next: (err?: unknown) => void) => Promise<void>;

declare global {
  namespace Express {
    interface Request {
      /** The Mandate decision, set by mandateExpress. */
      mandate?: import('./formats.js').Decision;
    }
  }
}
