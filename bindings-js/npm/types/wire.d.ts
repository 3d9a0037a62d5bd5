// The wire documents of docs/formats.md, exactly as the core parses and emits them.
// Generated from docs/schemas/*.schema.json by
// `cargo run -p testkit --bin gen-schemas`; do not edit.

/**
 * What a decision point is loaded with (docs/formats.md, "Load config").
 */
export interface LoadConfig {
  /**
   * This decision point's own identifiers (RFC 9068 §4): a token must name one in `aud`.
   * Absent: the request's origin (`scheme://host[:port]`) is the decision point's identifier.
   * @default null
   */
  audiences?: string[] | null;
  /**
   * The signed bundle (a compact JWS, `typ` `mandate-bundle+jwt`).
   * @default null
   */
  bundle?: string | null;
  /**
   * The private JWK grants are minted with, when this decision point mints them.
   * @default null
   */
  grant_key?: PrivateJwk | null;
  /**
   * The public JWKs the bundle may be signed by.
   * @default []
   */
  trust_keys?: PublicJwk[];
}

/**
 * A decide input (docs/formats.md).
 */
export interface DecideInput {
  /**
   * Host-supplied facts for guardrails (`input.context`).
   * @default null
   */
  context?: {
    [member: string]: unknown;
  } | null;
  /**
   * What it presented.
   * @default {"delegation":[],"grant":null,"proof":null}
   */
  credentials?: Credentials;
  /**
   * A host-chosen id (1 to 128 bytes); derived from the input's hash when absent.
   * @default null
   */
  decision_id?: string | null;
  /**
   * Obligations the host declares it enforces; any other a guardrail returns is a deny.
   * @default []
   */
  enforces?: string[];
  /**
   * Mint a grant on allow.
   * @default null
   */
  mint_grant?: MintRequest | null;
  /**
   * The decision time, seconds since the epoch: the only clock the core reads.
   */
  now: number;
  /**
   * The second since which the host's replay store remembers every use: set by a host whose
   * store does not survive a restart (its start time). A proof or grant issued before it is
   * refused (`replay.history_unknown`): uses of it before the restart were forgotten, so a
   * replay could not be told from a first use. Absent: the store remembers everything.
   */
  replay_since?: number | null;
  /**
   * The request being authorized.
   */
  request: RequestSpec;
}

/**
 * An HTTP decide input: the request as the host received it, and its binding.
 */
export interface HttpDecideInput {
  /**
   * Routes and forwarded-hop trust.
   * @default {"routes":[],"trusted_hops":0,"unrouted":"deny"}
   */
  binding?: Binding;
  /**
   * As in the decide input (`DecideInput`).
   * @default null
   */
  context?: {
    [member: string]: unknown;
  } | null;
  /**
   * As in the decide input (`DecideInput`).
   * @default null
   */
  decision_id?: string | null;
  /**
   * As in the decide input (`DecideInput`).
   * @default []
   */
  enforces?: string[];
  /**
   * The HTTP request.
   */
  http: HttpRequest;
  /**
   * As in the decide input (`DecideInput`).
   * @default null
   */
  mint_grant?: MintRequest | null;
  /**
   * As in the decide input (`DecideInput`).
   */
  now: number;
  /**
   * As in the decide input (`DecideInput`).
   */
  replay_since?: number | null;
}

export interface Bundle {
  agents?: AgentSpec[];
  /**
   * @default {}
   */
  data?: {
    [member: string]: unknown;
  };
  exp: number;
  iat: number;
  issuers: IssuerSpec[];
  /**
   * @default null
   */
  nbf?: number | null;
  /**
   * @default {}
   */
  policies?: Record<string, string>;
  revision: string;
  revocations?: Revocations;
  settings?: Settings;
}

export type Registry = AgentSpec[];

/**
 * Tunables. Every default is the conservative one.
 */
export interface Settings {
  /**
   * Seconds of clock skew tolerated on token times.
   * @default 60
   */
  clock_skew?: number;
  /**
   * The Rego package whose `allow`, `deny` and `obligations` decide.
   * @default "data.mandate"
   */
  decision_rule?: string;
  /**
   * The `iss` of grants this decision point mints.
   * @default null
   */
  grant_issuer?: string | null;
  /**
   * The longest `exp - iat` of an ephemeral grant, in seconds.
   * @default 60
   */
  grant_max_ttl?: number;
  /**
   * A presented grant must come with a DPoP proof from the key in its `cnf.jkt` (the
   * agent's), so a grant is never a bearer token. Default on.
   * @default true
   */
  grant_requires_proof?: boolean;
  /**
   * The most sub-delegation hops below the person's delegation.
   * @default 2
   */
  max_chain_depth?: number;
  /**
   * How old a DPoP proof's `iat` may be, in seconds.
   * @default 60
   */
  proof_max_age?: number;
}

