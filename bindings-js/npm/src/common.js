// Everything the package exports, whatever the runtime. Entry points add how the module loads.

export { Codes, CodeOrigins } from './codes.js';
export { Pdp, mint, REPLAY_STORE_UNAVAILABLE } from './pdp.js';
export { MemoryReplayStore, RedisReplayStore, DurableObjectReplayStore } from './replay.js';
export { httpBinding, httpDecideInput, nodeHttpRequest, fetchHttpRequest, authorizeRequest, denyBody, denyHeaders, denyResponse, reasonCode } from './http.js';
export { generateAgentKey, createProof, createSubdelegation, signJws, publicJwkOf, bodyDigest, MandateAgent } from './agent.js';
export { ReplayDurableObject } from './cloudflare.js';
