// MCP guard: wraps the tool handlers of an @modelcontextprotocol/sdk server so that every tool
// call is decided by Mandate on behalf of the user, with the tool's name and arguments visible to
// the guardrails as `input.request.action == "tool:<name>"` and `input.context.tool`.

import { credentialsFromHeaders } from './http.js';

/**
 * Where a tool call's credentials come from, in order: `options.credentials(extra, name)`; the
 * HTTP request that carried the call (streamable HTTP / SSE transports: the same headers as the
 * HTTP middleware); the call's `_meta["mandate/credentials"]` (`{delegation, proof}` or
 * `{grant}`, for stdio and in-process transports).
 */
function toolCredentials(extra, name, options) {
  if (options.credentials) return options.credentials(extra, name);
  const headers = extra?.requestInfo?.headers;
  if (headers) {
    const fromHeaders = credentialsFromHeaders((h) => headers[h] ?? headers[h.toLowerCase()]);
    if (Object.keys(fromHeaders).length > 0) return fromHeaders;
  }
  return extra?._meta?.['mandate/credentials'] ?? {};
}

/** Base URL of tool calls that arrive without an HTTP request (stdio, in-process transports). */
export const DEFAULT_TOOL_BASE_URL = 'https://mcp.invalid';

/**
 * The URL a tool call made without HTTP is decided against (and the agent's DPoP proof names as
 * `htu`): `<baseUrl>/tools/<name>`. `.invalid` is a reserved name: it says "no network location".
 */
export function toolCallUrl(name, baseUrl = DEFAULT_TOOL_BASE_URL) {
  return `${baseUrl.replace(/\/+$/, '')}/tools/${encodeURIComponent(name)}`;
}

/**
 * The URI a tool call is decided (and its DPoP proof bound) against: `options.uri` (string or
 * function of `(extra, name)`), else the URL of the HTTP request that carried it, else
 * `toolCallUrl(name, options.baseUrl)`.
 */
function toolUri(extra, name, options) {
  if (typeof options.uri === 'function') return options.uri(extra, name);
  if (typeof options.uri === 'string') return options.uri;
  const url = extra?.requestInfo?.url;
  if (url) return String(url);
  return toolCallUrl(name, options.baseUrl);
}

/** The decide input of one tool call. */
export function toolCallInput(name, args, extra, options = {}) {
  const request = {
    method: options.method ?? 'POST',
    uri: toolUri(extra, name, options),
    action: `tool:${name}`,
  };
  const resource = typeof options.resource === 'function' ? options.resource(name, args, extra) : options.resource;
  if (resource !== undefined) request.resource = resource;
  const ip = options.ip?.(extra);
  if (ip) request.ip = ip;
  const extraContext = typeof options.context === 'function' ? options.context(name, args, extra) : options.context;
  const input = {
    request,
    credentials: toolCredentials(extra, name, options),
    context: { ...(extraContext ?? {}), tool: { name, arguments: args ?? {} } },
  };
  return input;
}

/** The tool result returned instead of running the tool when Mandate denies the call. */
export function deniedToolResult(name, decision) {
  const reason = decision.reasons?.[0];
  const code = reason?.code ?? 'policy.not_allowed';
  return {
    isError: true,
    content: [{ type: 'text', text: `Mandate denied tool:${name}: ${code}${reason?.message ? ` (${reason.message})` : ''}` }],
    _meta: { 'mandate/decision': { decision: decision.decision, code, decision_id: decision.decision_id } },
  };
}

/**
 * Wraps one tool handler. The SDK calls handlers as `(args, extra)` when the tool has an input
 * schema and `(extra)` when it has none; both shapes are kept. On allow the handler runs with
 * `extra.mandate` set to the decision.
 */
export function guardTool(pdp, name, handler, options = {}) {
  return async function guarded(...callArgs) {
    const extra = callArgs[callArgs.length - 1];
    const args = callArgs.length > 1 ? callArgs[0] : undefined;
    const decision = await pdp.decide(toolCallInput(name, args, extra, options));
    options.onDecision?.(decision, name, args);
    if (decision.decision !== 'allow') return deniedToolResult(name, decision);
    const guardedExtra = { ...extra, mandate: decision };
    return callArgs.length > 1 ? handler(args, guardedExtra) : handler(guardedExtra);
  };
}

/**
 * Guards every tool registered on `server` (an `McpServer`) from now on, through `registerTool`
 * and the older `tool`. Call it before registering tools. Returns the server.
 */
export function guardMcpServer(server, pdp, options = {}) {
  const registerTool = server.registerTool?.bind(server);
  if (registerTool) {
    server.registerTool = (name, config, handler) => registerTool(name, config, guardTool(pdp, name, handler, options));
  }
  const tool = server.tool?.bind(server);
  if (tool) {
    server.tool = (name, ...rest) => {
      const handler = rest.pop();
      return tool(name, ...rest, guardTool(pdp, name, handler, options));
    };
  }
  return server;
}
