// A Worker isolate must never wedge: the regression tests for two defects, run inside workerd (Miniflare) against
// the built client (dist/) and the local token server, with the worker test/runtimes/isolate-worker.mjs.
//
// 1. workerd cancels a request's unfinished I/O when its response goes out (unless waitUntil keeps it): a refresh
//    ahead of expiry started by a request with no bound waitUntil (none given; `ctx.waitUntil` passed unbound;
//    `client.fetch`; a client created on the first request) never settles, not even with an error. Nor can another
//    request touch what it left behind: reading its AbortController's `signal.aborted` throws "Cannot perform I/O on
//    behalf of a different request ... (I/O type: RefcountedCanceler)". From the moment the old token stops being
//    served, every request must still get a valid token, in bounded time, and never that raw runtime error.
// 2. getToken() at module scope (a warm-up) must not stop the Worker from starting: it rejects with a
//    WristbandM2MError telling the caller to call it inside a handler.
//
// Timing: tokens live 12 s with an 11 s buffer, so the refresh instant is about 1 s after a token's request was sent
// (up to 0.1 s earlier with jitter) and it stops being served at 2 s. With a 1 s tokenRequestTimeout a round lasts at
// most 3.2 s (3 attempts and 2 pauses of 0.1 s), and a round still unsettled 1 s after that is given up. The token
// server answers after 150 ms, so a refresh can never finish before the response of the request that started it.
// The four refresh scenarios take about 10 s each when they pass (15 s when they fail), and run concurrently.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, type ExpectStatic, it } from 'vitest';
import { startTokenServer } from '../demo/token-server.mjs';
import { disposeMiniflare } from './runtimes/matrix.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const { Miniflare } = createRequire(`${root}.tools/miniflare/`)('miniflare');

const TOKEN_LIFETIME_SECONDS = 12;
const BUFFER_SECONDS = 11;
const REQUEST_TIMEOUT_SECONDS = 1;
const TOKEN_SERVER_LATENCY_MS = 150;
/** 3 attempts of at most 1 s each, and 2 pauses of 100 ms between them (src/config.ts maxRoundMs). */
const LONGEST_ROUND_MS = 3 * REQUEST_TIMEOUT_SECONDS * 1000 + 2 * 100;
/** How long past its longest duration a round may stay unsettled before a call gives it up (src/client.ts). */
const GIVE_UP_GRACE_MS = 1_000;
/**
 * A request unanswered after this long has hung. No correct client makes a caller wait this long when the endpoint
 * answers within 150 ms: it covers waiting out a dead round up to its give-up instant and then a new round, with
 * about 2 s to spare for a loaded machine.
 */
const HANG_MS = LONGEST_ROUND_MS + GIVE_UP_GRACE_MS + 1_800;
/** The gap between two requests from the refresh instant on. */
const CADENCE_MS = 250;
/**
 * The code getToken() at module scope should reject with. A proposal, one constant to change if the fix picks
 * another: TOKEN_ENDPOINT_UNREACHABLE already means "the request failed before any HTTP answer", and it could not
 * even be sent.
 */
const MODULE_SCOPE_CODE = 'TOKEN_ENDPOINT_UNREACHABLE';

type Mode = 'none' | 'unbound' | 'context' | 'fetch' | 'lazy' | 'warm-up' | 'warm-up-recorded';
/** What one request to the Worker came to. `at` is when it was sent, in ms since the epoch. */
type Outcome =
  | { kind: 'token'; at: number; token: string; verdict: 'valid' | 'expired' | 'unknown' }
  | { kind: 'failed'; at: number; detail: string }
  | { kind: 'hung'; at: number };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** A token server and a Worker in `mode` talking to it; `close()` stops both. */
