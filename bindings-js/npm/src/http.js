// HTTP plumbing shared by the Express, Hono, fetch (Workers) and MCP helpers: read the
// credentials from headers, build the decide input, shape the 403 answer. The verdict is the core's.

const DPOP_AUTH = /^DPoP[ \t]+([A-Za-z0-9._~+/=-]+)[ \t]*$/i;
const GRANT_AUTH = /^Mandate-Grant[ \t]+([A-Za-z0-9._~+/=-]+)[ \t]*$/i;

/**
 * The `credentials` of a decide input from request headers, given `get(name)` returning a header
 * value or undefined. `Authorization: DPoP <token>` + `DPoP: <proof>` (+ `Mandate-Chain: <ancestor
 * tokens, root first, space-separated>`) give a delegation chain and proof; `Authorization:
 * Mandate-Grant <grant>` gives a grant. Anything else gives `{}` and the core answers
 * `credentials.missing`.
 */
export function credentialsFromHeaders(get) {
  const auth = first(get('authorization'));
  if (!auth) return {};
  const dpop = DPOP_AUTH.exec(auth);
  if (dpop) {
    const chainHeader = first(get('mandate-chain'));
    const chain = chainHeader ? chainHeader.trim().split(/[ \t]+/).filter(Boolean) : [];
    const credentials = { delegation: [...chain, dpop[1]] };
    const proof = first(get('dpop'));
    if (proof) credentials.proof = proof.trim();
    return credentials;
  }
  const grant = GRANT_AUTH.exec(auth);
  if (grant) return { grant: grant[1] };
  return {};
}

function first(value) {
  return Array.isArray(value) ? value[0] : value ?? undefined;
}

/**
 * A decide input for one HTTP request. `options` may fix or compute (from `source`, the
 * framework's request or context) `action`, `resource`, `context`, `bodyDigest` and `mintGrant`.
 */
export function httpDecideInput({ method, url, ip, getHeader }, options = {}, source = undefined) {
  const request = { method: method.toUpperCase(), uri: url };
  if (ip) request.ip = ip;
  const action = pick(options.action, source);
  if (action !== undefined) request.action = action;
  const resource = pick(options.resource, source);
  if (resource !== undefined) request.resource = resource;
  const bodyDigest = pick(options.bodyDigest, source);
  if (bodyDigest !== undefined) request.body_digest = bodyDigest;
  const input = { request, credentials: credentialsFromHeaders(getHeader) };
  const context = pick(options.context, source);
  if (context !== undefined) input.context = context;
  const mintGrant = pick(options.mintGrant, source);
  if (mintGrant !== undefined) input.mint_grant = mintGrant;
  return input;
}

/** Resolves a `bodyDigest` option given as a (possibly async) function: reading a body is async. */
export async function resolveBodyDigest(options, source) {
  if (typeof options.bodyDigest !== 'function') return options;
  return { ...options, bodyDigest: await options.bodyDigest(source) };
}

function pick(option, source) {
  return typeof option === 'function' ? option(source) : option;
}

/** The JSON body of a 403 answer: the first reason's code, every reason, and the decision id. */
export function denyBody(decision) {
  return {
    error: 'forbidden',
    code: decision.reasons?.[0]?.code ?? 'policy.not_allowed',
    reasons: decision.reasons ?? [],
    decision_id: decision.decision_id,
  };
}

/**
 * For fetch-style runtimes (Cloudflare Workers, Deno, Bun, Node's fetch server adapters):
 * decides a `Request`. `options.ip(request)` supplies the client address when the platform knows
 * it (e.g. the `cf-connecting-ip` header on Cloudflare).
 */
export async function authorizeRequest(pdp, request, options = {}) {
  options = await resolveBodyDigest(options, request);
  const input = httpDecideInput(
    {
      method: request.method,
      url: options.url ? options.url(request) : request.url,
      ip: options.ip ? options.ip(request) : undefined,
      getHeader: (name) => request.headers.get(name) ?? undefined,
    },
    options,
    request,
  );
  return pdp.decide(input);
}

/** A 403 JSON `Response` for a deny. */
export function denyResponse(decision) {
  return new Response(JSON.stringify(denyBody(decision)), {
    status: 403,
    headers: { 'content-type': 'application/json' },
  });
}
