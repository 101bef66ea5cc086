// Issue 13: rotating the client secret without downtime. A list of secrets tried in order on a rejected credential,
// a secret provider asked once per round, `secretIndex`, config validation, and a fleet half-way through a rotation
// sharing a memory store. Every request goes to msw; time is faked (setTimeout, Date and performance).
import { HttpResponse } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createMemoryTokenStore,
  type TokenRefreshedEvent,
  type TokenStore,
  type TokenStoreErrorEvent,
  WristbandM2MError,
  type WristbandM2MClientConfig,
} from '../../src/index.js';
import { basicAuthorization } from '../../src/http/token-request.js';
import { CLIENT_ID, oauthError, onTokenEndpoint, settle, testClient, tokenResponse, useMsw } from '../support/msw.js';
import { useFakeClocks } from '../support/clocks.js';
import { synchronousWebCrypto } from '../support/fleet.js';
import { renderings } from '../support/renderings.js';

useMsw();

const OLD = 'old-secret-ROTATION-a1b2c3';
const NEW = 'new-secret-ROTATION-d4e5f6';
const THIRD = 'third-secret-ROTATION-789';
const ALL = [OLD, NEW, THIRD];

useFakeClocks({ random: 0 });
// Store records are sealed with WebCrypto, which answers from a thread pool in real time, out of reach of fake time:
// on a loaded machine the loops below ran fake time past a client's wait for its own write (1 s, the store timeout)
// before the seal was done, so the next client missed the record ('token-4' for 'token-3'), or stopped waiting for a
// request still held up by a key derivation. Synchronous equivalents answer as microtasks: same records, no race.
let restoreCrypto: () => void = () => undefined;
beforeEach(() => void (restoreCrypto = synchronousWebCrypto()));
afterEach(() => restoreCrypto());

/** Which of the test's secrets an Authorization header carries. */
function secretOf(headers: Headers): string | undefined {
  return ALL.find((secret) => headers.get('authorization') === basicAuthorization(CLIENT_ID, secret));
}

/**
 * A token endpoint that accepts the secrets `accepted()` returns at each request and rejects the others with
 * `reject` (a 401 `invalid_client` by default). `sent` lists the secret of every request, in order.
 */
function rotatingEndpoint(
  accepted: () => readonly string[],
  reject: () => Response = () => oauthError(401, 'invalid_client', 'Client authentication failed.'),
) {
  const sent: (string | undefined)[] = [];
  const log = onTokenEndpoint((n) => {
    const secret = secretOf(log.requests[n - 1]!.headers);
    sent.push(secret);
    return secret !== undefined && accepted().includes(secret) ? tokenResponse(`token-${n}`) : reject();
  });
  return { log, sent };
}

/** Records every `onTokenRefreshed` event. */
function refreshedEvents(): { events: TokenRefreshedEvent[]; onTokenRefreshed: (event: TokenRefreshedEvent) => void } {
  const events: TokenRefreshedEvent[] = [];
  return { events, onTokenRefreshed: (event) => void events.push(event) };
}

/** Runs fake time forward in small steps until `promise` settles: a waiter polls the lock every 100 ms. */
async function withTimeRunning<T>(promise: Promise<T>): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let step = 0; !settled && step < 400; step++) await vi.advanceTimersByTimeAsync(25);
  return promise;
}

/** Lets the store writes that go on behind callers land (the sealing, then the store's own promise). */
async function writesLanded(): Promise<void> {
  for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve));
}

function expectNoneOf(value: unknown, secrets: readonly string[]): void {
  const text = renderings(value).join('\n');
  for (const secret of secrets) {
    expect(text).not.toContain(secret);
    expect(text).not.toContain(basicAuthorization(CLIENT_ID, secret).slice('Basic '.length));
  }
}

