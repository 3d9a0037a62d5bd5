// Replay (use-once) stores. The decision point hands every allow's `use_once` entries to a store,
// which records them until their `exp` and reports which were already there. The default store is
// in memory (one process); RedisReplayStore and DurableObjectReplayStore share it between nodes.

/**
 * One process's use-once store. Entries are dropped once expired; a sweep runs every
 * `sweepEvery` claims so the map stays bounded by the entries still alive.
 */
export class MemoryReplayStore {
  #seen = new Map();
  #claims = 0;
  #sweepEvery;

  constructor({ sweepEvery = 1024 } = {}) {
    this.#sweepEvery = sweepEvery;
  }

  async claim(entries, now) {
    if (++this.#claims % this.#sweepEvery === 0) this.#sweep(now);
    const replayed = [];
    for (const { jti, exp } of entries) {
      const held = this.#seen.get(jti);
      if (held !== undefined && held >= now) {
        replayed.push(jti);
      } else {
        this.#seen.set(jti, exp);
      }
    }
    return replayed;
  }

  /** How many entries are held (for tests and metrics). */
  get size() {
    return this.#seen.size;
  }

  #sweep(now) {
    for (const [jti, exp] of this.#seen) {
      if (exp < now) this.#seen.delete(jti);
    }
  }
}

/**
 * A store shared by many nodes through Redis: one `SET key 1 NX EXAT exp` per entry, which works
 * on Redis Cluster. `client` is a node-redis v4+ client (`client.set(key, value, { NX, EXAT })`
 * resolving to `'OK'` or `null`); pass `set` instead to adapt another client (e.g. ioredis:
 * `(key, exp) => redis.set(key, '1', 'EXAT', exp, 'NX')`).
 */
export class RedisReplayStore {
  #set;
  #prefix;

  constructor({ client, set, prefix = 'mandate:jti:' } = {}) {
    if (set) this.#set = set;
    else if (client) this.#set = (key, exp) => client.set(key, '1', { NX: true, EXAT: exp });
    else throw new TypeError('RedisReplayStore needs a client or a set function');
    this.#prefix = prefix;
  }

  async claim(entries, now) {
    const results = await Promise.all(
      entries.map(({ jti, exp }) => this.#set(this.#prefix + jti, Math.max(exp, now + 1))),
    );
    return entries.filter((_, i) => results[i] !== 'OK' && results[i] !== true).map((e) => e.jti);
  }
}

/**
 * A store served by a Cloudflare Durable Object (see `ReplayDurableObject` in
 * `mandate-pdp/cloudflare`). One object instance per `name` holds the entries, so every Worker
 * isolate that uses the same namespace and name sees the same replays.
 */
export class DurableObjectReplayStore {
  #namespace;
  #name;

  constructor({ namespace, name = 'mandate-replay' }) {
    this.#namespace = namespace;
    this.#name = name;
  }

  async claim(entries, now) {
    const stub = this.#namespace.get(this.#namespace.idFromName(this.#name));
    const res = await stub.fetch('https://replay.mandate/claim', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ entries, now }),
    });
    if (!res.ok) throw new Error(`replay durable object answered ${res.status}`);
    const body = await res.json();
    if (!Array.isArray(body.replayed)) throw new Error('replay durable object answered without replayed');
    return body.replayed;
  }
}
