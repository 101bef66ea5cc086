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
// RACE_RUNS sets the number of runs (1,000 by default; `npm run test:race` does 100,000). A failure prints its seed
// and path: RACE_SEED=<seed> RACE_PATH=<path> replays exactly that run.
import fc from 'fast-check';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import {
  createWristbandM2MClient,
  type TokenStore,
  WristbandM2MError,
  type WristbandM2MClient,
} from '../../src/index.js';
import { FAKED } from '../support/clocks.js';

const RUNS = Number(process.env.RACE_RUNS ?? 1_000);
/** fast-check's options: the number of runs, or the one failing run to replay. */
const REPLAY =
  process.env.RACE_SEED === undefined
    ? { numRuns: RUNS }
    : { numRuns: RUNS, seed: Number(process.env.RACE_SEED), path: process.env.RACE_PATH, endOnFailure: true };
const RETRY_DELAY_MS = 100;

type Outcome =
  | { kind: 'token'; lifetimeS: number }
  | { kind: '5xx' | '4xx' | 'network' | 'garbage' }
  | { kind: '429'; retryAfterS: number };
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
  /** When several chains are due at one instant: the order in which their retries were scheduled. */
  retryOrder?: number;
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
  /** Rejected at once because the client is backing off after failed rounds. */
  backingOff?: boolean;
  /** The token it resolved with. */
  value?: string;
}

/** What both models know of a caller when it settles, whatever else each tracks. */
type SettledCaller = Pick<Caller, 'destroyedAtStart' | 'preAborted' | 'abortedAt'>;

/** The signal a caller passes: none, one aborted later by an op, or one aborted before the call. */
function callerSignal(kind: 'none' | 'later' | 'pre'): AbortController | undefined {
  const controller = kind === 'none' ? undefined : new AbortController();
  if (kind === 'pre') controller?.abort();
  return controller;
}

/** The checks of both models on a caller that got a token: none after destroy() or its signal's abort. */
function checkResolved(caller: SettledCaller, violate: (what: string) => void): void {
  if (caller.destroyedAtStart) violate('resolved after destroy()');
  if (caller.preAborted || caller.abortedAt !== undefined) violate('resolved after its signal aborted');
}

