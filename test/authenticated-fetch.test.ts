import { http, HttpResponse } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { parseChallenges, rejectsToken, UNAUTHORIZED_RETIREMENT_INTERVAL_MS } from '../src/authenticated-fetch.js';
import { createAuthenticatedFetch, createWristbandM2MClient, WristbandM2MError } from '../src/index.js';
import { createTestTokenEndpoint } from '../src/testing/index.js';
import { issuingEndpoint, mswServer, oauthError, onTokenEndpoint, settle, testClient, useMsw } from './support/msw.js';

useMsw();

const API = 'https://api.example.com/reports';

interface ApiLog {
  count: number;
  seen: { method: string; authorization: string | null; contentType: string | null; body: Uint8Array }[];
}

/** A downstream API that answers with `respond(n, authorization)`; n counts from 1. */
function api(respond: (n: number, authorization: string | null) => Response | Promise<Response>): ApiLog {
  const log: ApiLog = { count: 0, seen: [] };
  mswServer.use(
    http.all(API, async ({ request }) => {
      const n = ++log.count;
      const authorization = request.headers.get('authorization');
      log.seen.push({
        method: request.method,
        authorization,
        contentType: request.headers.get('content-type'),
        body: new Uint8Array(await request.arrayBuffer()),
      });
      return respond(n, authorization);
    }),
  );
  return log;
}

const unauthorized = () => new HttpResponse(null, { status: 401 });
/** 401 for the first token, 200 for any other. */
const rejectsFirstToken = (_n: number, authorization: string | null) =>
  authorization === 'Bearer token-1' ? unauthorized() : HttpResponse.json({ ok: true });

/** A one-shot stream body holding `text`. */
const streamed = (text: string) =>
  new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(text));
      controller.close();
    },
  });
const upload = (body: ReadableStream) => ({ method: 'POST', body, duplex: 'half' }) as RequestInit;

