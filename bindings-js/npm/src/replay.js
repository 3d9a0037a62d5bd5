// Replay (use-once) stores. The decision point hands every allow's `use_once` entries to a store,
// which records them and reports which were already there. The default store is in memory (one
// process); RedisReplayStore and DurableObjectReplayStore share it between nodes.
//
// Every store follows the same semantics as the Rust host's stores (host_rust::replay), pinned
// by tests/vectors/replay.json (tests/README.md, "Replay vectors"):
// - an entry is keyed by `<kind>:<jti>` (a proof and a grant with the same jti do not collide);
// - it is remembered through the second `max(exp, now)`, `now` being the decision's time: a TTL
//   of `max(exp - now, 0) + 1` seconds (Redis: `SET <prefix><kind>:<jti> 1 NX PX <ttl ms>`);
// - an entry with a kind containing ':' or a TTL over MAX_TTL_SECONDS makes the whole call throw
//   before anything is recorded (the decision denies with replay.store_unavailable);
// - new entries stay recorded even when others in the same call were replays.

import { Codes } from './codes.js';

/** The longest an entry may need remembering (100 Julian years); longer is refused, never cut. */
export const MAX_TTL_SECONDS = 3_155_760_000;

/** The memory store's default capacity (as the Rust host's). */
export const DEFAULT_CAPACITY = 1_000_000;

/** The Redis key prefix every Mandate host uses by default. */
export const DEFAULT_PREFIX = 'mandate:jti:';

/**
 * Checks a call's entries before anything is written: `[{ jti, key, ttl }]`, `key` being
 * `<kind>:<jti>` and `ttl` the seconds to remember it from `now`. Throws on anything a store
 * could not record faithfully.
 */
export function checkEntries(entries, now) {
  if (!Array.isArray(entries)) throw new TypeError('replay entries must be an array');
  if (!Number.isInteger(now)) throw new TypeError(`replay now must be an integer (got ${now})`);
  return entries.map((entry) => {
    const { jti, exp } = entry ?? {};
    const kind = entry?.kind ?? '';
    if (typeof jti !== 'string' || typeof kind !== 'string') throw new TypeError('a use_once entry needs a string jti and kind');
    if (kind.includes(':')) throw new RangeError(`use_once kind ${JSON.stringify(kind)} contains ':'`);
    if (!Number.isInteger(exp)) throw new TypeError(`use_once exp must be an integer (got ${exp})`);
    const ttl = Math.max(exp - now, 0) + 1;
    if (ttl > MAX_TTL_SECONDS) throw new RangeError(`use_once exp ${exp} is more than ${MAX_TTL_SECONDS}s after now ${now}`);
    return { jti, key: `${kind}:${jti}`, ttl };
  });
}

/**
 * One process's use-once store, bounded like the Rust host's: at most `capacity` live entries.
 * Every claim first forgets the entries whose last second has passed; when the new entries of a
 * claim do not all fit, the claim throws (the decision denies) and records none of them, rather
 * than forgetting a live jti, which would let it be replayed.
 *
 * A store that starts empty in a process that may have run before (a Node service restarted)
 * says so with `rememberingSince` (unix seconds, e.g. the process start): the decision point
 * passes it to the core as `replay_since`, and proofs and grants issued before it are denied
 * with `replay.history_unknown`, since their earlier uses are gone with the old process (the
 * Rust host's `MemoryReplayStore::remembering_since`; `mandate serve` always sets it).
 */
export class MemoryReplayStore {
  #capacity;
  #since;
  #held = new Map(); // key -> last second remembered
  #heap = []; // [until, key], a min-heap on until

  constructor({ capacity = DEFAULT_CAPACITY, rememberingSince } = {}) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new TypeError('MemoryReplayStore capacity must be a non-negative integer');
    if (rememberingSince !== undefined && !Number.isSafeInteger(rememberingSince)) {
      throw new TypeError('MemoryReplayStore rememberingSince must be an integer (unix seconds)');
    }
    this.#capacity = capacity;
    this.#since = rememberingSince;
  }

  /** Since when this store has remembered every use (unix seconds), or undefined: always. */
  get remembersSince() {
    return this.#since;
  }

  async claim(entries, now) {
    const checked = checkEntries(entries, now);
    this.#purge(now);
    const replayed = [];
    const fresh = new Map();
    for (const { jti, key, ttl } of checked) {
      if (this.#held.has(key) || fresh.has(key)) replayed.push(jti);
      else fresh.set(key, now + ttl - 1);
    }
    if (this.#held.size + fresh.size > this.#capacity) {
      throw new Error(`${Codes.REPLAY_STORE_UNAVAILABLE}: the replay store is full (${this.#held.size} live entries)`);
    }
    for (const [key, until] of fresh) {
      this.#held.set(key, until);
      this.#push([until, key]);
    }
    return replayed;
  }

  /** How many entries are live (not yet purged). */
  get size() {
    return this.#held.size;
  }

  // Forgets entries remembered only through a second before `now`; a `now` that went back
  // forgets nothing more.
  #purge(now) {
    const heap = this.#heap;
    while (heap.length > 0 && heap[0][0] < now) {
      const [, key] = this.#pop();
      this.#held.delete(key);
    }
  }

  #push(item) {
    const heap = this.#heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent][0] <= heap[i][0]) break;
      [heap[parent], heap[i]] = [heap[i], heap[parent]];
      i = parent;
    }
  }

  #pop() {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let min = i;
        if (l < heap.length && heap[l][0] < heap[min][0]) min = l;
        if (r < heap.length && heap[r][0] < heap[min][0]) min = r;
        if (min === i) break;
        [heap[min], heap[i]] = [heap[i], heap[min]];
        i = min;
      }
    }
    return top;
  }
}

/**
 * A store shared by many nodes through Redis, with the Rust host's exact commands and keys (a Rust
 * node and a Node node sharing one Redis see each other's entries): one
 * `SET <prefix><kind>:<jti> 1 NX PX <ttl ms>` per entry, the TTL relative to the decision's `now`
 * (Redis's absolute clock is never trusted); one key per command, so it works on Redis Cluster.
 * `client` is a node-redis v4+ client (`client.set(key, '1', { NX: true, PX: ms })` resolving to
 * `'OK'` or `null`); pass `setPx` instead to adapt another client (e.g. ioredis:
 * `(key, ms) => redis.set(key, '1', 'PX', ms, 'NX')`).
 */
export class RedisReplayStore {
  #set;
  #prefix;

  constructor({ client, setPx, set, prefix = DEFAULT_PREFIX } = {}) {
    if (set) {
      // The old adapter took an absolute EXAT second: passing it a TTL would expire keys at once.
      throw new TypeError('RedisReplayStore: the `set(key, exp)` option (SET EXAT) was replaced by `setPx(key, ttlMs)`, e.g. ioredis: (key, ms) => redis.set(key, "1", "PX", ms, "NX")');
    }
    if (setPx) this.#set = setPx;
    else if (client) this.#set = (key, ms) => client.set(key, '1', { NX: true, PX: ms });
    else throw new TypeError('RedisReplayStore needs a client or a setPx function');
    this.#prefix = prefix;
  }

  async claim(entries, now) {
    const checked = checkEntries(entries, now);
    const results = await Promise.all(checked.map(({ key, ttl }) => this.#set(this.#prefix + key, ttl * 1000)));
    return checked.filter((_, i) => results[i] !== 'OK' && results[i] !== true).map((e) => e.jti);
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
    checkEntries(entries, now); // refuse before the round trip; the object checks again
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