/** The checks of both models on a caller that was rejected: only with a WristbandM2MError, of the code it is owed. */
function checkRejected(caller: SettledCaller, error: unknown, violate: (what: string) => void): void {
  if (!(error instanceof WristbandM2MError)) violate(`rejected with ${String(error)}`);
  else if (caller.destroyedAtStart && error.code !== 'CLIENT_DESTROYED') violate(`after destroy(): ${error.code}`);
  else if (caller.preAborted && !caller.destroyedAtStart && error.code !== 'ABORTED')
    violate(`pre-aborted: ${error.code}`);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: [...FAKED] });
});
afterEach(() => {
  vi.useRealTimers();
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
  const model = {
    generation: 0,
    cached: undefined as string | undefined,
    servedUntil: 0,
    refreshFrom: 0,
    /** Until when the client serves the token at once while refreshing it (lifetime - min(buffer, 10 s)). */
    usableUntil: 0,
    destroyed: false,
  };
  const chains: Chain[] = [];
  const attempts: Attempt[] = [];
  const issued = new Map<string, { realExpiry: number; generation: number }>();
  const callers: Caller[] = [];
  let serial = 0;
  let retryOrder = 0;

  const fakeFetch = (_input: unknown, init?: RequestInit): Promise<Response> =>
    new Promise((resolve, reject) => {
      const now = Date.now();
      // A retry is due exactly RETRY_DELAY_MS after a 5xx; anything else starts a new chain. Two chains due at the
      // same instant send in the order their pauses began (timers with one due time fire in creation order).
      let chain = chains
        .filter((c) => !c.done && c.retryDueAt === now)
        .sort((a, b) => (a.retryOrder ?? 0) - (b.retryOrder ?? 0))[0];
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
        const refreshAfterMs = lifetimeMs > bufferMs ? lifetimeMs - bufferMs : lifetimeMs / 2;
        model.servedUntil = attempt.sentAt + refreshAfterMs;
        // The refresh ahead may start earlier by up to 10% of the time from receipt to the refresh instant (jitter).
        model.refreshFrom = model.servedUntil - 0.1 * Math.max(0, refreshAfterMs - (now - attempt.sentAt));
        model.usableUntil = attempt.sentAt + Math.max(refreshAfterMs, lifetimeMs - Math.min(bufferMs, 10_000));
      }
      attempt.resolve(Response.json({ access_token: token, token_type: 'Bearer', expires_in: outcome.lifetimeS }));
    } else if (outcome.kind === '5xx') {
      if (chain.attempts < 3) {
        chain.retryDueAt = now + RETRY_DELAY_MS;
        chain.retryOrder = ++retryOrder;
      } else chain.done = true;
      attempt.resolve(Response.json({ error: 'server_error' }, { status: 503 }));
    } else {
      chain.done = true;
      if (outcome.kind === '4xx') attempt.resolve(Response.json({ error: 'invalid_client' }, { status: 401 }));
      else if (outcome.kind === 'garbage') attempt.resolve(new Response('<html>oops</html>'));
      else attempt.reject(new TypeError('fetch failed'));
    }
  }

  function startCaller(signalKind: 'none' | 'later' | 'pre'): Caller {
    const controller = callerSignal(signalKind);
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
        caller.value = token;
        const record = issued.get(token);
        if (typeof token !== 'string' || token === '' || record === undefined)
          return violate(`resolved ${JSON.stringify(token)} at ${performance.now()} issued ${[...issued.keys()]}`);
        if (Date.now() >= record.realExpiry)
          violate(`resolved ${token}, expired ${Date.now() - record.realExpiry} ms ago`);
        if (record.generation < caller.startGeneration)
          violate(`resolved ${token}, issued before a later clearToken()`);
        checkResolved(caller, violate);
      },
      (error: unknown) => {
        caller.settled = true;
        caller.backingOff = error instanceof Error && /No token request is sent for/.test(error.message);
        checkRejected(caller, error, violate);
      },
    );
    return caller;
  }

  const flush = () => vi.advanceTimersByTimeAsync(0);

  for (const op of ops) {
    switch (op.kind) {
      case 'get': {
        const cacheHit = !model.destroyed && model.cached !== undefined && Date.now() < model.servedUntil;
        // Past the refresh instant but before usableUntil: the current token, at once, whatever is in flight.
        const servedThroughRefresh =
          !model.destroyed && model.cached !== undefined && !cacheHit && Date.now() < model.usableUntil;
        // Backing off after failed rounds (background ones included), the client sends nothing: a token it may still
        // serve is served, otherwise the call is rejected. The model does not track the backoff's random length, so
        // it reads the client's own snapshot (a pure read) before the call.
        const backingOffBefore = client.state.retryAt !== undefined;
        const requestsBefore = attempts.length;
        const caller = startCaller(op.signal);
        await flush();
        if (servedThroughRefresh && op.signal !== 'pre' && caller.value !== model.cached) {
          violate(`a caller got ${caller.value ?? 'nothing yet'} while ${model.cached} was still to be served`);
        }
        if (cacheHit && Date.now() < model.refreshFrom && attempts.length > requestsBefore) {
          violate('a request was sent while the model had a fresh token');
        }
        // After two failed rounds in a row the client backs off: a call rejects at once with no request (the model
        // does not track the backoff's random length; the client says so in the error).
        const mustFetch =
          !model.destroyed &&
          op.signal !== 'pre' &&
          !cacheHit &&
          caller.backingOff !== true &&
          !backingOffBefore &&
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
    REPLAY,
  );
  expect(runs).toBeGreaterThanOrEqual(REPLAY.path === undefined ? RUNS : 1);
}, 600_000);

