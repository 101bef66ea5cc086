/**
 * The client: an in-memory token cache, the coalescing of concurrent refreshes into one request, the optional
 * background refresh schedule, and what it reports about them. Everything that talks to the token endpoint lives
 * in `token-request.ts`.
 */
import { createAuthenticatedFetch } from './authenticated-fetch.js';
import { resolveConfig, type FetchImplementation, type WristbandM2MClientConfig } from './config.js';
import { clientDestroyed, WristbandM2MError } from './errors.js';
import { callHook, type RefreshReason } from './hooks.js';
import { createSharedCache } from './shared-cache.js';
import type { SharedToken } from './token-store.js';
import { createTokenRequester, type IssuedToken } from './token-request.js';
import { startUnrefInterval } from './timers.js';

/** Options of {@link WristbandM2MClient.getToken}. */
export interface GetTokenOptions {
  /**
   * Stops this caller's wait: it rejects with an `ABORTED` {@link WristbandM2MError} whose `cause` is the signal's
   * reason. A token request shared with other callers keeps going for them.
   */
  signal?: AbortSignal;
}

/** A snapshot of what the client holds, for health checks. It never includes the token. */
export interface WristbandM2MClientState {
  /** Whether `getToken()` would answer from the cache right now. */
  readonly hasValidToken: boolean;
  /** When the cached token stops being served, in ms since the epoch; `undefined` with no token cached. */
  readonly expiresAt: number | undefined;
  /** Whether a token request is in flight. */
  readonly refreshing: boolean;
  /** The failure of the latest token request, until a later one succeeds. */
  readonly lastRefreshError: WristbandM2MError | undefined;
}

