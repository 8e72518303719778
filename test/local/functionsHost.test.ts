// The local Functions host, run the way the stack and its tests run it: the compiled CLI as a
// child process (cwd = the fixture app) against an in-memory Azurite.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../local/azurite.js';
import type { RegisteredFunction } from '../../local/host/coreApi.js';
import { globToRegExp } from '../../local/host/functionsHost.js';
import { compareRoutes, compileRoute, findRoute } from '../../local/host/httpTriggers.js';
import { decodeMessage, outputMessages } from '../../local/host/queueStorage.js';
import { parseTimeSpan, resolveAppSettingExpressions } from '../../local/host/settings.js';
import { parseSchedule } from '../../local/host/timerTriggers.js';
import { HOST_CLI as CLI, startHostCli, waitFor, type HostCli } from '../support/hostCli.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'hostApp');

describe('route templates', () => {
  const fn = (name: string) => ({ metadata: { name, bindings: {} }, handler: () => undefined }) as RegisteredFunction;
  const routes = [
    compileRoute('exports/{id}', ['GET', 'PATCH'], fn('byId'), 0),
    compileRoute('exports/run-all', ['POST'], fn('runAll'), 1),
    compileRoute('exports/{id}/runs/{runId?}', ['GET'], fn('runs'), 2),
    compileRoute('orders/{n:int}', ['GET'], fn('order'), 3),
    compileRoute('files/{*path}', ['GET'], fn('files'), 4),
  ].sort(compareRoutes);
  const find = (method: string, path: string) => findRoute(routes, method, path.split('/').filter(Boolean));

  it('matches parameters, optional parameters and catch-alls, decoded', () => {
    expect(find('GET', 'exports/a%20b')).toMatchObject({ kind: 'found', params: { id: 'a b' } });
    expect(find('GET', 'exports/x/runs')).toMatchObject({ kind: 'found', params: { id: 'x' } });
    expect(find('GET', 'EXPORTS/x/runs/r1/')).toMatchObject({ kind: 'found', params: { id: 'x', runId: 'r1' } });
    expect(find('GET', 'files/a/b/c.csv')).toMatchObject({ kind: 'found', params: { path: 'a/b/c.csv' } });
  });

  it('prefers literal segments, applies constraints and reports 405 with the allowed methods', () => {
    expect(find('POST', 'exports/run-all')).toMatchObject({ kind: 'found', route: { template: 'exports/run-all' } });
    expect(find('GET', 'exports/run-all')).toMatchObject({ kind: 'found', route: { template: 'exports/{id}' } });
    expect(find('DELETE', 'exports/e1')).toEqual({ kind: 'methodNotAllowed', allowed: ['GET', 'PATCH'] });
    expect(find('GET', 'orders/12')).toMatchObject({ kind: 'found', params: { n: '12' } });
    expect(find('GET', 'orders/abc')).toEqual({ kind: 'notFound' });
    expect(find('GET', 'exports/x/runs/r1/extra')).toEqual({ kind: 'notFound' });
  });
});

