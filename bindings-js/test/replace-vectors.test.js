// tests/vectors/replace.json (tests/README.md, "Replacement vectors") through `Pdp.replace`: may
// a freshly loaded bundle replace the one serving? The same cases `mandate serve`, the Rust host
// (native, portable, wasm), the bare module's `mandate_replace` and the Envoy filter replay.
// Each case runs on both verifiers (node:crypto and the module's portable p256).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Pdp } from '../npm/src/node.js';

const VECTORS = JSON.parse(readFileSync(new URL('../../tests/vectors/replace.json', import.meta.url), 'utf8'));

// Starts from `serving` (installed as it is; absent: an empty config, which serves nothing),
// offers `next` at `now`, and answers the refusal's code (null when `next` now serves).
async function replace(c, verifier) {
  const pdp = await Pdp.load(c.serving ?? '{}', { verifier });
  const before = pdp.status;
  try {
    const status = pdp.replace(c.next, { now: c.now });
    assert.equal(status.ok, true, `${c.name}: an installed bundle has an ok status`);
    assert.deepEqual(pdp.status, status, `${c.name}: what replaced now serves`);
    return null;
  } catch (err) {
    if (typeof err.code !== 'string') throw err;
    assert.deepEqual(pdp.status, before, `${c.name}: a refusal leaves what served serving`);
    return err.code;
  } finally {
    pdp.free();
  }
}

for (const verifier of ['host', 'portable']) {
  test(`Pdp.replace follows every replacement vector (${verifier} verifier)`, async () => {
    const got = [];
    for (const c of VECTORS.cases) got.push({ name: c.name, code: await replace(c, verifier) });
    assert.deepEqual(got, VECTORS.cases.map((c) => ({ name: c.name, code: c.expect })));
    assert.equal(got.length, 14);
  });
}

test('Pdp.replace refuses a clock that is not whole Unix seconds, and keeps serving', async () => {
  const c = VECTORS.cases.find((x) => x.expect === null && x.serving !== null);
  const pdp = await Pdp.load(c.serving);
  const before = pdp.status;
  for (const now of [Number.NaN, 1.5, Number.POSITIVE_INFINITY, 2 ** 60]) {
    assert.throws(() => pdp.replace(c.next, { now }), (err) => err.code === 'bundle.malformed');
    assert.deepEqual(pdp.status, before);
  }
  pdp.free();
});

test('a replaced decision point decides with the new bundle and keeps its replay store', async () => {
  const c = VECTORS.cases.find((x) => x.expect === null && x.serving !== null);
  const pdp = await Pdp.load(c.serving);
  const store = pdp.replayStore;
  const status = pdp.replace(c.next, { now: c.now });
  assert.equal(pdp.status.bundle.digest, status.bundle.digest);
  assert.notEqual(JSON.parse(c.serving).bundle, JSON.parse(c.next).bundle);
  assert.equal(pdp.replayStore, store);
  // Garbage still gets a deny with a stable code from the new engine.
  const d = await pdp.decide('{');
  assert.equal(d.decision, 'deny');
  assert.equal(d.reasons[0].code, 'input.malformed');
  pdp.free();
});
