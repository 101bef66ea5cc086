/**
 * The interface a shared token store implements. A plain object with async `get`, `set` and `delete` is enough; the
 * optional methods make a fleet cheaper and safer.
 */

/**
 * Where tokens are shared between processes, containers or Worker isolates: Redis, Workers KV, or your own. All
 * methods are async and may fail; the client treats a failure or a slow answer as a cache miss and carries on.
 * Values are opaque strings (encrypted records); keys never contain the secret.
 */
export interface TokenStore {
  /** The value stored under `key`, or `null`/`undefined` if there is none. Anything else is reported and ignored. */
  get(key: string): Promise<string | null | undefined>;
  /** Stores `value` under `key` for `ttlSeconds` (a whole number, at least 1). */
  set(key: string, value: string, ttlSeconds: number): Promise<unknown>;
  delete(key: string): Promise<unknown>;
  /**
   * Optional atomic compare-and-delete: deletes `key` only while it still holds `value`. The client uses it to
   * retire a rejected token and to release only its own lock. Without it, both are a `get` then a `delete`, and a
   * value written by another process in between can be deleted too: for a token that costs the fleet one extra
   * refresh; for a lock, another process's refresh may overlap with the next one.
   */
  deleteIfEquals?(key: string, value: string): Promise<unknown>;
  /**
   * Optional fleet-wide lock: stores `owner` under `key` and resolves `true` only if `key` held nothing, for
   * `ttlSeconds` (Redis `SET key owner NX PX`). With it, when many processes miss at once one fetches a token and
   * the others wait for the store to fill. Store `owner` as given: the lock is released by comparing it, and a
   * lock stored under another value is only freed by its TTL. A result other than a boolean is reported and counts
   * as a lock won (a request too many rather than a stall).
   */
  acquire?(key: string, ttlSeconds: number, owner: string): Promise<boolean>;
}

export type { SharedToken } from '../token.js';

/** The store operations, as named in `onTokenStoreError` events. */
export type TokenStoreOperation = 'get' | 'set' | 'delete' | 'deleteIfEquals' | 'acquire';
