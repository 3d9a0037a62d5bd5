// The conformance vectors and the HTTP binding vectors (decideHttp) in headless Chromium
// (Debian's /usr/bin/chromium driven by playwright-core): the browser build must give the same
// decision bytes as native. Also checks a
// WebCrypto-signed DPoP proof made in the page. The page and the wasm come from a loopback server.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serveStatic } from './static-server.js';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

const PAGE = `<!doctype html><meta charset="utf-8"><title>mandate-pdp conformance</title>
<script>
  // A module that fails to load never runs its own catch: report that too.
  window.addEventListener('error', (e) => { window.__done ??= { error: 'load error: ' + (e.message || (e.target && e.target.src)) }; }, true);
</script>
<script type="module">
import { Pdp, init, generateAgentKey, createProof } from '/pkg/src/web.js';
import { runConformance } from '/test/conformance-lib.js';
try {
  await init();
  const vectors = await (await fetch('/vectors/conformance.json')).json();
  const results = await runConformance(Pdp, vectors);
  const httpVectors = await (await fetch('/vectors/http.json')).json();
  const httpResults = await runConformance(Pdp, httpVectors, {}, { http: true });
  const key = await generateAgentKey();
  const proof = await createProof({ key, method: 'GET', url: 'https://api.example.com/x?y=1', token: 'a.b.c', now: 1 });
  window.__done = { results, httpResults, proof, jwk: key.publicJwk, ua: navigator.userAgent };
} catch (e) {
  window.__done = { error: String(e && e.stack || e) };
}
</script>`;

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

let server;
let context;
let userDataDir;
let done;

before(async () => {
  server = await serveStatic({
    mounts: { '/pkg/': here('../npm/'), '/test/': here('./'), '/vectors/': here('../../tests/vectors/') },
    pages: { '/': PAGE },
  });
  userDataDir = await mkdtemp(join(tmpdir(), 'mandate-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ARGS,
  });
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(String(e)));
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.__done !== undefined, null, { timeout: 300_000 }).catch((e) => {
    throw new Error(`${e.message}\n${logs.join('\n')}`);
  });
  done = await page.evaluate(() => window.__done);
  if (done.error) done.error += `\n${logs.join('\n')}`;
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

test('the page ran in Chromium without error', () => {
  assert.equal(done.error, undefined);
  assert.match(done.ua, /Chrome\//);
});

test('every vector gives the native bytes in Chromium', async () => {
  const vectors = JSON.parse(await (await import('node:fs/promises')).readFile(here('../../tests/vectors/conformance.json'), 'utf8'));
  assert.equal(done.results.length, vectors.cases.length);
  const failed = done.results.filter((r) => !r.ok);
  assert.deepEqual(failed, []);
});

test('every HTTP binding vector gives the native bytes in Chromium (decideHttp)', async () => {
  const vectors = JSON.parse(await (await import('node:fs/promises')).readFile(here('../../tests/vectors/http.json'), 'utf8'));
  assert.equal(done.httpResults.length, vectors.cases.length);
  assert.deepEqual(done.httpResults.map((r) => r.name), vectors.cases.map((c) => c.name));
  const failed = done.httpResults.filter((r) => !r.ok);
  assert.deepEqual(failed, []);
});

test('a WebCrypto proof made in the page verifies in Node', async () => {
  const { importJWK, jwtVerify, decodeProtectedHeader } = await import('jose');
  const header = decodeProtectedHeader(done.proof);
  assert.equal(header.typ, 'dpop+jwt');
  assert.deepEqual(header.jwk, { kty: 'EC', crv: 'P-256', x: done.jwk.x, y: done.jwk.y });
  const { payload } = await jwtVerify(done.proof, await importJWK(done.jwk, 'ES256'), { currentDate: new Date(1000) });
  assert.equal(payload.htu, 'https://api.example.com/x');
  assert.equal(payload.htm, 'GET');
});
