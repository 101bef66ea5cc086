// The test kit's in-memory token endpoint (src/testing/endpoint.ts): what it answers, what it records, and the
// scripts a user's tests rely on, met both directly and through the client it is made for.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createWristbandM2MClient, type WristbandM2MClient, WristbandM2MError } from '../../src/index.js';
import { createTestTokenEndpoint, type TestTokenEndpoint } from '../../src/testing/index.js';
import { FAKED } from '../support/clocks.js';

const clients: WristbandM2MClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
  vi.useRealTimers();
});

function clientOf(
  endpoint: TestTokenEndpoint,
  overrides: Partial<Parameters<typeof createWristbandM2MClient>[0]> = {},
): WristbandM2MClient {
  const client = createWristbandM2MClient({
    clientId: endpoint.clientId,
    clientSecret: endpoint.clientSecret,
    wristbandApplicationVanityDomain: endpoint.vanityDomain,
    fetch: endpoint.fetch,
    ...overrides,
  });
  clients.push(client);
  return client;
}

const basic = (raw: string) => `Basic ${btoa(raw)}`;
function tokenRequest(endpoint: TestTokenEndpoint, authorization?: string, body = 'grant_type=client_credentials') {
  return endpoint.fetch(endpoint.tokenEndpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      ...(authorization === undefined ? {} : { Authorization: authorization }),
    },
    body,
  });
}

