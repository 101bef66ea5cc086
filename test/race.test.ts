// Model-based race test: fast-check generates interleavings of getToken (with and without abort signals),
// clearToken, destroy, clock advances, background ticks and endpoint outcomes, runs them against the real client
// (fake clock, fake fetch), and checks it against a small reference model of request chains and the cache.
// Invariants:
// 1. a resolved token is never empty, never expired by the (fake) clock, and was issued by the endpoint;
// 2. at most one token request chain is in flight per client generation (clearToken() starts a new generation,
//    the request it detaches may finish for its own callers);
// 3. a caller that started after clearToken() never gets a token from a request started before it;
// 4. no timer is left once the client is destroyed;
// 5. every promise settles, with a token or a WristbandM2MError (ABORTED for aborted callers, CLIENT_DESTROYED
//    after destroy()).
// RACE_RUNS sets the number of runs (1,000 by default; `npm run test:race` does 100,000).
import fc from 'fast-check';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createWristbandM2MClient, WristbandM2MError, type WristbandM2MClient } from '../src/index.js';

const RUNS = Number(process.env.RACE_RUNS ?? 1_000);
const RETRY_DELAY_MS = 100;

type Outcome = { kind: 'token'; lifetimeS: number } | { kind: '5xx' | '4xx' | 'network' | 'garbage' };
type Op =
  | { kind: 'get'; signal: 'none' | 'later' | 'pre' }
  | { kind: 'abort' }
  | { kind: 'clear'; which: 'all' | 'cached' | 'stale' }
  | { kind: 'destroy' }
  | { kind: 'advance'; ms: number }
  | { kind: 'tick' }
  | { kind: 'respond'; outcome: Outcome };

const outcomeArb: fc.Arbitrary<Outcome> = fc.oneof(
  // Short lifetimes (near and under the buffer) are where expiry bugs live; long ones keep the cache warm.
  {
    weight: 5,
    arbitrary: fc
      .oneof(fc.integer({ min: 1, max: 180 }), fc.integer({ min: 1, max: 7200 }))
      .map((lifetimeS) => ({ kind: 'token' as const, lifetimeS })),
  },
  { weight: 2, arbitrary: fc.constant({ kind: '5xx' as const }) },
  { weight: 1, arbitrary: fc.constantFrom(...(['4xx', 'network', 'garbage'] as const)).map((kind) => ({ kind })) },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('none', 'later', 'pre').map((signal) => ({ kind: 'get' as const, signal })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'abort' as const }) },
  {
    weight: 4,
    arbitrary: fc.constantFrom('all', 'cached', 'stale').map((which) => ({ kind: 'clear' as const, which })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'destroy' as const }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 90_000 }).map((ms) => ({ kind: 'advance' as const, ms })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'tick' as const }) },
  { weight: 5, arbitrary: outcomeArb.map((outcome) => ({ kind: 'respond' as const, outcome })) },
);
const configArb = fc.record({
  buffer: fc.integer({ min: 0, max: 120 }),
  interval: fc.option(fc.integer({ min: 60, max: 600 }), { nil: undefined }),
  timeout: fc.integer({ min: 1, max: 20 }),
});

