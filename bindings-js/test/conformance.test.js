// Every vector in tests/vectors/conformance.json through the Node build: same decision bytes as
// native, same decision and reason codes.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { Pdp } from 'mandate-pdp';
import { runConformance } from './conformance-lib.js';

const vectors = JSON.parse(await readFile(new URL('../../tests/vectors/conformance.json', import.meta.url), 'utf8'));
const results = await runConformance(Pdp, vectors);

test('the vector file has cases', () => {
  assert.ok(vectors.cases.length >= 60, `only ${vectors.cases.length} cases`);
  assert.equal(results.length, vectors.cases.length);
});

for (const r of results) {
  test(`vector ${r.name}`, () => {
    assert.deepEqual(r.problems, []);
  });
}
