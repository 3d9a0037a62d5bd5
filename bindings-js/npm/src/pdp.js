// The decision point: a loaded bundle plus the host duties the core leaves to hosts (clock,
// nonces, the replay store). Every decision and verdict comes from the core's JSON entry points.

import { Codes } from './codes.js';
import { jsonBytes, nonce, parseJsonBytes, unixNow, utf8, utf8Bytes } from './bytes.js';
import { MemoryReplayStore } from './replay.js';
import { hasHostVerifier } from './verifier.js';
import { wasm } from './wasm.js';

/** Stable code of the fail-closed deny when the replay store cannot answer. */
export const REPLAY_STORE_UNAVAILABLE = Codes.REPLAY_STORE_UNAVAILABLE;

export class Pdp {
  #module;
  #useHost;
  #core;
  #store;
  #status;
  #statusBytes;
  #onStoreError;

  constructor(module, useHost, core, store, onStoreError) {
    this.#module = module;
    this.#useHost = useHost;
    this.#store = store;
    this.#onStoreError = onStoreError;
    this.#serve(core);
  }

  #serve(core) {
    this.#core = core;
    this.#statusBytes = core.status();
    this.#status = parseJsonBytes(this.#statusBytes);
  }

  /**
   * Loads a load config (object, JSON string or bytes). Never throws for a bad config: the
   * decision point then denies every decision with the load error's `bundle.*` code.
   * `verifier`: 'host' (node:crypto on Node, the default there) or 'portable' (p256 in the
   * module, the default elsewhere); both give the same verdicts.
   */
  static async load(config, { replayStore, onStoreError, verifier } = {}) {
    const module = await wasm();
    const useHost = verifier === undefined ? hasHostVerifier() : verifier === 'host';
    if (useHost && !hasHostVerifier()) throw new Error('mandate-pdp: no host ES256 verifier on this runtime');
    const core = new module.Pdp(jsonBytes(config), useHost);
    return new Pdp(module, useHost, core, replayStore ?? new MemoryReplayStore(), onStoreError);
  }

  /**
   * Loads `config` aside and serves it only when the core's replacement rule lets it replace
   * what serves at `now` (default: the host clock): it loaded, it has not expired, it is valid
   * now, and it does not roll back the serving bundle (issued before it, or its revision with
   * other content). The rule `mandate serve`, the Envoy filter and the module's
   * `mandate_replace` apply. Answers the new load status; throws an Error whose `code` is the
   * refusal's (`bundle.expired`, `bundle.not_yet_valid`, `bundle.rollback`, or the load's own
   * `bundle.*` code), and then what served keeps serving. Decisions already started finish on
   * the engine they started with.
   */
  replace(config, { now } = {}) {
    const at = now ?? unixNow();
    const next = new this.#module.Pdp(jsonBytes(config), this.#useHost);
    // A serving status that is not ok means nothing valid serves: the core's rule reads it so.
    const verdict = parseJsonBytes(this.#module.mayReplace(this.#statusBytes, next.status(), at));
    if (!verdict.ok) {
      next.free();
      const err = new Error(`${verdict.error.code}: ${verdict.error.message}`);
      err.code = verdict.error.code;
      throw err;
    }
    const previous = this.#core;
    this.#serve(next);
    previous.free();
    return this.#status;
  }

  /** The load status document of the bundle serving. */
  get status() {
    return this.#status;
  }

  /** The replay store this decision point consults. */
  get replayStore() {
    return this.#store;
  }

  /**
   * Decides one request. Supplies `now` (host clock) and a `mint_grant.jti` nonce when absent,
   * then records every `use_once` jti of an allow in the replay store: an entry already held turns
   * the decision into a `replay.detected` deny (through the core), and a store that throws turns
   * it into a `replay.store_unavailable` deny.
   */
  async decide(input) {
    const { bytes, decision } = await this.#run(input);
    return decision ?? parseJsonBytes(bytes);
  }

  /** `decide()`, answering the canonical decision JSON bytes (what conformance compares). */
  async decideBytes(input) {
    return (await this.#run(input)).bytes;
  }

  /**
   * Decides one HTTP request through the core's HTTP binding (the same one `mandate serve` and
   * the Envoy filter use): input `{ now?, decision_id?, http: { method, scheme, authority, path,
   * headers: [[name, value], ...], peer?, body_digest? }, binding?: { routes, trusted_hops },
   * context?, mint_grant?, enforces? }`. The core works out the route, the Host, the path, the
   * credentials and the client address; the replay store is consulted as in `decide()`.
   */
  async decideHttp(input) {
    const { bytes, decision } = await this.#run(input, 'decideHttp');
    return decision ?? parseJsonBytes(bytes);
  }

  /** `decideHttp()`, answering the canonical decision JSON bytes. */
  async decideHttpBytes(input) {
    return (await this.#run(input, 'decideHttp')).bytes;
  }

  /** The core's decision bytes for an HTTP decide input, exactly as given, WITHOUT the replay store. */
  decideHttpWithoutReplayCheck(input) {
    return this.#core.decideHttp(jsonBytes(input));
  }

  async #run(input, entry = 'decide') {
    const { doc, now } = prepareInput(input, this.#store.remembersSince);
    return this.#consultReplayStore(this.#core[entry](jsonBytes(doc)), now);
  }

  /**
   * The core's decision bytes for `input`, exactly as given, WITHOUT consulting the replay store.
   * For conformance tests and for hosts that run their own store; use `decide()` to enforce.
   */
  decideWithoutReplayCheck(input) {
    return this.#core.decide(jsonBytes(input));
  }

  /**
   * Verifies an ephemeral grant presented for `request` with the agent's DPoP `proof` (a grant is
   * bound to the key in its `cnf.jkt`; the proof's `ath` is the grant's hash): a decide with
   * `credentials: { grant, proof }`.
   */
  async verifyGrant(grant, request, { proof, ...extra } = {}) {
    const credentials = proof === undefined ? { grant } : { grant, proof };
    return this.decide({ ...extra, request, credentials });
  }

  /** Releases the module memory held by this decision point. */
  free() {
    this.#core.free();
  }

  // Answers { bytes, decision? }: `decision` is the parsed form of `bytes` when still current.
  async #consultReplayStore(bytes, now) {
    const decision = parseJsonBytes(bytes);
    if (decision.decision !== 'allow' || !Array.isArray(decision.use_once) || decision.use_once.length === 0) {
      return { bytes, decision };
    }
    let replayed;
    try {
      replayed = await this.#store.claim(decision.use_once, now);
      if (!Array.isArray(replayed)) throw new TypeError('replay store claim() did not return an array');
    } catch (err) {
      this.#onStoreError?.(err);
      return { bytes: this.#applyReplay(bytes, [], true) };
    }
    if (replayed.length === 0) return { bytes, decision };
    return { bytes: this.#applyReplay(bytes, replayed, false) };
  }

  // The decision's own bytes are spliced in, never re-serialised by JS.
  #applyReplay(decisionBytes, replayed, storeError) {
    const head = utf8Bytes(`{"decision":`);
    const tail = utf8Bytes(`,"replayed":${JSON.stringify(replayed.map(String))},"store_error":${storeError}}`);
    const input = new Uint8Array(head.length + decisionBytes.length + tail.length);
    input.set(head, 0);
    input.set(decisionBytes, head.length);
    input.set(tail, head.length + decisionBytes.length);
    return this.#module.applyReplay(input);
  }
}

// Supplies what the host owns: `now`, a grant nonce, and the store's `remembersSince` as the
// input's `replay_since` (the later of the two when the input names one), as the Rust host's
// Decider does. A pre-serialised input is never re-serialised (the core's strict parser judges
// its bytes): `replay_since` is spliced in front of its members when it names none, and one
// naming an earlier time is then refused as malformed by the duplicate key, never widened.
function prepareInput(input, since) {
  if (input instanceof Uint8Array || typeof input === 'string' || input instanceof ArrayBuffer) {
    let now = unixNow();
    let doc = input;
    try {
      const parsed = JSON.parse(typeof input === 'string' ? input : utf8(jsonBytes(input)));
      if (Number.isInteger(parsed?.now)) now = parsed.now;
      if (Number.isSafeInteger(since) && isObject(parsed) && !(Number.isInteger(parsed.replay_since) && parsed.replay_since >= since)) {
        doc = withReplaySince(jsonBytes(input), since, Object.keys(parsed).length === 0);
      }
    } catch {
      // The core answers input.malformed; nothing to record.
    }
    return { doc, now };
  }
  const doc = { ...input };
  if (doc.now === undefined) doc.now = unixNow();
  if (doc.mint_grant && doc.mint_grant.jti === undefined) doc.mint_grant = { ...doc.mint_grant, jti: nonce() };
  if (Number.isSafeInteger(since)) {
    const given = doc.replay_since;
    if (given === undefined || given === null) doc.replay_since = since;
    else if (Number.isInteger(given)) doc.replay_since = Math.max(given, since);
    // Anything else is the core's input.malformed, passed on as it came.
  }
  return { doc, now: doc.now };
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// The bytes with `"replay_since":<since>,` after the object's opening brace; all else as given.
function withReplaySince(bytes, since, empty) {
  const open = bytes.indexOf(0x7b) + 1; // just after '{' (what precedes it stays, for the core)
  const member = utf8Bytes(`"replay_since":${since}${empty ? '' : ','}`);
  const out = new Uint8Array(bytes.length + member.length);
  out.set(bytes.subarray(0, open), 0);
  out.set(member, open);
  out.set(bytes.subarray(open), open + member.length);
  return out;
}

/** Mints a token with a private JWK through the core (`kind`: bundle, delegation, subdelegation, proof). */
export async function mint(input) {
  const { mint: coreMint } = await wasm();
  const out = parseJsonBytes(coreMint(jsonBytes(input)));
  if (out.error) {
    const err = new Error(`${out.error.code}: ${out.error.message}`);
    err.code = out.error.code;
    throw err;
  }
  return out.token;
}