describe('client.fetch', () => {
  it('sends the token as a Bearer credential, replacing a caller Authorization and keeping other headers', async () => {
    issuingEndpoint();
    const log = api(() => HttpResponse.json({ ok: true }, { headers: { 'X-From-Api': 'yes' } }));
    const response = await testClient().fetch(API, { headers: { Authorization: 'Basic abc', 'X-Trace': '7' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-from-api')).toBe('yes');
    expect(await response.json()).toEqual({ ok: true });
    expect(log.seen[0]?.authorization).toBe('Bearer token-1');
  });

  it('keeps the headers of a Request input', async () => {
    issuingEndpoint();
    let trace: string | null = null;
    mswServer.use(http.get(API, ({ request }) => ((trace = request.headers.get('x-trace')), HttpResponse.json({}))));
    await testClient().fetch(new Request(API, { headers: { 'X-Trace': 'from-request' } }));
    expect(trace).toBe('from-request');
  });

  it('on a 401 retires the token it sent and retries once with a fresh one: 2 API requests, 2 token requests', async () => {
    const tokens = issuingEndpoint();
    const log = api(rejectsFirstToken);
    const response = await testClient().fetch(API);
    expect(response.status).toBe(200);
    expect(log.seen.map((s) => s.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
    expect(tokens.count).toBe(2);
  });

  it('returns the second 401 as it is, without a loop', async () => {
    const tokens = issuingEndpoint();
    const log = api(() => new HttpResponse('still no', { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } }));
    const response = await testClient().fetch(API);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(await response.text()).toBe('still no');
    expect(log.count).toBe(2);
    expect(tokens.count).toBe(2);
  });

  it('answers 100 concurrent 401s on the same token with exactly 1 token refresh', async () => {
    const tokens = issuingEndpoint();
    const log = api(rejectsFirstToken);
    const client = testClient();
    await client.getToken();
    const responses = await Promise.all(Array.from({ length: 100 }, () => client.fetch(API)));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(tokens.count).toBe(2);
    expect(log.count).toBe(200);
  });

  it('does not resend a one-shot stream body: the 401 is returned', async () => {
    const tokens = issuingEndpoint();
    const log = api(unauthorized);
    const response = await testClient().fetch(API, upload(streamed('streamed')));
    expect(response.status).toBe(401);
    expect(log.count).toBe(1);
    expect(new TextDecoder().decode(log.seen[0]?.body)).toBe('streamed');
    expect(tokens.count).toBe(1);
  });

  it('retires the token a one-shot stream upload got a 401 for, so the next upload sends a fresh one', async () => {
    const tokens = issuingEndpoint();
    const log = api(rejectsFirstToken);
    const client = testClient();
    expect((await client.fetch(API, upload(streamed('one')))).status).toBe(401);
    expect((await client.fetch(API, upload(streamed('two')))).status).toBe(200);
    expect(log.seen.map((s) => s.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
    expect(tokens.count).toBe(2);
  });

  const form = new FormData();
  form.set('field', 'value');
  it.each<[string, () => BodyInit]>([
    ['a string', () => '{"a":1}'],
    ['URLSearchParams', () => new URLSearchParams({ q: 'x y' })],
    ['FormData', () => form],
    ['a Blob', () => new Blob(['blob-bytes'], { type: 'application/octet-stream' })],
    ['an ArrayBuffer', () => new TextEncoder().encode('buffer').buffer as ArrayBuffer],
    ['a Uint8Array', () => new TextEncoder().encode('view')],
  ])('retries %s body with the same method, headers and bytes', async (_kind, body) => {
    issuingEndpoint();
    const log = api(rejectsFirstToken);
    const response = await testClient().fetch(API, { method: 'PUT', body: body(), headers: { 'X-Trace': '1' } });
    expect(response.status).toBe(200);
    expect(log.count).toBe(2);
    // FormData is serialised afresh for each send, with a new multipart boundary; everything else is identical.
    const [first, second] = log.seen.map((seen) => {
      const boundary = /boundary=(\S+)/.exec(seen.contentType ?? '')?.[1];
      const text = new TextDecoder().decode(seen.body);
      return {
        ...seen,
        contentType: seen.contentType?.replace(boundary ?? '', 'B'),
        body: boundary ? text.replaceAll(boundary, 'B') : text,
      };
    });
    expect(second?.method).toBe('PUT');
    expect(second?.contentType).toBe(first?.contentType);
    expect(second?.body.length).toBeGreaterThan(0);
    expect(second?.body).toBe(first?.body);
  });

  it('retries a Request input with a body, sending the same bytes', async () => {
    issuingEndpoint();
    const log = api(rejectsFirstToken);
    const request = new Request(API, {
      method: 'POST',
      body: 'request-body',
      headers: { 'Content-Type': 'text/plain' },
    });
    const response = await testClient().fetch(request);
    expect(response.status).toBe(200);
    expect(log.seen.map((s) => new TextDecoder().decode(s.body))).toEqual(['request-body', 'request-body']);
    expect(log.seen.map((s) => s.contentType)).toEqual(['text/plain', 'text/plain']);
  });

  it('passes the signal and every other option to fetch untouched, and returns its Response', async () => {
    issuingEndpoint();
    const answer = new Response('from custom fetch');
    const custom = vi.fn(async (_input: string | URL | Request, _init?: RequestInit) => answer);
    const client = testClient();
    const signal = new AbortController().signal;
    const init = { method: 'POST', body: 'x', signal, keepalive: true, redirect: 'manual', cf: { cacheTtl: 5 } };
    const response = await createAuthenticatedFetch(client, custom)(API, init as RequestInit);
    expect(response).toBe(answer);
    const [input, sent] = custom.mock.calls[0]!;
    expect(input).toBe(API);
    expect(sent).toMatchObject({ method: 'POST', body: 'x', keepalive: true, redirect: 'manual', cf: { cacheTtl: 5 } });
    expect(sent?.signal).toBe(signal);
    expect(new Headers(sent?.headers).get('authorization')).toBe('Bearer token-1');
  });

  it('rejects with the signal’s reason when aborted while waiting for the token, as fetch would', async () => {
    onTokenEndpoint(() => new Promise<Response>(() => undefined));
    const log = api(() => HttpResponse.json({}));
    const controller = new AbortController();
    const reason = new Error('request deadline');
    const result = settle(testClient().fetch(API, { signal: controller.signal }));
    controller.abort(reason);
    expect((await result).error).toBe(reason);
    expect(log.count).toBe(0);
  });

  it('lets an abort during the downstream request reach the caller', async () => {
    issuingEndpoint();
    mswServer.use(http.get(API, () => new Promise<Response>(() => undefined)));
    const controller = new AbortController();
    const result = settle(testClient().fetch(API, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 10);
    const { error } = await result;
    expect((error as Error).name).toBe('AbortError');
  });

  it('rejects with the WristbandM2MError when no token can be had, sending nothing downstream', async () => {
    onTokenEndpoint(() => oauthError(401, 'invalid_client'));
    const log = api(() => HttpResponse.json({}));
    const { error } = await settle(testClient().fetch(API));
    expect(error).toBeInstanceOf(WristbandM2MError);
    expect(log.count).toBe(0);
  });
});

describe('clearToken(token)', () => {
  it('clears the cache only while it still holds that token', async () => {
    const tokens = issuingEndpoint();
    const client = testClient();
    const first = await client.getToken();
    client.clearToken();
    const second = await client.getToken();
    client.clearToken(first); // a late 401 for the old token
    expect(await client.getToken()).toBe(second);
    client.clearToken(second);
    expect(await client.getToken()).toBe('token-3');
    expect(tokens.count).toBe(3);
  });
});

describe('401s that a new token cannot fix', () => {
  it('cost at most 2 token requests for 50 calls to an always-401 API, and the 401 reaches the caller', async () => {
    const tokens = issuingEndpoint();
    const log = api(unauthorized);
    const client = testClient();
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) statuses.push((await client.fetch(API)).status);
    expect(statuses.every((status) => status === 401)).toBe(true);
    expect(tokens.count).toBe(2);
    // The first call retried once; every later 401 was returned without a retry.
    expect(log.count).toBe(51);
  });

  it('cost at most 2 token requests for 50 stream uploads to an always-401 API', async () => {
    const tokens = issuingEndpoint();
    api(unauthorized);
    const client = testClient();
    for (let i = 0; i < 50; i++) await client.fetch(API, upload(streamed(`part ${i}`)));
    expect(tokens.count).toBe(2);
  });

  it('keep a healthy API working while another one rejects every token', async () => {
    const tokens = issuingEndpoint();
    api(unauthorized);
    const healthy = 'https://healthy.example.com/';
    mswServer.use(http.get(healthy, () => HttpResponse.json({ ok: true })));
    const client = testClient();
    for (let i = 0; i < 20; i++) {
      await client.fetch(API);
      expect((await client.fetch(healthy)).status).toBe(200);
    }
    expect(tokens.count).toBe(2);
  });

  it(`retire a token again once ${UNAUTHORIZED_RETIREMENT_INTERVAL_MS / 1000} s have passed since the last 401-driven retirement`, async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const tokens = issuingEndpoint();
      const log = api(unauthorized);
      const client = testClient();
      await client.fetch(API); // retires token-1, retries with token-2
      vi.advanceTimersByTime(UNAUTHORIZED_RETIREMENT_INTERVAL_MS - 1);
      await client.fetch(API); // token-2 is kept
      expect(tokens.count).toBe(2);
      vi.advanceTimersByTime(1);
      await client.fetch(API); // retires token-2, retries with token-3
      expect(tokens.count).toBe(3);
      expect(log.seen.map((s) => s.authorization)).toEqual([
        'Bearer token-1',
        'Bearer token-2',
        'Bearer token-2',
        'Bearer token-2',
        'Bearer token-3',
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('end the interval once the API accepts the fresh token: a second revocation within 30 s costs one refresh', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const tokens = issuingEndpoint();
      const revoked = new Set<string>();
      const log = api((_n, authorization) =>
        revoked.has(authorization ?? '') ? unauthorized() : HttpResponse.json({ ok: true }),
      );
      const client = testClient();
      expect((await client.fetch(API)).status).toBe(200); // token-1 accepted
      revoked.add('Bearer token-1');
      expect((await client.fetch(API)).status).toBe(200); // 401, token-1 retired, token-2 accepted
      vi.advanceTimersByTime(5_000);
      revoked.add('Bearer token-2');
      expect((await client.fetch(API)).status).toBe(200); // 401, token-2 retired at once, token-3 accepted
      expect(tokens.count).toBe(3);
      // Not twice in a row: a third revocation within 30 s of the early one waits out the interval, as before.
      vi.advanceTimersByTime(5_000);
      revoked.add('Bearer token-3');
      expect((await client.fetch(API)).status).toBe(401);
      vi.advanceTimersByTime(24_999);
      expect((await client.fetch(API)).status).toBe(401);
      expect(tokens.count).toBe(3);
      vi.advanceTimersByTime(1);
      expect((await client.fetch(API)).status).toBe(200);
      expect(tokens.count).toBe(4);
      expect(log.seen.map((s) => s.authorization?.slice(7))).toEqual([
        'token-1',
        'token-1',
        'token-2',
        'token-2',
        'token-3',
        'token-3',
        'token-3',
        'token-3',
        'token-4',
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('bound an API with one bad backend (every other request 401, whatever the token) to 2 token requests per 30 s', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const tokens = issuingEndpoint();
      // Each 401 is followed by a 2xx for the fresh token: exactly what a real revocation looks like.
      const log = api((n) => (n % 2 === 1 ? unauthorized() : HttpResponse.json({ ok: true })));
      const client = testClient();
      for (let second = 0; second < 60; second++) {
        await client.fetch(API);
        vi.advanceTimersByTime(1_000);
      }
      // token-1, then two retirements at 0 s and 1 s, and two at 31 s and 32 s; not one per 401.
      expect(tokens.count).toBe(5);
      expect(log.count).toBe(64);
    } finally {
      vi.useRealTimers();
    }
  });

  it('recover from revocations 10 s then 31 s apart with one refresh each, against the test kit', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const endpoint = createTestTokenEndpoint();
    const client = createWristbandM2MClient({
      clientId: endpoint.clientId,
      clientSecret: endpoint.clientSecret,
      wristbandApplicationVanityDomain: endpoint.vanityDomain,
      fetch: endpoint.fetch,
    });
    try {
      expect((await client.fetch(endpoint.resourceUrl)).status).toBe(200);
      for (const [i, gap] of [10_000, 10_000, 31_000].entries()) {
        vi.advanceTimersByTime(gap);
        endpoint.revokeAll();
        expect((await client.fetch(endpoint.resourceUrl)).status).toBe(200);
        expect(endpoint.issuedCount).toBe(2 + i);
      }
      expect(endpoint.resourceCalls).toEqual({ total: 7, rejected: 3 });
    } finally {
      client.destroy();
      vi.useRealTimers();
    }
  });

  it('end the interval when a later request to that URL is accepted, as after a stream upload that was not retried', async () => {
    const tokens = issuingEndpoint();
    const revoked = new Set(['Bearer token-1']);
    api((_n, authorization) => (revoked.has(authorization ?? '') ? unauthorized() : HttpResponse.json({ ok: true })));
    const client = testClient();
    expect((await client.fetch(API, upload(streamed('a')))).status).toBe(401); // token-1 retired, no retry
    expect((await client.fetch(API, upload(streamed('b')))).status).toBe(200); // token-2 accepted
    revoked.add('Bearer token-2');
    expect((await client.fetch(API)).status).toBe(200);
    expect(tokens.count).toBe(3);
  });

  it('keep the bound when the only 2xx answers a request sent before the retirement', async () => {
    const tokens = issuingEndpoint();
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    api((n) => (n === 1 ? released.then(() => HttpResponse.json({ ok: true })) : unauthorized()));
    const client = testClient();
    const slow = client.fetch(API); // token-1, answered 200 only after the retirement
    await vi.waitFor(() => expect(tokens.count).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await client.fetch(API)).status).toBe(401); // token-1 retired, token-2 refused too
    release();
    expect((await slow).status).toBe(200);
    expect((await client.fetch(API)).status).toBe(401); // token-2 kept: still within the interval
    expect(tokens.count).toBe(2);
  });

  it('keep the bound for an always-401 URL while other URLs of the same origin accept every token', async () => {
    const tokens = issuingEndpoint();
    api(unauthorized);
    const healthy = 'https://api.example.com/health';
    mswServer.use(http.get(healthy, () => HttpResponse.json({ ok: true })));
    const client = testClient();
    for (let i = 0; i < 20; i++) {
      expect((await client.fetch(API)).status).toBe(401);
      expect((await client.fetch(healthy)).status).toBe(200);
      expect((await client.fetch(`${API}?page=${i}`)).status).toBe(401);
    }
    expect(tokens.count).toBe(2);
  });

  it('keep the bound for an always-401 URL that sometimes answers 5xx or 403', async () => {
    const tokens = issuingEndpoint();
    api((n) => (n % 3 === 0 ? new HttpResponse(null, { status: n % 2 ? 503 : 403 }) : unauthorized()));
    const client = testClient();
    for (let i = 0; i < 30; i++) await client.fetch(API);
    expect(tokens.count).toBe(2);
  });

  it.each([
    'Bearer error="insufficient_scope"',
    'bearer realm="api", error="insufficient_scope", scope="reports:read"',
    'BEARER error=insufficient_scope',
    'Basic realm="legacy", Bearer error="invalid_request", error_description="missing \\"tenant\\", see docs"',
  ])('do not retire the token when WWW-Authenticate is %s: the 401 is returned', async (challenge) => {
    const tokens = issuingEndpoint();
    const log = api(() => new HttpResponse(null, { status: 401, headers: { 'WWW-Authenticate': challenge } }));
    const client = testClient();
    expect((await client.fetch(API)).status).toBe(401);
    expect(log.count).toBe(1);
    expect(await client.getToken()).toBe('token-1');
    expect(tokens.count).toBe(1);
  });

  it('still retire on a 401 whose Bearer challenge says invalid_token, among other challenges', async () => {
    issuingEndpoint();
    mswServer.use(
      http.get(API, ({ request }) => {
        const headers = new Headers();
        headers.append('WWW-Authenticate', 'Basic realm="x"');
        headers.append('WWW-Authenticate', 'Bearer realm="api", error="invalid_token", error_description="expired"');
        return request.headers.get('authorization') === 'Bearer token-1'
          ? new HttpResponse(null, { status: 401, headers })
          : HttpResponse.json({});
      }),
    );
    expect((await testClient().fetch(API)).status).toBe(200);
  });
});

describe('WWW-Authenticate parsing', () => {
  it('reads schemes and parameters case-insensitively, quoted or not, across challenges', () => {
    expect(parseChallenges('Basic realm="a, b", BEARER Error=insufficient_scope , scope="x \\"y\\""')).toEqual([
      { scheme: 'basic', params: { realm: 'a, b' } },
      { scheme: 'bearer', params: { error: 'insufficient_scope', scope: 'x "y"' } },
    ]);
  });

  it('skips what it cannot read without throwing', () => {
    expect(() => parseChallenges('Negotiate abc/def==, "=,= Bearer error="unterminated')).not.toThrow();
    expect(parseChallenges('')).toEqual([]);
  });

  it.each<[string | null, boolean]>([
    [null, true],
    ['Bearer', true],
    ['Bearer realm="api"', true],
    ['Bearer error="invalid_token"', true],
    ['Bearer error="INVALID_TOKEN"', true],
    ['Basic error="insufficient_scope"', true],
    ['Bearer error="insufficient_scope"', false],
    ['Bearer error="invalid_request"', false],
  ])('WWW-Authenticate %s means the token is rejected: %s', (header, rejected) => {
    const headers: Record<string, string> = header === null ? {} : { 'WWW-Authenticate': header };
    expect(rejectsToken(new Response(null, { status: 401, headers }))).toBe(rejected);
  });
});

describe('a late 401 for a token replaced since the request was sent', () => {
  /** An API that rejects revoked tokens; a request with `X-Slow` is answered (then) only after release(). */
  function revokingApi() {
    const revoked = new Set<string>();
    const seen: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    mswServer.use(
      http.all(API, async ({ request }) => {
        const token = request.headers.get('authorization')?.slice(7) ?? '';
        seen.push(token);
        if (request.headers.has('x-slow')) await gate;
        return revoked.has(token) ? new HttpResponse(null, { status: 401 }) : HttpResponse.json({ ok: true });
      }),
    );
    return { revoked, seen, release: () => release() };
  }

  it('is retried with the current token, at no token request, even after an early retirement', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const tokens = issuingEndpoint();
      const api = revokingApi();
      const client = testClient();
      expect((await client.fetch(API)).status).toBe(200); // token-1
      const slow = client.fetch(API, { headers: { 'X-Slow': '1' } }); // sent with token-1, answered later
      await vi.waitFor(() => expect(api.seen).toHaveLength(2));
      api.revoked.add('token-1');
      expect((await client.fetch(API)).status).toBe(200); // a 401: token-1 retired, token-2 accepted
      vi.advanceTimersByTime(5_000);
      api.revoked.add('token-2');
      expect((await client.fetch(API)).status).toBe(200); // a 401: token-2 retired early, token-3 accepted
      expect(tokens.count).toBe(3);
      api.release();
      expect((await slow).status).toBe(200); // its 401 for token-1, retried with token-3
      expect(tokens.count).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('counts as no retirement: the next real revocation is still retired at once', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const tokens = issuingEndpoint();
      const api = revokingApi();
      const client = testClient();
      expect((await client.fetch(API)).status).toBe(200); // token-1
      const slow = client.fetch(API, { headers: { 'X-Slow': '1' } }); // sent with token-1, answered later
      await vi.waitFor(() => expect(api.seen).toHaveLength(2));
      api.revoked.add('token-1');
      expect((await client.fetch(API)).status).toBe(200); // t=0: token-1 retired, token-2 accepted
      vi.advanceTimersByTime(31_000);
      api.revoked.add('token-2');
      expect((await client.fetch(API)).status).toBe(200); // t=31 s: token-2 retired (interval over), token-3 accepted
      api.release();
      expect((await slow).status).toBe(200); // its late 401 for token-1, retried with token-3
      expect(tokens.count).toBe(3);
      vi.advanceTimersByTime(2_000);
      api.revoked.add('token-3');
      // t=33 s: a real revocation; the last one (token-2, at 31 s) was accepted and not early: one refresh.
      expect((await client.fetch(API)).status).toBe(200);
      expect(tokens.count).toBe(4);
    } finally {
      vi.useRealTimers();
    }
  });
});
