/**
 * One round: this round's secrets, then the fleet (when there is a store) or the token endpoint directly, ending in
 * a tagged {@link RoundOutcome}. It owns nothing of the cache: the client applies the outcome to its state. Its I/O
 * stops when `signal` aborts; `detached` tells the fleet that what it gets will not be shared.
 */
import type { Credentials } from '../credentials/credentials.js';
import { abortError, WristbandM2MError } from '../errors.js';
import type { RefreshReason } from '../hooks.js';
import { longestRequestMs, type TokenRequester } from '../http/token-request.js';
import type { Latch } from '../latch.js';
import { type Fleet, longestFleetMs, type StoredToken } from '../store/fleet.js';
import type { IssuedToken } from '../token.js';

/** Slack past a round's longest possible duration before it is given up as wedged. */
export const ABANDON_GRACE_MS = 1_000;

/** The bounds a round's duration is made of. */
export interface RoundBounds {
  requestTimeoutMs: number;
  /** Whether the secrets come from a provider, whose call is bounded by `requestTimeoutMs` too. */
  provider: boolean;
  /** With a store: its per-call timeout and the lock wait. */
  store: { timeoutMs: number; lockWaitMs: number } | undefined;
}

/**
 * The longest a round with `secretCount` secrets can take with every bound hit: the provider's call, the token
 * requests and their pauses, and the fleet's store calls and lock wait. Each layer states its own part.
 */
export function longestRoundMs(bounds: RoundBounds, secretCount: number): number {
  const { requestTimeoutMs, provider, store } = bounds;
  return (
    (provider ? requestTimeoutMs : 0) +
    longestRequestMs(secretCount, requestTimeoutMs) +
    (store === undefined ? 0 : longestFleetMs(store.timeoutMs, store.lockWaitMs))
  );
}

export interface RoundDeps {
  credentials: Credentials;
  requestToken: TokenRequester;
  fleet: Fleet | undefined;
  bounds: RoundBounds;
}

/** What the client tells a round. */
export interface RoundPlan {
  reason: RefreshReason;
  /** Whether it takes a token another process shared (see `takesStored`). */
  accepts(token: StoredToken): boolean;
  /** Whether the cached token is still served, so the round may leave the refresh to another process (no wait). */
  mayDefer(): boolean;
  /** Told the round's longest duration once its secrets are known, counted from its start. */
  knowsLongest(longestMs: number): void;
}

export type RoundOutcome =
  | { type: 'token'; source: 'endpoint'; token: IssuedToken; written: Promise<void> }
  | { type: 'token'; source: 'store'; token: StoredToken }
  | { type: 'deferred' }
  | { type: 'failed'; error: WristbandM2MError };

const WRITTEN = Promise.resolve();

/** Runs one round. Never rejects: a failure is an outcome. */
export async function runRound(
  deps: RoundDeps,
  plan: RoundPlan,
  signal: AbortSignal,
  detached: Latch,
): Promise<RoundOutcome> {
  try {
    const { secrets, order } = await deps.credentials.forRound(signal);
    if (signal.aborted) throw abortError(signal);
    const longestMs = longestRoundMs(deps.bounds, secrets.length);
    plan.knowsLongest(longestMs);
    const fetch = async (): Promise<IssuedToken> => {
      const issued = await deps.requestToken(secrets, order, signal);
      deps.credentials.worked(secrets[issued.secretIndex] as string);
      return issued;
    };
    if (deps.fleet === undefined) return { type: 'token', source: 'endpoint', token: await fetch(), written: WRITTEN };
    const outcome = await deps.fleet.obtain(
      {
        secrets,
        lockIndex: order[0] as number,
        readFirst: plan.reason !== 'background',
        accepts: plan.accepts,
        mayDefer: plan.mayDefer,
        // A lock outlives the longest round its holder can run, so a crashed holder frees it in time.
        lockTtlSeconds: Math.ceil(longestMs / 1000),
        fetch,
      },
      signal,
      detached,
    );
    if (signal.aborted) throw abortError(signal);
    if (outcome.type === 'deferred') return outcome;
    if (outcome.type === 'fetched') {
      return { type: 'token', source: 'endpoint', token: outcome.token, written: outcome.written };
    }
    return { type: 'token', source: 'store', token: outcome.token };
  } catch (error) {
    return { type: 'failed', error: signal.aborted ? abortError(signal) : asRoundFailure(error) };
  }
}

function asRoundFailure(error: unknown): WristbandM2MError {
  if (error instanceof WristbandM2MError) return error;
  return new WristbandM2MError('TOKEN_ENDPOINT_UNREACHABLE', 'The token refresh failed unexpectedly.', {
    cause: error instanceof Error ? { name: error.name } : undefined,
  });
}
