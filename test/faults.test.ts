// Fault injection against a real HTTP server on 127.0.0.1: every fault the token endpoint (or the network in front
// of it) can produce, each met by 1, 100 and 10,000 concurrent callers. For every run: all callers settle, with a
// token or a WristbandM2MError, within the time bound; the request count is what the retry policy says; nothing
// is left unhandled; the next getToken() after the fault works; the secret appears in no error and no log line.
// The table of results is printed at the end (and written to $FAULT_TABLE when set).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTokenServer } from '../demo/token-server.mjs';
import { createWristbandM2MClient, WristbandM2MError } from '../src/index.js';
import { basicAuthorization } from '../src/http/token-request.js';
import { MAX_RESPONSE_BYTES, MAX_TOKEN_LIFETIME_SECONDS } from '../src/http/token-request.js';

type Answer = (req: IncomingMessage, res: ServerResponse) => void;
type Outcome = 'token' | { code: WristbandM2MError['code']; status?: number };

interface Fault {
  name: string;
  /** What the server does for each request, in order; unscripted requests get a token. */
  script: (number | Answer)[];
  outcome: Outcome;
  requests: number;
  /** tokenRequestTimeout for this fault, in seconds. */
  timeout?: number;
}

const SECRET = 'fault-suite-secret-6c1f0e';
const DEFAULT_TIMEOUT_S = 0.3;
const CALLER_COUNTS = [1, 100, 10_000];
// Scheduling slack on a shared CI machine: the bound is 3 attempts of the timeout, the two pauses, and this.
const MARGIN_MS = 1_000;

const json =
  (status: number, body: unknown): Answer =>
  (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
const raw =
  (status: number, body: string, type = 'application/json'): Answer =>
  (_req, res) => {
    res.writeHead(status, { 'Content-Type': type });
    res.end(body);
  };
const html = (status: number): Answer => raw(status, '<html><body><h1>502 Bad Gateway</h1></body></html>', 'text/html');
const token = (extra: Record<string, unknown>): Answer =>
  json(200, { access_token: 'fault.token', token_type: 'Bearer', ...extra });
const reset: Answer = (req) => req.socket.resetAndDestroy();
const closeAtOnce: Answer = (req) => req.socket.end();
const neverAnswer: Answer = () => undefined;
const resetMidBody: Answer = (req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '200' });
  res.write('{"access_token":"abc');
  setTimeout(() => req.socket.resetAndDestroy(), 10);
};
const drip =
  (intervalMs: number): Answer =>
  (req, res) => {
    const body = Buffer.from(JSON.stringify({ access_token: 'dripped.token', token_type: 'Bearer', expires_in: 3600 }));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(body.length) });
    let sent = 0;
    const timer = setInterval(() => {
      if (req.socket.destroyed || sent === body.length) return clearInterval(timer);
      res.write(body.subarray(sent, ++sent));
      if (sent === body.length) res.end();
    }, intervalMs);
  };
