// tests/vectors/http.json (HTTP requests as a host received them, decided through the core's one
// HTTP binding) through the package:
//
// 1. `pdp.decideHttp` in Node, with both verifiers: native's exact decision bytes, decision and
//    reason codes (Chromium: browser.test.js; workerd: workerd-conformance.test.js).
// 2. The real Express and Hono (@hono/node-server) middleware over HTTP on loopback: each case's
//    `input.http` becomes a real request (method, the raw path, every header field in order with
//    its case and repeats, `Host` = the authority), the middleware's clock frozen at the vector's
//    `now`; decision and reason codes must match (bytes cannot: the decision id is derived from
//    the input document, which the middleware builds itself).
//
// The loopback peer is 127.0.0.1, not the vector's peer. So each case runs with one more trusted
// hop than the vector says, the test playing that proxy: it appends an `X-Forwarded-For` field
// naming the vector's peer. The core then picks the same client address (or fails the same way)
// as for the vector itself: hops + 1 from the right of [...forwarded, peer] is hops from the
// right of [...forwarded] when hops > 0, and the peer when hops = 0.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import { Hono } from 'hono';
import { serve as serveHono } from '@hono/node-server';
import { Pdp } from 'mandate-pdp';
import { mandateExpress } from 'mandate-pdp/express';
import { mandateHono } from 'mandate-pdp/hono';
import { runConformance } from './conformance-lib.js';
import { rawRequest } from './net.js';

const vectors = JSON.parse(await readFile(new URL('../../tests/vectors/http.json', import.meta.url), 'utf8'));
const cases = vectors.cases.map((c) => ({ ...c, doc: JSON.parse(c.input) }));

/**
 * Cases a framework cannot carry to the middleware over real HTTP, with the reason and the status
 * the request gets instead (never an allow); every other case must match the vector.
 */
const NOT_EXPRESSIBLE = {
  express: {},
  hono: {
    'http/host-injection': { status: 400, reason: '@hono/node-server answers 400 (invalid Host) itself, before any middleware runs' },
  },
};

test('the HTTP vector file has cases, and every case has a peer (the loopback runs stand in for it)', () => {
  assert.ok(cases.length >= 20, `only ${cases.length} cases`);
  for (const c of cases) assert.equal(typeof c.doc.http.peer, 'string', c.name);
});

for (const verifier of ['host', 'portable']) {
  const results = await runConformance(Pdp, vectors, { verifier }, { http: true });
  test(`decideHttp, ${verifier} verifier: one result per vector`, () => {
    assert.equal(results.length, vectors.cases.length);
  });
  for (const r of results) {
    test(`decideHttp, ${verifier} verifier: vector ${r.name}`, () => {
      assert.deepEqual(r.problems, []);
    });
  }
}

/** The vector's peer address without its port (`1.2.3.4:5`, `[::1]:5` or a bare address). */
function peerIp(peer) {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(peer);
  if (v6) return v6[1];
  return /^[^:]+:\d+$/.test(peer) ? peer.slice(0, peer.lastIndexOf(':')) : peer;
}

/** The middleware options and the real request for one case. */
function asRealRequest(doc) {
  const { http, binding = {} } = doc;
  const hasHost = http.headers.some(([n]) => n.toLowerCase() === 'host');
  const options = {
    routes: binding.routes ?? [],
    trustedHops: (binding.trusted_hops ?? 0) + 1,
    unrouted: binding.unrouted ?? 'deny',
    scheme: http.scheme,
    now: () => doc.now,
  };
  // With a Host field of its own, the vector's authority is what the host pinned.
  if (hasHost) options.authority = http.authority;
  if (doc.enforces !== undefined) options.enforces = doc.enforces;
  if (doc.context !== undefined) options.context = doc.context;
  if (doc.mint_grant !== undefined) options.mintGrant = doc.mint_grant;
  if (http.body_digest !== undefined) options.bodyDigest = http.body_digest;
  const headers = [...(hasHost ? [] : [['Host', http.authority]]), ...http.headers, ['X-Forwarded-For', peerIp(http.peer)]];
  return { options, request: { method: http.method, path: http.path, headers } };
}

const allowed = (decision) => ({ decision: decision.decision, codes: decision.reasons.map((r) => r.code) });

const frameworks = {
  express(pdp, options) {
    const app = express();
    app.use(mandateExpress(pdp, options));
    app.use((req, res) => res.json(allowed(req.mandate)));
    return new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
  },
  hono(pdp, options) {
    const app = new Hono();
    app.use('*', mandateHono(pdp, options));
    app.all('*', (c) => c.json(allowed(c.get('mandate'))));
    return new Promise((resolve) => {
      const s = serveHono({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
  },
};

for (const [framework, listen] of Object.entries(frameworks)) {
  describe(`${framework} middleware over loopback HTTP replays tests/vectors/http.json`, () => {
    const pdps = new Map();
    before(async () => {
      for (const [name, config] of Object.entries(vectors.loads)) pdps.set(name, await Pdp.load(config));
    });
    after(() => {
      for (const pdp of pdps.values()) pdp.free();
    });

    test('the cases listed as not expressible exist', () => {
      for (const name of Object.keys(NOT_EXPRESSIBLE[framework])) assert.ok(cases.some((c) => c.name === name), name);
    });

    for (const c of cases) {
      test(`vector ${c.name}`, async () => {
        const { options, request } = asRealRequest(c.doc);
        const server = await listen(pdps.get(c.load), options);
        try {
          const res = await rawRequest(`http://127.0.0.1:${server.address().port}`, request);
          const instead = NOT_EXPRESSIBLE[framework][c.name];
          if (instead) {
            assert.equal(res.status, instead.status, `${instead.reason}: ${res.text}`);
            return;
          }
          if (c.expect.decision === 'allow') {
            assert.equal(res.status, 200, res.text);
            assert.deepEqual(res.json(), { decision: 'allow', codes: c.expect.codes });
          } else {
            assert.equal(res.status, 403, res.text);
            assert.equal(res.headers['x-mandate-reason'], c.expect.codes[0]);
            const body = res.json();
            assert.equal(body.decision, 'deny');
            assert.deepEqual(body.reasons.map((r) => r.code), c.expect.codes);
          }
        } finally {
          await new Promise((resolve) => server.close(resolve));
        }
      });
    }
  });
}
