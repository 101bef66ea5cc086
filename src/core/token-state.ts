/**
 * The token lifecycle as one value and two pure functions: {@link decide} says what a call gets, {@link apply} says
 * what an event does to the state. No I/O and no clock reads: the caller passes `now`. The rules, as a caller sees
 * them:
 *
 * - a **fresh** token is served at once;
 * - an **expiring** token (past its refresh instant, before it is unusable) is still served at once, and the first
 *   call that finds no round running (and no backoff) starts one ahead of expiry;
 * - with **no usable** token, calls wait for the round in flight, or start one, unless failed rounds put the client
 *   in a backoff, when they are refused at once with the last failure;
 * - a round's result fills the cache only if no `clearToken()` or `destroy()` came since it started: each round has
 *   a sequence number, and only the current one's result counts (as jose orders its JWKS reloads).
 */
import { ageOf, type Instant } from '../clock.js';
import { clientDestroyed, restated, type WristbandM2MError } from '../errors.js';
import type { RefreshReason } from '../hooks.js';
import type { SharedToken } from '../token.js';
import { backoffMs, type TokenPhase, tokenPhase, type TokenSchedule } from './schedule.js';

/**
 * The hot path reads only the wall clock. It serves the token as is only inside a window of at most this many ms
 * after a full check of both clocks: a wall clock stepped back lands before the window, one that jumped lands past
 * it, and either way the next call checks the monotonic clock too.
 */
export const CLOCK_CHECK_MS = 1_000;
/** After finding another process refreshing, how long before a refresh ahead looks at the store again. */
export const STORE_LOOK_MS = 100;

/** A token in the cache. */
export interface CachedToken {
  readonly accessToken: string;
  /** When its request was sent, by both clocks. */
  readonly sentAt: Instant;
  readonly schedule: TokenSchedule;
}

/** The client's whole token state. Replaced, never changed, by {@link apply}. */
export interface TokenState {
  readonly token: CachedToken | undefined;
  /** The round whose result may fill the cache, if one is running. */
  readonly round: { readonly seq: number; readonly reason: RefreshReason } | undefined;
  /** The last sequence number given to a round. */
  readonly seq: number;
  /** Consecutive failed rounds, the last one's error, and the monotonic ms before which no round starts. */
  readonly failures: number;
  readonly lastError: WristbandM2MError | undefined;
  readonly retryAt: number;
  /** Why the next round with no usable token happens, for the refresh hooks. */
  readonly missReason: RefreshReason;
  /** After finding another process refreshing: the monotonic ms before which no refresh ahead starts. */
  readonly storeLookAt: number;
  readonly destroyed: boolean;
}

export const INITIAL_STATE: TokenState = {
  token: undefined,
  round: undefined,
  seq: 0,
  failures: 0,
  lastError: undefined,
  retryAt: 0,
  missReason: 'initial',
  storeLookAt: 0,
  destroyed: false,
};

/** What a call gets. */
export type Decision =
  | { readonly action: 'serve' }
  | { readonly action: 'serve-and-refresh' }
  | { readonly action: 'join' }
  | { readonly action: 'start'; readonly reason: RefreshReason }
  | { readonly action: 'reject'; readonly error: WristbandM2MError };

/** What happens to the state. Every event about a round names its sequence number. */
export type TokenEvent =
  | { readonly type: 'started'; readonly reason: RefreshReason }
  | { readonly type: 'succeeded'; readonly seq: number; readonly token: CachedToken }
  /** Another process holds the fleet's lock: keep serving, and look at the store again a little later. */
  | { readonly type: 'deferred'; readonly seq: number }
  /** `random` (0 to 1) sets the backoff's share of its ceiling. */
  | { readonly type: 'failed'; readonly seq: number; readonly error: WristbandM2MError; readonly random: number }
  | { readonly type: 'cleared'; readonly token: string | undefined }
  | { readonly type: 'destroyed' };

const SERVE: Decision = { action: 'serve' };
const SERVE_AND_REFRESH: Decision = { action: 'serve-and-refresh' };
const JOIN: Decision = { action: 'join' };

/** Where the cached token stands at `now`. */
export function phaseOf(state: TokenState, now: Instant): TokenPhase {
  const { token } = state;
  return token === undefined ? 'unusable' : tokenPhase(token.schedule, ageOf(token.sentAt, now));
}

/** What a `getToken()` call at `now` gets. */
export function decide(state: TokenState, now: Instant): Decision {
  if (state.destroyed) return { action: 'reject', error: clientDestroyed() };
  const phase = phaseOf(state, now);
  if (phase === 'fresh') return SERVE;
  if (phase === 'expiring') return shouldRefreshAhead(state, now) ? SERVE_AND_REFRESH : SERVE;
  if (state.round !== undefined) return JOIN;
  const { lastError } = state;
  if (lastError !== undefined && now.mono < state.retryAt) {
    return { action: 'reject', error: backingOff(lastError, state.retryAt - now.mono) };
  }
  return { action: 'start', reason: state.missReason };
}

/** Whether a refresh ahead of expiry starts now: none running, no backoff, no other process found refreshing. */
function shouldRefreshAhead(state: TokenState, now: Instant): boolean {
  return state.round === undefined && now.mono >= state.retryAt && now.mono >= state.storeLookAt;
}

