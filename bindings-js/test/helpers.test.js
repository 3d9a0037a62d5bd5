// The framework helpers against the real frameworks: Express and Hono (@hono/node-server) over
// loopback HTTP with an agent using MandateAgent.fetch and with raw requests (unnormalized paths,
// injected Hosts, repeated fields), Hono through app.request (its fetch path), and the MCP guard
// around an @modelcontextprotocol/sdk McpServer called by the SDK's Client over its in-memory
// transport. Every deny is checked in full: 403, x-mandate-reason, the JSON body.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import { Hono } from 'hono';
import { serve as serveHono } from '@hono/node-server';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { z } from 'zod';
import { MandateAgent, Pdp, bodyDigest, createProof } from 'mandate-pdp';
import { mandateExpress } from 'mandate-pdp/express';
import { mandateHono } from 'mandate-pdp/hono';
import { guardMcpServer, toolCallUrl } from 'mandate-pdp/mcp';
import { API, delegate, makeWorld } from './world.js';
import { rawRequest } from './net.js';
import { assertDenied } from './deny-assert.js';

// Middleware decides with the host clock, so this world is minted around the real time.
let world;
let root;
// Behind the loopback the decision point is named by its configured audience (the tokens' aud),
// not by the loopback origin the agent reaches it at.
let config;
before(async () => {
  world = await makeWorld({}, { now: Math.floor(Date.now() / 1000) });
  root = await delegate(world);
  config = { ...world.config, audiences: [API] };
});

const ROUTES = ['GET /v1/secrets/* secrets:read', 'POST /v1/secrets/* secrets:write', 'POST /v1/payments payments:send', 'GET /v2/secrets/* secrets:read'];
// The guardrail's watermark obligation is asked for with this header.
const exportContext = (get) => (get('x-export') ? { export: true } : undefined);

function expressApp(pdp, options) {
  const app = express();
  app.set('trust proxy', false);
  const mw = mandateExpress(pdp, { routes: ROUTES, context: (req) => exportContext((h) => req.get(h)), ...options });
  app.use('/v1', mw);
  app.use('/v2', mw);
  const show = (req, res) => res.json({ secret: req.params.name, agent: req.mandate.principal.agent, user: req.mandate.principal.user, obligations: res.locals.mandate.obligations });
  app.get('/v1/secrets/:name', show);
  app.get('/v2/secrets/:name', show);
  app.post('/v1/secrets/:name', (req, res) => res.json({ written: true }));
  app.post('/v1/payments', (req, res) => res.json({ paid: true }));
  return app;
}

function honoApp(pdp, options) {
  const app = new Hono();
  const mw = mandateHono(pdp, { routes: ROUTES, context: (c) => exportContext((h) => c.req.header(h)), ...options });
  app.use('/v1/*', mw);
  app.use('/v2/*', mw);
  const show = (c) => {
    const d = c.get('mandate');
    return c.json({ secret: c.req.param('name'), agent: d.principal.agent, user: d.principal.user, obligations: d.obligations });
  };
  app.get('/v1/secrets/:name', show);
  app.get('/v2/secrets/:name', show);
  app.post('/v1/secrets/:name', (c) => c.json({ written: true }));
  app.post('/v1/payments', (c) => c.json({ paid: true }));
  return app;
}