describe('a list of secrets', () => {
  it('tries the next secret at once, in the same round, when the first is rejected with a 401', async () => {
    const { log, sent } = rotatingEndpoint(() => [NEW]);
    const { events, onTokenRefreshed } = refreshedEvents();
    const client = testClient({ clientSecret: [OLD, NEW], onTokenRefreshed });
    expect(await client.getToken()).toBe('token-2');
    expect(log.count).toBe(2);
    expect(sent).toEqual([OLD, NEW]);
    // No pause between the two: the fallback is not a retry.
    expect(events).toEqual([
      expect.objectContaining({ attempts: 2, secretIndex: 1, source: 'endpoint', durationMs: 0 }),
    ]);
  });

  it('tries the next secret on a 400 whose OAuth error is invalid_client, and on a 403 invalid_client', async () => {
    for (const status of [400, 403]) {
      const { log, sent } = rotatingEndpoint(
        () => [NEW],
        () => oauthError(status, 'invalid_client', 'bad client'),
      );
      const client = testClient({ clientSecret: [OLD, NEW] });
      expect(await client.getToken()).toBe('token-2');
      expect(log.count).toBe(2);
      expect(sent).toEqual([OLD, NEW]);
    }
  });

  it('honours a Retry-After on rejected secrets the same with a list as with one secret', async () => {
    // A 429 whose OAuth error is invalid_client rejects the secret and asks for a pause; a list used to drop the pause
    // when it reworded the error ("all 2 client secrets were rejected"), so the next call asked again at once.
    for (const clientSecret of [OLD, [OLD, NEW]]) {
      const log = onTokenEndpoint(() =>
        HttpResponse.json({ error: 'invalid_client' }, { status: 429, headers: { 'Retry-After': '30' } }),
      );
      const client = testClient({ clientSecret });
      const { error: first } = await settle(client.getToken());
      expect(first).toMatchObject({ code: 'TOKEN_ENDPOINT_HTTP_ERROR', status: 429, retryAfterMs: 30_000 });
      const sent = log.count;
      const { error: second } = await settle(client.getToken());
      expect(second).toMatchObject({ status: 429, attempts: 0 });
      expect(log.count).toBe(sent);
      client.destroy();
    }
  });

  it('starts the next round with the secret that worked, and reports its configured position', async () => {
    let accepted = [NEW];
    const { log, sent } = rotatingEndpoint(() => accepted);
    const { events, onTokenRefreshed } = refreshedEvents();
    const client = testClient({ clientSecret: [OLD, NEW, THIRD], onTokenRefreshed });
    await client.getToken();
    client.clearToken();
    await client.getToken();
    expect(sent).toEqual([OLD, NEW, NEW]);
    expect(events.map((e) => [e.attempts, e.secretIndex])).toEqual([
      [2, 1],
      [1, 1],
    ]);
    // The sticky secret is revoked: the round starts with it, then goes back to the configured order.
    accepted = [THIRD];
    client.clearToken();
    await client.getToken();
    expect(sent).toEqual([OLD, NEW, NEW, NEW, OLD, THIRD]);
    // Position 2 in the list as configured, though it was the third tried in a different order.
    expect(events[2]).toMatchObject({ attempts: 3, secretIndex: 2 });
    expect(log.count).toBe(6);
  });

  it('does not fall back on a 5xx: the same secret 3 times, 100 ms apart, then the round fails', async () => {
    const { log, sent } = rotatingEndpoint(
      () => [],
      () => oauthError(503),
    );
    const client = testClient({ clientSecret: [OLD, NEW] });
    const result = settle(client.getToken());
    await vi.advanceTimersByTimeAsync(199);
    expect(log.count).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    const { error } = await result;
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_HTTP_ERROR', status: 503, attempts: 3 });
    expect(log.count).toBe(3);
    expect(sent).toEqual([OLD, OLD, OLD]);
  });

  it('retries a 5xx with the same secret and succeeds with it', async () => {
    const sent: (string | undefined)[] = [];
    const log = onTokenEndpoint((n) => {
      sent.push(secretOf(log.requests[n - 1]!.headers));
      return n === 1 ? oauthError(502) : tokenResponse('token-2');
    });
    const { events, onTokenRefreshed } = refreshedEvents();
    const result = testClient({ clientSecret: [OLD, NEW], onTokenRefreshed }).getToken();
    await vi.advanceTimersByTimeAsync(100);
    expect(await result).toBe('token-2');
    expect(sent).toEqual([OLD, OLD]);
    expect(events[0]).toMatchObject({ attempts: 2, secretIndex: 0 });
  });

  it('sends at most (secrets - 1) + 3 requests in a round: a rejected secret, then three 5xx', async () => {
    const sent: (string | undefined)[] = [];
    const log = onTokenEndpoint((n) => {
      sent.push(secretOf(log.requests[n - 1]!.headers));
      return n === 1 ? oauthError(401, 'invalid_client') : oauthError(500);
    });
    const result = settle(testClient({ clientSecret: [OLD, NEW] }).getToken());
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await result).error).toMatchObject({ status: 500, attempts: 4 });
    expect(sent).toEqual([OLD, NEW, NEW, NEW]);
  });

  it.each<[string, () => Response | Promise<Response>, Partial<WristbandM2MClientConfig>, object]>([
    [
      'a timeout',
      () => new Promise<Response>(() => undefined),
      { tokenRequestTimeout: 0.5 },
      { code: 'TOKEN_REQUEST_TIMEOUT' },
    ],
    ['a network error', () => HttpResponse.error(), {}, { code: 'TOKEN_ENDPOINT_UNREACHABLE' }],
    ['a 400 invalid_request', () => oauthError(400, 'invalid_request'), {}, { status: 400, error: 'invalid_request' }],
    ['a 403', () => oauthError(403, 'access_denied'), {}, { status: 403, error: 'access_denied' }],
    ['a 403 with no body', () => new HttpResponse(null, { status: 403 }), {}, { status: 403 }],
  ])('does not fall back on %s: one request, and the round fails', async (_case, respond, config, expected) => {
    const log = onTokenEndpoint(respond);
    const result = settle(testClient({ clientSecret: [OLD, NEW], ...config }).getToken());
    await vi.advanceTimersByTimeAsync(1_000);
    const { error } = await result;
    expect(error).toMatchObject({ ...expected, attempts: 1 });
    expect(log.count).toBe(1);
    expect(secretOf(log.requests[0]!.headers)).toBe(OLD);
  });

  it('fails with the last error when every secret is rejected, saying how many were tried and never which', async () => {
    const { log, sent } = rotatingEndpoint(() => []);
    const failed: unknown[] = [];
    const client = testClient({ clientSecret: [OLD, NEW, THIRD], onTokenRefreshFailed: (e) => void failed.push(e) });
    const { error } = await settle(client.getToken());
    expect(error).toBeInstanceOf(WristbandM2MError);
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_HTTP_ERROR',
      status: 401,
      error: 'invalid_client',
      attempts: 3,
    });
    expect((error as Error).message).toMatch(/All 3 client secrets were rejected\.$/);
    expect(log.count).toBe(3);
    expect(sent).toEqual([OLD, NEW, THIRD]);
    expect(failed).toEqual([expect.objectContaining({ attempts: 3 })]);
    for (const value of [error, failed, client.state]) expectNoneOf(value, ALL);
  });

  it('keeps the single-secret message when a one-entry list is rejected', async () => {
    rotatingEndpoint(() => []);
    const { error } = await settle(testClient({ clientSecret: [OLD] }).getToken());
    expect(error).toMatchObject({ status: 401, attempts: 1 });
    expect((error as Error).message).not.toMatch(/client secrets were rejected/);
  });
});

