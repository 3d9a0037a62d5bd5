// Interop with the `jose` library: tokens and proofs signed by jose decide as expected, and the
// tokens Mandate mints (delegations, sub-delegations, proofs, grants, bundles) verify with jose's
// jwtVerify / compactVerify given only the public JWK.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { EmbeddedJWK, SignJWT, calculateJwkThumbprint, compactVerify, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify } from 'jose';
import { Pdp, createProof, createSubdelegation, generateAgentKey } from 'mandate-pdp';
import { API, IDP, NOW, PDP_ISS, codes, delegate, makeWorld, publicOf, travelInput } from './world.js';

const at = new Date(NOW * 1000);
let world;
let agentKeys; // an agent key jose holds: extractable, registered as agent:travel
before(async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  agentKeys = { publicKey, privateKey, publicJwk: { ...(await exportJWK(publicKey)) } };
  // Re-mint the world's bundle with the jose-held key as agent:travel's key.
  world = await makeWorld({}, { now: NOW });
  const contents = structuredClone(world.contents);
  contents.agents[0].keys = [agentKeys.publicJwk];
  const { mint } = await import('mandate-pdp');
  world.config = { ...world.config, bundle: await mint({ kind: 'bundle', key: world.root, contents }) };
});

async function joseDelegation({ kid = 'idp-1', typ = 'at+jwt', key, scope = 'secrets:read', alg = 'ES256' } = {}) {
  const signingKey = key ?? (await importJWK(world.idp, 'ES256'));
  return new SignJWT({ scope, act: { sub: 'agent:travel' }, cnf: { jkt: await calculateJwkThumbprint(agentKeys.publicJwk) } })
    .setProtectedHeader({ alg, typ, kid })
    .setIssuer(IDP)
    .setSubject('alice')
    .setAudience(API)
    .setIssuedAt(NOW - 60)
    .setExpirationTime(NOW + 3600)
    .setJti(`jose-${Math.random()}`)
    .sign(signingKey);
}

async function joseProof(token, { url = `${API}/v1/secrets/db`, method = 'GET' } = {}) {
  const ath = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))).toString('base64url');
  const { kty, crv, x, y } = agentKeys.publicJwk;
  return new SignJWT({ htm: method, htu: url, ath })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: { kty, crv, x, y } })
    .setIssuedAt(NOW)
    .setJti(`p-${Math.random()}`)
    .sign(agentKeys.privateKey);
}

function input(token, proof) {
  return { now: NOW, request: { method: 'GET', uri: `${API}/v1/secrets/db`, ip: '10.20.0.7', action: 'secrets:read' }, credentials: { delegation: [token], proof } };
}

describe('signed by jose, decided by Mandate', () => {
  test('a jose delegation token and a jose DPoP proof are allowed', async () => {
    const pdp = await Pdp.load(world.config);
    const token = await joseDelegation();
    const d = await pdp.decide(input(token, await joseProof(token)));
    assert.deepEqual([d.decision, ...codes(d)], ['allow']);
    assert.equal(d.principal.user, 'alice');
  });

  test('a jose token under an unknown kid is token.key_unknown', async () => {
    const pdp = await Pdp.load(world.config);
    const token = await joseDelegation({ kid: 'idp-9' });
    const d = await pdp.decide(input(token, await joseProof(token)));
    assert.deepEqual([d.decision, ...codes(d)], ['deny', 'token.key_unknown']);
  });

  test('a jose token with typ JWT is token.typ_invalid', async () => {
    const pdp = await Pdp.load(world.config);
    const token = await joseDelegation({ typ: 'JWT' });
    const d = await pdp.decide(input(token, await joseProof(token)));
    assert.deepEqual([d.decision, ...codes(d)], ['deny', 'token.typ_invalid']);
  });

  test('a jose ES384 token is token.alg_not_allowed', async () => {
    const pdp = await Pdp.load(world.config);
    const { privateKey } = await generateKeyPair('ES384');
    const token = await joseDelegation({ alg: 'ES384', key: privateKey });
    const d = await pdp.decide(input(token, await joseProof(token)));
    assert.deepEqual([d.decision, ...codes(d)], ['deny', 'token.alg_not_allowed']);
  });

  test('a jose token signed by another key is token.signature_invalid', async () => {
    const pdp = await Pdp.load(world.config);
    const { privateKey } = await generateKeyPair('ES256');
    const token = await joseDelegation({ key: privateKey });
    const d = await pdp.decide(input(token, await joseProof(token)));
    assert.deepEqual([d.decision, ...codes(d)], ['deny', 'token.signature_invalid']);
  });

  test('a jose proof for another method is proof.method_mismatch', async () => {
    const pdp = await Pdp.load(world.config);
    const token = await joseDelegation();
    const d = await pdp.decide(input(token, await joseProof(token, { method: 'POST' })));
    assert.deepEqual([d.decision, ...codes(d)], ['deny', 'proof.method_mismatch']);
  });
});

