import { HttpResponse } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import {
  createMemoryTokenStore,
  type TokenStore,
  type TokenStoreErrorEvent,
  type TokenRefreshedEvent,
} from '../../src/index.js';
import { secretRecords, tokenStoreKeyPrefix } from '../../src/store/codec.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  issuingEndpoint,
  onTokenEndpoint,
  TOKEN_URL,
  testClient,
  tokenResponse,
  useMsw,
} from '../support/msw.js';

useMsw();

const KEY = (await secretRecords(CLIENT_SECRET, tokenStoreKeyPrefix(TOKEN_URL, CLIENT_ID), true)).key;

/** A memory store that records every call, for tests to look into. */
function spiedStore(base: TokenStore = createMemoryTokenStore()) {
  const calls: string[] = [];
  const raw = new Map<string, string>();
  const store: TokenStore = {
    get: (key) => (calls.push(`get ${key}`), base.get(key)),
    set: (key, value, ttl) => (calls.push(`set ${key} ${ttl}`), raw.set(key, value), base.set(key, value, ttl)),
    delete: (key) => (calls.push(`delete ${key}`), base.delete(key)),
    deleteIfEquals: (key, value) => (calls.push(`delete ${key}`), base.deleteIfEquals!(key, value)),
    acquire: (key, ttl, owner) => (calls.push(`acquire ${key}`), base.acquire!(key, ttl, owner)),
  };
  return { store, calls, raw };
}