describe('a secret provider', () => {
  it('is never called at creation, once per round, and not while the cached token is fresh', async () => {
    const { log } = rotatingEndpoint(() => [NEW]);
    const provider = vi.fn(() => NEW);
    const client = testClient({ clientSecret: provider });
    expect(provider).not.toHaveBeenCalled();
    const tokens = await Promise.all(Array.from({ length: 50 }, () => client.getToken()));
    expect(new Set(tokens).size).toBe(1);
    await client.getToken();
    expect(provider).toHaveBeenCalledTimes(1);
    client.clearToken();
    await client.getToken();
    expect(provider).toHaveBeenCalledTimes(2);
    expect(log.count).toBe(2);
  });

  it('may return a list, sync or async, used as a list: fallback in the round, the one that worked first after', async () => {
    for (const provider of [() => [OLD, NEW] as const, async () => [OLD, NEW]]) {
      const { sent } = rotatingEndpoint(() => [NEW]);
      const { events, onTokenRefreshed } = refreshedEvents();
      const client = testClient({ clientSecret: provider, onTokenRefreshed });
      await client.getToken();
      client.clearToken();
      await client.getToken();
      expect(sent).toEqual([OLD, NEW, NEW]);
      expect(events.map((e) => e.secretIndex)).toEqual([1, 1]);
    }
  });

  it('reports secretIndex as the position in the list the provider returned', async () => {
    const answers = [
      [OLD, NEW],
      [NEW, OLD],
    ];
    const { sent } = rotatingEndpoint(() => [NEW]);
    const { events, onTokenRefreshed } = refreshedEvents();
    const client = testClient({ clientSecret: () => answers.shift()!, onTokenRefreshed });
    await client.getToken();
    client.clearToken();
    await client.getToken();
    expect(sent).toEqual([OLD, NEW, NEW]);
    expect(events.map((e) => e.secretIndex)).toEqual([1, 0]);
  });

  it('is not remembered beyond the round: a rotated value is used by the next refresh', async () => {
    let current = OLD;
    let accepted = [OLD];
    const { sent } = rotatingEndpoint(() => accepted);
    const client = testClient({ clientSecret: () => current });
    await client.getToken();
    current = NEW;
    accepted = [NEW];
    client.clearToken();
    await client.getToken();
    // One request with the new value: the old one is neither cached nor tried.
    expect(sent).toEqual([OLD, NEW]);
  });

  class SecretsManagerError extends Error {
    override name = 'AccessDeniedException';
  }
  it.each<[string, () => never | Promise<never>, string]>([
    [
      'throws',
      () => {
        throw new SecretsManagerError(`denied reading ${OLD}`);
      },
      'AccessDeniedException',
    ],
    ['rejects', () => Promise.reject(new TypeError(`bad value ${OLD}`)), 'TypeError'],
    ['rejects with a string', () => Promise.reject(`no secret ${OLD}`), 'a string'],
    // Bug fixed: a provider's own WristbandM2MError used to pass through with its code and message.
    [
      'throws a WristbandM2MError',
      () => {
        throw new WristbandM2MError('TOKEN_ENDPOINT_HTTP_ERROR', `vault said ${OLD}`);
      },
      'WristbandM2MError',
    ],
  ])(
    'that %s fails the round with CLIENT_SECRET_UNAVAILABLE, keeping only the error name',
    async (_case, provider, name) => {
      const log = onTokenEndpoint(() => tokenResponse('t'));
      const failed: unknown[] = [];
      const client = testClient({ clientSecret: provider, onTokenRefreshFailed: (e) => void failed.push(e) });
      const { error } = await settle(client.getToken());
      expect(error).toBeInstanceOf(WristbandM2MError);
      expect(error).toMatchObject({ code: 'CLIENT_SECRET_UNAVAILABLE' });
      expect((error as Error).cause).toEqual({ name });
      expect(log.count).toBe(0);
      expect(failed).toEqual([expect.objectContaining({ attempts: 0 })]);
      for (const value of [error, failed, client.state, client]) expectNoneOf(value, [OLD]);
    },
  );

  it('that hangs is given up after tokenRequestTimeout', async () => {
    const log = onTokenEndpoint(() => tokenResponse('t'));
    const client = testClient({ clientSecret: () => new Promise<string>(() => undefined), tokenRequestTimeout: 2 });
    const result = settle(client.getToken());
    await vi.advanceTimersByTimeAsync(1_999);
    expect(client.state.refreshing).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    const { error } = await result;
    expect(error).toMatchObject({ code: 'CLIENT_SECRET_UNAVAILABLE' });
    expect((error as Error).message).toMatch(/within tokenRequestTimeout \(2 s\)/);
    expect(log.count).toBe(0);
  });

  it.each<[string, unknown, RegExp]>([
    ['a number', 42, /not a string or an array of strings \(got a number\)/],
    ['an object', { secret: OLD }, /got an object/],
    ['null', null, /got null/],
    ['an empty list', [], /empty list/],
    ['an empty string', '', /blank/],
    ['a blank entry', [OLD, '  '], /blank entry at index 1/],
    ['a non-string entry', [OLD, 7], /non-string entry at index 1/],
    ['a secret read from a file with its line break', `${NEW}\n`, /has surrounding whitespace .*: trim it/],
    ['an entry with a leading space', [OLD, ` ${NEW}`], /entry at index 1 that has surrounding whitespace/],
  ])(
    'returning %s fails the round with CLIENT_SECRET_UNAVAILABLE and sends nothing',
    async (_case, answer, problem) => {
      const log = onTokenEndpoint(() => tokenResponse('t'));
      const client = testClient({ clientSecret: (() => answer) as () => string });
      const { error } = await settle(client.getToken());
      expect(error).toMatchObject({ code: 'CLIENT_SECRET_UNAVAILABLE' });
      expect((error as Error).message).toMatch(problem);
      expect(log.count).toBe(0);
      expectNoneOf(error, [OLD, NEW]);
    },
  );

  it('returning a duplicate (current equal to previous, between rotations) uses the secret once and gets a token', async () => {
    const { sent } = rotatingEndpoint(() => [NEW]);
    const client = testClient({ clientSecret: () => [NEW, NEW] });
    expect(await client.getToken()).toMatch(/\S/);
    expect(sent).toEqual([NEW]);
    // [OLD, NEW, OLD]: the first of each is kept, in order; OLD is rejected, so NEW is tried next.
    const second = rotatingEndpoint(() => [NEW]);
    client.clearToken();
    const other = testClient({ clientSecret: () => [OLD, NEW, OLD] });
    expect(await other.getToken()).toMatch(/\S/);
    expect(second.sent).toEqual([OLD, NEW]);
  });

  it('is asked again by the next round after a failure', async () => {
    const { log } = rotatingEndpoint(() => [NEW]);
    let calls = 0;
    const client = testClient({
      clientSecret: () => {
        if (++calls === 1) throw new Error('throttled');
        return NEW;
      },
    });
    expect((await settle(client.getToken())).error).toMatchObject({ code: 'CLIENT_SECRET_UNAVAILABLE' });
    expect(await client.getToken()).toBe('token-1');
    expect(calls).toBe(2);
    expect(log.count).toBe(1);
  });
  it('counts its synchronous part against tokenRequestTimeout, as a blocking secrets manager would spend it', async () => {
    const log = onTokenEndpoint(() => tokenResponse('token-1'));
    const provider = (): Promise<string> => {
      vi.advanceTimersByTime(150); // blocking work: the clock moves on while no timer can fire
      return new Promise((resolve) => setTimeout(() => resolve(NEW), 150));
    };
    // 300 ms in all against 200 ms: the timer runs from before the call, so it fires once the loop is free again.
    const result = settle(testClient({ tokenRequestTimeout: 0.2, clientSecret: provider }).getToken());
    await vi.advanceTimersByTimeAsync(150);
    const { error } = await result;
    expect(error).toMatchObject({ code: 'CLIENT_SECRET_UNAVAILABLE' });
    expect((error as Error).message).toContain('did not answer within tokenRequestTimeout');
    expect(log.count).toBe(0);
  });
});

