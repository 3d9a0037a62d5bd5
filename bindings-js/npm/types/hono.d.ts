import type { HttpOptions, Pdp } from './index.js';

/** The parts of a Hono context the middleware uses. */
export interface HonoContextLike {
  req: { method: string; url: string; header(name: string): string | undefined };
  set(key: 'mandate', value: import('./formats.js').Decision): void;
  json(body: unknown, status?: number): Response;
}

export interface MandateHonoOptions<C extends HonoContextLike = HonoContextLike> extends HttpOptions<C> {
  /** The client address (Hono has no portable one). */
  ip?: (c: C) => string | undefined;
  /**
   * The public URL. On Node servers `c.req.url` is built from the client's Host header: fix the
   * origin here in production (see MandateExpressOptions.origin).
   */
  url?: (c: C) => string;
}

/** Sets `c.get('mandate')` to the decision; answers 403 JSON with the reason code on deny. */
export declare function mandateHono<C extends HonoContextLike = HonoContextLike>(
  pdp: Pdp,
  options?: MandateHonoOptions<C>,
): (c: C, next: () => Promise<void>) => Promise<Response | void>;
