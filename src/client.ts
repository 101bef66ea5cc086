/**
 * The client: an in-memory token cache, the coalescing of concurrent refreshes into one request, and the optional
 * background refresh schedule. Everything that talks to the network lives in `token-request.ts`.
 */
import { resolveConfig, type WristbandM2MClientConfig } from './config.js';
import { clientDestroyed, WristbandM2MError } from './errors.js';
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
   */
  clearToken(): void;
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
  let stopBackgroundRefresh: (() => void) | undefined;

  function refresh(): Promise<string> {
    if (pending !== undefined) return pending;
    const request = fetchIntoCache(generation).finally(() => {
      if (pending === request) pending = undefined;
    });
    pending = request;
    return request;
  }

  async function fetchIntoCache(startedIn: number): Promise<string> {
    lifetime ??= new AbortController();
    const issued = await requestToken(lifetime.signal);
    if (startedIn === generation) {
      accessToken = issued.accessToken;
      expiresAt = cacheExpiry(issued, settings.expirationBufferMs);
    }
    return issued.accessToken;
  }

  async function acquire(signal: AbortSignal | undefined): Promise<string> {
    if (destroyed) throw clientDestroyed();
    if (signal?.aborted) throw aborted(signal);
    if (Date.now() < expiresAt) return accessToken;
    startBackgroundRefresh();
    const shared = refresh();
    return signal === undefined ? shared : untilAborted(shared, signal);
  }

  function startBackgroundRefresh(): void {
    const intervalMs = settings.backgroundRefreshIntervalMs;
    if (intervalMs === undefined || stopBackgroundRefresh !== undefined) return;
    stopBackgroundRefresh = startUnrefInterval(() => {
      // A request already running refreshes the cache anyway; a second one would only add load.
      if (pending !== undefined) return;
      refresh().catch((error: unknown) => {
        if (!destroyed) reportBackgroundError(error);
      });
    }, intervalMs);
  }

  function reportBackgroundError(error: unknown): void {
    try {
      settings.onBackgroundRefreshError?.(error as WristbandM2MError);
    } catch {
      // The handler is the user's logging code; its own failure must not become an uncaught timer exception.
    }
  }

  function clearToken(): void {
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
    clearToken();
  }

  const client: WristbandM2MClient = {
    getToken(options?: GetTokenOptions): Promise<string> {
      if (Date.now() < expiresAt && options?.signal?.aborted !== true) return Promise.resolve(accessToken);
      return acquire(options?.signal);
    },
    clearToken,
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
export function cacheExpiry(issued: IssuedToken, expirationBufferMs: number): number {
  const lifetimeMs = issued.expiresInSeconds * 1000;
  return issued.sentAt + (lifetimeMs > expirationBufferMs ? lifetimeMs - expirationBufferMs : lifetimeMs / 2);
}

function aborted(signal: AbortSignal): WristbandM2MError {
  return new WristbandM2MError(
    'ABORTED',
    'getToken() was aborted by its signal; a token request shared with other callers was left running for them.',
    { cause: signal.reason },
  );
}

/** Follows `shared` for one caller, rejecting as soon as that caller's signal aborts, and then lets go of it. */
function untilAborted(shared: Promise<string>, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(aborted(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    shared.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