async function listen(framework, app) {
  const server =
    framework === 'express'
      ? await new Promise((resolve) => {
          const s = app.listen(0, '127.0.0.1', () => resolve(s));
        })
      : await new Promise((resolve) => {
          const s = serveHono({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
        });
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}

// The same middleware contract over real HTTP on loopback, Express and Hono (@hono/node-server).
for (const framework of ['express', 'hono']) {
  describe(`${framework} middleware over loopback HTTP`, () => {
    // `proxied`: the test is the one proxy in front (trustedHops 1, it sends X-Forwarded-For);
    // `direct`: the socket peer is the client.
    let proxied;
    let direct;
    let enforcing;
    let pdp;
    before(async () => {
      pdp = await Pdp.load(config);
      const make = framework === 'express' ? expressApp : honoApp;
      proxied = await listen(framework, make(pdp, { trustedHops: 1 }));
      direct = await listen(framework, make(pdp, {}));
      enforcing = await listen(framework, make(pdp, { trustedHops: 1, enforces: ['watermark'] }));
    });
    after(async () => {
      for (const s of [proxied, direct, enforcing]) await new Promise((resolve) => s?.server.close(resolve));
    });

    const fromTrustedNet = { headers: { 'x-forwarded-for': '10.20.0.7' } };
    const agentFor = (delegation = root) => new MandateAgent({ key: world.travel, delegation: [delegation] });
    /** Credentials for `method path` on `base` plus the trusted client address, as header pairs. */
    async function credentialPairs(base, method, path, agent = agentFor()) {
      return [...Object.entries(await agent.headers(method, `${base}${path}`)), ['X-Forwarded-For', '10.20.0.7']];
    }

    test('an agent with a delegation and a proof gets through, decision attached', async () => {
      const res = await agentFor().fetch(`${proxied.base}/v1/secrets/db?version=2`, fromTrustedNet);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { secret: 'db', agent: 'agent:travel', user: 'alice', obligations: {} });
    });

    test('the real client address is what the guardrail sees: loopback is untrusted, X-Forwarded-For is not read without trustedHops', async () => {
      await assertDenied(await agentFor().fetch(`${direct.base}/v1/secrets/db`), 'policy.denied');
      await assertDenied(await agentFor().fetch(`${direct.base}/v1/secrets/db`, fromTrustedNet), 'policy.denied');
    });

    test('an action outside the delegation is 403 delegation.scope_insufficient', async () => {
      await assertDenied(await agentFor().fetch(`${proxied.base}/v1/secrets/db`, { method: 'POST', ...fromTrustedNet }), 'delegation.scope_insufficient');
    });

    test('a replayed request is 403 replay.detected', async () => {
      const url = `${proxied.base}/v1/secrets/db`;
      const headers = { ...(await agentFor().headers('GET', url)), ...fromTrustedNet.headers };
      assert.equal((await fetch(url, { headers })).status, 200);
      await assertDenied(await fetch(url, { headers }), 'replay.detected');
    });

    test('no credentials is 403 credentials.missing; a bearer token is not accepted', async () => {
      await assertDenied(await fetch(`${proxied.base}/v1/secrets/db`, fromTrustedNet), 'credentials.missing');
      await assertDenied(await fetch(`${proxied.base}/v1/secrets/db`, { headers: { authorization: `Bearer ${root}`, ...fromTrustedNet.headers } }), 'credentials.missing');
    });

    test('a token without its proof is 403 proof.missing', async () => {
      await assertDenied(await fetch(`${proxied.base}/v1/secrets/db`, { headers: { authorization: `DPoP ${root}`, ...fromTrustedNet.headers } }), 'proof.missing');
    });

    test('a grant is accepted with Authorization: Mandate-Grant and a proof by the agent key; single use; never without the proof', async () => {
      const url = `${proxied.base}/v1/secrets/db`;
      const proof = await createProof({ key: world.travel, method: 'GET', url, token: root });
      const minted = await pdp.decide({
        request: { method: 'GET', uri: url, ip: '10.20.0.7', action: 'secrets:read' },
        credentials: { delegation: [root], proof },
        mint_grant: { aud: API, ttl: 30 },
      });
      assert.equal(minted.decision, 'allow');
      const withProof = async () => ({
        authorization: `Mandate-Grant ${minted.grant}`,
        dpop: await createProof({ key: world.travel, method: 'GET', url, token: minted.grant }),
        ...fromTrustedNet.headers,
      });
      await assertDenied(await fetch(url, { headers: { authorization: `Mandate-Grant ${minted.grant}`, ...fromTrustedNet.headers } }), 'proof.missing');
      const res = await fetch(url, { headers: await withProof() });
      assert.equal(res.status, 200);
      await assertDenied(await fetch(url, { headers: await withProof() }), 'replay.detected');
    });

    test('dot-segments and encoded dot-segments are 403 request.invalid, not routed', async () => {
      for (const path of ['/v1/secrets/../payments', '/v1/secrets/%2e%2e/payments', '/v1/secrets/.%2E/payments', '/v1/secrets/..%2fpayments', '/v1/secrets/./db']) {
        const headers = await credentialPairs(proxied.base, 'GET', path);
        await assertDenied(await rawRequest(proxied.base, { path, headers: [['Host', new URL(proxied.base).host], ...headers] }), 'request.invalid', path);
      }
    });

    test('an injected Host is 403 request.invalid', async () => {
      for (const host of ['api.example.com/v1/secrets/db?', 'user@api.example.com', 'api.example.com#x']) {
        const headers = await credentialPairs(proxied.base, 'GET', '/v1/secrets/db');
        const res = await rawRequest(proxied.base, { path: '/v1/secrets/db', headers: [['Host', host], ...headers] });
        // @hono/node-server refuses these Hosts itself (400) before any middleware runs.
        if (framework === 'hono' && res.status === 400) continue;
        await assertDenied(res, 'request.invalid', host);
      }
    });

    test('a pinned authority refuses another Host', async () => {
      const pinned = await listen(framework, (framework === 'express' ? expressApp : honoApp)(pdp, { trustedHops: 1, authority: new URL(proxied.base).host }));
      try {
        const path = '/v1/secrets/db';
        const ok = await rawRequest(pinned.base, { path, headers: [['Host', new URL(pinned.base).host], ...(await credentialPairs(pinned.base, 'GET', path))] });
        assert.equal(ok.status, 403);
        assert.equal(ok.headers['x-mandate-reason'], 'request.invalid');
        const same = await listen(framework, (framework === 'express' ? expressApp : honoApp)(pdp, { trustedHops: 1, authority: 'api.example.com' }));
        try {
          const res = await rawRequest(same.base, { path, headers: [['Host', 'api.example.com'], ...(await credentialPairs('http://api.example.com', 'GET', path))] });
          assert.equal(res.status, 200, res.text);
        } finally {
          await new Promise((resolve) => same.server.close(resolve));
        }
      } finally {
        await new Promise((resolve) => pinned.server.close(resolve));
      }
    });

    test('a repeated DPoP, Authorization or Mandate-Chain field is 403 request.header_repeated (rawHeaders, not the joined req.headers)', async () => {
      const path = '/v1/secrets/db';
      const host = ['Host', new URL(proxied.base).host];
      for (const name of ['DPoP', 'Authorization', 'Mandate-Chain']) {
        const headers = await credentialPairs(proxied.base, 'GET', path);
        const present = headers.find(([n]) => n.toLowerCase() === name.toLowerCase());
        // One token has no Mandate-Chain: send that field twice.
        const extra = present ? [[name.toLowerCase(), present[1]]] : [[name, root], [name.toLowerCase(), root]];
        const res = await rawRequest(proxied.base, { path, headers: [host, ...headers, ...extra] });
        await assertDenied(res, 'request.header_repeated', name);
      }
    });

    test('require_approval is 403 approval.required; the handler never runs', async () => {
      const token = await delegate(world, { scope: 'payments:send' });
      const res = await agentFor(token).fetch(`${proxied.base}/v1/payments`, { method: 'POST', ...fromTrustedNet });
      await assertDenied(res, 'approval.required');
    });

    test('an obligation the app does not enforce is 403 obligation.unsupported; declared in enforces, it reaches the app', async () => {
      const headers = { 'x-export': '1', ...fromTrustedNet.headers };
      await assertDenied(await agentFor().fetch(`${proxied.base}/v2/secrets/db`, { headers }), 'obligation.unsupported');
      const res = await agentFor().fetch(`${enforcing.base}/v2/secrets/db`, { headers });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { secret: 'db', agent: 'agent:travel', user: 'alice', obligations: { watermark: 'alice' } });
      // Declaring one obligation never lets approval through.
      const token = await delegate(world, { scope: 'payments:send' });
      await assertDenied(await agentFor(token).fetch(`${enforcing.base}/v1/payments`, { method: 'POST', ...fromTrustedNet }), 'approval.required');
    });
  });
}

