// Cloudflare Workers (workerd) entry: Workers import .wasm files as compiled modules, so the
// module is instantiated synchronously at import time.

import wasmModule from '../wasm/mandate_js_bg.wasm';
import { glue, markReady } from './wasm.js';

glue.initSync({ module: wasmModule });
markReady();

/** Already initialised on Workers; kept so code written for browsers runs unchanged. */
export async function init() {}

export * from './common.js';