// ---------------------------------------------------------------------------------------------------------------
// The fleet model: two or three clients sharing one store whose calls take scripted time, fail or hang (driven by
// the fake timers), with getToken (with and without signals), clearToken(), clearToken(token), destroy(), background
// ticks, clock jumps both ways (a wall-clock step moves Date only; an advance moves both clocks) and endpoint
// outcomes interleaved. The store keeps its TTLs on its own clock (performance.now()), as Redis does.
// Invariants:
// F1. every caller settles: with a token issued by the endpoint, or a WristbandM2MError (CLIENT_DESTROYED for a
//     caller of a destroyed client, ABORTED for a pre-aborted one);
// F2. retirement: once clearToken(token) returned on a client that held that token, no caller of that client that
//     starts later gets it (not from memory, not read back from the store); and with a fault-free store, after
//     everything settled no record in the store holds a token any client retired;
// F3. locks: after every client is destroyed and every store call that will land has landed, no lock key is left,
//     except one whose release (compare-and-delete of its owner) failed or hung in the store, as when its holder
//     crashed; such a lock is gone once the store's TTL (the lock's, ceil(maxRoundMs)) has run;
// F4. nothing is sent by a client after its destroy(), and every timer is gone once all are destroyed and drained;
// F5. one round per rotation: while the store has not faulted (no failed, hung or timed-out call yet) and the lock
//     wait (30 s) outlasts any holder's round, a client starts a request chain only while it holds the fleet's lock
//     (the lock key's owner came from that client's acquire()), except for the one chain of each round detached
//     by clearToken() or destroy() (a detached round lets its lock go and shares nothing). With the lock
//     exclusive, that is one round per rotation however many clients miss, and no waiter fetching on its own after
//     a holder failed or left;
// F5b. and no client that holds the lock fetches while the store holds a token fresh by its rules and not
//     retired by it (checked with a healthy store, no wall-clock step back and no background refresh, which goes
//     to Wristband by design): the double-checking read after a won lock is what keeps a holder's late waiters
//     from a second request per rotation;
// F6. a resolved token is not expired by the monotonic clock (unless the wall clock was stepped back, when a
//     store record, dated by the wall clock, may look younger than it is).
// ---------------------------------------------------------------------------------------------------------------
import {
  type ScriptedStore,
  type StoreBehaviour,
  scriptedStore,
  seededRandom,
  synchronousWebCrypto,
} from '../support/fleet.js';
import { secretRecords, tokenStoreKeyPrefix } from '../../src/store/codec.js';

type FleetOp =
  | { kind: 'get'; client: number; signal: 'none' | 'later' | 'pre' }
  | { kind: 'abort' }
  | { kind: 'clear'; client: number; which: 'all' | 'served' | 'stale' }
  | { kind: 'destroy'; client: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'wall'; ms: number }
  /** The store loses the lock (a restart, an eviction, its TTL cut short) while its holder may still be running. */
  | { kind: 'evict' }
  /** Time runs to just before the shared token's unspread refresh instant: inside every client's spread. */
  | { kind: 'nearRefresh' }
  | { kind: 'tick' }
  | { kind: 'respond'; outcome: Outcome }
  | { kind: 'store'; behaviour: StoreBehaviour };

