import type { Credentials, DecideInput, Decision, HttpDecideInput, Pdp } from './index.js';

/** The parts of the MCP SDK's RequestHandlerExtra the guard reads. */
export interface ToolCallExtra {
  requestInfo?: { headers: Record<string, string | string[] | undefined>; url?: URL };
  _meta?: { 'mandate/credentials'?: Credentials; [key: string]: unknown };
  [key: string]: unknown;
}

export interface McpGuardOptions {
  /**
   * Where the call's credentials come from. Default: a call that arrived over HTTP is decided
   * through the core's HTTP binding from the request that carried it (its headers); any other
   * call presents `_meta["mandate/credentials"]`. Given, the call is decided with these.
   */
  credentials?: (extra: ToolCallExtra, name: string) => Credentials;
  /** The URI decided for calls without HTTP (and named by the proof's htu); default toolCallUrl(name, baseUrl). */
  uri?: string | ((extra: ToolCallExtra, name: string) => string);
  baseUrl?: string;
  /** Default `POST`. */
  method?: string;
  resource?: string | ((name: string, args: unknown, extra: ToolCallExtra) => string | undefined);
  /** The client address: the HTTP peer of the carrying request, or `request.ip` without HTTP. */
  peer?: (extra: ToolCallExtra) => string | undefined;
  /** Proxies in front of the MCP endpoint that each append to X-Forwarded-For (HTTP calls). */
  trustedHops?: number;
  /**
   * Obligations the tool handlers enforce; they reach the handler in `extra.mandate.obligations`.
   * Any other obligation blocks the call (`obligation.unsupported`); `require_approval` always
   * does (`approval.required`).
   */
  enforces?: string[];
  /** The clock, in seconds; default the host clock. */
  now?: () => number;
  /** Extra `input.context`; `context.tool = {name, arguments}` is always set. */
  context?: Record<string, unknown> | ((name: string, args: unknown, extra: ToolCallExtra) => Record<string, unknown> | undefined);
  onDecision?: (decision: Decision, name: string, args: unknown) => void;
}

export declare const DEFAULT_TOOL_BASE_URL: 'https://mcp.invalid';
/** `<baseUrl>/tools/<name>`: the URL a non-HTTP tool call is decided against. */
export declare function toolCallUrl(name: string, baseUrl?: string): string;
/** The decide input of a tool call without HTTP. */
export declare function toolCallInput(name: string, args: unknown, extra: ToolCallExtra, options?: McpGuardOptions): DecideInput;
/** The HTTP decide input of a tool call that arrived over HTTP: its request, one route to `tool:<name>`. */
export declare function toolCallHttpInput(name: string, args: unknown, extra: ToolCallExtra & { requestInfo: NonNullable<ToolCallExtra['requestInfo']> }, options?: McpGuardOptions): HttpDecideInput;

export interface DeniedToolResult {
  isError: true;
  content: { type: 'text'; text: string }[];
  _meta: { 'mandate/decision': { decision: 'deny'; code: string; decision_id: string; reasons: { code: string; message: string }[] } };
}

export declare function deniedToolResult(name: string, decision: Decision): DeniedToolResult;

/** Wraps one tool handler (`(args, extra)` or `(extra)`); on allow `extra.mandate` is the decision. */
export declare function guardTool<H extends (...args: any[]) => unknown>(pdp: Pdp, name: string, handler: H, options?: McpGuardOptions): H;

/** Guards every tool registered on the server from now on (`registerTool` and `tool`). */
export declare function guardMcpServer<S extends { registerTool?: Function; tool?: Function }>(server: S, pdp: Pdp, options?: McpGuardOptions): S;