async function setUp(mode: Mode) {
  const server = await startTokenServer({
    tokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS,
    latencyMs: TOKEN_SERVER_LATENCY_MS,
  });
  /** workerd's own output: an uncaught error at startup is only reported there. */
  let runtimeLog = '';
  const worker = new Miniflare({
    modules: true,
    scriptPath: `${root}test/runtimes/isolate-worker.mjs`,
    modulesRoot: root,
    modulesRules: [{ type: 'ESModule', include: ['**/*.js', '**/*.mjs'] }],
    compatibilityDate: '2025-09-01',
    bindings: {
      MODE: mode,
      CLIENT_ID: server.clientId,
      CLIENT_SECRET: server.clientSecret,
      VANITY_DOMAIN: server.vanityDomain,
      BUFFER_SECONDS: String(BUFFER_SECONDS),
      REQUEST_TIMEOUT_SECONDS: String(REQUEST_TIMEOUT_SECONDS),
    },
    handleRuntimeStdio(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) {
      for (const stream of [stdout, stderr]) stream.on('data', (chunk) => (runtimeLog += String(chunk)));
    },
  });

  // Started before any request is timed: six runtimes starting at once on a small machine take seconds.
  const startupError: unknown = await worker.ready.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (startupError !== undefined) await sleep(200); // for workerd's log of why to arrive
  /** Why the Worker did not start: the runtime's error and the uncaught one workerd logged. */
  const startupFailure = () => {
    const uncaught = /Uncaught .*(\n +at .*)*/.exec(runtimeLog)?.[0] ?? '';
    const error = startupError instanceof Error ? `${startupError.name}: ${startupError.message}` : '';
    return `the Worker did not start: ${error} workerd: ${uncaught}`;
  };

  /** One request for a token (GET /); it hangs if unanswered within HANG_MS. */
  async function request(): Promise<Outcome> {
    const at = Date.now();
    if (startupError !== undefined) return { kind: 'failed', at, detail: startupFailure() };
    const signal = AbortSignal.timeout(HANG_MS);
    try {
      const response = await worker.dispatchFetch('http://worker/', { signal });
      const text: string = await response.text();
      let body: { token?: string; status?: number; error?: { name: string; code?: string; message: string } };
      try {
        body = JSON.parse(text);
      } catch {
        return { kind: 'failed', at, detail: `HTTP ${response.status}: ${text.slice(0, 300)}` };
      }
      if (body.error !== undefined) {
        const { name, code, message } = body.error;
        return { kind: 'failed', at, detail: `${name}${code ? ` ${code}` : ''}: ${message}` };
      }
      if (body.status !== undefined && body.status !== 200) {
        return { kind: 'failed', at, detail: `the protected resource answered ${body.status}` };
      }
      if (typeof body.token !== 'string') return { kind: 'failed', at, detail: `no token in ${text}` };
      return { kind: 'token', at, token: body.token, verdict: server.verify(body.token) };
    } catch (error) {
      if (signal.aborted) return { kind: 'hung', at };
      return { kind: 'failed', at, detail: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
    }
  }

  async function json(path: string) {
    if (startupError !== undefined) throw new Error(startupFailure());
    return (await worker.dispatchFetch(`http://worker${path}`, { signal: AbortSignal.timeout(HANG_MS) })).json();
  }

  return {
    server,
    request,
    json,
    async close() {
      // A Worker that failed to start throws its startup error again here: the test has reported it already.
      await disposeMiniflare(worker).catch(() => undefined);
      await server.close();
    },
  };
}

/**
 * Gets a first token, then sends requests from its refresh instant (three at once) every CADENCE_MS, through the
 * instant it stops being served and past the instant a refresh started at the refresh instant would be given up,
 * then one more after all have answered. Returns what each came to, and a summary to compare with the healthy one.
 */
async function acrossTheRefresh(mode: Mode, expect: ExpectStatic) {
  const env = await setUp(mode);
  try {
    const first = await env.request();
    expect(first, 'the first request gets a token').toMatchObject({ kind: 'token', verdict: 'valid' });
    const firstToken = (first as Extract<Outcome, { kind: 'token' }>).token;
    const { refreshAt, expiresAt: usableUntil } = (await env.json('/state')) as {
      refreshAt: number;
      expiresAt: number;
    };
    expect(usableUntil - refreshAt, 'the first token is served for a while past its refresh instant').toBeGreaterThan(
      500,
    );

    await sleep(refreshAt + 20 - Date.now());
    const pending: Promise<Outcome>[] = [env.request(), env.request(), env.request()];
    const end = refreshAt + LONGEST_ROUND_MS + GIVE_UP_GRACE_MS + 1_000;
    while (Date.now() < end) {
      await sleep(CADENCE_MS);
      pending.push(env.request());
    }
    const outcomes = await Promise.all(pending);
    const last = await env.request();
    outcomes.push(last);

    /** When a request was sent, relative to the instant the first token stopped being served. */
    const when = (outcome: Outcome) => {
      const ms = Math.round(outcome.at - usableUntil);
      return `request sent ${ms < 0 ? '' : '+'}${ms} ms from usableUntil`;
    };
    return {
      hung: outcomes.filter((o) => o.kind === 'hung').map((o) => `${when(o)}: no answer within ${HANG_MS} ms`),
      failed: outcomes.filter((o) => o.kind === 'failed').map((o) => `${when(o)}: ${o.detail}`),
      invalid: outcomes
        .filter((o) => o.kind === 'token' && o.verdict !== 'valid')
        .map((o) => `${when(o)}: a token the server calls ${o.kind === 'token' ? o.verdict : ''}`),
      newTokenRequested: env.server.requestCount >= 2,
      newTokenServed: last.kind === 'token' && last.token !== firstToken && last.verdict === 'valid',
    };
  } finally {
    await env.close();
  }
}

const healthy = { hung: [], failed: [], invalid: [], newTokenRequested: true, newTokenServed: true };
const SCENARIO_TIMEOUT_MS = 40_000;

// Concurrent, each with its own token server and Worker; each asserts with its test context's `expect`, so a failure
// lands on its own test.
describe.concurrent('a Worker isolate never wedges (workerd)', () => {
  it(
    'getToken() with no waitUntil: every request across the refresh gets a valid token, and a new one comes',
    async ({ expect }) => {
      expect(await acrossTheRefresh('none', expect)).toEqual(healthy);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'getToken({ waitUntil: ctx.waitUntil }) passed unbound: rejected with an INVALID_CONFIG error that names the fix, never silently ignored',
    async ({ expect }) => {
      const env = await setUp('unbound');
      try {
        const first = await env.request();
        expect(first).toMatchObject({ kind: 'failed' });
        const detail = (first as { detail: string }).detail;
        expect(detail).toMatch(/WristbandM2MError INVALID_CONFIG/);
        expect(detail).toContain('getToken({ waitUntil: ctx })');
        expect(detail).toContain('ctx.waitUntil.bind(ctx)');
      } finally {
        await env.close();
      }
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'getToken({ waitUntil: ctx }), the execution context itself: every request across the refresh gets a valid token',
    async ({ expect }) => {
      expect(await acrossTheRefresh('context', expect)).toEqual(healthy);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'client.fetch(url), which cannot pass a waitUntil: every call reaches the protected resource with a valid token',
    async ({ expect }) => {
      expect(await acrossTheRefresh('fetch', expect)).toEqual(healthy);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    "the client created on the first request (the README's `m2m ??= createWristbandM2MClient(...)`, then m2m.fetch)",
    async ({ expect }) => {
      expect(await acrossTheRefresh('lazy', expect)).toEqual(healthy);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'm2m.getToken().catch(() => {}) at module scope: the Worker starts, and its requests get tokens',
    async ({ expect }) => {
      const env = await setUp('warm-up');
      try {
        const outcomes = [await env.request(), await env.request()];
        expect(outcomes).toEqual([
          expect.objectContaining({ kind: 'token', verdict: 'valid' }),
          expect.objectContaining({ kind: 'token', verdict: 'valid' }),
        ]);
      } finally {
        await env.close();
      }
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'getToken() at module scope rejects with a WristbandM2MError that says to call it inside a handler',
    async ({ expect }) => {
      const env = await setUp('warm-up-recorded');
      try {
        const warmUp = await env.json('/warm-up');
        expect(warmUp).toEqual({
          outcome: 'rejected',
          wristbandError: true,
          name: 'WristbandM2MError',
          code: MODULE_SCOPE_CODE,
          message: expect.stringMatching(/\bhandler\b/i),
        });
        expect(warmUp.message).not.toMatch(/Disallowed operation/);
        // Nothing could be sent from module scope, and the failure costs the first request nothing.
        expect(env.server.requestCount).toBe(0);
        expect(await env.request()).toMatchObject({ kind: 'token', verdict: 'valid' });
      } finally {
        await env.close();
      }
    },
    SCENARIO_TIMEOUT_MS,
  );
});
