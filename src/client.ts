/**
 * The client: the facade users hold, the hot path, and the wiring. What a call gets and what an event does to the
 * cache is decided in `core/token-state.ts` (pure); what a round does in `core/round.ts` (secrets, then the fleet in
 * `store/fleet.ts` or the endpoint in `http/token-request.ts`). This file only reads the clock at each entry point,
 * asks the state machine, and carries out its answer: it starts rounds, lets callers wait on them (each bounded by
 * its own clock), and reports what happened.
 */
import { createAuthenticatedFetch } from './authenticated-fetch.js';
import { fromWall, type Instant, readClock } from './clock.js';
import {
  type FetchImplementation,
  type ResolvedConfig,
  resolveConfig,
  type WristbandM2MClientConfig,
} from './config.js';
import { ABANDON_GRACE_MS, longestRoundMs, type RoundDeps, type RoundOutcome, runRound } from './core/round.js';
import { tokenSchedule } from './core/schedule.js';
import {
  apply,
  type CachedToken,
  decide,
  hotWindow,
  INITIAL_STATE,
  isCurrent,
  phaseOf,
  shouldRefreshInBackground,
  snapshot,
  type TokenEvent,
  type TokenState,
  takesStored,
  type WristbandM2MClientState,
} from './core/token-state.js';
import { createCredentials } from './credentials/credentials.js';
import { checkedSignal, clientDestroyed, WristbandM2MError } from './errors.js';
import { callHook, type RefreshReason } from './hooks.js';
import { createTokenRequester } from './http/token-request.js';
import { createLatch, type Latch } from './latch.js';
import { createFleet } from './store/fleet.js';
import { startUnrefInterval, within } from './timers.js';

export type { WristbandM2MClientState } from './core/token-state.js';

/** What keeps a Cloudflare Worker request's unfinished work alive: its execution context, or its bound `waitUntil`. */
export type WaitUntil = ((promise: Promise<unknown>) => void) | { waitUntil(promise: Promise<unknown>): void };

/** Options of {@link WristbandM2MClient.getToken}. */
export interface GetTokenOptions {
  /**
   * Stops this caller's wait: it rejects with an `ABORTED` {@link WristbandM2MError} whose `cause` is the signal's
   * reason. A token request shared with other callers keeps going for them.
   */
  signal?: AbortSignal;
  /**
   * Cloudflare Workers: the request's execution context (`ctx`), or its `waitUntil` bound to it
   * (`ctx.waitUntil.bind(ctx)`). Every refresh this call starts is handed to it, so the runtime does not cancel it
   * when the response goes out. A `waitUntil` that throws when called (an unbound `ctx.waitUntil`) makes the call
   * reject with an `INVALID_CONFIG` error that says how to pass it.
   * @default undefined
   */
  waitUntil?: WaitUntil;
}

/** A token client for one Wristband M2M OAuth2 client. Create one per process (or per Worker module) and share it. */
export interface WristbandM2MClient {
  /**
   * Resolves to a valid access token. While the cached token is fresh, at once. From its refresh instant on, the
   * first call starts one refresh in the background and every call still gets the cached token at once, until the
   * refresh brings a new one; a failed refresh is reported, not thrown, while the cached token is usable. With no
   * usable token, calls share one round of token requests (a 5xx is tried up to 3 times, 100 ms apart) and reject
   * with its {@link WristbandM2MError} if it fails; after two failed rounds in a row, calls reject at once until
   * the backoff (`retryAfterMs`) has passed.
   */
  getToken(options?: GetTokenOptions): Promise<string>;
  /**
   * Forgets the cached token, so the next `getToken()` fetches a new one: call it when an API answers 401.
   * Callers already waiting on a request keep its result; calls made after this one never get a token from it.
   *
   * @param token The token the API rejected. The cache is cleared only if it still holds that token, so many
   * concurrent 401s cause one refresh, and a late 401 for an old token never evicts a newer one.
   */
  clearToken(token?: string): void;
  /**
   * `fetch` with `Authorization: Bearer <token>` added (replacing any Authorization header given), and one retry
   * with a fresh token when the answer is 401. See {@link createAuthenticatedFetch}.
   */
  fetch: FetchImplementation;
  /** What the client holds right now; each read is a new snapshot. */
  readonly state: WristbandM2MClientState;
  /**
   * Stops the background refresh timer, cancels any token request in flight (its callers get `CLIENT_DESTROYED`),
   * releases any store lock and drops the cache. Later calls of `getToken()` reject with `CLIENT_DESTROYED`.
   * Calling it again does nothing. Also `client[Symbol.dispose]()` where the runtime defines `Symbol.dispose`, so
   * `using client = createWristbandM2MClient(...)` works.
   */
  destroy(): void;
}

