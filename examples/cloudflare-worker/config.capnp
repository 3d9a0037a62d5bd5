# workerd configuration for the Mandate Worker example (written by hand: miniflare/wrangler 4
# need Node >= 22). Serve it with `npx workerd serve config.capnp` after `bash scripts/build-js.sh`;
# the test (bindings-js/test/workerd.test.js) overrides the addresses with --socket-addr and
# --external-addr and passes the load config in the MANDATE_CONFIG environment variable.
#
# Modules are listed one by one: workerd resolves `import 'mandate-pdp'` to the module of that
# name and relative imports against each module's name, so the package keeps its layout under
# "mandate-pdp/". In an app of your own, embed them from node_modules/mandate-pdp/ instead.

using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "mandate", worker = .mandateWorker),
    # The protected API. Its address is overridden with --external-addr upstream=HOST:PORT.
    (name = "upstream", external = (address = "127.0.0.1:8788", http = ())),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:8787", http = (), service = "mandate"),
  ],
);

const mandateWorker :Workerd.Worker = (
  compatibilityDate = "2025-06-01",
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "mandate-pdp", esModule = "export * from 'mandate-pdp/src/workerd.js';"),
    (name = "mandate-pdp/src/workerd.js", esModule = embed "../../bindings-js/npm/src/workerd.js"),
    (name = "mandate-pdp/src/common.js", esModule = embed "../../bindings-js/npm/src/common.js"),
    (name = "mandate-pdp/src/wasm.js", esModule = embed "../../bindings-js/npm/src/wasm.js"),
    (name = "mandate-pdp/src/pdp.js", esModule = embed "../../bindings-js/npm/src/pdp.js"),
    (name = "mandate-pdp/src/replay.js", esModule = embed "../../bindings-js/npm/src/replay.js"),
    (name = "mandate-pdp/src/http.js", esModule = embed "../../bindings-js/npm/src/http.js"),
    (name = "mandate-pdp/src/agent.js", esModule = embed "../../bindings-js/npm/src/agent.js"),
    (name = "mandate-pdp/src/bytes.js", esModule = embed "../../bindings-js/npm/src/bytes.js"),
    (name = "mandate-pdp/src/cloudflare.js", esModule = embed "../../bindings-js/npm/src/cloudflare.js"),
    (name = "mandate-pdp/src/verifier.js", esModule = embed "../../bindings-js/npm/src/verifier.js"),
    (name = "mandate-pdp/wasm/mandate_js.js", esModule = embed "../../bindings-js/npm/wasm/mandate_js.js"),
    (name = "mandate-pdp/wasm/mandate_js_bg.wasm", wasm = embed "../../bindings-js/npm/wasm/mandate_js_bg.wasm"),
  ],
  bindings = [
    # The load config (docs/formats.md): bundle, trust keys, grant key.
    (name = "MANDATE_CONFIG", fromEnvironment = "MANDATE_CONFIG"),
    (name = "UPSTREAM", service = "upstream"),
    (name = "UPSTREAM_ORIGIN", text = "http://upstream.internal"),
    (name = "REPLAY", durableObjectNamespace = "ReplayDurableObject"),
  ],
  durableObjectNamespaces = [
    (className = "ReplayDurableObject", uniqueKey = "mandate-replay-store"),
  ],
  durableObjectStorage = (inMemory = void),
);