const STORE_TIMEOUT_S = 1;
const behaviourArb: fc.Arbitrary<StoreBehaviour> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 400 }).map((ms) => ({ kind: 'delay' as const, ms })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 300 }).map((ms) => ({ kind: 'fail' as const, ms })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'hang' as const }) },
  // Lands after the client gave up on it.
  { weight: 1, arbitrary: fc.integer({ min: 1_001, max: 3_000 }).map((ms) => ({ kind: 'delay' as const, ms })) },
);
const fleetOpArb = (clients: number): fc.Arbitrary<FleetOp> => {
  const client = fc.integer({ min: 0, max: clients - 1 });
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant('get' as const),
        client,
        signal: fc.constantFrom('none', 'later', 'pre'),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'abort' as const }) },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('clear' as const),
        client,
        which: fc.constantFrom('all', 'served', 'served', 'stale'),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('destroy' as const), client }) },
    {
      weight: 5,
      arbitrary: fc
        .oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 90_000 }))
        .map((ms) => ({ kind: 'advance' as const, ms })),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: -7_200_000, max: 7_200_000 }).map((ms) => ({ kind: 'wall' as const, ms })),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'tick' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'evict' as const }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'nearRefresh' as const }) },
    { weight: 5, arbitrary: fleetOutcomeArb.map((outcome) => ({ kind: 'respond' as const, outcome })) },
    { weight: 2, arbitrary: behaviourArb.map((behaviour) => ({ kind: 'store' as const, behaviour })) },
  );
};
/** Endpoint outcomes of the fleet model: the single client's, plus 429s whose Retry-After outlasts any backoff. */
const fleetOutcomeArb: fc.Arbitrary<Outcome> = fc.oneof(
  { weight: 9, arbitrary: outcomeArb },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 40, max: 300 }).map((retryAfterS) => ({ kind: '429' as const, retryAfterS })),
  },
);
const fleetArb = fc.integer({ min: 2, max: 3 }).chain((clients) =>
  fc.record({
    // Seeds Math.random: each client's refresh spread (and backoff share) is random, and the run reproducible.
    seed: fc.integer(),
    config: fc.record({
      clients: fc.constant(clients),
      buffer: fc.integer({ min: 0, max: 120 }),
      interval: fc.option(fc.integer({ min: 60, max: 600 }), { nil: undefined }),
      timeout: fc.integer({ min: 1, max: 5 }),
      // 30 s outlasts a holder's longest round (3 attempts of at most 5 s): F5 is checked then.
      lockWait: fc.constantFrom(1, 30),
    }),
    ops: fc.array(fleetOpArb(clients), { minLength: 1, maxLength: 40 }),
  }),
);

interface FleetChain {
  client: number;
  generation: number;
  attempts: number;
  retryDueAt: number | undefined;
  done: boolean;
}
interface FleetAttempt {
  chain: FleetChain;
  sentMono: number;
  settled: boolean;
  resolve: (response: Response) => void;
  reject: (error: unknown) => void;
}
interface FleetCaller {
  client: number;
  startedAt: number; // op index
  destroyedAtStart: boolean;
  preAborted: boolean;
  controller: AbortController | undefined;
  abortedAt: number | undefined;
  settled: boolean;
  value: string | undefined;
}

type FleetConfig = { clients: number; buffer: number; interval: number | undefined; timeout: number; lockWait: number };

