// The client at its edges: each test reproduces a defect once found by a hostile reading of the client (it failed
// before the fix in src/). Fake timers always fake Date and performance; a process 'unhandledRejection' listener
// fails the file if anything rejects unhandled.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { createWristbandM2MClient, type WristbandM2MClient, type WristbandM2MClientConfig } from '../src/index.js';
import { FAKED } from './support/clocks.js';
import { synchronousWebCrypto } from './support/fleet.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  await new Promise((resolve) => setImmediate(resolve));
  expect(unhandled).toEqual([]);
});

const clients: WristbandM2MClient[] = [];
function makeClient(overrides: Partial<WristbandM2MClientConfig>): WristbandM2MClient {
  const client = createWristbandM2MClient({
    clientId: 'review-client-id',
    clientSecret: 'review-client-secret',
    wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
    ...overrides,
  });
  clients.push(client);
  return client;
}
afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function tokenResponse(token: string, expiresIn = 3600): Response {
  return new Response(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: expiresIn }), {
    status: 200,
    headers: { 'content-type': 'application/json' },
  });
}

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

/** Lets queued promise jobs (several hops deep) run, with no timer firing. */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/**
 * Fakes every timer and both clocks for each test of the calling `describe` block, and pins `Math.random` (the
 * refresh jitter, the backoff's share) when `random` is given; the file's afterEach restores both.
 */
function fakeEveryClock(random?: number): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: [...FAKED] });
    if (random !== undefined) vi.spyOn(Math, 'random').mockReturnValue(random);
  });
}

