# workerd configuration for the Mandate Worker example (written by hand: miniflare/wrangler 4
# need Node >= 22). Two nodes of the same Worker sit behind one public name and share one replay
# store, a Durable Object: a request accepted by one node is a replay on the other.
#
# Serve it with `npx workerd serve config.capnp` after `bash scripts/build-js.sh`, with the load
# config (docs/formats.md) in the MANDATE_CONFIG environment variable. The test
# (bindings-js/test/workerd.test.js) overrides the addresses with --socket-addr and --external-addr.
#
# Modules are listed one by one: workerd resolves `import 'mandate-pdp'` to the module of that
# name and relative imports against each module's name, so the package keeps its layout under
# "mandate-pdp/". In an app of your own, embed them from node_modules/mandate-pdp/ instead.

using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "node-a", worker = .nodeA),
    (name = "node-b", worker = .nodeB),
    # The protected API. Its address is overridden with --external-addr upstream=HOST:PORT.
    (name = "upstream", external = (address = "127.0.0.1:8788", http = ())),
  ],
  sockets = [
    (name = "http-a", address = "127.0.0.1:8787", http = (), service = "node-a"),
    (name = "http-b", address = "127.0.0.1:8789", http = (), service = "node-b"),
  ],
);

const modules :List(Workerd.Worker.Module) = [
  (name = "worker.js", esModule = embed "worker.js"),
  (name = "mandate-pdp", esModule = "export * from 'mandate-pdp/src/workerd.js';"),
  (name = "mandate-pdp/src/workerd.js", esModule = embed "../../bindings-js/npm/src/workerd.js"),
  (name = "mandate-pdp/src/common.js", esModule = embed "../../bindings-js/npm/src/common.js"),
  (name = "mandate-pdp/src/wasm.js", esModule = embed "../../bindings-js/npm/src/wasm.js"),
  (name = "mandate-pdp/src/pdp.js", esModule = embed "../../bindings-js/npm/src/pdp.js"),
  (name = "mandate-pdp/src/codes.js", esModule = embed "../../bindings-js/npm/src/codes.js"),
  (name = "mandate-pdp/src/replay.js", esModule = embed "../../bindings-js/npm/src/replay.js"),
  (name = "mandate-pdp/src/http.js", esModule = embed "../../bindings-js/npm/src/http.js"),
  (name = "mandate-pdp/src/agent.js", esModule = embed "../../bindings-js/npm/src/agent.js"),
  (name = "mandate-pdp/src/bytes.js", esModule = embed "../../bindings-js/npm/src/bytes.js"),
  (name = "mandate-pdp/src/cloudflare.js", esModule = embed "../../bindings-js/npm/src/cloudflare.js"),
  (name = "mandate-pdp/src/verifier.js", esModule = embed "../../bindings-js/npm/src/verifier.js"),
  (name = "mandate-pdp/wasm/mandate_js.js", esModule = embed "../../bindings-js/npm/wasm/mandate_js.js"),
  (name = "mandate-pdp/wasm/mandate_js_bg.wasm", wasm = embed "../../bindings-js/npm/wasm/mandate_js_bg.wasm"),
];

# Node A owns the replay Durable Object class; node B binds the same namespace.
const nodeA :Workerd.Worker = (
  compatibilityDate = "2025-06-01",
  modules = .modules,
  bindings = [
    # The load config (docs/formats.md): bundle, trust keys, grant key.
    (name = "MANDATE_CONFIG", fromEnvironment = "MANDATE_CONFIG"),
    (name = "PUBLIC_ORIGIN", fromEnvironment = "PUBLIC_ORIGIN"),
    (name = "UPSTREAM", service = "upstream"),
    (name = "UPSTREAM_ORIGIN", text = "http://upstream.internal"),
    (name = "REPLAY", durableObjectNamespace = "ReplayDurableObject"),
  ],
  durableObjectNamespaces = [
    (className = "ReplayDurableObject", uniqueKey = "mandate-replay-store"),
  ],
  durableObjectStorage = (inMemory = void),
);

const nodeB :Workerd.Worker = (
  compatibilityDate = "2025-06-01",
  modules = .modules,
  bindings = [
    (name = "MANDATE_CONFIG", fromEnvironment = "MANDATE_CONFIG"),
    (name = "PUBLIC_ORIGIN", fromEnvironment = "PUBLIC_ORIGIN"),
    (name = "UPSTREAM", service = "upstream"),
    (name = "UPSTREAM_ORIGIN", text = "http://upstream.internal"),
    (name = "REPLAY", durableObjectNamespace = (serviceName = "node-a", className = "ReplayDurableObject")),
  ],
);
