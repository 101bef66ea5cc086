/**
 * `@wristband/typescript-m2m-auth/deno-kv`: a {@link TokenStore} on Deno KV (`await Deno.openKv()`), with the
 * fleet's lock: Deno Deploy's global KV, or a local SQLite file shared by several processes.
 *
 * The lock and the compare-and-delete are atomic operations checked on the entry's versionstamp. Each entry keeps its
 * expiry in its value, checked on every read: `expireIn` only lets Deno delete it later (about a minute late).
 * Several processes on one local KV file meet SQLite's `database is locked`; a call that meets it is retried
 * briefly rather than reported as a miss.
 *
 * See https://docs.deno.com/deploy/kv/manual/transactions/ and https://docs.deno.com/deploy/kv/manual/key_expiration/.
 * @module @wristband/typescript-m2m-auth/deno-kv
 */
import type { TokenStore } from './types.js';

export type { TokenStore } from './types.js';

/** A Deno KV key: the store's entries all live under {@link DENO_KV_PREFIX}. */
export type DenoKvKey = readonly string[];

/** What is used of a `Deno.Kv`. */
export interface DenoKvLike {
  get(key: DenoKvKey): Promise<{ value: unknown; versionstamp: string | null }>;
  set(key: DenoKvKey, value: unknown, options?: { expireIn?: number }): Promise<unknown>;
  delete(key: DenoKvKey): Promise<unknown>;
  atomic(): DenoKvAtomicLike;
}

/** What is used of a `Deno.AtomicOperation`. */
export interface DenoKvAtomicLike {
  check(...checks: { key: DenoKvKey; versionstamp: string | null }[]): DenoKvAtomicLike;
  set(key: DenoKvKey, value: unknown, options?: { expireIn?: number }): DenoKvAtomicLike;
  delete(key: DenoKvKey): DenoKvAtomicLike;
  commit(): Promise<{ ok: boolean }>;
}

/** The first part of every key the store writes: `kv.list({ prefix: [DENO_KV_PREFIX] })` lists them. */
export const DENO_KV_PREFIX = 'wristband-m2m';

/** What the store keeps under each key: the value and the instant (ms since the epoch) it expires. */
interface Entry {
  value: string;
  expiresAt: number;
}

/** Atomic operations that found the entry changed under them, retried before giving up. */
const MAX_CHECK_RETRIES = 8;
/**
 * How long a call that meets `database is locked` is tried again, a few ms of jitter apart: as long as a client
 * waits for a store call by default (its `tokenStoreTimeout`, 1 s), after which the answer would come too late.
 */
const LOCKED_RETRY_MS = 1_000;

/**
 * A {@link TokenStore} on a Deno KV database: pass what `Deno.openKv()` resolved to. Run Deno with
 * `--unstable-kv` (or `"unstable": ["kv"]` in deno.json) where KV is still unstable.
 */
export function createDenoKvTokenStore(kv: DenoKvLike): TokenStore {
  if (typeof kv?.get !== 'function' || typeof kv.atomic !== 'function') {
    throw new TypeError('createDenoKvTokenStore() needs a Deno.Kv, as `await Deno.openKv()` returns.');
  }
  const keyOf = (key: string): DenoKvKey => [DENO_KV_PREFIX, key];
  const read = (key: string) => unlocked(() => kv.get(keyOf(key)));
  const entry = (value: string, ttlSeconds: number): [Entry, { expireIn: number }] => {
    const ttlMs = Math.max(1, Math.round(ttlSeconds * 1000));
    return [{ value, expiresAt: Date.now() + ttlMs }, { expireIn: ttlMs }];
  };
  return {
    async get(key) {
      const { value } = await read(key);
      if (value === null || value === undefined) return null;
      const found = asEntry(value);
      // Not an entry of this store: passed on as it is, so that the client reports it and reads past it.
      if (found === undefined) return value as string;
      return Date.now() < found.expiresAt ? found.value : null;
    },
    set: (key, value, ttlSeconds) => unlocked(() => kv.set(keyOf(key), ...entry(value, ttlSeconds))),
    delete: (key) => unlocked(() => kv.delete(keyOf(key))),
    async deleteIfEquals(key, value) {
      for (let attempt = 0; attempt < MAX_CHECK_RETRIES; attempt++) {
        const current = await read(key);
        if (asEntry(current.value)?.value !== value) return;
        const check = { key: keyOf(key), versionstamp: current.versionstamp };
        const { ok } = await unlocked(() => kv.atomic().check(check).delete(keyOf(key)).commit());
        if (ok) return;
      }
      throw new Error(`deleteIfEquals(): the entry kept changing under ${MAX_CHECK_RETRIES} atomic deletes.`);
    },
    async acquire(key, ttlSeconds, owner) {
      for (let attempt = 0; attempt < MAX_CHECK_RETRIES; attempt++) {
        const current = await read(key);
        const held = asEntry(current.value);
        // Held: lost, unless by this very call (a commit that landed before `database is locked` was thrown at it).
        if (held !== undefined && Date.now() < held.expiresAt) return attempt > 0 && held.value === owner;
        // Free, or expired but not yet swept by Deno: take it unless another process wrote it since this read.
        const check = { key: keyOf(key), versionstamp: current.versionstamp };
        const commit = () =>
          kv
            .atomic()
            .check(check)
            .set(keyOf(key), ...entry(owner, ttlSeconds))
            .commit();
        if ((await unlocked(commit)).ok) return true;
      }
      return false;
    },
  };
}

/** Runs one KV call, again while it fails with SQLite's `database is locked` (several processes on one file). */
async function unlocked<T>(call: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + LOCKED_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (performance.now() >= deadline || !/database is locked/i.test(String((error as Error)?.message))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1 + Math.random() * Math.min(2 ** attempt, 25)));
    }
  }
}

function asEntry(stored: unknown): Entry | undefined {
  if (typeof stored !== 'object' || stored === null) return undefined;
  const { value, expiresAt } = stored as Record<string, unknown>;
  return typeof value === 'string' && typeof expiresAt === 'number' ? { value, expiresAt } : undefined;
}