/**
 * A round callers can wait on, with what the client needs to give it up. Plain values and the round's own objects:
 * a caller in another Cloudflare Worker request reads only the plain ones.
 */
interface LiveRound {
  readonly seq: number;
  /** Settled by the round itself once its outcome is applied. */
  readonly promise: Promise<string>;
  /** `performance.now()` past which the round is given up as wedged; moved once its secrets are known. */
  deadline: number;
  /** Aborts its I/O: on destroy(), or when it is given up. */
  readonly controller: AbortController;
  /** Fires when its result may no longer fill the cache: its fleet lock goes, and it shares nothing. */
  readonly detached: Latch;
  /** Set when it was given up past its deadline: its own failure then moves its callers on instead. */
  givenUp: boolean;
  /** The wait shared by the callers without a signal of the current synchronous burst, until its microtasks run. */
  burst: { promise: Promise<string>; replacing: boolean } | undefined;
  /** The callers waiting on it, so that destroy() or a give-up reaches each at once. */
  readonly waiters: Set<Waiter>;
  /** One abort listener per distinct caller signal, however many callers share it, with how many do. */
  readonly signals: Map<AbortSignal, { listener: () => void; callers: number }>;
}

interface Waiter {
  readonly signal: AbortSignal | undefined;
  fail(error: WristbandM2MError): void;
  /** The round was given up: wait for the round that replaces it instead (once). */
  replace(): void;
}

const noop = (): void => undefined;

/**
 * The client's state and its wiring. Not exported: the public object holds only a few closures over one instance,
 * so a client costs well under a kilobyte until it is used, and `console.log(client)` shows nothing but its methods.
 */
class TokenClient {
  /** The hot path's answer and window (wall time), derived from the state by `hotWindow()` at each full check. */
  #resolved: Promise<string> | undefined;
  #freshFrom = 0;
  #freshUntil = 0;
  #state: TokenState = INITIAL_STATE;
  /** Rounds not yet settled, detached ones included, by sequence number; made at the first round. */
  #rounds: Map<number, LiveRound> | undefined;
  #deps: RoundDeps | undefined;
  #stopBackgroundRefresh: (() => void) | undefined;
  readonly #settings: ResolvedConfig;

  constructor(settings: ResolvedConfig) {
    this.#settings = settings;
  }

