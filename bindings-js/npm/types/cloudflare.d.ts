/** A Durable Object that serves DurableObjectReplayStore for every isolate of a Worker. */
export declare class ReplayDurableObject {
  constructor(state: { storage: unknown }, env?: unknown);
  fetch(request: Request): Promise<Response>;
}
