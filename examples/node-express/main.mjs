// An Express API protected by Mandate's middleware, called by a Node agent holding alice's delegation: allowed, denied (scope, guardrail, missing proof) and a replay. Run: `cd examples/node-express && npm install && node main.mjs` (after `bash scripts/build-js.sh`).

import express from 'express';
import { MandateAgent, Pdp } from 'mandate-pdp';
import { mandateExpress } from 'mandate-pdp/express';
import { demoWorld } from './demo-world.mjs';

// 1. The deployment: a signed bundle, and an agent with alice's delegation.
const { config, agentKey, delegation } = await demoWorld();

// 2. The API. The middleware hands each request, as received, to the core's HTTP binding, which
//    matches the routes on the normalized path and reads `Authorization: DPoP <token>` +
//    `DPoP: <proof>`; it sets req.mandate and answers 403 JSON with the reason code (also in
//    `x-mandate-reason`) on deny. The client address is the socket peer (no proxy in front).
const pdp = await Pdp.load(config);
const app = express();
app.use(express.json());
app.use(
  '/v1',
  mandateExpress(pdp, {
    routes: ['GET /v1/trips/* trips:read', 'POST /v1/trips trips:write', 'DELETE /v1/trips/* trips:delete'],
    context: (req) => ({ amount: req.get('x-amount') ?? 0 }),
  }),
);
app.get('/v1/trips/:id', (req, res) => res.json({ trip: req.params.id, for: req.mandate.principal.user, by: req.mandate.principal.agent }));
app.post('/v1/trips', (req, res) => res.status(201).json({ booked: true }));
app.delete('/v1/trips/:id', (req, res) => res.json({ cancelled: true }));
const server = await new Promise((resolve) => {
  const s = app.listen(0, '127.0.0.1', () => resolve(s));
});
const base = `http://127.0.0.1:${server.address().port}`;

// 3. The agent: each call carries the delegation and a fresh DPoP proof signed with its key.
const agent = new MandateAgent({ key: agentKey, delegation: [delegation] });

async function show(label, res) {
  const body = await res.json();
  console.log(`${label} -> ${res.status} ${res.status === 403 ? res.headers.get('x-mandate-reason') : JSON.stringify(body)}`);
}

await show('GET /v1/trips/42', await agent.fetch(`${base}/v1/trips/42`));
await show('POST /v1/trips (amount 300)', await agent.fetch(`${base}/v1/trips`, { method: 'POST', headers: { 'x-amount': '300' } }));
await show('POST /v1/trips (amount 5000)', await agent.fetch(`${base}/v1/trips`, { method: 'POST', headers: { 'x-amount': '5000' } }));
await show('DELETE /v1/trips/42', await agent.fetch(`${base}/v1/trips/42`, { method: 'DELETE' }));
await show('GET without a proof', await fetch(`${base}/v1/trips/42`, { headers: { authorization: `DPoP ${delegation}` } }));

// 4. A captured request replayed as is: the proof's jti is already in the replay store.
const headers = await agent.headers('GET', `${base}/v1/trips/7`);
await show('GET /v1/trips/7', await fetch(`${base}/v1/trips/7`, { headers }));
await show('GET /v1/trips/7 replayed', await fetch(`${base}/v1/trips/7`, { headers }));

server.close();
