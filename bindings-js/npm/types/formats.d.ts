// The JSON documents of docs/formats.md under the names the package uses. Every document is the
// generated type (./wire.d.ts, made by `gen-schemas` from the core's own parser types and typed
// mirrors of what it emits); this file only names them and loosens what `Pdp` fills in itself
// (`now`, `mint_grant.jti`). Nothing is declared here by hand: a new document goes into
// gen-schemas, and pack.test.js fails on an interface written here.

import type * as Wire from './wire.js';

/** A stable reason code (docs/reason-codes.md), from the Rust table. */
export type ReasonCode = Wire.ReasonCode;
/** A public P-256 JWK (RFC 7517/7518). */
export type PublicJwk = Wire.PublicJwk;
/** A private P-256 JWK: the public members plus the scalar `d`. */
export type PrivateJwk = Wire.PrivateJwk;
/** What a decision point is loaded with. */
export type LoadConfig = Wire.LoadConfig;
/** The load status: the verified bundle's facts, or the `bundle.*` reason it did not load. */
export type LoadStatus = Wire.LoadStatus;
/** What the replacement rule compares of a verified bundle (`LoadStatus` when ok). */
export type BundleFacts = Wire.BundleFacts;
/** One cause of a deny (or of a failed load). */
export type Problem = Wire.Reason;
/** The request being authorized. */
export type RequestDescription = Wire.RequestSpec;
/** The credentials a request presents. */
export type Credentials = Wire.Credentials;
/** A grant to mint on allow. `Pdp.decide` fills `jti` with a random nonce when absent. */
export type MintGrantRequest = Omit<Wire.MintRequest, 'jti'> & { jti?: string };
/** Members `Pdp` fills in when absent: `now` from the host clock, `mint_grant.jti`. */
type HostFilled = { now?: number; mint_grant?: MintGrantRequest | null };
/** The decide input. */
export type DecideInput = Omit<Wire.DecideInput, 'now' | 'mint_grant'> & HostFilled;
/** The HTTP decide input (`Pdp.decideHttp`): the request as received, bound by the core. */
export type HttpDecideInput = Omit<Wire.HttpDecideInput, 'now' | 'mint_grant'> & HostFilled;
/** An HTTP request as the host received it. */
export type HttpRequest = Wire.HttpRequest;
/** Maps requests to actions. */
export type Route = Wire.Route;
/** The HTTP side of a decision point: routes and forwarded-hop trust. */
export type HttpBinding = Wire.Binding;
/** Who acted for whom. */
export type Principal = Wire.Principal;
/** A jti the host must record as used until `exp`. */
export type UseOnce = Wire.UseOnce;
/** An RFC 9396 authorization detail. */
export type AuthorizationDetail = Wire.AuthorizationDetail;
/** The audit record of a decision (docs/audit.md). */
export type AuditRecord = Wire.Audit;
/** The canonical decision document. */
export type Decision = Wire.Decision;
/** What a bundle JWS signs. */
export type BundleContents = Wire.Bundle;
/** A token issuer a bundle trusts. */
export type BundleIssuer = Wire.IssuerSpec;
/** A registered agent. */
export type AgentRecord = Wire.AgentSpec;
/** A bundle's settings. */
export type BundleSettings = Wire.Settings;