/**
 * A load status: the verified bundle's facts, or why nothing loaded (or a bundle was refused).
 */
export type LoadStatus = LoadStatusOk | LoadStatusFailed;

/**
 * The canonical decision document (docs/formats.md, "Decision").
 */
export interface Decision {
  /**
   * The audit record (docs/formats.md, "Audit record").
   */
  audit: Audit;
  /**
   * The effective RFC 9396 authorization details.
   */
  authorization_details: AuthorizationDetail[];
  /**
   * `allow` only when every check passed and the guardrails allowed.
   */
  decision: Outcome;
  /**
   * Host-supplied, or derived from the input's hash.
   */
  decision_id: string;
  /**
   * A minted ephemeral grant (compact JWS), only on allow with `mint_grant`.
   * @default null
   */
  grant?: string;
  /**
   * What the guardrails require of the enforcement point.
   */
  obligations: {
    [member: string]: unknown;
  };
  /**
   * Who acted for whom; null when the credentials never identified an agent.
   */
  principal: Principal | null;
  /**
   * Empty on allow; on deny ordered, first cause first.
   */
  reasons: Reason[];
  /**
   * The effective scopes.
   */
  scopes: string[];
  /**
   * Every entry the host must record as used until `exp` (allow only).
   */
  use_once: UseOnce[];
}

export interface AgentSpec {
  ceiling?: CeilingSpec;
  delegators?: Delegators;
  id: string;
  keys: PublicJwk[];
  /**
   * @default {}
   */
  labels?: {
    [member: string]: unknown;
  };
  /**
   * @default null
   */
  max_depth?: number | null;
  /**
   * @default []
   */
  may_delegate_to?: string[];
  owner: string;
  status: AgentStatus;
}

/**
 * An agent's lifecycle state. Only `active` agents act.
 */
export type AgentStatus = "active" | "suspended" | "revoked";

/**
 * The audit record of a decision.
 */
export interface Audit {
  /**
   * The acting agent, once proven.
   */
  agent: string | null;
  /**
   * The bundle that decided; null when none is loaded.
   */
  bundle: AuditBundle | null;
  /**
   * Agents from the person's delegate to the acting one.
   */
  chain: string[];
  /**
   * The decision's reason codes, in order (the codes of `reasons`).
   */
  codes: ReasonCode[];
  /**
   * The credentials presented.
   */
  credentials: AuditCredentials;
  /**
   * As in the decision.
   */
  decision_id: string;
  /**
   * The delegation's issuer, once proven.
   */
  issuer: string | null;
  /**
   * RFC 7638 thumbprint of the acting key, once proven.
   */
  key: string | null;
  /**
   * As the decision's `obligations`.
   */
  obligations: {
    [member: string]: unknown;
  };
  /**
   * As the decision's `decision`.
   */
  outcome: Outcome;
  /**
   * The decision's reasons, in order, with their messages (as the decision's `reasons`).
   */
  reasons: Reason[];
  /**
   * The request as asked; null when the input did not parse.
   */
  request: AuditRequest | null;
  /**
   * The guardrail rules that decided.
   */
  rules: string[];
  /**
   * The decision time.
   */
  time: number;
  /**
   * The person, once proven.
   */
  user: string | null;
  /**
   * Audit record schema version.
   */
  v: number;
}

/**
 * The bundle, as audited.
 */
export interface AuditBundle {
  /**
   * base64url SHA-256 of the bundle JWS.
   */
  digest: string;
  /**
   * Operator-chosen revision label.
   */
  revision: string;
}

/**
 * The credentials, as audited.
 */
export interface AuditCredentials {
  /**
   * The `jti`s of the tokens presented.
   */
  jti: string[];
  /**
   * Which credentials, once proven.
   */
  kind: CredentialKind | null;
  /**
   * The decision's use-once entries.
   */
  use_once: string[];
}

/**
 * The request, as audited.
 */
export interface AuditRequest {
  /**
   * The action checked.
   */
  action: string | null;
  /**
   * The client address.
   */
  ip: string | null;
  /**
   * HTTP method.
   */
  method: string;
  /**
   * The resource touched.
   */
  resource: string | null;
  /**
   * The target URI.
   */
  uri: string;
}

