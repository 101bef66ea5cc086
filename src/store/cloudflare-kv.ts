/**
 * `@wristband/typescript-m2m-auth/cloudflare-kv`: a {@link TokenStore} on a Workers KV namespace binding, so cold
 * isolates start with a token instead of a token request. KV is eventually consistent and has no atomic
 * operation, so there is no lock; its minimum TTL is 60 seconds, and the client checks each record's own expiry.
 * @module @wristband/typescript-m2m-auth/cloudflare-kv
 */
import type { TokenStore } from './types.js';

export type { TokenStore } from './types.js';

/** What is used of a `KVNamespace` binding. */
export interface KVNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<unknown>;
  delete(key: string): Promise<unknown>;
}

/** Workers KV refuses an `expirationTtl` under 60 seconds. */
export const KV_MIN_TTL_SECONDS = 60;

export function createKVTokenStore(namespace: KVNamespaceLike): TokenStore {
  // A binding misnamed in the Wrangler config is undefined here: say so once, not on every call.
  if (typeof namespace?.get !== 'function' || typeof namespace?.put !== 'function') {
    throw new TypeError(
      'createKVTokenStore() needs a Workers KV namespace binding (such as env.TOKENS): check its name in your Wrangler config.',
    );
  }
  return {
    get: (key) => namespace.get(key),
    set: (key, value, ttlSeconds) =>
      namespace.put(key, value, { expirationTtl: Math.max(KV_MIN_TTL_SECONDS, Math.ceil(ttlSeconds)) }),
    delete: (key) => namespace.delete(key),
  };
}
