// The JSON documents of docs/formats.md: load config, load status, decide input, decision,
// bundle contents and mint inputs. All times are integer Unix seconds.

/** A public P-256 JWK (RFC 7517/7518). */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid?: string;
  alg?: 'ES256';
  use?: 'sig';
}

/** A private P-256 JWK: the public members plus the scalar `d`. */
export interface PrivateJwk extends PublicJwk {
  d: string;
}

/** A stable reason code (docs/reason-codes.md). Unknown future codes are plain strings. */
export type ReasonCode =
  | 'input.malformed' | 'input.too_large' | 'request.invalid' | 'request.header_repeated'
  | 'bundle.missing' | 'bundle.too_large' | 'bundle.malformed' | 'bundle.untrusted_key'
  | 'bundle.signature_invalid' | 'bundle.expired' | 'bundle.not_yet_valid' | 'bundle.policy_invalid'
  | 'credentials.missing' | 'credentials.conflict'
  | 'token.too_large' | 'token.malformed' | 'token.alg_not_allowed' | 'token.header_invalid'
  | 'token.typ_invalid' | 'token.issuer_unknown' | 'token.key_unknown' | 'token.signature_invalid'
  | 'token.claims_invalid' | 'token.expired' | 'token.not_yet_valid' | 'token.audience_invalid'
  | 'token.revoked' | 'token.audience_mismatch'
  | 'agent.unknown' | 'agent.suspended' | 'agent.revoked' | 'agent.key_mismatch' | 'agent.key_revoked'
  | 'delegation.delegator_not_allowed' | 'delegation.scope_exceeds_ceiling' | 'delegation.scope_insufficient'
  | 'chain.parent_mismatch' | 'chain.depth_exceeded' | 'chain.delegate_not_allowed' | 'chain.signer_mismatch'
  | 'chain.subject_mismatch' | 'chain.scope_escalation' | 'chain.lifetime_extended'
  | 'proof.missing' | 'proof.malformed' | 'proof.typ_invalid' | 'proof.key_mismatch'
  | 'proof.signature_invalid' | 'proof.method_mismatch' | 'proof.uri_mismatch' | 'proof.token_mismatch'
  | 'proof.stale' | 'proof.body_mismatch'
  | 'grant.malformed' | 'grant.issuer_unknown' | 'grant.signature_invalid' | 'grant.expired'
  | 'grant.not_yet_valid' | 'grant.ttl_exceeded' | 'grant.audience_invalid' | 'grant.request_mismatch'
  | 'grant.mint_unavailable'
  | 'policy.denied' | 'policy.not_allowed' | 'policy.error' | 'policy.limit_exceeded' | 'policy.output_invalid'
  | 'obligation.unsupported' | 'approval.required'
  | 'replay.detected' | 'replay.store_unavailable'
  | 'host.limit_exceeded' | 'internal.error'
  | (string & {});

/** What a decision point is configured with. */
export interface LoadConfig {
  /** Compact JWS, typ `mandate-bundle+jwt`. */
  bundle: string;
  /** The bundle keys the host trusts (several, for rotation). The bundle's `kid` picks one. */
  trust_keys: PublicJwk[];
  /** The private key this decision point signs ephemeral grants with. */
  grant_key?: PrivateJwk;
  /**
   * This decision point's own identifiers (RFC 9068 §4): a token's `aud` must name one. Absent,
   * the request's origin (`scheme://host[:port]`) is its identifier. Set it behind a proxy, a
   * loopback or any Host the client chooses.
   */
  audiences?: string[];
}

export interface Problem {
  code: ReasonCode;
  message: string;
}

export type LoadStatus =
  | { ok: true; bundle: { revision: string; digest: string; iat: number; nbf: number; exp: number } }
  | { ok: false; error: Problem };

export interface RequestDescription {
  method: string;
  /** The full URL the request was sent to (the DPoP proof's `htu`). */
  uri: string;
  ip?: string;
  action?: string;
  resource?: string;
  /** base64url SHA-256 of the request body. */
  body_digest?: string;
}

export interface Credentials {
  /** The chain, root first; the last element is the token presented with the proof. */
  delegation?: string[];
  /** DPoP proof signed by the acting agent. */
  proof?: string;
  /** Ephemeral grant, instead of delegation + proof. */
  grant?: string;
}

export interface MintGrantRequest {
  aud: string;
  ttl: number;
  /** Host-chosen nonce; `Pdp.decide` fills a random one when absent. */
  jti?: string;
}

/** The decide input. `Pdp.decide` fills `now` from the host clock when absent. */
export interface DecideInput {
  now?: number;
  decision_id?: string;
  request: RequestDescription;
  credentials: Credentials;
  /** Host-supplied JSON, visible to guardrails as `input.context`. */
  context?: Record<string, unknown>;
  mint_grant?: MintGrantRequest;
  /**
   * Obligations the host declares it enforces. `max_ttl` is the core's own; `require_approval` is
   * always an `approval.required` deny; any other obligation a guardrail returns that is not
   * named here is an `obligation.unsupported` deny.
   */
  enforces?: string[];
}

