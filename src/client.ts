/**
 * The client: an in-memory token cache that refreshes ahead of expiry while it keeps serving the current token,
 * one round of token requests at a time however many callers miss, backoff after failed rounds, the optional
 * shared store and background schedule, and what it reports about them. The policy (when to refresh, how long to
 * back off, which secret first) lives in `lifecycle.ts` and `secrets.ts`; the HTTP request in `token-request.ts`.
 */
import { createAuthenticatedFetch } from './authenticated-fetch.js';
import {
  type FetchImplementation,
  type ResolvedConfig,
  resolveConfig,
  type WristbandM2MClientConfig,
} from './config.js';
import { abortError, clientDestroyed, restated, WristbandM2MError } from './errors.js';
import { callHook, type RefreshReason } from './hooks.js';
import { backoffMs, type TokenPhase, tokenPhase, type TokenSchedule, tokenSchedule } from './lifecycle.js';
import { credentialForms } from './redact.js';
import { callSecretProvider, secretOrder } from './secrets.js';
import { createSharedCache, type HeldLock, type SharedCache, type StoredToken } from './store/shared-cache.js';
import { startUnrefInterval, within } from './timers.js';
import { createTokenRequester, type IssuedToken, type TokenRequester } from './token-request.js';

/**
 * The hot path reads only the wall clock (`Date.now()`: on Deno `performance.now()` costs twice as much). It serves
 * the token as is only inside a window of at most this many ms of wall time after a full check of both clocks:
 * a wall clock stepped back lands before the window, one that jumped (a machine that slept) lands past it, and
 * either way the next call checks the monotonic clock too.
 */
const CLOCK_CHECK_MS = 1_000;
/** Slack past a round's longest possible duration before a call gives the round up as wedged. */
const ABANDON_GRACE_MS = 1_000;
/** After finding another process refreshing, how long before a refresh ahead looks at the store again. */
const STORE_LOOK_MS = 100;
/** Most forms {@link credentialForms} gives for one secret. */
const FORMS_PER_SECRET = 5;
/** Credential forms kept for redaction beyond the current round's: those of about the last 8 secrets. */
const MAX_CREDENTIAL_FORMS = 8 * FORMS_PER_SECRET;

/** Options of {@link WristbandM2MClient.getToken}. */
export interface GetTokenOptions {
  /**
   * Stops this caller's wait: it rejects with an `ABORTED` {@link WristbandM2MError} whose `cause` is the signal's
   * reason. A token request shared with other callers keeps going for them.
   */
  signal?: AbortSignal;
  /**
   * Cloudflare Workers: the request's `ctx.waitUntil`, bound (`ctx.waitUntil.bind(ctx)`). Every refresh this call
   * starts is handed to it: a refresh ahead of expiry, which the call does not wait for, so the runtime does not
   * cancel it when the response is sent; and a round the call waits for, so that other requests waiting on it
   * still get its token if this request is cancelled.
   * @default undefined
   */
  waitUntil?: (promise: Promise<unknown>) => void;
}