describe('middleware options', () => {
  test('options of the old request mapping are refused, not ignored', async () => {
    const pdp = await Pdp.load(config);
    for (const make of [mandateExpress, mandateHono]) {
      for (const option of ['action', 'resource', 'ip', 'origin', 'url']) {
        assert.throws(() => make(pdp, { [option]: 'x' }), new RegExp(`\`${option}\` option is gone`));
      }
      assert.throws(() => make(pdp, { routes: ['GET /x'] }), /METHOD PATH-GLOB ACTION/);
      assert.throws(() => make(pdp, { trustedHops: -1 }), /trustedHops/);
    }
  });
});

describe('Hono middleware on a fetch runtime (app.request)', () => {
  let app;
  before(async () => {
    const pdp = await Pdp.load(world.config);
    app = new Hono();
    app.use('/v1/*', mandateHono(pdp, { routes: ['GET /v1/secrets/* secrets:read'], peer: (c) => c.req.header('x-test-client-ip') }));
    app.get('/v1/secrets/:name', (c) => c.json({ agent: c.get('mandate').principal.agent }));
  });

  test('allowed and denied requests', async () => {
    const agent = new MandateAgent({ key: world.travel, delegation: [root] });
    const url = 'https://api.example.com/v1/secrets/db';
    const headers = { ...(await agent.headers('GET', url)), 'x-test-client-ip': '10.20.0.7' };
    const ok = await app.request(url, { headers });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { agent: 'agent:travel' });
    await assertDenied(await app.request(url, { headers }), 'replay.detected');
    const wrongUrl = await app.request('https://api.example.com/v1/secrets/other', { headers: { ...(await agent.headers('GET', url)), 'x-test-client-ip': '10.20.0.7' } });
    await assertDenied(wrongUrl, 'proof.uri_mismatch');
  });
});

