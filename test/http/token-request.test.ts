import { http, HttpResponse } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WristbandM2MError } from '../../src/index.js';
import {
  basicAuthorization,
  formUrlEncode,
  MAX_RESPONSE_BYTES,
  MAX_TOKEN_LIFETIME_SECONDS,
} from '../../src/http/token-request.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  issuingEndpoint,
  mswServer,
  oauthError,
  onTokenEndpoint,
  settle,
  testClient,
  TOKEN_URL,
  tokenResponse,
  useMsw,
} from '../support/msw.js';

useMsw();

async function failure(promise: Promise<unknown>): Promise<WristbandM2MError> {
  const { error } = await settle(promise);
  expect(error).toBeInstanceOf(WristbandM2MError);
  return error as WristbandM2MError;
}

describe('the token request (RFC 6749 §4.4)', () => {
  it('POSTs grant_type=client_credentials as a form with Basic client authentication', async () => {
    const log = issuingEndpoint();
    await testClient().getToken();
    expect(log.count).toBe(1);
    const [request] = log.requests;
    expect(request?.method).toBe('POST');
    expect(request?.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(request?.headers.get('accept')).toBe('application/json');
    expect(request?.body).toBe('grant_type=client_credentials');
    const expected = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
    expect(request?.headers.get('authorization')).toBe(expected);
  });

  it('form-encodes both credentials before base64, so any Unicode secret works (RFC 6749 §2.3.1)', async () => {
    const log = issuingEndpoint();
    await testClient({ clientId: 'svc id+1', clientSecret: 'pä$$ wörd:/&=🔑' }).getToken();
    // Worked out by hand from the application/x-www-form-urlencoded rules: space is +, the rest UTF-8 %XX.
    const encoded = 'svc+id%2B1:p%C3%A4%24%24+w%C3%B6rd%3A%2F%26%3D%F0%9F%94%91';
    expect(log.requests[0]?.headers.get('authorization')).toBe(`Basic ${Buffer.from(encoded).toString('base64')}`);
  });

  it('form-encodes the characters encodeURIComponent leaves alone', () => {
    expect(formUrlEncode("a!'()*~ b")).toBe('a%21%27%28%29*%7E+b');
    expect(basicAuthorization('a:b', 'c')).toBe(`Basic ${btoa('a%3Ab:c')}`);
  });

  it('does not follow a redirect with the credentials', async () => {
    let followed = 0;
    mswServer.use(http.post('https://elsewhere.example/steal', () => (followed++, tokenResponse('stolen'))));
    const log = onTokenEndpoint(
      () => new HttpResponse(null, { status: 307, headers: { Location: 'https://elsewhere.example/steal' } }),
    );
    const error = await failure(testClient().getToken());
    expect(error.code).toBe('TOKEN_ENDPOINT_HTTP_ERROR');
    expect(error.status).toBe(307);
    expect(error.message).toMatch(/redirects are not followed/);
    expect(log.count).toBe(1);
    expect(followed).toBe(0);
  });

  it('looks up globalThis.fetch at request time, so interceptors installed later apply', async () => {
    const client = testClient();
    const seen: string[] = [];
    const original = globalThis.fetch;
    vi.stubGlobal('fetch', (input: string, init: RequestInit) => (seen.push(input), original(input, init)));
    issuingEndpoint();
    await client.getToken();
    vi.unstubAllGlobals();
    expect(seen).toEqual([TOKEN_URL]);
  });

  it('uses config.fetch when given, called without a receiver', async () => {
    const receivers: unknown[] = [];
    const custom = function (this: unknown): Promise<Response> {
      receivers.push(this);
      return Promise.resolve(tokenResponse('from-custom-fetch'));
    };
    await expect(testClient({ fetch: custom }).getToken()).resolves.toBe('from-custom-fetch');
    expect(receivers).toEqual([undefined]);
  });
});

describe('the token response (RFC 6749 §5.1)', () => {
  it.each([['Bearer'], ['bearer'], ['BEARER'], [undefined]])('accepts token_type %s', async (tokenType) => {
    onTokenEndpoint(() => HttpResponse.json({ access_token: 'abc.def-ghi_', expires_in: 300, token_type: tokenType }));
    await expect(testClient().getToken()).resolves.toBe('abc.def-ghi_');
  });

  const text =
    (body: string, contentType = 'application/json') =>
    () =>
      new HttpResponse(body, { headers: { 'Content-Type': contentType } });
  it.each([
    ['an HTML error page', text('<html><body>Bad gateway</body></html>', 'text/html')],
    ['an empty body', text('')],
    ['truncated JSON', text('{"access_token":"abc","expires_in":36')],
    ['a JSON array', text('[{"access_token":"abc","expires_in":3600}]')],
    ['JSON null', text('null')],
    ['a JSON string', text('"abc"')],
    ['no access_token', () => HttpResponse.json({ expires_in: 3600 })],
    ['an empty access_token', () => tokenResponse('')],
    ['a numeric access_token', () => HttpResponse.json({ access_token: 42, expires_in: 3600 })],
    ['an access_token with a line break', () => tokenResponse('abc\r\nX-Injected: 1')],
    ['an access_token with a space', () => tokenResponse('abc def')],
    ['no expires_in', () => HttpResponse.json({ access_token: 'abc', token_type: 'Bearer' })],
    ['expires_in 0', () => tokenResponse('abc', 0)],
    ['a negative expires_in', () => tokenResponse('abc', -60)],
    ['expires_in as a string of digits', () => HttpResponse.json({ access_token: 'abc', expires_in: '3600' })],
    ['expires_in null (what JSON makes of NaN)', () => HttpResponse.json({ access_token: 'abc', expires_in: NaN })],
    ['token_type MAC', () => tokenResponse('abc', 3600, { token_type: 'MAC' })],
    ['token_type DPoP', () => tokenResponse('abc', 3600, { token_type: 'DPoP' })],
    ['a numeric token_type', () => tokenResponse('abc', 3600, { token_type: 1 })],
  ])('rejects %s with INVALID_TOKEN_RESPONSE after one request', async (_case, respond) => {
    const log = onTokenEndpoint(respond);
    const error = await failure(testClient().getToken());
    expect(error.code).toBe('INVALID_TOKEN_RESPONSE');
    expect(error.status).toBe(200);
    expect(error.attempts).toBe(1);
    expect(log.count).toBe(1);
  });

  it('reads at most MAX_RESPONSE_BYTES of a body, even one without a content-length', async () => {
    let pulled = 0;
    const chunk = new Uint8Array(16 * 1024).fill(0x20);
    onTokenEndpoint(
      () =>
        new HttpResponse(
          new ReadableStream({
            pull(controller) {
              pulled += chunk.byteLength;
              controller.enqueue(chunk);
              if (pulled >= 10 * 1024 * 1024) controller.close();
            },
          }),
          { headers: { 'Content-Type': 'application/json' } },
        ),
    );
    const error = await failure(testClient().getToken());
    expect(error.code).toBe('INVALID_TOKEN_RESPONSE');
    expect(error.message).toContain(`larger than ${MAX_RESPONSE_BYTES} bytes`);
    // The stream was cancelled near the cap, not drained to its 10 MB end.
    expect(pulled).toBeLessThan(MAX_RESPONSE_BYTES + 4 * chunk.byteLength);
  });

  it('refuses a body whose content-length is over the cap without reading it', async () => {
    onTokenEndpoint(() => new HttpResponse('x'.repeat(MAX_RESPONSE_BYTES + 1)));
    const error = await failure(testClient().getToken());
    expect(error.message).toContain('larger than');
  });

  it(`clamps an absurd expires_in to ${MAX_TOKEN_LIFETIME_SECONDS} s`, async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    try {
      const log = onTokenEndpoint((n) => tokenResponse(`t${n}`, 1e12));
      const client = testClient({ tokenExpirationBuffer: 0 });
      await client.getToken();
      vi.advanceTimersByTime(MAX_TOKEN_LIFETIME_SECONDS * 1000 - 1);
      await expect(client.getToken()).resolves.toBe('t1');
      vi.advanceTimersByTime(1);
      await expect(client.getToken()).resolves.toBe('t2');
      expect(log.count).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('errors from the endpoint (RFC 6749 §5.2)', () => {
  it.each([
    [400, 'invalid_request', /check the OAuth2 client's settings/],
    [401, 'invalid_client', /check clientId, clientSecret and that/],
    [403, 'access_denied', /check the OAuth2 client's settings/],
    [404, 'not_found', /no token endpoint there/],
    [429, 'slow_down', /too many token requests/],
  ])('fails at once on %i with the OAuth error fields', async (status, code, advice) => {
    const log = onTokenEndpoint(() => oauthError(status, code, `described ${status}`));
    const error = await failure(testClient().getToken());
    expect(log.count).toBe(1);
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_HTTP_ERROR',
      status,
      error: code,
      errorDescription: `described ${status}`,
      attempts: 1,
    });
    expect(error.message).toContain(`answered ${status} (${code}: described ${status}) after 1 attempt;`);
    expect(error.message).toMatch(advice);
  });

  it('keeps status but no OAuth fields when the error body is not OAuth JSON', async () => {
    onTokenEndpoint(() => new HttpResponse('<h1>Forbidden</h1>', { status: 403 }));
    const error = await failure(testClient().getToken());
    expect(error.status).toBe(403);
    expect(error.error).toBeUndefined();
    expect(error.errorDescription).toBeUndefined();
  });

  it('fails at once on a network error, keeping it as cause', async () => {
    const log = onTokenEndpoint(() => HttpResponse.error());
    const error = await failure(testClient().getToken());
    expect(log.count).toBe(1);
    expect(error.code).toBe('TOKEN_ENDPOINT_UNREACHABLE');
    expect(error.attempts).toBe(1);
    expect(error.cause).toBeInstanceOf(TypeError);
  });
});

describe('retries', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('retries a 5xx answer after 100 ms, and succeeds on a later attempt', async () => {
    const log = onTokenEndpoint((n) => (n < 3 ? oauthError(n === 1 ? 503 : 502) : tokenResponse('third-time')));
    const token = testClient().getToken();
    await vi.advanceTimersByTimeAsync(0);
    expect(log.count).toBe(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(log.count).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(log.count).toBe(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(log.count).toBe(3);
    await expect(token).resolves.toBe('third-time');
  });

  it('gives up after 3 attempts in all and says so', async () => {
    const log = onTokenEndpoint(() => oauthError(500, 'server_error', 'down'));
    const result = settle(testClient().getToken());
    await vi.advanceTimersByTimeAsync(1_000);
    const { error } = await result;
    expect(log.count).toBe(3);
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_HTTP_ERROR', status: 500, attempts: 3 });
    expect((error as Error).message).toContain('after 3 attempts');
  });

  it('abandons an attempt after tokenRequestTimeout and does not retry it', async () => {
    const log = onTokenEndpoint(() => new Promise<Response>(() => undefined));
    const result = settle(testClient({ tokenRequestTimeout: 2.5 }).getToken());
    await vi.advanceTimersByTimeAsync(2_499);
    expect(log.count).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const { error } = await result;
    expect(error).toMatchObject({ code: 'TOKEN_REQUEST_TIMEOUT', attempts: 1 });
    expect((error as Error).message).toContain('2.5 s');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(log.count).toBe(1);
  });

  it('counts the timeout over the body too, so a stalled body cannot hang the caller', async () => {
    onTokenEndpoint(
      () =>
        new HttpResponse(
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode('{"access_token":'));
            },
          }),
        ),
    );
    const result = settle(testClient({ tokenRequestTimeout: 1 }).getToken());
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await result).error).toMatchObject({ code: 'TOKEN_REQUEST_TIMEOUT' });
  });

  it('settles within 3 x tokenRequestTimeout + the two pauses, however the attempts fail', async () => {
    // The worst case: two 5xx answers each arriving just before the timeout, then a third attempt that hangs.
    const log = onTokenEndpoint(async (n) => {
      if (n === 3) return new Promise<Response>(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 999));
      return oauthError(503);
    });
    const result = settle(testClient({ tokenRequestTimeout: 1 }).getToken());
    const settled = vi.fn();
    void result.then(settled);
    const settlesAt = 999 + 100 + 999 + 100 + 1000;
    expect(settlesAt).toBeLessThanOrEqual(3 * 1000 + 2 * 100);
    await vi.advanceTimersByTimeAsync(settlesAt - 1);
    expect(settled).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toHaveBeenCalled();
    expect((await result).error).toMatchObject({ code: 'TOKEN_REQUEST_TIMEOUT', attempts: 3 });
    expect(log.count).toBe(3);
  });

  it('rejects a token that expired before its answer arrived, rather than hand out a sure 401', async () => {
    onTokenEndpoint(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      return tokenResponse('dead-on-arrival', 5);
    });
    const result = settle(testClient({ tokenRequestTimeout: 30 }).getToken());
    await vi.advanceTimersByTimeAsync(5_000);
    const { error, value } = await result;
    expect(value).toBeUndefined();
    expect(error).toMatchObject({ code: 'INVALID_TOKEN_RESPONSE', attempts: 1 });
    expect((error as Error).message).toMatch(/expired in transit: check the system clock/);
  });

  it('leaves no timer behind after a request, whatever its outcome', async () => {
    onTokenEndpoint((n) => (n === 1 ? oauthError(503) : tokenResponse('ok')));
    await Promise.all([testClient().getToken(), vi.advanceTimersByTimeAsync(100)]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('cancelling an attempt', () => {
  it('has aborted the signal of the fetch in flight by the time destroy() returns', async () => {
    let seen: AbortSignal | undefined;
    const client = testClient({
      fetch: (_input, init) => {
        seen = init?.signal ?? undefined;
        return new Promise<Response>(() => undefined); // a fetch that only its signal can stop
      },
    });
    const result = client.getToken();
    result.catch(() => undefined);
    for (let turn = 0; turn < 50 && seen === undefined; turn++) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(seen?.aborted).toBe(false);
    client.destroy();
    // Synchronously: a fetch implementation that checks its signal (or a socket pool) lets go at once.
    expect(seen?.aborted).toBe(true);
    expect((await failure(result)).code).toBe('CLIENT_DESTROYED');
  });
});
