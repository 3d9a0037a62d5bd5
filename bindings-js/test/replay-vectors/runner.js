// Runs tests/vectors/replay.json (tests/README.md, "Replay vectors") against one kind of replay
// store. Shared by ../replay-vectors.test.js (Node: memory, Redis) and worker.js (workerd:
// Durable Object). No Node APIs here.

/**
 * `open(c, index)` answers `{ store, beforeStep? }` for a fresh store for case `c`;
 * `beforeStep(now)` runs before each step (the Redis runner moves Redis's clock there).
 * `bounded`: whether the store has a capacity (cases with `store.capacity` run only then).
 * Answers one result per case: `{ name, ok, skipped, problems }`.
 */
export async function runReplayVectors(vectors, open, { bounded }) {
  const results = [];
  for (const [index, c] of vectors.cases.entries()) {
    if (c.store.capacity !== null && !bounded) {
      results.push({ name: c.name, ok: true, skipped: true, problems: [] });
      continue;
    }
    const { store, beforeStep } = await open(c, index);
    const problems = [];
    for (const [i, step] of c.steps.entries()) {
      if (beforeStep) await beforeStep(step.now);
      let got;
      try {
        const replayed = await store.claim(step.entries, step.now);
        got = replayed.length === 0 ? { expect: 'inserted' } : { expect: 'replayed', replayed };
      } catch (err) {
        got = { expect: 'store_error', error: String(err?.message ?? err) };
      }
      const want = step.expect === 'replayed' ? { expect: 'replayed', replayed: step.replayed } : { expect: step.expect };
      const same = got.expect === want.expect && (want.expect !== 'replayed' || JSON.stringify(got.replayed) === JSON.stringify(want.replayed));
      if (!same) problems.push(`step ${i} (now ${step.now}): expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
    }
    results.push({ name: c.name, ok: problems.length === 0, skipped: false, problems });
  }
  return results;
}
