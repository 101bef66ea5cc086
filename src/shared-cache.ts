/**
 * The client's use of a {@link TokenStore}: the second cache layer behind memory, and the fleet-wide lock that
 * lets one process fetch while the others wait for the store to fill. Every store call is bounded in time and its
 * failure is a miss, reported through `onTokenStoreError`, never a failed getToken().
 */
import type { ResolvedConfig } from './config.js';
import { clientDestroyed, WristbandM2MError } from './errors.js';
import { callHook } from './hooks.js';
import { pause } from './timers.js';
import { MAX_ATTEMPTS, RETRY_DELAY_MS } from './token-request.js';
import {
  boundedStoreCall,
  encryptedCodec,
  plainCodec,
  tokenStoreKey,
  type SharedToken,
  type TokenStore,
  type TokenStoreOperation,
} from './token-store.js';

/** How often a process that lost the lock looks for the winner's token. */
const LOCK_POLL_MS = 100;

export interface SharedCache {
  /**
   * A usable shared token (by `usable`), waiting for another process's fetch if it holds the lock; or undefined.
   * `lifetime` aborting (destroy()) ends the wait with `CLIENT_DESTROYED`.
   */
  find(usable: (token: SharedToken) => boolean, lifetime: AbortSignal): Promise<SharedToken | undefined>;
  /**
   * Shares a token this process fetched; settles when the store has it or the bounded call gave up, never rejects.
   * Awaited, because Workers may cancel what is still pending once a response is sent.
   */
  publish(token: SharedToken): Promise<void>;
  /** Deletes the shared record if it still holds `accessToken`. Does not wait for the store. */
  forget(accessToken: string): void;
  /** Gives the lock back after a failed fetch, so the next process need not wait for its expiry. */
  release(): void;
}

export function createSharedCache(store: TokenStore, settings: ResolvedConfig): SharedCache {
  const key = tokenStoreKey(settings.tokenEndpoint, settings.clientId);
  const lockKey = `${key}:lock`;
  const codec = settings.tokenStoreEncryption ? encryptedCodec(settings.clientSecret, key) : plainCodec;
  // The lock lasts as long as a token request can take with its retries, so a crashed holder frees it in time.
  const requestMs = MAX_ATTEMPTS * settings.requestTimeoutMs + (MAX_ATTEMPTS - 1) * RETRY_DELAY_MS;
  const lockTtlSeconds = Math.ceil(requestMs / 1000);
  let holdsLock = false;

  const report = (operation: TokenStoreOperation, error: WristbandM2MError): void =>
    callHook(settings.onTokenStoreError, { operation, error });

  /** Runs a bounded store call; a failure is reported and becomes `fallback`. */
  async function attempt<T>(operation: TokenStoreOperation, call: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await boundedStoreCall(operation, call, settings.tokenStoreTimeoutMs);
    } catch (error) {
      report(operation, error as WristbandM2MError);
      return fallback;
    }
  }

  /** The shared record, with the raw value it was read from (for a compare-and-delete). */
  async function readRaw(): Promise<{ record: SharedToken; value: string } | undefined> {
    const value = await attempt('get', () => store.get(key), undefined);
    if (typeof value !== 'string') return undefined;
    const record = await codec.open(value);
    if (record === undefined) {
      const problem =
        'The token store holds a record this client cannot read (written under another client secret, or not by ' +
        'this library); treated as a cache miss.';
      report('get', new WristbandM2MError('TOKEN_STORE_ERROR', problem));
      return undefined;
    }
    return { record, value };
  }

  const read = async (): Promise<SharedToken | undefined> => (await readRaw())?.record;

  return {
    async find(usable, lifetime) {
      const stored = await read();
      if (stored !== undefined && usable(stored)) return stored;
      const acquire = store.acquire?.bind(store);
      if (acquire === undefined) return undefined;
      // A store that cannot answer counts as a lock won: better a request too many than no token.
      holdsLock = await attempt('acquire', () => acquire(lockKey, lockTtlSeconds), true);
      if (holdsLock) return undefined;
      const deadline = Date.now() + settings.tokenStoreLockWaitMs;
      while (Date.now() < deadline) {
        await pause(Math.min(LOCK_POLL_MS, deadline - Date.now()), lifetime).catch(() => {
          throw clientDestroyed();
        });
        const filled = await read();
        if (filled !== undefined && usable(filled)) return filled;
      }
      return undefined;
    },
    async publish(token) {
      const ttlSeconds = Math.max(1, Math.ceil((token.sentAt + token.expiresInSeconds * 1000 - Date.now()) / 1000));
      // Sealing happens outside the bounded call, and a token already fetched must never fail over sharing it.
      await attempt('set', async () => store.set(key, await codec.seal(token), ttlSeconds), undefined);
      this.release();
    },
    forget(accessToken) {
      void readRaw().then((stored) => {
        if (stored?.record.accessToken !== accessToken) return undefined;
        const deleteIfEquals = store.deleteIfEquals?.bind(store);
        return deleteIfEquals === undefined
          ? attempt('delete', () => store.delete(key), undefined)
          : attempt('deleteIfEquals', () => deleteIfEquals(key, stored.value), undefined);
      });
    },
    release() {
      if (!holdsLock) return;
      holdsLock = false;
      void attempt('delete', () => store.delete(lockKey), undefined);
    },
  };
}
