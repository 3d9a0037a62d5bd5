// HTTP plumbing shared by the Express, Hono and fetch (Workers) helpers and the MCP guard: hand
// the core the request exactly as it was received, and shape the 403 answer. What a request *is*
// (its route, its Host, its path, its credentials, its client address) is decided by the core's
// one HTTP binding (`Pdp.decideHttp`, policy_core::http), the same as `mandate serve` and the
// Envoy filter; nothing here parses a header or matches a route.

import { Codes } from './codes.js';

/**
 * The `binding` of an HTTP decide input from middleware options: `routes` (first match wins;
 * `"METHOD PATH-GLOB ACTION [RESOURCE]"` strings or `{ method, path, action, resource? }`) and
 * `trustedHops` (how many proxies in front each append to X-Forwarded-For; 0, the default, uses
 * the socket peer), and `unrouted` (with routes, a request none matches is a `request.unrouted`
 * deny, `'deny'`, the default; or `'guardrails'`: it names no action and the guardrails alone
 * decide it). Checked once, when the middleware is made.
 */
export function httpBinding({ routes = [], trustedHops = 0, unrouted = 'deny' } = {}) {
  if (!Array.isArray(routes)) throw new TypeError('mandate-pdp: routes must be an array');
  if (!Number.isInteger(trustedHops) || trustedHops < 0 || trustedHops > 255) {
    throw new TypeError('mandate-pdp: trustedHops must be an integer from 0 to 255');
  }
  if (unrouted !== 'deny' && unrouted !== 'guardrails') {
    throw new TypeError("mandate-pdp: unrouted must be 'deny' or 'guardrails'");
  }
  return { routes: routes.map(routeOf), trusted_hops: trustedHops, unrouted };
}

// The spelling `mandate serve --route` accepts; the core does the matching.
function routeOf(route) {
  if (typeof route !== 'string') return route;
  const parts = route.trim().split(/\s+/);
  if ((parts.length !== 3 && parts.length !== 4) || !parts[1].startsWith('/')) {
    throw new TypeError(`mandate-pdp: route \`${route}\` is not \`METHOD PATH-GLOB ACTION [RESOURCE]\` (e.g. \`GET /v1/secrets/* secrets:read\`)`);
  }
  const [method, path, action, resource] = parts;
  return resource === undefined ? { method, path, action } : { method, path, action, resource };
}

/** Options of the old request mapping that the core's binding replaced; refused, never ignored. */
const REMOVED = {
  action: 'declare `routes` (the core matches them on the normalized path)',
  resource: 'give routes a resource',
  ip: 'the client address is the socket peer, or `trustedHops` X-Forwarded-For entries from the right',
  origin: 'the origin is the request\'s; pin it with `scheme`/`authority`, and name this decision point in the load config\'s `audiences`',
  url: 'the origin is the request\'s; pin it with `scheme`/`authority`, and name this decision point in the load config\'s `audiences`',
};

/** Throws for options that no longer exist, so that an app upgrading cannot silently lose them. */
export function checkHttpOptions(options) {
  for (const [name, instead] of Object.entries(REMOVED)) {
    if (options[name] !== undefined) throw new TypeError(`mandate-pdp: the \`${name}\` option is gone: ${instead}`);
  }
}

/**
 * Makes the per-request part of an HTTP decide input: `{ now?, http, binding, context?,
 * mint_grant?, enforces? }`. `http` is the request as received; `options` (values or functions of
 * `source`, the framework's request or context) add `context`, `mintGrant`, `bodyDigest` (may be
 * async), `enforces` and `now` (a clock: seconds).
 */
export async function httpDecideInput(http, binding, options = {}, source = undefined) {
  const request = { ...http };
  const bodyDigest = await pick(options.bodyDigest, source);
  if (bodyDigest !== undefined) request.body_digest = bodyDigest;
  const input = { http: request, binding };
  const context = pick(options.context, source);
  if (context !== undefined) input.context = context;
  const mintGrant = pick(options.mintGrant, source);
  if (mintGrant !== undefined) input.mint_grant = mintGrant;
  if (options.enforces !== undefined) input.enforces = [...options.enforces];
  if (options.now !== undefined) input.now = options.now();
  return input;
}

function pick(option, source) {
  return typeof option === 'function' ? option(source) : option;
}

