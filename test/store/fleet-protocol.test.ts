// The fleet protocol's notes and its refresh spread, with clients sharing one scripted store under fake timers:
// a failure note pauses a late reader only for what is left of its Retry-After, a note belongs to the lock owner
// that wrote it, and refreshes ahead spread over a fleet take a newer token from the store instead of their own.
import { describe, expect, it, vi } from 'vitest';
import type { TokenRefreshedEvent, TokenStoreErrorEvent, WristbandM2MError } from '../../src/index.js';
import {
  after,
  advanceUntil,
  fakeEndpoint,
  type ScriptedStore,
  scriptedStore,
  seededRandom,
  track,
  useFleetHarness,
} from '../support/fleet.js';

const { fleetClient } = useFleetHarness();

describe('a failure note', () => {
  it('read late pauses the reader only for what is left of its Retry-After', async () => {
    const endpoint = fakeEndpoint((n) =>
      n === 1 ? after(10, { kind: 'error', status: 429, retryAfter: '3' }) : after(10, { kind: 'token' }),
    );
    const store = scriptedStore();
    const a = fleetClient(endpoint, store);
    const b = fleetClient(endpoint, store);
    const fromA = track(a.getToken());
    await advanceUntil(() => fromA.settled);
    expect((fromA.error as WristbandM2MError).status).toBe(429);
    // 2.1 s after the 429, another process finds the note: 0.9 s of the pause is left, not 3 s.
    await vi.advanceTimersByTimeAsync(2_100 - performance.now());
    const fromB = track(b.getToken());
    await advanceUntil(() => fromB.settled);
    const noted = fromB.error as WristbandM2MError;
    expect(noted.status).toBe(429);
    expect(noted.retryAfterMs).toBeGreaterThan(0);
    // The 429 arrived at 10 ms: its pause ends at 3,010 ms.
    expect(noted.retryAfterMs).toBeLessThanOrEqual(3_010 - 2_100);
    expect(b.state.retryAt).toBeLessThanOrEqual(Date.now() + 910);
    // At 3.1 s the pause the endpoint asked for is over for everyone: b asks again.
    await vi.advanceTimersByTimeAsync(3_100 - performance.now());
    const later = track(b.getToken());
    await advanceUntil(() => later.settled);
    expect(later.value).toBe('tok-2');
    expect(endpoint.sent).toHaveLength(2);
  });

  it('of a process whose lock ran out does not end the wait of processes waiting on the lock’s next holder', async () => {
    // A's request fails late, after its lock ran out and B took the lock; C waits on B, which then succeeds.
    const endpoint = fakeEndpoint((n) =>
      n === 1
        ? after(1_000, { kind: 'error', status: 400, error: 'invalid_request' })
        : after(1_500, { kind: 'token' }),
    );
    const store = scriptedStore();
    const options = { tokenRequestTimeout: 5, tokenStoreLockWait: 10 };
    const a = fleetClient(endpoint, store, options);
    const b = fleetClient(endpoint, store, options);
    const c = fleetClient(endpoint, store, options);
    const fromA = track(a.getToken());
    await vi.advanceTimersByTimeAsync(100);
    const [lockKey] = store.locks().keys();
    store.drop(lockKey as string); // A's lock runs out (its TTL, or a store restart) while its request runs
    const fromB = track(b.getToken());
    await vi.advanceTimersByTimeAsync(100);
    const fromC = track(c.getToken()); // finds B's lock, waits on B
    await advanceUntil(() => fromA.settled && fromB.settled && fromC.settled, 30_000);
    expect(fromA.error).toBeDefined();
    expect(fromB.value).toBe('tok-2');
    expect(fromC.value).toBe('tok-2');
    expect(endpoint.sent).toHaveLength(2);
  });
  it('takes its writing time off the pause: the backoff counts from the 429, however slow the store', async () => {
    const endpoint = fakeEndpoint((n) =>
      n === 1 ? after(10, { kind: 'error', status: 429, retryAfter: '40' }) : { kind: 'token' },
    );
    const store = scriptedStore();
    const client = fleetClient(endpoint, store, { tokenStoreTimeout: 1 });
    const startedAt = Date.now();
    const first = track(client.getToken());
    await advanceUntil(() => endpoint.sent.length === 1);
    // From the request on, every store call (the note's reads and write included) takes the whole 1 s timeout.
    store.script = () => ({ kind: 'delay', ms: 1_000 });
    await advanceUntil(() => first.settled, 5_000, 1);
    expect((first.error as WristbandM2MError).status).toBe(429);
    // The note's store calls took 2 s, and the pause still ends 40 s after the 429 (which came at 10 ms).
    expect(first.at).toBeGreaterThan(1_000);
    expect(client.state.retryAt).toBeLessThanOrEqual(startedAt + 10 + 40_000);
    // The note landed before the lock went (its release, too, takes a second): a second process then finds the
    // pause, not a free lock.
    await vi.advanceTimersByTimeAsync(1_500);
    store.script = () => ({ kind: 'now' });
    expect(store.locks().size).toBe(0);
    const other = track(fleetClient(endpoint, store).getToken());
    await advanceUntil(() => other.settled);
    expect((other.error as WristbandM2MError).status).toBe(429);
    expect(endpoint.sent).toHaveLength(1);
  });

  it('is not read back by the process that wrote it: a caller retrying at once after a one-off failure sends a request', async () => {
    const endpoint = fakeEndpoint((n) =>
      n === 1 ? { kind: 'error', status: 400, error: 'invalid_request' } : { kind: 'token' },
    );
    const store = scriptedStore();
    // Reads take 5 ms, writes 20 ms: the note's write is still on its way when a reader could look.
    store.script = (op) => ({ kind: 'delay', ms: op === 'set' ? 20 : 5 });
    const client = fleetClient(endpoint, store);
    const first = track(client.getToken());
    await advanceUntil(() => first.settled, 5_000, 1);
    expect((first.error as WristbandM2MError).status).toBe(400);
    const retry = track(client.getToken());
    await advanceUntil(() => retry.settled, 5_000, 1);
    expect(retry.value).toBe('tok-2');
    expect(endpoint.sent).toHaveLength(2);
  });

  it('and the lock are gone when getToken() rejects: destroy() right after leaves no lock and writes nothing', async () => {
    const endpoint = fakeEndpoint(() => ({ kind: 'error', status: 400, error: 'invalid_request' }));
    const store = scriptedStore();
    store.script = () => ({ kind: 'delay', ms: 200 });
    const client = fleetClient(endpoint, store);
    const first = track(client.getToken());
    await advanceUntil(() => first.settled, 5_000, 1);
    expect((first.error as WristbandM2MError).status).toBe(400);
    client.destroy();
    const atDestroy = store.calls.length;
    await vi.advanceTimersByTimeAsync(250);
    expect(store.locks().size).toBe(0);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(store.calls.slice(atDestroy).map((c) => c.op)).not.toContain('set');
  });
});

