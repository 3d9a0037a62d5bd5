// ES256 verification with node:crypto (OpenSSL): ~50 µs against ~550 µs for p256 in wasm.
// Public keys are imported once and kept in a small bounded map.

import { createPublicKey, verify } from 'node:crypto';

const MAX_KEYS = 1024;
const keys = new Map();

function keyFor(x, y) {
  const id = `${x}.${y}`;
  let key = keys.get(id);
  if (key === undefined) {
    key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
    if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value);
    keys.set(id, key);
  }
  return key;
}

export function nodeVerifyEs256(x, y, message, signature) {
  return verify('sha256', message, { key: keyFor(x, y), dsaEncoding: 'ieee-p1363' }, signature);
}
