// The Upstash store through the real @upstash/redis client against Upstash's REST API emulated in front of a real
// redis-server (test/support/upstash-rest.ts): the conformance suite with every client setting that changes what
// arrives (JSON deserialization, auto-pipelining, base64 responses), the fleet, records shared with the Redis store,
// and failed or throttled calls.
import { type RedisConfigNodejs, Redis as UpstashRedis } from '@upstash/redis';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenServer } from '../../demo/token-server.mjs';
import { createWristbandM2MClient } from '../../src/index.js';
import { createRedisTokenStore } from '../../src/store/redis.js';
import { createUpstashTokenStore } from '../../src/store/upstash.js';
import { recordKeyFor } from '../support/fleet.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { AWKWARD_VALUES, storeContract } from '../support/store-contract.js';
import { describeFleet } from '../support/store-fleet.js';
import { startUpstashRest, type UpstashRest } from '../support/upstash-rest.js';

let redisServer: RedisServer;
let rest: UpstashRest;
beforeAll(async () => {
  redisServer = await startRedis();
  rest = await startUpstashRest(redisServer.url);
}, 30_000);
afterAll(async () => {
  await rest?.close();
  await redisServer?.stop();
});

type Settings = RedisConfigNodejs;
/** An @upstash/redis client of the emulated database; `retry: false` so a failure shows at once. */
const upstash = (settings: Partial<Settings> = {}) =>
  new UpstashRedis({ url: rest.url, token: rest.token, retry: false, ...settings });

const SETTINGS: [string, Partial<Settings>][] = [
  ['the default settings (JSON deserialization, auto-pipelining, base64)', {}],
  ['automaticDeserialization: false', { automaticDeserialization: false }],
  ['enableAutoPipelining: false', { enableAutoPipelining: false }],
  ['responseEncoding: false', { responseEncoding: false }],
];

for (const [name, settings] of SETTINGS) {
  describe.concurrent(`createUpstashTokenStore, ${name}: the store contract`, () => {
    for (const check of storeContract(() => createUpstashTokenStore(upstash(settings)))) it(check.name, check.run);
  });
}

describeFleet('Upstash', () => createUpstashTokenStore(upstash()));

describe('createUpstashTokenStore: what it works around, and what it sends', () => {
  it('the client it is given turns stored JSON into other values: "2" into 2, "\\"quoted\\"" into quoted', async () => {
    // Why the store does not read with GET: this is what `redis.get` answers with the default settings.
    const redis = upstash();
    await redis.set('deserialized:number', '2');
    await redis.set('deserialized:string', '"quoted"');
    expect(await redis.get('deserialized:number')).toBe(2);
    expect(await redis.get('deserialized:string')).toBe('quoted');
    const store = createUpstashTokenStore(redis);
    expect(await store.get('deserialized:number')).toBe('2');
    expect(await store.get('deserialized:string')).toBe('"quoted"');
  });

  it('locks with one SET NX PX and compares-and-deletes with one EVAL', async () => {
    const store = createUpstashTokenStore(upstash({ enableAutoPipelining: false }));
    rest.commands.length = 0;
    expect(await store.acquire?.('sent:lock', 2.5, 'owner-1')).toBe(true);
    await store.deleteIfEquals?.('sent:lock', 'owner-1');
    await store.set('sent:record', 'record', 30);
    expect(rest.commands[0]).toEqual(['set', 'sent:lock', 'owner-1', 'nx', 'px', '2500']);
    expect(rest.commands[1]?.slice(0, 1)).toEqual(['eval']);
    expect(rest.commands[1]?.slice(2)).toEqual(['1', 'sent:lock', 'owner-1']);
    expect(rest.commands[2]).toEqual(['set', 'sent:record', 'record', 'px', '30000']);
    expect(rest.commands).toHaveLength(3);
  });

  it('shares records with createRedisTokenStore on the same database: the same bytes, both ways', async () => {
    const ioredis = new Redis(redisServer.url);
    try {
      const overTcp = createRedisTokenStore(ioredis);
      const overRest = createUpstashTokenStore(upstash());
      for (const [i, value] of AWKWARD_VALUES.entries()) {
        await overTcp.set(`shared:tcp:${i}`, value, 30);
        await overRest.set(`shared:rest:${i}`, value, 30);
        expect(await overRest.get(`shared:tcp:${i}`)).toBe(value);
        expect(await overTcp.get(`shared:rest:${i}`)).toBe(value);
      }
      expect(await overRest.acquire?.('shared:lock', 30, 'rest-owner')).toBe(true);
      expect(await overTcp.acquire?.('shared:lock', 30, 'tcp-owner')).toBe(false);
      await overTcp.deleteIfEquals?.('shared:lock', 'rest-owner');
      expect(await overTcp.acquire?.('shared:lock', 30, 'tcp-owner')).toBe(true);
    } finally {
      ioredis.disconnect();
    }
  });

  it('refuses a client that is not an @upstash/redis client when created', () => {
    expect(() => createUpstashTokenStore({} as never)).toThrow(/@upstash\/redis/);
    const ioredis = new Redis({ lazyConnect: true });
    expect(() => createUpstashTokenStore(ioredis as never)).toThrow(/use createRedisTokenStore/);
  });
});

