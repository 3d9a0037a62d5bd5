// mandate-pdp benchmark on Node: warm decision latency (core only, and the full decide with the
// replay store; node:crypto and portable p256 verifiers), grant verification, a cheap deny, and
// cold start (bytes to first decision) in fresh processes. Run: `node bench/bench.mjs` from bindings-js/ after `bash scripts/build-js.sh`.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Pdp, createProof } from 'mandate-pdp';
import { API, NOW, makeWorld, delegate, travelInput } from '../test/world.js';

const run = promisify(execFile);
const N = Number(process.env.BENCH_N ?? 2000);

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: q(0.5), p99: q(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function time(label, n, fn) {
  for (let i = 0; i < Math.min(200, n); i++) await fn(i); // warm-up
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    samples.push((performance.now() - t) * 1000);
  }
  const r = stats(samples);
  console.log(`| ${label} | ${r.median.toFixed(0)} | ${r.p99.toFixed(0)} | ${(1e6 / r.mean).toFixed(0)} |`);
}

const world = await makeWorld();
const pdp = await Pdp.load(world.config);
const token = await delegate(world);
const fixed = JSON.stringify(await travelInput(world, { token }));
const url = `${API}/v1/secrets/db`;
// Fresh proofs so the full decide path records a new jti each time (no replay denies).
const proofs = [];
for (let i = 0; i < N + 200; i++) proofs.push(await createProof({ key: world.travel, method: 'GET', url, token, now: NOW }));
const request = { method: 'GET', uri: url, ip: '10.20.0.7', action: 'secrets:read' };
const grants = [];
for (let i = 0; i < N + 200; i++) {
  const d = await pdp.decide({ now: NOW, request, credentials: { delegation: [token], proof: await createProof({ key: world.travel, method: 'GET', url, token, now: NOW }) }, mint_grant: { aud: API, ttl: 30 } });
  grants.push(d.grant);
}
const denyInput = JSON.stringify({ now: NOW, request, credentials: {} });

console.log(`mandate-pdp on Node ${process.version}, ${N} decisions each, times in µs\n`);
console.log('| what | median µs | p99 µs | decisions/s |');
console.log('| --- | --- | --- | --- |');
await time('core decide (allow; token cached, proof verified), no replay store', N, () => pdp.decideWithoutReplayCheck(fixed));
let i = 0;
await time('Pdp.decide (allow, fresh proof, memory replay store)', N, () => pdp.decide({ now: NOW, request, credentials: { delegation: [token], proof: proofs[i++] } }));
let g = 0;
const rs = await Pdp.load(world.config);
await time('Pdp.verifyGrant (allow, memory replay store)', N, () => rs.verifyGrant(grants[g++], request, { now: NOW + 1 }));
await time('core decide (deny: credentials.missing)', N, () => pdp.decideWithoutReplayCheck(denyInput));
// The same with the portable verifier (p256 in the module), as in browsers and Workers.
const portable = await Pdp.load(world.config, { verifier: 'portable' });
await time('portable verifier: core decide (allow), no replay store', N, () => portable.decideWithoutReplayCheck(fixed));
let j = 0;
const portableProofs = [];
for (let k = 0; k < N + 200; k++) portableProofs.push(await createProof({ key: world.travel, method: 'GET', url, token, now: NOW }));
await time('portable verifier: Pdp.decide (allow, fresh proof, memory replay store)', N, () => portable.decide({ now: NOW, request, credentials: { delegation: [token], proof: portableProofs[j++] } }));

const wasm = readFileSync(fileURLToPath(new URL('../npm/wasm/mandate_js_bg.wasm', import.meta.url)));
const glue = readFileSync(fileURLToPath(new URL('../npm/wasm/mandate_js.js', import.meta.url)));
console.log(`\nCold start (fresh node process; median of 5): module ${wasm.length} bytes raw, ${gzipSync(wasm).length} gzip; glue ${glue.length} bytes\n`);
const runs = [];
for (let k = 0; k < 5; k++) {
  const { stdout } = await run(process.execPath, [fileURLToPath(new URL('./cold.mjs', import.meta.url)), JSON.stringify({ config: world.config, input: fixed })]);
  runs.push(JSON.parse(stdout));
}
const med = (key) => stats(runs.map((r) => r[key])).median.toFixed(1);
if (runs.some((r) => r.decision !== 'allow')) throw new Error('cold start did not allow');
console.log('| step | median ms |');
console.log('| --- | --- |');
console.log(`| import (read + compile + instantiate the module) | ${med('import')} |`);
console.log(`| Pdp.load (verify bundle, compile guardrails) | ${med('load')} |`);
console.log(`| first decision | ${med('first')} |`);
console.log(`| import to first decision | ${med('total')} |`);
console.log(`| process start to first decision | ${med('sinceProcessStart')} |`);