const settled = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('tokenStore', () => {
  it('serves a token another client shared, with no token request', async () => {
    const log = issuingEndpoint();
    const { store } = spiedStore();
    const events: TokenRefreshedEvent[] = [];
    await testClient({ tokenStore: store }).getToken();
    await settled();
    const second = testClient({ tokenStore: store, onTokenRefreshed: (e) => void events.push(e) });
    expect(await second.getToken()).toBe('token-1');
    expect(log.count).toBe(1);
    expect(events).toMatchObject([{ source: 'store', attempts: 0, reason: 'initial' }]);
  });

  it('keeps memory as the first layer: a cached token costs no store call', async () => {
    issuingEndpoint();
    const { store, calls } = spiedStore();
    const client = testClient({ tokenStore: store });
    await client.getToken();
    await settled();
    const before = calls.length;
    for (let i = 0; i < 50; i++) await client.getToken();
    expect(calls.length).toBe(before);
  });

  it('writes an encrypted record, under a key made of the host, the client ID and an id of the secret, that holds neither token nor secret', async () => {
    onTokenEndpoint(() => tokenResponse('plain-token-value', 600));
    const { store, raw } = spiedStore();
    await testClient({ tokenStore: store }).getToken();
    await settled();
    expect([...raw.keys()]).toEqual([KEY]);
    expect(KEY).toMatch(new RegExp(`^wristband-m2m:v2:acme\\.us\\.wristband\\.dev:${CLIENT_ID}:[\\w-]{12}$`));
    const value = raw.get(KEY)!;
    expect(value).toMatch(/^v2\.[\w-]+\.[\w-]+$/);
    expect(value).not.toContain('plain-token-value');
    expect(value).not.toContain(CLIENT_SECRET);
    expect(KEY).not.toContain(CLIENT_SECRET);
  });

  it('writes with a TTL of the token’s remaining lifetime', async () => {
    onTokenEndpoint(() => tokenResponse('t', 600));
    const { store, calls } = spiedStore();
    await testClient({ tokenStore: store }).getToken();
    await settled();
    expect(calls.find((c) => c.startsWith('set'))).toMatch(/^set \S+ (599|600)$/);
  });

  it('stores plain JSON when tokenStoreEncryption is false', async () => {
    onTokenEndpoint(() => tokenResponse('visible-token', 600));
    const { store, raw } = spiedStore();
    await testClient({ tokenStore: store, tokenStoreEncryption: false }).getToken();
    await settled();
    expect(JSON.parse(raw.get(KEY)!)).toMatchObject({ accessToken: 'visible-token', expiresInSeconds: 600 });
  });

  it('keeps one record per secret: a client with another secret neither reads nor overwrites it, and logs nothing', async () => {
    const log = issuingEndpoint();
    const { store, raw } = spiedStore();
    await testClient({ tokenStore: store, clientSecret: 'the-old-secret' }).getToken();
    await settled();
    const errors: TokenStoreErrorEvent[] = [];
    const rotated = testClient({ tokenStore: store, onTokenStoreError: (e) => void errors.push(e) });
    expect(await rotated.getToken()).toBe('token-2');
    await settled();
    expect(log.count).toBe(2);
    expect(errors).toEqual([]);
    expect(raw.size).toBe(2);
  });

  it('treats garbage and expired records as misses', async () => {
    const log = issuingEndpoint(600);
    const store = createMemoryTokenStore();
    await store.set(KEY, 'not a record', 60);
    expect(await testClient({ tokenStore: store, tokenStoreEncryption: false }).getToken()).toBe('token-1');
    await store.set(
      KEY,
      JSON.stringify({ accessToken: 'stale', sentAt: Date.now() - 3_600_000, expiresInSeconds: 600 }),
      60,
    );
    expect(await testClient({ tokenStore: store, tokenStoreEncryption: false }).getToken()).toBe('token-2');
    expect(log.count).toBe(2);
  });

  it.each<[string, Partial<TokenStore>]>([
    ['get() rejects', { get: () => Promise.reject(new Error('ECONNREFUSED')) }],
    [
      'get() throws',
      {
        get: () => {
          throw new Error('not connected');
        },
      },
    ],
    ['get() never answers', { get: () => new Promise(() => undefined) }],
    ['set() rejects', { set: () => Promise.reject(new Error('READONLY')) }],
    ['acquire() rejects', { acquire: () => Promise.reject(new Error('LOADING')) }],
  ])('never fails getToken() when %s: a miss, reported', async (_case, broken) => {
    const log = issuingEndpoint();
    const errors: TokenStoreErrorEvent[] = [];
    const store = { ...createMemoryTokenStore(), ...broken } as TokenStore;
    const client = testClient({
      tokenStore: store,
      tokenStoreTimeout: 0.05,
      onTokenStoreError: (e) => void errors.push(e),
    });
    expect(await client.getToken()).toBe('token-1');
    await settled();
    expect(log.count).toBe(1);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]?.error).toMatchObject({ code: 'TOKEN_STORE_ERROR' });
    expect(JSON.stringify(errors)).not.toContain(CLIENT_SECRET);
  });

  it('never fails getToken() when a record cannot even be sealed (no WebCrypto): the token is served, the failure reported', async () => {
    issuingEndpoint();
    const encrypt = vi.spyOn(crypto.subtle, 'encrypt').mockRejectedValue(new Error('WebCrypto unavailable'));
    try {
      const errors: TokenStoreErrorEvent[] = [];
      const client = testClient({
        tokenStore: createMemoryTokenStore(),
        onTokenStoreError: (e) => void errors.push(e),
      });
      expect(await client.getToken()).toBe('token-1');
      await settled(); // the write goes on after the callers have their token
      expect(errors.map((e) => e.operation)).toEqual(['set']);
    } finally {
      encrypt.mockRestore();
    }
  });

  it('clearToken(token) deletes the shared record while it holds that token, and never reuses it', async () => {
    const log = issuingEndpoint();
    const { store, calls } = spiedStore();
    const client = testClient({ tokenStore: store });
    const first = await client.getToken();
    await settled();
    client.clearToken(first);
    await settled();
    expect(calls).toContain(`delete ${KEY}`);
    expect(await store.get(KEY)).toBeUndefined();
    expect(await client.getToken()).toBe('token-2');
    expect(log.count).toBe(2);
  });

  it('does not delete a record that holds a newer token than the one cleared', async () => {
    issuingEndpoint();
    const { store, calls } = spiedStore();
    const a = testClient({ tokenStore: store });
    const b = testClient({ tokenStore: store });
    const old = await a.getToken();
    await settled();
    await b.getToken(); // same token, from the store
    a.clearToken(old);
    await a.getToken(); // token-2, published
    await settled();
    calls.length = 0;
    b.clearToken(old); // a late 401 for the old token elsewhere
    await settled();
    expect(calls.filter((c) => c.startsWith('delete') && !c.endsWith(':lock'))).toEqual([]);
    expect(await b.getToken()).toBe('token-2');
  });

  it('does not hand back a rejected token the store still holds (its delete failed)', async () => {
    const log = issuingEndpoint();
    const failing = () => Promise.reject(new Error('READONLY'));
    const store = { ...createMemoryTokenStore(), delete: failing, deleteIfEquals: failing };
    // The lock cannot be released either, so the refresh waits out tokenStoreLockWait: keep it short.
    const client = testClient({ tokenStore: store, tokenStoreLockWait: 0.1 });
    const first = await client.getToken();
    await settled();
    client.clearToken(first);
    expect(await client.getToken()).toBe('token-2');
    expect(log.count).toBe(2);
  });

  it('coalesces across clients with the lock: the loser waits for the winner’s token', async () => {
    const log = onTokenEndpoint(async (n) => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return tokenResponse(`token-${n}`);
    });
    const store = createMemoryTokenStore();
    const clients = [1, 2, 3, 4].map(() => testClient({ tokenStore: store }));
    const tokens = await Promise.all(clients.map((c) => c.getToken()));
    expect(new Set(tokens)).toEqual(new Set(['token-1']));
    expect(log.count).toBe(1);
  });

  it('falls back to fetching itself after tokenStoreLockWait when the lock holder never shares a token', async () => {
    const log = issuingEndpoint();
    const store = { ...createMemoryTokenStore(), acquire: async () => false };
    const started = Date.now();
    expect(await testClient({ tokenStore: store, tokenStoreLockWait: 0.2 }).getToken()).toBe('token-1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(log.count).toBe(1);
  });

  it('stops waiting for another process’s token when destroyed, leaving no timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    try {
      const log = issuingEndpoint();
      const store = { ...createMemoryTokenStore(), acquire: async () => false };
      const client = testClient({ tokenStore: store, tokenStoreLockWait: 60 });
      const waiting = client.getToken().catch((error: unknown) => error);
      await vi.advanceTimersByTimeAsync(1_000);
      client.destroy();
      expect(await waiting).toMatchObject({ code: 'CLIENT_DESTROYED' });
      expect(vi.getTimerCount()).toBe(0);
      expect(log.count).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('releases the lock when its own fetch fails, so the next process need not wait', async () => {
    onTokenEndpoint((n) =>
      n === 1 ? HttpResponse.json({ error: 'invalid_client' }, { status: 401 }) : tokenResponse('ok'),
    );
    const { store, calls } = spiedStore();
    await expect(testClient({ tokenStore: store }).getToken()).rejects.toMatchObject({ status: 401 });
    await settled();
    expect(calls).toContain(`delete ${KEY}:lock`);
    const started = Date.now();
    expect(await testClient({ tokenStore: store }).getToken()).toBe('ok');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refreshes in the background from Wristband, not from the store, and shares the result', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date', 'performance'] });
    try {
      const log = issuingEndpoint();
      const { store, calls } = spiedStore();
      const client = testClient({ tokenStore: store, backgroundTokenRefreshInterval: 60 });
      await client.getToken();
      calls.length = 0;
      await vi.advanceTimersByTimeAsync(60_000);
      await vi.waitFor(() => expect(calls.some((c) => c.startsWith('set'))).toBe(true));
      expect(log.count).toBe(2);
      expect(calls.some((c) => c.startsWith('get'))).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('rejects optional store methods that are not functions, which would fail later in a lock release', () => {
    for (const extra of [{ acquire: true }, { deleteIfEquals: 'yes' }]) {
      const store = { ...createMemoryTokenStore(), ...extra } as unknown as TokenStore;
      expect(() => testClient({ tokenStore: store })).toThrow(/`tokenStore` must be an object/);
    }
  });

  it('rejects a tokenStore without get, set and delete', () => {
    expect(() => testClient({ tokenStore: { get: async () => null } as unknown as TokenStore })).toThrow(
      /`tokenStore` must be an object/,
    );
  });
});
