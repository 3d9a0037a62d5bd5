// Types of the mandate-pdp package. The JSON documents are in ./formats.d.ts (docs/formats.md).

import type {
  Credentials,
  DecideInput,
  Decision,
  LoadConfig,
  LoadStatus,
  PrivateJwk,
  PublicJwk,
  RequestDescription,
  UseOnce,
  BundleContents,
  MintGrantRequest,
  AuthorizationDetail,
} from './formats.js';

export type * from './formats.js';

/** JSON given as an object, a JSON string, or UTF-8 bytes. */
export type JsonInput<T> = T | string | Uint8Array | ArrayBuffer;

/**
 * Records use-once jtis. `claim` records every entry until its `exp` and resolves to the jtis
 * that were already recorded (replays). Throwing (or rejecting) makes the decision a
 * `replay.store_unavailable` deny.
 */
export interface ReplayStore {
  claim(entries: readonly UseOnce[], now: number): Promise<string[]> | string[];
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
  readonly status: LoadStatus;
  readonly replayStore: ReplayStore;
  /** Decides, consulting the replay store for every use-once jti of an allow. */
  decide(input: JsonInput<DecideInput>): Promise<Decision>;
  /** `decide`, answering the canonical decision JSON bytes. */
  decideBytes(input: JsonInput<DecideInput>): Promise<Uint8Array>;
  /** The core's decision bytes WITHOUT the replay store: for conformance and hosts with their own store. */
  decideWithoutReplayCheck(input: JsonInput<DecideInput>): Uint8Array;
  /** A decide with `credentials.grant` for `request`. */
  verifyGrant(grant: string, request: RequestDescription, extra?: Partial<Omit<DecideInput, 'request' | 'credentials'>>): Promise<Decision>;
  /** Releases the WebAssembly memory held by this decision point. */
  free(): void;
}

export declare const REPLAY_STORE_UNAVAILABLE: 'replay.store_unavailable';

/** Instantiates the WebAssembly module (browsers: optionally from `source`). Node and Workers load it at import. */
export declare function init(source?: string | URL | Response | BufferSource | WebAssembly.Module): Promise<void>;

/** Mint inputs of the core (`mandate_core::mint::mint_json`). Errors reject with `code` `mint.invalid`. */
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
}

export declare function mint(input: MintInput): Promise<string>;

/** Bounded like the Rust host's store: full of live entries, a claim throws (deny), never forgets. */
export declare class MemoryReplayStore implements ReplayStore {
  /** `capacity`: most live entries (default 1,000,000). */
  constructor(options?: { capacity?: number });
  claim(entries: readonly UseOnce[], now: number): Promise<string[]>;
  readonly size: number;
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

/** A header getter: value or undefined (arrays: the first value is used). */
export type HeaderGetter = (name: string) => string | string[] | undefined;

/** Reads `Authorization: DPoP` + `DPoP` (+ `Mandate-Chain`) or `Authorization: Mandate-Grant`. */
export declare function credentialsFromHeaders(get: HeaderGetter): Credentials;

/** A value, or a function of the framework's request/context. */
export type Computed<S, T> = T | ((source: S) => T);

export interface HttpOptions<S> {
  action?: Computed<S, string | undefined>;
  resource?: Computed<S, string | undefined>;
  /** base64url SHA-256 of the body (see `bodyDigest()`); a function may be async. */
  bodyDigest?: string | ((source: S) => string | undefined | Promise<string | undefined>);
  context?: Computed<S, Record<string, unknown> | undefined>;
  mintGrant?: Computed<S, MintGrantRequest | undefined>;
}

export declare function httpDecideInput<S>(
  request: { method: string; url: string; ip?: string; getHeader: HeaderGetter },
  options?: HttpOptions<S>,
  source?: S,
): DecideInput;

export interface FetchOptions extends HttpOptions<Request> {
  /** The client address, e.g. `(r) => r.headers.get('cf-connecting-ip') ?? undefined` on Cloudflare. */
  ip?: (request: Request) => string | undefined;
  /** The public URL when it differs from `request.url`. */
  url?: (request: Request) => string;
}

/** Decides a fetch `Request` (Workers, Deno, Bun). */
export declare function authorizeRequest(pdp: Pdp, request: Request, options?: FetchOptions): Promise<Decision>;

export interface DenyBody {
  error: 'forbidden';
  code: string;
  reasons: Decision['reasons'];
  decision_id: string;
}

export declare function denyBody(decision: Decision): DenyBody;
/** A 403 JSON Response carrying `denyBody(decision)`. */
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
