// The conformance vectors and the HTTP binding vectors (decideHttp) in the real workerd runtime:
// every case must give native's exact decision bytes, decision and reason codes
// (tests/README.md), as in Node and Chromium.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, waitForHttp } from './net.js';

const WORKERD = fileURLToPath(new URL('../node_modules/.bin/workerd', import.meta.url));
const CONFIG = fileURLToPath(new URL('./workerd-conformance/config.capnp', import.meta.url));
const VECTORS = JSON.parse(readFileSync(new URL('../../tests/vectors/conformance.json', import.meta.url), 'utf8'));
const HTTP_VECTORS = JSON.parse(readFileSync(new URL('../../tests/vectors/http.json', import.meta.url), 'utf8'));

let workerd;
let log = '';
let base;

before(async () => {
  base = `http://127.0.0.1:${await freePort()}`;
  workerd = spawn(WORKERD, ['serve', CONFIG, '--socket-addr', `http=${base.slice('http://'.length)}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  workerd.stdout.on('data', (d) => (log += d));
  workerd.stderr.on('data', (d) => (log += d));
  await waitForHttp(`${base}/`, () => workerd.exitCode === null, () => log);
});

after(async () => {
  if (workerd && workerd.exitCode === null) {
    process.kill(-workerd.pid, 'SIGTERM');
    await new Promise((resolve) => workerd.once('exit', resolve));
  }
});

test('workerd replays every conformance vector byte for byte', async () => {
  const res = await fetch(`${base}/`);
  assert.equal(res.status, 200, log);
  const body = await res.json();
  assert.equal(body.runtime, 'workerd');
  assert.equal(body.results.length, VECTORS.cases.length);
  const failed = body.results.filter((r) => !r.ok);
  assert.deepEqual(failed, [], failed.map((f) => `${f.name}: ${f.problems.join('; ')}`).join('\n'));
  assert.deepEqual(body.results.map((r) => r.name), VECTORS.cases.map((c) => c.name));
});

test('workerd replays every HTTP binding vector byte for byte (decideHttp)', async () => {
  const res = await fetch(`${base}/http`);
  assert.equal(res.status, 200, log);
  const body = await res.json();
  assert.equal(body.runtime, 'workerd');
  const failed = body.results.filter((r) => !r.ok);
  assert.deepEqual(failed, [], failed.map((f) => `${f.name}: ${f.problems.join('; ')}`).join('\n'));
  assert.deepEqual(body.results.map((r) => r.name), HTTP_VECTORS.cases.map((c) => c.name));
});
