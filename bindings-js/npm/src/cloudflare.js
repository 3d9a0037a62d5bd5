// A Durable Object class that serves the replay store of many Worker isolates (see
// DurableObjectReplayStore). Bind it in wrangler.toml / the workerd config and export it from
// the Worker's main module.

const SWEEP_EVERY = 256;

export class ReplayDurableObject {
  #storage;
  #claims = 0;

  constructor(state) {
    this.#storage = state.storage;
  }

  async fetch(request) {
    const { entries, now } = await request.json();
    if (!Array.isArray(entries) || !Number.isInteger(now)) {
      return new Response('bad claim', { status: 400 });
    }
    // A Durable Object runs one event at a time and its storage calls are gated, so this
    // read-then-write is atomic for all isolates using this object.
    const keys = entries.map((e) => `jti:${e.jti}`);
    const held = await this.#storage.get(keys);
    const replayed = [];
    const fresh = {};
    entries.forEach((e, i) => {
      const exp = held.get(keys[i]);
      if (exp !== undefined && exp >= now) replayed.push(e.jti);
      else fresh[keys[i]] = e.exp;
    });
    if (Object.keys(fresh).length > 0) await this.#storage.put(fresh);
    if (++this.#claims % SWEEP_EVERY === 0) await this.#sweep(now);
    return Response.json({ replayed });
  }

  async #sweep(now) {
    const all = await this.#storage.list({ prefix: 'jti:' });
    const expired = [...all].filter(([, exp]) => exp < now).map(([key]) => key);
    for (let i = 0; i < expired.length; i += 128) await this.#storage.delete(expired.slice(i, i + 128));
  }
}