/**
 * An RFC 9396 authorization detail: a `type` and the members that type defines.
 */
export interface AuthorizationDetail {
  /**
   * The detail's type (RFC 9396 §2).
   */
  type: string;
  [member: string]: unknown;
}

/**
 * What a decision point configures about its HTTP side.
 */
export interface Binding {
  /**
   * Routes, first match wins; a request no route matches names no action.
   * @default []
   */
  routes?: Route[];
  /**
   * How many proxies in front each append to `X-Forwarded-For`; 0 uses the socket peer.
   * @default 0
   */
  trusted_hops?: number;
  /**
   * What a request no route matches gets, when there are routes: a deny (the default), or
   * no action, leaving the guardrails alone to decide (`"guardrails"`).
   * @default "deny"
   */
  unrouted?: Unrouted;
}

/**
 * What the replacement rule compares of a verified bundle: the claims in its load status
 * (`{"ok": true, "bundle": {…}}`). A host that only sees load statuses (the wasm backend, the
 * JS package) applies the same rule to the statuses its engine produced.
 */
export interface BundleFacts {
  /**
   * base64url SHA-256 of the bundle JWS.
   */
  digest: string;
  /**
   * Expiry.
   */
  exp: number;
  /**
   * Issued at.
   */
  iat: number;
  /**
   * Not before.
   */
  nbf: number;
  /**
   * Operator-chosen revision label.
   */
  revision: string;
}

/**
 * The most an agent may ever be delegated.
 */
export interface CeilingSpec {
  /**
   * RFC 9396 details.
   * @default []
   */
  authorization_details?: AuthorizationDetail[];
  /**
   * Scopes (wildcards allowed).
   * @default []
   */
  scopes?: string[];
}

/**
 * Which credentials a principal presented.
 */
export type CredentialKind = "delegation" | "grant";

/**
 * The credentials a request presents: a delegation chain (root first) with a proof, or a
 * grant with a proof.
 */
export interface Credentials {
  /**
   * Delegation tokens, root first; the last one is presented with the proof.
   * @default []
   */
  delegation?: string[];
  /**
   * An ephemeral grant.
   * @default null
   */
  grant?: string | null;
  /**
   * The DPoP proof.
   * @default null
   */
  proof?: string | null;
}

/**
 * Who may delegate to an agent. Patterns use `*` as "any run of characters" and match user ids
 * and agent ids alike.
 */
export interface Delegators {
  /**
   * Agents that may sub-delegate to this one.
   * @default []
   */
  agents?: string[];
  /**
   * Groups (token `groups` claim).
   * @default []
   */
  groups?: string[];
  /**
   * Glob patterns over user and agent ids.
   * @default []
   */
  patterns?: string[];
  /**
   * Person ids (token `sub`).
   * @default []
   */
  users?: string[];
}

/**
 * An HTTP request as the host received it.
 */
export interface HttpRequest {
  /**
   * `:authority`, or the `Host` header (may be empty when only `headers` carry `Host`).
   * @default ""
   */
  authority?: string;
  /**
   * base64url SHA-256 of the body, when the host hashed it.
   * @default null
   */
  body_digest?: string | null;
  /**
   * Every header field in the order received; a repeated field appears repeatedly.
   * @default []
   */
  headers?: ([string, string])[];
  /**
   * The method, as sent.
   */
  method: string;
  /**
   * The request target in origin form: path and query, exactly as received.
   */
  path: string;
  /**
   * The socket peer's address (`ip` or `ip:port`).
   * @default null
   */
  peer?: string | null;
  /**
   * `http` or `https`: how the request reached the service being protected.
   */
  scheme: string;
}

export interface IssuerSpec {
  audiences: string[];
  iss: string;
  keys: PublicJwk[];
  /**
   * @default ["at+jwt"]
   */
  typ?: string[];
}

/**
 * `alg`, when present: only ES256.
 */
export type JwkAlg = "ES256";

/**
 * `crv`: only P-256.
 */
export type JwkCrv = "P-256";

/**
 * `kty`: only elliptic-curve keys.
 */
export type JwkKty = "EC";

/**
 * `use`, when present: only signatures.
 */
export type JwkUse = "sig";

/**
 * A config that did not load, or a bundle refused.
 */
