// The Redis store against the conformance suite every store with a lock passes, on a real redis-server, with both
// client libraries it accepts; and the fleet scenarios with ioredis. test/store/redis.test.ts has the fleet of processes.
import Redis from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createRedisTokenStore } from '../../src/store/redis.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { storeContract } from '../support/store-contract.js';
import { describeFleet } from '../support/store-fleet.js';

let redisServer: RedisServer;
const closers: (() => unknown)[] = [];
beforeAll(async () => {
  redisServer = await startRedis();
}, 30_000);
afterAll(async () => {
  for (const close of closers) await close();
  await redisServer?.stop();
});

function ioredisStore() {
  const client = new Redis(redisServer.url);
  closers.push(() => client.disconnect());
  return createRedisTokenStore(client);
}

describe.concurrent('createRedisTokenStore with ioredis: the store contract', () => {
  for (const check of storeContract(ioredisStore)) it(check.name, check.run);
});

describe.concurrent('createRedisTokenStore with node-redis: the store contract', () => {
  let store: ReturnType<typeof createRedisTokenStore>;
  beforeAll(async () => {
    const client = createClient({ url: redisServer.url });
    await client.connect();
    closers.push(() => client.quit());
    store = createRedisTokenStore(client as never);
  });
  for (const check of storeContract(() => store)) it(check.name, check.run);
});

describeFleet('Redis', ioredisStore);
