//! Stable reason codes.
//!
//! Every deny carries at least one [`Code`]. Codes cross host boundaries (wasm, JS, Envoy headers,
//! HTTP bodies) and conformance vectors compare them, so a code's string never changes meaning.
//! `docs/reason-codes.md` is generated from this table (see the `reason_table` test).

use alloc::string::String;
use core::fmt;

macro_rules! codes {
    ($($variant:ident => $code:literal, $meaning:literal;)*) => {
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

            /// Parses the wire form.
            #[must_use]
            pub fn parse(s: &str) -> Option<Code> {
                match s { $($code => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    InputMalformed => "input.malformed", "The decide input is not valid JSON of the documented shape.";
    InputTooLarge => "input.too_large", "The decide input exceeds the size or nesting limit.";
    RequestInvalid => "request.invalid", "The request's method, URI, Host or path is missing, cannot be parsed, or is ambiguous (dot-segments, encoded slashes).";
    RequestUnrouted => "request.unrouted", "The binding has routes and none matches the request's method and normalized path.";
    RequestHeaderRepeated => "request.header_repeated", "A header that may appear once (Authorization, DPoP, Mandate-Chain, Host) was sent more than once (RFC 9449 §4.3).";
    BundleMissing => "bundle.missing", "No bundle, or no trust keys, were configured.";
    BundleTooLarge => "bundle.too_large", "The bundle exceeds the size or nesting limit.";
    BundleMalformed => "bundle.malformed", "The bundle is not a well-formed ES256 JWS of the bundle schema.";
    BundleUntrustedKey => "bundle.untrusted_key", "The bundle's kid names none of the configured trust keys.";
    BundleSignatureInvalid => "bundle.signature_invalid", "The bundle's signature does not verify.";
    BundleExpired => "bundle.expired", "The bundle's exp has passed.";
    BundleNotYetValid => "bundle.not_yet_valid", "The bundle's nbf is in the future.";
    BundlePolicyInvalid => "bundle.policy_invalid", "A Rego policy in the bundle does not parse or uses a forbidden builtin.";
    CredentialsMissing => "credentials.missing", "Neither a delegation with a proof nor a grant was presented.";
    CredentialsConflict => "credentials.conflict", "A grant and a delegation were presented together.";
    TokenTooLarge => "token.too_large", "A delegation token exceeds the size limit.";
    TokenMalformed => "token.malformed", "A delegation token is not a well-formed compact JWS with a JSON object payload.";
    TokenAlgNotAllowed => "token.alg_not_allowed", "A delegation token's alg is not ES256.";
    TokenHeaderInvalid => "token.header_invalid", "A delegation token's header has crit, an embedded or remote key, or a bad member.";
    TokenTypInvalid => "token.typ_invalid", "A delegation token's typ is not one its issuer is trusted for.";
    TokenIssuerUnknown => "token.issuer_unknown", "The token's iss is not a trusted issuer in the bundle.";
    TokenKeyUnknown => "token.key_unknown", "The token's kid names no key of its issuer.";
    TokenSignatureInvalid => "token.signature_invalid", "A delegation token's signature does not verify.";
    TokenClaimsInvalid => "token.claims_invalid", "A required claim is missing or of the wrong type.";
    TokenExpired => "token.expired", "A delegation token's exp has passed (clock skew allowed).";
    TokenNotYetValid => "token.not_yet_valid", "A delegation token's nbf or iat is in the future (clock skew allowed).";
    TokenAudienceInvalid => "token.audience_invalid", "The token's aud names no audience its issuer is trusted for.";
    TokenAudienceMismatch => "token.audience_mismatch", "The token's aud does not name this decision point (its configured audiences, or the request's origin).";
    TokenRevoked => "token.revoked", "A token's jti is on the bundle's revocation list.";
    AgentUnknown => "agent.unknown", "The acting agent is not in the registry.";
    AgentSuspended => "agent.suspended", "The agent's status is suspended.";
    AgentRevoked => "agent.revoked", "The agent's status is revoked, or its id is on the revocation list.";
    AgentKeyMismatch => "agent.key_mismatch", "cnf.jkt names no key registered to the agent.";
    AgentKeyRevoked => "agent.key_revoked", "The agent key's thumbprint is on the revocation list.";
    DelegationDelegatorNotAllowed => "delegation.delegator_not_allowed", "The person may not delegate to this agent.";
    DelegationScopeExceedsCeiling => "delegation.scope_exceeds_ceiling", "The delegated scopes or authorization_details exceed the agent's ceiling.";
    DelegationScopeInsufficient => "delegation.scope_insufficient", "The effective grant does not cover the request's action.";
    ChainParentMismatch => "chain.parent_mismatch", "A sub-delegation's parent hash does not match the token before it.";
    ChainDepthExceeded => "chain.depth_exceeded", "The chain is longer than the bundle or an agent allows.";
    ChainDelegateNotAllowed => "chain.delegate_not_allowed", "An agent sub-delegated to an agent outside its may_delegate_to.";
    ChainSignerMismatch => "chain.signer_mismatch", "A sub-delegation is not issued and signed by the previous hop's agent.";
    ChainSubjectMismatch => "chain.subject_mismatch", "A sub-delegation names a different person than its parent.";
    ChainScopeEscalation => "chain.scope_escalation", "A sub-delegation widens scope, authorization_details or audience.";
    ChainLifetimeExtended => "chain.lifetime_extended", "A sub-delegation outlives its parent.";
    ProofMissing => "proof.missing", "A delegation or a grant was presented without a DPoP proof.";
    ProofMalformed => "proof.malformed", "The proof is not a well-formed ES256 JWS with the required claims and header.";
    ProofTypInvalid => "proof.typ_invalid", "The proof's typ is not dpop+jwt.";
    ProofKeyMismatch => "proof.key_mismatch", "The proof's jwk is not the key in cnf.jkt.";
    ProofSignatureInvalid => "proof.signature_invalid", "The proof's signature does not verify.";
    ProofMethodMismatch => "proof.method_mismatch", "The proof's htm is not the request's method.";
    ProofUriMismatch => "proof.uri_mismatch", "The proof's htu is not the request's URI (RFC 9449 comparison).";
    ProofTokenMismatch => "proof.token_mismatch", "The proof's ath is not the hash of the presented token.";
    ProofStale => "proof.stale", "The proof's iat is outside the bundle's proof window.";
    ProofBodyMismatch => "proof.body_mismatch", "The proof binds a body digest other than the request's.";
    GrantMalformed => "grant.malformed", "The grant is not a well-formed ES256 JWS of the grant schema.";
    GrantIssuerUnknown => "grant.issuer_unknown", "The grant's issuer or kid is not trusted for grants.";
    GrantSignatureInvalid => "grant.signature_invalid", "The grant's signature does not verify.";
    GrantExpired => "grant.expired", "The grant's exp has passed.";
    GrantNotYetValid => "grant.not_yet_valid", "The grant's iat is in the future.";
    GrantTtlExceeded => "grant.ttl_exceeded", "The grant lives longer than the bundle's grant max TTL.";
    GrantAudienceInvalid => "grant.audience_invalid", "The grant's aud is not an audience this decision point accepts.";
    GrantRequestMismatch => "grant.request_mismatch", "The grant is bound to another method, URI or action.";
    GrantMintUnavailable => "grant.mint_unavailable", "A grant was asked for but cannot be minted (no grant key, or bad parameters).";
    PolicyDenied => "policy.denied", "A guardrail's deny rule fired; the message is the rule's reason.";
    PolicyNotAllowed => "policy.not_allowed", "No guardrail allowed the request.";
    PolicyError => "policy.error", "Guardrail evaluation failed.";
    PolicyLimitExceeded => "policy.limit_exceeded", "Guardrail evaluation exceeded its time or size limit.";
    PolicyOutputInvalid => "policy.output_invalid", "A guardrail returned allow, deny or obligations of the wrong type.";
    ObligationUnsupported => "obligation.unsupported", "A guardrail returned an obligation this decision point does not declare that it enforces.";
    ApprovalRequired => "approval.required", "A guardrail requires a person's approval for this action and none was presented.";
    ReplayDetected => "replay.detected", "A use-once jti (proof or grant) was already used.";
    ReplayStoreUnavailable => "replay.store_unavailable", "The host's replay store could not be reached; decided fail-closed.";
    HostLimitExceeded => "host.limit_exceeded", "The host stopped the module (fuel, memory or time).";
    InternalError => "internal.error", "An internal invariant failed; decided fail-closed.";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
