// Packaging: `npm pack` makes a tarball that installs into a fresh directory, where the ESM entry
// decides and the TypeScript types check (tsc --noEmit, with a @ts-expect-error proving the types
// are not `any`).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PKG = fileURLToPath(new URL('../npm/', import.meta.url));
const TSC = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));

let dir;
let tarball;
let files;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mandate-pack-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: PKG });
  const [info] = JSON.parse(stdout);
  tarball = join(dir, info.filename);
  files = info.files.map((f) => f.path);
  const app = join(dir, 'app');
  await run('mkdir', ['-p', app]);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--offline', tarball], { cwd: app });
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the tarball holds the entry points, the wasm, the types and the license, and no tests', async () => {
  for (const f of ['package.json', 'LICENSE', 'src/node.js', 'src/web.js', 'src/workerd.js', 'wasm/mandate_js.js', 'wasm/mandate_js_bg.wasm', 'types/index.d.ts', 'types/formats.d.ts', 'types/wire.d.ts', 'types/codes.d.ts', 'types/mcp.d.ts']) {
    assert.ok(files.includes(f), `missing ${f} in ${files.join(', ')}`);
  }
  assert.ok(!files.some((f) => f.includes('test')), files.join(', '));
  // The repository's license, word for word.
  const root = await readFile(new URL('../../LICENSE', import.meta.url), 'utf8');
  assert.equal(await readFile(join(PKG, 'LICENSE'), 'utf8'), root);
  assert.match(root, /Apache License\s+Version 2\.0/);
});

test('CommonJS loads it with import() (the package is ESM only, as its README says)', async () => {
  const app = join(dir, 'app');
  await writeFile(
    join(app, 'use.cjs'),
    `(async () => {
  const { Pdp } = await import('mandate-pdp');
  const pdp = await Pdp.load({});
  const d = await pdp.decide({ now: 1, request: { method: 'GET', uri: 'https://a/b' }, credentials: {} });
  console.log(JSON.stringify([d.decision, ...d.reasons.map((r) => r.code)]));
})();
`,
  );
  const { stdout } = await run(process.execPath, ['use.cjs'], { cwd: app });
  assert.deepEqual(JSON.parse(stdout), ['deny', 'bundle.missing']);
});

test('an .mjs in a fresh install imports the package and decides', async () => {
  const app = join(dir, 'app');
  await writeFile(
    join(app, 'use.mjs'),
    `import { Pdp, mint, generateAgentKey, createProof } from 'mandate-pdp';
import { mandateExpress } from 'mandate-pdp/express';
import { mandateHono } from 'mandate-pdp/hono';
import { guardMcpServer } from 'mandate-pdp/mcp';
import { ReplayDurableObject } from 'mandate-pdp/cloudflare';
const now = 1767225600;
const gen = async (kid) => {
  const p = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
  const { kty, crv, x, y, d } = await crypto.subtle.exportKey('jwk', p.privateKey);
  return { kty, crv, x, y, d, kid };
};
const pub = ({ d, ...rest }) => rest;
const root = await gen('root'), idp = await gen('idp');
const agent = await generateAgentKey();
const jkt = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify({ crv: 'P-256', kty: 'EC', x: agent.publicJwk.x, y: agent.publicJwk.y })))).toString('base64url');
const bundle = await mint({ kind: 'bundle', key: root, contents: {
  revision: 'r1', iat: now - 10, exp: now + 3600,
  issuers: [{ iss: 'https://idp', keys: [pub(idp)], audiences: ['https://api'] }],
  agents: [{ id: 'agent:a', owner: 'o', status: 'active', keys: [agent.publicJwk], delegators: { users: ['alice'] }, ceiling: { scopes: ['read'] } }],
  policies: { 'p.rego': 'package mandate\\nallow := true\\n' } } });
const token = await mint({ kind: 'delegation', key: idp, claims: { iss: 'https://idp', sub: 'alice', aud: 'https://api', iat: now, exp: now + 60, jti: 'j', scope: 'read', act: { sub: 'agent:a' }, cnf: { jkt } } });
const pdp = await Pdp.load({ bundle, trust_keys: [pub(root)] });
const proof = await createProof({ key: agent, method: 'GET', url: 'https://api/x', token, now });
const d = await pdp.decide({ now, request: { method: 'GET', uri: 'https://api/x', action: 'read' }, credentials: { delegation: [token], proof } });
const h = await pdp.decideHttp({ now, http: { method: 'GET', scheme: 'https', authority: 'api', path: '/x', headers: [['Authorization', 'DPoP ' + token], ['DPoP', proof]] }, binding: { routes: [{ method: 'GET', path: '/x', action: 'read' }] } });
console.log(JSON.stringify({ decision: d.decision, codes: d.reasons.map((r) => r.code), http: [h.decision, ...h.reasons.map((r) => r.code)], helpers: [typeof mandateExpress, typeof mandateHono, typeof guardMcpServer, typeof ReplayDurableObject] }));
`,
  );
  const { stdout } = await run(process.execPath, ['use.mjs'], { cwd: app });
  // The same proof twice: the installed package consults its replay store for decideHttp too.
  assert.deepEqual(JSON.parse(stdout), { decision: 'allow', codes: [], http: ['deny', 'replay.detected'], helpers: ['function', 'function', 'function', 'function'] });
});

