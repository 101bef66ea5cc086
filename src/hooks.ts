/** What the client tells operators about its token refreshes. No event ever holds a token or the client secret. */
import type { WristbandM2MError } from './errors.js';
import type { TokenStoreOperation } from './store/types.js';

/**
 * Why a token request was made:
 * - `initial`: the first token this client fetched;
 * - `expiring`: the cached token reached its refresh instant and is still served while this refresh runs (see
 *   "Caching and refresh" in the README);
 * - `expired`: the cached token could no longer be served (or a refresh ahead of it failed until then);
 * - `cleared`: `clearToken()` was called;
 * - `unauthorized`: `clearToken(token)` retired a token an API rejected, as `client.fetch` does on a 401;
 * - `background`: the `backgroundTokenRefreshInterval` timer.
 */
export type RefreshReason = 'initial' | 'expiring' | 'expired' | 'cleared' | 'unauthorized' | 'background';

/** Passed to `onTokenRefreshed` after a token request succeeds. */
export interface TokenRefreshedEvent {
  /** When the client stops serving this token at all, in ms since the epoch (as `Date.now()`). */
  expiresAt: number;
  /** When the client starts refreshing it ahead of that, in ms since the epoch; calls meanwhile get this token. */
  refreshAt: number;
  /** Token requests it took, the first included; 0 for a token from the store. */
  attempts: number;
  /** From the first request to the token, in ms. */
  durationMs: number;
  reason: RefreshReason;
  /** `endpoint` for a token from Wristband, `store` for one another process shared through `tokenStore`. */
  source: 'endpoint' | 'store';
  /**
   * Position of the secret that worked, in the `clientSecret` list as configured (or as the provider returned it);
   * for a token from the store, of the secret whose key opened the record. Above 0 means a fallback secret is
   * still in use: the rotation is unfinished.
   */
  secretIndex: number;
}

/** Passed to `onTokenStoreError`: a store call that failed; the client treated it as a miss. */
export interface TokenStoreErrorEvent {
  operation: TokenStoreOperation;
  /** A `TOKEN_STORE_ERROR`, with the store's own error as `cause`. */
  error: WristbandM2MError;
}

/** Passed to `onTokenRefreshFailed` after a token request fails for good. */
export interface TokenRefreshFailedEvent {
  error: WristbandM2MError;
  /** Token requests sent, the first included; 0 if none could be sent. */
  attempts: number;
  durationMs: number;
  reason: RefreshReason;
}

/**
 * Calls an optional user hook so that nothing it does can reach the client: a throw or a rejected promise is
 * dropped. Hooks are logging and metrics code, and their failure must not become a failed getToken() or an
 * uncaught exception in a timer.
 */
export function callHook<T>(hook: ((event: T) => unknown) | undefined, event: T): void {
  if (hook === undefined) return;
  try {
    ignoreRejection(hook(event));
  } catch {
    // see above
  }
}

/**
 * Marks any thenable's rejection as handled. `instanceof Promise` is not enough: a promise made in another realm (a
 * `vm` context, some test runners, an iframe) or a custom thenable is not an instance of this realm's `Promise`, and
 * its rejection would crash a Node app. A `then` getter or method that throws is caught by the caller.
 */
function ignoreRejection(value: unknown): void {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return;
  const then: unknown = (value as { then?: unknown }).then;
  if (typeof then === 'function') then.call(value, undefined, () => undefined);
}
