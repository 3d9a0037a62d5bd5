# workerd configuration that replays tests/vectors/conformance.json and tests/vectors/http.json
# in the Workers runtime.
# The test overrides the socket address with --socket-addr http=127.0.0.1:PORT.

using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "conformance", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:8790", http = (), service = "conformance")],
);

const worker :Workerd.Worker = (
  compatibilityDate = "2025-06-01",
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "conformance-lib.js", esModule = embed "../conformance-lib.js"),
    (name = "vectors", json = embed "../../../tests/vectors/conformance.json"),
    (name = "http-vectors", json = embed "../../../tests/vectors/http.json"),
    (name = "mandate-pdp", esModule = "export * from 'mandate-pdp/src/workerd.js';"),
    (name = "mandate-pdp/src/workerd.js", esModule = embed "../../npm/src/workerd.js"),
    (name = "mandate-pdp/src/common.js", esModule = embed "../../npm/src/common.js"),
    (name = "mandate-pdp/src/wasm.js", esModule = embed "../../npm/src/wasm.js"),
    (name = "mandate-pdp/src/pdp.js", esModule = embed "../../npm/src/pdp.js"),
    (name = "mandate-pdp/src/codes.js", esModule = embed "../../npm/src/codes.js"),
    (name = "mandate-pdp/src/replay.js", esModule = embed "../../npm/src/replay.js"),
    (name = "mandate-pdp/src/http.js", esModule = embed "../../npm/src/http.js"),
    (name = "mandate-pdp/src/agent.js", esModule = embed "../../npm/src/agent.js"),
    (name = "mandate-pdp/src/bytes.js", esModule = embed "../../npm/src/bytes.js"),
    (name = "mandate-pdp/src/cloudflare.js", esModule = embed "../../npm/src/cloudflare.js"),
    (name = "mandate-pdp/src/verifier.js", esModule = embed "../../npm/src/verifier.js"),
    (name = "mandate-pdp/wasm/mandate_js.js", esModule = embed "../../npm/wasm/mandate_js.js"),
    (name = "mandate-pdp/wasm/mandate_js_bg.wasm", wasm = embed "../../npm/wasm/mandate_js_bg.wasm"),
  ],
);