interface Chain {
  generation: number;
  attempts: number;
  retryDueAt: number | undefined;
  done: boolean;
}
interface Attempt {
  chain: Chain;
  sentAt: number;
  settled: boolean;
  resolve: (response: Response) => void;
  reject: (error: unknown) => void;
}
interface Caller {
  startGeneration: number;
  destroyedAtStart: boolean;
  preAborted: boolean;
  controller: AbortController | undefined;
  abortedAt: number | undefined;
  settled: boolean;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
  // No jitter and no backoff wait (full jitter at 0): this model knows neither; the lifecycle tests cover both.
  vi.spyOn(Math, 'random').mockReturnValue(0);
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

interface Config {
  buffer: number;
  interval: number | undefined;
  timeout: number;
}

async function runScenario(config: Config, ops: Op[]): Promise<void> {
  const violations: string[] = [];
  const violate = (what: string): void => void violations.push(what);
  // The reference model: the generation (bumped by clearToken() and destroy()), the token the cache holds and until
  // when it is served (expires_in - buffer from the send time, or half the lifetime when that is not longer).
  const model = { generation: 0, cached: undefined as string | undefined, servedUntil: 0, destroyed: false };
  const chains: Chain[] = [];
  const attempts: Attempt[] = [];
  const issued = new Map<string, { realExpiry: number; generation: number }>();
  const callers: Caller[] = [];
  let serial = 0;

  const fakeFetch = (_input: unknown, init?: RequestInit): Promise<Response> =>
    new Promise((resolve, reject) => {
      const now = Date.now();
      // A retry is due exactly RETRY_DELAY_MS after a 5xx; anything else starts a new chain.
      let chain = chains.find((c) => !c.done && c.retryDueAt === now);
      if (chain) {
        chain.retryDueAt = undefined;
        chain.attempts++;
      } else {
        if (chains.some((c) => !c.done && c.generation === model.generation)) {
          violate(`a second request chain started in generation ${model.generation}`);
        }
        chain = { generation: model.generation, attempts: 1, retryDueAt: undefined, done: false };
        chains.push(chain);
      }
      const attempt: Attempt = { chain, sentAt: now, settled: false, resolve, reject };
      attempts.push(attempt);
      init?.signal?.addEventListener('abort', () => {
        if (attempt.settled) return;
        attempt.settled = true;
        attempt.chain.done = true; // a timeout or destroy() ends the chain: neither is retried
        reject(init.signal?.reason);
      });
    });

  const client: WristbandM2MClient = createWristbandM2MClient({
    clientId: 'race',
    clientSecret: 'race-secret',
    wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
    tokenExpirationBuffer: config.buffer,
    tokenRequestTimeout: config.timeout,
    ...(config.interval === undefined ? {} : { backgroundTokenRefreshInterval: config.interval }),
    fetch: fakeFetch,
  });

  function respond(attempt: Attempt, outcome: Outcome): void {
    attempt.settled = true;
    const { chain } = attempt;
    const now = Date.now();
    if (outcome.kind === 'token') {
      const token = `tok-${++serial}`;
      const realExpiry = attempt.sentAt + outcome.lifetimeS * 1000;
      issued.set(token, { realExpiry, generation: chain.generation });
      chain.done = true;
      // The client caches it only if no clearToken() came since the chain started, and it is not dead on arrival.
      if (chain.generation === model.generation && now < realExpiry) {
        model.cached = token;
        const lifetimeMs = outcome.lifetimeS * 1000;
        const bufferMs = config.buffer * 1000;
        model.servedUntil = attempt.sentAt + (lifetimeMs > bufferMs ? lifetimeMs - bufferMs : lifetimeMs / 2);
      }
      attempt.resolve(Response.json({ access_token: token, token_type: 'Bearer', expires_in: outcome.lifetimeS }));
    } else if (outcome.kind === '5xx') {
      if (chain.attempts < 3) chain.retryDueAt = now + RETRY_DELAY_MS;
      else chain.done = true;
      attempt.resolve(Response.json({ error: 'server_error' }, { status: 503 }));
    } else {
      chain.done = true;
      if (outcome.kind === '4xx') attempt.resolve(Response.json({ error: 'invalid_client' }, { status: 401 }));
      else if (outcome.kind === 'garbage') attempt.resolve(new Response('<html>oops</html>'));
      else attempt.reject(new TypeError('fetch failed'));
    }
  }

  function startCaller(signalKind: 'none' | 'later' | 'pre'): void {
    const controller = signalKind === 'none' ? undefined : new AbortController();
    if (signalKind === 'pre') controller?.abort();
    const caller: Caller = {
      startGeneration: model.generation,
      destroyedAtStart: model.destroyed,
      preAborted: signalKind === 'pre',
      controller,
      abortedAt: undefined,
      settled: false,
    };
    callers.push(caller);
    client.getToken(controller ? { signal: controller.signal } : undefined).then(
      (token) => {
        caller.settled = true;
        const record = issued.get(token);
        if (typeof token !== 'string' || token === '' || record === undefined) return violate(`resolved ${token}`);
        if (Date.now() >= record.realExpiry)
          violate(`resolved ${token}, expired ${Date.now() - record.realExpiry} ms ago`);
        if (record.generation < caller.startGeneration)
          violate(`resolved ${token}, issued before a later clearToken()`);
        if (caller.destroyedAtStart) violate('resolved after destroy()');
        if (caller.preAborted || caller.abortedAt !== undefined) violate('resolved after its signal aborted');
      },
      (error: unknown) => {
        caller.settled = true;
        if (!(error instanceof WristbandM2MError)) return violate(`rejected with ${String(error)}`);
        if (caller.destroyedAtStart && error.code !== 'CLIENT_DESTROYED') violate(`after destroy(): ${error.code}`);
        else if (caller.preAborted && !caller.destroyedAtStart && error.code !== 'ABORTED')
          violate(`pre-aborted: ${error.code}`);
      },
    );
  }

  // Several turns: a failed answer travels through the body reader, the round and the callers before it settles.
  const flush = async () => {
    for (let i = 0; i < 5; i++) await vi.advanceTimersByTimeAsync(0);
  };

  for (const op of ops) {
    switch (op.kind) {
      case 'get': {
        const cacheHit = !model.destroyed && model.cached !== undefined && Date.now() < model.servedUntil;
        const requestsBefore = attempts.length;
        startCaller(op.signal);
        await flush();
        if (cacheHit && attempts.length > requestsBefore)
          violate('a request was sent while the model had a valid token');
        const mustFetch =
          !model.destroyed &&
          op.signal !== 'pre' &&
          !cacheHit &&
          !chains.some((c) => !c.done && c.generation === model.generation);
        if (mustFetch && attempts.length === requestsBefore)
          violate('no request was sent though the model had no valid token');
        break;
      }
      case 'abort': {
        const caller = callers.find((c) => !c.settled && c.controller && !c.controller.signal.aborted);
        if (caller) {
          caller.abortedAt = Date.now();
          caller.controller?.abort();
          await flush();
          if (!caller.settled) violate('an aborted caller did not settle at once');
        }
        break;
      }
      case 'clear': {
        if (op.which === 'all') {
          client.clearToken();
          model.generation++;
          model.cached = undefined;
        } else if (op.which === 'cached' && model.cached !== undefined) {
          client.clearToken(model.cached);
          model.generation++;
          model.cached = undefined;
        } else {
          const stale = [...issued.keys()].find((t) => t !== model.cached);
          if (stale !== undefined) client.clearToken(stale); // must be a no-op
        }
        break;
      }
      case 'destroy':
        client.destroy();
        if (!model.destroyed) model.generation++;
        model.destroyed = true;
        model.cached = undefined;
        await flush();
        if (vi.getTimerCount() !== 0) violate(`${vi.getTimerCount()} timers left after destroy()`);
        break;
      case 'advance':
        await vi.advanceTimersByTimeAsync(op.ms);
        break;
      case 'tick':
        await vi.advanceTimersByTimeAsync((config.interval ?? 60) * 1000);
        break;
      case 'respond': {
        const attempt = attempts.find((a) => !a.settled);
        if (attempt) respond(attempt, op.outcome);
        break;
      }
    }
    await flush();
    if (violations.length > 0) break;
  }

  // Drain: the endpoint recovers and answers everything; every caller must settle.
  for (let round = 0; round < 20 && callers.some((c) => !c.settled); round++) {
    for (const attempt of attempts.filter((a) => !a.settled)) respond(attempt, { kind: 'token', lifetimeS: 3600 });
    await vi.advanceTimersByTimeAsync(RETRY_DELAY_MS);
  }
  const unsettled = callers.filter((c) => !c.settled).length;
  if (unsettled > 0) violate(`${unsettled} callers never settled`);
  client.destroy();
  await flush();
  if (vi.getTimerCount() !== 0) violate(`${vi.getTimerCount()} timers left after the final destroy()`);
  vi.clearAllTimers();
  expect(violations).toEqual([]);
}

it(`holds every invariant over ${RUNS.toLocaleString('en-US')} random interleavings`, async () => {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(configArb, fc.array(opArb, { minLength: 1, maxLength: 40 }), async (config, ops) => {
      runs++;
      await runScenario(config, ops);
    }),
    { numRuns: RUNS },
  );
  expect(runs).toBeGreaterThanOrEqual(RUNS);
}, 600_000);
