// A fleet of clients sharing one store, with every await point of a round interleaved
// with clearToken(), destroy() and clock steps. Fake timers drive the store's and the endpoint's latency; they fake
// `performance` as well as `Date`, since the client keeps time with both.
import { describe, expect, it, vi } from 'vitest';
import {
  createWristbandM2MClient,
  type TokenRefreshedEvent,
  type TokenStoreErrorEvent,
  WristbandM2MError,
  type WristbandM2MClientConfig,
} from '../../src/index.js';
import {
  type Answer,
  advanceUntil,
  fakeEndpoint,
  flush,
  type ScriptedStore,
  scriptedStore,
  useFleetHarness,
  track,
} from '../support/fleet.js';

const { destroyAfterEach } = useFleetHarness();

function fleetClient(
  endpoint: { fetch: WristbandM2MClientConfig['fetch'] },
  store: ScriptedStore | undefined,
  overrides: Partial<WristbandM2MClientConfig> = {},
) {
  const client = createWristbandM2MClient({
    clientId: 'fleet',
    clientSecret: 'fleet-secret',
    wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
    fetch: endpoint.fetch,
    ...(store === undefined ? {} : { tokenStore: store }),
    ...overrides,
  });
  destroyAfterEach(client);
  return client;
}

const after = (ms: number, answer: Answer): Answer => ({ ...answer, delayMs: ms }) as Answer;