describe('config validation of clientSecret', () => {
  function configError(clientSecret: unknown): WristbandM2MError {
    try {
      testClient({ clientSecret: clientSecret as string });
    } catch (error) {
      expect(error).toBeInstanceOf(WristbandM2MError);
      return error as WristbandM2MError;
    }
    throw new Error('created a client');
  }

  it.each<[string, unknown, RegExp]>([
    ['an empty list', [], /is an empty list/],
    ['a blank entry', [OLD, ' '], /blank entry at index 1/],
    ['an empty entry', ['', OLD], /blank entry at index 0/],
    ['a non-string entry', [OLD, NEW, 3], /non-string entry at index 2/],
    ['a null entry', [null], /non-string entry at index 0/],
    ['a duplicate', [NEW, OLD, NEW], /same secret at index 0 and 2/],
    ['a number', 42, /not a string or an array of strings/],
    ['an object', { primary: OLD }, /not a string or an array of strings/],
    ['a boolean', true, /not a string or an array of strings/],
    ['null', null, /is required/],
    ['a secret with a trailing line break', `${NEW}\n`, /`clientSecret` has surrounding whitespace .*: trim it/],
    ['a secret with a leading space', ` ${NEW}`, /has surrounding whitespace/],
    ['an entry with a trailing tab', [OLD, `${NEW}\t`], /entry at index 1 that has surrounding whitespace/],
  ])('refuses %s as INVALID_CONFIG naming clientSecret, never the value', (_case, value, problem) => {
    const error = configError(value);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toMatch(/`clientSecret`/);
    expect(error.message).toMatch(problem);
    expectNoneOf(error, [OLD, NEW]);
  });

  it("copies the list, so a later change to the caller's array does not change the secrets in use", async () => {
    const { sent } = rotatingEndpoint(() => [NEW]);
    const list = [NEW];
    const client = testClient({ clientSecret: list });
    list[0] = OLD;
    await client.getToken();
    expect(sent).toEqual([NEW]);
  });
});

