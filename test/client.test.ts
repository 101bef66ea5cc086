import { HttpResponse } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { WristbandM2MError } from '../src/index.js';
import {
  issuingEndpoint,
  oauthError,
  onTokenEndpoint,
  settle,
  testClient,
  tokenResponse,
  useMsw,
} from './support/msw.js';
import { useFakeClocks } from './support/clocks.js';

useMsw();

// No jitter: the refresh instant falls exactly at lifetime - buffer.
useFakeClocks({ random: 0 });

/** The token a call gets once the refresh that the call before it started has landed. */
async function afterRefresh(client: { getToken(): Promise<string> }): Promise<string> {
  await client.getToken();
  await vi.advanceTimersByTimeAsync(0);
  return client.getToken();
}

/** A response that arrives only when the test says so. */
function gate(): { respond: () => Promise<Response>; open: (response: Response) => void } {
  let open!: (response: Response) => void;
  const promise = new Promise<Response>((resolve) => (open = resolve));
  return { respond: () => promise, open };
}

describe('cache', () => {
  it('serves a valid cached token with no request', async () => {
    const log = issuingEndpoint();
    const client = testClient();
    expect(await client.getToken()).toBe('token-1');
    for (let i = 0; i < 100; i++) expect(await client.getToken()).toBe('token-1');
    expect(log.count).toBe(1);
  });

  it('expires at send time + expires_in - buffer', async () => {
    const log = issuingEndpoint(3600);
    const client = testClient({ tokenExpirationBuffer: 120 });
    await client.getToken();
    vi.advanceTimersByTime((3600 - 120) * 1000 - 1);
    expect(await client.getToken()).toBe('token-1');
    expect(log.count).toBe(1);
    vi.advanceTimersByTime(1);
    expect(await afterRefresh(client)).toBe('token-2');
    expect(log.count).toBe(2);
  });

  it('counts the lifetime from when the request was sent, not when it was answered', async () => {
    const slow = gate();
    const log = onTokenEndpoint((n) => (n === 1 ? slow.respond() : tokenResponse(`token-${n}`, 3600)));
    const client = testClient({ tokenExpirationBuffer: 60 });
    const first = client.getToken();
    await vi.advanceTimersByTimeAsync(5_000);
    slow.open(tokenResponse('token-1', 3600));
    await first;
    vi.advanceTimersByTime((3600 - 60 - 5) * 1000 - 1);
    expect(await client.getToken()).toBe('token-1');
    expect(log.count).toBe(1);
    vi.advanceTimersByTime(1);
    expect(await afterRefresh(client)).toBe('token-2');
    expect(log.count).toBe(2);
  });

  it('serves a token that lives no longer than the buffer for half its lifetime', async () => {
    const log = issuingEndpoint(30);
    const client = testClient(); // default buffer: 60 s
    await client.getToken();
    for (let s = 0; s < 14; s++) {
      vi.advanceTimersByTime(1000);
      await client.getToken();
    }
    expect(log.count).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(await afterRefresh(client)).toBe('token-2');
    expect(log.count).toBe(2);
  });

  it('with a zero buffer, serves the token for its full lifetime and then waits for a new one', async () => {
    const log = issuingEndpoint(10);
    const client = testClient({ tokenExpirationBuffer: 0 });
    await client.getToken();
    vi.advanceTimersByTime(10_000 - 1);
    expect(await client.getToken()).toBe('token-1');
    vi.advanceTimersByTime(1);
    expect(await client.getToken()).toBe('token-2');
    expect(log.count).toBe(2);
  });

  it('never resolves an empty or undefined token', async () => {
    onTokenEndpoint(() => HttpResponse.json({ access_token: '', expires_in: 60 }));
    const { value, error } = await settle(testClient().getToken());
    expect(value).toBeUndefined();
    expect(error).toBeInstanceOf(WristbandM2MError);
  });
});

describe('coalescing', () => {
  it('makes exactly one request for 10,000 concurrent callers on a cold cache', async () => {
    const log = issuingEndpoint();
    const client = testClient();
    const tokens = await Promise.all(Array.from({ length: 10_000 }, () => client.getToken()));
    expect(log.count).toBe(1);
    expect(new Set(tokens)).toEqual(new Set(['token-1']));
  });

  it('shares a failure too: 50 callers during a 5xx outage make 3 requests, not 150', async () => {
    const log = onTokenEndpoint(() => oauthError(503));
    const client = testClient();
    const results = Promise.all(Array.from({ length: 50 }, () => settle(client.getToken())));
    await vi.advanceTimersByTimeAsync(1_000);
    const settled = await results;
    expect(log.count).toBe(3);
    const errors = new Set(settled.map((r) => r.error));
    expect(errors.size).toBe(1);
    expect([...errors][0]).toMatchObject({ code: 'TOKEN_ENDPOINT_HTTP_ERROR', status: 503, attempts: 3 });
  });

  it('starts a new request for the next caller after a shared failure', async () => {
    const log = onTokenEndpoint((n) => (n === 1 ? oauthError(400, 'invalid_request') : tokenResponse('recovered')));
    const client = testClient();
    await settle(client.getToken());
    await expect(client.getToken()).resolves.toBe('recovered');
    expect(log.count).toBe(2);
  });
});

