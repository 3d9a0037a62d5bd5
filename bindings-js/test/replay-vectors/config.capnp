# workerd configuration that runs tests/vectors/replay.json against the Durable Object replay
# store (DurableObjectReplayStore + ReplayDurableObject, in-memory storage).
# The test overrides the socket address with --socket-addr http=127.0.0.1:PORT.

using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "replay", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:8791", http = (), service = "replay")],
);

const worker :Workerd.Worker = (
  compatibilityDate = "2025-06-01",
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "runner.js", esModule = embed "runner.js"),
    (name = "vectors", json = embed "../../../tests/vectors/replay.json"),
    (name = "mandate-pdp/src/codes.js", esModule = embed "../../npm/src/codes.js"),
    (name = "mandate-pdp/src/replay.js", esModule = embed "../../npm/src/replay.js"),
    (name = "mandate-pdp/src/cloudflare.js", esModule = embed "../../npm/src/cloudflare.js"),
  ],
  bindings = [(name = "REPLAY", durableObjectNamespace = "ReplayDurableObject")],
  durableObjectNamespaces = [(className = "ReplayDurableObject", uniqueKey = "mandate-replay-vectors")],
  durableObjectStorage = (inMemory = void),
);
