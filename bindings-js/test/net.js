// Loopback helpers for tests that start real servers.

import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort() {
  const srv = createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/**
 * Waits until `url` answers HTTP at all (any status). Fails early if `alive()` turns false, and
 * after `attempts` tries, with `log()` in the message. A readiness wait, not a timing assertion.
 */
export async function waitForHttp(url, alive, log, attempts = 600) {
  for (let i = 0; i < attempts; i++) {
    if (!alive()) throw new Error(`server exited before answering:\n${log()}`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`no answer from ${url}:\n${log()}`);
}

/**
 * One HTTP/1.1 request over loopback exactly as given: the request target unnormalized (fetch
 * would resolve `..`), `headers` as `[[name, value], ...]` in order with repeats and their case,
 * and `Host` only if listed (fetch sets its own). Resolves `{ status, headers, text, json() }`.
 */
export async function rawRequest(base, { method = 'GET', path = '/', headers = [], body } = {}) {
  const { request } = await import('node:http');
  const url = new URL(base);
  const flat = headers.flatMap(([n, v]) => [n, v]);
  if (body !== undefined) flat.push('content-length', String(Buffer.byteLength(body)));
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, setHost: false, headers: flat }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