export interface LoadStatusFailed {
  /**
   * The `bundle.*` code and a message.
   */
  error: Reason;
  /**
   * `false`.
   */
  ok: false;
}

/**
 * A config that loaded.
 */
export interface LoadStatusOk {
  /**
   * What the replacement rule compares of the verified bundle.
   */
  bundle: BundleFacts;
  /**
   * `true`.
   */
  ok: true;
}

/**
 * What the host asks for when it wants a grant minted on allow.
 */
export interface MintRequest {
  /**
   * The resource server the grant is for.
   */
  aud: string;
  /**
   * A fresh nonce from the host.
   */
  jti: string;
  /**
   * Requested lifetime in seconds; capped by the bundle and by a `max_ttl` obligation.
   */
  ttl: number;
}

/**
 * A decision's outcome.
 */
export type Outcome = "allow" | "deny";

/**
 * Who acted for whom, once proven.
 */
export interface Principal {
  /**
   * The acting agent (the last of the chain).
   */
  agent: string;
  /**
   * Agents from the person's delegate to the acting one.
   */
  chain: string[];
  /**
   * The issuer of the person's delegation.
   */
  issuer: string;
  /**
   * RFC 7638 thumbprint of the acting key.
   */
  key: string;
  /**
   * Which credentials were presented.
   */
  kind: CredentialKind;
  /**
   * The person the agent acts for.
   */
  user: string;
}

/**
 * A private P-256 JWK: the public members and the scalar `d`.
 */
export interface PrivateJwk {
  /**
   * Algorithm.
   */
  alg?: JwkAlg;
  /**
   * Curve.
   */
  crv: JwkCrv;
  /**
   * base64url of the 32-byte private scalar.
   */
  d: string;
  /**
   * Key operations.
   * @default null
   */
  key_ops?: string[];
  /**
   * Key id; a bundle's `kid` picks the trust key by it.
   * @default null
   */
  kid?: string;
  /**
   * Key type.
   */
  kty: JwkKty;
  /**
   * Public key use.
   */
  use?: JwkUse;
  /**
   * base64url of the 32-byte x coordinate.
   */
  x: string;
  /**
   * base64url of the 32-byte y coordinate.
   */
  y: string;
  [member: string]: unknown;
}

/**
 * A public P-256 JWK (RFC 7517/7518) as `jose::PublicJwk::from_value` accepts it: the point
 * must lie on the curve, `key_ops` must allow `verify` or `sign`, a `d` is refused, and
 * other members are ignored. Optional members are absent or of their type: `null` is
 * refused, as the parser refuses it.
 */
export interface PublicJwk {
  /**
   * Algorithm.
   */
  alg?: JwkAlg;
  /**
   * Curve.
   */
  crv: JwkCrv;
  /**
   * Key operations.
   * @default null
   */
  key_ops?: string[];
  /**
   * Key id; a bundle's `kid` picks the trust key by it.
   * @default null
   */
  kid?: string;
  /**
   * Key type.
   */
  kty: JwkKty;
  /**
   * Public key use.
   */
  use?: JwkUse;
  /**
   * base64url of the 32-byte x coordinate.
   */
  x: string;
  /**
   * base64url of the 32-byte y coordinate.
   */
  y: string;
  [member: string]: unknown;
}

/**
 * One cause of a deny.
 */
export interface Reason {
  /**
   * A stable reason code (docs/reason-codes.md).
   */
  code: ReasonCode;
  /**
   * A human-readable explanation; never parse it.
   */
  message: string;
}

/**
 * A stable code (docs/reason-codes.md), from `policy_core::Code`.
 */