/**
 * The HTTP request a Node `http.IncomingMessage` (also Express's `req`) carries, as received: the
 * raw request target (never `req.url` after a router rewrote it, never a parsed URL), every
 * header field from `rawHeaders` in order with repeats (Node's `req.headers` joins or drops
 * them), and the socket peer. `scheme`: how the request reached this service (`https` when TLS
 * ends at a proxy in front); default the socket's. `authority`: pins the host; default the Host
 * header (HTTP/1) or `:authority` (HTTP/2).
 */
export function nodeHttpRequest(incoming, { scheme, authority, path } = {}) {
  const raw = incoming.rawHeaders ?? [];
  const headers = [];
  let pseudoAuthority = '';
  for (let i = 0; i + 1 < raw.length; i += 2) {
    // HTTP/2 pseudo-headers are not header fields; :authority is the authority.
    if (raw[i].startsWith(':')) {
      if (raw[i] === ':authority') pseudoAuthority = raw[i + 1];
      continue;
    }
    headers.push([raw[i], raw[i + 1]]);
  }
  const http = {
    method: incoming.method,
    scheme: scheme ?? (incoming.socket?.encrypted ? 'https' : 'http'),
    authority: authority ?? pseudoAuthority,
    path: path ?? incoming.originalUrl ?? incoming.url,
    headers,
  };
  const peer = incoming.socket?.remoteAddress;
  if (peer) http.peer = peer;
  return http;
}

/**
 * The HTTP request a fetch `Request` carries (Workers, Deno, Bun, Hono outside Node). The URL is
 * the platform's (already parsed); header fields come from `Headers`, which joins repeats of a
 * field into one value (a repeated `DPoP` then reaches the core as one malformed proof, a deny).
 * `peer(request)`: the client address the platform vouches for (e.g. `cf-connecting-ip` on
 * Cloudflare). `scheme`/`authority` as for `nodeHttpRequest`.
 */
export function fetchHttpRequest(request, { scheme, authority, peer } = {}) {
  const url = new URL(request.url);
  const http = {
    method: request.method,
    scheme: scheme ?? url.protocol.slice(0, -1),
    authority: authority ?? url.host,
    path: `${url.pathname}${url.search}`,
    headers: [...request.headers],
  };
  const address = peer?.(request);
  if (address) http.peer = address;
  return http;
}

/** The reason code of a decision: its first reason's, `internal.error` when it has none. */
export function reasonCode(decision) {
  return headerSafe(decision?.reasons?.[0]?.code || Codes.INTERNAL_ERROR);
}

// Codes and ids come from the core, but a control character would still break the response.
function headerSafe(value) {
  // eslint-disable-next-line no-control-regex
  return String(value).replace(/[\u0000-\u001f\u007f]/g, '');
}

/**
 * The JSON body of a 403 answer, as `mandate serve`'s `/v1/check` and the Envoy filter answer:
 * `{"decision":"deny","decision_id":…,"reasons":[{"code","message"},…]}`.
 */
export function denyBody(decision) {
  return {
    decision: 'deny',
    decision_id: decision?.decision_id ?? '',
    reasons: (decision?.reasons ?? []).map((r) => ({ code: r?.code ?? '', message: r?.message ?? '' })),
  };
}

/** The headers of a 403 answer: the JSON content type, `x-mandate-reason` and `x-mandate-decision-id`. */
export function denyHeaders(decision) {
  const headers = { 'content-type': 'application/json', 'x-mandate-reason': reasonCode(decision) };
  if (decision?.decision_id) headers['x-mandate-decision-id'] = headerSafe(decision.decision_id);
  return headers;
}

/** A 403 JSON `Response` for a deny (fetch-style runtimes). */
export function denyResponse(decision) {
  return new Response(JSON.stringify(denyBody(decision)), { status: 403, headers: denyHeaders(decision) });
}

/**
 * For fetch-style runtimes (Cloudflare Workers, Deno, Bun): decides a `Request` through the
 * core's HTTP binding. Options: `routes`, `trustedHops`, `enforces`, `context`, `mintGrant`,
 * `bodyDigest`, `now`, `scheme`, `authority`, `peer(request)`.
 */
export async function authorizeRequest(pdp, request, options = {}) {
  checkHttpOptions(options);
  const http = fetchHttpRequest(request, options);
  return pdp.decideHttp(await httpDecideInput(http, httpBinding(options), options, request));
}