  /** Everything but a fresh token's cache hit. Never throws: a failure is a rejected promise. */
  acquire(options: GetTokenOptions | undefined, replacing = false): Promise<string> {
    try {
      const signal = checkedSignal(options?.signal);
      if (signal?.aborted && !this.#state.destroyed) return Promise.reject(aborted(signal));
      const waitUntil = options?.waitUntil;
      if (waitUntil !== undefined && typeof waitUntil !== 'function' && typeof waitUntil?.waitUntil !== 'function') {
        return Promise.reject(badWaitUntil(undefined));
      }
      const now = readClock();
      this.#giveUpOverdue(now);
      const decision = decide(this.#state, now);
      if (decision.action === 'reject') return Promise.reject(decision.error);
      if (decision.action !== 'serve') this.#startBackgroundRefresh();
      if (decision.action === 'serve' || decision.action === 'serve-and-refresh') {
        this.#rearm(now);
        const served = this.#resolved as Promise<string>;
        if (decision.action === 'serve-and-refresh') {
          const handedOver = this.#handOver(options?.waitUntil, this.#start('expiring', now).promise);
          if (handedOver !== undefined) return Promise.reject(handedOver);
        }
        return served;
      }
      let round: LiveRound;
      if (decision.action === 'start') {
        round = this.#start(decision.reason, now);
        // Handed over even though this caller waits for it: if the runtime cancels this caller's request, the round
        // still finishes for the other requests waiting on it.
        const handedOver = this.#handOver(options?.waitUntil, round.promise);
        if (handedOver !== undefined) return Promise.reject(handedOver);
      } else {
        round = this.#rounds?.get(this.#state.round?.seq as number) as LiveRound;
      }
      return this.#follow(round, options, replacing);
    } catch (error) {
      return Promise.reject(notHere(error));
    }
  }

  /** Starts a round: creates what it owns first (which a Worker's global scope refuses), then records it. */
  #start(reason: RefreshReason, now: Instant): LiveRound {
    const controller = new AbortController();
    const held = this.#state.token;
    this.#state = apply(this.#state, { type: 'started', reason }, now);
    const deps = this.#roundDeps();
    let settle: (outcome: Promise<string>) => void = noop;
    const round: LiveRound = {
      seq: this.#state.seq,
      promise: new Promise<string>((resolve) => {
        settle = resolve;
      }),
      deadline: now.mono + longestRoundMs(deps.bounds, this.#assumedSecretCount()) + ABANDON_GRACE_MS,
      controller,
      detached: createLatch(),
      givenUp: false,
      burst: undefined,
      waiters: new Set(),
      signals: new Map(),
    };
    // A refresh ahead of expiry may fail with nobody waiting; its failure is reported, never unhandled.
    round.promise.catch(noop);
    (this.#rounds ??= new Map()).set(round.seq, round);
    const bufferMs = this.#settings.expirationBufferMs;
    const heldShared = held && { accessToken: held.accessToken, sentAt: held.sentAt.wall };
    const plan = {
      reason,
      accepts: (stored: { accessToken: string; sentAt: number; expiresInSeconds: number }): boolean =>
        takesStored(
          reason,
          stored,
          readClock().wall - stored.sentAt,
          tokenSchedule(stored.expiresInSeconds * 1000, bufferMs, 0, 0),
          heldShared,
        ),
      mayDefer: (): boolean => isCurrent(this.#state, round.seq) && phaseOf(this.#state, readClock()) !== 'unusable',
      knowsLongest: (longestMs: number): void => {
        round.deadline = now.mono + longestMs + ABANDON_GRACE_MS;
      },
    };
    const run = (): Promise<RoundOutcome> => runRound(deps, plan, controller.signal, round.detached);
    const observe = this.#settings.observer;
    void (observe ? observe(reason, run) : run()).then((outcome) => {
      const finished = this.#finish(round, reason, outcome, now);
      // Live until its callers resume (after the store write, at most): destroy() still reaches them meanwhile.
      void finished.catch(noop).then(() => this.#rounds?.delete(round.seq));
      settle(finished);
    });
    return round;
  }

  /** Applies a round's outcome, reports it, and gives its callers what they get. */
  async #finish(round: LiveRound, reason: RefreshReason, outcome: RoundOutcome, startedAt: Instant): Promise<string> {
    const now = readClock();
    const destroyed = this.#state.destroyed;
    if (outcome.type === 'deferred') {
      this.#update({ type: 'deferred', seq: round.seq }, now);
      const cached = this.#state.token;
      if (cached === undefined) throw clientDestroyed();
      return cached.accessToken;
    }
    if (outcome.type === 'failed') {
      const { error } = outcome;
      this.#update({ type: 'failed', seq: round.seq, error, random: Math.random() }, now);
      if (!destroyed) {
        const durationMs = now.mono - startedAt.mono;
        callHook(this.#settings.onTokenRefreshFailed, { error, attempts: error.attempts ?? 0, durationMs, reason });
        // onTokenRefreshFailed may have destroyed the client: no hook after destroy().
        if (reason === 'background' && !this.#state.destroyed) callHook(this.#settings.onBackgroundRefreshError, error);
      }
      throw error;
    }
    const { token, source } = outcome;
    const cached = cachedToken(outcome, now, this.#settings.expirationBufferMs);
    const current = isCurrent(this.#state, round.seq);
    this.#update({ type: 'succeeded', seq: round.seq, token: cached }, now);
    if (!destroyed) {
      const sentAt = token.sentAt;
      callHook(this.#settings.onTokenRefreshed, {
        expiresAt: sentAt + cached.schedule.usableForMs,
        refreshAt: sentAt + cached.schedule.refreshAfterMs,
        attempts: source === 'endpoint' ? outcome.token.attempts : 0,
        durationMs: now.mono - startedAt.mono,
        reason,
        source,
        secretIndex: token.secretIndex,
      });
    }
    if (source === 'endpoint' && current && this.#settings.tokenStore !== undefined) {
      // Shared before the callers resume, so that a process exiting (or a Worker answering) right after getToken()
      // has still shared it; but not for longer than half the time it is still served, so that a slow store cannot
      // hand out a short-lived token already expired.
      const servedForMs = cached.schedule.usableForMs - (now.mono - cached.sentAt.mono);
      await settledWithin(outcome.written, Math.min(this.#settings.tokenStoreTimeoutMs, servedForMs / 2));
    }
    return token.accessToken;
  }

  /** Applies `event`, and re-derives the hot path's answer and window when the token changed. */
  #update(event: TokenEvent, now: Instant): void {
    const before = this.#state.token;
    this.#state = apply(this.#state, event, now);
    if (this.#state.token !== before) {
      this.#resolved = this.#state.token && Promise.resolve(this.#state.token.accessToken);
      this.#rearm(now);
    }
  }

  #rearm(now: Instant): void {
    const window = hotWindow(this.#state, now);
    this.#freshFrom = window.from;
    this.#freshUntil = window.until;
  }

  /**
   * Waits on `round` for one caller, bounded three ways: the round's result, the caller's signal, and the round's
   * deadline counted by a timer of the caller's own (in a Cloudflare Worker, the round's request may be gone, and
   * its timers with it). A round past its deadline is given up and replaced, once, by the next round.
   */
  #follow(round: LiveRound, options: GetTokenOptions | undefined, replacing: boolean): Promise<string> {
    const signal = options?.signal;
    // Callers without a signal in one synchronous burst share one wait (one promise, one timer): they are in one
    // request, and a thousand concurrent cold callers cost one allocation, not a thousand timers.
    const shared = round.burst;
    if (signal === undefined && shared?.replacing === replacing) return shared.promise;
    const promise = new Promise<string>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      /** Set once this caller has left the round, by whichever way came first: nothing after acts for it. */
      let left = false;
      const waiter: Waiter = {
        signal,
        fail(error) {
          if (leave()) reject(error);
        },
        replace: () => {
          if (leave()) resolve(replacing ? Promise.reject(roundAbandoned()) : this.acquire(options, true));
        },
      };
      const leave = (): boolean => {
        if (left) return false;
        left = true;
        clearTimeout(timer);
        round.waiters.delete(waiter);
        if (signal !== undefined) leaveSignal(round, signal);
        return true;
      };
      const arm = (): void => {
        timer = setTimeout(
          () => {
            const now = readClock();
            if (now.mono <= round.deadline) return arm();
            // Given up, and replaced, from this caller's own timer: in a Cloudflare Worker, work started for a
            // caller must be this caller's request's own, or the runtime may cancel it.
            this.#giveUp(round, now);
            waiter.replace();
          },
          Math.max(0, round.deadline - performance.now()) + 1,
        );
      };
      arm();
      round.waiters.add(waiter);
      if (signal !== undefined) joinSignal(round, signal);
      round.promise.then(
        (token) => {
          if (leave()) resolve(token);
        },
        (error: unknown) => {
          if (round.givenUp) waiter.replace();
          else if (leave()) reject(error);
        },
      );
    });
    if (signal === undefined) {
      const burst = { promise, replacing };
      round.burst = burst;
      queueMicrotask(() => {
        if (round.burst === burst) round.burst = undefined;
      });
    }
    return promise;
  }

  /** Gives up every round past its deadline, detached ones included: their callers would otherwise wait for good. */
  #giveUpOverdue(now: Instant): void {
    for (const round of this.#rounds?.values() ?? []) if (now.mono > round.deadline) this.#giveUp(round, now);
  }

  /**
   * Ends `round`: it counts as a failed round if current, and its I/O stops. Its callers move to the round replacing
   * it when their own timers fire, each from its own request.
   */
  #giveUp(round: LiveRound, now: Instant): void {
    if (this.#rounds?.get(round.seq) !== round) return;
    this.#rounds.delete(round.seq);
    round.givenUp = true;
    const error = roundAbandoned();
    this.#update({ type: 'failed', seq: round.seq, error, random: Math.random() }, now);
    this.#cancel(round, error);
  }

  /**
   * Stops a round's I/O. In a Cloudflare Worker, a round started by another request cannot be reached (its abort
   * controller is that request's); that request's own timers bound it, or it was cancelled with that request.
   */
  #cancel(round: LiveRound, reason: WristbandM2MError): void {
    round.detached.fire();
    try {
      round.controller.abort(reason);
    } catch {
      // see above
    }
  }

  /**
   * Hands a round to the caller's `waitUntil`. Returns the error for a `waitUntil` that cannot take it (an unbound
   * `ctx.waitUntil` throws "Illegal invocation"); the round runs anyway.
   */
  #handOver(waitUntil: WaitUntil | undefined, promise: Promise<string>): WristbandM2MError | undefined {
    if (waitUntil === undefined) return undefined;
    const kept = promise.catch(noop);
    try {
      if (typeof waitUntil === 'function') waitUntil(kept);
      else waitUntil.waitUntil(kept);
      return undefined;
    } catch (error) {
      return badWaitUntil(error);
    }
  }

  #startBackgroundRefresh(): void {
    const intervalMs = this.#settings.backgroundRefreshIntervalMs;
    if (intervalMs === undefined || this.#stopBackgroundRefresh !== undefined || this.#state.destroyed) return;
    this.#stopBackgroundRefresh = startUnrefInterval(() => {
      const now = readClock();
      this.#giveUpOverdue(now);
      if (shouldRefreshInBackground(this.#state, now)) this.#start('background', now);
    }, intervalMs);
  }

  clear(token: string | undefined): void {
    const before = this.#state;
    this.#update({ type: 'cleared', token }, readClock());
    if (this.#state === before) return;
    if (before.token !== undefined) this.#deps?.fleet?.retire(before.token.accessToken);
    // Every round started before goes on for its callers, but its lock goes now: it will not share what it gets
    // (nor keep the fleet waiting on the write of a token just retired).
    for (const round of this.#rounds?.values() ?? []) round.detached.fire();
  }

  destroy(): void {
    if (this.#state.destroyed) return;
    this.#update({ type: 'destroyed' }, readClock());
    this.#stopBackgroundRefresh?.();
    for (const round of this.#rounds?.values() ?? []) {
      const error = clientDestroyed();
      this.#cancel(round, error);
      for (const waiter of [...round.waiters]) waiter.fail(error);
    }
  }

  /** The snapshot behind `client.state`: a query, which changes nothing. */
  snapshot(): WristbandM2MClientState {
    return snapshot(this.#state, readClock());
  }

  /** Secrets a round is assumed to try until it knows them: the configured list's, or two from a provider. */
  #assumedSecretCount(): number {
    const secret = this.#settings.clientSecret;
    return typeof secret === 'function' ? 2 : secret.length;
  }

  #roundDeps(): RoundDeps {
    if (this.#deps !== undefined) return this.#deps;
    const settings = this.#settings;
    const credentials = createCredentials(settings.clientId, settings.clientSecret, settings.requestTimeoutMs);
    const store = settings.tokenStore;
    // Store calls still on their way at destroy() (the lock release it starts included) report nothing after it.
    const report = settings.onTokenStoreError;
    const onTokenStoreError: ResolvedConfig['onTokenStoreError'] = (event) =>
      this.#state.destroyed ? undefined : report?.(event);
    this.#deps = {
      credentials,
      requestToken: createTokenRequester(settings, credentials.redactor),
      fleet: store === undefined ? undefined : createFleet(store, { ...settings, onTokenStoreError }),
      bounds: {
        requestTimeoutMs: settings.requestTimeoutMs,
        provider: typeof settings.clientSecret === 'function',
        store:
          store === undefined
            ? undefined
            : { timeoutMs: settings.tokenStoreTimeoutMs, lockWaitMs: settings.tokenStoreLockWaitMs },
      },
    };
    return this.#deps;
  }

  /** The public object over this instance: see {@link PublicClient}. */
  client(): WristbandM2MClient {
    // The hot path: one clock read and two comparisons while the token is fresh, answered with the promise made
    // when the token arrived (no allocation per call).
    const getToken = (options?: GetTokenOptions): Promise<string> => {
      const now = Date.now();
      return options === undefined && now < this.#freshUntil && now >= this.#freshFrom
        ? (this.#resolved as Promise<string>)
        : this.acquire(options);
    };
    return new PublicClient(
      this,
      getToken,
      (token) => this.clear(token),
      () => this.destroy(),
      this.#settings.fetch,
    );
  }
}

/**
 * What users hold: the three methods as closures (so `const { getToken } = client` works, and the hot path is one
 * closure call), `Symbol.dispose` as the very `destroy` closure, `state` and `fetch` on the (frozen) prototype. The
 * cache is a private field, so `console.log(client)` shows no state. Accessors on an object literal would cost each client a few hundred bytes
 * more; on a class they are shared.
 */
class PublicClient implements WristbandM2MClient {
  readonly #cache: TokenClient;
  readonly #fetchImpl: FetchImplementation | undefined;
  /** Made at the first use: most clients never use it, and each costs memory. */
  #fetch: FetchImplementation | undefined;

  constructor(
    cache: TokenClient,
    readonly getToken: WristbandM2MClient['getToken'],
    readonly clearToken: WristbandM2MClient['clearToken'],
    readonly destroy: WristbandM2MClient['destroy'],
    fetchImpl: FetchImplementation | undefined,
  ) {
    this.#cache = cache;
    this.#fetchImpl = fetchImpl;
    // Own, and the destroy closure itself (no new function): a method on the prototype needs `this`, and
    // a signal handler given `client[Symbol.dispose]`, an EventTarget listener or a DisposableStack call it with
    // another `this` or none, which threw. Looked up per client, so a Symbol.dispose polyfilled after this module
    // loaded still counts.
    if (typeof Symbol.dispose === 'symbol') (this as unknown as Record<symbol, () => void>)[Symbol.dispose] = destroy;
    Object.freeze(this);
  }

  get state(): WristbandM2MClientState {
    return this.#cache.snapshot();
  }

  get fetch(): FetchImplementation {
    return (this.#fetch ??= createAuthenticatedFetch(this, this.#fetchImpl));
  }
}

// Frozen like each client: `state` and `fetch` live here, shared by every client, and a prototype left open would let
// any code holding one client redefine them for all (a `fetch` getter that intercepts other modules' requests).
Object.freeze(PublicClient.prototype);

/**
 * Creates a client. It validates `config` at once (throwing an `INVALID_CONFIG` {@link WristbandM2MError} that names
 * the bad option) but does no I/O and starts no timer, so it is safe at module scope in Cloudflare Workers.
 *
 * @example
 * const m2m = createWristbandM2MClient({
 *   clientId: env.CLIENT_ID,
 *   clientSecret: env.CLIENT_SECRET,
 *   wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
 * });
 * const token = await m2m.getToken();
 */
export function createWristbandM2MClient(config: WristbandM2MClientConfig): WristbandM2MClient {
  return new TokenClient(resolveConfig(config)).client();
}

/** Counts a caller waiting with `signal`; the first one adds the listener that fails every caller sharing it. */
function joinSignal(round: LiveRound, signal: AbortSignal): void {
  const entry = round.signals.get(signal);
  if (entry !== undefined) {
    entry.callers++;
    return;
  }
  const listener = (): void => {
    const error = aborted(signal);
    for (const waiter of [...round.waiters]) if (waiter.signal === signal) waiter.fail(error);
  };
  round.signals.set(signal, { listener, callers: 1 });
  signal.addEventListener('abort', listener, { once: true });
}

/** Uncounts a caller; the last one sharing `signal` removes its listener. */
function leaveSignal(round: LiveRound, signal: AbortSignal): void {
  const entry = round.signals.get(signal);
  if (entry === undefined || --entry.callers > 0) return;
  round.signals.delete(signal);
  signal.removeEventListener('abort', entry.listener);
}

/** A token from a round's outcome, dated by both clocks, with its schedule (and this client's refresh spread). */
function cachedToken(outcome: RoundOutcome & { type: 'token' }, now: Instant, bufferMs: number): CachedToken {
  const { token } = outcome;
  const sentAt =
    outcome.source === 'endpoint'
      ? { wall: token.sentAt, mono: outcome.token.sentAtMono }
      : fromWall(token.sentAt, now);
  const schedule = tokenSchedule(
    token.expiresInSeconds * 1000,
    bufferMs,
    // Never negative: a wall clock stepped back mid-request would otherwise stretch the spread past refreshAt.
    Math.max(0, now.wall - token.sentAt),
    Math.random(),
  );
  return { accessToken: token.accessToken, sentAt, schedule };
}

/** Resolves when `promise` settles or `ms` have passed, whichever is first, leaving no timer behind. */
function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  return within(() => promise, Math.max(0, ms), noop).then(noop, noop);
}

function aborted(signal: AbortSignal): WristbandM2MError {
  return new WristbandM2MError(
    'ABORTED',
    'getToken() was aborted by its signal; a token request shared with other callers goes on for them.',
    { cause: signal.reason },
  );
}

function roundAbandoned(): WristbandM2MError {
  return new WristbandM2MError(
    'TOKEN_REQUEST_TIMEOUT',
    'A token refresh outlived its longest possible duration (its timers or I/O frozen or cancelled); it was given up.',
  );
}

function badWaitUntil(error: unknown): WristbandM2MError {
  return new WristbandM2MError(
    'INVALID_CONFIG',
    'getToken(): `waitUntil` ' +
      (error === undefined ? 'is neither a function nor an object with a waitUntil method' : 'threw when called') +
      ". Pass the request's execution context itself, getToken({ waitUntil: ctx }), or ctx.waitUntil.bind(ctx).",
    error instanceof Error ? { cause: { name: error.name } } : {},
  );
}

/**
 * A synchronous failure to start work: the runtime refused it, as a Cloudflare Worker does outside a request
 * ("Disallowed operation called within global scope").
 */
function notHere(error: unknown): WristbandM2MError {
  if (error instanceof WristbandM2MError) return error;
  return new WristbandM2MError(
    'TOKEN_ENDPOINT_UNREACHABLE',
    'The runtime refused to start a token request here: in a Cloudflare Worker, call getToken() inside a handler, ' +
      'not at module scope.',
    { cause: error instanceof Error ? { name: error.name } : undefined },
  );
}
