// The token lifecycle (issue: no caller waits for a rotation, none fails while a valid token is held): the pure
// policy in src/core/schedule.ts, then the client's behaviour around refreshAt, usableUntil, backoff and Retry-After,
// with fake clocks (Date and performance both, the client reads both).
import { HttpResponse } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TokenRefreshedEvent, TokenRefreshFailedEvent, WristbandM2MError } from '../../src/index.js';
import {
  BACKOFF_CAP_MS,
  backoffMs,
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
  STALE_MARGIN_MS,
  tokenPhase,
  tokenSchedule,
} from '../../src/core/schedule.js';
import {
  issuingEndpoint,
  oauthError,
  onTokenEndpoint,
  settle,
  testClient,
  tokenResponse,
  useMsw,
} from '../support/msw.js';
import { FAKED, useFakeClocks } from '../support/clocks.js';

useMsw();

describe('tokenSchedule()', () => {
  it('refreshes at lifetime - buffer and serves until lifetime - min(buffer, 10 s)', () => {
    expect(tokenSchedule(3600_000, 60_000, 0, 0)).toEqual({ refreshAfterMs: 3540_000, usableForMs: 3590_000 });
    expect(tokenSchedule(3600_000, 5_000, 0, 0)).toEqual({ refreshAfterMs: 3595_000, usableForMs: 3595_000 });
    expect(tokenSchedule(3600_000, 0, 0, 0)).toEqual({ refreshAfterMs: 3600_000, usableForMs: 3600_000 });
  });

  it('refreshes a token that lives no longer than the buffer at half its lifetime, and never serves it past that', () => {
    // usableUntil = 30 s - 10 s = 20 s would be later than half the lifetime; never before refreshAt.
    expect(tokenSchedule(30_000, 60_000, 0, 0)).toEqual({ refreshAfterMs: 15_000, usableForMs: 20_000 });
    expect(tokenSchedule(8_000, 60_000, 0, 0)).toEqual({ refreshAfterMs: 4_000, usableForMs: 4_000 });
  });

  it('moves refreshAt earlier by at most 10% of the time from receipt to it, and never moves usableUntil', () => {
    expect(tokenSchedule(3600_000, 60_000, 0, 1)).toEqual({
      refreshAfterMs: 3540_000 - 354_000,
      usableForMs: 3590_000,
    });
    // A token received 1,000 s after it was sent (from a store): the spread is 10% of the 2,540 s left.
    expect(tokenSchedule(3600_000, 60_000, 1000_000, 1).refreshAfterMs).toBe(3540_000 - 254_000);
    expect(tokenSchedule(3600_000, 60_000, 4000_000, 1).refreshAfterMs).toBe(3540_000);
    expect(STALE_MARGIN_MS).toBe(10_000);
  });

  it('classifies an age as fresh, expiring or unusable', () => {
    const schedule = { refreshAfterMs: 100, usableForMs: 200 };
    expect([0, 99, 100, 199, 200].map((age) => tokenPhase(schedule, age))).toEqual([
      'fresh',
      'fresh',
      'expiring',
      'expiring',
      'unusable',
    ]);
  });
});

