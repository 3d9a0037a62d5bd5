// Replays the cross-host conformance vectors inside workerd (the Cloudflare Workers runtime):
// GET / runs every case through the package's workerd entry and answers the per-case results.
// Served by ../workerd-conformance.test.js with config.capnp beside this file.

import { Pdp } from 'mandate-pdp';
import vectors from 'vectors';
import { runConformance } from 'conformance-lib.js';

export default {
  async fetch() {
    const results = await runConformance(Pdp, vectors);
    return Response.json({ runtime: 'workerd', results });
  },
};
