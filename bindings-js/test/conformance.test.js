// Every vector in tests/vectors/conformance.json through the Node build: same decision bytes as
// native, same decision and reason codes.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { Pdp } from 'mandate-pdp';
import { runConformance } from './conformance-lib.js';

const vectors = JSON.parse(await readFile(new URL('../../tests/vectors/conformance.json', import.meta.url), 'utf8'));

test('the vector file has cases', () => {
  assert.ok(vectors.cases.length >= 60, `only ${vectors.cases.length} cases`);
});

// Node verifies with node:crypto by default; the portable p256 verifier must agree byte for byte.
for (const verifier of ['host', 'portable']) {
  const results = await runConformance(Pdp, vectors, { verifier });
  test(`${verifier} verifier: one result per vector`, () => {
    assert.equal(results.length, vectors.cases.length);
  });
  for (const r of results) {
    test(`${verifier} verifier: vector ${r.name}`, () => {
      assert.deepEqual(r.problems, []);
    });
  }
}
