// The Redis store against a real redis-server on loopback: the adapter with both client libraries, encrypted
// records as Redis holds them, and a fleet of 8 separate Node processes sharing one token.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTokenServer } from '../../demo/token-server.mjs';
import { createWristbandM2MClient } from '../../src/index.js';
import { createRedisTokenStore } from '../../src/store/redis.js';
import { recordKeyFor } from '../support/fleet.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';

const FLEET_SIZE = 8;
let redisServer: RedisServer;
let tokenServer: Awaited<ReturnType<typeof startTokenServer>>;

beforeAll(async () => {
  redisServer = await startRedis();
  tokenServer = await startTokenServer({ clientId: 'fleet-client', clientSecret: 'fleet secret/+=' });
}, 30_000);
afterAll(async () => {
  await redisServer?.stop();
  await tokenServer?.close();
});
afterEach(() => tokenServer.reset());

/** One command on a short-lived ioredis connection, closed afterwards. */
async function withRedis<T>(use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(redisServer.url);
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

describe.each([
  [
    'ioredis',
    async () => {
      const client = new Redis(redisServer.url);
      return { client, close: () => client.quit() };
    },
  ],
  [
    'node-redis',
    async () => {
      const client = createClient({ url: redisServer.url });
      await client.connect();
      return { client, close: () => client.quit() };
    },
  ],
])('createRedisTokenStore with %s', (_name, connect) => {
  it('gets, sets with a TTL, deletes, compares-and-deletes and locks', async () => {
    const { client, close } = await connect();
    try {
      const store = createRedisTokenStore(client as never);
      const key = `test:${Math.random()}`;
      expect(await store.get(key)).toBeNull();
      await store.set(key, 'value-1', 30);
      expect(await store.get(key)).toBe('value-1');
      const ttl = await withRedis((redis) => redis.pttl(key));
      expect(ttl).toBeGreaterThan(29_000);
      await store.deleteIfEquals?.(key, 'another-value');
      expect(await store.get(key)).toBe('value-1');
      await store.deleteIfEquals?.(key, 'value-1');
      expect(await store.get(key)).toBeNull();
      await store.set(key, 'value-2', 30);
      await store.delete(key);
      expect(await store.get(key)).toBeNull();
      expect(await store.acquire?.(`${key}:lock`, 1, 'owner-a')).toBe(true);
      expect(await store.acquire?.(`${key}:lock`, 1, 'owner-b')).toBe(false);
      // The lock holds its owner's value, so only that owner's compare-and-delete releases it.
      expect(await store.get(`${key}:lock`)).toBe('owner-a');
      await store.deleteIfEquals?.(`${key}:lock`, 'owner-b');
      expect(await store.get(`${key}:lock`)).toBe('owner-a');
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect(await store.acquire?.(`${key}:lock`, 1, 'owner-b')).toBe(true);
    } finally {
      await close();
    }
  });
});

it('keeps in Redis a record that contains neither the token nor the secret', async () => {
  const redis = new Redis(redisServer.url);
  try {
    const m2m = createWristbandM2MClient({
      clientId: tokenServer.clientId,
      clientSecret: tokenServer.clientSecret,
      wristbandApplicationVanityDomain: tokenServer.vanityDomain,
      tokenStore: createRedisTokenStore(redis),
    });
    const token = await m2m.getToken();
    const raw = await redis.get(await recordKeyFor(tokenServer));
    expect(raw).toMatch(/^v2\./);
    expect(raw).not.toContain(token);
    expect(raw).not.toContain(tokenServer.clientSecret);
    expect(raw).not.toContain(encodeURIComponent(tokenServer.clientSecret));
    m2m.destroy();
  } finally {
    redis.disconnect();
  }
});

/**
 * Node processes, each with its own client (8 holding the server's secret, unless `secrets` gives each process's
 * `clientSecret`); `send` runs one step on all of them at the same moment, `sendTo` on some of them.
 */
async function startFleet(
  redisUrl: string | undefined,
  secrets: (string | string[])[] = Array(FLEET_SIZE).fill(tokenServer.clientSecret),
) {
  const worker = fileURLToPath(new URL('../fleet-worker.mjs', import.meta.url));
  const processes = secrets.map((clientSecret) => {
    const config = JSON.stringify({
      clientId: tokenServer.clientId,
      clientSecret,
      vanityDomain: tokenServer.vanityDomain,
      redisUrl,
    });
    const child: ChildProcess = spawn(process.execPath, [worker, config], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const next = async () => JSON.parse((await lines.next()).value as string);
    return { child, next };
  });
  await Promise.all(processes.map(async (p) => expect(await p.next()).toEqual({ step: 'ready' })));
  return {
    async send(step: string): Promise<Record<string, unknown>[]> {
      for (const p of processes) p.child.stdin!.write(`${JSON.stringify({ step })}\n`);
      return Promise.all(processes.map((p) => p.next()));
    },
    async sendTo(indices: number[], step: string): Promise<Record<string, unknown>[]> {
      const some = indices.map((index) => processes[index]!);
      for (const p of some) p.child.stdin!.write(`${JSON.stringify({ step })}\n`);
      return Promise.all(some.map((p) => p.next()));
    },
    async stop() {
      for (const p of processes) p.child.stdin!.end(`${JSON.stringify({ step: 'exit' })}\n`);
      await Promise.all(processes.map((p) => new Promise((resolve) => p.child.once('exit', resolve))));
    },
  };
}

describe(`a fleet of ${FLEET_SIZE} processes`, () => {
  it(`without a store: ${FLEET_SIZE} cold processes make ${FLEET_SIZE} token requests (the baseline)`, async () => {
    const fleet = await startFleet(undefined);
    try {
      const results = await fleet.send('cold');
      expect(results.every((r) => typeof r.token === 'string')).toBe(true);
      expect(tokenServer.requestCount).toBe(FLEET_SIZE);
      console.log(`fleet without a store: ${tokenServer.requestCount} token requests for ${FLEET_SIZE} cold processes`);
    } finally {
      await fleet.stop();
    }
  }, 30_000);

  it('with Redis and its lock: 1 request cold, 1 refresh after a 401, and tokens still flow when Redis stops', async () => {
    await withRedis((redis) => redis.flushall());
    const fleet = await startFleet(redisServer.url);
    try {
      const cold = await fleet.send('cold');
      expect(new Set(cold.map((r) => r.token)).size).toBe(1);
      expect(tokenServer.requestCount).toBeLessThanOrEqual(1);
      console.log(`fleet with Redis: ${tokenServer.requestCount} token request for ${FLEET_SIZE} cold processes`);

      tokenServer.requests.length = 0;
      tokenServer.revokeAll(); // every process now holds a token the API rejects
      const afterRevocation = await fleet.send('call-api');
      expect(afterRevocation.map((r) => r.status)).toEqual(Array(FLEET_SIZE).fill(200));
      expect(tokenServer.requestCount).toBe(1);
      console.log(`fleet with Redis: ${tokenServer.requestCount} token request to recover from a 401 in every process`);

      await redisServer.stop();
      tokenServer.requests.length = 0;
      const withoutRedis = await fleet.send('refetch');
      expect(withoutRedis.every((r) => typeof r.token === 'string' && (r.token as string).length > 0)).toBe(true);
      expect(tokenServer.requestCount).toBe(FLEET_SIZE); // each process falls back to the endpoint
    } finally {
      await fleet.stop();
      redisServer = await startRedis();
    }
  }, 60_000);
});

// Issue 13 on real Redis and real processes: a fleet half-way through a secret rotation, the token server holding
// both secrets. Tokens live 2 s (served for 1 s), so each generation below starts with every cache expired.
describe('a fleet half-way through a secret rotation, sharing Redis', () => {
  const NEW = 'fleet-new-secret-b7e2';
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('[old], [new, old] and [new] processes all get tokens; those sharing a secret share records; no store errors', async () => {
    await withRedis((redis) => redis.flushall());
    const OLD = tokenServer.clientSecret;
    tokenServer.secrets.add(NEW);
    tokenServer.setTokenLifetime(2);
    // 0, 1: [old]; 2, 3: [new, old]; 4, 5: [new]
    const fleet = await startFleet(redisServer.url, [OLD, OLD, [NEW, OLD], [NEW, OLD], NEW, NEW]);
    const counts: number[] = [];
    try {
      for (let generation = 0; generation < 2; generation++) {
        const before = tokenServer.requestCount;
        // Interleaved, one process at a time: a [new] process refreshes, then an [old] one, then the second of
        // each finds its secret's record untouched by the other's write.
        const [newFirst] = await fleet.sendTo([4], 'cold');
        const [oldFirst] = await fleet.sendTo([0], 'cold');
        const [newSecond] = await fleet.sendTo([5], 'cold');
        const [oldSecond] = await fleet.sendTo([1], 'cold');
        const both = await fleet.sendTo([2, 3], 'cold');
        expect(newFirst).toMatchObject({ refreshed: { source: 'endpoint', secretIndex: 0 } });
        expect(oldFirst).toMatchObject({ refreshed: { source: 'endpoint', secretIndex: 0 } });
        expect(newSecond).toMatchObject({ token: newFirst!.token, refreshed: { source: 'store', secretIndex: 0 } });
        expect(oldSecond).toMatchObject({ token: oldFirst!.token, refreshed: { source: 'store', secretIndex: 0 } });
        for (const result of both) {
          expect([newFirst!.token, oldFirst!.token]).toContain(result.token);
          expect(result).toMatchObject({ refreshed: { source: 'store' } });
        }
        counts.push(tokenServer.requestCount - before);
        expect(tokenServer.requestCount - before).toBe(2);
        await sleep(1_200);
      }

      // All six at once: one request per secret, through the per-secret locks.
      tokenServer.setLatency(200);
      let before = tokenServer.requestCount;
      const together = await fleet.send('cold');
      expect(together.map((r) => typeof r.token)).toEqual(Array(6).fill('string'));
      expect(together[1]!.token).toBe(together[0]!.token);
      expect(together[5]!.token).toBe(together[4]!.token);
      counts.push(tokenServer.requestCount - before);
      expect(tokenServer.requestCount - before).toBe(2);
      tokenServer.setLatency(0);
      await sleep(1_200);

      // The old secret deleted: the [new, old] and [new] processes go on with one request between them.
      tokenServer.secrets.revoke(OLD);
      before = tokenServer.requestCount;
      const rotated = await fleet.sendTo([2, 3, 4, 5], 'cold');
      expect(new Set(rotated.map((r) => r.token)).size).toBe(1);
      counts.push(tokenServer.requestCount - before);
      expect(tokenServer.requestCount - before).toBe(1);

      const reports = await fleet.send('cold');
      expect(reports.map((r) => r.storeErrors)).toEqual(Array(6).fill(0));
      console.log(`fleet mid-rotation with Redis: token requests per generation ${JSON.stringify(counts)}`);
    } finally {
      await fleet.stop();
      tokenServer.setTokenLifetime(3600);
    }
  }, 60_000);
});