describe('each refresh owns its lock', () => {
  it('a refresh detached by clearToken() lets go of its lock: the next getToken() and a peer take the 300 ms of a request, not the lock wait', async () => {
    const endpoint = fakeEndpoint(() => after(300, { kind: 'token' }));
    const store = scriptedStore();
    const a = fleetClient(endpoint, store);
    const b = fleetClient(endpoint, store);
    const first = track(a.getToken());
    await vi.advanceTimersByTimeAsync(10); // A holds the lock, its request is on the way
    expect(store.locks().size).toBe(1);
    expect(endpoint.sent).toHaveLength(1);
    a.clearToken();
    const next = track(a.getToken());
    const peer = track(b.getToken());
    const took = await advanceUntil(() => next.settled && peer.settled && first.settled);
    expect(next.value).toMatch(/^tok-/);
    expect(peer.value).toMatch(/^tok-/);
    expect(took).toBeLessThan(1_000); // was 3.3 s with the default 5 s lock wait
    await advanceUntil(() => store.inFlight() === 0);
    expect(store.locks().size).toBe(0);
  });

  it('a detached refresh that fails later does not delete the lock a newer refresh holds', async () => {
    const endpoint = fakeEndpoint((n) =>
      n === 1 ? after(500, { kind: 'error', status: 400, error: 'invalid_request' }) : after(2_000, { kind: 'token' }),
    );
    const store = scriptedStore();
    const a = fleetClient(endpoint, store);
    const first = track(a.getToken());
    await vi.advanceTimersByTimeAsync(10);
    a.clearToken();
    const second = track(a.getToken());
    await vi.advanceTimersByTimeAsync(10);
    const [owner] = store.locks().values();
    expect(owner).toBeDefined();
    await vi.advanceTimersByTimeAsync(600); // the detached refresh has failed and released what it held
    expect(first.error).toBeInstanceOf(WristbandM2MError);
    expect([...store.locks().values()]).toEqual([owner]);
    await advanceUntil(() => second.settled);
    expect(second.value).toBe('tok-2');
  });

  it('a failing refresh does not delete a lock another process took after its own ran out', async () => {
    const endpoint = fakeEndpoint((n) =>
      n === 1
        ? after(2_000, { kind: 'error', status: 400, error: 'invalid_request' })
        : after(3_000, { kind: 'token' }),
    );
    const store = scriptedStore();
    const a = fleetClient(endpoint, store);
    const b = fleetClient(endpoint, store);
    const fromA = track(a.getToken());
    await vi.advanceTimersByTimeAsync(100);
    const [key] = store.locks().keys();
    store.drop(key as string); // A's lock runs out (its TTL, or a store restart)
    const fromB = track(b.getToken());
    await vi.advanceTimersByTimeAsync(100);
    const [bOwner] = store.locks().values();
    expect(bOwner).toBeDefined();
    await advanceUntil(() => fromA.settled);
    expect(fromA.error).toBeInstanceOf(WristbandM2MError);
    await flush();
    expect([...store.locks().values()]).toEqual([bOwner]);
    await advanceUntil(() => fromB.settled);
    expect(fromB.value).toBe('tok-2');
  });

  it('a refresh detached while its acquire() is on the way does not keep the lock it then wins', async () => {
    const endpoint = fakeEndpoint((n) => after(n === 1 ? 3_000 : 300, { kind: 'token' }));
    const store = scriptedStore();
    store.script = (op) => (op === 'acquire' ? { kind: 'delay', ms: 50 } : { kind: 'now' });
    const a = fleetClient(endpoint, store);
    const b = fleetClient(endpoint, store);
    const first = track(a.getToken());
    await vi.advanceTimersByTimeAsync(10); // A's acquire() is on the way
    a.clearToken();
    const next = track(a.getToken());
    const peer = track(b.getToken());
    const took = await advanceUntil(() => next.settled && peer.settled);
    expect(next.value).toMatch(/^tok-/);
    expect(peer.value).toMatch(/^tok-/);
    // The detached refresh's 3 s request must not hold up the refresh that will share its token.
    expect(took).toBeLessThan(1_500);
    await advanceUntil(() => first.settled && store.inFlight() === 0);
    expect(store.locks().size).toBe(0);
  });

  it('a detached refresh that fails leaves no failure note for the waiters of the lock’s next holder', async () => {
    // A's first request fails after 1 s; B's request takes 2 s; C waits on B's lock and must get B's token.
    const endpoint = fakeEndpoint((n) =>
      n === 1 ? after(1_000, { kind: 'error', status: 503, retryAfter: '30' }) : after(2_000, { kind: 'token' }),
    );
    const store = scriptedStore();
    const a = fleetClient(endpoint, store);
    const b = fleetClient(endpoint, store);
    const c = fleetClient(endpoint, store);
    const first = track(a.getToken());
    await vi.advanceTimersByTimeAsync(10);
    a.clearToken(); // A's request goes on for its caller, its lock goes now
    const fromB = track(b.getToken());
    await vi.advanceTimersByTimeAsync(10);
    const fromC = track(c.getToken());
    await advanceUntil(() => first.settled && fromB.settled && fromC.settled);
    expect((first.error as WristbandM2MError).status).toBe(503);
    expect(fromB.value).toBe('tok-2');
    expect(fromC.value).toBe('tok-2');
    expect(endpoint.sent).toHaveLength(2);
  });

  it('an acquire() that times out but lands late does not leave its lock behind', async () => {
    const endpoint = fakeEndpoint(() => after(100, { kind: 'token' }));
    const store = scriptedStore();
    store.script = (op) => (op === 'acquire' ? { kind: 'delay', ms: 1_500 } : { kind: 'now' });
    const a = fleetClient(endpoint, store, { tokenStoreTimeout: 1 });
    const got = track(a.getToken());
    await advanceUntil(() => got.settled);
    expect(got.value).toBe('tok-1');
    await advanceUntil(() => store.inFlight() === 0);
    await flush();
    expect(store.locks().size).toBe(0);
  });
});

describe('a retired token never stays in the store', () => {
  it('clearToken(token) while that token’s set() is on the way deletes it once the write lands; no peer is served it', async () => {
    const endpoint = fakeEndpoint(() => after(50, { kind: 'token' }));
    const store = scriptedStore();
    store.script = (op) => (op === 'set' ? { kind: 'hold' } : { kind: 'now' });
    const a = fleetClient(endpoint, store);
    const first = track(a.getToken());
    await advanceUntil(() => store.held('set').length > 0);
    expect(store.held('set')).toHaveLength(1);
    const token = await a.getToken(); // the caller has it while the publish is on the way
    expect(token).toBe('tok-1');
    a.clearToken(token);
    await flush();
    for (const call of store.held('set')) call.release();
    await advanceUntil(() => first.settled && store.inFlight() === 0);
    await flush();
    expect(store.entries().size).toBe(0);
    const peer = track(fleetClient(endpoint, store).getToken());
    const again = track(a.getToken());
    await advanceUntil(() => peer.settled && again.settled);
    expect(peer.value).toMatch(/^tok-/);
    expect(peer.value).not.toBe('tok-1');
    expect(again.value).not.toBe('tok-1');
  });
});

