// What a client takes from the store. Records are checked exactly as endpoint answers are (a
// visible-ASCII token, a finite positive lifetime capped at 24 h), a record dated in the future beyond the skew is
// not used, and a store answering with the wrong types is reported through onTokenStoreError.
import { describe, expect, it, vi } from 'vitest';
import {
  createWristbandM2MClient,
  type TokenStoreErrorEvent,
  type WristbandM2MClient,
  type WristbandM2MClientConfig,
} from '../../src/index.js';
import { secretRecords, tokenStoreKeyPrefix } from '../../src/store/codec.js';
import { MAX_CLOCK_SKEW_MS } from '../../src/store/fleet.js';
import {
  advanceUntil,
  fakeEndpoint,
  type ScriptedStore,
  scriptedStore,
  useFleetHarness,
  track,
} from '../support/fleet.js';

const SECRET = 'records-secret';
const TOKEN_URL = 'https://acme.us.wristband.dev/api/v1/oauth2/token';
const { destroyAfterEach } = useFleetHarness();

function setup(overrides: Partial<WristbandM2MClientConfig> = {}, store: ScriptedStore = scriptedStore()) {
  const endpoint = fakeEndpoint(() => ({ kind: 'token', token: 'from-endpoint', delayMs: 10 }));
  const storeErrors: TokenStoreErrorEvent[] = [];
  const client = createWristbandM2MClient({
    clientId: 'records',
    clientSecret: SECRET,
    wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
    fetch: endpoint.fetch,
    tokenStore: store,
    onTokenStoreError: (e) => void storeErrors.push(e),
    ...overrides,
  });
  destroyAfterEach(client);
  return { client, endpoint, store, storeErrors };
}

/** Writes `record` (any shape) as this library would: sealed under the secret's key, or plain JSON text. */
async function plant(store: ScriptedStore, record: unknown, encrypted = true, rawJson?: string): Promise<void> {
  const { key, seal } = await secretRecords(SECRET, tokenStoreKeyPrefix(TOKEN_URL, 'records'), encrypted);
  store.put(key, rawJson ?? (await seal(record as never)), 3600);
}

async function served(client: WristbandM2MClient) {
  const call = track(client.getToken());
  await advanceUntil(() => call.settled);
  return call;
}

describe('store records are checked as endpoint answers are', () => {
  it.each([
    ['a token with CR/LF', { accessToken: 'abc\r\nX-Injected: 1', expiresInSeconds: 3600 }],
    ['a token with a space', { accessToken: 'abc def', expiresInSeconds: 3600 }],
    ['an empty token', { accessToken: '', expiresInSeconds: 3600 }],
    ['a zero lifetime', { accessToken: 'stored', expiresInSeconds: 0 }],
    ['a negative lifetime', { accessToken: 'stored', expiresInSeconds: -5 }],
    ['a lifetime that is a string', { accessToken: 'stored', expiresInSeconds: '3600' }],
    ['a sentAt that is not a number', { accessToken: 'stored', expiresInSeconds: 3600, sentAt: 'now' }],
  ])('%s is not served: the client asks the endpoint and reports the record', async (_name, fields) => {
    const { client, endpoint, store, storeErrors } = setup();
    await plant(store, { sentAt: Date.now(), ...fields });
    const call = await served(client);
    expect(call.value).toBe('from-endpoint');
    expect(endpoint.sent).toHaveLength(1);
    expect(storeErrors.map((e) => e.operation)).toContain('get');
  });

  it('an infinite lifetime (1e400 in plain JSON) is not served', async () => {
    const { client, endpoint, store } = setup({ tokenStoreEncryption: false });
    await plant(store, undefined, false, `{"accessToken":"stored","sentAt":${Date.now()},"expiresInSeconds":1e400}`);
    expect((await served(client)).value).toBe('from-endpoint');
    expect(endpoint.sent).toHaveLength(1);
  });

  it('a huge lifetime is capped at 24 h, as an endpoint answer is', async () => {
    const { client, endpoint, store } = setup();
    const sentAt = Date.now();
    await plant(store, { accessToken: 'stored', sentAt, expiresInSeconds: 1e9 });
    expect((await served(client)).value).toBe('stored');
    expect(endpoint.sent).toHaveLength(0);
    expect(client.state.expiresAt).toBeLessThanOrEqual(sentAt + 24 * 3600 * 1000);
    // A day and a second later it is no longer served.
    await vi.advanceTimersByTimeAsync(24 * 3600 * 1000 + 1000);
    expect((await served(client)).value).toBe('from-endpoint');
  });
});

describe('store records dated in the future', () => {
  it(`a record sent more than ${MAX_CLOCK_SKEW_MS / 1000} s in the future is not used`, async () => {
    const { client, endpoint, store, storeErrors } = setup();
    await plant(store, { accessToken: 'stored', sentAt: Date.now() + 10 * 60_000, expiresInSeconds: 3600 });
    expect((await served(client)).value).toBe('from-endpoint');
    expect(endpoint.sent).toHaveLength(1);
    expect(storeErrors.some((e) => e.operation === 'get' && /future/.test(e.error.message))).toBe(true);
  });

  it('a record sent within the skew is used, and not served past its lifetime by the monotonic clock', async () => {
    const { client, endpoint, store } = setup({ tokenExpirationBuffer: 0 });
    await plant(store, { accessToken: 'stored', sentAt: Date.now() + 30_000, expiresInSeconds: 600 });
    expect((await served(client)).value).toBe('stored');
    vi.setSystemTime(Date.now() - 3_600_000); // the wall clock steps back an hour
    await vi.advanceTimersByTimeAsync(600_000);
    expect((await served(client)).value).toBe('from-endpoint');
    expect(endpoint.sent).toHaveLength(1);
  });
});

describe('a store answering with the wrong types', () => {
  it('a get() that returns an object (a client parsing JSON itself) is reported, and counts as a miss', async () => {
    const store = scriptedStore();
    const { client, endpoint, storeErrors } = setup({}, store);
    store.get = async () => ({ accessToken: 'parsed' }) as never;
    expect((await served(client)).value).toBe('from-endpoint');
    expect(endpoint.sent).toHaveLength(1);
    expect(storeErrors.some((e) => e.operation === 'get' && /object/.test(e.error.message))).toBe(true);
  });

  it.each([
    ['a string', 'OK'],
    ['undefined', undefined],
    ['a number', 1],
  ])('an acquire() that resolves %s is reported and counts as a lock won: no lock wait', async (_name, answer) => {
    const store = scriptedStore();
    const { client, endpoint, storeErrors } = setup({}, store);
    store.acquire = async () => answer as never;
    const call = track(client.getToken());
    const took = await advanceUntil(() => call.settled);
    expect(call.value).toBe('from-endpoint');
    expect(took).toBeLessThan(100);
    expect(endpoint.sent).toHaveLength(1);
    expect(storeErrors.some((e) => e.operation === 'acquire' && /not a boolean/.test(e.error.message))).toBe(true);
  });
});
