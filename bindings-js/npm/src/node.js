// Node entry: instantiates the module from the package's .wasm file at import time.

import { readFile } from 'node:fs/promises';
import { glue } from './wasm.js';
import { markReady } from './wasm.js';

const bytes = await readFile(new URL('../wasm/mandate_js_bg.wasm', import.meta.url));
await glue.default({ module_or_path: bytes });
markReady();

/** Already initialised on Node; kept so code written for browsers runs unchanged. */
export async function init() {}

export * from './common.js';
