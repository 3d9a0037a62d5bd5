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