describe('backoffMs()', () => {
  it('costs nothing after one failure, then full jitter over 1 s doubling to 30 s', () => {
    expect(backoffMs(0, 1)).toBe(0);
    expect(backoffMs(1, 1)).toBe(0);
    expect([2, 3, 4, 5, 6, 7, 8, 20].map((n) => backoffMs(n, 1))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
    expect(backoffMs(5, 0)).toBe(0);
    expect(backoffMs(5, 0.5)).toBe(4000);
    expect(BACKOFF_CAP_MS).toBe(30_000);
  });
});

describe('parseRetryAfter()', () => {
  const now = Date.UTC(2026, 10, 23, 12, 0, 0);
  it('reads delay-seconds and HTTP dates, capped at 5 minutes', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter(new Date(now + 30_000).toUTCString(), now)).toBe(30_000);
    expect(parseRetryAfter(new Date(now - 30_000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('86400', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(MAX_RETRY_AFTER_MS).toBe(300_000);
  });
  it('ignores what is neither', () => {
    for (const value of [null, '', '1.5', '-3', 'soon', '3 seconds', 'Tue, 99 Foo 2026 GMT']) {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    }
  });
});

describe('the client around refreshAt and usableUntil', () => {
  useFakeClocks({ random: 0 });

  /** An endpoint whose answers the test releases one by one. */
  function heldEndpoint() {
    const waiting: ((response: Response) => void)[] = [];
    const log = onTokenEndpoint(() => new Promise<Response>((resolve) => waiting.push(resolve)));
    return { log, answer: (response: Response) => waiting.shift()?.(response) };
  }

  it('serves the current token at once to every call while one refresh runs, then the new one', async () => {
    const { log, answer } = heldEndpoint();
    const refreshed: TokenRefreshedEvent[] = [];
    const client = testClient({ onTokenRefreshed: (e) => void refreshed.push(e) });
    const first = client.getToken();
    await vi.advanceTimersByTimeAsync(0);
    answer(tokenResponse('old', 3600));
    expect(await first).toBe('old');

    vi.advanceTimersByTime(3540_000);
    const during = await Promise.all(Array.from({ length: 100 }, () => client.getToken()));
    expect(new Set(during)).toEqual(new Set(['old']));
    await vi.advanceTimersByTimeAsync(0);
    expect(log.count).toBe(2);
    expect(client.state.refreshing).toBe(true);
    expect(await client.getToken()).toBe('old');
    answer(tokenResponse('new', 3600));
    await vi.advanceTimersByTimeAsync(0);
    expect(await client.getToken()).toBe('new');
    expect(log.count).toBe(2);
    expect(refreshed.map((e) => e.reason)).toEqual(['initial', 'expiring']);
  });

  it('starts no refresh and reads nothing but the clock before refreshAt', async () => {
    const log = issuingEndpoint(3600);
    const client = testClient();
    await client.getToken();
    vi.advanceTimersByTime(3540_000 - 1);
    for (let i = 0; i < 1000; i++) await client.getToken();
    expect(log.count).toBe(1);
    expect(client.state.refreshing).toBe(false);
  });

  it('keeps serving the token through a failing refresh until usableUntil, reporting each failure but throwing none', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5); // half of each backoff ceiling
    const log = onTokenEndpoint((n) => (n === 1 ? tokenResponse('old', 3600) : oauthError(503)));
    const failed: TokenRefreshFailedEvent[] = [];
    const client = testClient({ onTokenRefreshFailed: (e) => void failed.push(e) });
    await client.getToken();
    vi.advanceTimersByTime(3540_000);
    for (let s = 0; s < 49; s++) {
      expect(await client.getToken()).toBe('old');
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((e) => e.reason === 'expiring' && e.error.status === 503)).toBe(true);
    expect(client.state).toMatchObject({ status: 'degraded', hasValidToken: true, expiresAt: expect.any(Number) });
    // Rounds at 0 and ~0.2 s (one blip is free), then backoffs of 0.5, 1, 2, 4, 8, 15 s: 8 rounds of 3 requests.
    expect(log.count - 1).toBeLessThanOrEqual(3 * 8);
    await vi.advanceTimersByTimeAsync(1000);
    const past = await settle(client.getToken());
    expect(past.error).toMatchObject({ code: 'TOKEN_ENDPOINT_HTTP_ERROR', status: 503 });
    expect(client.state.status).toBe('unavailable');
  });

  it('hands every refresh a call starts to waitUntil, and nothing when the token is fresh', async () => {
    issuingEndpoint(3600);
    const client = testClient();
    const waitUntil = vi.fn();
    await client.getToken({ waitUntil });
    expect(waitUntil).toHaveBeenCalledTimes(1);
    await client.getToken({ waitUntil });
    expect(waitUntil).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(3540_000);
    expect(await client.getToken({ waitUntil })).toBe('token-1');
    expect(waitUntil).toHaveBeenCalledTimes(2);
    await expect(waitUntil.mock.calls[1]?.[0]).resolves.toBe('token-2');
    expect(await client.getToken({ waitUntil })).toBe('token-2');
    expect(waitUntil).toHaveBeenCalledTimes(2);
  });

  it('makes callers wait for a token past usableUntil, and gives them the error when that round fails', async () => {
    const log = onTokenEndpoint((n) => (n === 1 ? tokenResponse('old', 3600) : oauthError(400, 'invalid_request')));
    const client = testClient();
    await client.getToken();
    vi.advanceTimersByTime(3590_000);
    const { error } = await settle(client.getToken());
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_HTTP_ERROR', status: 400 });
    expect(log.count).toBe(2);
  });
});

describe('backoff after failed rounds', () => {
  useFakeClocks({ random: 1 });

  it('tries again at once after one failure, then rejects at once with the last error and retryAfterMs, sending nothing', async () => {
    const log = onTokenEndpoint(() => oauthError(401, 'invalid_client'));
    const client = testClient();
    await settle(client.getToken());
    await settle(client.getToken());
    expect(log.count).toBe(2);
    const results = await Promise.all(Array.from({ length: 100 }, () => settle(client.getToken())));
    expect(log.count).toBe(2);
    for (const { error } of results) {
      expect(error).toMatchObject({
        code: 'TOKEN_ENDPOINT_HTTP_ERROR',
        status: 401,
        error: 'invalid_client',
        retryAfterMs: 1000,
      });
    }
    expect(client.state.retryAt).toBe(Date.now() + 1000);
    vi.advanceTimersByTime(1000);
    await settle(client.getToken());
    expect(log.count).toBe(3);
    // The third failure doubles the wait.
    expect((await settle(client.getToken())).error).toMatchObject({ retryAfterMs: 2000 });
  });

  it('counts network errors and timeouts, is not reset by clearToken(), and is reset by a success', async () => {
    let fail = true;
    const log = onTokenEndpoint(() => (fail ? HttpResponse.error() : tokenResponse('ok', 3600)));
    const client = testClient();
    await settle(client.getToken());
    await settle(client.getToken());
    client.clearToken();
    expect((await settle(client.getToken())).error).toMatchObject({
      code: 'TOKEN_ENDPOINT_UNREACHABLE',
      retryAfterMs: 1000,
    });
    expect(log.count).toBe(2);
    fail = false;
    vi.advanceTimersByTime(1000);
    expect(await client.getToken()).toBe('ok');
    expect(client.state).toMatchObject({ status: 'fresh', retryAt: undefined, lastRefreshError: undefined });
  });

  it('stays under 12 rounds in 60 s of outage with callers asking every 10 ms', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const log = onTokenEndpoint(() => oauthError(400, 'invalid_request'));
    const client = testClient();
    for (let ms = 0; ms < 60_000; ms += 10) {
      await settle(client.getToken());
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(log.count).toBeLessThan(12);
  });
});

describe('Retry-After', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: [...FAKED] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ends the round at a 503 with Retry-After, and starts none before it has passed', async () => {
    const log = onTokenEndpoint((n) =>
      n === 1
        ? HttpResponse.json({ error: 'temporarily_unavailable' }, { status: 503, headers: { 'Retry-After': '7' } })
        : tokenResponse('ok'),
    );
    const client = testClient();
    const { error } = await settle(client.getToken());
    expect(error).toMatchObject({ status: 503, attempts: 1, retryAfterMs: 7000 });
    expect(log.count).toBe(1);
    vi.advanceTimersByTime(6999);
    expect((await settle(client.getToken())).error).toMatchObject({ status: 503, retryAfterMs: 1 });
    expect(log.count).toBe(1);
    vi.advanceTimersByTime(1);
    expect(await client.getToken()).toBe('ok');
  });

  it('honours a 429 with an HTTP date, capped at 5 minutes', async () => {
    const date = new Date(Date.now() + 3600_000).toUTCString();
    onTokenEndpoint(() => HttpResponse.json({ error: 'slow_down' }, { status: 429, headers: { 'Retry-After': date } }));
    const { error } = await settle(testClient().getToken());
    expect((error as WristbandM2MError).retryAfterMs).toBe(300_000);
  });
});

