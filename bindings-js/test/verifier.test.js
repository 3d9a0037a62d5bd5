// The host ES256 verifier (node:crypto) against the portable one (p256 in the module) on
// Wycheproof's ECDSA P-256 / SHA-256 P1363 vectors: both must accept every `valid`, reject every
// `invalid`, and agree with each other on `acceptable`. Decisions made with either are compared
// byte for byte by conformance.test.js.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Pdp } from 'mandate-pdp';
import { verifyEs256Portable } from '../npm/wasm/mandate_js.js';
import { nodeVerifyEs256 } from '../npm/src/node-verifier.js';
import { hostVerifyEs256 } from '../npm/src/verifier.js';
import { codes, makeWorld, travelInput } from './world.js';

const FILE = 'ecdsa_secp256r1_sha256_p1363_test.json';
// The vectors live in the repository's tests/vectors/wycheproof/ or in shared/ beside the clone.
const candidates = [
  process.env.MANDATE_WYCHEPROOF_DIR && `${process.env.MANDATE_WYCHEPROOF_DIR}/${FILE}`,
  fileURLToPath(new URL(`../../tests/vectors/wycheproof/${FILE}`, import.meta.url)),
  fileURLToPath(new URL(`../../../shared/vectors/wycheproof/${FILE}`, import.meta.url)),
].filter(Boolean);
const path = candidates.find((p) => existsSync(p));

const hex = (s) => Buffer.from(s, 'hex');
const b64u = (b) => Buffer.from(b).toString('base64url');

test('Wycheproof ECDSA P-256 P1363: node:crypto and p256 agree, and with the expected results', () => {
  assert.ok(path, `Wycheproof vectors not found in ${candidates.join(', ')}`);
  const suite = JSON.parse(readFileSync(path, 'utf8'));
  let valid = 0;
  let invalid = 0;
  const disagreements = [];
  for (const group of suite.testGroups) {
    const sec1 = hex(group.publicKey.uncompressed);
    const x = b64u(sec1.subarray(1, 33));
    const y = b64u(sec1.subarray(33, 65));
    for (const t of group.tests) {
      const msg = hex(t.msg);
      const sig = hex(t.sig);
      const portable = verifyEs256Portable(sec1, msg, sig);
      // The module only hands the host 64-byte signatures (the core rejects other lengths first).
      const host = sig.length === 64 ? hostVerifyEs256(x, y, msg, sig) : false;
      if (portable !== host) disagreements.push(`tcId ${t.tcId} (${t.result}): p256 ${portable}, node:crypto ${host}`);
      if (t.result === 'valid') {
        valid += 1;
        if (!portable || !host) disagreements.push(`tcId ${t.tcId} valid but rejected`);
      }
      if (t.result === 'invalid') {
        invalid += 1;
        if (portable || host) disagreements.push(`tcId ${t.tcId} invalid but accepted`);
      }
    }
  }
  assert.deepEqual(disagreements, []);
  assert.ok(valid > 50 && invalid > 50, `${valid} valid, ${invalid} invalid`);
});

test('the Node entry registers node:crypto, and decisions through it match the portable verifier', async () => {
  const world = await makeWorld();
  const input = JSON.stringify(await travelInput(world));
  const host = await Pdp.load(world.config);
  const portable = await Pdp.load(world.config, { verifier: 'portable' });
  const a = new TextDecoder().decode(host.decideWithoutReplayCheck(input));
  const b = new TextDecoder().decode(portable.decideWithoutReplayCheck(input));
  assert.equal(a, b);
  assert.equal(JSON.parse(a).decision, 'allow');
  assert.equal(typeof nodeVerifyEs256, 'function');
});

test('a host verifier that throws counts as a failed signature, never as a pass', async () => {
  const { setEs256Verifier } = await import('../npm/src/verifier.js');
  const world = await makeWorld();
  try {
    setEs256Verifier(() => {
      throw new Error('boom');
    });
    const pdp = await Pdp.load(world.config, { verifier: 'host' });
    assert.equal(pdp.status.ok, false);
    assert.equal(pdp.status.error.code, 'bundle.signature_invalid');
    const d = await pdp.decide(await travelInput(world));
    assert.deepEqual([d.decision, ...codes(d)], ['deny', 'bundle.signature_invalid']);
  } finally {
    setEs256Verifier(nodeVerifyEs256);
  }
});
