// The MCP guard when tool calls arrive over HTTP (the SDK's web-standard streamable HTTP
// transport): the agent's MandateAgent.fetch is the client transport's fetch, so every POST
// carries `Authorization: DPoP` + a fresh `DPoP` proof, and the guard reads them from the
// request that carried the call and decides against that request's URL.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { z } from 'zod';
import { MandateAgent, Pdp } from 'mandate-pdp';
import { guardMcpServer } from 'mandate-pdp/mcp';
import { delegate, makeWorld } from './world.js';

const ENDPOINT = 'https://mcp.example.com/mcp';
let client;
const decided = [];

before(async () => {
  const world = await makeWorld({}, { now: Math.floor(Date.now() / 1000) });
  const pdp = await Pdp.load(world.config);
  const server = guardMcpServer(new McpServer({ name: 'files', version: '1.0.0' }), pdp, {
    ip: () => '10.20.0.7',
    onDecision: (d, name) => decided.push([name, d.decision, d.reasons.map((r) => r.code), d.audit?.request?.uri]),
  });
  server.registerTool('read_file', { inputSchema: { path: z.string() } }, async ({ path }, extra) => ({
    content: [{ type: 'text', text: `${path} for ${extra.mandate.principal.user}` }],
  }));
  server.registerTool('delete_file', { inputSchema: { path: z.string() } }, async () => ({ content: [{ type: 'text', text: 'deleted' }] }));
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), enableJsonResponse: true });
  await server.connect(transport);
  // No network: the agent's fetch hands each Request straight to the server transport.
  const agent = new MandateAgent({
    key: world.travel,
    delegation: [await delegate(world)],
    fetch: (url, init) => transport.handleRequest(new Request(url, init)),
  });
  client = new Client({ name: 'agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(ENDPOINT), { fetch: (url, init) => agent.fetch(url, init) }));
});

after(() => client?.close());

test('a tool call over HTTP is decided from its request headers and URL', async () => {
  const res = await client.callTool({ name: 'read_file', arguments: { path: '/srv/a.txt' } });
  assert.equal(res.isError, undefined, JSON.stringify(res));
  assert.equal(res.content[0].text, '/srv/a.txt for alice');
  assert.deepEqual(decided.at(-1), ['read_file', 'allow', [], ENDPOINT]);
});

test('the guardrail still sees the tool name over HTTP', async () => {
  const res = await client.callTool({ name: 'delete_file', arguments: { path: '/srv/a.txt' } });
  assert.equal(res.isError, true);
  assert.equal(res._meta['mandate/decision'].code, 'policy.denied');
  assert.deepEqual(decided.at(-1).slice(0, 3), ['delete_file', 'deny', ['policy.denied']]);
});