describe('body binding', () => {
  test('a body bound into the proof must be the body the server received', async () => {
    const pdp = await Pdp.load(world.config);
    const app = new Hono();
    app.use(
      '/v1/*',
      mandateHono(pdp, {
        routes: ['* /v1/* secrets:read'],
        peer: () => '10.20.0.7',
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
    await assertDenied(swapped, 'proof.body_mismatch');
  });
});

describe('MCP guard', () => {
  let client;
  let enforcing;
  const ran = [];

  async function guardedClient(pdp, options) {
    const server = guardMcpServer(new McpServer({ name: 'files', version: '1.0.0' }), pdp, {
      context: (name, args) => ({ client: 'test', ...(args?.export ? { export: true } : {}) }),
      ...options,
    });
    server.registerTool('read_file', { description: 'Read a file', inputSchema: { path: z.string(), export: z.boolean().optional() } }, async ({ path }, extra) => {
      ran.push(['read_file', path, extra.mandate.principal.agent, extra.mandate.obligations]);
      return { content: [{ type: 'text', text: `contents of ${path}` }] };
    });
    server.registerTool('delete_file', { description: 'Delete a file', inputSchema: { path: z.string() } }, async ({ path }) => {
      ran.push(['delete_file', path]);
      return { content: [{ type: 'text', text: 'deleted' }] };
    });
    server.registerTool('send_money', { description: 'Needs a person', inputSchema: { amount: z.number() } }, async ({ amount }) => {
      ran.push(['send_money', amount]);
      return { content: [{ type: 'text', text: 'sent' }] };
    });
    server.registerTool('whoami', { description: 'No arguments' }, async (extra) => {
      ran.push(['whoami', extra.mandate.principal.user]);
      return { content: [{ type: 'text', text: extra.mandate.principal.user }] };
    });
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await server.connect(serverTransport);
    const c = new Client({ name: 'agent', version: '1.0.0' });
    await c.connect(clientTransport);
    return c;
  }

  before(async () => {
    const pdp = await Pdp.load(config);
    client = await guardedClient(pdp, {});
    enforcing = await guardedClient(pdp, { enforces: ['watermark'] });
  });
  after(async () => {
    await client?.close();
    await enforcing?.close();
  });

  async function call(name, args, { token = root, via = client } = {}) {
    const proof = await createProof({ key: world.travel, method: 'POST', url: toolCallUrl(name), token });
    return via.callTool({ name, arguments: args, _meta: { 'mandate/credentials': { delegation: [token], proof } } });
  }

  function assertToolDenied(res, code, ranBefore) {
    assert.equal(res.isError, true);
    assert.match(res.content[0].text, new RegExp(`: ${code.replace('.', '\\.')}`));
    const meta = res._meta['mandate/decision'];
    assert.equal(meta.decision, 'deny');
    assert.equal(meta.code, code);
    assert.equal(meta.reasons[0].code, code);
    assert.match(meta.decision_id, /^[A-Za-z0-9_-]+$/);
    assert.equal(ran.length, ranBefore, 'the tool must not run');
  }

  test('an allowed tool runs with the decision; the tool name and args reach the guardrails', async () => {
    const res = await call('read_file', { path: '/etc/motd' });
    assert.equal(res.isError, undefined);
    assert.equal(res.content[0].text, 'contents of /etc/motd');
    assert.deepEqual(ran.at(-1), ['read_file', '/etc/motd', 'agent:travel', {}]);
  });

  test('a guardrail on the tool name denies without running the tool', async () => {
    assertToolDenied(await call('delete_file', { path: '/etc/motd' }), 'policy.denied', ran.length);
  });

  test('a tool outside the delegated scopes is denied', async () => {
    const narrow = await delegate(world, { scope: 'secrets:read' });
    assertToolDenied(await call('read_file', { path: '/x' }, { token: narrow }), 'delegation.scope_insufficient', ran.length);
  });

  test('tools without input schema are guarded too; missing credentials are denied', async () => {
    const ok = await call('whoami', undefined);
    assert.equal(ok.content[0].text, 'alice');
    assertToolDenied(await client.callTool({ name: 'whoami' }), 'credentials.missing', ran.length);
  });

  test('require_approval blocks the call with approval.required, even for a guard that enforces other obligations', async () => {
    for (const via of [client, enforcing]) {
      assertToolDenied(await call('send_money', { amount: 5 }, { via }), 'approval.required', ran.length);
    }
  });

  test('an obligation the guard does not enforce blocks the call (obligation.unsupported); declared in enforces, the handler gets it', async () => {
    assertToolDenied(await call('read_file', { path: '/srv/a', export: true }), 'obligation.unsupported', ran.length);
    const res = await call('read_file', { path: '/srv/a', export: true }, { via: enforcing });
    assert.equal(res.isError, undefined, JSON.stringify(res));
    assert.deepEqual(ran.at(-1), ['read_file', '/srv/a', 'agent:travel', { watermark: 'alice' }]);
  });

  test('the guard refuses its old ip option', async () => {
    const pdp = await Pdp.load(config);
    assert.throws(() => guardMcpServer(new McpServer({ name: 'x', version: '1' }), pdp, { ip: () => '10.20.0.7' }), /`ip` option is now `peer`/);
  });
});