describe('retirement after a clock step (found by the race model)', () => {
  it('clearToken(token) deletes the record even when this machine’s clock stepped back past the skew allowance', async () => {
    const endpoint = fakeEndpoint(() => after(10, { kind: 'token', lifetimeS: 600 }));
    const store = scriptedStore();
    const a = fleetClient(endpoint, store);
    const first = track(a.getToken());
    await advanceUntil(() => first.settled && store.inFlight() === 0);
    expect(store.entries().size).toBe(1);
    vi.setSystemTime(Date.now() - 120_000); // the record now looks sent two minutes in the future
    a.clearToken(first.value);
    await advanceUntil(() => store.inFlight() === 0);
    await flush();
    expect(store.entries().size).toBe(0); // a peer with a right clock would otherwise be served the rejected token
  });
});

describe('one round per rotation, and callers not held up by the store', () => {
  it('callers resume once the store holds the token, so a process that exits right after still shares it', async () => {
    const endpoint = fakeEndpoint(() => after(10, { kind: 'token' }));
    const store = scriptedStore();
    store.script = (op) => (op === 'set' ? { kind: 'delay', ms: 300 } : { kind: 'now' });
    const kept: Promise<unknown>[] = [];
    const a = fleetClient(endpoint, store);
    const call = track(a.getToken({ waitUntil: (p) => void kept.push(p) }));
    const took = await advanceUntil(() => call.settled);
    expect(call.value).toBe('tok-1');
    expect(took).toBeGreaterThanOrEqual(300);
    // The round, handed to waitUntil, is the whole of it: the write included.
    expect(kept).toHaveLength(1);
    a.destroy(); // the process goes away at once
    const peer = track(fleetClient(endpoint, store).getToken());
    await advanceUntil(() => peer.settled);
    expect(peer.value).toBe('tok-1');
    expect(endpoint.sent).toHaveLength(1);
  });

  it('a process whose acquire() wins just after the holder shared its token and let the lock go takes that token', async () => {
    const endpoint = fakeEndpoint(() => after(50, { kind: 'token' }));
    const store = scriptedStore();
    let acquires = 0;
    store.script = (op) => (op === 'acquire' && ++acquires === 2 ? { kind: 'delay', ms: 200 } : { kind: 'now' });
    const a = fleetClient(endpoint, store);
    const b = fleetClient(endpoint, store);
    const fromA = track(a.getToken());
    await vi.advanceTimersByTimeAsync(10);
    const fromB = track(b.getToken()); // reads a miss now; its acquire() lands after A has shared and released
    await advanceUntil(() => fromA.settled && fromB.settled && store.inFlight() === 0);
    expect(fromB.value).toBe('tok-1');
    expect(endpoint.sent).toHaveLength(1);
    expect(store.locks().size).toBe(0);
  });
});

describe('waiters learn of the holder’s failure within a poll', () => {
  it('four processes behind an endpoint that fails after 0.5 s: one request, all fail within about a second', async () => {
    const endpoint = fakeEndpoint(() => after(500, { kind: 'error', status: 401, error: 'invalid_client' }));
    const store = scriptedStore();
    const fleet = [0, 1, 2, 3].map(() => fleetClient(endpoint, store));
    const calls = fleet.map((client) => track(client.getToken()));
    await advanceUntil(() => calls.every((c) => c.settled), 20_000);
    for (const call of calls) expect((call.error as WristbandM2MError).status).toBe(401);
    expect(Math.max(...calls.map((c) => c.at as number))).toBeLessThan(1_000);
    expect(endpoint.sent).toHaveLength(1);
  });
});

