// Runs the replay vectors against DurableObjectReplayStore inside workerd: GET / runs every case
// the Durable Object can run (the unbounded ones), each on an object of its own, and answers the
// per-case results. Served by ../replay-vectors.test.js with config.capnp beside this file.

import { DurableObjectReplayStore } from 'mandate-pdp/src/replay.js';
import vectors from 'vectors';
import { runReplayVectors } from 'runner.js';

export { ReplayDurableObject } from 'mandate-pdp/src/cloudflare.js';

export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname !== '/') return new Response('ready');
    const run = crypto.randomUUID();
    const results = await runReplayVectors(
      vectors,
      (c, index) => ({ store: new DurableObjectReplayStore({ namespace: env.REPLAY, name: `${run}:${index}` }) }),
      { bounded: false },
    );
    return Response.json({ runtime: 'workerd', results });
  },
};
