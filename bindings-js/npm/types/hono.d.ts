import type { HttpOptions, Pdp } from './index.js';

/** The parts of a Hono context the middleware uses. */
export interface HonoContextLike {
  req: { raw: Request; header(name: string): string | undefined };
  /** On @hono/node-server: the Node request, read as received (raw target, `rawHeaders`, socket peer). */
  env?: { incoming?: { method?: string; url?: string; rawHeaders: string[]; socket?: { remoteAddress?: string; encrypted?: boolean } } } | unknown;
  set(key: 'mandate', value: import('./formats.js').Decision): void;
  body(body: string, status: number, headers: Record<string, string>): Response;
}

export interface MandateHonoOptions<C extends HonoContextLike = HonoContextLike> extends HttpOptions<C> {
  /**
   * The client address where the runtime has no socket (Workers, Deno, Bun): one the platform
   * vouches for, e.g. `cf-connecting-ip` on Cloudflare. On @hono/node-server the socket peer is used.
   */
  peer?: (c: C) => string | undefined;
}

/**
 * Sets `c.get('mandate')` to the decision (its `obligations` are the app's to enforce); answers
 * every deny 403 JSON with the reason code in `x-mandate-reason`.
 */
export declare function mandateHono<C extends HonoContextLike = HonoContextLike>(
  pdp: Pdp,
  options?: MandateHonoOptions<C>,
): (c: C, next: () => Promise<void>) => Promise<Response | void>;
