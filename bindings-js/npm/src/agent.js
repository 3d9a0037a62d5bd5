// For agents written in JS: P-256 keys, RFC 9449 DPoP proofs, sub-delegations, and a fetch that
// presents the agent's credentials. A CryptoKey signs with WebCrypto (ECDSA P-256/SHA-256, whose
// output is already the 64-byte r||s form JWS wants); a private JWK goes through the core's mint.

import { b64url, b64urlJson, nonce, sha256b64url, unixNow, utf8Bytes } from './bytes.js';
import { mint } from './pdp.js';

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' };
const ES256 = { name: 'ECDSA', hash: 'SHA-256' };

/** The typ of a DPoP proof and of a sub-delegation hop (docs/formats.md). */
export const PROOF_TYP = 'dpop+jwt';
export const SUBDELEGATION_TYP = 'mandate-subdelegation+jwt';

function isCryptoKey(k) {
  return typeof CryptoKey !== 'undefined' && k instanceof CryptoKey;
}

function isPrivateJwk(k) {
  return k && typeof k === 'object' && !isCryptoKey(k) && typeof k.d === 'string';
}

/** The public members of a P-256 JWK (drops `d`, `key_ops`, `ext`; keeps `kid` unless told not to). */
function publicMembers(jwk, keepKid = true) {
  const out = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
  if (keepKid && jwk.kid) out.kid = jwk.kid;
  return out;
}

/**
 * A fresh P-256 agent key from WebCrypto. The private key is not extractable unless asked;
 * the public JWK is what goes into the agent registry.
 */
export async function generateAgentKey({ extractable = false, kid } = {}) {
  const pair = await globalThis.crypto.subtle.generateKey(ECDSA_P256, extractable, ['sign', 'verify']);
  const publicJwk = publicMembers(await globalThis.crypto.subtle.exportKey('jwk', pair.publicKey));
  if (kid) publicJwk.kid = kid;
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, publicJwk };
}

/** The public JWK of a key given as a private/public JWK, a public CryptoKey or a generateAgentKey result. */
export async function publicJwkOf(key) {
  if (key?.publicJwk) return key.publicJwk;
  if (isCryptoKey(key?.publicKey)) return publicMembers(await globalThis.crypto.subtle.exportKey('jwk', key.publicKey));
  if (isCryptoKey(key)) {
    if (key.type !== 'public' && !key.extractable) {
      throw new TypeError('mandate-pdp: a non-extractable private CryptoKey has no readable public half; pass { privateKey, publicJwk }');
    }
    return publicMembers(await globalThis.crypto.subtle.exportKey('jwk', key));
  }
  if (key && typeof key === 'object' && typeof key.x === 'string') return publicMembers(key);
  throw new TypeError('mandate-pdp: expected a P-256 JWK, a CryptoKey or { privateKey, publicJwk }');
}

/** The WebCrypto private key of a key given as a CryptoKey or `{ privateKey }`, else null. */
function webCryptoSigner(key) {
  if (isCryptoKey(key) && key.type === 'private') return key;
  if (isCryptoKey(key?.privateKey)) return key.privateKey;
  return null;
}

/**
 * Signs `claims` as a compact ES256 JWS with a WebCrypto private key. `alg` is always ES256.
 */
export async function signJws(header, claims, privateKey) {
  const signingInput = `${b64urlJson({ ...header, alg: 'ES256' })}.${b64urlJson(claims)}`;
  const sig = await globalThis.crypto.subtle.sign(ES256, privateKey, utf8Bytes(signingInput));
  return `${signingInput}.${b64url(new Uint8Array(sig))}`;
}

/** base64url SHA-256 of a request body: the `body_digest` of proofs and decide inputs. */
export async function bodyDigest(body) {
  if (typeof body === 'string') return sha256b64url(body);
  return sha256b64url(body instanceof ArrayBuffer ? new Uint8Array(body) : body);
}

/** RFC 9449 `htu`: the target URI without query and fragment. */
function htuOf(url) {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/**
 * An RFC 9449 DPoP proof for one request: `{ key, method, url, token, now?, jti?, bodyDigest? }`.
 * `token` is the presented (last) delegation token; its hash becomes `ath`.
 */
export async function createProof({ key, method, url, token, now = unixNow(), jti = nonce(), bodyDigest }) {
  const fields = { htm: method.toUpperCase(), htu: htuOf(url), iat: now, jti };
  if (isPrivateJwk(key)) {
    const proof = { ...fields };
    if (token !== undefined) proof.token = token;
    if (bodyDigest !== undefined) proof.body_digest = bodyDigest;
    return mint({ kind: 'proof', key, proof });
  }
  const signer = webCryptoSigner(key);
  if (!signer) throw new TypeError('mandate-pdp: createProof needs a private JWK or a WebCrypto private key');
  const claims = { ...fields };
  if (token !== undefined) claims.ath = await sha256b64url(token);
  if (bodyDigest !== undefined) claims.body_digest = bodyDigest;
  const jwk = publicMembers(await publicJwkOf(key), false);
  return signJws({ typ: PROOF_TYP, jwk }, claims, signer);
}

function decodeClaims(token) {
  const part = token.split('.')[1];
  if (!part) throw new TypeError('mandate-pdp: parent is not a compact JWS');
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
}

async function thumbprint(jwk) {
  // RFC 7638: the required members in lexicographic order, no whitespace.
  return sha256b64url(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }));
}

