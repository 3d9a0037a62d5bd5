// The package API on Node: load, decide, replay store duties, grants, proofs and sub-delegations
// made with WebCrypto keys and with JWKs. Every assertion checks the decision AND its reason codes.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  MandateAgent,
  MemoryReplayStore,
  Pdp,
  RedisReplayStore,
  createProof,
  createSubdelegation,
  generateAgentKey,
  mint,
} from 'mandate-pdp';
import { API, NOW, codes, delegate, makeWorld, publicOf, travelInput } from './world.js';

let world;
before(async () => {
  world = await makeWorld();
});

describe('loading', () => {
  test('a good bundle loads and reports its revision', async () => {
    const pdp = await Pdp.load(world.config);
    assert.equal(pdp.status.ok, true);
    assert.equal(pdp.status.bundle.revision, 'test-1');
  });

  test('a bundle signed by an untrusted key loads as a deny-everything engine', async () => {
    const other = await makeWorld({}, { signer: 'rogue' });
    const pdp = await Pdp.load({ ...world.config, trust_keys: other.config.trust_keys });
    assert.equal(pdp.status.ok, false);
    assert.equal(pdp.status.error.code, 'bundle.signature_invalid');
    const d = await pdp.decide(await travelInput(world));
    assert.equal(d.decision, 'deny');
    assert.deepEqual(codes(d), ['bundle.signature_invalid']);
  });

  test('config may be given as a JSON string or bytes', async () => {
    const text = JSON.stringify(world.config);
    for (const config of [text, new TextEncoder().encode(text)]) {
      const pdp = await Pdp.load(config);
      assert.equal(pdp.status.ok, true);
    }
  });
});

describe('deciding', () => {
  test('a delegation with a WebCrypto-signed proof is allowed', async () => {
    const pdp = await Pdp.load(world.config);
    const d = await pdp.decide(await travelInput(world));
    assert.equal(d.decision, 'allow');
    assert.deepEqual(codes(d), []);
    assert.equal(d.principal.agent, 'agent:travel');
    assert.equal(d.principal.user, 'alice');
    assert.equal(d.use_once.length, 1);
    assert.equal(d.use_once[0].kind, 'proof');
  });

  test('deny codes come from the core, first cause first', async () => {
    const pdp = await Pdp.load(world.config);
    const cases = [
      ['untrusted network', await travelInput(world, { ip: '192.0.2.1' }), ['policy.denied']],
      ['scope not delegated', await travelInput(world, { action: 'payments:send' }), ['delegation.scope_insufficient']],
      ['proof for another URL', { ...(await travelInput(world)), request: { method: 'GET', uri: `${API}/v1/other`, ip: '10.20.0.7', action: 'secrets:read' } }, ['proof.uri_mismatch']],
      ['stale proof', await travelInput(world, { proofNow: NOW - 600 }), ['proof.stale']],
      ['expired delegation', await travelInput(world, { token: await delegate(world, { iat: NOW - 7200, exp: NOW - 3600 }) }), ['token.expired']],
      ['no credentials', { now: NOW, request: { method: 'GET', uri: `${API}/x` }, credentials: {} }, ['credentials.missing']],
    ];
    for (const [name, input, want] of cases) {
      const d = await pdp.decide(input);
      assert.equal(d.decision, 'deny', name);
      assert.deepEqual(codes(d), want, name);
    }
  });

  test('a suspended agent is denied', async () => {
    const pdp = await Pdp.load(world.config);
    const token = await delegate(world, { agent: 'agent:idle', agentJwk: world.idle.publicJwk, scope: 'secrets:read' });
    const proof = await createProof({ key: world.idle, method: 'GET', url: `${API}/v1/secrets/db`, token, now: NOW });
    const d = await pdp.decide({ now: NOW, request: { method: 'GET', uri: `${API}/v1/secrets/db`, ip: '10.20.0.7', action: 'secrets:read' }, credentials: { delegation: [token], proof } });
    assert.equal(d.decision, 'deny');
    assert.deepEqual(codes(d), ['agent.suspended']);
  });

  test('guardrails see the host context and set obligations; the core enforces them', async () => {
    const pdp = await Pdp.load(world.config);
    const token = await delegate(world, { scope: 'payments:send' });
    // require_approval is a deny until approvals exist, whatever the host enforces.
    for (const enforces of [undefined, ['require_approval']]) {
      const d = await pdp.decide({ ...(await travelInput(world, { token, method: 'POST', url: `${API}/v1/payments`, action: 'payments:send' })), enforces });
      assert.equal(d.decision, 'deny');
      assert.deepEqual(codes(d), ['approval.required']);
      assert.deepEqual(d.obligations, { require_approval: true });
    }
    // Another obligation is a deny unless the host declares it enforces it; then it is the host's.
    const unsupported = await pdp.decide(await travelInput(world, { context: { export: true } }));
    assert.deepEqual([unsupported.decision, ...codes(unsupported)], ['deny', 'obligation.unsupported']);
    const enforced = await pdp.decide({ ...(await travelInput(world, { context: { export: true } })), enforces: ['watermark'] });
    assert.deepEqual([enforced.decision, ...codes(enforced)], ['allow']);
    assert.deepEqual(enforced.obligations, { watermark: 'alice' });
  });

  test('a pre-serialised input is passed through untouched', async () => {
    const pdp = await Pdp.load(world.config);
    const input = JSON.stringify(await travelInput(world));
    const raw = new TextDecoder().decode(pdp.decideWithoutReplayCheck(input));
    const bytes = new TextDecoder().decode(await pdp.decideBytes(input));
    assert.equal(bytes, raw);
    assert.equal(JSON.parse(bytes).decision, 'allow');
  });

  test('now defaults to the host clock', async () => {
    const pdp = await Pdp.load(world.config);
    const input = await travelInput(world);
    delete input.now;
    const d = await pdp.decide(input);
    // The fixture's proof was made at NOW (2026-01-01); the host clock is later, so it is stale
    // (or the bundle has expired), which shows the clock was supplied and read.
    assert.equal(d.decision, 'deny');
    assert.ok(['proof.stale', 'bundle.expired', 'token.expired'].includes(codes(d)[0]), codes(d).join());
  });
});

