// Browser (and generic ESM) entry: the module is fetched next to this file on first use, or from
// what `init()` is given (URL, Response, bytes or a compiled WebAssembly.Module).

import { glue, setLoader, wasm } from './wasm.js';

setLoader(() => glue.default({ module_or_path: new URL('../wasm/mandate_js_bg.wasm', import.meta.url) }));

/** Instantiates the module now, optionally from `source`. `Pdp.load` does this on first use. */
export async function init(source) {
  if (source !== undefined) setLoader(() => glue.default({ module_or_path: source }));
  await wasm();
}

export * from './common.js';