/** Whether the background timer starts a round at `now`: one running refreshes anyway, and a backoff holds it. */
export function shouldRefreshInBackground(state: TokenState, now: Instant): boolean {
  return !state.destroyed && state.round === undefined && now.mono >= state.retryAt;
}

/** The state after `event` at `now`. */
export function apply(state: TokenState, event: TokenEvent, now: Instant): TokenState {
  switch (event.type) {
    case 'started':
      return { ...state, seq: state.seq + 1, round: { seq: state.seq + 1, reason: event.reason } };
    case 'succeeded':
      if (!isCurrent(state, event.seq)) return state;
      return {
        ...state,
        token: event.token,
        round: undefined,
        failures: 0,
        lastError: undefined,
        retryAt: 0,
        missReason: 'expired',
      };
    case 'deferred':
      if (!isCurrent(state, event.seq)) return state;
      return { ...state, round: undefined, storeLookAt: now.mono + STORE_LOOK_MS };
    case 'failed': {
      if (!isCurrent(state, event.seq)) return state;
      const failures = state.failures + 1;
      const waitMs = Math.max(backoffMs(failures, event.random), event.error.retryAfterMs ?? 0);
      return { ...state, round: undefined, failures, lastError: event.error, retryAt: now.mono + waitMs };
    }
    case 'cleared':
      // A late 401 for an older token must not evict a newer one.
      if (event.token !== undefined && event.token !== state.token?.accessToken) return state;
      // The round in flight goes on for the callers already waiting, but can no longer fill the cache.
      return {
        ...state,
        token: undefined,
        round: undefined,
        missReason: event.token === undefined ? 'cleared' : 'unauthorized',
      };
    case 'destroyed':
      return { ...state, token: undefined, round: undefined, destroyed: true };
  }
}

/** Whether round `seq` may still fill the cache: no `clearToken()` or `destroy()` came since it started. */
export function isCurrent(state: TokenState, seq: number): boolean {
  return state.round?.seq === seq && !state.destroyed;
}

/**
 * Whether a round with `reason` takes `stored` (a token another process shared, `ageMs` old by the wall clock) instead
 * of fetching: a refresh ahead only a token newer than `held` (the one it is replacing) and still fresh by the
 * unspread schedule, so that it never takes back its own token, nor one it would refresh again at once; a round with
 * no usable token, any token still usable.
 */
export function takesStored(
  reason: RefreshReason,
  stored: SharedToken,
  ageMs: number,
  schedule: TokenSchedule,
  held: Pick<SharedToken, 'accessToken' | 'sentAt'> | undefined,
): boolean {
  const phase = tokenPhase(schedule, ageMs);
  if (reason !== 'expiring' && reason !== 'background') return phase !== 'unusable';
  const newer = held === undefined || (stored.accessToken !== held.accessToken && stored.sentAt > held.sentAt);
  return newer && phase === 'fresh';
}

/**
 * The hot path's window in wall time, from a full check at `now`: up to the refresh instant, at most
 * {@link CLOCK_CHECK_MS}, and at most half the time left until the token is unusable (a wall clock stepped back by
 * less than the window has run stays undetected, and serves the token that much longer; half the time left bounds
 * that, so such a step can make a refresh start late, never hand out a token past its life). Empty unless fresh.
 */
export function hotWindow(state: TokenState, now: Instant): { from: number; until: number } {
  const { token } = state;
  if (token === undefined || phaseOf(state, now) !== 'fresh') return { from: 0, until: 0 };
  const age = ageOf(token.sentAt, now);
  const windowMs = Math.min(
    token.schedule.refreshAfterMs - age,
    (token.schedule.usableForMs - age) / 2,
    CLOCK_CHECK_MS,
  );
  return { from: now.wall, until: now.wall + windowMs };
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

/** What `client.state` shows at `now`. A query only: reading it changes nothing. */
export function snapshot(state: TokenState, now: Instant): WristbandM2MClientState {
  const token = phaseOf(state, now) === 'unusable' ? undefined : state.token;
  const { lastError, retryAt } = state;
  // When it was sent, in the wall clock's current frame, by whichever clock says it is older: a wall clock stepped
  // back must not put expiresAt and refreshAt later than the instants they describe.
  const sentAt = token && now.wall - ageOf(token.sentAt, now);
  return Object.freeze({
    status: token === undefined ? 'unavailable' : lastError === undefined ? 'fresh' : 'degraded',
    hasValidToken: token !== undefined,
    expiresAt: token && (sentAt as number) + token.schedule.usableForMs,
    refreshAt: token && (sentAt as number) + token.schedule.refreshAfterMs,
    refreshing: state.round !== undefined,
    lastRefreshError: lastError,
    retryAt: retryAt > now.mono ? now.wall + (retryAt - now.mono) : undefined,
  });
}

function backingOff(last: WristbandM2MError, retryAfterMs: number): WristbandM2MError {
  const seconds = Math.ceil(retryAfterMs / 100) / 10;
  return restated(last, `${last.message} No token request is sent for ${seconds} s after repeated failures.`, {
    attempts: 0,
    retryAfterMs,
  });
}
