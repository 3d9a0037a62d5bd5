// The framework helpers against the real frameworks: Express over loopback HTTP with an agent
// using MandateAgent.fetch, Hono through app.request, and the MCP guard around an
// @modelcontextprotocol/sdk McpServer called by the SDK's Client over its in-memory transport.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import { Hono } from 'hono';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { z } from 'zod';
import { MandateAgent, Pdp, bodyDigest, createProof } from 'mandate-pdp';
import { mandateExpress } from 'mandate-pdp/express';
import { mandateHono } from 'mandate-pdp/hono';
import { guardMcpServer, toolCallUrl } from 'mandate-pdp/mcp';
import { delegate, makeWorld } from './world.js';

// Middleware decides with the host clock, so this world is minted around the real time.
let world;
let root;
before(async () => {
  world = await makeWorld({}, { now: Math.floor(Date.now() / 1000) });
  root = await delegate(world);
});

describe('Express middleware', () => {
  let server;
  let base;
  let pdp;
  before(async () => {
    pdp = await Pdp.load(world.config);
    const app = express();
    app.set('trust proxy', false);
    app.use(
      '/v1',
      mandateExpress(pdp, {
        action: (req) => (req.method === 'GET' ? 'secrets:read' : 'secrets:write'),
        ip: (req) => req.get('x-test-client-ip') ?? req.ip,
      }),
    );
    app.get('/v1/secrets/:name', (req, res) => res.json({ secret: req.params.name, agent: req.mandate.principal.agent, user: req.mandate.principal.user }));
    app.post('/v1/secrets/:name', (req, res) => res.json({ written: true }));
    await new Promise((resolve) => {
      server = app.listen(0, '127.0.0.1', resolve);
    });
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  const fromTrustedNet = { headers: { 'x-test-client-ip': '10.20.0.7' } };

  test('an agent with a delegation and a proof gets through, decision attached', async () => {
    const agent = new MandateAgent({ key: world.travel, delegation: [root] });
    const res = await agent.fetch(`${base}/v1/secrets/db?version=2`, fromTrustedNet);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { secret: 'db', agent: 'agent:travel', user: 'alice' });
  });

  test('the real client address is what the guardrail sees: loopback is untrusted', async () => {
    const agent = new MandateAgent({ key: world.travel, delegation: [root] });
    const res = await agent.fetch(`${base}/v1/secrets/db`);
    assert.equal(res.status, 403);
    const body = await res.json();
    assert.equal(body.code, 'policy.denied');
    assert.deepEqual(body.reasons.map((r) => r.code), ['policy.denied']);
  });

  test('an action outside the delegation is 403 delegation.scope_insufficient', async () => {
    const agent = new MandateAgent({ key: world.travel, delegation: [root] });
    const res = await agent.fetch(`${base}/v1/secrets/db`, { method: 'POST', ...fromTrustedNet });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).code, 'delegation.scope_insufficient');
  });

  test('a replayed request is 403 replay.detected', async () => {
    const agent = new MandateAgent({ key: world.travel, delegation: [root] });
    const url = `${base}/v1/secrets/db`;
    const headers = { ...(await agent.headers('GET', url)), ...fromTrustedNet.headers };
    assert.equal((await fetch(url, { headers })).status, 200);
    const again = await fetch(url, { headers });
    assert.equal(again.status, 403);
    assert.equal((await again.json()).code, 'replay.detected');
  });

  test('no credentials is 403 credentials.missing; a bearer token is not accepted', async () => {
    const none = await fetch(`${base}/v1/secrets/db`, fromTrustedNet);
    assert.equal(none.status, 403);
    assert.equal((await none.json()).code, 'credentials.missing');
    const bearer = await fetch(`${base}/v1/secrets/db`, { headers: { authorization: `Bearer ${root}`, ...fromTrustedNet.headers } });
    assert.equal((await bearer.json()).code, 'credentials.missing');
  });

  test('a token without its proof is 403 proof.missing', async () => {
    const res = await fetch(`${base}/v1/secrets/db`, { headers: { authorization: `DPoP ${root}`, ...fromTrustedNet.headers } });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).code, 'proof.missing');
  });

  test('a grant is accepted with Authorization: Mandate-Grant', async () => {
    const url = `${base}/v1/secrets/db`;
    const proof = await createProof({ key: world.travel, method: 'GET', url, token: root });
    const minted = await pdp.decide({
      request: { method: 'GET', uri: url, ip: '10.20.0.7', action: 'secrets:read' },
      credentials: { delegation: [root], proof },
      mint_grant: { aud: 'https://api.example.com', ttl: 30 },
    });
    assert.equal(minted.decision, 'allow');
    const res = await fetch(url, { headers: { authorization: `Mandate-Grant ${minted.grant}`, ...fromTrustedNet.headers } });
    assert.equal(res.status, 200);
    const again = await fetch(url, { headers: { authorization: `Mandate-Grant ${minted.grant}`, ...fromTrustedNet.headers } });
    assert.equal((await again.json()).code, 'replay.detected');
  });
});

