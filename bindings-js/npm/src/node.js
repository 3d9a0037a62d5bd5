// Node entry: instantiates the module from the package's .wasm file at import time, and
// verifies ES256 signatures with node:crypto.

import { readFile } from 'node:fs/promises';
import { nodeVerifyEs256 } from './node-verifier.js';
import { setEs256Verifier } from './verifier.js';
import { glue, markReady } from './wasm.js';

const bytes = await readFile(new URL('../wasm/mandate_js_bg.wasm', import.meta.url));
await glue.default({ module_or_path: bytes });
markReady();
setEs256Verifier(nodeVerifyEs256);

/** Already initialised on Node; kept so code written for browsers runs unchanged. */
export async function init() {}

export * from './common.js';