test('the types check with tsc --noEmit, and reject a malformed decide input', async () => {
  const app = join(dir, 'app');
  await writeFile(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: [] }, files: ['check.ts'] }),
  );
  await writeFile(
    join(app, 'check.ts'),
    `import { Pdp, MemoryReplayStore, MandateAgent, createProof, type Decision, type DecideInput, type LoadConfig, type ReplayStore, type ReasonCode, type LoadStatus, type AuthorizationDetail } from 'mandate-pdp';
import { mandateExpress } from 'mandate-pdp/express';
import { mandateHono } from 'mandate-pdp/hono';
import { guardMcpServer, toolCallUrl } from 'mandate-pdp/mcp';

export async function check(config: LoadConfig, input: DecideInput): Promise<ReasonCode | undefined> {
  const store: ReplayStore = new MemoryReplayStore();
  const pdp = await Pdp.load(config, { replayStore: store });
  if (!pdp.status.ok) return pdp.status.error.code;
  const d: Decision = await pdp.decide(input);
  const bytes: Uint8Array = pdp.decideWithoutReplayCheck(JSON.stringify(input));
  void bytes;
  const agent = new MandateAgent({ key: config.grant_key!, delegation: ['t'] });
  const headers: Record<string, string> = await agent.headers('GET', toolCallUrl('x'));
  void headers;
  void createProof({ key: config.grant_key!, method: 'GET', url: 'https://a/b' });
  void mandateExpress(pdp, { routes: ['GET /x/* read'], trustedHops: 1, enforces: ['watermark'], scheme: 'https' });
  void mandateHono(pdp, { routes: [{ method: 'GET', path: '/x/*', action: 'read' }], peer: (c) => c.req.header('cf-connecting-ip') });
  // @ts-expect-error: routes, matched by the core, replaced the action option
  void mandateExpress(pdp, { action: 'read' });
  const h: Decision = await pdp.decideHttp({ http: { method: 'GET', scheme: 'https', authority: 'a', path: '/b', headers: [['DPoP', 'p']], peer: '10.0.0.1' }, binding: { routes: [{ method: 'GET', path: '/b', action: 'read' }] }, enforces: ['watermark'] });
  void h.obligations;
  // @ts-expect-error: header fields are [name, value] pairs, not a map
  await pdp.decideHttp({ http: { method: 'GET', scheme: 'https', path: '/b', headers: { dpop: 'p' } } });
  void guardMcpServer({ registerTool() {} }, pdp, { baseUrl: 'https://mcp.example' });
  // @ts-expect-error: a request needs a uri
  await pdp.decide({ request: { method: 'GET' }, credentials: {} });
  // @ts-expect-error: decisions are allow or deny
  const bad: Decision['decision'] = 'maybe';
  void bad;
  // The generated types: a reload answers the new status, whose facts are typed.
  const next: LoadStatus = pdp.replace(config, { now: 1 });
  const iat: number = next.ok ? next.bundle.iat : 0;
  void iat;
  // @ts-expect-error: codes come from the Rust table
  const typo: ReasonCode = 'bundle.exploded';
  void typo;
  // @ts-expect-error: trust keys are P-256 JWKs
  void Pdp.load({ bundle: 'b', trust_keys: [{ kty: 'EC', crv: 'P-384', x: 'x', y: 'y' }] });
  const detail: AuthorizationDetail = d.authorization_details[0]!;
  void detail.type;
  return d.decision === 'allow' ? undefined : d.reasons[0]?.code;
}
`,
  );
  try {
    await run(process.execPath, [TSC, '-p', app]);
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}\n${e.stderr}`);
  }
});

test('formats.d.ts only names generated types: no document is declared by hand', async () => {
  const text = await readFile(join(PKG, 'types/formats.d.ts'), 'utf8');
  const code = text.replace(/\/\*\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  assert.doesNotMatch(code, /\binterface\b/);
  const aliases = code.match(/^export type \w+ =.*$/gm) ?? [];
  assert.ok(aliases.length >= 20, `${aliases.length} aliases`);
  for (const line of aliases) assert.match(line, /Wire\.\w+/, line);
});