describe('per-caller abort', () => {
  it('rejects only the aborted caller, at once, and leaves the shared request running', async () => {
    const slow = gate();
    const log = onTokenEndpoint(slow.respond);
    const client = testClient();
    const controller = new AbortController();
    const aborted = settle(client.getToken({ signal: controller.signal }));
    const others = Promise.all([client.getToken(), client.getToken({ signal: new AbortController().signal })]);
    await vi.advanceTimersByTimeAsync(0);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    const { error } = await aborted;
    expect(error).toBeInstanceOf(WristbandM2MError);
    expect(error).toMatchObject({ code: 'ABORTED', cause: reason });
    slow.open(tokenResponse('shared'));
    await expect(others).resolves.toEqual(['shared', 'shared']);
    expect(log.count).toBe(1);
  });

  it('rejects an already-aborted signal without a request, even with a token cached', async () => {
    const log = issuingEndpoint();
    const client = testClient();
    const signal = AbortSignal.abort();
    await expect(client.getToken({ signal })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(log.count).toBe(0);
    await client.getToken();
    await expect(client.getToken({ signal })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(log.count).toBe(1);
  });

  it('removes its abort listener once the call settles, so a long-lived signal does not accumulate them', async () => {
    issuingEndpoint();
    const client = testClient();
    const controller = new AbortController();
    const add = vi.spyOn(controller.signal, 'addEventListener');
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    await Promise.all(Array.from({ length: 20 }, () => client.getToken({ signal: controller.signal })));
    client.clearToken();
    await client.getToken({ signal: controller.signal });
    expect(add.mock.calls.length).toBeGreaterThan(0);
    expect(remove.mock.calls.length).toBe(add.mock.calls.length);
  });
});

describe('clearToken()', () => {
  it('makes the next call fetch a new token', async () => {
    const log = issuingEndpoint();
    const client = testClient();
    expect(await client.getToken()).toBe('token-1');
    client.clearToken();
    expect(await client.getToken()).toBe('token-2');
    expect(await client.getToken()).toBe('token-2');
    expect(log.count).toBe(2);
  });

  it('detaches a request in flight: its callers keep its result, later callers get a new one, and the old result never overwrites the new', async () => {
    const first = gate();
    const second = gate();
    const log = onTokenEndpoint((n) => (n === 1 ? first.respond() : second.respond()));
    const client = testClient();
    const before = client.getToken();
    await vi.advanceTimersByTimeAsync(0);
    client.clearToken();
    const after = client.getToken();
    await vi.advanceTimersByTimeAsync(0);
    expect(log.count).toBe(2);

    second.open(tokenResponse('new'));
    await expect(after).resolves.toBe('new');
    first.open(tokenResponse('old'));
    await expect(before).resolves.toBe('old');
    expect(await client.getToken()).toBe('new');
    expect(log.count).toBe(2);
  });

  it('is harmless on an empty cache', async () => {
    const log = issuingEndpoint();
    const client = testClient();
    client.clearToken();
    await client.getToken();
    expect(log.count).toBe(1);
  });
});

describe('background refresh', () => {
  it('starts no timer at creation, and one at the first getToken()', async () => {
    issuingEndpoint();
    const client = testClient({ backgroundTokenRefreshInterval: 60 });
    expect(vi.getTimerCount()).toBe(0);
    await client.getToken();
    expect(vi.getTimerCount()).toBe(1);
    await client.getToken();
    client.clearToken();
    await client.getToken();
    expect(vi.getTimerCount()).toBe(1);
  });

  it('replaces the cached token every interval even while it is valid', async () => {
    const log = issuingEndpoint(3600);
    const client = testClient({ backgroundTokenRefreshInterval: 300 });
    expect(await client.getToken()).toBe('token-1');
    await vi.advanceTimersByTimeAsync(299_999);
    expect(log.count).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(log.count).toBe(2);
    expect(await client.getToken()).toBe('token-2');
    await vi.advanceTimersByTimeAsync(300_000);
    expect(await client.getToken()).toBe('token-3');
    expect(log.count).toBe(3);
  });

  it('reports a failed tick, keeps serving the valid token, and keeps the schedule', async () => {
    const log = onTokenEndpoint((n) => (n === 2 ? oauthError(401, 'invalid_client') : tokenResponse(`token-${n}`)));
    const errors: WristbandM2MError[] = [];
    const client = testClient({ backgroundTokenRefreshInterval: 60, onBackgroundRefreshError: (e) => errors.push(e) });
    await client.getToken();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(log.count).toBe(2);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'TOKEN_ENDPOINT_HTTP_ERROR', status: 401 });
    expect(await client.getToken()).toBe('token-1');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(log.count).toBe(3);
    expect(await client.getToken()).toBe('token-3');
  });

  it('swallows a failed tick without a handler, and a handler that throws', async () => {
    onTokenEndpoint((n) => (n <= 2 ? tokenResponse(`token-${n}`) : oauthError(400)));
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const quiet = testClient({ backgroundTokenRefreshInterval: 60 });
      const throwing = testClient({
        backgroundTokenRefreshInterval: 60,
        onBackgroundRefreshError: () => {
          throw new Error('logger broke');
        },
      });
      await quiet.getToken();
      await throwing.getToken();
      await vi.advanceTimersByTimeAsync(180_000);
      await vi.waitFor(() => expect(unhandled).not.toHaveBeenCalled());
      expect(vi.getTimerCount()).toBe(2);
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('skips a tick while a request is already in flight', async () => {
    const slow = gate();
    const log = onTokenEndpoint((n) => (n === 1 ? tokenResponse('token-1', 30) : slow.respond()));
    const client = testClient({ backgroundTokenRefreshInterval: 60 });
    await client.getToken();
    vi.advanceTimersByTime(59_000); // the 30 s token (cached 15 s) is stale now
    const waiting = client.getToken();
    await vi.advanceTimersByTimeAsync(1_000); // the tick fires during that request
    expect(log.count).toBe(2);
    slow.open(tokenResponse('token-2'));
    await expect(waiting).resolves.toBe('token-2');
  });
});

describe('destroy()', () => {
  it('stops the background timer, is idempotent, and is Symbol.dispose', async () => {
    issuingEndpoint();
    const client = testClient({ backgroundTokenRefreshInterval: 60 });
    await client.getToken();
    expect(vi.getTimerCount()).toBe(1);
    client.destroy();
    client.destroy();
    expect(vi.getTimerCount()).toBe(0);
    // Symbol.dispose calls destroy(): a second client is destroyed through it, as `using` would.
    const disposable = testClient({ backgroundTokenRefreshInterval: 60 });
    await disposable.getToken();
    expect(vi.getTimerCount()).toBe(1);
    (disposable as unknown as Record<symbol, () => void>)[Symbol.dispose]?.();
    expect(vi.getTimerCount()).toBe(0);
    await expect(disposable.getToken()).rejects.toMatchObject({ code: 'CLIENT_DESTROYED' });
  });

  it('cancels a request in flight and rejects later calls with CLIENT_DESTROYED, leaving no timer', async () => {
    const log = onTokenEndpoint(() => oauthError(503));
    const client = testClient({ backgroundTokenRefreshInterval: 60 });
    const waiting = settle(client.getToken());
    await vi.advanceTimersByTimeAsync(50); // inside the pause between attempts
    client.destroy();
    expect((await waiting).error).toMatchObject({ code: 'CLIENT_DESTROYED' });
    await expect(client.getToken()).rejects.toMatchObject({ code: 'CLIENT_DESTROYED' });
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(log.count).toBe(1);
  });

  it('drops the cached token', async () => {
    issuingEndpoint();
    const client = testClient();
    await client.getToken();
    client.destroy();
    await expect(client.getToken()).rejects.toMatchObject({ code: 'CLIENT_DESTROYED' });
  });
});

describe('independent instances', () => {
  it('keep separate caches, requests and timers', async () => {
    const log = issuingEndpoint();
    const a = testClient({ backgroundTokenRefreshInterval: 60 });
    const b = testClient();
    const [ta, tb] = await Promise.all([a.getToken(), b.getToken()]);
    expect(ta).not.toBe(tb);
    expect(log.count).toBe(2);
    a.clearToken();
    expect(await b.getToken()).toBe(tb);
    expect(log.count).toBe(2);
    a.destroy();
    expect(await b.getToken()).toBe(tb);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('creation', () => {
  it('does no I/O and touches nothing Workers forbid at module scope', () => {
    const forbidden = ['fetch', 'setTimeout', 'setInterval', 'AbortController', 'crypto'];
    for (const name of forbidden) {
      vi.stubGlobal(name, () => {
        throw new Error(`${name} used at creation`);
      });
    }
    try {
      expect(() => testClient({ backgroundTokenRefreshInterval: 60 })).not.toThrow();
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('the client object', () => {
  it('is frozen and exposes only its methods and read-only state', () => {
    const client = testClient();
    expect(Object.isFrozen(client)).toBe(true);
    // The methods are own properties (they work unbound); state and fetch are shared accessors.
    expect(Object.keys(client).sort()).toEqual(['clearToken', 'destroy', 'getToken']);
    const { getToken, clearToken, destroy } = client;
    expect([getToken, clearToken, destroy].every((method) => typeof method === 'function')).toBe(true);
    expect(typeof client.fetch).toBe('function');
    expect(client.fetch).toBe(client.fetch);
    expect(client.state).toMatchObject({ status: 'unavailable' });
    expect(() => {
      (client as { fetch: unknown }).fetch = () => undefined;
    }).toThrow(TypeError);
  });
});