/** A snapshot of what the client holds, for health checks. It never includes the token. */
export interface WristbandM2MClientState {
  /**
   * - `fresh`: a token is served and nothing failed since it arrived;
   * - `degraded`: a token is served, but refreshing it failed: it is served until `expiresAt`, and the next
   *   refresh is tried at `retryAt`;
   * - `unavailable`: no token can be served (none yet, cleared, or past `expiresAt`); `lastRefreshError` says why
   *   when a refresh failed.
   */
  readonly status: 'fresh' | 'degraded' | 'unavailable';
  /** Whether `getToken()` would answer from the cache right now (`status` is not `unavailable`). */
  readonly hasValidToken: boolean;
  /** When the cached token stops being served, in ms since the epoch; `undefined` with no token cached. */
  readonly expiresAt: number | undefined;
  /** When a call starts refreshing the cached token ahead of `expiresAt`; `undefined` with no token cached. */
  readonly refreshAt: number | undefined;
  /** Whether a token request is in flight. */
  readonly refreshing: boolean;
  /** The failure of the latest token round, until a later one succeeds. */
  readonly lastRefreshError: WristbandM2MError | undefined;
  /** While backing off after failures: when the next round may start, in ms since the epoch. */
  readonly retryAt: number | undefined;
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

/** A token in the cache, dated by both clocks. */
interface CachedToken {
  accessToken: string;
  /** `Date.now()` and `performance.now()` when its request was sent. */
  sentAt: number;
  sentAtMono: number;
  schedule: TokenSchedule;
}

/** One round of token requests (with its store reads and lock) that callers share. */
interface Round {
  promise: Promise<string>;
  /** The cache generation it started in: it may fill the cache only while that is still the current one. */
  generation: number;
  /** Aborted when the round is given up (destroy(), or wedged past its longest duration). */
  controller: AbortController;
  /** `performance.now()` past which a call gives the round up. */
  abandonAt: number;
  fail(error: WristbandM2MError): void;
  lock: HeldLock | undefined;
  /** One abort listener per signal, however many callers share it. */
  waiters: Map<AbortSignal, ((error: WristbandM2MError) => void)[]> | undefined;
}

const noop = (): void => undefined;

/**
 * Gives a round to the caller's `waitUntil`. One that throws (an unbound `ctx.waitUntil`: "Illegal invocation") must
 * not turn getToken() into a synchronous throw, nor cost a caller the token it would get: the round runs anyway.
 */
function handOver(waitUntil: GetTokenOptions['waitUntil'], promise: Promise<string>): void {
  try {
    waitUntil?.(promise.catch(noop));
  } catch {
    // see above
  }
}

/**
 * The client's state and logic. Not exported: the public object holds only a few closures over one instance, so a
 * client costs well under a kilobyte until it is used, and `console.log(client)` shows nothing but its methods.
 */
class TokenCache {
  /** `Promise.resolve(token)`, made once per token: the hot path hands it out instead of a new promise per call. */
  #resolved: Promise<string> | undefined;
  /** The hot path's window, in `Date.now()` time: from the last full check of both clocks, to when to check again. */
  #freshFrom = 0;
  #freshUntil = 0;
  #cached: CachedToken | undefined;
  #pending: Round | undefined;
  #generation = 0;
  /** Why the next round with no usable token happens, for the refresh hooks. */
  #missReason: RefreshReason = 'initial';
  #lastRefreshError: WristbandM2MError | undefined;
  /** Consecutive failed rounds, and the `performance.now()` before which no round starts. */
  #failures = 0;
  #nextRoundAt = 0;
  /** After finding another process refreshing, the `performance.now()` before which no refresh ahead starts. */
  #storeLookAt = 0;
  #destroyed = false;
  /** Rounds not yet settled, the detached ones included; made at the first round. */
  #rounds: Set<Round> | undefined;
  #stopBackgroundRefresh: (() => void) | undefined;
  /** The secret that worked last, tried first next time. */
  #lastWorkedSecret: string | undefined;
  /** Every form of every credential in use, scrubbed from server text and foreign errors. */
  #credentials: string[] = [];
  #requester: TokenRequester | undefined;
  #shared: SharedCache | undefined;

  #settings: ResolvedConfig;

  constructor(settings: ResolvedConfig) {
    this.#settings = settings;
  }

