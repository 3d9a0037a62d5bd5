// The Cloudflare Worker example (examples/cloudflare-worker) served by the real workerd runtime
// with its hand-written capnp config, in front of a loopback upstream, exercised over HTTP:
// allowed, denied with several codes, and a replay caught by the Durable Object replay store.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MandateAgent, createProof } from 'mandate-pdp';
import { delegate, makeWorld } from './world.js';
import { freePort, waitForHttp } from './net.js';

const WORKERD = fileURLToPath(new URL('../node_modules/.bin/workerd', import.meta.url));
const CONFIG = fileURLToPath(new URL('../../examples/cloudflare-worker/config.capnp', import.meta.url));

let world;
let root;
let base;
let workerd;
let workerdLog = '';
let upstream;
const seen = []; // what reached the upstream

before(async () => {
  world = await makeWorld({}, { now: Math.floor(Date.now() / 1000) });
  root = await delegate(world);
  upstream = createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ upstream: true, path: req.url, agent: req.headers['mandate-agent'] }));
  });
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  workerd = spawn(
    WORKERD,
    ['serve', CONFIG, '--socket-addr', `http=127.0.0.1:${port}`, '--external-addr', `upstream=127.0.0.1:${upstream.address().port}`],
    { env: { ...process.env, MANDATE_CONFIG: JSON.stringify(world.config) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  workerd.stdout.on('data', (d) => (workerdLog += d));
  workerd.stderr.on('data', (d) => (workerdLog += d));
  await waitForHttp(`${base}/ready`, () => workerd.exitCode === null, () => workerdLog);
});

after(async () => {
  if (workerd && workerd.exitCode === null) {
    process.kill(-workerd.pid, 'SIGTERM');
    await new Promise((resolve) => workerd.once('exit', resolve));
  }
  await new Promise((resolve) => upstream?.close(resolve));
});

const trusted = { 'cf-connecting-ip': '10.20.0.7' };

describe('Cloudflare Worker on workerd', () => {
  test('an agent with a delegation and a proof reaches the upstream, without its credentials', async () => {
    const agent = new MandateAgent({ key: world.travel, delegation: [root] });
    const before = seen.length;
    const res = await agent.fetch(`${base}/v1/secrets/db?version=2`, { headers: trusted });
    assert.equal(res.status, 200, workerdLog);
    assert.deepEqual(await res.json(), { upstream: true, path: '/v1/secrets/db?version=2', agent: 'agent:travel' });
    assert.equal(seen.length, before + 1);
    const got = seen.at(-1).headers;
    assert.equal(got['mandate-user'], 'alice');
    assert.equal(got.authorization, undefined);
    assert.equal(got.dpop, undefined);
  });

  test('denials answer 403 JSON with their reason code and never reach the upstream', async () => {
    const agent = new MandateAgent({ key: world.travel, delegation: [root] });
    const before = seen.length;
    const expired = await delegate(world, { iat: world.now - 7200, exp: world.now - 3600 });
    const cases = [
      ['no credentials', () => fetch(`${base}/v1/secrets/db`, { headers: trusted }), 'credentials.missing'],
      ['untrusted network', () => agent.fetch(`${base}/v1/secrets/db`, { headers: { 'cf-connecting-ip': '192.0.2.1' } }), 'policy.denied'],
      ['write with a read delegation', () => agent.fetch(`${base}/v1/secrets/db`, { method: 'PUT', body: 'x', headers: trusted }), 'delegation.scope_insufficient'],
      ['expired delegation', () => new MandateAgent({ key: world.travel, delegation: [expired] }).fetch(`${base}/v1/secrets/db`, { headers: trusted }), 'token.expired'],
      [
        'proof for another path',
        async () => fetch(`${base}/v1/secrets/other`, { headers: { ...(await agent.headers('GET', `${base}/v1/secrets/db`)), ...trusted } }),
        'proof.uri_mismatch',
      ],
      [
        'proof without its token binding',
        async () => {
          const proof = await createProof({ key: world.travel, method: 'GET', url: `${base}/v1/secrets/db`, token: 'another.token.here' });
          return fetch(`${base}/v1/secrets/db`, { headers: { authorization: `DPoP ${root}`, dpop: proof, ...trusted } });
        },
        'proof.token_mismatch',
      ],
    ];
    for (const [name, send, code] of cases) {
      const res = await send();
      assert.equal(res.status, 403, name);
      assert.match(res.headers.get('content-type'), /application\/json/, name);
      const body = await res.json();
      assert.equal(body.error, 'forbidden', name);
      assert.equal(body.code, code, `${name}: ${JSON.stringify(body.reasons)}`);
    }
    assert.equal(seen.length, before);
  });

  test('a replayed request is 403 replay.detected (Durable Object store)', async () => {
    const agent = new MandateAgent({ key: world.travel, delegation: [root] });
    const url = `${base}/v1/secrets/db`;
    const headers = { ...(await agent.headers('GET', url)), ...trusted };
    const first = await fetch(url, { headers });
    assert.equal(first.status, 200);
    const before = seen.length;
    const again = await fetch(url, { headers });
    assert.equal(again.status, 403);
    assert.equal((await again.json()).code, 'replay.detected');
    assert.equal(seen.length, before);
  });
});
