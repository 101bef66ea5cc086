// The README's Redis recipe shares from the very first call: processes started one after another, each warming
// up with getToken() at startup, make one token request between them and see no store failure. (With
// `enableOfflineQueue: false` and no `await redis.connect()`, the warm-up ran before the connection was open and
// every process missed the store.)
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTokenServer } from '../demo/token-server.mjs';
import { type RedisServer, startRedis } from './support/redis-server.js';

const recipe = fileURLToPath(new URL('fixtures/redis-recipe.mjs', import.meta.url));
let redis: RedisServer;
let server: Awaited<ReturnType<typeof startTokenServer>>;

beforeAll(async () => {
  redis = await startRedis();
  server = await startTokenServer({ clientId: 'recipe-client', clientSecret: 'recipe-secret' });
});
afterAll(async () => {
  await server?.close();
  await redis?.stop();
});

it('three processes started one after another make one token request, with no store failure', async () => {
  const env = {
    PATH: process.env.PATH ?? '',
    REDIS_URL: redis.url,
    CLIENT_ID: 'recipe-client',
    CLIENT_SECRET: 'recipe-secret',
    APPLICATION_VANITY_DOMAIN: server.vanityDomain,
  };
  const results: { token?: string; storeErrors: string[] }[] = [];
  for (let i = 0; i < 3; i++) {
    const { stdout } = await promisify(execFile)(process.execPath, [recipe], { env, timeout: 30_000 });
    results.push(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}'));
  }
  expect(results.map((r) => r.storeErrors)).toEqual([[], [], []]);
  expect(new Set(results.map((r) => r.token)).size).toBe(1);
  expect(results[0]?.token).toBeTruthy();
  expect(server.requestCount).toBe(1);
}, 60_000);
