import type { TokenStore } from './types.js';

/**
 * A {@link TokenStore} in this process's memory, with expiry and the lock: for tests, and for sharing one token
 * among several clients of the same OAuth2 client in one runtime.
 */
export function createMemoryTokenStore(): TokenStore {
  const entries = new Map<string, { value: string; expiresAt: number }>();
  const live = (key: string): string | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (Date.now() < entry.expiresAt) return entry.value;
    entries.delete(key);
    return undefined;
  };
  return {
    async get(key) {
      return live(key);
    },
    async set(key, value, ttlSeconds) {
      entries.set(key, { value, expiresAt: Date.now() + ttlSeconds * 1000 });
    },
    async delete(key) {
      entries.delete(key);
    },
    async deleteIfEquals(key, value) {
      if (live(key) === value) entries.delete(key);
    },
    async acquire(key, ttlSeconds, owner) {
      if (live(key) !== undefined) return false;
      entries.set(key, { value: owner, expiresAt: Date.now() + ttlSeconds * 1000 });
      return true;
    },
  };
}