describe('createUpstashTokenStore: failed, throttled and odd answers', () => {
  it('a throttled call rejects with Upstash’s error, without the command (the record) it carried', async () => {
    const store = createUpstashTokenStore(upstash({ enableAutoPipelining: false }));
    rest.failNext(4, 429, 'ERR max requests limit exceeded');
    for (const call of [
      () => store.get('throttled'),
      () => store.set('throttled', 'v2.secret-looking-record', 30),
      () => store.acquire?.('throttled:lock', 30, 'owner-1') ?? Promise.resolve(),
      () => store.deleteIfEquals?.('throttled:lock', 'owner-1') ?? Promise.resolve(),
    ]) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toMatch(/max requests limit exceeded/);
      expect(error?.message).not.toMatch(/throttled|secret-looking|owner-1|command was/);
    }
  });

  it('a wrong token, a throttled database or garbage under the key is a miss reported through onTokenStoreError', async () => {
    const server = await startTokenServer({ clientId: 'upstash-faults', clientSecret: 'upstash faults secret' });
    const errors: string[] = [];
    const client = (settings: Partial<Settings> = {}) =>
      createWristbandM2MClient({
        clientId: server.clientId,
        clientSecret: server.clientSecret,
        wristbandApplicationVanityDomain: server.vanityDomain,
        tokenStore: createUpstashTokenStore(upstash(settings)),
        onTokenStoreError: ({ operation, error }) => void errors.push(`${operation}: ${error.message}`),
      });
    const ioredis = new Redis(redisServer.url);
    try {
      for (const make of [
        () => client({ token: 'wrong-token' }),
        () => (rest.failNext(20, 429, 'ERR max requests limit exceeded'), client()),
      ]) {
        const m2m = make();
        expect(await m2m.getToken()).toMatch(/^m2m\./);
        m2m.destroy();
      }
      expect(errors.some((e) => e.startsWith('get:'))).toBe(true);
      rest.failNext(0, 200, ''); // the throttling is over
      errors.length = 0;
      const key = await recordKeyFor(server);
      // A list where a string belongs: redis answers WRONGTYPE to the GET inside the script.
      await ioredis.del(key);
      await ioredis.rpush(key, 'a');
      const m2m = client();
      expect(await m2m.getToken()).toMatch(/^m2m\./);
      m2m.destroy();
      expect(errors.filter((e) => e.startsWith('get:')).length).toBeGreaterThan(0);
    } finally {
      ioredis.disconnect();
      await server.close();
    }
  });

  it('an answer that is no marked string (a client that is not what it claims) is an error, never a value', async () => {
    const store = createUpstashTokenStore({
      eval: async () => 2,
      set: async () => 'OK',
      del: async () => 1,
    });
    await expect(store.get('odd')).rejects.toThrow(/number/);
    const marked = createUpstashTokenStore({ eval: async () => 'v2', set: async () => null, del: async () => 0 });
    expect(await marked.get('odd')).toBe('2');
    expect(await marked.acquire?.('odd', 30, 'owner')).toBe(false);
  });
});
