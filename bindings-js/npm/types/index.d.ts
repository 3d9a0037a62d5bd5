// Types of the mandate-pdp package. The JSON documents are in ./formats.d.ts (docs/formats.md).

import type {
  DecideInput,
  Decision,
  LoadConfig,
  LoadStatus,
  PrivateJwk,
  PublicJwk,
  RequestDescription,
  UseOnce,
  HttpDecideInput,
  HttpRequest,
  HttpBinding,
  Route,
  BundleContents,
  MintGrantRequest,
  AuthorizationDetail,
} from './formats.js';
import type { Codes } from './codes.js';

export type * from './formats.js';
/** Every stable code (docs/reason-codes.md), generated from the Rust table: `Codes.REPLAY_DETECTED`. */
export * from './codes.js';
/** The wire documents exactly as the core parses and emits them (generated: ./wire.d.ts). */
export type * as Wire from './wire.js';

/** JSON given as an object, a JSON string, or UTF-8 bytes. */
export type JsonInput<T> = T | string | Uint8Array | ArrayBuffer;

/**
 * Records use-once jtis. `claim` records every entry until its `exp` and resolves to the jtis
 * that were already recorded (replays). Throwing (or rejecting) makes the decision a
 * `replay.store_unavailable` deny.
 */
export interface ReplayStore {
  claim(entries: readonly UseOnce[], now: number): Promise<string[]> | string[];
  /** Since when the store has remembered every use (unix seconds); passed as `replay_since`. */
  readonly remembersSince?: number;
}

export interface PdpOptions {
  /** Default: a MemoryReplayStore private to this decision point. */
  replayStore?: ReplayStore;
  /** Called with the error when the replay store fails (the decision is then a deny). */
  onStoreError?: (error: unknown) => void;
  /**
   * ES256 verifier: 'host' (node:crypto; the default on Node) or 'portable' (p256 in the module;
   * the default in browsers and Workers). Same verdicts, ~5x faster decisions with 'host'.
   */
  verifier?: 'host' | 'portable';
}

/** A decision point: one verified bundle, plus the host duties (clock, nonces, replay store). */
export declare class Pdp {
  private constructor();
  /** Never rejects for a bad config: the decision point then denies with a `bundle.*` code. */
  static load(config: JsonInput<LoadConfig>, options?: PdpOptions): Promise<Pdp>;
  /** The load status of the bundle serving. */
  readonly status: LoadStatus;
  readonly replayStore: ReplayStore;
  /**
   * Serves `config` only when the core's replacement rule lets it replace what serves at `now`
   * (default: the host clock): loaded, not expired, valid now, not a rollback. Answers the new
   * status; throws an Error with `code` (`bundle.expired`, `bundle.not_yet_valid`,
   * `bundle.rollback`, or the load's `bundle.*` code), and then what served keeps serving.
   */
  replace(config: JsonInput<LoadConfig>, options?: { now?: number }): LoadStatus;
  /** Decides, consulting the replay store for every use-once jti of an allow. */
  decide(input: JsonInput<DecideInput>): Promise<Decision>;
  /** `decide`, answering the canonical decision JSON bytes. */
  decideBytes(input: JsonInput<DecideInput>): Promise<Uint8Array>;
  /** The core's decision bytes WITHOUT the replay store: for conformance and hosts with their own store. */
  decideWithoutReplayCheck(input: JsonInput<DecideInput>): Uint8Array;
  /**
   * Decides an HTTP request as received through the core's HTTP binding (routes, Host, path,
   * single headers, credentials, trusted X-Forwarded-For hops), consulting the replay store.
   */
  decideHttp(input: JsonInput<HttpDecideInput>): Promise<Decision>;
  /** `decideHttp`, answering the canonical decision JSON bytes. */
  decideHttpBytes(input: JsonInput<HttpDecideInput>): Promise<Uint8Array>;
  /** The core's decision bytes for an HTTP decide input WITHOUT the replay store. */
  decideHttpWithoutReplayCheck(input: JsonInput<HttpDecideInput>): Uint8Array;
  /** A decide with `credentials: { grant, proof }` for `request`: a grant needs the agent's proof (`ath` = the grant's hash). */
  verifyGrant(grant: string, request: RequestDescription, extra?: Partial<Omit<DecideInput, 'request' | 'credentials'>> & { proof?: string }): Promise<Decision>;
  /** Releases the WebAssembly memory held by this decision point. */
  free(): void;
}