describe('replay store', () => {
  test('the same proof twice: the second is replay.detected', async () => {
    const pdp = await Pdp.load(world.config);
    const input = await travelInput(world);
    assert.equal((await pdp.decide(input)).decision, 'allow');
    const again = await pdp.decide(input);
    assert.equal(again.decision, 'deny');
    assert.deepEqual(codes(again), ['replay.detected']);
    assert.deepEqual(again.use_once, []);
  });

  test('the store is consulted for every allow, and only allows', async () => {
    const seen = [];
    const store = { claim: async (entries, now) => (seen.push({ entries, now }), []) };
    const pdp = await Pdp.load(world.config, { replayStore: store });
    await pdp.decide(await travelInput(world));
    await pdp.decide(await travelInput(world));
    await pdp.decide(await travelInput(world, { ip: '192.0.2.1' }));
    assert.equal(seen.length, 2);
    assert.equal(seen[0].now, NOW);
    assert.match(seen[0].entries[0].jti, /^[A-Za-z0-9_-]{43}:/);
  });

  test('a store that throws denies fail-closed with replay.store_unavailable', async () => {
    const errors = [];
    const store = { claim: async () => { throw new Error('redis down'); } };
    const pdp = await Pdp.load(world.config, { replayStore: store, onStoreError: (e) => errors.push(e.message) });
    const d = await pdp.decide(await travelInput(world));
    assert.equal(d.decision, 'deny');
    assert.deepEqual(codes(d), ['replay.store_unavailable']);
    assert.deepEqual(errors, ['redis down']);
  });

  test('a store that answers nonsense is treated as unavailable', async () => {
    const pdp = await Pdp.load(world.config, { replayStore: { claim: async () => 'OK' } });
    const d = await pdp.decide(await travelInput(world));
    assert.deepEqual([d.decision, ...codes(d)], ['deny', 'replay.store_unavailable']);
  });

  test('a store may share one jti space between decision points', async () => {
    const store = new MemoryReplayStore();
    const a = await Pdp.load(world.config, { replayStore: store });
    const b = await Pdp.load(world.config, { replayStore: store });
    const input = await travelInput(world);
    assert.equal((await a.decide(input)).decision, 'allow');
    assert.deepEqual(codes(await b.decide(input)), ['replay.detected']);
  });

  test('MemoryReplayStore forgets entries once expired', async () => {
    const store = new MemoryReplayStore();
    assert.deepEqual(await store.claim([{ jti: 'a', exp: 100, kind: 'proof' }], 50), []);
    assert.deepEqual(await store.claim([{ jti: 'a', exp: 100, kind: 'proof' }], 60), ['a']);
    assert.deepEqual(await store.claim([{ jti: 'a', exp: 200, kind: 'proof' }], 101), []);
    assert.equal(store.size, 1);
  });

  test('a store remembering since a start refuses proofs issued before it (replay.history_unknown)', async () => {
    const store = new MemoryReplayStore({ rememberingSince: NOW });
    assert.equal(store.remembersSince, NOW);
    const pdp = await Pdp.load(world.config, { replayStore: store });
    const before = await travelInput(world, { proofNow: NOW - 1 });
    const d = await pdp.decide(before);
    assert.deepEqual([d.decision, ...codes(d)], ['deny', 'replay.history_unknown']);
    // Pre-serialised, the same: replay_since is spliced in, the bytes otherwise as given.
    const bytes = await pdp.decideBytes(new TextEncoder().encode(`  ${JSON.stringify(before)}`));
    const parsed = JSON.parse(new TextDecoder().decode(bytes));
    assert.deepEqual([parsed.decision, ...codes(parsed)], ['deny', 'replay.history_unknown']);
    // An input naming an earlier replay_since is held to the store's; a later one stands.
    const earlier = await pdp.decide({ ...before, replay_since: NOW - 100 });
    assert.deepEqual([earlier.decision, ...codes(earlier)], ['deny', 'replay.history_unknown']);
    const later = await pdp.decide({ ...(await travelInput(world)), replay_since: NOW + 1 });
    assert.deepEqual([later.decision, ...codes(later)], ['deny', 'replay.history_unknown']);
    // Pre-serialised with an earlier replay_since: refused as malformed, never widened.
    const dup = await pdp.decide(JSON.stringify({ ...before, replay_since: NOW - 100 }));
    assert.deepEqual([dup.decision, ...codes(dup)], ['deny', 'input.malformed']);
    // Issued at the start or after: allowed.
    const fresh = await pdp.decide(await travelInput(world));
    assert.deepEqual([fresh.decision, ...codes(fresh)], ['allow']);
    assert.throws(() => new MemoryReplayStore({ rememberingSince: 1.5 }), TypeError);
  });

  test('RedisReplayStore issues SET NX PX per entry, the TTL relative to now (node-redis client shape)', async () => {
    const db = new Map();
    const calls = [];
    const client = {
      async set(key, value, opts) {
        calls.push([key, value, opts]);
        if (opts.NX && db.has(key)) return null;
        db.set(key, value);
        return 'OK';
      },
    };
    const pdp = await Pdp.load(world.config, { replayStore: new RedisReplayStore({ client }) });
    const input = await travelInput(world);
    assert.equal((await pdp.decide(input)).decision, 'allow');
    assert.deepEqual(codes(await pdp.decide(input)), ['replay.detected']);
    assert.equal(calls.length, 2);
    assert.match(calls[0][0], /^mandate:jti:proof:/);
    assert.equal(calls[0][2].NX, true);
    // Through the whole second of exp (NOW + 60 + 30), counted from the decision's now.
    assert.equal(calls[0][2].PX, (60 + 30 + 1) * 1000);
    assert.equal(calls[0][2].EXAT, undefined);
  });
});