const tenMegabytes =
  (declareLength: boolean): Answer =>
  (req, res) => {
    const total = 10 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    res.writeHead(200, {
      'Content-Type': 'application/json',
      ...(declareLength ? { 'Content-Length': String(total) } : {}),
    });
    let written = 0;
    const pump = (): void => {
      while (written < total && !req.socket.destroyed) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('error', () => undefined);
    pump();
  };
const redirect =
  (status: number): Answer =>
  (req, res) => {
    res.writeHead(status, { Location: `http://${req.headers.host}/api/v1/oauth2/token?redirected=1` });
    res.end();
  };
const hugeHeader: Answer = (_req, res) => {
  res.setHeader('X-Padding', 'a'.repeat(64 * 1024));
  json(200, { access_token: 'x', expires_in: 3600 })(_req, res);
};

const http5xx = (status: number) => ({ code: 'TOKEN_ENDPOINT_HTTP_ERROR', status }) as const;
const invalid = { code: 'INVALID_TOKEN_RESPONSE', status: 200 } as const;
const unreachable = { code: 'TOKEN_ENDPOINT_UNREACHABLE' } as const;
const timedOut = { code: 'TOKEN_REQUEST_TIMEOUT' } as const;

const FAULTS: Fault[] = [
  { name: '5xx storm 500, 500, 500', script: [500, 500, 500], outcome: http5xx(500), requests: 3 },
  { name: '5xx storm 502, 503, 504', script: [502, 503, 504], outcome: http5xx(504), requests: 3 },
  {
    name: '5xx storm of HTML proxy pages',
    script: [html(502), html(502), html(503)],
    outcome: http5xx(503),
    requests: 3,
  },
  { name: 'recovery: 503 then a token', script: [503], outcome: 'token', requests: 2 },
  { name: 'recovery: 500, 502 then a token', script: [500, 502], outcome: 'token', requests: 3 },
  {
    name: '400 invalid_request',
    script: [json(400, { error: 'invalid_request' })],
    outcome: http5xx(400),
    requests: 1,
  },
  { name: '401 invalid_client', script: [json(401, { error: 'invalid_client' })], outcome: http5xx(401), requests: 1 },
  { name: '403 access_denied', script: [json(403, { error: 'access_denied' })], outcome: http5xx(403), requests: 1 },
  { name: '404 HTML page', script: [html(404)], outcome: http5xx(404), requests: 1 },
  { name: '429 slow_down', script: [json(429, { error: 'slow_down' })], outcome: http5xx(429), requests: 1 },
  { name: 'connection reset before headers', script: [reset], outcome: unreachable, requests: 1 },
  { name: 'connection reset mid-body', script: [resetMidBody], outcome: unreachable, requests: 1 },
  { name: 'socket closed at once', script: [closeAtOnce], outcome: unreachable, requests: 1 },
  { name: 'accepts and never answers', script: [neverAnswer], outcome: timedOut, requests: 1 },
  {
    name: 'body drips a byte at a time, within the timeout',
    script: [drip(2)],
    outcome: 'token',
    requests: 1,
    timeout: 2,
  },
  { name: 'body drips a byte at a time, past the timeout', script: [drip(50)], outcome: timedOut, requests: 1 },
  { name: '64 KiB response header', script: [hugeHeader], outcome: unreachable, requests: 1 },
  { name: '200 with an HTML page', script: [html(200)], outcome: invalid, requests: 1 },
  { name: '200 with an empty body', script: [raw(200, '')], outcome: invalid, requests: 1 },
  { name: '200 with truncated JSON', script: [raw(200, '{"access_token":"abc","expi')], outcome: invalid, requests: 1 },
  { name: '200 with a JSON array', script: [raw(200, '[]')], outcome: invalid, requests: 1 },
  { name: '200 with JSON null', script: [raw(200, 'null')], outcome: invalid, requests: 1 },
  { name: '200 with 10 MB, no length', script: [tenMegabytes(false)], outcome: invalid, requests: 1 },
  { name: '200 with 10 MB, declared', script: [tenMegabytes(true)], outcome: invalid, requests: 1 },
  { name: 'expires_in missing', script: [token({})], outcome: invalid, requests: 1 },
  { name: 'expires_in 0', script: [token({ expires_in: 0 })], outcome: invalid, requests: 1 },
  { name: 'expires_in negative', script: [token({ expires_in: -1 })], outcome: invalid, requests: 1 },
  {
    name: 'expires_in NaN',
    script: [raw(200, '{"access_token":"a","expires_in":NaN}')],
    outcome: invalid,
    requests: 1,
  },
  { name: 'expires_in "3600" (string digits)', script: [token({ expires_in: '3600' })], outcome: invalid, requests: 1 },
  { name: 'expires_in 1e12 (clamped to 24 h)', script: [token({ expires_in: 1e12 })], outcome: 'token', requests: 1 },
  { name: '301 redirect', script: [redirect(301)], outcome: http5xx(301), requests: 1 },
  { name: '302 redirect', script: [redirect(302)], outcome: http5xx(302), requests: 1 },
  { name: '307 redirect', script: [redirect(307)], outcome: http5xx(307), requests: 1 },
  { name: '308 redirect', script: [redirect(308)], outcome: http5xx(308), requests: 1 },
];

let server: Awaited<ReturnType<typeof startTokenServer>>;
const table: string[] = [];
const unhandled: unknown[] = [];
const logged: string[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
const forbidden = [
  SECRET,
  basicAuthorization('fault-client', SECRET),
  basicAuthorization('fault-client', SECRET).slice(6),
];

beforeAll(async () => {
  server = await startTokenServer({ clientId: 'fault-client', clientSecret: SECRET });
  process.on('unhandledRejection', onUnhandled);
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[method];
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      logged.push(args.map((a) => inspect(a, { depth: 5 })).join(' '));
      original(...args);
    });
  }
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  vi.restoreAllMocks();
  await server.close();
  const header = [
    '| fault | callers | outcome | token requests | all settled in |',
    '| --- | ---: | --- | ---: | ---: |',
  ];
  const text = [...header, ...table].join('\n');
  console.log(`\n${text}\n`);
  if (process.env.FAULT_TABLE) writeFileSync(process.env.FAULT_TABLE, `${text}\n`);
});

