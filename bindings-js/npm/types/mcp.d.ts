import type { Credentials, DecideInput, Decision, Pdp } from './index.js';

/** The parts of the MCP SDK's RequestHandlerExtra the guard reads. */
export interface ToolCallExtra {
  requestInfo?: { headers: Record<string, string | string[] | undefined>; url?: URL };
  _meta?: { 'mandate/credentials'?: Credentials; [key: string]: unknown };
  [key: string]: unknown;
}

export interface McpGuardOptions {
  /** Where the call's credentials come from; default: HTTP headers, then `_meta["mandate/credentials"]`. */
  credentials?: (extra: ToolCallExtra, name: string) => Credentials;
  /** The URI decided (and named by the proof's htu); default: the HTTP request URL, else toolCallUrl(name, baseUrl). */
  uri?: string | ((extra: ToolCallExtra, name: string) => string);
  baseUrl?: string;
  /** Default `POST`. */
  method?: string;
  resource?: string | ((name: string, args: unknown, extra: ToolCallExtra) => string | undefined);
  ip?: (extra: ToolCallExtra) => string | undefined;
  /** Extra `input.context`; `context.tool = {name, arguments}` is always set. */
  context?: Record<string, unknown> | ((name: string, args: unknown, extra: ToolCallExtra) => Record<string, unknown> | undefined);
  onDecision?: (decision: Decision, name: string, args: unknown) => void;
}

export declare const DEFAULT_TOOL_BASE_URL: 'https://mcp.invalid';
/** `<baseUrl>/tools/<name>`: the URL a non-HTTP tool call is decided against. */
export declare function toolCallUrl(name: string, baseUrl?: string): string;
export declare function toolCallInput(name: string, args: unknown, extra: ToolCallExtra, options?: McpGuardOptions): DecideInput;

export interface DeniedToolResult {
  isError: true;
  content: { type: 'text'; text: string }[];
  _meta: { 'mandate/decision': { decision: 'deny'; code: string; decision_id: string } };
}

export declare function deniedToolResult(name: string, decision: Decision): DeniedToolResult;

/** Wraps one tool handler (`(args, extra)` or `(extra)`); on allow `extra.mandate` is the decision. */
export declare function guardTool<H extends (...args: any[]) => unknown>(pdp: Pdp, name: string, handler: H, options?: McpGuardOptions): H;

/** Guards every tool registered on the server from now on (`registerTool` and `tool`). */
export declare function guardMcpServer<S extends { registerTool?: Function; tool?: Function }>(server: S, pdp: Pdp, options?: McpGuardOptions): S;
