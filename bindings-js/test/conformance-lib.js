// Runs the cross-host conformance vectors (tests/vectors/conformance.json, format in
// tests/README.md) through the package's own decide path, and the HTTP binding vectors
// (tests/vectors/http.json) through its decideHttp path (`{ http: true }`). Runtime-agnostic:
// Node's runner, the Chromium page and the workerd Worker import it with their entry's Pdp.
//
// Each load gets a scripted replay store: a case's `replay` says what the host's store answers
// (`replayed` jtis, or `store_error`), so replay cases go through the same
// decide -> store -> apply_replay path as production, and the answer must be byte-identical to
// native.

const decoder = new TextDecoder();

function scriptedStore() {
  return {
    script: { replayed: [] },
    calls: 0,
    async claim() {
      this.calls += 1;
      if (this.script.store_error) throw new Error('scripted store outage');
      return this.script.replayed ?? [];
    },
  };
}

/** Returns one result per case: { name, ok, problems[] }. */
export async function runConformance(Pdp, vectors, loadOptions = {}, { http = false } = {}) {
  const decideBytes = http ? 'decideHttpBytes' : 'decideBytes';
  const withoutReplayCheck = http ? 'decideHttpWithoutReplayCheck' : 'decideWithoutReplayCheck';
  const pdps = new Map();
  for (const [name, config] of Object.entries(vectors.loads)) {
    const store = scriptedStore();
    pdps.set(name, { pdp: await Pdp.load(config, { ...loadOptions, replayStore: store }), store });
  }
  const results = [];
  for (const c of vectors.cases) {
    const problems = [];
    const entry = pdps.get(c.load);
    if (!entry) {
      results.push({ name: c.name, ok: false, problems: [`unknown load ${c.load}`] });
      continue;
    }
    const { pdp, store } = entry;
    store.script = c.replay ?? { replayed: [] };
    store.calls = 0;
    const text = decoder.decode(await pdp[decideBytes](c.input));
    if (text !== c.output) problems.push(`output bytes differ:\n  got  ${text}\n  want ${c.output}`);
    const doc = JSON.parse(text);
    if (doc.decision !== c.expect.decision) problems.push(`decision ${doc.decision}, want ${c.expect.decision}`);
    const codes = (doc.reasons ?? []).map((r) => r.code);
    if (JSON.stringify(codes) !== JSON.stringify(c.expect.codes)) {
      problems.push(`codes ${JSON.stringify(codes)}, want ${JSON.stringify(c.expect.codes)}`);
    }
    const raw = JSON.parse(decoder.decode(pdp[withoutReplayCheck](c.input)));
    if (raw.decision === 'allow' && store.calls !== 1) problems.push(`an allow consulted the replay store ${store.calls} times`);
    if (raw.decision !== 'allow' && store.calls !== 0) problems.push('a deny consulted the replay store');
    if (!c.replay && decoder.decode(pdp[withoutReplayCheck](c.input)) !== c.output) {
      problems.push('decideWithoutReplayCheck bytes differ');
    }
    results.push({ name: c.name, ok: problems.length === 0, problems });
  }
  return results;
}