describe('ephemeral grants', () => {
  test('mint on allow, verify offline, single use, bound to the request', async () => {
    const pdp = await Pdp.load(world.config);
    const d = await pdp.decide(await travelInput(world, { mint_grant: { aud: API, ttl: 30 } }));
    assert.equal(d.decision, 'allow');
    assert.equal(typeof d.grant, 'string');
    const request = { method: 'GET', uri: `${API}/v1/secrets/db`, ip: '10.20.0.7', action: 'secrets:read' };
    // A grant is bound to the agent's key: each use carries a fresh proof naming the grant.
    const proofFor = (now, req = request, key = world.travel) => createProof({ key, method: req.method, url: req.uri, token: d.grant, now });
    const rs = await Pdp.load(world.config);
    const ok = await rs.verifyGrant(d.grant, request, { now: NOW + 5, proof: await proofFor(NOW + 5) });
    assert.equal(ok.decision, 'allow');
    assert.deepEqual(codes(ok), []);
    assert.equal(ok.principal.agent, 'agent:travel');
    assert.equal(ok.use_once.length, 2);
    const twice = await rs.verifyGrant(d.grant, request, { now: NOW + 6, proof: await proofFor(NOW + 6) });
    assert.deepEqual([twice.decision, ...codes(twice)], ['deny', 'replay.detected']);
    const deleting = { ...request, method: 'DELETE' };
    const other = await (await Pdp.load(world.config)).verifyGrant(d.grant, deleting, { now: NOW + 5, proof: await proofFor(NOW + 5, deleting) });
    assert.deepEqual([other.decision, ...codes(other)], ['deny', 'grant.request_mismatch']);
    const late = await (await Pdp.load(world.config)).verifyGrant(d.grant, request, { now: NOW + 600, proof: await proofFor(NOW + 600) });
    assert.deepEqual([late.decision, ...codes(late)], ['deny', 'grant.expired']);
    const bare = await (await Pdp.load(world.config)).verifyGrant(d.grant, request, { now: NOW + 5 });
    assert.deepEqual([bare.decision, ...codes(bare)], ['deny', 'proof.missing']);
    const stranger = await (await Pdp.load(world.config)).verifyGrant(d.grant, request, { now: NOW + 5, proof: await proofFor(NOW + 5, request, world.helper) });
    assert.deepEqual([stranger.decision, ...codes(stranger)], ['deny', 'proof.key_mismatch']);
  });

  test('a decision point without a grant key cannot mint', async () => {
    const { grant_key: _, ...config } = world.config;
    const pdp = await Pdp.load(config);
    const d = await pdp.decide(await travelInput(world, { mint_grant: { aud: API, ttl: 30 } }));
    assert.deepEqual([d.decision, ...codes(d)], ['deny', 'grant.mint_unavailable']);
  });
});

