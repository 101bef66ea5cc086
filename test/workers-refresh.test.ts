// The lifecycle inside workerd (Miniflare), with the client at module scope and getToken({ waitUntil }) in the
// handler, against the test kit's loopback server. Tokens live 12 s with an 11 s buffer: refreshAt about 1 s after issue, usableUntil 2 s.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startTestTokenServer, type TestTokenServer } from '../src/testing/server.js';
import { disposeMiniflare } from './runtimes/matrix.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const { Miniflare } = createRequire(`${root}.tools/miniflare/`)('miniflare');
let server: TestTokenServer;
// biome-ignore lint/suspicious/noExplicitAny: Miniflare is loaded from .tools/ without its types
let worker: any;

beforeAll(async () => {
  server = await startTestTokenServer({ tokenLifetimeSeconds: 12 });
});
afterAll(() => server.close());
afterEach(async () => {
  await disposeMiniflare(worker);
  worker = undefined;
  server.reset();
});

function start() {
  worker = new Miniflare({
    modules: true,
    scriptPath: `${root}test/runtimes/refresh-worker.mjs`,
    modulesRoot: root,
    modulesRules: [{ type: 'ESModule', include: ['**/*.js', '**/*.mjs'] }],
    compatibilityDate: '2025-09-01',
    bindings: { CLIENT_ID: server.clientId, CLIENT_SECRET: server.clientSecret, VANITY_DOMAIN: server.vanityDomain },
  });
  return async (signal?: AbortSignal): Promise<{ token: string; status: string }> =>
    (await worker.dispatchFetch('http://worker/', signal ? { signal } : {})).json();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('shares one round among concurrent requests, answers at once during a refresh ahead, then serves the new token', async () => {
  const get = start();
  server.setLatency(300);
  const cold = await Promise.all(Array.from({ length: 10 }, () => get()));
  expect(new Set(cold.map((r) => r.token)).size).toBe(1);
  expect(server.requestCount).toBe(1);
  await sleep(1_200);
  const started = Date.now();
  const during = await Promise.all(Array.from({ length: 5 }, () => get()));
  // Every request answered with the current token without waiting for the 300 ms token request.
  expect(during.map((r) => r.token)).toEqual(Array(5).fill(cold[0]?.token));
  expect(Date.now() - started).toBeLessThan(300);
  await sleep(500);
  const after = await get();
  expect(after.token).not.toBe(cold[0]?.token);
  expect(server.requestCount).toBe(2);
});

it('lets a request aborted by its caller mid-round leave no other request waiting', async () => {
  const get = start();
  server.setLatency(400);
  const aborted = get(AbortSignal.timeout(100)).catch((error: unknown) => error);
  await sleep(20);
  const other = await get();
  expect(other.token).toMatch(/\S/);
  expect(await aborted).toBeInstanceOf(Error);
  expect(server.requestCount).toBe(1);
});
