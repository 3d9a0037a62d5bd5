// An MCP server whose tool calls are each authorized by Mandate on behalf of the user (the guardrails see the tool name and arguments), called by an agent through the MCP SDK client. Run: `cd examples/mcp-guard && npm install && node main.mjs` (after `bash scripts/build-js.sh`).

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { z } from 'zod';
import { Pdp, createProof, generateAgentKey, mint } from 'mandate-pdp';
import { guardMcpServer, toolCallUrl } from 'mandate-pdp/mcp';

const now = Math.floor(Date.now() / 1000);
const issuerKey = async (kid) => {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
  const { kty, crv, x, y, d } = await crypto.subtle.exportKey('jwk', pair.privateKey);
  return { kty, crv, x, y, d, kid };
};
const publicOf = ({ d, ...pub }) => pub;

// 1. The deployment. The guardrail reads the tool call: input.request.action is "tool:<name>",
//    input.context.tool is {name, arguments}.
const root = await issuerKey('root-1');
const idp = await issuerKey('idp-1');
const agentKey = await generateAgentKey();
const bundle = await mint({
  kind: 'bundle',
  key: root,
  contents: {
    revision: 'mcp-example-1',
    iat: now - 60,
    exp: now + 3600,
    issuers: [{ iss: 'https://idp.example.com', keys: [publicOf(idp)], audiences: ['https://mcp.example.com'] }],
    agents: [
      {
        id: 'agent:coder',
        owner: 'team-dev',
        status: 'active',
        keys: [agentKey.publicJwk],
        delegators: { users: ['alice'] },
        ceiling: { scopes: ['tool:read_file', 'tool:write_file', 'tool:delete_file'] },
      },
    ],
    policies: {
      'tools.rego': `package mandate
default allow := false
allow if input.user.id == "alice"
deny contains "only files under /home/alice" if not startswith(input.context.tool.arguments.path, "/home/alice/")
`,
    },
  },
});
// `audiences`: this decision point's name, the `aud` the delegations carry (in-process tool calls
// have no origin of their own: they are decided against https://mcp.invalid/tools/<name>).
const pdp = await Pdp.load({ bundle, trust_keys: [publicOf(root)], audiences: ['https://mcp.example.com'] });

// 2. The MCP server: guard it, then register tools as usual.
const server = guardMcpServer(new McpServer({ name: 'files', version: '1.0.0' }), pdp);
for (const name of ['read_file', 'write_file', 'delete_file']) {
  server.registerTool(name, { description: `${name} on alice's files`, inputSchema: { path: z.string() } }, async ({ path }, extra) => ({
    content: [{ type: 'text', text: `${name}(${path}) done for ${extra.mandate.principal.user} by ${extra.mandate.principal.agent}` }],
  }));
}

// 3. Alice delegates reading and writing (not deleting) to agent:coder.
const jkt = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify({ crv: 'P-256', kty: 'EC', x: agentKey.publicJwk.x, y: agentKey.publicJwk.y })))).toString('base64url');
const delegation = await mint({
  kind: 'delegation',
  key: idp,
  claims: { iss: 'https://idp.example.com', sub: 'alice', aud: 'https://mcp.example.com', iat: now, exp: now + 600, jti: crypto.randomUUID(), scope: 'tool:read_file tool:write_file', act: { sub: 'agent:coder' }, cnf: { jkt } },
});

// 4. The agent calls tools; each call carries the delegation and a proof bound to that tool.
const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
await server.connect(serverTransport);
const client = new Client({ name: 'agent-coder', version: '1.0.0' });
await client.connect(clientTransport);

async function callTool(name, args) {
  const proof = await createProof({ key: agentKey, method: 'POST', url: toolCallUrl(name), token: delegation });
  const res = await client.callTool({ name, arguments: args, _meta: { 'mandate/credentials': { delegation: [delegation], proof } } });
  console.log(`${name}(${args.path}) -> ${res.isError ? `DENIED ${res._meta['mandate/decision'].code}` : res.content[0].text}`);
}

await callTool('read_file', { path: '/home/alice/notes.md' });
await callTool('write_file', { path: '/home/alice/todo.md' });
await callTool('read_file', { path: '/etc/shadow' });
await callTool('delete_file', { path: '/home/alice/notes.md' });
await client.close();
