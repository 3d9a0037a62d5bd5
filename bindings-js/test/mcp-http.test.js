// The MCP guard when tool calls arrive over HTTP (the SDK's web-standard streamable HTTP
// transport): the agent's MandateAgent.fetch is the client transport's fetch, so every POST
// carries `Authorization: DPoP` + a fresh `DPoP` proof, and the guard hands the request that
// carried the call to the core's HTTP binding (decideHttp), which reads the credentials and
// decides against that request's URL.

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
let sent = 0;

before(async () => {
  const world = await makeWorld({}, { now: Math.floor(Date.now() / 1000) });
  // The tokens name https://api.example.com; this MCP endpoint is that decision point too.
  const pdp = await Pdp.load({ ...world.config, audiences: ['https://api.example.com'] });
  const server = guardMcpServer(new McpServer({ name: 'files', version: '1.0.0' }), pdp, {
    peer: () => '10.20.0.7',
    onDecision: (d, name) => decided.push([name, d.decision, d.reasons.map((r) => r.code), d.audit?.request?.uri, d.audit?.request?.action]),
  });
  server.registerTool('read_file', { inputSchema: { path: z.string() } }, async ({ path }, extra) => ({
    content: [{ type: 'text', text: `${path} for ${extra.mandate.principal.user}` }],
  }));
  server.registerTool('send_money', { inputSchema: { amount: z.number() } }, async () => {
    sent += 1;
    return { content: [{ type: 'text', text: 'sent' }] };
  });
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
  assert.deepEqual(decided.at(-1), ['read_file', 'allow', [], ENDPOINT, 'tool:read_file']);
});

test('the guardrail still sees the tool name over HTTP', async () => {
  const res = await client.callTool({ name: 'delete_file', arguments: { path: '/srv/a.txt' } });
  assert.equal(res.isError, true);
  assert.equal(res._meta['mandate/decision'].code, 'policy.denied');
  assert.deepEqual(decided.at(-1).slice(0, 3), ['delete_file', 'deny', ['policy.denied']]);
});

test('obligations are never dropped over HTTP: require_approval blocks the call with approval.required', async () => {
  const res = await client.callTool({ name: 'send_money', arguments: { amount: 5 } });
  assert.equal(res.isError, true);
  assert.equal(res._meta['mandate/decision'].code, 'approval.required');
  assert.deepEqual(decided.at(-1), ['send_money', 'deny', ['approval.required'], ENDPOINT, 'tool:send_money']);
  assert.equal(sent, 0);
});