describe('schedules, settings and messages', () => {
  it('reads six-field NCRONTAB (seconds first; day-of-month AND day-of-week) and TimeSpans', () => {
    const from = new Date('2026-03-02T10:00:00Z');
    expect(parseSchedule('*/5 * * * * *', 'UTC').next(from)?.toISOString()).toBe('2026-03-02T10:00:05.000Z');
    expect(parseSchedule('0 30 9 * * 1', 'UTC').next(from)?.toISOString()).toBe('2026-03-09T09:30:00.000Z');
    // The 13th that is also a Friday: NCrontab requires both.
    expect(parseSchedule('0 0 0 13 * 5', 'UTC').next(from)?.toISOString()).toBe('2026-03-13T00:00:00.000Z');
    expect(parseSchedule('0 0 0 13 * 1', 'UTC').next(from)?.toISOString()).toBe('2026-04-13T00:00:00.000Z');
    expect(parseSchedule('00:00:30').next(from)!.getTime() - from.getTime()).toBe(30_000);
    expect(() => parseSchedule('*/5 * * * *')).toThrow(/six fields/);
  });

  it('parses TimeSpans, %setting% expressions and main globs', () => {
    expect(parseTimeSpan('00:00:02')).toBe(2000);
    expect(parseTimeSpan('1.00:00:00.5')).toBe(86_400_500);
    expect(resolveAppSettingExpressions('%Q%-x', { Q: 'jobs' })).toBe('jobs-x');
    expect(() => resolveAppSettingExpressions('%MISSING%', {})).toThrow(/MISSING/);
    expect(globToRegExp('*.js').test('a.js')).toBe(true);
    expect(globToRegExp('*.js').test('sub/a.js')).toBe(false);
    expect(globToRegExp('**/*.{js,mjs}').test('sub/deep/a.mjs')).toBe(true);
  });

  it('encodes output messages as the runtime does and rejects non-base64 input', () => {
    expect(outputMessages([{ a: 1 }, 'text', 7], 'base64').map((m) => Buffer.from(m, 'base64').toString())).toEqual([
      '{"a":1}',
      'text',
      '7',
    ]);
    expect(outputMessages(undefined, 'base64')).toEqual([]);
    expect(decodeMessage(Buffer.from('{"x":1}').toString('base64'), 'base64')).toBe('{"x":1}');
    expect(decodeMessage('not base64!', 'base64')).toBeUndefined();
    expect(decodeMessage('plain', 'none')).toBe('plain');
  });
});