describe('secretIndex of a token read from the store', () => {
  it('is the position of the secret whose key opened the record', async () => {
    rotatingEndpoint(() => [OLD, NEW]);
    const store = createMemoryTokenStore();
    await testClient({ clientSecret: NEW, tokenStore: store }).getToken();
    for (const [clientSecret, secretIndex] of [
      [[NEW, OLD], 0],
      [[OLD, NEW], 1],
      [[THIRD, OLD, NEW], 2],
    ] as const) {
      const { events, onTokenRefreshed } = refreshedEvents();
      expect(await testClient({ clientSecret, tokenStore: store, onTokenRefreshed }).getToken()).toBe('token-1');
      expect(events).toEqual([expect.objectContaining({ source: 'store', attempts: 0, secretIndex })]);
    }
  });

  it('maps back to the configured position when the sticky secret is tried first', async () => {
    let accepted = [NEW];
    const { log } = rotatingEndpoint(() => accepted);
    const store = createMemoryTokenStore();
    const { events, onTokenRefreshed } = refreshedEvents();
    // OLD is rejected, NEW works: NEW (position 1) is tried first from now on, and its key is read first.
    const client = testClient({ clientSecret: [OLD, NEW], tokenStore: store, onTokenRefreshed });
    await client.getToken();
    expect(events[0]).toMatchObject({ source: 'endpoint', secretIndex: 1 });
    client.clearToken(); // retires token-2 from the store too
    // Another process, holding OLD only, shares a token under OLD's key: second in the order tried, first as configured.
    accepted = [OLD, NEW];
    await withTimeRunning(testClient({ clientSecret: OLD, tokenStore: store }).getToken());
    await writesLanded();
    expect(await withTimeRunning(client.getToken())).toBe('token-3');
    expect(events[1]).toMatchObject({ source: 'store', secretIndex: 0 });
    expect(log.count).toBe(3);
  });
});