export type ReasonCode = "input.malformed" | "input.too_large" | "request.invalid" | "request.unrouted" | "request.header_repeated" | "bundle.missing" | "bundle.too_large" | "bundle.malformed" | "bundle.untrusted_key" | "bundle.signature_invalid" | "bundle.expired" | "bundle.not_yet_valid" | "bundle.policy_invalid" | "credentials.missing" | "credentials.conflict" | "token.too_large" | "token.malformed" | "token.alg_not_allowed" | "token.header_invalid" | "token.typ_invalid" | "token.issuer_unknown" | "token.key_unknown" | "token.signature_invalid" | "token.claims_invalid" | "token.expired" | "token.not_yet_valid" | "token.audience_invalid" | "token.audience_mismatch" | "token.revoked" | "agent.unknown" | "agent.suspended" | "agent.revoked" | "agent.key_mismatch" | "agent.key_revoked" | "delegation.delegator_not_allowed" | "delegation.scope_exceeds_ceiling" | "delegation.scope_insufficient" | "chain.parent_mismatch" | "chain.depth_exceeded" | "chain.delegate_not_allowed" | "chain.signer_mismatch" | "chain.subject_mismatch" | "chain.scope_escalation" | "chain.lifetime_extended" | "proof.missing" | "proof.malformed" | "proof.typ_invalid" | "proof.key_mismatch" | "proof.signature_invalid" | "proof.method_mismatch" | "proof.uri_mismatch" | "proof.token_mismatch" | "proof.stale" | "proof.body_mismatch" | "grant.malformed" | "grant.issuer_unknown" | "grant.signature_invalid" | "grant.expired" | "grant.not_yet_valid" | "grant.ttl_exceeded" | "grant.audience_invalid" | "grant.request_mismatch" | "grant.mint_unavailable" | "policy.denied" | "policy.not_allowed" | "policy.error" | "policy.limit_exceeded" | "policy.output_invalid" | "obligation.unsupported" | "approval.required" | "replay.detected" | "replay.store_unavailable" | "replay.history_unknown" | "host.limit_exceeded" | "internal.error" | "abi.invalid_buffer" | "mint.invalid" | "host.module_invalid" | "host.random_unavailable" | "host.io" | "bundle.rollback" | "bundle.unreadable" | "bundle.fetch_failed" | "audit.io" | "audit.unavailable" | "audit.tampered" | "audit.invalid_record" | "audit.locked" | "audit.key_required" | "audit.key_mismatch" | "audit.key_invalid" | "cli.failure" | "file.not_found" | "file.unreadable" | "file.unwritable" | "file.exists" | "file.not_utf8" | "file.too_large" | "yaml.malformed" | "json.malformed" | "doc.not_object" | "context.malformed" | "key.malformed" | "key.invalid" | "key.not_private" | "key.no_kid" | "registry.duplicate_agent" | "agent.exists" | "label.malformed" | "policy.none" | "policy.duplicate" | "redis.invalid" | "duration.invalid" | "lint.no_policies" | "lint.decision_rule_undefined" | "lint.unknown_agent" | "lint.shared_key" | "lint.grant_issuer" | "lint.failed" | "serve.overloaded" | "serve.unauthenticated" | "serve.rate_limited" | "config.invalid" | "tls.invalid";

/**
 * The request as the host describes it.
 */
export interface RequestSpec {
  /**
   * The action the host maps this request to (checked against the effective scopes).
   * @default null
   */
  action?: string | null;
  /**
   * base64url SHA-256 of the body.
   * @default null
   */
  body_digest?: string | null;
  /**
   * The client address as the host saw it.
   * @default null
   */
  ip?: string | null;
  /**
   * HTTP method, case-sensitive.
   */
  method: string;
  /**
   * The resource the request touches.
   * @default null
   */
  resource?: string | null;
  /**
   * The full target URI, e.g. `https://api.example.com/v1/x?y=1`.
   */
  uri: string;
}

/**
 * Revoked token ids, agent ids and key thumbprints.
 */
export interface Revocations {
  /**
   * Agent ids.
   * @default []
   */
  agents?: string[];
  /**
   * Token `jti`s.
   * @default []
   */
  jti?: string[];
  /**
   * RFC 7638 key thumbprints.
   * @default []
   */
  keys?: string[];
}

/**
 * Maps requests to actions: `METHOD PATH-GLOB ACTION [RESOURCE]`, e.g.
 * `GET /v1/secrets/* secrets:read`. `*` as the method matches any; the glob's `*` matches any
 * run of characters (including `/`) of the normalized path.
 */
export interface Route {
  /**
   * The action a matching request is checked for.
   */
  action: string;
  /**
   * The method, or `*`.
   */
  method: string;
  /**
   * A glob over the normalized path.
   */
  path: string;
  /**
   * The resource it touches.
   * @default null
   */
  resource?: string | null;
}

/**
 * What happens to a request no route matches (only when the binding has routes).
 */
export type Unrouted = "deny" | "guardrails";

/**
 * An entry the host records as used until `exp`.
 */
export interface UseOnce {
  /**
   * Until when it must be remembered.
   */
  exp: number;
  /**
   * The entry.
   */
  jti: string;
  /**
   * What the entry came from.
   */
  kind: UseOnceKind;
}

/**
 * What a use-once entry came from.
 */
export type UseOnceKind = "proof" | "grant";
