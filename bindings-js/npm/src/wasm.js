// Holds the wasm-bindgen glue and how to instantiate it. Each entry point (node, web, workerd)
// registers a loader; everything else awaits `wasm()` and gets the initialised exports.

import * as glue from '../wasm/mandate_js.js';

let loader = null;
let ready = null;

/** Called by an entry point with a function that instantiates the module. */
export function setLoader(fn) {
  loader = fn;
}

/** Marks the glue as initialised (entry points that instantiate synchronously). */
export function markReady() {
  ready = Promise.resolve(glue);
}

/** The initialised glue (WasmPdp class and mint). */
export async function wasm() {
  if (!ready) {
    if (!loader) throw new Error('mandate-pdp: no WebAssembly loader; call init() first');
    ready = Promise.resolve(loader()).then(() => glue);
    ready.catch(() => {
      ready = null;
    });
  }
  return ready;
}

export { glue };
