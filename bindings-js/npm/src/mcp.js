// MCP guard: wraps the tool handlers of an @modelcontextprotocol/sdk server so that every tool
// call is decided by Mandate on behalf of the user, with the tool's name and arguments visible to
// the guardrails as `input.request.action == "tool:<name>"` and `input.context.tool`.
//
// A call that arrived over HTTP (streamable HTTP / SSE transports) is decided through the core's
// HTTP binding (`pdp.decideHttp`) from the request that carried it — its Host, path, headers and
// credentials read by the core, as for the HTTP middleware — with a one-route binding naming the
// tool. A call without HTTP (stdio, in-process) presents `_meta["mandate/credentials"]`.
//
// Obligations are never dropped: a guardrail's `require_approval` is an `approval.required` deny
// and any obligation not named in `enforces` an `obligation.unsupported` deny, blocking the call
// like every other deny. An obligation the guard's user declared in `enforces` reaches the handler
// in `extra.mandate.obligations`, and the handler must enforce it.

import { Codes } from './codes.js';
import { httpBinding } from './http.js';

/** Base URL of tool calls that arrive without an HTTP request (stdio, in-process transports). */
export const DEFAULT_TOOL_BASE_URL = 'https://mcp.invalid';

/**
 * The URL a tool call made without HTTP is decided against (and the agent's DPoP proof names as
 * `htu`): `<baseUrl>/tools/<name>`. `.invalid` is a reserved name: it says "no network location".
 */
export function toolCallUrl(name, baseUrl = DEFAULT_TOOL_BASE_URL) {
  return `${baseUrl.replace(/\/+$/, '')}/tools/${encodeURIComponent(name)}`;
}

function computed(option, ...args) {
  return typeof option === 'function' ? option(...args) : option;
}

function toolContext(name, args, extra, options) {
  const extraContext = computed(options.context, name, args, extra);
  return { ...(extraContext ?? {}), tool: { name, arguments: args ?? {} } };
}

function withCommon(input, options) {
  if (options.enforces !== undefined) input.enforces = [...options.enforces];
  if (options.now !== undefined) input.now = options.now();
  return input;
}

/**
 * The decide input of a tool call made without HTTP (or with `options.credentials`): the URI is
 * `options.uri` (string or function of `(extra, name)`), else `toolCallUrl(name, options.baseUrl)`;
 * the credentials `options.credentials(extra, name)`, else `_meta["mandate/credentials"]`
 * (`{delegation, proof}` or `{grant, proof}`).
 */
export function toolCallInput(name, args, extra, options = {}) {
  const request = {
    method: options.method ?? 'POST',
    uri: computed(options.uri, extra, name) ?? (extra?.requestInfo?.url ? String(extra.requestInfo.url) : toolCallUrl(name, options.baseUrl)),
    action: `tool:${name}`,
  };
  const resource = computed(options.resource, name, args, extra);
  if (resource !== undefined) request.resource = resource;
  const peer = options.peer?.(extra);
  if (peer) request.ip = peer;
  const credentials = options.credentials ? options.credentials(extra, name) : (extra?._meta?.['mandate/credentials'] ?? {});
  return withCommon({ request, credentials, context: toolContext(name, args, extra, options) }, options);
}

/**
 * The HTTP decide input of a tool call that arrived over HTTP: the carrying request as the SDK
 * hands it over (`extra.requestInfo`: its URL and header fields), `options.peer(extra)` as the
 * socket peer, and one route, any method and path, to `tool:<name>` (and `options.resource`).
 */
export function toolCallHttpInput(name, args, extra, options = {}) {
  const { url, headers = {} } = extra.requestInfo;
  const target = new URL(String(url));
  const fields = [];
  for (const [field, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) fields.push([field, String(v)]);
  }
  const http = {
    method: options.method ?? 'POST',
    scheme: target.protocol.slice(0, -1),
    authority: target.host,
    path: `${target.pathname}${target.search}`,
    headers: fields,
  };
  const peer = options.peer?.(extra);
  if (peer) http.peer = peer;
  const route = { method: '*', path: '*', action: `tool:${name}` };
  const resource = computed(options.resource, name, args, extra);
  if (resource !== undefined) route.resource = resource;
  const binding = httpBinding({ routes: [route], trustedHops: options.trustedHops ?? 0 });
  return withCommon({ http, binding, context: toolContext(name, args, extra, options) }, options);
}

function overHttp(extra, options) {
  return !options.credentials && options.uri === undefined && extra?.requestInfo?.url !== undefined && extra.requestInfo.headers !== undefined;
}

/**
 * The tool result returned instead of running the tool when Mandate denies the call: the reason
 * code in the text and in `_meta["mandate/decision"]` (with every reason), as for every deny.
 */
export function deniedToolResult(name, decision) {
  const reason = decision.reasons?.[0];
  const code = reason?.code || Codes.INTERNAL_ERROR;
  const reasons = (decision.reasons ?? []).map((r) => ({ code: r.code, message: r.message }));
  return {
    isError: true,
    content: [{ type: 'text', text: `Mandate denied tool:${name}: ${code}${reason?.message ? ` (${reason.message})` : ''}` }],
    _meta: { 'mandate/decision': { decision: 'deny', code, decision_id: decision.decision_id, reasons } },
  };
}

function checkOptions(options) {
  if (options.ip !== undefined) throw new TypeError('mandate-pdp: the MCP guard\'s `ip` option is now `peer`');
  if (options.enforces !== undefined && !Array.isArray(options.enforces)) throw new TypeError('mandate-pdp: enforces must be an array of obligation names');
}

/**
 * Wraps one tool handler. The SDK calls handlers as `(args, extra)` when the tool has an input
 * schema and `(extra)` when it has none; both shapes are kept. On allow the handler runs with
 * `extra.mandate` set to the decision.
 */
export function guardTool(pdp, name, handler, options = {}) {
  checkOptions(options);
  return async function guarded(...callArgs) {
    const extra = callArgs[callArgs.length - 1];
    const args = callArgs.length > 1 ? callArgs[0] : undefined;
    const decision = overHttp(extra, options)
      ? await pdp.decideHttp(toolCallHttpInput(name, args, extra, options))
      : await pdp.decide(toolCallInput(name, args, extra, options));
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
  checkOptions(options);
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
