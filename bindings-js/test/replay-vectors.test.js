// tests/vectors/replay.json (tests/README.md, "Replay vectors") against every JS replay store:
// MemoryReplayStore (every case, at the case's capacity), RedisReplayStore against a real
// redis-server (the unbounded cases, and the exact SET key and PX the Rust host also sends), and
// DurableObjectReplayStore + ReplayDurableObject inside workerd (the unbounded cases).
//
// Redis expires keys on its own clock, so the Redis runner plays the clock: when a step's `now`
// is later than every earlier one, it takes that many seconds off every key's remaining TTL
// (PTTL, then PEXPIRE, or DEL at zero); a `now` that goes back leaves Redis's clock alone.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Redis from 'ioredis';
import { DEFAULT_CAPACITY, DEFAULT_PREFIX, MAX_TTL_SECONDS, MemoryReplayStore, RedisReplayStore } from '../npm/src/replay.js';
import { runReplayVectors } from './replay-vectors/runner.js';
import { freePort, waitForHttp } from './net.js';

const VECTORS = JSON.parse(readFileSync(new URL('../../tests/vectors/replay.json', import.meta.url), 'utf8'));
const unbounded = VECTORS.cases.filter((c) => c.store.capacity === null).length;

function assertAllPassed(results, ran) {
  const failed = results.filter((r) => !r.ok);
  assert.deepEqual(failed, [], failed.map((f) => `${f.name}:\n  ${f.problems.join('\n  ')}`).join('\n'));
  assert.equal(results.filter((r) => !r.skipped).length, ran);
  assert.deepEqual(results.map((r) => r.name), VECTORS.cases.map((c) => c.name));
}

test('the vectors and the JS stores agree on the bounds', () => {
  assert.equal(VECTORS.max_ttl_seconds, MAX_TTL_SECONDS);
  assert.equal(VECTORS.default_capacity, DEFAULT_CAPACITY);
  assert.equal(VECTORS.redis.prefix, DEFAULT_PREFIX);
  assert.ok(VECTORS.cases.length >= 10 && unbounded >= 8);
});

test('MemoryReplayStore follows every replay vector', async () => {
  const results = await runReplayVectors(VECTORS, (c) => ({ store: new MemoryReplayStore({ capacity: c.store.capacity ?? DEFAULT_CAPACITY }) }), { bounded: true });
  assertAllPassed(results, VECTORS.cases.length);
});

describe('RedisReplayStore against redis-server', () => {
  let server;
  let log = '';
  let redis;

  before(async () => {
    const port = await freePort();
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise((resolve, reject) => {
      const onData = (d) => {
        log += d;
        if (log.includes('Ready to accept connections')) resolve();
      };
      server.stdout.on('data', onData);
      server.stderr.on('data', onData);
      server.once('error', reject);
      server.once('exit', (code) => reject(new Error(`redis-server exited ${code}:\n${log}`)));
    });
    redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    await redis.connect();
  });

  after(async () => {
    redis?.disconnect();
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
    }
  });

  // Moves Redis's clock for the keys under `prefix` forward by `ms`.
  async function advance(prefix, ms) {
    for (const key of await redis.keys(`${prefix}*`)) {
      const pttl = await redis.pttl(key);
      if (pttl === -2) continue; // expired meanwhile
      assert.ok(pttl > 0, `${key} has no TTL (${pttl})`);
      if (pttl - ms <= 0) await redis.del(key);
      else await redis.pexpire(key, pttl - ms);
    }
  }

  test('the unbounded replay vectors (setPx, ioredis)', async () => {
    const run = randomUUID();
    const results = await runReplayVectors(
      VECTORS,
      (c, index) => {
        const prefix = `mandate-vectors:${run}:${index}:`;
        let clock;
        return {
          store: new RedisReplayStore({ prefix, setPx: (key, ms) => redis.set(key, '1', 'PX', ms, 'NX') }),
          async beforeStep(now) {
            clock ??= now;
            if (now > clock) {
              await advance(prefix, (now - clock) * 1000);
              clock = now;
            }
          },
        };
      },
      { bounded: false },
    );
    assertAllPassed(results, unbounded);
  });

  test('the exact SET key and PX of every host (node-redis client shape, default prefix)', async () => {
    const calls = [];
    const client = {
      set(key, value, opts) {
        calls.push([key, value, opts]);
        assert.deepEqual(Object.keys(opts).sort(), ['NX', 'PX']);
        assert.equal(opts.NX, true);
        return redis.set(key, value, 'PX', opts.PX, 'NX');
      },
    };
    const store = new RedisReplayStore({ client });
    for (const set of VECTORS.redis.sets) {
      await redis.del(set.key);
      calls.length = 0;
      assert.deepEqual(await store.claim([set.entry], set.now), [], set.key);
      assert.deepEqual(calls, [[set.key, '1', { NX: true, PX: set.px }]]);
      assert.equal(await redis.get(set.key), '1');
      const pttl = await redis.pttl(set.key);
      assert.ok(pttl <= set.px && pttl > set.px - 2000, `${set.key}: PTTL ${pttl}, want PX ${set.px}`);
      assert.deepEqual(await store.claim([set.entry], set.now), [set.entry.jti], set.key);
      await redis.del(set.key);
    }
  });

  test('the EXAT-era set(key, exp) option is refused, not silently reinterpreted', () => {
    assert.throws(() => new RedisReplayStore({ set: async () => 'OK' }), /setPx/);
  });
});

describe('DurableObjectReplayStore inside workerd', () => {
  const WORKERD = fileURLToPath(new URL('../node_modules/.bin/workerd', import.meta.url));
  const CONFIG = fileURLToPath(new URL('./replay-vectors/config.capnp', import.meta.url));
  let workerd;
  let log = '';
  let base;

  before(async () => {
    base = `http://127.0.0.1:${await freePort()}`;
    workerd = spawn(WORKERD, ['serve', CONFIG, '--socket-addr', `http=${base.slice('http://'.length)}`], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    workerd.stdout.on('data', (d) => (log += d));
    workerd.stderr.on('data', (d) => (log += d));
    await waitForHttp(`${base}/ready`, () => workerd.exitCode === null, () => log);
  });

  after(async () => {
    if (workerd && workerd.exitCode === null) {
      process.kill(-workerd.pid, 'SIGTERM');
      await new Promise((resolve) => workerd.once('exit', resolve));
    }
  });

  test('the unbounded replay vectors', async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200, log);
    const body = await res.json();
    assert.equal(body.runtime, 'workerd');
    assertAllPassed(body.results, unbounded);
  });
});
