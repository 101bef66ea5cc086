/**
 * The client's use of a {@link TokenStore}: the second cache layer behind memory, and the fleet-wide lock that
 * lets one process fetch while the others wait for the store to fill. Every store call is bounded in time and its
 * failure is a miss, reported through `onTokenStoreError`, never a failed getToken().
 */
import { WristbandM2MError } from './errors.js';
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
export const LOCK_POLL_MS = 100;

export interface SharedCacheSettings {
  store: TokenStore;
  encrypt: boolean;
  tokenEndpoint: string;
  clientId: string;
  clientSecret: string;
  storeTimeoutMs: number;
  lockWaitMs: number;
  /** How long the lock is held at most: as long as a token request can take with its retries. */
  lockTtlSeconds: number;
  onError: (operation: TokenStoreOperation, error: WristbandM2MError) => void;
}

export interface SharedCache {
  /** A usable shared token (by `usable`), waiting for another process's fetch if it holds the lock; or undefined. */
  find(usable: (token: SharedToken) => boolean): Promise<SharedToken | undefined>;
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

export function createSharedCache(settings: SharedCacheSettings): SharedCache {
  const { store } = settings;
  const key = tokenStoreKey(settings.tokenEndpoint, settings.clientId);
  const lockKey = `${key}:lock`;
  const codec = settings.encrypt ? encryptedCodec(settings.clientSecret, key) : plainCodec;
  let holdsLock = false;

  /** Runs a bounded store call; a failure is reported and becomes `fallback`. */
  async function attempt<T>(operation: TokenStoreOperation, call: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await boundedStoreCall(operation, call, settings.storeTimeoutMs);
    } catch (error) {
      settings.onError(operation, error as WristbandM2MError);
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
      settings.onError('get', new WristbandM2MError('TOKEN_STORE_ERROR', problem));
      return undefined;
    }
    return { record, value };
  }

  const read = async (): Promise<SharedToken | undefined> => (await readRaw())?.record;

  return {
    async find(usable) {
      const stored = await read();
      if (stored !== undefined && usable(stored)) return stored;
      const acquire = store.acquire?.bind(store);
      if (acquire === undefined) return undefined;
      // A store that cannot answer counts as a lock won: better a request too many than no token.
      holdsLock = await attempt('acquire', () => acquire(lockKey, settings.lockTtlSeconds), true);
      if (holdsLock) return undefined;
      const deadline = Date.now() + settings.lockWaitMs;
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(LOCK_POLL_MS, deadline - Date.now())));
        const filled = await read();
        if (filled !== undefined && usable(filled)) return filled;
      }
      return undefined;
    },
    async publish(token) {
      const ttlSeconds = Math.max(1, Math.ceil((token.sentAt + token.expiresInSeconds * 1000 - Date.now()) / 1000));
      const value = await codec.seal(token);
      await attempt('set', () => store.set(key, value, ttlSeconds), undefined);
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