describe('Hono middleware', () => {
  let app;
  before(async () => {
    const pdp = await Pdp.load(world.config);
    app = new Hono();
    app.use('/v1/*', mandateHono(pdp, { action: 'secrets:read', ip: (c) => c.req.header('x-test-client-ip') }));
    app.get('/v1/secrets/:name', (c) => c.json({ agent: c.get('mandate').principal.agent }));
  });

  test('allowed and denied requests', async () => {
    const agent = new MandateAgent({ key: world.travel, delegation: [root] });
    const url = 'https://api.example.com/v1/secrets/db';
    const headers = { ...(await agent.headers('GET', url)), 'x-test-client-ip': '10.20.0.7' };
    const ok = await app.request(url, { headers });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { agent: 'agent:travel' });
    const replay = await app.request(url, { headers });
    assert.equal(replay.status, 403);
    assert.equal((await replay.json()).code, 'replay.detected');
    const wrongUrl = await app.request('https://api.example.com/v1/secrets/other', { headers: { ...(await agent.headers('GET', url)), 'x-test-client-ip': '10.20.0.7' } });
    assert.equal(wrongUrl.status, 403);
    assert.equal((await wrongUrl.json()).code, 'proof.uri_mismatch');
  });
});

describe('body binding', () => {
  test('a body bound into the proof must be the body the server received', async () => {
    const pdp = await Pdp.load(world.config);
    const app = new Hono();
    app.use(
      '/v1/*',
      mandateHono(pdp, {
        action: 'secrets:read',
        ip: () => '10.20.0.7',
        bodyDigest: async (c) => bodyDigest(await c.req.arrayBuffer()),
      }),
    );
    app.post('/v1/notes', async (c) => c.json({ got: await c.req.text() }));
    const agent = new MandateAgent({ key: world.travel, delegation: [root], bindBody: true, fetch: (url, init) => app.request(url, init) });
    const url = 'https://api.example.com/v1/notes';
    const ok = await agent.fetch(url, { method: 'POST', body: '{"note":"hi"}' });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { got: '{"note":"hi"}' });
    // A proof made for one body, sent with another.
    const headers = await agent.headers('POST', url, { bodyDigest: await bodyDigest('{"note":"hi"}') });
    const swapped = await app.request(url, { method: 'POST', headers, body: '{"note":"pay mallory"}' });
    assert.equal(swapped.status, 403);
    assert.equal((await swapped.json()).code, 'proof.body_mismatch');
  });
});

describe('MCP guard', () => {
  let client;
  const ran = [];
  before(async () => {
    const pdp = await Pdp.load(world.config);
    const server = guardMcpServer(new McpServer({ name: 'files', version: '1.0.0' }), pdp, { context: () => ({ client: 'test' }) });
    server.registerTool('read_file', { description: 'Read a file', inputSchema: { path: z.string() } }, async ({ path }, extra) => {
      ran.push(['read_file', path, extra.mandate.principal.agent]);
      return { content: [{ type: 'text', text: `contents of ${path}` }] };
    });
    server.registerTool('delete_file', { description: 'Delete a file', inputSchema: { path: z.string() } }, async ({ path }) => {
      ran.push(['delete_file', path]);
      return { content: [{ type: 'text', text: 'deleted' }] };
    });
    server.registerTool('whoami', { description: 'No arguments' }, async (extra) => {
      ran.push(['whoami', extra.mandate.principal.user]);
      return { content: [{ type: 'text', text: extra.mandate.principal.user }] };
    });
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await server.connect(serverTransport);
    client = new Client({ name: 'agent', version: '1.0.0' });
    await client.connect(clientTransport);
  });
  after(() => client?.close());

  async function call(name, args, { token = root, ip = '10.20.0.7' } = {}) {
    const proof = await createProof({ key: world.travel, method: 'POST', url: toolCallUrl(name), token });
    return client.callTool({ name, arguments: args, _meta: { 'mandate/credentials': { delegation: [token], proof } } });
  }

  test('an allowed tool runs with the decision; the tool name and args reach the guardrails', async () => {
    const res = await call('read_file', { path: '/etc/motd' });
    assert.equal(res.isError, undefined);
    assert.equal(res.content[0].text, 'contents of /etc/motd');
    assert.deepEqual(ran.at(-1), ['read_file', '/etc/motd', 'agent:travel']);
  });

  test('a guardrail on the tool name denies without running the tool', async () => {
    const before = ran.length;
    const res = await call('delete_file', { path: '/etc/motd' });
    assert.equal(res.isError, true);
    assert.match(res.content[0].text, /policy\.denied/);
    assert.equal(res._meta['mandate/decision'].code, 'policy.denied');
    assert.equal(ran.length, before);
  });

  test('a tool outside the delegated scopes is denied', async () => {
    const narrow = await delegate(world, { scope: 'secrets:read' });
    const res = await call('read_file', { path: '/x' }, { token: narrow });
    assert.equal(res.isError, true);
    assert.equal(res._meta['mandate/decision'].code, 'delegation.scope_insufficient');
  });

  test('tools without input schema are guarded too; missing credentials are denied', async () => {
    const ok = await call('whoami', undefined);
    assert.equal(ok.content[0].text, 'alice');
    const none = await client.callTool({ name: 'whoami' });
    assert.equal(none.isError, true);
    assert.equal(none._meta['mandate/decision'].code, 'credentials.missing');
  });
});