  /** Everything but a fresh token's cache hit. Not async: concurrent callers share one promise, with no frame each. */
  #acquire(options: GetTokenOptions | undefined): Promise<string> {
    const signal = options?.signal;
    if (this.#destroyed) return Promise.reject(clientDestroyed());
    if (signal?.aborted) return Promise.reject(aborted(signal));
    const now = performance.now();
    const phase = this.#phase(now);
    if (phase === 'fresh') return this.#resolved as Promise<string>;
    this.#startBackgroundRefresh();
    // Every wedged round, a detached one included: clearToken() leaves its callers waiting on it, and they would
    // wait forever. Only the current one counts towards the backoff, as any failure of a detached round.
    for (const overdue of this.#rounds ?? []) {
      if (now <= overdue.abandonAt || overdue.controller.signal.aborted) continue;
      const error = roundAbandoned(this.#settings.maxRoundMs);
      if (overdue === this.#pending) this.#countFailure(error);
      this.#giveUp(overdue, error);
    }
    if (phase === 'expiring') {
      if (this.#pending === undefined && now >= this.#nextRoundAt && now >= this.#storeLookAt) {
        const round = this.#startRound('expiring');
        handOver(options?.waitUntil, round.promise);
      }
      return this.#resolved as Promise<string>;
    }
    if (this.#pending === undefined) {
      const last = this.#lastRefreshError;
      if (now < this.#nextRoundAt && last !== undefined)
        return Promise.reject(backingOff(last, this.#nextRoundAt - now));
      // Handed over even though this caller waits for it: if the runtime cancels this caller's request, the round
      // still finishes for the other requests waiting on it.
      const { promise } = this.#startRound(this.#missReason);
      handOver(options?.waitUntil, promise);
    }
    const round = this.#pending as Round;
    return signal === undefined ? round.promise : untilAborted(round, signal);
  }

  /**
   * Where the cached token stands, by whichever clock says it is older (a wall clock stepped back cannot stretch a
   * lifetime; a machine that slept cannot either), and when the hot path must look again.
   */
  #phase(now: number): TokenPhase {
    const cached = this.#cached;
    if (cached === undefined) return 'unusable';
    const wall = Date.now();
    const age = ageOf(cached, now, wall);
    const phase = tokenPhase(cached.schedule, age);
    this.#freshFrom = wall;
    // A wall clock stepped back by less than the time the window has already run stays inside it, undetected, and
    // serves the token for up to the window's length longer in real time. Half the time left until the token is
    // unusable bounds that: such a step can make the refresh start late, never hand out a token past its life
    // (with a small buffer and little jitter the two instants nearly coincide).
    const windowMs = Math.min(
      cached.schedule.refreshAfterMs - age,
      (cached.schedule.usableForMs - age) / 2,
      CLOCK_CHECK_MS,
    );
    this.#freshUntil = phase === 'fresh' ? wall + windowMs : 0;
    return phase;
  }

  #startRound(reason: RefreshReason): Round {
    let fail: (error: WristbandM2MError) => void = noop;
    let succeed: (token: string) => void = noop;
    const promise = new Promise<string>((resolve, reject) => {
      succeed = resolve;
      fail = reject;
    });
    // A refresh ahead of expiry may fail with nobody waiting; its failure is reported, never unhandled.
    promise.catch(noop);
    const round: Round = {
      promise,
      generation: this.#generation,
      controller: new AbortController(),
      abandonAt: performance.now() + this.#settings.maxRoundMs + ABANDON_GRACE_MS,
      fail,
      lock: undefined,
      waiters: undefined,
    };
    this.#pending = round;
    (this.#rounds ??= new Set()).add(round);
    // The round leaves before its callers resume, so what they see (state.refreshing, a new call) is settled.
    const leave = (): void => {
      this.#rounds?.delete(round);
      if (this.#pending === round) this.#pending = undefined;
    };
    this.#runRound(round, reason).then(
      (token) => {
        leave();
        succeed(token);
      },
      (error: WristbandM2MError) => {
        leave();
        fail(error);
      },
    );
    return round;
  }

  /** Whether a round's result may still fill the cache: not detached by clearToken(), not given up. */
  #isCurrent(round: Round): boolean {
    return round.generation === this.#generation && !round.controller.signal.aborted;
  }

  async #runRound(round: Round, reason: RefreshReason): Promise<string> {
    const settings = this.#settings;
    const startedAt = performance.now();
    const { signal } = round.controller;
    const check = (): void => {
      if (signal.aborted) throw abortError(signal);
    };
    let lockSecret: string | undefined;
    /** Set once the token's write is on its way: the lock then goes when the write settles, not in the finally. */
    let lockedUntilWritten = false;
    try {
      const secrets =
        typeof settings.clientSecret === 'function'
          ? await callSecretProvider(settings.clientSecret, settings.requestTimeoutMs, signal)
          : settings.clientSecret;
      check();
      this.#learnCredentials(secrets);
      const order = secretOrder(secrets, this.#lastWorkedSecret);
      const ordered = order.map((index) => secrets[index] as string);
      const shared = this.#sharedCache();
      if (shared !== undefined) {
        const fromStore = (token: StoredToken | undefined): boolean =>
          token !== undefined && this.#worthTaking(token, reason);
        if (reason !== 'background') {
          const found = await shared.read(ordered);
          check();
          if (fromStore(found))
            return this.#adopt(round, reason, storedAsIssued(found as StoredToken, order), 'store', startedAt);
        }
        lockSecret = ordered[0] as string;
        const taken = await shared.lock(lockSecret);
        if (taken !== 'held') this.#holdLock(round, taken);
        check();
        if (taken !== 'held' && taken !== undefined && reason !== 'background') {
          // Double-checked: another process may have shared its token, or failed, and let the lock go between the
          // read above and this acquire(). Fetching then would be a second request for the same rotation, or,
          // when the endpoint asked for a pause (Retry-After), one more request into it from every process that
          // comes later. A failure without Retry-After does not stop a lock winner: it tries for itself.
          // (A lock taken goes in the finally below.)
          const [found, noted] = await Promise.all([shared.read(ordered), shared.failure(lockSecret)]);
          check();
          if (fromStore(found))
            return this.#adopt(round, reason, storedAsIssued(found as StoredToken, order), 'store', startedAt);
          if (noted?.retryAfterMs !== undefined) {
            // Not this round's failure: it is not reported again under the lock, which would renew the note.
            void round.lock?.release();
            round.lock = undefined;
            throw noted;
          }
        }
        if (taken === 'held') {
          // Another process is refreshing: a usable token keeps being served meanwhile, with no wait at all.
          if (this.#isCurrent(round) && this.#phase(performance.now()) !== 'unusable') {
            this.#storeLookAt = performance.now() + STORE_LOOK_MS;
            return (this.#cached as CachedToken).accessToken;
          }
          const outcome = await shared.awaitHolder(
            ordered,
            fromStore,
            performance.now() + settings.tokenStoreLockWaitMs,
            signal,
          );
          if (outcome !== undefined && 'release' in outcome) this.#holdLock(round, outcome);
          check();
          if (outcome instanceof WristbandM2MError) throw outcome;
          if (outcome !== undefined && !('release' in outcome)) {
            return this.#adopt(round, reason, storedAsIssued(outcome, order), 'store', startedAt);
          }
        }
      }
      const issued = await this.#tokenRequester()(secrets, order, signal);
      check();
      this.#lastWorkedSecret = secrets[issued.secretIndex];
      const token = this.#adopt(round, reason, issued, 'endpoint', startedAt);
      if (shared !== undefined && this.#isCurrent(round)) {
        // Shared before the callers resume, so that a process exiting (or a Worker answering) right after
        // getToken() has still shared it; but not for longer than half the time it is still served, so that a slow
        // store cannot hand out a short-lived token already expired. The lock goes once the write has landed
        // (or given up), so the fleet's waiters find the token rather than take the lock and fetch again.
        // The lock stays on the round meanwhile: clearToken() (the token retired) and destroy() still let it go at
        // once, as they promise, rather than leave this client's next round, and the fleet, waiting on it until a
        // slow write gives up. (Releasing is idempotent; the finally below leaves it to the write.)
        const { accessToken, sentAt, expiresInSeconds } = issued;
        const written = shared.publish(
          { accessToken, sentAt, expiresInSeconds },
          secrets[issued.secretIndex] as string,
        );
        lockedUntilWritten = true;
        void written.then(() => round.lock?.release());
        // Measured to when this client stops serving the token (its buffer, up to 10 s, before the real expiry), not
        // to the real expiry: a short token waited on for half its real life came out already unusable.
        // Its age by whichever clock says it is older, as #phase() reads it: a wall clock stepped back mid-request
        // must not stretch the wait.
        const cached = this.#cached as CachedToken;
        const age = ageOf(cached, performance.now(), Date.now());
        const remainingMs = cached.schedule.usableForMs - age;
        await settledWithin(written, Math.min(settings.tokenStoreTimeoutMs, remainingMs / 2));
      }
      return token;
    } catch (error) {
      const failure = error instanceof WristbandM2MError ? error : unexpected(error);
      if (round.lock !== undefined && !signal.aborted && lockSecret !== undefined) {
        await this.#shared?.reportFailure(lockSecret, failure);
      }
      this.#recordFailure(round, reason, failure, startedAt);
      throw failure;
    } finally {
      if (!lockedUntilWritten) void round.lock?.release();
    }
  }

  /**
   * Keeps a lock the round just won, but only while the round is current. A round detached by clearToken() (or
   * given up) while its acquire() or poll was on the way will not share its token, so holding the lock would make
   * the fleet, and this client's own next round, wait for nothing; and a failure it reported under that lock
   * would end the wait of processes waiting on the lock's next holder. It lets the lock go at once instead.
   */
  #holdLock(round: Round, lock: HeldLock | undefined): void {
    if (lock === undefined) return;
    if (this.#isCurrent(round)) round.lock = lock;
    else void lock.release();
  }

  /** Whether a token from the store helps: a refresh ahead of expiry wants a fresh one, a miss any usable one. */
  #worthTaking(token: StoredToken, reason: RefreshReason): boolean {
    const lifetimeMs = token.expiresInSeconds * 1000;
    const schedule = tokenSchedule(lifetimeMs, this.#settings.expirationBufferMs, 0, 0);
    const phase = tokenPhase(schedule, Date.now() - token.sentAt);
    return reason === 'expiring' || reason === 'background' ? phase === 'fresh' : phase !== 'unusable';
  }

  /** Takes a token into the cache if the round is still current, and reports it. */
  #adopt(
    round: Round,
    reason: RefreshReason,
    issued: IssuedToken,
    source: 'endpoint' | 'store',
    startedAt: number,
  ): string {
    const { accessToken, sentAt, expiresInSeconds, secretIndex, attempts } = issued;
    const receivedAt = Date.now();
    const schedule = tokenSchedule(
      expiresInSeconds * 1000,
      this.#settings.expirationBufferMs,
      // Never negative: a wall clock stepped back mid-request would otherwise stretch the jitter past refreshAt.
      Math.max(0, receivedAt - sentAt),
      Math.random(),
    );
    if (this.#isCurrent(round)) {
      this.#cached = { accessToken, sentAt, sentAtMono: issued.sentAtMono, schedule };
      this.#resolved = Promise.resolve(accessToken);
      this.#phase(performance.now());
      this.#missReason = 'expired';
      this.#lastRefreshError = undefined;
      this.#failures = 0;
      this.#nextRoundAt = 0;
    }
    if (!this.#destroyed) {
      callHook(this.#settings.onTokenRefreshed, {
        expiresAt: sentAt + schedule.usableForMs,
        refreshAt: sentAt + schedule.refreshAfterMs,
        attempts,
        durationMs: performance.now() - startedAt,
        reason,
        source,
        secretIndex,
      });
    }
    return accessToken;
  }

  /** Counts a failed round towards the backoff (only while it is current) and reports it. */
  #recordFailure(round: Round, reason: RefreshReason, failure: WristbandM2MError, startedAt: number): void {
    if (this.#destroyed) return;
    if (this.#isCurrent(round)) this.#countFailure(failure);
    const attempts = failure.attempts ?? 0;
    callHook(this.#settings.onTokenRefreshFailed, {
      error: failure,
      attempts,
      durationMs: performance.now() - startedAt,
      reason,
    });
    // onTokenRefreshFailed may have destroyed the client: no hook after destroy().
    if (reason === 'background' && !this.#destroyed) callHook(this.#settings.onBackgroundRefreshError, failure);
  }

  /** Sets the backoff after one more failed round: no round starts before it has passed. */
  #countFailure(failure: WristbandM2MError): void {
    this.#lastRefreshError = failure;
    this.#failures++;
    const waitMs = Math.max(backoffMs(this.#failures, Math.random()), failure.retryAfterMs ?? 0);
    this.#nextRoundAt = performance.now() + waitMs;
  }

  /** Ends a round for its callers at once and lets go of its lock; what it still does cannot reach the cache. */
  #giveUp(round: Round, error: WristbandM2MError): void {
    round.controller.abort(error);
    round.fail(error);
    void round.lock?.release();
    if (this.#pending === round) this.#pending = undefined;
  }

  #startBackgroundRefresh(): void {
    const intervalMs = this.#settings.backgroundRefreshIntervalMs;
    if (intervalMs === undefined || this.#stopBackgroundRefresh !== undefined || this.#destroyed) return;
    this.#stopBackgroundRefresh = startUnrefInterval(() => {
      // A round already running refreshes the cache anyway; one during a backoff would defeat it.
      if (this.#pending === undefined && performance.now() >= this.#nextRoundAt) this.#startRound('background');
    }, intervalMs);
  }

  #clear(token: string | undefined): void {
    const cached = this.#cached?.accessToken;
    if (token !== undefined && token !== cached) return;
    if (cached !== undefined) this.#sharedCache()?.retire(cached);
    this.#dropCache();
    // The round in flight goes on for the callers already waiting, but can no longer fill the cache, and its lock
    // goes now: it will not share what it gets, so nobody should wait for it.
    const detached = this.#pending;
    this.#pending = undefined;
    if (detached !== undefined) {
      void detached.lock?.release();
      // Not its lock any more: it must neither release it again later nor report a failure under it.
      detached.lock = undefined;
    }
    this.#missReason = token === undefined ? 'cleared' : 'unauthorized';
  }

  #destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#stopBackgroundRefresh?.();
    for (const round of this.#rounds ?? []) this.#giveUp(round, clientDestroyed());
    this.#dropCache();
  }

  /** Forgets the cached token, and moves to a new generation: no round started before can fill the cache. */
  #dropCache(): void {
    this.#cached = undefined;
    this.#resolved = undefined;
    this.#freshUntil = 0;
    this.#generation++;
  }

  /** The snapshot behind `client.state`. */
  snapshot(): WristbandM2MClientState {
    const now = performance.now();
    const phase = this.#phase(now);
    const cached = phase === 'unusable' ? undefined : this.#cached;
    const lastRefreshError = this.#lastRefreshError;
    const nextRoundAt = this.#nextRoundAt;
    // When it was sent, in the wall clock's current frame, by whichever clock says it is older (as phase() does):
    // a wall clock stepped back must not put expiresAt and refreshAt later than the instants they describe.
    const wall = Date.now();
    const sentAt = cached && wall - ageOf(cached, now, wall);
    return Object.freeze({
      status: cached === undefined ? 'unavailable' : lastRefreshError === undefined ? 'fresh' : 'degraded',
      hasValidToken: cached !== undefined,
      expiresAt: cached && (sentAt as number) + cached.schedule.usableForMs,
      refreshAt: cached && (sentAt as number) + cached.schedule.refreshAfterMs,
      refreshing: this.#pending !== undefined,
      lastRefreshError,
      retryAt: nextRoundAt > now ? Date.now() + (nextRoundAt - now) : undefined,
    });
  }

  #learnCredentials(secrets: readonly string[]): void {
    for (const secret of secrets) {
      for (const form of credentialForms(this.#settings.clientId, secret)) {
        // Moved to the end when already known, so the forms of the secrets in use are always the newest.
        const at = this.#credentials.indexOf(form);
        if (at !== -1) this.#credentials.splice(at, 1);
        this.#credentials.push(form);
      }
    }
    // A provider may return a new secret every round: keep the forms of the latest few secrets only (this round's
    // all included), or the list, and the redaction regex built from it for every error, would grow forever.
    // Trimmed in place: the token requester holds this very array.
    const keep = Math.max(MAX_CREDENTIAL_FORMS, secrets.length * FORMS_PER_SECRET);
    if (this.#credentials.length > keep) this.#credentials.splice(0, this.#credentials.length - keep);
  }

  #tokenRequester(): TokenRequester {
    return (this.#requester ??= createTokenRequester(this.#settings, this.#credentials));
  }

  #sharedCache(): SharedCache | undefined {
    const store = this.#settings.tokenStore;
    if (store === undefined || this.#shared !== undefined) return this.#shared;
    // Store calls still on their way at destroy() (the lock release it starts included) report nothing after it.
    const report = this.#settings.onTokenStoreError;
    const onTokenStoreError: ResolvedConfig['onTokenStoreError'] = (event) =>
      this.#destroyed ? undefined : report?.(event);
    return (this.#shared = createSharedCache(store, { ...this.#settings, onTokenStoreError }));
  }

  /** The public object over this instance: see {@link PublicClient}. */
  client(): WristbandM2MClient {
    // The hot path: one clock read and two comparisons while the token is fresh, answered with the promise made
    // when the token arrived (no allocation per call).
    const getToken = (options?: GetTokenOptions): Promise<string> => {
      const now = Date.now();
      return options === undefined && now < this.#freshUntil && now >= this.#freshFrom
        ? (this.#resolved as Promise<string>)
        : this.#acquire(options);
    };
    return new PublicClient(
      this,
      getToken,
      (token) => this.#clear(token),
      () => this.#destroy(),
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
  readonly #cache: TokenCache;
  readonly #fetchImpl: FetchImplementation | undefined;
  /** Made at the first use: most clients never use it, and each costs memory. */
  #fetch: FetchImplementation | undefined;

  constructor(
    cache: TokenCache,
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
  return new TokenCache(resolveConfig(config)).client();
}

/**
 * How old a cached token is by whichever clock says it is older: a wall clock stepped back cannot make it younger,
 * nor can a machine that slept (the monotonic clock stands still meanwhile).
 */
function ageOf(cached: CachedToken, monoNow: number, wallNow: number): number {
  return Math.max(monoNow - cached.sentAtMono, wallNow - cached.sentAt);
}

/** Resolves when `promise` settles or `ms` have passed, whichever is first, leaving no timer behind. */
function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  return within(() => promise, Math.max(0, ms), noop).then(noop, noop);
}

/** A token read from the store, in the shape of an endpoint answer; `order` maps its position back to the list's. */
function storedAsIssued(token: StoredToken, order: readonly number[]): IssuedToken {
  const ageMs = Math.max(0, Date.now() - token.sentAt);
  return {
    accessToken: token.accessToken,
    sentAt: token.sentAt,
    sentAtMono: performance.now() - ageMs,
    expiresInSeconds: token.expiresInSeconds,
    attempts: 0,
    secretIndex: order[token.secretIndex] as number,
  };
}

function aborted(signal: AbortSignal): WristbandM2MError {
  return new WristbandM2MError(
    'ABORTED',
    'getToken() was aborted by its signal; a token request shared with other callers goes on for them.',
    { cause: signal.reason },
  );
}

function backingOff(last: WristbandM2MError, retryAfterMs: number): WristbandM2MError {
  const seconds = Math.ceil(retryAfterMs / 100) / 10;
  return restated(last, `${last.message} No token request is sent for ${seconds} s after repeated failures.`, {
    attempts: 0,
    retryAfterMs,
  });
}

function roundAbandoned(maxRoundMs: number): WristbandM2MError {
  return new WristbandM2MError(
    'TOKEN_REQUEST_TIMEOUT',
    `A token refresh was still unsettled after its longest possible duration (${Math.ceil(maxRoundMs / 1000)} s), ` +
      'as when timers or I/O were frozen or cancelled; it was given up and the next call starts a new one.',
  );
}

function unexpected(error: unknown): WristbandM2MError {
  return new WristbandM2MError('TOKEN_ENDPOINT_UNREACHABLE', 'The token refresh failed unexpectedly.', {
    cause: error instanceof Error ? { name: error.name } : undefined,
  });
}

/**
 * Follows `round` for one caller, rejecting as soon as that caller's signal aborts. However many callers share a
 * signal, the round adds one listener to it, and removes it when the round settles.
 */
function untilAborted(round: Round, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const waiters = (round.waiters ??= new Map());
    let rejects = waiters.get(signal);
    if (rejects === undefined) {
      const list: ((error: WristbandM2MError) => void)[] = [];
      rejects = list;
      waiters.set(signal, list);
      const onAbort = (): void => {
        for (const rejectOne of list.splice(0)) rejectOne(aborted(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void round.promise.then(noop, noop).then(() => {
        signal.removeEventListener('abort', onAbort);
        waiters.delete(signal);
      });
    }
    rejects.push(reject);
    round.promise.then(resolve, reject);
  });
}
