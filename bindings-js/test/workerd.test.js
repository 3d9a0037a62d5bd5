// The Cloudflare Worker example (examples/cloudflare-worker) served by the real workerd runtime
// with its hand-written capnp config: two Worker nodes behind one public name, a shared Durable
// Object replay store, and a loopback upstream. Exercised over HTTP: allowed, denied with several
// codes, a replay on the same node and a replay across nodes.

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
// The name both nodes serve; agents sign their proofs for it.
const PUBLIC_ORIGIN = 'https://api.example.com';

let world;
let root;
const nodes = {};
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
  nodes.a = `http://127.0.0.1:${await freePort()}`;
  nodes.b = `http://127.0.0.1:${await freePort()}`;
  workerd = spawn(
    WORKERD,
    [
      'serve',
      CONFIG,
      '--socket-addr',
      `http-a=${nodes.a.slice('http://'.length)}`,
      '--socket-addr',
      `http-b=${nodes.b.slice('http://'.length)}`,
      '--external-addr',
      `upstream=127.0.0.1:${upstream.address().port}`,
    ],
    { env: { ...process.env, MANDATE_CONFIG: JSON.stringify(world.config), PUBLIC_ORIGIN }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  workerd.stdout.on('data', (d) => (workerdLog += d));
  workerd.stderr.on('data', (d) => (workerdLog += d));
  for (const base of Object.values(nodes)) await waitForHttp(`${base}/ready`, () => workerd.exitCode === null, () => workerdLog);
});

after(async () => {
  if (workerd && workerd.exitCode === null) {
    process.kill(-workerd.pid, 'SIGTERM');
    await new Promise((resolve) => workerd.once('exit', resolve));
  }
  await new Promise((resolve) => upstream?.close(resolve));
});

const trusted = { 'cf-connecting-ip': '10.20.0.7' };

/** Credentials for `path` on the public name, sent to one node. */
async function send(node, path, { agent = new MandateAgent({ key: world.travel, delegation: [root] }), method = 'GET', headers = trusted, body } = {}) {
  const creds = await agent.headers(method, `${PUBLIC_ORIGIN}${path}`);
  return fetch(`${nodes[node]}${path}`, { method, body, headers: { ...creds, ...headers } });
}

describe('Cloudflare Worker on workerd', () => {
  test('an agent with a delegation and a proof reaches the upstream, without its credentials', async () => {
    const before = seen.length;
    const res = await send('a', '/v1/secrets/db?version=2');
    assert.equal(res.status, 200, workerdLog);
    assert.deepEqual(await res.json(), { upstream: true, path: '/v1/secrets/db?version=2', agent: 'agent:travel' });
    assert.equal(seen.length, before + 1);
    const got = seen.at(-1).headers;
    assert.equal(got['mandate-user'], 'alice');
    assert.equal(got.authorization, undefined);
    assert.equal(got.dpop, undefined);
    assert.equal((await send('b', '/v1/secrets/db')).status, 200);
  });

  test('denials answer 403 JSON with their reason code and never reach the upstream', async () => {
    const before = seen.length;
    const expired = await delegate(world, { iat: world.now - 7200, exp: world.now - 3600 });
    const cases = [
      ['no credentials', () => fetch(`${nodes.a}/v1/secrets/db`, { headers: trusted }), 'credentials.missing'],
      ['untrusted network', () => send('a', '/v1/secrets/db', { headers: { 'cf-connecting-ip': '192.0.2.1' } }), 'policy.denied'],
      ['write with a read delegation', () => send('b', '/v1/secrets/db', { method: 'PUT', body: 'x' }), 'delegation.scope_insufficient'],
      ['expired delegation', () => send('a', '/v1/secrets/db', { agent: new MandateAgent({ key: world.travel, delegation: [expired] }) }), 'token.expired'],
      [
        'proof for another path',
        async () => fetch(`${nodes.a}/v1/secrets/other`, { headers: { ...(await new MandateAgent({ key: world.travel, delegation: [root] }).headers('GET', `${PUBLIC_ORIGIN}/v1/secrets/db`)), ...trusted } }),
        'proof.uri_mismatch',
      ],
      [
        'proof not bound to the presented token',
        async () => {
          const proof = await createProof({ key: world.travel, method: 'GET', url: `${PUBLIC_ORIGIN}/v1/secrets/db`, token: 'another.token.here' });
          return fetch(`${nodes.b}/v1/secrets/db`, { headers: { authorization: `DPoP ${root}`, dpop: proof, ...trusted } });
        },
        'proof.token_mismatch',
      ],
    ];
    for (const [name, go, code] of cases) {
      const res = await go();
      assert.equal(res.status, 403, name);
      assert.match(res.headers.get('content-type'), /application\/json/, name);
      const body = await res.json();
      assert.equal(body.error, 'forbidden', name);
      assert.equal(body.code, code, `${name}: ${JSON.stringify(body.reasons)}`);
    }
    assert.equal(seen.length, before);
  });

  test('a replayed request is 403 replay.detected, on the same node and on the other', async () => {
    const agent = new MandateAgent({ key: world.travel, delegation: [root] });
    const headers = { ...(await agent.headers('GET', `${PUBLIC_ORIGIN}/v1/secrets/db`)), ...trusted };
    const first = await fetch(`${nodes.a}/v1/secrets/db`, { headers });
    assert.equal(first.status, 200);
    const before = seen.length;
    for (const node of ['a', 'b']) {
      const again = await fetch(`${nodes[node]}/v1/secrets/db`, { headers });
      assert.equal(again.status, 403, node);
      assert.equal((await again.json()).code, 'replay.detected', node);
    }
    assert.equal(seen.length, before);
  });
});