/** Stable code of the fail-closed deny when the replay store cannot answer (`Codes.REPLAY_STORE_UNAVAILABLE`). */
export declare const REPLAY_STORE_UNAVAILABLE: (typeof Codes)['REPLAY_STORE_UNAVAILABLE'];

/** Instantiates the WebAssembly module (browsers: optionally from `source`). Node and Workers load it at import. */
export declare function init(source?: string | URL | Response | BufferSource | WebAssembly.Module): Promise<void>;

/** Mint inputs of the core (`policy_core::mint::mint_json`). Errors reject with `code` `mint.invalid`. */
export type MintInput =
  | { kind: 'bundle'; key: PrivateJwk; contents: BundleContents }
  | { kind: 'delegation'; key: PrivateJwk; claims: DelegationClaims }
  | { kind: 'token'; key: PrivateJwk; typ: string; claims: Record<string, unknown> }
  | { kind: 'subdelegation'; key: PrivateJwk; parent: string; hop: SubdelegationHop }
  | { kind: 'proof'; key: PrivateJwk; proof: ProofFields };

/** Claims of a person's delegation to an agent (RFC 9068 access token, `typ: at+jwt`). */
export interface DelegationClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  iat: number;
  nbf?: number;
  exp: number;
  jti: string;
  scope?: string;
  authorization_details?: AuthorizationDetail[];
  act: { sub: string };
  cnf: { jkt: string };
  groups?: string[];
  [claim: string]: unknown;
}

export interface SubdelegationHop {
  agent: string;
  agent_key: PublicJwk;
  scope: string;
  authorization_details?: AuthorizationDetail[];
  aud?: string[];
  iat: number;
  exp: number;
  jti: string;
}

export interface ProofFields {
  htm: string;
  htu: string;
  iat: number;
  jti: string;
  token?: string;
  body_digest?: string;
  /** The server's DPoP-Nonce, when it asked for one (RFC 9449 §8). */
  nonce?: string;
}

export declare function mint(input: MintInput): Promise<string>;

/** Bounded like the Rust host's store: full of live entries, a claim throws (deny), never forgets. */
export declare class MemoryReplayStore implements ReplayStore {
  /**
   * `capacity`: most live entries (default 1,000,000). `rememberingSince` (unix seconds): the
   * store holds no use from before it (a restarted process); proofs and grants issued earlier
   * are then denied with `replay.history_unknown`.
   */
  constructor(options?: { capacity?: number; rememberingSince?: number });
  claim(entries: readonly UseOnce[], now: number): Promise<string[]>;
  readonly size: number;
  readonly remembersSince: number | undefined;
}

/** node-redis v4+ client shape used by RedisReplayStore. */
export interface RedisSetClient {
  set(key: string, value: string, options: { NX: true; PX: number }): Promise<string | null>;
}

/** `SET <prefix><kind>:<jti> 1 NX PX <ttl ms>` per entry, as the Rust host (shared keys). */
export declare class RedisReplayStore implements ReplayStore {
  /** `setPx(key, ttlMs)` adapts another client; it must answer 'OK' (or true) only when the key was set. */
  constructor(options: { client?: RedisSetClient; setPx?: (key: string, ttlMs: number) => Promise<unknown>; prefix?: string });
  claim(entries: readonly UseOnce[], now: number): Promise<string[]>;
}

