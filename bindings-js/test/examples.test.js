// The runnable examples (examples/node-express, examples/mcp-guard) run to completion and print
// the decisions they are meant to show.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const example = (name) => fileURLToPath(new URL(`../../examples/${name}/`, import.meta.url));

async function lines(name) {
  const { stdout } = await run(process.execPath, ['main.mjs'], { cwd: example(name) });
  return stdout.trim().split('\n');
}

test('examples/node-express: allowed, denied with codes, replay', async () => {
  const out = await lines('node-express');
  const status = out.map((l) => l.replace(/ \{.*\}$/, ''));
  assert.deepEqual(status, [
    'GET /v1/trips/42 -> 200',
    'POST /v1/trips (amount 300) -> 201',
    'POST /v1/trips (amount 5000) -> 403 policy.denied',
    'DELETE /v1/trips/42 -> 403 delegation.scope_insufficient',
    'GET without a proof -> 403 proof.missing',
    'GET /v1/trips/7 -> 200',
    'GET /v1/trips/7 replayed -> 403 replay.detected',
  ]);
  assert.match(out[0], /"for":"alice","by":"agent:travel-booker"/);
});

test('examples/mcp-guard: tool calls allowed and denied on behalf of the user', async () => {
  assert.deepEqual(await lines('mcp-guard'), [
    'read_file(/home/alice/notes.md) -> read_file(/home/alice/notes.md) done for alice by agent:coder',
    'write_file(/home/alice/todo.md) -> write_file(/home/alice/todo.md) done for alice by agent:coder',
    'read_file(/etc/shadow) -> DENIED policy.denied',
    'delete_file(/home/alice/notes.md) -> DENIED delegation.scope_insufficient',
  ]);
});
