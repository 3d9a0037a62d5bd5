// Replays the cross-host conformance vectors inside workerd (the Cloudflare Workers runtime):
// GET / runs every case through the package's workerd entry and answers the per-case results;
// GET /http does the same for the HTTP binding vectors through decideHttp.
// Served by ../workerd-conformance.test.js with config.capnp beside this file.

import { Pdp } from 'mandate-pdp';
import vectors from 'vectors';
import httpVectors from 'http-vectors';
import { runConformance } from 'conformance-lib.js';

export default {
  async fetch(request) {
    if (new URL(request.url).pathname === '/http') {
      return Response.json({ runtime: 'workerd', results: await runConformance(Pdp, httpVectors, {}, { http: true }) });
    }
    const results = await runConformance(Pdp, vectors);
    return Response.json({ runtime: 'workerd', results });
  },
};
