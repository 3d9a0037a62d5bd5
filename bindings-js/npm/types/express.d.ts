import type { HttpOptions, Pdp, Decision } from './index.js';

/** The parts of an Express request the middleware reads. */
export interface ExpressRequestLike {
  method: string;
  protocol: string;
  originalUrl: string;
  ip?: string;
  headers: Record<string, string | string[] | undefined>;
  get(name: string): string | undefined;
  mandate?: Decision;
}

export interface ExpressResponseLike {
  status(code: number): { json(body: unknown): unknown };
}

export interface MandateExpressOptions<Req extends ExpressRequestLike = ExpressRequestLike> extends HttpOptions<Req> {
  /**
   * The public origin (scheme://host[:port]) DPoP proofs name. Set it in production: the default
   * (`req.protocol` + the Host header) is what the client says, so a proof made for another
   * service that accepts the same tokens could be replayed here under that service's Host.
   */
  origin?: string;
  /** The client address; default `req.ip` (mind Express's `trust proxy`). */
  ip?: (req: Req) => string | undefined;
}

/** Sets `req.mandate` to the decision; answers 403 JSON with the reason code on deny. */
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