/** The parts of a Durable Object namespace binding this store uses. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(input: string, init?: RequestInit): Promise<Response> };
}

export declare class DurableObjectReplayStore implements ReplayStore {
  constructor(options: { namespace: DurableObjectNamespaceLike; name?: string });
  claim(entries: readonly UseOnce[], now: number): Promise<string[]>;
}

/** A value, or a function of the framework's request/context. */
export type Computed<S, T> = T | ((source: S) => T);

/** A route: `"METHOD PATH-GLOB ACTION [RESOURCE]"` (as `mandate serve --route`) or an object. */
export type RouteSpec = string | Route;

/**
 * Options of every HTTP helper (Express, Hono, fetch). The request itself is never mapped in JS:
 * the core's HTTP binding decides its route, Host, path, credentials and client address.
 */
export interface HttpOptions<S> {
  /** First match wins, on the core-normalized path. */
  routes?: RouteSpec[];
  /**
   * With routes, a request none matches: `'deny'` (default, `request.unrouted`), or
   * `'guardrails'` (it names no action and the guardrails alone decide it).
   */
  unrouted?: 'deny' | 'guardrails';
  /**
   * Proxies in front that each append the address they saw to X-Forwarded-For. 0 (default): the
   * socket peer is the client. N: the Nth entry from the right. Never Express's `req.ip`.
   */
  trustedHops?: number;
  /**
   * Obligations the app enforces. The decision's `obligations` (on `req.mandate` /
   * `res.locals.mandate` / `c.get('mandate')`) can then hold them, and the app must enforce them;
   * any other obligation is an `obligation.unsupported` deny, `require_approval` always an
   * `approval.required` deny.
   */
  enforces?: string[];
  /** How the request reached this service: `https` when TLS ends at a proxy in front. Default: the socket's / the URL's. */
  scheme?: 'http' | 'https';
  /** Pins the host (`host[:port]`): a request whose Host disagrees is a `request.invalid` deny. */
  authority?: string;
  /** base64url SHA-256 of the body (see `bodyDigest()`); a function may be async. */
  bodyDigest?: string | ((source: S) => string | undefined | Promise<string | undefined>);
  context?: Computed<S, Record<string, unknown> | undefined>;
  mintGrant?: Computed<S, MintGrantRequest | undefined>;
  /** The clock, in seconds since the epoch; default the host clock. */
  now?: () => number;
}

/** The `binding` of an HTTP decide input from `routes` and `trustedHops` (throws on a malformed route). */
export declare function httpBinding(options?: { routes?: RouteSpec[]; trustedHops?: number; unrouted?: 'deny' | 'guardrails' }): HttpBinding;

/** An HTTP decide input for a request the host received (`http`), with `options` applied. */
export declare function httpDecideInput<S>(http: HttpRequest, binding: HttpBinding, options?: HttpOptions<S>, source?: S): Promise<HttpDecideInput>;

/** The parts of a Node `http.IncomingMessage` (or Express request) read. */
export interface NodeIncomingLike {
  method?: string;
  url?: string;
  originalUrl?: string;
  rawHeaders: string[];
  socket?: { remoteAddress?: string; encrypted?: boolean };
}

/** A Node request as received: the raw target, `rawHeaders` in order with repeats, the socket peer. */
export declare function nodeHttpRequest(incoming: NodeIncomingLike, options?: { scheme?: string; authority?: string; path?: string }): HttpRequest;

/** A fetch `Request` (its URL is the platform's; `Headers` join repeated fields). */
export declare function fetchHttpRequest(request: Request, options?: { scheme?: string; authority?: string; peer?: (request: Request) => string | undefined }): HttpRequest;

export interface FetchOptions extends HttpOptions<Request> {
  /** The client address the platform vouches for, e.g. `(r) => r.headers.get('cf-connecting-ip') ?? undefined` on Cloudflare. */
  peer?: (request: Request) => string | undefined;
}