function describeOutcome(outcome: Outcome): string {
  return outcome === 'token' ? 'token' : `${outcome.code}${outcome.status ? ` ${outcome.status}` : ''}`;
}

describe.each(FAULTS)('$name', (fault) => {
  it.each(CALLER_COUNTS)('with %i concurrent callers', async (callers) => {
    server.requests.length = 0;
    server.answerNext(...(fault.script as never[]));
    const timeout = fault.timeout ?? DEFAULT_TIMEOUT_S;
    const failures: unknown[] = [];
    const client = createWristbandM2MClient({
      clientId: 'fault-client',
      clientSecret: SECRET,
      wristbandApplicationVanityDomain: server.vanityDomain,
      tokenRequestTimeout: timeout,
      onTokenRefreshFailed: (event) => void failures.push(event),
    });

    const started = performance.now();
    const settled = await Promise.allSettled(Array.from({ length: callers }, () => client.getToken()));
    const elapsed = performance.now() - started;

    expect(elapsed).toBeLessThan(3 * timeout * 1000 + 2 * 100 + MARGIN_MS);
    expect(server.requestCount).toBe(fault.requests);
    expect(server.requests.some((r) => r.url?.includes('redirected'))).toBe(false);
    const outcomes = new Set(
      settled.map((s) => {
        if (s.status === 'fulfilled') return typeof s.value === 'string' && s.value.length > 0 ? 'token' : 'empty';
        expect(s.reason).toBeInstanceOf(WristbandM2MError);
        return describeOutcome({ code: s.reason.code, status: s.reason.status });
      }),
    );
    expect([...outcomes]).toEqual([describeOutcome(fault.outcome)]);
    if (fault.name.includes('1e12')) {
      expect(client.state.expiresAt).toBeLessThanOrEqual(Date.now() + MAX_TOKEN_LIFETIME_SECONDS * 1000);
    }
    if (fault.name.includes('10 MB')) {
      const error = (settled[0] as PromiseRejectedResult).reason as Error;
      expect(error.message).toContain(`larger than ${MAX_RESPONSE_BYTES} bytes`);
    }

    // The fault is over: the next call gets a fresh token with one request.
    server.requests.length = 0;
    client.clearToken();
    await expect(client.getToken()).resolves.toMatch(/^m2m\./);
    expect(server.requestCount).toBe(1);
    client.destroy();

    const errors = [...new Set(settled.flatMap((s) => (s.status === 'rejected' ? [s.reason] : [])))];
    for (const text of [...errors, ...failures].map(
      (e) => inspect(e, { depth: 10, showHidden: true }) + JSON.stringify(e),
    )) {
      for (const secret of forbidden) expect(text).not.toContain(secret);
    }
    for (const line of logged) for (const secret of forbidden) expect(line).not.toContain(secret);
    expect(unhandled).toEqual([]);

    table.push(
      `| ${fault.name} | ${callers.toLocaleString('en-US')} | ${describeOutcome(fault.outcome)} | ${fault.requests} | ${Math.round(elapsed)} ms |`,
    );
  });
});