describe('a secret provider and destroy()', () => {
  fakeEveryClock();

  it('leaves no timer behind when destroyed while a secret provider hangs', async () => {
    const client = makeClient({
      clientSecret: () => new Promise<string>(() => undefined),
      fetch: async () => tokenResponse('t'),
    });
    const pending = settle(client.getToken());
    await flush();
    client.destroy();
    expect((await pending).error).toMatchObject({ code: 'CLIENT_DESTROYED' });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('a round whose timers froze', () => {
  it('gives up a wedged round detached by clearToken(), so its callers do not hang', { timeout: 15_000 }, async () => {
    // Only the clocks are fake: the real timers never fire within the test, as in a Worker whose request ended.
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    const answers: ((response: Response) => void)[] = [];
    const client = makeClient({
      fetch: () => new Promise<Response>((resolve) => answers.push(resolve)),
      tokenRequestTimeout: 1,
    });
    const before = settle(client.getToken());
    await flush();
    client.clearToken();
    const after = settle(client.getToken());
    await flush();
    expect(answers).toHaveLength(2);
    vi.advanceTimersByTime(10_000);
    const next = client.getToken();
    await flush();
    // Both wedged rounds are given up; their callers, the detached round's included, wait on the one replacing them.
    await vi.waitFor(() => expect(answers).toHaveLength(3));
    answers[2]?.(tokenResponse('fresh'));
    expect(await next).toBe('fresh');
    // Their callers, the detached round's included, move to the replacing round when their own (real) timers fire.
    expect(await after).toEqual({ value: 'fresh' });
    expect(await before).toEqual({ value: 'fresh' });
  });
});

/** A fetch whose answers the test scripts: each call takes the next handler (the last one repeats). */
function scripted(...handlers: ((n: number) => Response | Promise<Response>)[]): {
  fetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  count: () => number;
} {
  let n = 0;
  return {
    fetch: async () => {
      n++;
      return (handlers[Math.min(n, handlers.length) - 1] as (n: number) => Response | Promise<Response>)(n);
    },
    count: () => n,
  };
}

/** An AbortSignal that counts its live abort listeners. */
function countingSignal(): { controller: AbortController; signal: AbortSignal; live: () => number } {
  const controller = new AbortController();
  const signal = controller.signal;
  let live = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  const listeners = new Set<unknown>();
  signal.addEventListener = ((type: string, listener: EventListener, options?: AddEventListenerOptions) => {
    if (type === 'abort' && !listeners.has(listener)) {
      listeners.add(listener);
      live++;
      const wrapped = listener;
      add(
        type,
        () => {
          if (listeners.delete(wrapped)) live--;
        },
        { once: true },
      );
    }
    add(type, listener, options);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, listener: EventListener, options?: EventListenerOptions) => {
    if (type === 'abort' && listeners.delete(listener)) live--;
    remove(type, listener, options);
  }) as typeof signal.removeEventListener;
  return { controller, signal, live: () => live };
}

describe('outages, backoff and abort listeners', () => {
  fakeEveryClock(0.5);

  it('rides an outage through the expiring window, then backs off without sending', async () => {
    const failed: string[] = [];
    const endpoint = scripted(
      () => tokenResponse('t1', 3600),
      () => new Response('down', { status: 500 }),
      () => new Response('down', { status: 500 }),
      () => new Response('down', { status: 500 }),
      () => new Response('down', { status: 503, headers: { 'retry-after': '60' } }),
    );
    const client = makeClient({ fetch: endpoint.fetch, onTokenRefreshFailed: (e) => failed.push(e.reason) });
    expect(await client.getToken()).toBe('t1');
    vi.advanceTimersByTime(3540_000); // refreshAt (buffer 60 s)
    expect(await client.getToken()).toBe('t1');
    await vi.advanceTimersByTimeAsync(300); // 3 attempts, 100 ms apart
    expect(failed).toEqual(['expiring']);
    expect(client.state).toMatchObject({ status: 'degraded', hasValidToken: true, retryAt: undefined });
    expect(await client.getToken()).toBe('t1');
    await vi.advanceTimersByTimeAsync(300);
    expect(failed).toEqual(['expiring', 'expiring']); // the second one: a 503 with Retry-After: 60
    const state = client.state;
    expect(state.status).toBe('degraded');
    expect(state.retryAt).toBeGreaterThan(Date.now());
    const sent = endpoint.count();
    expect(await client.getToken()).toBe('t1');
    expect(endpoint.count()).toBe(sent);
    // Past usableUntil (expiry - 10 s), still backing off: rejects at once with retryAfterMs and sends nothing.
    vi.advanceTimersByTime(50_000);
    const result = await settle(client.getToken());
    expect(result.error).toMatchObject({ status: 503, attempts: 0, retryAfterMs: expect.any(Number) });
    expect(endpoint.count()).toBe(sent);
    expect(client.state.hasValidToken).toBe(false);
    expect(client.state.status).toBe('unavailable');
  });

  it('honours Retry-After for rounds and background ticks', async () => {
    const endpoint = scripted(
      () => new Response('slow down', { status: 429, headers: { 'retry-after': '120' } }),
      () => tokenResponse('t2'),
    );
    const client = makeClient({ fetch: endpoint.fetch, backgroundTokenRefreshInterval: 60 });
    expect((await settle(client.getToken())).error).toMatchObject({ status: 429, retryAfterMs: 120_000 });
    const again = await settle(client.getToken());
    expect(again.error).toMatchObject({ retryAfterMs: 120_000 });
    await vi.advanceTimersByTimeAsync(60_000); // a background tick inside the Retry-After
    expect(endpoint.count()).toBe(1);
    expect(client.state.retryAt).toBe(Date.now() + 60_000);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(await client.getToken()).toBe('t2');
  });

  it('adds one abort listener per distinct signal per round, and removes them all', async () => {
    let open!: (response: Response) => void;
    const client = makeClient({ fetch: () => new Promise<Response>((resolve) => (open = resolve)) });
    const shared = Array.from({ length: 10 }, countingSignal);
    const distinct = Array.from({ length: 100 }, countingSignal);
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++)
      calls.push(settle(client.getToken({ signal: (shared[i % 10] as { signal: AbortSignal }).signal })));
    for (const s of distinct) calls.push(settle(client.getToken({ signal: s.signal })));
    for (const s of shared) expect(s.live()).toBe(1);
    for (const s of distinct) expect(s.live()).toBe(1);
    distinct[0]?.controller.abort();
    await flush();
    open(tokenResponse('t'));
    await Promise.all(calls);
    await flush();
    for (const s of [...shared, ...distinct]) expect(s.live()).toBe(0);
  });
});

describe('destroy() with a store', () => {
  fakeEveryClock();

  it('leaves no lock and calls no hook once destroyed mid-request', async () => {
    const { createMemoryTokenStore } = await import('../src/index.js');
    const memory = createMemoryTokenStore();
    const keys: string[] = [];
    const store = {
      ...memory,
      acquire: async (key: string, ttl: number, owner: string) => {
        keys.push(key);
        return memory.acquire!(key, ttl, owner);
      },
    };
    const hooks: string[] = [];
    let sent = 0;
    const client = makeClient({
      tokenStore: store,
      fetch: () => {
        sent++;
        return new Promise<Response>(() => undefined);
      },
      onTokenRefreshed: () => hooks.push('refreshed'),
      onTokenRefreshFailed: () => hooks.push('failed'),
      onTokenStoreError: () => hooks.push('store'),
    });
    const pending = settle(client.getToken());
    await vi.waitFor(() => expect(sent).toBe(1));
    client.destroy();
    expect((await pending).error).toMatchObject({ code: 'CLIENT_DESTROYED' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(await store.get(`${keys[0]}`)).toBeUndefined();
    expect(hooks).toEqual([]);
    expect(sent).toBe(1);
  });

  it('takes no store lock once destroyed while waiting on another holder', async () => {
    const { createMemoryTokenStore } = await import('../src/index.js');
    const memory = createMemoryTokenStore();
    let acquires = 0;
    let destroyedAt: number | undefined;
    const lateAcquires: number[] = [];
    const store = {
      ...memory,
      acquire: async (key: string, ttl: number, owner: string) => {
        acquires++;
        if (destroyedAt !== undefined) lateAcquires.push(acquires);
        return acquires === 1 ? false : memory.acquire!(key, ttl, owner);
      },
      // The poll's read is where destroy() lands.
      get: async (key: string) => {
        if (acquires >= 1 && destroyedAt === undefined && !key.endsWith(':failed')) {
          destroyedAt = Date.now();
          client.destroy();
        }
        return memory.get(key);
      },
    };
    const client: WristbandM2MClient = makeClient({ tokenStore: store, fetch: async () => tokenResponse('t') });
    const pending = settle(client.getToken());
    // The store's keys come from WebCrypto, which settles on its own time: step the fake clock until the poll ran.
    const realStart = process.hrtime.bigint();
    while (destroyedAt === undefined && process.hrtime.bigint() - realStart < 5_000_000_000n) {
      await vi.advanceTimersByTimeAsync(10);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(destroyedAt).toBeDefined();
    expect((await pending).error).toMatchObject({ code: 'CLIENT_DESTROYED' });
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(lateAcquires).toEqual([]);
  });
});

describe('waitUntil, clock steps and other edges', () => {
  fakeEveryClock();

  it('returns a promise, never throws, when the waitUntil given throws (an unbound ctx.waitUntil), and rejects naming the fix', async () => {
    const endpoint = scripted((n) => tokenResponse(`t${n}`, 3600));
    const client = makeClient({ fetch: endpoint.fetch });
    const waitUntil = (): void => {
      throw new TypeError('Illegal invocation');
    };
    let first: Promise<string> | undefined;
    expect(() => {
      first = client.getToken({ waitUntil });
    }).not.toThrow();
    const { error } = await settle(first as Promise<string>);
    expect(error).toMatchObject({ code: 'INVALID_CONFIG', cause: { name: 'TypeError' } });
    expect((error as Error).message).toMatch(/waitUntil: ctx.*ctx\.waitUntil\.bind\(ctx\)/);
    // The round it started ran anyway: the next call (passing the context itself) gets its token.
    const ctx = { waitUntil: vi.fn() };
    expect(await client.getToken({ waitUntil: ctx })).toBe('t1');
    expect(endpoint.count()).toBe(1);
    vi.advanceTimersByTime(3_545_000); // expiring: the refresh ahead is handed to the context, bound
    expect(await client.getToken({ waitUntil: ctx })).toBe('t1');
    expect(ctx.waitUntil).toHaveBeenCalledTimes(1);
    expect(ctx.waitUntil.mock.contexts[0]).toBe(ctx);
    let second: Promise<string> | undefined;
    expect(() => {
      second = client.getToken({ waitUntil: 42 as never });
    }).not.toThrow();
    expect((await settle(second as Promise<string>)).error).toMatchObject({ code: 'INVALID_CONFIG' });
  });

  it('returns a promise whatever a waitUntil does to the client: clearToken() or destroy() from inside it', async () => {
    const endpoint = scripted((n) => tokenResponse(`t${n}`, 3600));
    const clearing = makeClient({ fetch: endpoint.fetch });
    const fromClear = clearing.getToken({ waitUntil: () => clearing.clearToken() });
    expect(fromClear).toBeInstanceOf(Promise);
    expect(await fromClear).toBe('t1');
    const destroying = makeClient({ fetch: endpoint.fetch });
    const fromDestroy = destroying.getToken({ waitUntil: () => destroying.destroy() });
    expect(fromDestroy).toBeInstanceOf(Promise);
    expect((await settle(fromDestroy)).error).toMatchObject({ code: 'CLIENT_DESTROYED' });
    // The same at a refresh ahead of expiry: the cached token is served, as a promise.
    const ahead = makeClient({ fetch: endpoint.fetch });
    await ahead.getToken();
    vi.advanceTimersByTime(3_545_000);
    const served = ahead.getToken({ waitUntil: () => ahead.destroy() });
    expect(served).toBeInstanceOf(Promise);
    await settle(served);
  });

  it('does not refresh at once a token whose answer came after the wall clock was stepped back', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    let open!: (response: Response) => void;
    const endpoint = scripted(
      () => new Promise<Response>((resolve) => (open = resolve)),
      () => tokenResponse('t2'),
    );
    const client = makeClient({ fetch: endpoint.fetch });
    const first = client.getToken();
    await flush();
    vi.setSystemTime(Date.now() - 2 * 24 * 3600_000); // NTP steps the wall clock back two days mid-request
    open(tokenResponse('t1', 3600));
    expect(await first).toBe('t1');
    vi.advanceTimersByTime(1_000);
    expect(await client.getToken()).toBe('t1');
    await flush();
    expect(endpoint.count()).toBe(1);
    expect(client.state.status).toBe('fresh');
  });
});

describe('state and hooks around clocks and destroy()', () => {
  fakeEveryClock(0);

  it('reports expiresAt and refreshAt as the instants the token is actually dropped, after the wall clock stepped back', async () => {
    const client = makeClient({ fetch: scripted((n) => tokenResponse(`t${n}`, 3600)).fetch });
    await client.getToken();
    const before = client.state;
    vi.setSystemTime(Date.now() - 3600_000); // the wall clock steps back an hour; the monotonic clock does not
    const after = client.state;
    // The token is still dropped 3590 s after it was sent by the monotonic clock: the snapshot must say so in the
    // wall clock's new frame, not an hour later.
    expect(after.expiresAt).toBe((before.expiresAt as number) - 3600_000);
    expect(after.refreshAt).toBe((before.refreshAt as number) - 3600_000);
    vi.advanceTimersByTime(3590_000);
    expect(client.state.hasValidToken).toBe(false);
    expect(after.expiresAt).toBeLessThanOrEqual(Date.now());
  });

  it('calls no onBackgroundRefreshError once onTokenRefreshFailed destroyed the client', async () => {
    const calls: string[] = [];
    const client: WristbandM2MClient = makeClient({
      fetch: scripted(
        () => tokenResponse('t1'),
        () => new Response('{"error":"invalid_request"}', { status: 400 }),
      ).fetch,
      backgroundTokenRefreshInterval: 60,
      onTokenRefreshFailed: () => {
        calls.push('failed');
        client.destroy();
      },
      onBackgroundRefreshError: () => calls.push('background'),
    });
    await client.getToken();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toEqual(['failed']);
  });

  it('calls no onTokenStoreError once destroyed, when the lock release it started fails', async () => {
    const { createMemoryTokenStore } = await import('../src/index.js');
    const memory = createMemoryTokenStore();
    const store = { ...memory, deleteIfEquals: async () => Promise.reject(new Error('connection closed')) };
    const storeErrors: string[] = [];
    let sent = 0;
    const client = makeClient({
      tokenStore: store,
      fetch: () => {
        sent++;
        return new Promise<Response>(() => undefined);
      },
      onTokenStoreError: ({ operation }) => storeErrors.push(operation),
    });
    const pending = settle(client.getToken());
    const realStart = process.hrtime.bigint();
    while (sent === 0 && process.hrtime.bigint() - realStart < 5_000_000_000n) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(sent).toBe(1);
    client.destroy();
    await pending;
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(storeErrors).toEqual([]);
  });
});

describe('the store lock and write around clearToken()', () => {
  fakeEveryClock();

  it('lets the store lock go at clearToken() while the retired token is still being written', async () => {
    // Records sealed with synchronous equivalents of WebCrypto: the real one answers from a thread pool in real time,
    // which the loops below would have to outwait (flaky on a loaded machine).
    const restoreCrypto = synchronousWebCrypto();
    onTestFinished(restoreCrypto);
    const { createMemoryTokenStore } = await import('../src/index.js');
    const memory = createMemoryTokenStore();
    let sets = 0;
    // The first write (of t1) hangs until the store timeout gives it up; later writes land at once.
    const store = {
      ...memory,
      set: (key: string, value: string, ttl: number) =>
        ++sets === 1 ? new Promise<void>(() => undefined) : memory.set(key, value, ttl),
    };
    const { fetch } = scripted((n) => tokenResponse(`t${n}`, 3600));
    const client = makeClient({ tokenStore: store, tokenStoreTimeout: 10, fetch });
    let first = '';
    client.getToken().then(
      (token) => {
        first = token;
      },
      () => undefined,
    );
    // t1 is in the cache (served to new callers at once) while its write hangs.
    // (WebCrypto derives the store key on real threads: wait in real time, no fake timer firing.)
    const realStart = process.hrtime.bigint();
    while (!client.state.hasValidToken && process.hrtime.bigint() - realStart < 5_000_000_000n) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    const t1 = await client.getToken();
    expect(t1).toBe('t1');
    expect(first).toBe('');
    client.clearToken(t1);
    let second: { value?: string; error?: unknown } | undefined;
    void settle(client.getToken()).then((outcome) => {
      second = outcome;
    });
    // 500 ms of fake time, 10 ms at a time, each step also given real time for WebCrypto.
    for (let i = 0; i < 50 && second === undefined; i++) {
      await vi.advanceTimersByTimeAsync(10);
      for (let j = 0; j < 5; j++) await new Promise((resolve) => setImmediate(resolve));
    }
    // The lock went with the retired token: the next round fetches at once rather than wait on this client's own
    // lock until the hung write gives up (10 s).
    expect(second).toEqual({ value: 't2' });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(first).toBe('t1');
  });

  it('serves no token past its usable life when the wall clock steps back less than the hot window ran', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0); // no jitter: the token is refreshed and dropped at 60 s
    const { fetch, count } = scripted((n) => tokenResponse(`t${n}`, 60));
    const client = makeClient({ tokenExpirationBuffer: 0, fetch });
    expect(await client.getToken()).toBe('t1');
    vi.advanceTimersByTime(59_500); // both clocks
    expect(await client.getToken()).toBe('t1'); // a full check: fresh, the hot window is [59.5 s, 60 s) wall time
    vi.advanceTimersByTime(400);
    vi.setSystemTime(Date.now() - 400); // the wall clock steps back 400 ms, still inside the window
    vi.advanceTimersByTime(400); // 60.3 s by the monotonic clock: t1 is past its life
    // The hot path must not take the wall clock's word for it: a new token, not t1.
    expect(await client.getToken()).toBe('t2');
    expect(count()).toBe(2);
  });

  it('disposes through Symbol.dispose called unbound, as a signal handler or DisposableStack would call it', async () => {
    const { fetch, count } = scripted((n) => tokenResponse(`t${n}`));
    const client = makeClient({ fetch });
    const dispose = (client as unknown as Record<symbol, () => void>)[Symbol.dispose] as () => void;
    expect(dispose).toBe(client.destroy); // as the README says: the same function
    const events = new EventTarget();
    events.addEventListener('shutdown', dispose); // `this` is the EventTarget
    events.dispatchEvent(new Event('shutdown'));
    expect(() => dispose()).not.toThrow();
    await expect(client.getToken()).rejects.toMatchObject({ code: 'CLIENT_DESTROYED' });
    expect(count()).toBe(0);
  });

  it("lets no one redefine a client's state, fetch or dispose for every client through the shared prototype", async () => {
    const { fetch } = scripted((n) => tokenResponse(`t${n}`));
    const victim = makeClient({ fetch });
    const other = makeClient({ fetch });
    const prototype = Object.getPrototypeOf(other) as object;
    expect(() =>
      Object.defineProperty(prototype, 'fetch', {
        get() {
          return () => Promise.reject(new Error('intercepted'));
        },
      }),
    ).toThrow(TypeError);
    expect(Object.isFrozen(prototype)).toBe(true);
    expect(Object.getOwnPropertyDescriptor(Object.getPrototypeOf(victim), 'fetch')?.get).toBeTypeOf('function');
  });

  it('hands callers waiting on a slow store write a token the client itself still serves', async () => {
    // A 10 s token answered after 1 s: with the default 60 s buffer it is refreshed from 5 s (less jitter) and not
    // served at all from 5 s on.
    const { outcome, servedThen } = await firstTokenBehindHangingWrite(
      () => new Promise<Response>((resolve) => setTimeout(() => resolve(tokenResponse('t1', 10)), 1_000)),
      1_000,
    );
    expect(outcome).toEqual({ value: 't1' });
    // Waiting half the token's real remaining life (4.5 s) handed it out 5.5 s old: past the instant the client
    // stops serving it.
    expect(servedThen).toBe(true);
  });

  it('bounds the wait on a slow store write by both clocks, when the wall clock stepped back mid-request', async () => {
    // A 10 s token (served until 5 s with the default buffer) answered after 1 s, the wall clock stepped back an
    // hour meanwhile: by the wall clock it looks an hour younger than it is.
    const { outcome, servedThen } = await firstTokenBehindHangingWrite(
      () =>
        new Promise<Response>((resolve) =>
          setTimeout(() => {
            vi.setSystemTime(Date.now() - 3600_000);
            resolve(tokenResponse('t1', 10));
          }, 1_000),
        ),
      1_500,
    );
    expect(outcome).toEqual({ value: 't1' });
    expect(servedThen).toBe(true);
  });
});

/**
 * The first getToken() of a client whose store write hangs until its 10 s store timeout, with fake time run 10 ms at
 * a time (each step also given real time for WebCrypto) for at most `steps` steps: how it settled, and whether the
 * client itself still served a token at that moment.
 */
async function firstTokenBehindHangingWrite(
  fetch: () => Promise<Response>,
  steps: number,
): Promise<{ outcome: { value?: string; error?: unknown } | undefined; servedThen: boolean | undefined }> {
  const { createMemoryTokenStore } = await import('../src/index.js');
  const store = { ...createMemoryTokenStore(), set: () => new Promise<void>(() => undefined) };
  const client = makeClient({ tokenStore: store, tokenStoreTimeout: 10, fetch });
  let outcome: { value?: string; error?: unknown } | undefined;
  let servedThen: boolean | undefined;
  void settle(client.getToken()).then((result) => {
    outcome = result;
    servedThen = client.state.hasValidToken;
  });
  for (let i = 0; i < steps && outcome === undefined; i++) {
    await vi.advanceTimersByTimeAsync(10);
    for (let j = 0; j < 3; j++) await new Promise((resolve) => setImmediate(resolve));
  }
  return { outcome, servedThen };
}