async function runFleetScenario(config: FleetConfig, ops: FleetOp[], seed: number): Promise<void> {
  // Fresh clocks for every run: both start where a process starts (performance.now() at 0).
  vi.useRealTimers();
  vi.useFakeTimers({ toFake: [...FAKED] });
  // The refresh spread is on: each client draws its own, as in production.
  const random = vi.spyOn(Math, 'random').mockImplementation(seededRandom(seed));
  /** The latest instant (monotonic) until which the endpoint asked for a pause (Retry-After). */
  let pauseEndsMono = 0;
  const violations: string[] = [];
  const violate = (what: string): void => void violations.push(what);
  const store: ScriptedStore = scriptedStore();
  const plan: StoreBehaviour[] = [];
  let storeFaulted = false;
  store.script = () => {
    const behaviour = plan.shift() ?? { kind: 'now' };
    if (
      behaviour.kind === 'fail' ||
      behaviour.kind === 'hang' ||
      (behaviour.kind === 'delay' && behaviour.ms >= STORE_TIMEOUT_S * 1000)
    ) {
      storeFaulted = true;
    }
    return behaviour;
  };
  const chains: FleetChain[] = [];
  const attempts: FleetAttempt[] = [];
  const issued = new Map<string, { realExpiryMono: number }>();
  const callers: FleetCaller[] = [];
  const generation = Array.from({ length: config.clients }, () => 0);
  const destroyed = Array.from({ length: config.clients }, () => false);
  /** Per client: token -> op index at which clearToken(token) retired it. */
  const retired = Array.from({ length: config.clients }, () => new Map<string, number>());
  const served = Array.from({ length: config.clients }, () => [] as string[]);
  /**
   * Which client's acquire() wrote each lock owner; per client, rounds detached by clearToken() or destroy() (it
   * had a round in flight then) that may still send their one request chain without the lock.
   */
  const lockOwners = new Map<string, number>();
  const detachedRounds = Array.from({ length: config.clients }, () => 0);
  const detach = (client: number): void => {
    if ((clients[client] as WristbandM2MClient).state.refreshing)
      detachedRounds[client] = (detachedRounds[client] as number) + 1;
  };
  const storeView = (client: number): TokenStore => ({
    get: (key) => store.get(key),
    set: (key, value, ttl) => store.set(key, value, ttl),
    delete: (key) => store.delete(key),
    deleteIfEquals: (key, value) => (store.deleteIfEquals as NonNullable<TokenStore['deleteIfEquals']>)(key, value),
    acquire: (key, ttl, owner) => {
      lockOwners.set(owner, client);
      return (store.acquire as NonNullable<TokenStore['acquire']>)(key, ttl, owner);
    },
  });
  let wallSteppedBack = false;
  /** How far the wall clock was stepped back in all. */
  let wallBack = 0;
  /** Per client: the serial of the last token issued before its last clearToken() without a token. */
  const clearedAllAt = Array.from({ length: config.clients }, () => 0);
  // Records are plain JSON in this model, so that a check can read the store synchronously.
  const recordKey = (
    await secretRecords(
      'race-secret',
      tokenStoreKeyPrefix('https://acme.us.wristband.dev/api/v1/oauth2/token', 'race'),
      false,
    )
  ).key;
  const sharedRecord = (): { accessToken: string; sentAt: number; expiresInSeconds: number } | undefined => {
    const value = store.entries().get(recordKey);
    return value === undefined ? undefined : JSON.parse(value);
  };
  const refreshAfterMs = (lifetimeS: number): number =>
    lifetimeS * 1000 > config.buffer * 1000 ? lifetimeS * 1000 - config.buffer * 1000 : (lifetimeS * 1000) / 2;
  /** Until when a client serves a shared token (lifetime - min(buffer, 10 s), never before its refresh instant). */
  const servedUntilOf = (token: { sentAt: number; expiresInSeconds: number }): number =>
    token.sentAt +
    Math.max(
      refreshAfterMs(token.expiresInSeconds),
      token.expiresInSeconds * 1000 - Math.min(config.buffer * 1000, 10_000),
    );
  let serial = 0;
  let opIndex = 0;

  const fetchFor =
    (client: number) =>
    (_input: unknown, init?: RequestInit): Promise<Response> =>
      new Promise((resolve, reject) => {
        if (destroyed[client]) violate(`client ${client} sent a request after destroy()`);
        const now = performance.now();
        let chain = chains.find(
          (c) => c.client === client && !c.done && c.retryDueAt !== undefined && c.retryDueAt <= now,
        );
        if (chain) {
          chain.retryDueAt = undefined;
          chain.attempts++;
        } else {
          chain = { client, generation: generation[client] as number, attempts: 1, retryDueAt: undefined, done: false };
          const holdsLock = [...store.locks().values()].some((owner) => lockOwners.get(owner) === client);
          const shared = sharedRecord();
          if (
            holdsLock &&
            !storeFaulted &&
            !wallSteppedBack &&
            config.interval === undefined && // a background refresh goes to Wristband by design
            shared !== undefined &&
            !retired[client]?.has(shared.accessToken) &&
            // clearToken() retires whatever the client held, which the model does not see: any token issued before it.
            Number(shared.accessToken.slice(4)) > (clearedAllAt[client] as number) &&
            shared.sentAt <= Date.now() + 60_000 &&
            Date.now() - shared.sentAt < refreshAfterMs(shared.expiresInSeconds) &&
            // A refresh ahead (its spread brings it before the unspread instant) fetches past its own token.
            (clients[client] as WristbandM2MClient).state.expiresAt !== servedUntilOf(shared)
          ) {
            violate(`client ${client} fetched while the store held ${shared.accessToken}, fresh and not retired by it`);
          }
          if (!holdsLock && (detachedRounds[client] as number) > 0) {
            detachedRounds[client] = (detachedRounds[client] as number) - 1; // that detached round's own request
          } else if (!storeFaulted && config.lockWait === 30 && !holdsLock) {
            violate(`client ${client} started a request chain without holding the lock, with a healthy store`);
          }
          chains.push(chain);
        }
        const attempt: FleetAttempt = { chain, sentMono: now, settled: false, resolve, reject };
        attempts.push(attempt);
        init?.signal?.addEventListener('abort', () => {
          if (attempt.settled) return;
          attempt.settled = true;
          attempt.chain.done = true;
          reject(init.signal?.reason);
        });
      });

  /**
   * F7: per client, the expiry of the token it holds (set by each onTokenRefreshed, forgotten at clearToken()): a
   * token taken from the store is never the one the client already holds (a refresh ahead re-taking its own token).
   */
  const heldExpiry = Array.from({ length: config.clients }, () => undefined as number | undefined);
  const clients = Array.from({ length: config.clients }, (_, i) =>
    createWristbandM2MClient({
      clientId: 'race',
      clientSecret: 'race-secret',
      wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
      tokenExpirationBuffer: config.buffer,
      tokenRequestTimeout: config.timeout,
      onTokenRefreshed: (event) => {
        // Only a token the client now holds counts (a detached round's is reported, not cached): its refreshAt
        // carries the client's own spread, so no other token matches both.
        const { expiresAt, refreshAt } = (clients[i] as WristbandM2MClient).state;
        if (expiresAt !== event.expiresAt || refreshAt !== event.refreshAt) return;
        // Only a round started while the client held a token can take it back: a refresh ahead or a background one.
        // A round detached by clearToken() and reported later may find the token the client's next round took.
        const ahead = event.reason === 'expiring' || event.reason === 'background';
        if (event.source === 'store' && ahead && !wallSteppedBack && event.expiresAt === heldExpiry[i])
          violate(`client ${i} took its own token back from the store (${event.reason})`);
        heldExpiry[i] = event.expiresAt;
      },
      tokenStore: storeView(i),
      tokenStoreEncryption: false,
      tokenStoreTimeout: STORE_TIMEOUT_S,
      tokenStoreLockWait: config.lockWait,
      ...(config.interval === undefined ? {} : { backgroundTokenRefreshInterval: config.interval }),
      fetch: fetchFor(i),
    }),
  );

  function respond(attempt: FleetAttempt, outcome: Outcome): void {
    attempt.settled = true;
    const { chain } = attempt;
    if (outcome.kind === 'token') {
      const token = `tok-${++serial}`;
      issued.set(token, { realExpiryMono: attempt.sentMono + outcome.lifetimeS * 1000 });
      chain.done = true;
      attempt.resolve(Response.json({ access_token: token, token_type: 'Bearer', expires_in: outcome.lifetimeS }));
    } else if (outcome.kind === '5xx') {
      if (chain.attempts < 3) chain.retryDueAt = performance.now() + RETRY_DELAY_MS;
      else chain.done = true;
      attempt.resolve(Response.json({ error: 'server_error' }, { status: 503 }));
    } else if (outcome.kind === '429') {
      chain.done = true;
      pauseEndsMono = Math.max(pauseEndsMono, performance.now() + outcome.retryAfterS * 1000);
      attempt.resolve(
        Response.json({ error: 'slow_down' }, { status: 429, headers: { 'retry-after': String(outcome.retryAfterS) } }),
      );
    } else {
      chain.done = true;
      if (outcome.kind === '4xx') attempt.resolve(Response.json({ error: 'invalid_client' }, { status: 401 }));
      else if (outcome.kind === 'garbage') attempt.resolve(new Response('<html>oops</html>'));
      else attempt.reject(new TypeError('fetch failed'));
    }
  }

  function startCaller(client: number, signalKind: 'none' | 'later' | 'pre'): FleetCaller {
    const controller = callerSignal(signalKind);
    const caller: FleetCaller = {
      client,
      startedAt: opIndex,
      destroyedAtStart: destroyed[client] as boolean,
      preAborted: signalKind === 'pre',
      controller,
      abortedAt: undefined,
      settled: false,
      value: undefined,
    };
    callers.push(caller);
    (clients[client] as WristbandM2MClient).getToken(controller ? { signal: controller.signal } : undefined).then(
      (token) => {
        caller.settled = true;
        caller.value = token;
        served[client]?.push(token);
        const record = issued.get(token);
        if (typeof token !== 'string' || token === '' || record === undefined)
          return violate(`resolved ${JSON.stringify(token)} at ${performance.now()} issued ${[...issued.keys()]}`);
        if (!wallSteppedBack && performance.now() >= record.realExpiryMono)
          violate(`resolved ${token} after it expired`);
        const retiredAt = retired[client]?.get(token);
        if (retiredAt !== undefined && retiredAt < caller.startedAt)
          violate(`client ${client} served ${token} after retiring it`);
        checkResolved(caller, violate);
      },
      (error: unknown) => {
        caller.settled = true;
        checkRejected(caller, error, violate);
        // F9: a failure noted through the store ends a wait only while no other process holds the lock: the note of
        // a process whose lock was lost must not fail the waiters of the lock's next holder.
        if (error instanceof Error && error.message.includes('reported through the token store')) {
          const note = store.entries().get(`${recordKey}:failed`);
          const noteOwner = note === undefined ? undefined : (JSON.parse(note) as { owner?: string }).owner;
          const holder = store.locks().get(`${recordKey}:lock`);
          if (holder !== undefined && holder !== noteOwner && !storeFaulted && evicted)
            violate(`client ${client} failed with another process's note while ${holder.slice(0, 8)} held the lock`);
        }
      },
    );
    return caller;
  }

  const flush = () => vi.advanceTimersByTimeAsync(0);
  let evicted = false;

  for (const op of ops) {
    opIndex++;
    switch (op.kind) {
      case 'get':
        startCaller(op.client, op.signal);
        break;
      case 'abort': {
        const caller = callers.find((c) => !c.settled && c.controller && !c.controller.signal.aborted);
        if (caller) {
          caller.abortedAt = opIndex;
          caller.controller?.abort();
          await flush();
          if (!caller.settled) violate('an aborted caller did not settle at once');
        }
        break;
      }
      case 'clear': {
        const client = clients[op.client] as WristbandM2MClient;
        heldExpiry[op.client] = undefined;
        if (op.which === 'all') {
          detach(op.client);
          client.clearToken();
          clearedAllAt[op.client] = serial;
          generation[op.client] = (generation[op.client] as number) + 1;
        } else if (op.which === 'served') {
          // As after a 401: get the token, then clear exactly it. A cache hit resolves within one microtask, before
          // anything else can change the cache, so the token cleared is the one the cache held.
          const probe = startCaller(op.client, 'none');
          await Promise.resolve();
          if (probe.value !== undefined) {
            detach(op.client);
            client.clearToken(probe.value);
            retired[op.client]?.set(probe.value, opIndex);
            generation[op.client] = (generation[op.client] as number) + 1;
          }
        } else {
          const stale = served[op.client]?.find((t) => !retired[op.client]?.has(t) && t !== served[op.client]?.at(-1));
          if (stale !== undefined) client.clearToken(stale); // a no-op unless the cache still holds it
        }
        break;
      }
      case 'destroy':
        detach(op.client);
        (clients[op.client] as WristbandM2MClient).destroy();
        if (!destroyed[op.client]) generation[op.client] = (generation[op.client] as number) + 1;
        destroyed[op.client] = true;
        break;
      case 'advance':
        await vi.advanceTimersByTimeAsync(op.ms);
        break;
      case 'evict':
        for (const key of store.locks().keys()) store.drop(key);
        evicted = true;
        break;
      case 'nearRefresh': {
        const shared = sharedRecord();
        const untilMs =
          shared === undefined ? 0 : shared.sentAt + refreshAfterMs(shared.expiresInSeconds) - 50 - Date.now();
        if (untilMs > 0) await vi.advanceTimersByTimeAsync(untilMs);
        break;
      }
      case 'wall':
        vi.setSystemTime(Date.now() + op.ms);
        if (op.ms < 0) wallSteppedBack = true;
        if (op.ms < 0) wallBack -= op.ms;
        break;
      case 'tick':
        await vi.advanceTimersByTimeAsync((config.interval ?? 60) * 1000);
        break;
      case 'respond': {
        const attempt = attempts.find((a) => !a.settled);
        if (attempt) respond(attempt, op.outcome);
        break;
      }
      case 'store':
        plan.push(op.behaviour);
        break;
    }
    await flush();
    // F8: a client pauses no longer than its longest backoff, or than what is left of the pause the endpoint asked
    // for: a Retry-After read late (from another process's note) pauses only what is left of it.
    for (const [i, client] of clients.entries()) {
      const { retryAt } = client.state;
      if (retryAt === undefined || destroyed[i]) continue;
      const left = retryAt - Date.now();
      // A note carries its end in wall time (it crosses processes): a wall clock stepped back lengthens it as much.
      const allowed = Math.max(30_000, pauseEndsMono - performance.now()) + wallBack + 1_000;
      if (left > allowed) violate(`client ${i} pauses ${left} ms, past the endpoint's pause (${allowed} ms allowed)`);
    }
    if (violations.length > 0) break;
  }

  // Drain: the store heals, the endpoint answers everything; every caller must settle within a round's longest
  // duration (a lock whose release the store lost makes waiters wait their full lock wait).
  plan.length = 0;
  const longestRoundMs = (3 * config.timeout + 0.2 + 7 * STORE_TIMEOUT_S + config.lockWait + 1) * 1000;
  for (let round = 0; round < longestRoundMs / 500 + 10 && callers.some((c) => !c.settled); round++) {
    for (const attempt of attempts.filter((a) => !a.settled)) respond(attempt, { kind: 'token', lifetimeS: 3600 });
    await vi.advanceTimersByTimeAsync(500);
  }
  const unsettled = callers.filter((c) => !c.settled).length;
  if (unsettled > 0) violate(`${unsettled} callers never settled`);
  for (const [i, client] of clients.entries()) {
    client.destroy();
    destroyed[i] = true;
  }
  // Every store call that will land lands (delays are at most 3 s, bounded calls give up after 1 s).
  await vi.advanceTimersByTimeAsync(5_000);
  await vi.advanceTimersByTimeAsync(5_000);
  if (vi.getTimerCount() !== 0) violate(`${vi.getTimerCount()} timers left after every client was destroyed`);
  // F3: locks left only where the store lost their release; those go with their TTL.
  const faulty = (kind: StoreBehaviour['kind']): boolean => kind === 'fail' || kind === 'hang';
  for (const [key, owner] of store.locks()) {
    const lost = store.calls.some(
      (c) =>
        (c.op === 'deleteIfEquals' || c.op === 'get') &&
        c.key === key &&
        (c.op === 'get' || c.value === owner) &&
        faulty(c.behaviour.kind),
    );
    if (!lost) violate(`lock ${key.slice(-18)} (${owner}) outlived its refresh`);
  }
  if (store.locks().size > 0) {
    // The longest lock TTL: ceil(maxRoundMs), from the configuration.
    await vi.advanceTimersByTimeAsync(longestRoundMs);
    if (store.locks().size > 0) violate('a lock outlived its TTL');
  }
  // F2, store side: with a fault-free store nothing retired is left in it.
  if (!storeFaulted) {
    const record = sharedRecord();
    if (record !== undefined && retired.some((r) => r.has(record.accessToken)))
      violate(`the store still holds retired ${record.accessToken}`);
  }
  vi.clearAllTimers();
  random.mockRestore();
  expect(violations).toEqual([]);
}

it(`holds every fleet invariant over ${RUNS.toLocaleString('en-US')} random interleavings of clients sharing a store`, async () => {
  const restoreCrypto = synchronousWebCrypto();
  let runs = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fleetArb, async ({ config, ops, seed }) => {
        runs++;
        await runFleetScenario(config, ops, seed);
      }),
      REPLAY,
    );
  } finally {
    restoreCrypto();
  }
  expect(runs).toBeGreaterThanOrEqual(REPLAY.path === undefined ? RUNS : 1);
}, 3_600_000);