/** An HTTP request as the host received it (mandate_core::http::HttpRequest). */
export interface HttpRequest {
  /** As sent. */
  method: string;
  /** How the request reached the protected service: `http` or `https`. */
  scheme: 'http' | 'https' | (string & {});
  /** `:authority`, or empty to take the `Host` header (the two must agree when both are given). */
  authority?: string;
  /** The request target in origin form, path and query exactly as received (never normalized). */
  path: string;
  /** Every header field in the order received, repeats kept: `[[name, value], ...]`. */
  headers?: [string, string][];
  /** The socket peer (`ip` or `ip:port`). */
  peer?: string;
  /** base64url SHA-256 of the body, when the host hashed it. */
  body_digest?: string;
}

/** Maps requests to actions; the core matches `path` (a glob, `*` any run) on the normalized path. */
export interface Route {
  /** A method, or `*`. */
  method: string;
  path: string;
  action: string;
  resource?: string;
}

/** The HTTP side of a decision point. */
export interface HttpBinding {
  /** First match wins, on the core-normalized path. */
  routes?: Route[];
  /** Proxies in front that each append to X-Forwarded-For; 0 (default) uses the socket peer. */
  trusted_hops?: number;
  /** With routes, a request none matches: `deny` (default, `request.unrouted`) or `guardrails` (no action). */
  unrouted?: 'deny' | 'guardrails';
}

/** The HTTP decide input (`Pdp.decideHttp`): the request as received, bound by the core. */
export interface HttpDecideInput {
  now?: number;
  decision_id?: string;
  http: HttpRequest;
  binding?: HttpBinding;
  context?: Record<string, unknown>;
  mint_grant?: MintGrantRequest;
  enforces?: string[];
}

export interface Principal {
  /** The acting agent (the last of the chain). */
  agent: string;
  /** The person the agent acts for. */
  user: string;
  issuer: string;
  /** Agents from the person's delegate to the acting one. */
  chain: string[];
  /** RFC 7638 thumbprint of the acting key. */
  key: string;
  /** Which credentials were presented. */
  kind: 'delegation' | 'grant' | (string & {});
}

export interface UseOnce {
  jti: string;
  exp: number;
  kind: 'proof' | 'grant' | (string & {});
}

/** RFC 9396 authorization detail. */
export interface AuthorizationDetail {
  type: string;
  [member: string]: unknown;
}

/** The audit record of a decision (hosts append it to a hash-chained log). */
export interface AuditRecord {
  v: number;
  decision_id: string;
  outcome: 'allow' | 'deny';
  /** The decision's reason codes, in order. */
  codes: string[];
  time: number;
  agent: string | null;
  user: string | null;
  issuer: string | null;
  key: string | null;
  chain: string[];
  bundle: { revision: string; digest: string } | null;
  credentials: { kind: string | null; jti: string[]; use_once: string[] };
  request: { method: string | null; uri: string | null; ip: string | null; action: string | null; resource: string | null };
  /** The guardrail rules that decided. */
  rules: string[];
  obligations: Record<string, unknown>;
  [member: string]: unknown;
}

/** The canonical decision document: keys sorted, no whitespace, integers only. */
export interface Decision {
  decision: 'allow' | 'deny';
  decision_id: string;
  /** Empty on allow; on deny ordered, first cause first. */
  reasons: Problem[];
  obligations: Record<string, unknown>;
  /** null when the credentials never identified an agent. */
  principal: Principal | null;
  scopes: string[];
  authorization_details: AuthorizationDetail[];
  /** Every jti the host must record as used until `exp` (`Pdp.decide` does it). */
  use_once: UseOnce[];
  /** Compact JWS; only on allow with `mint_grant`. */
  grant?: string;
  audit: AuditRecord;
}

// ---- bundle contents (what a bundle JWS signs) ----

export interface BundleIssuer {
  iss: string;
  /** Each key needs a `kid`. */
  keys: PublicJwk[];
  audiences: string[];
  /** Token types this issuer is trusted for; default `["at+jwt"]`. */
  typ?: string[];
}

export interface AgentRecord {
  id: string;
  owner: string;
  status: 'active' | 'suspended' | 'revoked';
  keys: PublicJwk[];
  delegators?: { users?: string[]; groups?: string[]; agents?: string[]; patterns?: string[] };
  ceiling?: { scopes?: string[]; authorization_details?: AuthorizationDetail[] };
  may_delegate_to?: string[];
  max_depth?: number;
  labels?: Record<string, unknown>;
}

export interface BundleSettings {
  clock_skew?: number;
  proof_max_age?: number;
  grant_max_ttl?: number;
  max_chain_depth?: number;
  decision_rule?: string;
  grant_issuer?: string;
  /** Default true: a presented grant needs a DPoP proof by the key in its `cnf.jkt`. */
  grant_requires_proof?: boolean;
}

export interface BundleContents {
  revision: string;
  iat: number;
  nbf?: number;
  exp: number;
  issuers: BundleIssuer[];
  agents?: AgentRecord[];
  revocations?: { jti?: string[]; agents?: string[]; keys?: string[] };
  /** Rego sources by file name. */
  policies?: Record<string, string>;
  /** Policy data (`data.*`). */
  data?: Record<string, unknown>;
  settings?: BundleSettings;
}
