// A Durable Object class that serves the replay store of many Worker isolates (see
// DurableObjectReplayStore). Bind it in wrangler.toml / the workerd config and export it from
// the Worker's main module. Same semantics as every other Mandate replay store (./replay.js,
// tests/vectors/replay.json): keys `<kind>:<jti>`, each remembered through the second
// `max(exp, now)` of the claim's `now`.

import { checkEntries } from './replay.js';

const SWEEP_EVERY = 256;

export class ReplayDurableObject {
  #storage;
  #claims = 0;

  constructor(state) {
    this.#storage = state.storage;
  }

  async fetch(request) {
    let checked;
    let now;
    try {
      const body = await request.json();
      now = body.now;
      checked = checkEntries(body.entries, now);
    } catch (err) {
      // Nothing is recorded; the caller's claim throws and the decision denies.
      return new Response(`bad claim: ${err.message}`, { status: 400 });
    }
    // A Durable Object runs one event at a time and its storage calls are gated, so this
    // read-then-write is atomic for all isolates using this object.
    const keys = checked.map((e) => `jti:${e.key}`);
    const held = await this.#storage.get(keys);
    const replayed = [];
    const fresh = {};
    checked.forEach((e, i) => {
      const until = held.get(keys[i]);
      if ((until !== undefined && until >= now) || Object.hasOwn(fresh, keys[i])) replayed.push(e.jti);
      else fresh[keys[i]] = now + e.ttl - 1;
    });
    if (Object.keys(fresh).length > 0) await this.#storage.put(fresh);
    if (++this.#claims % SWEEP_EVERY === 0) await this.#sweep(now);
    return Response.json({ replayed });
  }

  async #sweep(now) {
    const all = await this.#storage.list({ prefix: 'jti:' });
    const expired = [...all].filter(([, until]) => until < now).map(([key]) => key);
    for (let i = 0; i < expired.length; i += 128) await this.#storage.delete(expired.slice(i, i + 128));
  }
}