/** A token client for one Wristband M2M OAuth2 client. Create one per process (or per Worker module) and share it. */
export interface WristbandM2MClient {
  /**
   * Resolves to a valid access token: the cached one while it is fresh, otherwise a new one from the token endpoint.
   * Concurrent calls share one request. A 5xx answer is tried up to 3 times, 100 ms apart; any other failure
   * rejects at once with a {@link WristbandM2MError}.
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
   * Stops the background refresh timer, cancels any token request in flight and drops the cache. Later calls of
   * `getToken()` reject with `CLIENT_DESTROYED`. Calling it again does nothing. Also `client[Symbol.dispose]()`
   * where the runtime defines `Symbol.dispose`, so `using client = createWristbandM2MClient(...)` works.
   */
  destroy(): void;
}

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
  const settings = resolveConfig(config);
  const requestToken = createTokenRequester(settings);
  // Aborted by destroy(): cancels requests in flight and the pauses between retries. Made at the first request:
  // Workers refuse even `new AbortController()` at module scope, where users create this client.
  let lifetime: AbortController | undefined;
  let destroyed = false;

  // The cache is two plain variables so a hit costs one clock read and one comparison.
  let accessToken = '';
  let expiresAt = 0;
  // The request every caller joins while it runs. clearToken() detaches it and bumps the generation, so a request
  // started before the clear can still answer its own callers but can never write into the cache.
  let pending: Promise<string> | undefined;
  let generation = 0;
  // Why the next cache miss happens, for the refresh hooks.
  let missReason: RefreshReason = 'initial';
  let lastRefreshError: WristbandM2MError | undefined;
  let stopBackgroundRefresh: (() => void) | undefined;
  // The token last retired by clearToken(): a shared store may still hold it, and must not hand it back.
  let rejectedToken: string | undefined;
  const shared = settings.tokenStore && createSharedCache(settings.tokenStore, settings);

  function refresh(reason: RefreshReason): Promise<string> {
    if (pending !== undefined) return pending;
    const request = fetchIntoCache(generation, reason).finally(() => {
      if (pending === request) pending = undefined;
    });
    pending = request;
    return request;
  }

  async function fetchIntoCache(startedIn: number, reason: RefreshReason): Promise<string> {
    const startedAt = Date.now();
    let issued: IssuedToken;
    let fromStore: SharedToken | undefined;
    try {
      lifetime ??= new AbortController();
      // A background refresh exists to replace the token, so it goes to Wristband, not to the store.
      if (shared && reason !== 'background') fromStore = await shared.find(isUsableSharedToken, lifetime.signal);
      issued = fromStore ? { ...fromStore, attempts: 0 } : await requestToken(lifetime.signal);
    } catch (error) {
      shared?.release();
      const failure = error as WristbandM2MError;
      if (!destroyed) {
        lastRefreshError = failure;
        const attempts = failure.attempts ?? 0;
        callHook(settings.onTokenRefreshFailed, { error: failure, attempts, durationMs: Date.now() - startedAt, reason });
      }
      throw error;
    }
    const tokenExpiresAt = cacheExpiry(issued, settings.expirationBufferMs);
    const source = fromStore ? 'store' : 'endpoint';
    if (startedIn === generation) {
      accessToken = issued.accessToken;
      expiresAt = tokenExpiresAt;
      missReason = 'expired';
      lastRefreshError = undefined;
      if (source === 'endpoint') await shared?.publish(issued);
    }
    const durationMs = Date.now() - startedAt;
    callHook(settings.onTokenRefreshed, { expiresAt: tokenExpiresAt, attempts: issued.attempts, durationMs, reason, source });
    return issued.accessToken;
  }

  /** A shared token is worth taking if this client would still serve it and it is not one just retired. */
  function isUsableSharedToken(token: SharedToken): boolean {
    return token.accessToken !== rejectedToken && Date.now() < cacheExpiry(token, settings.expirationBufferMs);
  }

  // Not async: concurrent callers without a signal all get the one pending promise, with no frame of their own.
  function acquire(signal: AbortSignal | undefined): Promise<string> {
    if (destroyed) return Promise.reject(clientDestroyed());
    if (signal?.aborted) return Promise.reject(aborted(signal));
    if (Date.now() < expiresAt) return Promise.resolve(accessToken);
    startBackgroundRefresh();
    const request = refresh(missReason);
    return signal === undefined ? request : untilAborted(request, signal);
  }

  function startBackgroundRefresh(): void {
    const intervalMs = settings.backgroundRefreshIntervalMs;
    if (intervalMs === undefined || stopBackgroundRefresh !== undefined) return;
    stopBackgroundRefresh = startUnrefInterval(() => {
      // A request already running refreshes the cache anyway; a second one would only add load.
      if (pending !== undefined) return;
      refresh('background').catch((error: WristbandM2MError) => {
        if (!destroyed) callHook(settings.onBackgroundRefreshError, error);
      });
    }, intervalMs);
  }

  function clearToken(token?: string): void {
    if (token !== undefined && token !== accessToken) return;
    if (accessToken !== '') {
      rejectedToken = accessToken;
      shared?.forget(accessToken);
    }
    dropCache();
    missReason = token === undefined ? 'cleared' : 'unauthorized';
  }

  function dropCache(): void {
    accessToken = '';
    expiresAt = 0;
    pending = undefined;
    generation++;
  }

  function destroy(): void {
    if (destroyed) return;
    destroyed = true;
    lifetime?.abort();
    stopBackgroundRefresh?.();
    // Only this client goes: the shared record still serves the rest of the fleet.
    dropCache();
  }

  // The hot path: a clock read and a comparison while the token is fresh.
  function getToken(options?: GetTokenOptions): Promise<string> {
    if (Date.now() < expiresAt && options?.signal?.aborted !== true) return Promise.resolve(accessToken);
    return acquire(options?.signal);
  }

  const client: WristbandM2MClient = {
    getToken,
    clearToken,
    fetch: createAuthenticatedFetch({ getToken, clearToken }, settings.fetch),
    get state(): WristbandM2MClientState {
      const hasValidToken = Date.now() < expiresAt;
      return Object.freeze({
        hasValidToken,
        expiresAt: accessToken === '' ? undefined : expiresAt,
        refreshing: pending !== undefined,
        lastRefreshError,
      });
    },
    destroy,
  };
  if (typeof Symbol.dispose === 'symbol') Object.defineProperty(client, Symbol.dispose, { value: destroy });
  return Object.freeze(client);
}

/**
 * When the cache stops serving a token: `expires_in` minus the buffer, counted from when the request was sent.
 * A token that lives no longer than the buffer is served for half its lifetime instead, so a short-lived token
 * is not refetched on every call.
 */
export function cacheExpiry(issued: Pick<IssuedToken, 'sentAt' | 'expiresInSeconds'>, expirationBufferMs: number): number {
  const lifetimeMs = issued.expiresInSeconds * 1000;
  return issued.sentAt + (lifetimeMs > expirationBufferMs ? lifetimeMs - expirationBufferMs : lifetimeMs / 2);
}

function aborted(signal: AbortSignal): WristbandM2MError {
  return new WristbandM2MError(
    'ABORTED',
    'getToken() was aborted by its signal; a token request shared with other callers goes on for them.',
    { cause: signal.reason },
  );
}

/** Follows `shared` for one caller, rejecting as soon as that caller's signal aborts, and then lets go of it. */
function untilAborted(shared: Promise<string>, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(aborted(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    // The listener goes before the caller resumes, so a long-lived signal never holds one for a settled call.
    shared.then(
      (token) => {
        signal.removeEventListener('abort', onAbort);
        resolve(token);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
