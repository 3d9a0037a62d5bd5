// RedisReplayStore against a real redis-server (Debian's, started here on a loopback port and
// stopped after): two decision points sharing one Redis see each other's use-once jtis, and a
// Redis that goes away makes decisions deny with replay.store_unavailable.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import Redis from 'ioredis';
import { Pdp, RedisReplayStore } from 'mandate-pdp';
import { codes, makeWorld, travelInput } from './world.js';
import { freePort } from './net.js';

let server;
let log = '';
let port;
let redis;
let world;

before(async () => {
  port = await freePort();
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((resolve, reject) => {
    const onData = (d) => {
      log += d;
      if (log.includes('Ready to accept connections')) resolve();
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.once('exit', (code) => reject(new Error(`redis-server exited ${code}:\n${log}`)));
  });
  redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: (n) => (n > 50 ? null : 100) });
  await redis.connect();
  await redis.ping();
  // Redis expires keys on its own clock, so this world lives at the real time.
  world = await makeWorld({}, { now: Math.floor(Date.now() / 1000) });
});

after(async () => {
  redis?.disconnect();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
  }
});

// ioredis: SET key 1 PX ms NX answers 'OK' when set, null when the key was there.
const storeFor = (client) => new RedisReplayStore({ setPx: (key, ms) => client.set(key, '1', 'PX', ms, 'NX') });

test('two decision points sharing Redis: a proof used on one is a replay on the other', async () => {
  const a = await Pdp.load(world.config, { replayStore: storeFor(redis) });
  const b = await Pdp.load(world.config, { replayStore: storeFor(redis) });
  const input = await travelInput(world);
  const first = await a.decide(input);
  assert.deepEqual([first.decision, ...codes(first)], ['allow']);
  const again = await b.decide(input);
  assert.deepEqual([again.decision, ...codes(again)], ['deny', 'replay.detected']);
  const [entry] = first.use_once;
  const key = `mandate:jti:${entry.kind}:${entry.jti}`;
  assert.equal(await redis.get(key), '1');
  // Redis keeps the entry through the second of the use-once exp, counted from the decision's
  // now (PX, as the Rust host), then forgets it.
  const px = (entry.exp - world.now + 1) * 1000;
  const pttl = await redis.pttl(key);
  assert.ok(pttl <= px && pttl > px - 5000, `PTTL ${pttl}, want about ${px}`);
});

test('when Redis is unreachable, decisions deny with replay.store_unavailable', async () => {
  const gone = new Redis({ port: await freePort(), host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  try {
    const pdp = await Pdp.load(world.config, { replayStore: storeFor(gone) });
    const d = await pdp.decide(await travelInput(world));
    assert.deepEqual([d.decision, ...codes(d)], ['deny', 'replay.store_unavailable']);
  } finally {
    gone.disconnect();
  }
});