describe('local Functions host (CLI child process against Azurite)', () => {
  let azurite: RunningAzurite;
  let host: HostCli;
  let api: string;

  const queue = (name: string) => new QueueClient(azurite.connectionString, name);
  const base64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
  const observed = async () => (await (await fetch(`${api}/observed`)).json()) as Observed;

  beforeAll(async () => {
    ensureBuilt();
    // The host must create local.settings.json from the sample.
    rmSync(join(FIXTURE, 'local.settings.json'), { force: true });
    azurite = await startAzurite();
    host = await startHost(azurite.connectionString);
    api = `http://127.0.0.1:${host.port}/api`;
  });

  afterAll(async () => {
    await host?.stop();
    await azurite?.stop();
    rmSync(join(FIXTURE, 'local.settings.json'), { force: true });
  });

  it('lists each function with its trigger, then announces the host', () => {
    const output = host.output();
    expect(output).toContain(`getItem: [GET] ${api}/items/{id}/{sub?}`);
    expect(output).toContain('inbox: queueTrigger fixture-inbox');
    expect(output).toContain('tick: timerTrigger * * * * * *');
    expect(output).toContain(`Host started: ${api}`);
  });

  it('loads settings before the app: sample copied, environment wins over Values', async () => {
    expect(existsSync(join(FIXTURE, 'local.settings.json'))).toBe(true);
    const response = await fetch(`${api}/settings`);
    expect(await response.json()).toEqual({ greeting: 'from-sample', overridden: 'from-env', greetingAtImport: 'from-sample' });
  });

  it('routes GET with route parameters and query', async () => {
    const response = await fetch(`${api}/items/42/extra?q=hello&tag=a&tag=b`, { headers: { 'x-test': 'yes' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('x-fixture-host')).toBe('local');
    expect(await response.json()).toEqual({
      id: '42',
      sub: 'extra',
      q: 'hello',
      tags: ['a', 'b'],
      method: 'GET',
      url: `${api}/items/42/extra?q=hello&tag=a&tag=b`,
      header: 'yes',
    });
    expect(await (await fetch(`${api}/items/7`)).json()).toMatchObject({ id: '7', sub: null });
    expect(host.output()).toMatch(/\[Functions\.getItem\] \([0-9a-f-]{36}\) getItem 42/);
    expect(host.output()).toMatch(/GET \/api\/items\/42\/extra\?q=hello&tag=a&tag=b 200/);
  });

  it('passes a JSON body and writes back custom status and headers', async () => {
    const response = await fetch(`${api}/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 9, name: 'x' }),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-custom')).toBe('yes');
    expect(response.headers.get('location')).toBe('/api/items/9');
    expect(await response.json()).toEqual({ received: { id: 9, name: 'x' } });
  });

  it('answers 404 for unknown routes, 405 for other methods and 500 when a handler throws', async () => {
    expect((await fetch(`${api}/nothing-here`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${host.port}/items/1`)).status).toBe(404);
    const wrongMethod = await fetch(`${api}/items/1`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
    const failing = await fetch(`${api}/boom`);
    expect(failing.status).toBe(500);
    expect(await failing.text()).not.toContain('kaboom');
    expect(await (await fetch(`${api}/orders/latest`)).json()).toEqual({ kind: 'latest' });
    expect(await (await fetch(`${api}/orders/12`)).json()).toEqual({ kind: 'byId', id: '12' });
    expect((await fetch(`${api}/orders/abc`)).status).toBe(404);
  });

  it("answers headers over the platform's 64 KB with a 431 problem, not a reset connection", async () => {
    const response = await fetch(`${api}/items/1`, { headers: { authorization: `Bearer ${'a'.repeat(200 * 1024)}` } });
    expect(response.status).toBe(431);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ status: 431, detail: expect.stringContaining('limit is 65536 bytes') });
    expect((await fetch(`${api}/items/1`, { headers: { authorization: `Bearer ${'a'.repeat(20 * 1024)}` } })).status).toBe(200);
  });

  it('logs query strings with tokens, codes and signatures redacted', async () => {
    await fetch(`${api}/items/3?code=oauth-code-123&sig=sas-sig-456&continuationToken=page-789&q=visible`);
    // The line is written once the response has gone out.
    const line = await waitFor(
      async () =>
        host
          .output()
          .split('\n')
          .find((text) => text.includes('GET /api/items/3?')),
      (found) => found !== undefined,
    );
    expect(line).toContain('code=[redacted]&sig=[redacted]&continuationToken=[redacted]&q=visible');
    for (const secret of ['oauth-code-123', 'sas-sig-456', 'page-789']) expect(host.output()).not.toContain(secret);
  });

  it('streams an HttpResponse body and sets its cookies', async () => {
    const response = await fetch(`${api}/stream`);
    expect(response.status).toBe(200);
    expect(response.headers.get('set-cookie')).toBe('session=abc; Path=/; HttpOnly');
    expect(await response.text()).toBe('abc');
  });

  it('hands a queue trigger a base64 JSON message parsed, with its trigger metadata', async () => {
    await queue('fixture-inbox').createIfNotExists();
    await queue('fixture-inbox').sendMessage(base64({ hello: 'queue' }));
    const state = await waitFor(observed, (s) => s.inbox.length > 0);
    const [entry] = state.inbox;
    expect(entry).toMatchObject({ message: { hello: 'queue' }, type: 'object' });
    expect(entry!.metadata).toMatchObject({ dequeueCount: 1, queueTrigger: '{"hello":"queue"}' });
    for (const key of ['id', 'popReceipt', 'insertionTime', 'expirationTime', 'nextVisibleTime']) {
      expect(typeof entry!.metadata[key]).toBe('string');
    }
    // Deleted after success.
    expect((await queue('fixture-inbox').getProperties()).approximateMessagesCount).toBe(0);
  });

  it('sends output bindings: HTTP extraOutputs → queue trigger → return array → another queue trigger', async () => {
    expect((await fetch(`${api}/enqueue`, { method: 'POST', body: JSON.stringify({ n: 5 }) })).status).toBe(202);
    const state = await waitFor(observed, (s) => s.chainEnd.length >= 2);
    expect(state.chainEnd).toEqual(
      expect.arrayContaining([
        { n: 5, part: 1 },
        { n: 5, part: 2 },
      ]),
    );
  });

  it('moves a message that keeps failing to <queue>-poison after maxDequeueCount attempts', async () => {
    const text = base64({ id: 'p1' });
    await queue('fixture-poison-me').createIfNotExists();
    await queue('fixture-poison-me').sendMessage(text);
    const poison = queue('fixture-poison-me-poison');
    const poisoned = await waitFor(
      async () => ((await poison.exists()) ? (await poison.peekMessages({ numberOfMessages: 5 })).peekedMessageItems : []),
      (items) => items.length > 0,
      30_000,
    );
    expect(poisoned.map((m) => m.messageText)).toEqual([text]);
    const attempts = (await observed()).poisonAttempts.filter((a) => a.id === 'p1');
    expect(attempts.map((a) => a.dequeueCount)).toEqual([1, 2, 3, 4, 5]);
    expect((await queue('fixture-poison-me').getProperties()).approximateMessagesCount).toBe(0);
  });

  it('fires timers on schedule, runs runOnStartup once, never overlaps a timer with itself', async () => {
    const state = await waitFor(observed, (s) => s.ticks.length >= 2 && s.slowTick.runs >= 2, 6_000);
    expect(state.ticks[0]).toMatchObject({ isPastDue: false, adjustForDST: true });
    expect(Date.parse(state.ticks[0]!.next)).toBeGreaterThan(state.ticks[0]!.at - 1000);
    expect(state.startupRuns).toBe(1);
    expect(state.slowTick.maxConcurrent).toBe(1);
    expect(state.hooks.appStart).toBe(1);
    expect(state.hooks.preInvocation).toBeGreaterThan(0);
  });

  it('runs a non-HTTP function on demand through the admin API', async () => {
    const response = await fetch(`http://127.0.0.1:${host.port}/admin/functions/startupOnly`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(202);
    await waitFor(observed, (s) => s.startupRuns === 2);
  });

  it('on SIGTERM stops taking work, finishes HTTP and queue invocations in flight, then exits 0', async () => {
    await queue('fixture-slow').createIfNotExists();
    await queue('fixture-slow').sendMessage(base64({ id: 's1', ms: 1500 }));
    const slowResponse = fetch(`${api}/slow?ms=1500`);
    await waitFor(observed, (s) => s.httpSlow.started === 1 && s.slowQueue.started.includes('s1'));

    host.child.kill('SIGTERM');
    await host.waitForOutput(/Stopping host/);
    // New work is turned away: the listener is closed (or a reused connection gets 503).
    const late = await fetch(`${api}/settings`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(['refused', 503]).toContain(late);

    const response = await slowResponse;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('done');
    const exit = await host.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(host.output()).toMatch(/\[Functions\.slowQueue\] \([0-9a-f-]{36}\) slow queue done s1/);
    expect((await queue('fixture-slow').getProperties()).approximateMessagesCount).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

interface Observed {
  inbox: { message: unknown; type: string; metadata: Record<string, unknown> }[];
  chainEnd: unknown[];
  poisonAttempts: { id: string; dequeueCount: number }[];
  ticks: { at: number; isPastDue: boolean; adjustForDST: boolean; next: string }[];
  startupRuns: number;
  slowTick: { running: number; maxConcurrent: number; runs: number };
  slowQueue: { started: string[]; done: string[] };
  httpSlow: { started: number; done: number };
  hooks: { appStart: number; preInvocation: number };
}

const startHost = (connectionString: string): Promise<HostCli> =>
  startHostCli({
    projectDir: FIXTURE,
    env: { AzureWebJobsStorage: connectionString, FIXTURE_OVERRIDDEN: 'from-env' },
    readyOutput: /Host started: /,
    startTimeoutMs: 20_000,
    stopTimeoutMs: 35_000,
  });

/** The CLI runs from dist/; compile when the host's sources are newer than the build. */
function ensureBuilt(): void {
  const sources = join(ROOT, 'local', 'host');
  const newest = Math.max(...readdirSync(sources).map((file) => statSync(join(sources, file)).mtimeMs));
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newest) return;
  // Emits even when unrelated files have type errors; only the host's output matters here.
  spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')], {
    cwd: ROOT,
    stdio: 'ignore',
  });
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing; run npm run build.`);
}