/**
 * A sub-delegation: the agent holding `parent` hands a narrower task to another agent.
 * `{ key (the delegating agent's), parent, agent, agentKey (the sub-agent's public JWK), scope,
 * authorization_details?, aud?, ttl? | exp?, now?, jti? }`. Each hop may only narrow scope,
 * details, audience and lifetime; the decision point checks that.
 */
export async function createSubdelegation({
  key,
  parent,
  agent,
  agentKey,
  scope,
  authorization_details,
  aud,
  now = unixNow(),
  ttl = 300,
  exp,
  jti = nonce(),
  kid,
}) {
  const hop = { agent, agent_key: publicMembers(agentKey, false), scope, iat: now, exp: exp ?? now + ttl, jti };
  if (authorization_details !== undefined) hop.authorization_details = authorization_details;
  if (aud !== undefined) hop.aud = aud;
  if (isPrivateJwk(key)) return mint({ kind: 'subdelegation', key, parent, hop });
  const signer = webCryptoSigner(key);
  if (!signer) throw new TypeError('mandate-pdp: createSubdelegation needs a private JWK or a WebCrypto private key');
  // The same claims the core's mint builds (policy-core/src/mint.rs), signed with WebCrypto.
  const pc = decodeClaims(parent);
  if (!pc.act?.sub || !pc.sub) throw new TypeError('mandate-pdp: parent token has no sub or act.sub');
  const claims = {
    iss: pc.act.sub,
    sub: pc.sub,
    iat: hop.iat,
    exp: hop.exp,
    jti: hop.jti,
    scope: hop.scope,
    act: { sub: agent, act: pc.act },
    cnf: { jkt: await thumbprint(hop.agent_key) },
    parent: await sha256b64url(parent),
  };
  if (hop.authorization_details !== undefined) claims.authorization_details = hop.authorization_details;
  if (hop.aud !== undefined) claims.aud = hop.aud;
  const header = { typ: SUBDELEGATION_TYP };
  if (kid) header.kid = kid;
  return signJws(header, claims, signer);
}

/**
 * An agent's credentials, ready to call a Mandate-protected API:
 *
 *     const agent = new MandateAgent({ key, delegation: [rootToken] });
 *     const res = await agent.fetch('https://api.example.com/v1/secrets/db');
 *
 * `delegation` is the chain, root first; the last token is the one this agent holds.
 */
export class MandateAgent {
  #key;
  #chain;
  #fetch;

  #bindBody;

  /** `bindBody`: sign a digest of each request body into the proof (`body_digest`). */
  constructor({ key, delegation, fetch = globalThis.fetch, bindBody = false }) {
    this.#key = key;
    this.#chain = Array.isArray(delegation) ? [...delegation] : [delegation];
    this.#fetch = fetch;
    this.#bindBody = bindBody;
  }

  /** The delegation chain, root first. */
  get delegation() {
    return [...this.#chain];
  }

  /** The headers that present this agent's credentials for one request (a fresh proof each time). */
  async headers(method, url, { bodyDigest, now } = {}) {
    const token = this.#chain[this.#chain.length - 1];
    const proof = await createProof({ key: this.#key, method, url, token, bodyDigest, now });
    const headers = { authorization: `DPoP ${token}`, dpop: proof };
    if (this.#chain.length > 1) headers['mandate-chain'] = this.#chain.slice(0, -1).join(' ');
    return headers;
  }

  /** `fetch` with this agent's credentials added. */
  async fetch(url, init = {}) {
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = new Headers(init.headers);
    let digest;
    if (this.#bindBody && init.body != null) {
      if (!(typeof init.body === 'string' || init.body instanceof Uint8Array || init.body instanceof ArrayBuffer)) {
        throw new TypeError('mandate-pdp: bindBody needs a string, Uint8Array or ArrayBuffer body');
      }
      digest = await bodyDigest(init.body);
    }
    for (const [k, v] of Object.entries(await this.headers(method, String(url), { bodyDigest: digest }))) headers.set(k, v);
    return this.#fetch(url, { ...init, method, headers });
  }

  /** Hands a narrower task to another agent: the returned agent's chain ends with the new hop. */
  async subdelegate({ agent, agentKey, key: subKey, ...hop }) {
    const parent = this.#chain[this.#chain.length - 1];
    const token = await createSubdelegation({ key: this.#key, parent, agent, agentKey: agentKey ?? (await publicJwkOf(subKey)), ...hop });
    return { token, chain: [...this.#chain, token], agent: subKey ? new MandateAgent({ key: subKey, delegation: [...this.#chain, token], fetch: this.#fetch }) : undefined };
  }
}