describe('a slow store is not mistaken for a wedged round', () => {
  it('a round whose every store call takes just under tokenStoreTimeout is not given up while it works', async () => {
    const endpoint = fakeEndpoint((n) => after(990, n < 3 ? { kind: 'error', status: 503 } : { kind: 'token' }));
    const store = scriptedStore();
    store.script = () => ({ kind: 'delay', ms: 990 });
    let acquires = 0;
    // Another process holds the lock at first, and lets it go during the wait.
    store.acquire = () => new Promise((resolve) => setTimeout(() => resolve(++acquires > 1), 990));
    const a = fleetClient(endpoint, store, { tokenStoreTimeout: 1, tokenRequestTimeout: 1, tokenStoreLockWait: 0.3 });
    const first = track(a.getToken());
    // maxRoundMs counts the 7 store calls a round can make in sequence (10.5 s here), plus 1 s before a call gives it up.
    await vi.advanceTimersByTimeAsync(8_700);
    expect(first.settled).toBe(false);
    const second = track(a.getToken());
    await advanceUntil(() => first.settled && second.settled);
    expect(first.value).toBe('tok-3');
    expect(second.value).toBe('tok-3');
    expect(endpoint.sent).toHaveLength(3);
  });
});

describe('a failing endpoint behind a fleet', () => {
  it('a process that finds the lock free while a holder’s 429 note lasts honours it instead of fetching', async () => {
    const endpoint = fakeEndpoint((n) =>
      n === 1
        ? after(100, { kind: 'error', status: 429, error: 'slow_down', retryAfter: '30' })
        : after(10, { kind: 'token' }),
    );
    const store = scriptedStore();
    const a = fleetClient(endpoint, store);
    const b = fleetClient(endpoint, store);
    const fromA = track(a.getToken());
    await advanceUntil(() => fromA.settled);
    expect((fromA.error as WristbandM2MError).status).toBe(429);
    await vi.advanceTimersByTimeAsync(2_000);
    const fromB = track(b.getToken()); // comes later: the lock is free, the note is not
    await advanceUntil(() => fromB.settled);
    expect((fromB.error as WristbandM2MError).status).toBe(429);
    expect(endpoint.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(30_000);
    const later = track(b.getToken());
    await advanceUntil(() => later.settled);
    expect(later.value).toBe('tok-2');
  });
});

describe('destroy() at any await point of a round', () => {
  type Point = 'provider' | 'get' | 'acquire' | 'poll' | 'request' | 'set';
  const points: Point[] = ['provider', 'get', 'acquire', 'poll', 'request', 'set'];
  it.each(points)(
    'destroy() during %s: no request after it, CLIENT_DESTROYED, no hook, no lock of its own left',
    async (point) => {
      const endpoint = fakeEndpoint(() => (point === 'request' ? { kind: 'hold' } : after(50, { kind: 'token' })));
      const store = scriptedStore();
      const hold = point === 'get' || point === 'acquire' || point === 'set' ? point : undefined;
      store.script = (op) => (op === hold ? { kind: 'hold' } : { kind: 'now' });
      let releaseProvider: (() => void) | undefined;
      const provider = () => new Promise<string>((resolve) => (releaseProvider = () => resolve('fleet-secret')));
      const refreshed: TokenRefreshedEvent[] = [];
      const peer = fleetClient(endpoint, store);
      const client = fleetClient(endpoint, store, {
        onTokenRefreshed: (e) => void refreshed.push(e),
        ...(point === 'provider' ? { clientSecret: provider } : {}),
      });
      let peerCall: ReturnType<typeof track<string>> | undefined;
      if (point === 'poll') {
        // A peer holds the lock while its publish hangs: the client polls.
        store.script = (op) => (op === 'set' ? { kind: 'hold' } : { kind: 'now' });
        peerCall = track(peer.getToken());
        await advanceUntil(() => store.held('set').length > 0);
      }
      const call = track(client.getToken());
      await vi.advanceTimersByTimeAsync(point === 'poll' ? 250 : 10);
      if (point === 'set') await advanceUntil(() => store.held('set').length > 0);
      if (point === 'request') expect(endpoint.sent).toHaveLength(1);
      if (hold !== undefined) expect(store.held(hold).length).toBeGreaterThan(0);
      const sentBefore = endpoint.sent.length;
      const ownLocksBefore = new Set(store.locks().values());
      const hooksBefore = refreshed.length;
      client.destroy();
      await flush();
      expect(call.settled).toBe(true);
      expect((call.error as WristbandM2MError).code).toBe('CLIENT_DESTROYED');
      // Let everything it was waiting for land.
      releaseProvider?.();
      for (const held of store.held()) held.release();
      for (const request of endpoint.sent) request.answer({ kind: 'token' });
      await advanceUntil(() => store.inFlight() === 0 && (peerCall === undefined || peerCall.settled), 10_000);
      await vi.advanceTimersByTimeAsync(1_000);
      const peerRequests = point === 'poll' ? 1 : 0;
      expect(endpoint.sent.length - peerRequests).toBeLessThanOrEqual(Math.max(0, sentBefore - peerRequests));
      expect(refreshed.length).toBe(hooksBefore);
      const left = [...store.locks().values()].filter(
        (owner) => point !== 'poll' || !ownLocksBefore.has(owner) || peerCall?.settled,
      );
      expect(left).toEqual([]);
    },
  );
});

describe('deadlines are monotonic', () => {
  it('a wall clock stepped back an hour during a lock wait does not stretch the wait', async () => {
    const endpoint = fakeEndpoint(() => after(10, { kind: 'token' }));
    const store = scriptedStore();
    store.put('placeholder', 'x', 1);
    const a = fleetClient(endpoint, store, { tokenStoreLockWait: 2 });
    // Another process holds the lock for a long time (its TTL is the store's own clock).
    store.script = (op) => (op === 'acquire' ? { kind: 'now' } : { kind: 'now' });
    const realAcquire = store.acquire!.bind(store);
    store.acquire = async () => false;
    const call = track(a.getToken());
    await vi.advanceTimersByTimeAsync(500);
    vi.setSystemTime(Date.now() - 3_600_000);
    const took = await advanceUntil(() => call.settled, 120_000, 100);
    expect(call.value).toBe('tok-1');
    expect(took).toBeLessThan(2_500);
    store.acquire = realAcquire;
  });
});

describe('only the current round updates the state', () => {
  it('a detached refresh that fails after a newer one succeeded leaves the state fresh', async () => {
    const endpoint = fakeEndpoint((n) =>
      n === 1 ? after(1_000, { kind: 'error', status: 400, error: 'invalid_request' }) : after(100, { kind: 'token' }),
    );
    const a = fleetClient(endpoint, undefined);
    const first = track(a.getToken());
    await vi.advanceTimersByTimeAsync(10);
    a.clearToken();
    const second = track(a.getToken());
    await advanceUntil(() => second.settled);
    expect(second.value).toBe('tok-2');
    await advanceUntil(() => first.settled);
    expect(first.error).toBeInstanceOf(WristbandM2MError);
    expect(a.state).toMatchObject({
      status: 'fresh',
      hasValidToken: true,
      lastRefreshError: undefined,
      retryAt: undefined,
    });
  });
});

describe('expiry by either clock', () => {
  it('after a one-hour step back of the wall clock, a one-hour token is not served past its monotonic lifetime', async () => {
    const endpoint = fakeEndpoint(() => ({ kind: 'token', lifetimeS: 3600 }));
    const a = fleetClient(endpoint, undefined, { tokenExpirationBuffer: 60 });
    expect(await a.getToken()).toBe('tok-1');
    vi.setSystemTime(Date.now() - 3_600_000);
    await vi.advanceTimersByTimeAsync(3_600_000 - 5_000);
    const late = track(a.getToken());
    await advanceUntil(() => late.settled);
    expect(late.value).toBe('tok-2');
  });
});

export type { TokenStoreErrorEvent };