describe('createTestTokenEndpoint', () => {
  it('has the names the client takes, and a reserved default domain that never reaches a real server', () => {
    const endpoint = createTestTokenEndpoint();
    expect(endpoint).toMatchObject({
      vanityDomain: 'test-app.wristband.test',
      clientId: 'test-client-id',
      clientSecret: 'test-client-secret',
      tokenEndpoint: 'https://test-app.wristband.test/api/v1/oauth2/token',
      resourceUrl: 'https://test-app.wristband.test/_test/resource',
    });
    expect(typeof endpoint.fetch).toBe('function');
  });

  it('issues a token to the client, recording the request Wristband expects without its credentials', async () => {
    const endpoint = createTestTokenEndpoint({ tokenLifetimeSeconds: 600 });
    const token = await clientOf(endpoint).getToken();
    expect(endpoint.verify(token)).toBe('valid');
    expect(endpoint.requestCount).toBe(1);
    expect(endpoint.issuedCount).toBe(1);
    expect(endpoint.requests[0]).toEqual({
      number: 1,
      method: 'POST',
      url: endpoint.tokenEndpoint,
      contentType: 'application/x-www-form-urlencoded',
      accept: 'application/json',
      body: 'grant_type=client_credentials',
      clientId: 'test-client-id',
      credentials: 'primary',
      status: 200,
    });
  });

  it('accepts any correct encoding of credentials (form-encoded, UTF-8) and rejects a wrong one with invalid_client', async () => {
    const endpoint = createTestTokenEndpoint({ clientId: 'id:é', clientSecret: 'sécret +/=' });
    const token = await clientOf(endpoint).getToken();
    expect(endpoint.verify(token)).toBe('valid');
    const wrong = await tokenRequest(endpoint, basic('id%3A%C3%A9:nope'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });
    expect(endpoint.requests.map((r) => r.credentials)).toEqual(['primary', 'rejected']);
  });

  it.each([
    ['no Authorization header', undefined, 'missing'],
    ['a Bearer header', 'Bearer abc', 'missing'],
    ['Basic with no payload', 'Basic ', 'malformed'],
    ['Basic with characters outside base64', 'Basic !!!!', 'malformed'],
    ['Basic with bad padding', 'Basic YWJj=', 'malformed'],
    ['Basic that is not UTF-8', `Basic ${btoa('\xff\xfe:\xff')}`, 'malformed'],
    ['Basic with no colon', basic('test-client-id'), 'malformed'],
    ['Basic with a broken percent escape', basic('test-client-id:%E0%A4%A'), 'malformed'],
    ['Basic with the right id and an empty secret', basic('test-client-id:'), 'rejected'],
  ] as const)('answers 401 invalid_client to %s, and records it as %s', async (_what, header, credentials) => {
    const endpoint = createTestTokenEndpoint();
    const response = await tokenRequest(endpoint, header);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
    expect(endpoint.requests[0]).toMatchObject({ credentials, status: 401 });
    expect(endpoint.issuedCount).toBe(0);
  });

  it('answers a wrong grant, a missing grant, a JSON body and a GET as Wristband would, issuing nothing', async () => {
    const endpoint = createTestTokenEndpoint();
    const auth = basic('test-client-id:test-client-secret');
    expect((await tokenRequest(endpoint, auth, 'grant_type=password')).status).toBe(400);
    const missing = await tokenRequest(endpoint, auth, 'scope=x');
    expect(await missing.json()).toMatchObject({ error: 'invalid_request' });
    const asJson = await endpoint.fetch(endpoint.tokenEndpoint, {
      method: 'POST',
      headers: { Authorization: auth, 'Content-Type': 'application/json' },
      body: '{"grant_type":"client_credentials"}',
    });
    expect(asJson.status).toBe(400);
    expect((await endpoint.fetch(endpoint.tokenEndpoint, { headers: { Authorization: auth } })).status).toBe(405);
    expect((await endpoint.fetch(`https://${endpoint.vanityDomain}/elsewhere`)).status).toBe(404);
    expect(endpoint.issuedCount).toBe(0);
  });

  it('never reaches the network: another origin fails naming it, unless an upstream is given', async () => {
    const endpoint = createTestTokenEndpoint();
    await expect(endpoint.fetch('https://api.example.com/reports')).rejects.toThrow(
      /serves https:\/\/test-app\.wristband\.test only; GET https:\/\/api\.example\.com has no route/,
    );
    const upstream = vi.fn(
      async (input: string | URL | Request) =>
        new Response(`upstream ${input instanceof Request ? input.url : String(input)}`),
    );
    const forwarding = createTestTokenEndpoint({ upstream });
    const response = await forwarding.fetch('https://api.example.com/reports');
    expect(upstream).toHaveBeenCalledTimes(1);
    expect(await response.text()).toContain('https://api.example.com/reports');
  });

  it('coalesced by the client, 1,000 concurrent callers cost one request; 50 raw concurrent requests get 50 distinct tokens', async () => {
    const endpoint = createTestTokenEndpoint({ latencyMs: 5 });
    const m2m = clientOf(endpoint);
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => m2m.getToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(endpoint.requestCount).toBe(1);
    const auth = basic('test-client-id:test-client-secret');
    const answers = await Promise.all(Array.from({ length: 50 }, () => tokenRequest(endpoint, auth)));
    const raw = await Promise.all(answers.map(async (r) => (await r.json()).access_token as string));
    expect(new Set(raw).size).toBe(50);
    expect(endpoint.requests.map((r) => r.number)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
  });

  it('concurrent requests take scripted answers in the order they arrived, whatever their latency', async () => {
    const endpoint = createTestTokenEndpoint({ latencyMs: 10 });
    endpoint.failNext(500, 502);
    const auth = basic('test-client-id:test-client-secret');
    const statuses = await Promise.all([1, 2, 3].map(() => tokenRequest(endpoint, auth).then((r) => r.status)));
    expect(statuses).toEqual([500, 502, 200]);
  });
});

describe('scripted faults, as the client meets them', () => {
  it('failNext: 5xx answers are retried by the client and counted by the endpoint', async () => {
    const endpoint = createTestTokenEndpoint();
    endpoint.failNext(503, 502);
    const token = await clientOf(endpoint).getToken();
    expect(endpoint.verify(token)).toBe('valid');
    expect(endpoint.requests.map((r) => r.status)).toEqual([503, 502, 200]);
  });

  it('startOutage: a 5xx storm fails every request until endOutage, then the next call recovers', async () => {
    const endpoint = createTestTokenEndpoint();
    const m2m = clientOf(endpoint);
    endpoint.startOutage();
    const error = await m2m.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WristbandM2MError);
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_HTTP_ERROR', status: 503, attempts: 3 });
    expect(endpoint.requestCount).toBe(3);
    endpoint.endOutage();
    m2m.clearToken();
    // The client backs off after a failed round; a fresh client shows the endpoint itself has recovered.
    expect(endpoint.verify(await clientOf(endpoint).getToken())).toBe('valid');
  });

  it('startOutage with retryAfterSeconds: the client does not retry and reports the pause', async () => {
    const endpoint = createTestTokenEndpoint();
    endpoint.startOutage({ status: 503, retryAfterSeconds: 30 });
    const error = await clientOf(endpoint)
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 503, retryAfterMs: 30_000 });
    expect(endpoint.requestCount).toBe(1);
  });

  it('rateLimitNext: 429 with Retry-After, not retried, its pause reported', async () => {
    const endpoint = createTestTokenEndpoint();
    endpoint.rateLimitNext(7);
    const error = await clientOf(endpoint)
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_HTTP_ERROR', status: 429, retryAfterMs: 7000 });
    expect(endpoint.requestCount).toBe(1);
  });

  it('rejectNext: invalid_client even with the right secret, never retried', async () => {
    const endpoint = createTestTokenEndpoint();
    endpoint.rejectNext();
    const error = await clientOf(endpoint)
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 401, error: 'invalid_client' });
    expect(endpoint.requests[0]?.credentials).toBe('primary');
  });

  it('hangNext: the client gives up at its request timeout; the hang ends with the request', async () => {
    const endpoint = createTestTokenEndpoint();
    endpoint.hangNext();
    const error = await clientOf(endpoint, { tokenRequestTimeout: 0.05 })
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TOKEN_REQUEST_TIMEOUT' });
    expect(endpoint.requestCount).toBe(1);
    expect(endpoint.hangingCount).toBe(0);
  });

  it('a hang then reset(): the hanging request ends as a dropped connection, and the next one gets a token', async () => {
    const endpoint = createTestTokenEndpoint();
    endpoint.hangNext();
    const auth = basic('test-client-id:test-client-secret');
    const hung = tokenRequest(endpoint, auth).catch((e: unknown) => e);
    await vi.waitFor(() => expect(endpoint.hangingCount).toBe(1));
    endpoint.reset();
    expect(await hung).toBeInstanceOf(TypeError);
    expect(endpoint.hangingCount).toBe(0);
    expect(endpoint.requestCount).toBe(0);
    expect((await tokenRequest(endpoint, auth)).status).toBe(200);
  });

  it('a request in its latency when reset() runs never takes an answer scripted after the reset', async () => {
    const endpoint = createTestTokenEndpoint({ latencyMs: 30 });
    const auth = basic('test-client-id:test-client-secret');
    const early = tokenRequest(endpoint, auth);
    await vi.waitFor(() => expect(endpoint.requestCount).toBe(1));
    endpoint.reset();
    endpoint.failNext(503);
    expect((await early).status).toBe(200);
    expect((await tokenRequest(endpoint, auth)).status).toBe(503);
  });

  it('answerNext: a function of the request takes over one answer', async () => {
    const endpoint = createTestTokenEndpoint();
    endpoint.answerNext(
      () => new Response('<html>proxy</html>', { status: 200, headers: { 'Content-Type': 'text/html' } }),
    );
    const error = await clientOf(endpoint)
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_TOKEN_RESPONSE' });
  });

  it('latency is a timer: with fake timers the answer waits for the test to advance the clock', async () => {
    vi.useFakeTimers({ toFake: [...FAKED] });
    const endpoint = createTestTokenEndpoint({ latencyMs: 1000 });
    let settled = false;
    const pending = tokenRequest(endpoint, basic('test-client-id:test-client-secret')).then((r) => {
      settled = true;
      return r.status;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toBe(200);
  });

  it('a request whose signal aborts during its latency rejects as fetch does', async () => {
    const endpoint = createTestTokenEndpoint({ latencyMs: 1000 });
    const controller = new AbortController();
    const pending = endpoint.fetch(endpoint.tokenEndpoint, { method: 'POST', signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('rejects scripts that make no sense, naming the argument', () => {
    const endpoint = createTestTokenEndpoint();
    expect(() => endpoint.failNext(200)).toThrow(/400 to 599/);
    expect(() => endpoint.rateLimitNext(-1)).toThrow(/retryAfterSeconds/);
    expect(() => endpoint.hangNext(0)).toThrow(/count/);
    expect(() => endpoint.setTokenLifetime(0)).toThrow(/seconds must be a positive number/);
    expect(() => createTestTokenEndpoint({ vanityDomain: 'https://x.test/path' })).toThrow(/no path/);
    expect(() => createTestTokenEndpoint({ clientSecret: '' })).toThrow(/clientSecret must be a non-empty string/);
  });
});

describe('a secret rotation', () => {
  it('accepts two secrets, then one: a client on the old secret fails after it is revoked', async () => {
    const endpoint = createTestTokenEndpoint();
    endpoint.addSecret('new-secret');
    expect(endpoint.secrets()).toEqual(['test-client-secret', 'new-secret']);
    expect(() => endpoint.addSecret('third')).toThrow(/2 secrets/);
    const onNew = clientOf(endpoint, { clientSecret: 'new-secret' });
    expect(endpoint.verify(await onNew.getToken())).toBe('valid');
    expect(endpoint.requests[0]?.credentials).toBe('secondary');
    endpoint.revokeSecret('test-client-secret');
    const onOld = clientOf(endpoint);
    await expect(onOld.getToken()).rejects.toMatchObject({ status: 401, error: 'invalid_client' });
    // A client holding both secrets in order moves to the one still accepted.
    const both = clientOf(endpoint, { clientSecret: ['test-client-secret', 'new-secret'] });
    expect(endpoint.verify(await both.getToken())).toBe('valid');
  });
});

describe('the protected resource', () => {
  it('answers 200 to an issued token, 401 with WWW-Authenticate invalid_token once revoked, expired or unknown', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const endpoint = createTestTokenEndpoint({ tokenLifetimeSeconds: 60, now: () => now });
    const auth = basic('test-client-id:test-client-secret');
    const issue = async () => (await (await tokenRequest(endpoint, auth)).json()).access_token as string;
    const call = (token?: string) =>
      endpoint.fetch(endpoint.resourceUrl, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
    const [a, b] = [await issue(), await issue()];
    expect((await call(a)).status).toBe(200);
    endpoint.revoke(a);
    const revoked = await call(a);
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toBe(
      'Bearer realm="wristband-test", error="invalid_token", error_description="revoked token"',
    );
    expect((await call(b)).status).toBe(200);
    now += 60_000;
    expect(endpoint.verify(b)).toBe('expired');
    expect((await call('not-issued')).headers.get('www-authenticate')).toContain('unknown token');
    expect((await call()).headers.get('www-authenticate')).toBe('Bearer realm="wristband-test"');
    expect(endpoint.resourceCalls).toEqual({ total: 5, rejected: 3 });
  });

  it('client.fetch recovers from a revocation with one refresh: 401, new token, 200', async () => {
    const endpoint = createTestTokenEndpoint();
    const m2m = clientOf(endpoint);
    expect((await m2m.fetch(endpoint.resourceUrl)).status).toBe(200);
    endpoint.revokeAll();
    expect((await m2m.fetch(endpoint.resourceUrl)).status).toBe(200);
    expect(endpoint.issuedCount).toBe(2);
    expect(endpoint.resourceCalls).toEqual({ total: 3, rejected: 1 });
  });

  it('expireAll makes every issued token expired for the resource while the client still holds it', async () => {
    const endpoint = createTestTokenEndpoint();
    const token = await clientOf(endpoint).getToken();
    endpoint.expireAll();
    expect(endpoint.verify(token)).toBe('expired');
  });
});

describe('the client secret stays out of everything the kit outputs', () => {
  it('not in the request log, any answer, any error, or a rendering of the endpoint', async () => {
    const secret = 'kit-secret-Zq8!';
    const endpoint = createTestTokenEndpoint({ clientSecret: secret });
    endpoint.addSecret('second-secret-Xy7');
    const outputs: string[] = [];
    const auth = basic(`test-client-id:${secret}`);
    for (const script of [() => undefined, () => endpoint.failNext(503), () => endpoint.rejectNext()]) {
      script();
      const response = await tokenRequest(endpoint, auth);
      outputs.push(await response.text(), JSON.stringify([...response.headers]));
    }
    await endpoint.fetch('https://elsewhere.test/', { headers: { Authorization: auth } }).catch((e: Error) => {
      outputs.push(e.message, String(e.stack));
    });
    outputs.push(JSON.stringify(endpoint.requests));
    const { clientSecret: _asked, ...rest } = endpoint;
    outputs.push(JSON.stringify(rest));
    for (const output of outputs) {
      expect(output).not.toContain(secret);
      expect(output).not.toContain('second-secret-Xy7');
      expect(output).not.toContain(btoa(`test-client-id:${secret}`));
    }
    expect(endpoint.clientSecret).toBe(secret);
  });
});

describe('what a careless test does to the endpoint', () => {
  const AUTH = `Basic ${btoa('test-client-id:test-client-secret')}`;
  const post = (endpoint: TestTokenEndpoint, init: RequestInit = {}) =>
    endpoint.fetch(endpoint.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: AUTH },
      body: 'grant_type=client_credentials',
      ...init,
    });

  it('a Retry-After must be whole seconds (RFC 9110 delay-seconds; the client ignores "1.5"): a fraction is refused', () => {
    const endpoint = createTestTokenEndpoint();
    expect(() => endpoint.startOutage({ retryAfterSeconds: 1.5 })).toThrow(TypeError);
    expect(() => endpoint.rateLimitNext(0.5)).toThrow(TypeError);
    expect(() => endpoint.rateLimitNext(-1)).toThrow(TypeError);
    endpoint.rateLimitNext(2);
    endpoint.startOutage({ retryAfterSeconds: 0 });
  });

  it('a fetch whose signal is already aborted is never sent: not logged, and it consumes no scripted answer', async () => {
    const endpoint = createTestTokenEndpoint();
    endpoint.failNext(503);
    const controller = new AbortController();
    controller.abort();
    await expect(post(endpoint, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(endpoint.requestCount).toBe(0);
    expect((await post(endpoint)).status).toBe(503);
  });

  it('concurrent requests take scripted answers in the order they were sent, bodyless or not', async () => {
    const endpoint = createTestTokenEndpoint();
    endpoint.failNext(503);
    const first = post(endpoint); // sent first: should get the 503
    const second = endpoint.fetch(endpoint.tokenEndpoint, { headers: { Authorization: AUTH } }); // a GET, no body
    expect([(await first).status, (await second).status]).toEqual([503, 405]);
    expect(endpoint.requests.map((r) => r.method)).toEqual(['POST', 'GET']);
  });

  it('the protected resource accepts the Bearer scheme in any case (RFC 9110 §11.1, RFC 6750 §2.1)', async () => {
    const endpoint = createTestTokenEndpoint();
    const { access_token: token } = (await (await post(endpoint)).json()) as { access_token: string };
    expect(endpoint.verify(token)).toBe('valid');
    expect((await endpoint.fetch(endpoint.resourceUrl, { headers: { Authorization: `bearer ${token}` } })).status).toBe(
      200,
    );
  });

  it('reset() forgets the script: a hang scripted before it does not hang a request still in its latency', async () => {
    vi.useFakeTimers();
    try {
      const endpoint = createTestTokenEndpoint({ latencyMs: 30 });
      endpoint.hangNext();
      const early = post(endpoint).then(
        (r) => String(r.status),
        (e: Error) => `${e.name}: ${e.message}`,
      );
      await vi.advanceTimersByTimeAsync(5); // the request holds the hang, in its latency
      endpoint.reset(); // hanging requests end with a network error; the script is forgotten
      await vi.advanceTimersByTimeAsync(100); // the latency is over
      expect(endpoint.hangingCount).toBe(0);
      expect(await early).toBe('TypeError: The test token endpoint dropped the connection.');
    } finally {
      vi.useRealTimers();
    }
  });

  it('only application/x-www-form-urlencoded is a form: a different media type is refused', async () => {
    const endpoint = createTestTokenEndpoint();
    const response = await post(endpoint, {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded-v2', Authorization: AUTH },
    });
    expect(response.status).toBe(400);
    expect(endpoint.issuedCount).toBe(0);
  });

  it('the request log never holds a secret, even one a request carries in its body or URL', async () => {
    const endpoint = createTestTokenEndpoint();
    await endpoint.fetch(`${endpoint.tokenEndpoint}?client_secret=test-client-secret`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=test-client-id&client_secret=test-client-secret',
    });
    expect(JSON.stringify(endpoint.requests)).not.toContain('test-client-secret');
  });
});