describe('a fleet half-way through a rotation, sharing a memory store', () => {
  /** Two processes per stage of the rotation, each its own client, with what they report. */
  function startFleet(store: TokenStore) {
    const holdings: [string, readonly string[]][] = [
      ['old-1', [OLD]],
      ['old-2', [OLD]],
      ['both-1', [NEW, OLD]],
      ['both-2', [NEW, OLD]],
      ['new-1', [NEW]],
      ['new-2', [NEW]],
    ];
    const storeErrors: TokenStoreErrorEvent[] = [];
    return {
      storeErrors,
      processes: Object.fromEntries(
        holdings.map(([name, clientSecret]) => {
          const { events, onTokenRefreshed } = refreshedEvents();
          const client = testClient({
            clientSecret,
            tokenStore: store,
            onTokenRefreshed,
            onTokenStoreError: (event) => void storeErrors.push(event),
          });
          return [name, { client, events }];
        }),
      ),
    };
  }

  it('every process gets tokens; those sharing a secret share records while the others refresh in between', async () => {
    // The dashboard holds both secrets: OLD as primary, NEW added as secondary.
    const { log, sent } = rotatingEndpoint(() => [OLD, NEW]);
    const { processes, storeErrors } = startFleet(createMemoryTokenStore());
    const p = (name: string) => processes[name]!;
    const last = (name: string) => p(name).events.at(-1)!;

    for (let generation = 0; generation < 3; generation++) {
      const before = log.count;
      // Interleaved: each [NEW] or [OLD] process refreshes right after one holding the other secret did.
      const newToken = await withTimeRunning(p('new-1').client.getToken());
      await vi.advanceTimersByTimeAsync(1_000); // so OLD's record is the newer one
      const oldToken = await withTimeRunning(p('old-1').client.getToken());
      expect(await withTimeRunning(p('new-2').client.getToken())).toBe(newToken);
      expect(await withTimeRunning(p('old-2').client.getToken())).toBe(oldToken);
      const bothToken = await withTimeRunning(p('both-1').client.getToken());
      expect(await withTimeRunning(p('both-2').client.getToken())).toBe(bothToken);
      expect(log.count - before).toBe(2);
      expect(sent.slice(before)).toEqual([NEW, OLD]);
      expect(last('new-2')).toMatchObject({ source: 'store', secretIndex: 0 });
      expect(last('old-2')).toMatchObject({ source: 'store', secretIndex: 0 });
      // [NEW, OLD] takes the newest record it can open; OLD's was written last.
      expect(bothToken).toBe(oldToken);
      expect(last('both-1')).toMatchObject({ source: 'store', secretIndex: 1 });
      // Past the tokens' usable life: the next generation misses everywhere.
      await vi.advanceTimersByTimeAsync(3600 * 1000);
    }
    expect(log.count).toBe(6);
    expect(storeErrors).toEqual([]);
  });

  it('all six refreshing at once: one request per secret, through the per-secret locks', async () => {
    const { log } = rotatingEndpoint(() => [OLD, NEW]);
    const { processes, storeErrors } = startFleet(createMemoryTokenStore());
    const clients = Object.values(processes).map((p) => p.client);
    for (let generation = 0; generation < 2; generation++) {
      const before = log.count;
      const tokens = await withTimeRunning(Promise.all(clients.map((client) => client.getToken())));
      expect(tokens.every((token) => typeof token === 'string' && token !== '')).toBe(true);
      expect(log.count - before).toBe(2);
      // Processes holding the same secret hold the same token.
      expect(tokens[0]).toBe(tokens[1]);
      expect(tokens[4]).toBe(tokens[5]);
      expect(tokens[0]).not.toBe(tokens[4]);
      await vi.advanceTimersByTimeAsync(3600 * 1000);
    }
    expect(storeErrors).toEqual([]);
  });

  it('through the whole rotation: [OLD] → [NEW, OLD] → OLD revoked → [NEW], no process without a token', async () => {
    let accepted = [OLD];
    const { log, sent } = rotatingEndpoint(() => accepted);
    const store = createMemoryTokenStore();
    const storeErrors: TokenStoreErrorEvent[] = [];
    const deploy = (clientSecret: readonly string[]) => {
      const { events, onTokenRefreshed } = refreshedEvents();
      const client = testClient({
        clientSecret,
        tokenStore: store,
        onTokenRefreshed,
        onTokenStoreError: (e) => void storeErrors.push(e),
      });
      return { client, events };
    };
    const expire = () => vi.advanceTimersByTimeAsync(3600 * 1000);

    const a = deploy([OLD]);
    await withTimeRunning(a.client.getToken());
    // 1. The secondary secret is added in the dashboard; 2. half the fleet is deployed with [NEW, OLD].
    accepted = [OLD, NEW];
    const b = deploy([NEW, OLD]);
    await withTimeRunning(b.client.getToken());
    expect(b.events.at(-1)).toMatchObject({ source: 'store', secretIndex: 1 }); // OLD's record: rotation unfinished
    await expire();
    await withTimeRunning(b.client.getToken());
    await withTimeRunning(a.client.getToken());
    expect(b.events.at(-1)).toMatchObject({ source: 'endpoint', secretIndex: 0 });
    expect(sent).toEqual([OLD, NEW, OLD]);
    // 3. Every process now holds NEW; the old secret is deleted in the dashboard.
    a.client.destroy();
    accepted = [NEW];
    const c = deploy([NEW]);
    await expire();
    await withTimeRunning(c.client.getToken());
    expect(await withTimeRunning(b.client.getToken())).toBe(await withTimeRunning(c.client.getToken()));
    expect(b.events.at(-1)).toMatchObject({ source: 'store', secretIndex: 0 });
    expect(sent).toEqual([OLD, NEW, OLD, NEW]);
    expect(log.count).toBe(4);
    expect(storeErrors).toEqual([]);
  });

  // Bug fixed: a process holding [NEW, OLD] that last worked with OLD waits on OLD's lock; the [OLD] process holding
  // it is rejected after OLD was revoked and leaves a failure note, which the waiter used to take as its own failure
  // without ever trying NEW.
  it("a waiter holding other secrets does not take another process's rejected credential as its own failure", async () => {
    let accepted = [OLD];
    let release: () => void = () => undefined;
    let gated = false;
    const sent: (string | undefined)[] = [];
    const log = onTokenEndpoint(async (n) => {
      const secret = secretOf(log.requests[n - 1]!.headers);
      sent.push(secret);
      if (gated && secret === OLD) {
        gated = false;
        await new Promise<void>((resolve) => (release = resolve));
      }
      return secret !== undefined && accepted.includes(secret)
        ? tokenResponse(`token-${n}`)
        : oauthError(401, 'invalid_client');
    });
    const store = createMemoryTokenStore();
    const storeErrors: TokenStoreErrorEvent[] = [];
    const { events, onTokenRefreshed } = refreshedEvents();
    const both = testClient({
      clientSecret: [NEW, OLD],
      tokenStore: store,
      onTokenRefreshed,
      onTokenStoreError: (e) => void storeErrors.push(e),
    });
    await both.getToken(); // NEW not added yet in the dashboard: OLD worked and is tried first from now on
    expect(sent).toEqual([NEW, OLD]);
    accepted = [NEW];
    await vi.advanceTimersByTimeAsync(3600 * 1000);

    const oldOnly = testClient({ clientSecret: [OLD], tokenStore: store });
    gated = true;
    const rejected = settle(oldOnly.getToken());
    for (let i = 0; i < 100 && sent.length < 3; i++) await vi.advanceTimersByTimeAsync(1);
    expect(sent).toEqual([NEW, OLD, OLD]); // [OLD] holds OLD's lock, its request in flight
    const recovered = withTimeRunning(both.getToken());
    await vi.advanceTimersByTimeAsync(50); // [NEW, OLD] found the lock held and waits
    release();
    expect((await rejected).error).toMatchObject({ status: 401 });
    expect(await recovered).toBe('token-5');
    expect(sent).toEqual([NEW, OLD, OLD, OLD, NEW]);
    expect(events.at(-1)).toMatchObject({ source: 'endpoint', secretIndex: 0 });
    expect(storeErrors).toEqual([]);
  });

  it('works the same with a plain get/set/delete object as the store', async () => {
    const { log } = rotatingEndpoint(() => [OLD, NEW]);
    const map = new Map<string, string>();
    const plain: TokenStore = {
      get: async (key) => map.get(key),
      set: async (key, value) => void map.set(key, value),
      delete: async (key) => void map.delete(key),
    };
    const { processes, storeErrors } = startFleet(plain);
    for (const name of ['new-1', 'old-1', 'new-2', 'old-2', 'both-1', 'both-2'])
      await processes[name]!.client.getToken();
    expect(log.count).toBe(2);
    expect(map.size).toBe(2); // one record per secret
    for (const value of map.values()) expect(value).not.toMatch(/token-|ROTATION/);
    expect(storeErrors).toEqual([]);
  });
});
