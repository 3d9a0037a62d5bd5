// The one deny answer of every Mandate HTTP host (`mandate serve`'s /v1/check, the Envoy filter,
// the JS middleware): 403, `content-type: application/json`, the reason code in `x-mandate-reason`,
// the decision id in `x-mandate-decision-id`, and `{"decision":"deny","decision_id","reasons"}`.

import assert from 'node:assert/strict';

/** A deny answered as `mandate serve` and the Envoy filter answer it. */
export async function assertDenied(res, code, message = code) {
  assert.equal(res.status, 403, message);
  const header = (name) => (typeof res.headers.get === 'function' ? res.headers.get(name) : res.headers[name]);
  assert.equal(header('content-type'), 'application/json', message);
  assert.equal(header('x-mandate-reason'), code, message);
  const body = typeof res.json === 'function' ? await res.json() : JSON.parse(res.text);
  assert.equal(body.decision, 'deny', message);
  assert.deepEqual(Object.keys(body).sort(), ['decision', 'decision_id', 'reasons'], message);
  for (const r of body.reasons) assert.deepEqual(Object.keys(r).sort(), ['code', 'message'], message);
  assert.equal(body.reasons[0].code, code, `${message}: ${JSON.stringify(body.reasons)}`);
  assert.match(body.decision_id, /^[A-Za-z0-9_-]+$/, message);
  assert.equal(header('x-mandate-decision-id'), body.decision_id, message);
  return body;
}
