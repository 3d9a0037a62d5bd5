// The Cloudflare Worker example (examples/cloudflare-worker) served by the real workerd runtime
// with its hand-written capnp config: two Worker nodes behind one public name, a shared Durable
// Object replay store, and a loopback upstream. Exercised over HTTP: allowed, denied with several
// codes, a replay on the same node and a replay across nodes. Requests name the public host in
// `Host`, as the load balancer in front of the nodes forwards them; the Worker pins that host
// (and https, which ends at the balancer) through PUBLIC_ORIGIN.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MandateAgent, Pdp, createProof } from 'mandate-pdp';
import { delegate, makeWorld } from './world.js';
import { freePort, rawRequest, waitForHttp } from './net.js';
import { assertDenied } from './deny-assert.js';

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

/** One request to a node, under the public name (`host`) unless told otherwise. */
function hit(node, path, { method = 'GET', headers = {}, body, host = new URL(PUBLIC_ORIGIN).host } = {}) {
  return rawRequest(nodes[node], { method, path, body, headers: [['Host', host], ...Object.entries(headers)] });
}

/** Credentials for `path` on the public name, sent to one node. */
async function send(node, path, { agent = new MandateAgent({ key: world.travel, delegation: [root] }), method = 'GET', headers = trusted, body, host } = {}) {
  const creds = await agent.headers(method, `${PUBLIC_ORIGIN}${path}`);
  return hit(node, path, { method, body, host, headers: { ...creds, ...headers } });
}

describe('Cloudflare Worker on workerd', () => {
  test('an agent with a delegation and a proof reaches the upstream, without its credentials', async () => {
    const before = seen.length;
    const res = await send('a', '/v1/secrets/db?version=2');
    assert.equal(res.status, 200, workerdLog + res.text);
    assert.deepEqual(res.json(), { upstream: true, path: '/v1/secrets/db?version=2', agent: 'agent:travel' });
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
    // A grant for the public name, minted by a decision point with the same load config.
    const url = `${PUBLIC_ORIGIN}/v1/secrets/db`;
    const { grant } = await (await Pdp.load(world.config)).decide({
      request: { method: 'GET', uri: url, ip: '10.20.0.7', action: 'secrets:read' },
      credentials: { delegation: [root], proof: await createProof({ key: world.travel, method: 'GET', url, token: root }) },
      mint_grant: { aud: PUBLIC_ORIGIN, ttl: 30 },
    });
    assert.equal(typeof grant, 'string');
    const cases = [
      ['no credentials', () => hit('a', '/v1/secrets/db', { headers: trusted }), 'credentials.missing'],
      ['another Host than the public name', () => send('a', '/v1/secrets/db', { host: 'evil.example' }), 'request.invalid'],
      ['a grant without its proof', () => hit('b', '/v1/secrets/db', { headers: { authorization: `Mandate-Grant ${grant}`, ...trusted } }), 'proof.missing'],
      ['untrusted network', () => send('a', '/v1/secrets/db', { headers: { 'cf-connecting-ip': '192.0.2.1' } }), 'policy.denied'],
      ['write with a read delegation', () => send('b', '/v1/secrets/db', { method: 'PUT', body: 'x' }), 'delegation.scope_insufficient'],
      ['expired delegation', () => send('a', '/v1/secrets/db', { agent: new MandateAgent({ key: world.travel, delegation: [expired] }) }), 'token.expired'],
      [
        'proof for another path',
        async () => hit('a', '/v1/secrets/other', { headers: { ...(await new MandateAgent({ key: world.travel, delegation: [root] }).headers('GET', `${PUBLIC_ORIGIN}/v1/secrets/db`)), ...trusted } }),
        'proof.uri_mismatch',
      ],
      [
        'proof not bound to the presented token',
        async () => {
          const proof = await createProof({ key: world.travel, method: 'GET', url: `${PUBLIC_ORIGIN}/v1/secrets/db`, token: 'another.token.here' });
          return hit('b', '/v1/secrets/db', { headers: { authorization: `DPoP ${root}`, dpop: proof, ...trusted } });
        },
        'proof.token_mismatch',
      ],
    ];
    for (const [name, go, code] of cases) await assertDenied(await go(), code, name);
    assert.equal(seen.length, before);
  });

  test('a replayed request is 403 replay.detected, on the same node and on the other', async () => {
    const agent = new MandateAgent({ key: world.travel, delegation: [root] });
    const headers = { ...(await agent.headers('GET', `${PUBLIC_ORIGIN}/v1/secrets/db`)), ...trusted };
    const first = await hit('a', '/v1/secrets/db', { headers });
    assert.equal(first.status, 200);
    const before = seen.length;
    for (const node of ['a', 'b']) await assertDenied(await hit(node, '/v1/secrets/db', { headers }), 'replay.detected', node);
    assert.equal(seen.length, before);
  });
});
