// Byte and base64url helpers shared by the package. No decision logic lives here.

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** UTF-8 bytes of a JSON document given as an object, a string or bytes. */
export function jsonBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (typeof value === 'string') return encoder.encode(value);
  return encoder.encode(JSON.stringify(value));
}

export function utf8(bytes) {
  return decoder.decode(bytes);
}

export function utf8Bytes(text) {
  return encoder.encode(text);
}

export function parseJsonBytes(bytes) {
  return JSON.parse(decoder.decode(bytes));
}

export function b64url(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function b64urlJson(value) {
  return b64url(encoder.encode(JSON.stringify(value)));
}

/** A random base64url nonce (128 bits by default), from the platform's CSPRNG. */
export function nonce(bytes = 16) {
  const buf = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buf);
  return b64url(buf);
}

/** base64url SHA-256 of a string or bytes (WebCrypto). */
export async function sha256b64url(data) {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes);
  return b64url(new Uint8Array(digest));
}

/** Current Unix time in whole seconds: the host's clock, handed to the core as `now`. */
export function unixNow() {
  return Math.floor(Date.now() / 1000);
}
