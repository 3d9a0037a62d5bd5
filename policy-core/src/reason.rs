//! Stable reason codes.
//!
//! Every deny carries at least one [`Code`]. Codes cross host boundaries (wasm, JS, Envoy headers,
//! HTTP bodies) and conformance vectors compare them, so a code's string never changes meaning.
//! `docs/reason-codes.md` is generated from this table (see the `reason_table` test).

use alloc::string::String;
use core::fmt;

macro_rules! codes {
    ($($origin:ident $variant:ident => $code:literal, $meaning:literal;)*) => {
        /// A stable reason code. `as_str` is the wire form.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Code { $(#[doc = $meaning] $variant,)* }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The wire form, e.g. `token.expired`.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// What the code means, for people.
            #[must_use]
            pub const fn meaning(self) -> &'static str {
                match self { $(Code::$variant => $meaning,)* }
            }

            /// Who raises the code: the core's decision pipeline, or a host, the CLI, the module.
            #[must_use]
            pub const fn origin(self) -> Origin {
                match self { $(Code::$variant => Origin::$origin,)* }
            }

            /// Parses the wire form.
            #[must_use]
            pub fn parse(s: &str) -> Option<Code> {
                match s { $($code => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    Decision InputMalformed => "input.malformed", "The decide input is not valid JSON of the documented shape.";
    Decision InputTooLarge => "input.too_large", "The decide input exceeds the size or nesting limit.";
    Decision RequestInvalid => "request.invalid", "The request's method, URI, Host or path is missing, cannot be parsed, or is ambiguous (dot-segments, encoded slashes).";
    Decision RequestUnrouted => "request.unrouted", "The binding has routes and none matches the request's method and normalized path.";
    Decision RequestHeaderRepeated => "request.header_repeated", "A header that may appear once (Authorization, DPoP, Mandate-Chain, Host) was sent more than once (RFC 9449 §4.3).";
    Decision BundleMissing => "bundle.missing", "No bundle, or no trust keys, were configured.";
    Decision BundleTooLarge => "bundle.too_large", "The bundle exceeds the size or nesting limit.";
    Decision BundleMalformed => "bundle.malformed", "The bundle is not a well-formed ES256 JWS of the bundle schema.";
    Decision BundleUntrustedKey => "bundle.untrusted_key", "The bundle's kid names none of the configured trust keys.";
    Decision BundleSignatureInvalid => "bundle.signature_invalid", "The bundle's signature does not verify.";
    Decision BundleExpired => "bundle.expired", "The bundle's exp has passed.";
    Decision BundleNotYetValid => "bundle.not_yet_valid", "The bundle's nbf is in the future.";
    Decision BundlePolicyInvalid => "bundle.policy_invalid", "A Rego policy in the bundle does not parse or uses a forbidden builtin.";
    Decision CredentialsMissing => "credentials.missing", "Neither a delegation with a proof nor a grant was presented.";
    Decision CredentialsConflict => "credentials.conflict", "A grant and a delegation were presented together.";
    Decision TokenTooLarge => "token.too_large", "A delegation token exceeds the size limit.";
    Decision TokenMalformed => "token.malformed", "A delegation token is not a well-formed compact JWS with a JSON object payload.";
    Decision TokenAlgNotAllowed => "token.alg_not_allowed", "A delegation token's alg is not ES256.";
    Decision TokenHeaderInvalid => "token.header_invalid", "A delegation token's header has crit, an embedded or remote key, or a bad member.";
    Decision TokenTypInvalid => "token.typ_invalid", "A delegation token's typ is not one its issuer is trusted for.";
    Decision TokenIssuerUnknown => "token.issuer_unknown", "The token's iss is not a trusted issuer in the bundle.";
    Decision TokenKeyUnknown => "token.key_unknown", "The token's kid names no key of its issuer.";
    Decision TokenSignatureInvalid => "token.signature_invalid", "A delegation token's signature does not verify.";
    Decision TokenClaimsInvalid => "token.claims_invalid", "A required claim is missing or of the wrong type.";
    Decision TokenExpired => "token.expired", "A delegation token's exp has passed (clock skew allowed).";
    Decision TokenNotYetValid => "token.not_yet_valid", "A delegation token's nbf or iat is in the future (clock skew allowed).";
    Decision TokenAudienceInvalid => "token.audience_invalid", "The token's aud names no audience its issuer is trusted for.";
    Decision TokenAudienceMismatch => "token.audience_mismatch", "The token's aud does not name this decision point (its configured audiences, or the request's origin).";
    Decision TokenRevoked => "token.revoked", "A token's jti is on the bundle's revocation list.";
    Decision AgentUnknown => "agent.unknown", "The acting agent is not in the registry.";
    Decision AgentSuspended => "agent.suspended", "The agent's status is suspended.";
    Decision AgentRevoked => "agent.revoked", "The agent's status is revoked, or its id is on the revocation list.";
    Decision AgentKeyMismatch => "agent.key_mismatch", "cnf.jkt names no key registered to the agent.";
    Decision AgentKeyRevoked => "agent.key_revoked", "The agent key's thumbprint is on the revocation list.";
    Decision DelegationDelegatorNotAllowed => "delegation.delegator_not_allowed", "The person may not delegate to this agent.";
    Decision DelegationScopeExceedsCeiling => "delegation.scope_exceeds_ceiling", "The delegated scopes or authorization_details exceed the agent's ceiling.";
    Decision DelegationScopeInsufficient => "delegation.scope_insufficient", "The effective grant does not cover the request's action.";
    Decision ChainParentMismatch => "chain.parent_mismatch", "A sub-delegation's parent hash does not match the token before it.";
    Decision ChainDepthExceeded => "chain.depth_exceeded", "The chain is longer than the bundle or an agent allows.";
    Decision ChainDelegateNotAllowed => "chain.delegate_not_allowed", "An agent sub-delegated to an agent outside its may_delegate_to.";
    Decision ChainSignerMismatch => "chain.signer_mismatch", "A sub-delegation is not issued and signed by the previous hop's agent.";
    Decision ChainSubjectMismatch => "chain.subject_mismatch", "A sub-delegation names a different person than its parent.";
    Decision ChainScopeEscalation => "chain.scope_escalation", "A sub-delegation widens scope, authorization_details or audience.";
    Decision ChainLifetimeExtended => "chain.lifetime_extended", "A sub-delegation outlives its parent.";
    Decision ProofMissing => "proof.missing", "A delegation or a grant was presented without a DPoP proof.";
    Decision ProofMalformed => "proof.malformed", "The proof is not a well-formed ES256 JWS with the required claims and header.";
    Decision ProofTypInvalid => "proof.typ_invalid", "The proof's typ is not dpop+jwt.";
    Decision ProofKeyMismatch => "proof.key_mismatch", "The proof's jwk is not the key in cnf.jkt.";
    Decision ProofSignatureInvalid => "proof.signature_invalid", "The proof's signature does not verify.";
    Decision ProofMethodMismatch => "proof.method_mismatch", "The proof's htm is not the request's method.";
    Decision ProofUriMismatch => "proof.uri_mismatch", "The proof's htu is not the request's URI (RFC 9449 comparison).";
    Decision ProofTokenMismatch => "proof.token_mismatch", "The proof's ath is not the hash of the presented token.";
    Decision ProofStale => "proof.stale", "The proof's iat is outside the bundle's proof window.";
    Decision ProofBodyMismatch => "proof.body_mismatch", "The proof binds a body digest other than the request's.";
    Decision GrantMalformed => "grant.malformed", "The grant is not a well-formed ES256 JWS of the grant schema.";
    Decision GrantIssuerUnknown => "grant.issuer_unknown", "The grant's issuer or kid is not trusted for grants.";
    Decision GrantSignatureInvalid => "grant.signature_invalid", "The grant's signature does not verify.";
    Decision GrantExpired => "grant.expired", "The grant's exp has passed.";
    Decision GrantNotYetValid => "grant.not_yet_valid", "The grant's iat is in the future.";
    Decision GrantTtlExceeded => "grant.ttl_exceeded", "The grant lives longer than the bundle's grant max TTL.";
    Decision GrantAudienceInvalid => "grant.audience_invalid", "The grant's aud is not an audience this decision point accepts.";
    Decision GrantRequestMismatch => "grant.request_mismatch", "The grant is bound to another method, URI or action.";
    Decision GrantMintUnavailable => "grant.mint_unavailable", "A grant was asked for but cannot be minted (no grant key, or bad parameters).";
    Decision PolicyDenied => "policy.denied", "A guardrail's deny rule fired; the message is the rule's reason.";
    Decision PolicyNotAllowed => "policy.not_allowed", "No guardrail allowed the request.";
    Decision PolicyError => "policy.error", "Guardrail evaluation failed.";
    Decision PolicyLimitExceeded => "policy.limit_exceeded", "Guardrail evaluation exceeded its time or size limit.";
    Decision PolicyOutputInvalid => "policy.output_invalid", "A guardrail returned allow, deny or obligations of the wrong type.";
    Decision ObligationUnsupported => "obligation.unsupported", "A guardrail returned an obligation this decision point does not declare that it enforces.";
    Decision ApprovalRequired => "approval.required", "A guardrail requires a person's approval for this action and none was presented.";
    Decision ReplayDetected => "replay.detected", "A use-once jti (proof or grant) was already used.";
    Decision ReplayStoreUnavailable => "replay.store_unavailable", "The host's replay store could not be reached; decided fail-closed.";
    Decision ReplayHistoryUnknown => "replay.history_unknown", "A proof or grant was issued before the host's replay store began remembering uses (replay_since: a store that does not survive restarts); a use before the restart cannot be ruled out.";
    Decision HostLimitExceeded => "host.limit_exceeded", "The host stopped the module (fuel, memory or time).";
    Decision InternalError => "internal.error", "An internal invariant failed; decided fail-closed.";
    Module AbiInvalidBuffer => "abi.invalid_buffer", "A pointer or length passed across the module's ABI names no buffer the module handed out.";
    Minting MintInvalid => "mint.invalid", "The minting input is not of the documented shape, or a key is unusable.";
    Host HostModuleInvalid => "host.module_invalid", "The wasm module does not load or exports the wrong ABI version.";
    Host HostRandomUnavailable => "host.random_unavailable", "The OS randomness source failed (key generation, nonces).";
    Host HostIo => "host.io", "A file the host needs (module cache, bundle) could not be read or written.";
    Host BundleRollback => "bundle.rollback", "A replacement bundle is older than the serving one (lower iat, or the same revision with other content); the serving bundle stays.";
    Host BundleUnreadable => "bundle.unreadable", "The bundle file or config named could not be read.";
    Host BundleFetchFailed => "bundle.fetch_failed", "The bundle URL could not be fetched (connection, HTTP status, size).";
    Audit AuditIo => "audit.io", "The audit log could not be written or synced; the decision is not acknowledged.";
    Audit AuditUnavailable => "audit.unavailable", "The audit log cannot accept records; the decision point answers 503 rather than act unaudited.";
    Audit AuditTampered => "audit.tampered", "Verification found an edited, deleted, reordered or truncated record.";
    Audit AuditInvalidRecord => "audit.invalid_record", "A line of the audit log is not a record of the documented shape.";
    Audit AuditLocked => "audit.locked", "Another writer holds the audit log; a log has one writer at a time.";
    Audit AuditKeyRequired => "audit.key_required", "The audit log is keyed (an HMAC-SHA256 chain) and no chain key was given: it can be neither appended to nor verified without it.";
    Audit AuditKeyMismatch => "audit.key_mismatch", "The chain key given does not fit the audit log: the log is not keyed, or its first link is another key's (or was edited).";
    Audit AuditKeyInvalid => "audit.key_invalid", "An audit key (a chain or redaction key file) is not hex of at least 32 bytes, or the chain key is the redaction key.";
    Cli CliFailure => "cli.failure", "An unexpected failure of the command (I/O while serving, a port that cannot be bound); exit code 1.";
    Cli FileNotFound => "file.not_found", "A file that was named does not exist or cannot be opened; exit code 4.";
    Cli FileUnreadable => "file.unreadable", "Standard input could not be read; exit code 4.";
    Cli FileUnwritable => "file.unwritable", "An output file could not be written (missing or read-only directory); exit code 4.";
    Cli FileExists => "file.exists", "The file to write already exists and --force was not given.";
    Cli FileNotUtf8 => "file.not_utf8", "A file that must be text is not UTF-8.";
    Cli FileTooLarge => "file.too_large", "A file to read is over the size limit for what Mandate reads from files.";
    Cli YamlMalformed => "yaml.malformed", "A YAML file is not valid YAML, has a duplicate key, or is not of its documented shape.";
    Cli JsonMalformed => "json.malformed", "A JSON file is not valid JSON, has a duplicate key, or is not of its documented shape.";
    Cli DocNotObject => "doc.not_object", "A document that must hold an object (key: value pairs) holds something else.";
    Cli ContextMalformed => "context.malformed", "The --context given to `decide` is not JSON.";
    Cli KeyMalformed => "key.malformed", "A key file is not a JWK (JSON).";
    Cli KeyInvalid => "key.invalid", "A JWK is not an EC P-256 key Mandate can use (ES256).";
    Cli KeyNotPrivate => "key.not_private", "A public key was given where a private key (with \"d\") is needed.";
    Cli KeyNoKid => "key.no_kid", "A key that must be picked by kid (an issuer key, a bundle signing key) has none.";
    Cli RegistryDuplicateAgent => "registry.duplicate_agent", "The registry file holds two records for one agent id.";
    Cli AgentExists => "agent.exists", "`agent add` names an agent already in the registry.";
    Cli LabelMalformed => "label.malformed", "An agent label is not KEY=VALUE.";
    Cli PolicyNone => "policy.none", "The policy directory of a bundle build has no .rego files.";
    Cli PolicyDuplicate => "policy.duplicate", "Two policy files of a bundle build have the same name.";
    Cli RedisInvalid => "redis.invalid", "The --redis URL of `serve` is not a Redis URL the store can use.";
    Cli DurationInvalid => "duration.invalid", "A --duration is out of range.";
    Cli LintNoPolicies => "lint.no_policies", "`bundle build` warning: the bundle has no policies, so the decision rule is undefined and every decision is a deny.";
    Cli LintDecisionRuleUndefined => "lint.decision_rule_undefined", "`bundle build` warning: no policy declares the package of the decision rule (settings.decision_rule), so every decision is a deny.";
    Cli LintUnknownAgent => "lint.unknown_agent", "`bundle build` warning: a may_delegate_to or delegators.agents entry matches no agent of the registry (a misspelled id?).";
    Cli LintSharedKey => "lint.shared_key", "`bundle build` warning: one key is registered for two agents, so a proof by it cannot tell them apart.";
    Cli LintGrantIssuer => "lint.grant_issuer", "`bundle build` warning: grants are accepted from an issuer but settings.grant_issuer is not set, or grant_issuer names no issuer that accepts grants.";
    Cli LintFailed => "lint.failed", "`bundle build --deny-warnings` refused to write a bundle that has warnings.";
    Cli ServeOverloaded => "serve.overloaded", "`serve` has as many connections open as it allows (--max-connections): a new one is answered 503 with retry-after and closed.";
    Cli ServeUnauthenticated => "serve.unauthenticated", "A caller of `serve`'s decision endpoints presented no valid caller credential (--caller-token-file bearer token, or a client certificate from --client-ca): 401, nothing decided.";
    Cli ServeRateLimited => "serve.rate_limited", "A caller of `serve`'s decision endpoints is over --rate-limit: 429 with retry-after, nothing decided.";
    Cli ConfigInvalid => "config.invalid", "A `serve --config` file names a setting serve does not have, or gives one a value of the wrong shape.";
    Cli TlsInvalid => "tls.invalid", "A --tls-cert, --tls-key or --client-ca file of `serve` is not PEM of a usable certificate or key, or the key does not match the certificate.";
}

/// Serialized as its wire form (`as_str`), so a code can sit in a JSON document as is.
impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who raises a [`Code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// The decision pipeline: the code can be a deny reason of a decision.
    Decision,
    /// The portable module's ABI layer (an error document, not a decision).
    Module,
    /// Grant and token minting (`mint_json`, the issuer API).
    Minting,
    /// A host: loading the module or a bundle, I/O, randomness.
    Host,
    /// The audit log.
    Audit,
    /// The `mandate` command line and its decision service (`mandate serve`): its own input and
    /// output errors. Codes the CLI reports that another origin raises keep that origin.
    Cli,
}

impl Origin {
    /// A short name for the table.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Origin::Decision => "decision",
            Origin::Module => "module",
            Origin::Minting => "minting",
            Origin::Host => "host",
            Origin::Audit => "audit",
            Origin::Cli => "cli",
        }
    }
}

/// One reason for a decision: a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The stable code.
    pub code: Code,
    /// A human message; never compared by tests.
    pub message: String,
}

impl Reason {
    /// A reason with the given code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Reason {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// Shorthand for building a [`Reason`].
pub(crate) fn reason(code: Code, message: impl Into<String>) -> Reason {
    Reason::new(code, message)
}