describe('agents', () => {
  test('sub-delegation signed with WebCrypto, proof by the core from a JWK', async () => {
    const pdp = await Pdp.load(world.config);
    const root = await delegate(world);
    const hop = await createSubdelegation({ key: world.travel, parent: root, agent: 'agent:helper', agentKey: publicOf(world.helper), scope: 'secrets:read', now: NOW, ttl: 300 });
    const url = `${API}/v1/secrets/db`;
    const proof = await createProof({ key: world.helper, method: 'GET', url, token: hop, now: NOW });
    const d = await pdp.decide({ now: NOW, request: { method: 'GET', uri: url, ip: '10.20.0.7', action: 'secrets:read' }, credentials: { delegation: [root, hop], proof } });
    assert.equal(d.decision, 'allow');
    assert.deepEqual(codes(d), []);
    assert.deepEqual(d.principal.chain, ['agent:travel', 'agent:helper']);
  });

  test('a hop that widens scope is chain.scope_escalation', async () => {
    const pdp = await Pdp.load(world.config);
    const root = await delegate(world, { scope: 'secrets:read' });
    const hop = await createSubdelegation({ key: world.travel, parent: root, agent: 'agent:helper', agentKey: publicOf(world.helper), scope: 'secrets:read payments:send', now: NOW });
    const proof = await createProof({ key: world.helper, method: 'GET', url: `${API}/v1/secrets/db`, token: hop, now: NOW });
    const d = await pdp.decide({ now: NOW, request: { method: 'GET', uri: `${API}/v1/secrets/db`, ip: '10.20.0.7', action: 'secrets:read' }, credentials: { delegation: [root, hop], proof } });
    assert.deepEqual([d.decision, ...codes(d)], ['deny', 'chain.scope_escalation']);
  });

  test('WebCrypto and core mint build the same sub-delegation claims', async () => {
    const key = await generateAgentKey({ extractable: true });
    const jwk = { ...(await crypto.subtle.exportKey('jwk', key.privateKey)) };
    const root = await delegate(world, { agentJwk: key.publicJwk });
    const args = { parent: root, agent: 'agent:helper', agentKey: publicOf(world.helper), scope: 'secrets:read', now: NOW, ttl: 60, jti: 'same' };
    const viaWebCrypto = await createSubdelegation({ key, ...args });
    const viaCore = await createSubdelegation({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d }, ...args });
    const claims = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url'));
    const header = (t) => JSON.parse(Buffer.from(t.split('.')[0], 'base64url'));
    assert.deepEqual(claims(viaWebCrypto), claims(viaCore));
    assert.deepEqual(header(viaWebCrypto), header(viaCore));
  });

  test('MandateAgent presents its chain in headers the middleware reads back', async () => {
    const root = await delegate(world);
    const agent = new MandateAgent({ key: world.travel, delegation: [root] });
    const { token, chain } = await agent.subdelegate({ agent: 'agent:helper', agentKey: publicOf(world.helper), scope: 'secrets:read', now: NOW });
    const helper = new MandateAgent({ key: world.helper, delegation: chain });
    const url = `${API}/v1/secrets/db?v=2`;
    const headers = await helper.headers('GET', url, { now: NOW });
    assert.equal(headers.authorization, `DPoP ${token}`);
    assert.equal(headers['mandate-chain'], root);
    // The core's HTTP binding reads them back (the middleware hands it the request as received).
    const pdp = await Pdp.load(world.config);
    const d = await pdp.decideHttp({
      now: NOW,
      http: { method: 'GET', scheme: 'https', authority: 'api.example.com', path: '/v1/secrets/db?v=2', headers: Object.entries(headers), peer: '10.20.0.7:50000' },
      binding: { routes: [{ method: 'GET', path: '/v1/secrets/*', action: 'secrets:read' }] },
    });
    assert.deepEqual([d.decision, ...codes(d)], ['allow']);
    assert.deepEqual(d.principal.chain, ['agent:travel', 'agent:helper']);
    assert.deepEqual(d.audit.credentials.jti.length, 2);
  });

  test('a non-extractable key without its public JWK is refused clearly', async () => {
    const { privateKey } = await generateAgentKey();
    await assert.rejects(createProof({ key: privateKey, method: 'GET', url: `${API}/x`, token: 'a.b.c' }), /publicJwk/);
  });

  test('mint errors carry the core code', async () => {
    await assert.rejects(mint({ kind: 'nonsense', key: world.idp }), (e) => e.code === 'mint.invalid');
  });
});