describe('retire() with more secrets than the fleet keeps keys for', () => {
  it('deletes the shared record of the secret that got the token (ten secrets)', async () => {
    const endpoint = fakeEndpoint(() => after(10, { kind: 'token' }));
    const store = scriptedStore();
    const secrets = Array.from({ length: 10 }, (_, i) => `secret-${i}`);
    const client = fleetClient(endpoint, store, { clientSecret: secrets });
    const first = track(client.getToken());
    await advanceUntil(() => first.settled);
    const records = () => [...store.entries().keys()].filter((k) => !k.endsWith(':lock') && !k.endsWith(':failed'));
    expect(records()).toHaveLength(1);
    client.clearToken();
    await vi.advanceTimersByTimeAsync(10);
    expect(records()).toHaveLength(0);
  });
});

describe('a runtime without crypto.randomUUID (but with WebCrypto)', () => {
  it('takes no lock, reports it, and still gets the token', async () => {
    const saved = Object.getOwnPropertyDescriptor(crypto, 'randomUUID');
    Object.defineProperty(crypto, 'randomUUID', { value: undefined, configurable: true, writable: true });
    try {
      const endpoint = fakeEndpoint();
      const events: TokenStoreErrorEvent[] = [];
      const client = fleetClient(endpoint, scriptedStore(), { onTokenStoreError: (event) => events.push(event) });
      const got = track(client.getToken());
      await advanceUntil(() => got.settled);
      expect(got.value).toBe('tok-1');
      expect(events.map((event) => event.operation)).toEqual(['acquire']);
      expect(events[0]?.error.message).toMatch(/randomUUID/);
    } finally {
      if (saved) Object.defineProperty(crypto, 'randomUUID', saved);
      else delete (crypto as { randomUUID?: unknown }).randomUUID;
    }
  });
});

describe('refreshes ahead across a fleet', () => {
  const ROTATIONS = 10;

  /** Five clients, 30 s tokens and a 20 s buffer (a rotation every 10 s), each calling every 100 ms. */
  async function rotations(store: ScriptedStore) {
    vi.spyOn(Math, 'random').mockImplementation(seededRandom(7));
    const endpoint = fakeEndpoint(() => after(50, { kind: 'token', lifetimeS: 30 }));
    const events: TokenRefreshedEvent[][] = Array.from({ length: 5 }, () => []);
    const clients = events.map((list) =>
      fleetClient(endpoint, store, { tokenExpirationBuffer: 20, onTokenRefreshed: (event) => void list.push(event) }),
    );
    for (const client of clients) {
      const first = track(client.getToken());
      await advanceUntil(() => first.settled);
    }
    const requestsAtStart = endpoint.sent.length;
    for (let step = 0; step < ROTATIONS * 100; step++) {
      for (const client of clients) void client.getToken().catch(() => undefined);
      await vi.advanceTimersByTimeAsync(100);
    }
    return { requests: endpoint.sent.length - requestsAtStart, events };
  }

  it('take a newer token another client shared, never their own back: about one request per rotation on a store without a lock', async () => {
    const { requests, events } = await rotations(scriptedStore({ lock: false }));
    expect(requests).toBeGreaterThanOrEqual(ROTATIONS);
    expect(requests).toBeLessThanOrEqual(ROTATIONS * 1.3);
    // One refresh per client per rotation (and its first token): a token taken back would add more.
    for (const list of events) expect(list.length).toBeLessThanOrEqual(ROTATIONS + 2);
  });

  it('with the store’s lock: one request per rotation and no token taken back', async () => {
    const { requests, events } = await rotations(scriptedStore());
    expect(requests).toBeGreaterThanOrEqual(ROTATIONS);
    expect(requests).toBeLessThanOrEqual(ROTATIONS + 1);
    for (const list of events) expect(list.length).toBeLessThanOrEqual(ROTATIONS + 2);
  });
});