describe('every refresh is bounded', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ends an attempt at tokenRequestTimeout even when the fetch ignores its signal', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    let calls = 0;
    const deaf = (): Promise<Response> => {
      calls++;
      return new Promise<Response>(() => undefined);
    };
    const client = testClient({ fetch: deaf, tokenRequestTimeout: 2 });
    const result = settle(client.getToken());
    await vi.advanceTimersByTimeAsync(2000);
    expect((await result).error).toMatchObject({ code: 'TOKEN_REQUEST_TIMEOUT', attempts: 1 });
    expect(calls).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('gives up a round whose timers and I/O froze, when a call notices it past its longest duration, and moves its callers to the round replacing it', {
    timeout: 15_000,
  }, async () => {
    // Only the clocks are fake: the real timers never fire within the test, as in a Worker whose request ended.
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    const answers: ((response: Response) => void)[] = [];
    const frozen = (): Promise<Response> => new Promise<Response>((resolve) => answers.push(resolve));
    const client = testClient({ fetch: frozen, tokenRequestTimeout: 1 });
    const stuck = settle(client.getToken());
    await Promise.resolve();
    expect(answers).toHaveLength(1);
    vi.advanceTimersByTime(10_000);
    const next = client.getToken();
    await vi.waitFor(() => expect(answers).toHaveLength(2));
    answers[1]?.(tokenResponse('after-the-freeze'));
    expect(await next).toBe('after-the-freeze');
    // The caller stuck on the frozen round moves to its replacement when its own timer fires (a real timer here,
    // armed for the round's longest duration, about 4 s), instead of hanging or failing.
    const stuckOutcome = await stuck;
    expect(stuckOutcome).toEqual({ value: 'after-the-freeze' });
    expect(client.state.lastRefreshError).toBeUndefined();
    // The frozen round waking up late cannot overwrite the newer token.
    answers[0]?.(tokenResponse('late'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(await client.getToken()).toBe('after-the-freeze');
    client.destroy();
  });
});

describe('clocks', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    vi.spyOn(Math, 'random').mockReturnValue(0);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('stops serving a token within a second of its expiry after the wall clock steps back an hour', async () => {
    const log = issuingEndpoint(3600);
    const client = testClient({ tokenExpirationBuffer: 0 });
    await client.getToken();
    vi.setSystemTime(Date.now() - 3600_000);
    vi.advanceTimersByTime(3600_000);
    // The wall clock reads what it read at issue; the monotonic clock says an hour went by. At most a second of
    // wall time passes before a call checks both.
    vi.advanceTimersByTime(1000);
    expect(await client.getToken()).toBe('token-2');
    expect(log.count).toBe(2);
  });

  it('checks both clocks at once when the wall clock steps back behind its last check', async () => {
    const log = issuingEndpoint(3600);
    const client = testClient({ tokenExpirationBuffer: 0 });
    await client.getToken();
    vi.advanceTimersByTime(3600_000 - 10);
    expect(await client.getToken()).toBe('token-1');
    vi.setSystemTime(Date.now() - 3600_000);
    vi.advanceTimersByTime(10);
    expect(await client.getToken()).toBe('token-2');
    expect(log.count).toBe(2);
  });

  it('stops serving a token at once when the wall clock jumps past its expiry (a machine that slept)', async () => {
    const log = issuingEndpoint(3600);
    const client = testClient({ tokenExpirationBuffer: 0 });
    await client.getToken();
    vi.setSystemTime(Date.now() + 7200_000);
    expect(await client.getToken()).toBe('token-2');
    expect(log.count).toBe(2);
  });
});
