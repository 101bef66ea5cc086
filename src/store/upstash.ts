/**
 * `@wristband/typescript-m2m-auth/upstash`: a {@link TokenStore} on Upstash Redis over its REST API, through the
 * `@upstash/redis` client you already have (`Redis.fromEnv()`), with the fleet's lock: `SET key owner NX PX ttl`,
 * and a one-line Lua script for the compare-and-delete.
 *
 * `@upstash/redis` parses every reply as JSON by default (a stored `"2"` comes back as the number 2, a stored JSON
 * text as an object), which would change the values the client stores. This store reads through a Lua script that
 * returns each value behind a one-letter mark no JSON text starts with, so values come back exactly as stored
 * whatever the client's `automaticDeserialization` setting is. The records are the same bytes the
 * `createRedisTokenStore` store writes: processes on either share them.
 *
 * See https://upstash.com/docs/redis/features/restapi and https://redis.io/docs/latest/commands/set/.
 * @module @wristband/typescript-m2m-auth/upstash
 */
import type { TokenStore } from './types.js';

export type { TokenStore } from './types.js';

/** What is used of an `@upstash/redis` client (`new Redis({ url, token })` or `Redis.fromEnv()`). */
export interface UpstashRedisLike {
  eval(script: string, keys: string[], args: string[]): Promise<unknown>;
  set(key: string, value: string, options: { px: number } | { nx: true; px: number }): Promise<unknown>;
  del(...keys: string[]): Promise<unknown>;
}

/** Returns the value behind a `v`: not valid JSON, so `@upstash/redis` passes it on as the string it is. */
const GET = "local value = redis.call('GET', KEYS[1]) if value then return 'v' .. value end return false";
const DELETE_IF_EQUALS = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

export function createUpstashTokenStore(redis: UpstashRedisLike): TokenStore {
  if (typeof redis?.eval !== 'function' || typeof redis.set !== 'function' || typeof redis.del !== 'function') {
    throw new TypeError('createUpstashTokenStore() needs an @upstash/redis client: new Redis({ url, token }).');
  }
  // ioredis and node-redis have eval, set and del too, with other arguments: every call would fail.
  if ('call' in redis || 'sendCommand' in redis) {
    throw new TypeError('createUpstashTokenStore() got an ioredis or node-redis client: use createRedisTokenStore().');
  }
  const px = (ttlSeconds: number): number => Math.max(1, Math.round(ttlSeconds * 1000));
  return {
    async get(key) {
      const reply = await quiet(redis.eval(GET, [key], []));
      if (reply === null || reply === undefined) return null;
      if (typeof reply === 'string' && reply.startsWith('v')) return reply.slice(1);
      throw new TypeError(`The Upstash GET script answered ${typeof reply}, not a marked string.`);
    },
    set: (key, value, ttlSeconds) => quiet(redis.set(key, value, { px: px(ttlSeconds) })),
    delete: (key) => quiet(redis.del(key)),
    deleteIfEquals: (key, value) => quiet(redis.eval(DELETE_IF_EQUALS, [key], [value])),
    async acquire(key, ttlSeconds, owner) {
      return (await quiet(redis.set(key, owner, { nx: true, px: px(ttlSeconds) }))) === 'OK';
    },
  };
}

/**
 * The call's failure without the command it ran: `@upstash/redis` appends `, command was: [...]` to its errors,
 * with every argument, and a record is one (encrypted by default, but a client may store them in plain text).
 */
async function quiet<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    const message = String((error as Error | undefined)?.message ?? error);
    const cut = message.indexOf('command was');
    if (cut < 0) throw error;
    const quieted = new Error(`${message.slice(0, cut).replace(/[\s,]+$/, '')} (command withheld)`);
    quieted.name = (error as Error).name;
    throw quieted;
  }
}
