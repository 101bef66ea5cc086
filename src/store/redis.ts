/**
 * `@wristband/typescript-m2m-auth/redis`: a {@link TokenStore} on a Redis client you already have. No dependency:
 * it accepts an ioredis client (`call`) or a node-redis v4+ client (`sendCommand`) and speaks plain Redis commands,
 * so neither library's option shapes matter. The lock is `SET key owner NX PX ttl`; the compare-and-delete is a
 * one-line Lua script, atomic on the server.
 * @module @wristband/typescript-m2m-auth/redis
 */
import type { TokenStore } from './types.js';

export type { TokenStore } from './types.js';

/** What is used of an ioredis client. */
export interface IoRedisLike {
  call(command: string, ...args: string[]): Promise<unknown>;
}
/** What is used of a node-redis (v4 or later) client. */
export interface NodeRedisLike {
  sendCommand(args: string[]): Promise<unknown>;
}

const DELETE_IF_EQUALS = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

export function createRedisTokenStore(client: IoRedisLike | NodeRedisLike): TokenStore {
  const command = commandRunner(client);
  return {
    async get(key) {
      const value = await command(['GET', key]);
      return typeof value === 'string' ? value : value == null ? null : String(value);
    },
    set: (key, value, ttlSeconds) => command(['SET', key, value, 'PX', String(Math.round(ttlSeconds * 1000))]),
    delete: (key) => command(['DEL', key]),
    deleteIfEquals: (key, value) => command(['EVAL', DELETE_IF_EQUALS, '1', key, value]),
    async acquire(key, ttlSeconds, owner) {
      return (await command(['SET', key, owner, 'NX', 'PX', String(Math.round(ttlSeconds * 1000))])) === 'OK';
    },
  };
}

function commandRunner(client: IoRedisLike | NodeRedisLike): (args: string[]) => Promise<unknown> {
  // ioredis has a sendCommand too, taking its own Command objects: recognise it by call() first.
  if ('call' in client && typeof client.call === 'function') {
    const ioredis = client as IoRedisLike;
    return ([name, ...args]) => ioredis.call(name as string, ...args);
  }
  if ('sendCommand' in client && typeof client.sendCommand === 'function') return (args) => client.sendCommand(args);
  throw new TypeError('createRedisTokenStore() needs an ioredis client or a node-redis v4+ client.');
}