describe('minted by Mandate, verified by jose', () => {
  test('a delegation token (core mint) verifies with the IdP public JWK', async () => {
    const token = await delegate(world, { agentJwk: agentKeys.publicJwk });
    const { payload, protectedHeader } = await jwtVerify(token, await importJWK(publicOf(world.idp), 'ES256'), { issuer: IDP, audience: API, typ: 'at+jwt', currentDate: at });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.cnf.jkt, await calculateJwkThumbprint(agentKeys.publicJwk));
  });

  test('an ephemeral grant verifies with the decision point public JWK', async () => {
    const pdp = await Pdp.load(world.config);
    const token = await joseDelegation();
    const d = await pdp.decide({ ...input(token, await joseProof(token)), mint_grant: { aud: API, ttl: 30 } });
    assert.equal(d.decision, 'allow');
    const { payload, protectedHeader } = await jwtVerify(d.grant, await importJWK(publicOf(world.grantKey), 'ES256'), { issuer: PDP_ISS, audience: API, typ: 'mandate-grant+jwt', currentDate: at });
    assert.equal(protectedHeader.kid, 'pdp-1');
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.act.sub, 'agent:travel');
    assert.equal(payload.decision_id, d.decision_id);
    assert.ok(payload.exp - payload.iat <= 30);
  });

  test('a tampered grant fails jose and Mandate alike', async () => {
    const pdp = await Pdp.load(world.config);
    const token = await joseDelegation();
    const d = await pdp.decide({ ...input(token, await joseProof(token)), mint_grant: { aud: API, ttl: 30 } });
    const [h, p, s] = d.grant.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url'));
    claims.sub = 'mallory';
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    await assert.rejects(jwtVerify(forged, await importJWK(publicOf(world.grantKey), 'ES256'), { currentDate: at }));
    const v = await (await Pdp.load(world.config)).verifyGrant(forged, input(token).request, { now: NOW });
    assert.deepEqual([v.decision, ...codes(v)], ['deny', 'grant.signature_invalid']);
  });

  test('a WebCrypto sub-delegation verifies with the delegating agent public JWK', async () => {
    const key = await generateAgentKey();
    const root = await delegate(world, { agentJwk: key.publicJwk });
    const hop = await createSubdelegation({ key, parent: root, agent: 'agent:helper', agentKey: publicOf(world.helper), scope: 'secrets:read', now: NOW });
    const { payload } = await jwtVerify(hop, await importJWK(key.publicJwk, 'ES256'), { typ: 'mandate-subdelegation+jwt', issuer: 'agent:travel', currentDate: at });
    assert.deepEqual(payload.act, { sub: 'agent:helper', act: { sub: 'agent:travel' } });
  });

  test('DPoP proofs from both signing paths verify with their embedded jwk', async () => {
    const webcrypto = await createProof({ key: await generateAgentKey(), method: 'GET', url: `${API}/a?b=c`, token: 'x.y.z', now: NOW });
    const core = await createProof({ key: world.helper, method: 'GET', url: `${API}/a?b=c`, token: 'x.y.z', now: NOW });
    for (const proof of [webcrypto, core]) {
      const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', currentDate: at });
      assert.equal(payload.htu, `${API}/a`);
      assert.equal(payload.ath, Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('x.y.z'))).toString('base64url'));
      assert.equal(protectedHeader.jwk.d, undefined);
    }
  });

  test('the bundle verifies with the trust key', async () => {
    const { protectedHeader } = await compactVerify(world.config.bundle, await importJWK(publicOf(world.root), 'ES256'));
    assert.equal(protectedHeader.typ, 'mandate-bundle+jwt');
    assert.equal(decodeProtectedHeader(world.config.bundle).kid, 'root-1');
  });
});

test('travelInput fixture still decides under the jose world (guards the fixture)', async () => {
  const w = await makeWorld();
  const d = await (await Pdp.load(w.config)).decide(await travelInput(w));
  assert.deepEqual([d.decision, ...codes(d)], ['allow']);
});