/** Decides a fetch `Request` (Workers, Deno, Bun) through the core's HTTP binding. */
export declare function authorizeRequest(pdp: Pdp, request: Request, options?: FetchOptions): Promise<Decision>;

/** The 403 body every Mandate HTTP host answers (`mandate serve` /v1/check, the Envoy filter, the middleware). */
export interface DenyBody {
  decision: 'deny';
  decision_id: string;
  reasons: { code: string; message: string }[];
}

export declare function denyBody(decision: Decision): DenyBody;
/** `content-type: application/json`, `x-mandate-reason: <first code>`, `x-mandate-decision-id`. */
export declare function denyHeaders(decision: Decision): Record<string, string>;
/** The first reason's code (`internal.error` when none). */
export declare function reasonCode(decision: Decision): string;
/** A 403 JSON Response: `denyHeaders(decision)` and `denyBody(decision)`. */
export declare function denyResponse(decision: Decision): Response;

/** A P-256 key usable by the agent helpers. */
export type AgentKey = PrivateJwk | CryptoKeyPair | { privateKey: CryptoKey; publicJwk: PublicJwk } | CryptoKey;

export interface GeneratedAgentKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** For the agent registry. */
  publicJwk: PublicJwk;
}

/** base64url SHA-256 of a request body: the `body_digest` of proofs and decide inputs. */
export declare function bodyDigest(body: string | Uint8Array | ArrayBuffer): Promise<string>;

export declare function generateAgentKey(options?: { extractable?: boolean; kid?: string }): Promise<GeneratedAgentKey>;
export declare function publicJwkOf(key: AgentKey | PublicJwk): Promise<PublicJwk>;
/** Signs claims as a compact ES256 JWS with a WebCrypto private key (`alg` is set to ES256). */
export declare function signJws(header: Record<string, unknown>, claims: Record<string, unknown>, privateKey: CryptoKey): Promise<string>;

export interface ProofOptions {
  key: AgentKey;
  method: string;
  url: string;
  /** The presented token; its hash becomes `ath`. */
  token?: string;
  now?: number;
  jti?: string;
  bodyDigest?: string;
}

/** An RFC 9449 DPoP proof. */
export declare function createProof(options: ProofOptions): Promise<string>;

export interface SubdelegationOptions {
  /** The delegating agent's key (the holder of `parent`). */
  key: AgentKey;
  /** The token being narrowed (the last of the delegating agent's chain). */
  parent: string;
  /** The sub-agent's id. */
  agent: string;
  /** The sub-agent's public key. */
  agentKey: PublicJwk;
  scope: string;
  authorization_details?: AuthorizationDetail[];
  aud?: string[];
  now?: number;
  /** Lifetime in seconds (default 300) unless `exp` is given. */
  ttl?: number;
  exp?: number;
  jti?: string;
  kid?: string;
}

export declare function createSubdelegation(options: SubdelegationOptions): Promise<string>;

/** An agent's credentials, presenting a fresh DPoP proof with every request. */
export declare class MandateAgent {
  /** `bindBody`: sign each request body's digest into the proof (string/bytes bodies). */
  constructor(options: { key: AgentKey; delegation: string | string[]; fetch?: typeof fetch; bindBody?: boolean });
  readonly delegation: string[];
  headers(method: string, url: string, options?: { bodyDigest?: string; now?: number }): Promise<Record<string, string>>;
  fetch(url: string | URL, init?: RequestInit): Promise<Response>;
  subdelegate(options: Omit<SubdelegationOptions, 'key' | 'parent' | 'agentKey'> & { agentKey?: PublicJwk; key?: AgentKey }): Promise<{
    token: string;
    chain: string[];
    /** Present when the sub-agent's `key` was given. */
    agent?: MandateAgent;
  }>;
}

/** The Durable Object class behind DurableObjectReplayStore (also at `mandate-pdp/cloudflare`). */
export { ReplayDurableObject } from './cloudflare.js';
