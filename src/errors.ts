/**
 * Stable machine-readable reasons for a {@link WristbandM2MError}. Branch on these, never on the message.
 *
 * - `INVALID_CONFIG`: `createWristbandM2MClient()` was given an option it cannot use, or `getToken()` a `waitUntil`
 *   it cannot call or a `signal` that is not an `AbortSignal`; the message names it.
 * - `TOKEN_ENDPOINT_HTTP_ERROR`: the token endpoint answered with a status other than 2xx. `status` is set, and
 *   `error` / `errorDescription` when the body was an OAuth error response
 *   ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)).
 * - `TOKEN_ENDPOINT_UNREACHABLE`: the request failed before any HTTP answer (DNS, refused or reset connection, TLS).
 * - `TOKEN_REQUEST_TIMEOUT`: one attempt took longer than `tokenRequestTimeout`.
 * - `INVALID_TOKEN_RESPONSE`: a 2xx answer that is not a usable token response
 *   ([RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)).
 * - `ABORTED`: the caller's `AbortSignal` fired; `cause` holds the signal's reason.
 * - `CLIENT_DESTROYED`: `destroy()` was called on the client.
 * - `TOKEN_STORE_ERROR`: a `tokenStore` call failed or was too slow. Only ever passed to `onTokenStoreError`:
 *   a store failure is a cache miss, never a failed `getToken()`.
 * - `CLIENT_SECRET_UNAVAILABLE`: a `clientSecret` provider function threw, rejected, timed out or returned something
 *   unusable; `cause` keeps only the provider error's name.
 *
 * `instanceof WristbandM2MError` also holds for errors from another copy of this package (the CommonJS and ESM builds
 * loaded side by side), but `code` stays the way to tell failures apart.
 */
export type WristbandM2MErrorCode =
  | 'INVALID_CONFIG'
  | 'TOKEN_ENDPOINT_HTTP_ERROR'
  | 'TOKEN_ENDPOINT_UNREACHABLE'
  | 'TOKEN_REQUEST_TIMEOUT'
  | 'INVALID_TOKEN_RESPONSE'
  | 'ABORTED'
  | 'CLIENT_DESTROYED'
  | 'TOKEN_STORE_ERROR'
  | 'CLIENT_SECRET_UNAVAILABLE';

/** What a {@link WristbandM2MError} may carry besides its code and message. */
export interface WristbandM2MErrorDetails {
  /** HTTP status of the token endpoint's last answer, when there was one. */
  status?: number;
  /** OAuth `error` code from the token endpoint's body, such as `invalid_client`. */
  error?: string;
  /** OAuth `error_description` from the token endpoint's body. */
  errorDescription?: string;
  /** Token requests sent before giving up. */
  attempts?: number;
  /**
   * How long until the client will ask the token endpoint again, in ms, when it is backing off after failures or
   * honouring a Retry-After; undefined otherwise.
   */
  retryAfterMs?: number | undefined;
  /** The underlying failure (a network error, an abort reason, a JSON syntax error). */
  cause?: unknown;
}

/**
 * Marks errors of this class in every copy of the package. `Symbol.for` keys live in the runtime's global registry,
 * so the CommonJS and the ESM build (both loaded by an app that mixes `require` and `import`) share this one.
 */
const BRAND = Symbol.for('@wristband/typescript-m2m-auth:WristbandM2MError');

/**
 * The only error type the client raises. Its message says what to do; its `code` is stable across releases.
 * It never holds the client secret or the `Authorization` header, in any property, message or `cause`.
 *
 * `error instanceof WristbandM2MError` is true for an error from any copy of this package (the CommonJS and ESM
 * builds each define the class), because the check looks for a shared brand rather than this exact constructor.
 */
export class WristbandM2MError extends Error {
  override readonly name = 'WristbandM2MError';
  readonly code: WristbandM2MErrorCode;
  readonly status: number | undefined;
  readonly error: string | undefined;
  readonly errorDescription: string | undefined;
  readonly attempts: number | undefined;
  /**
   * How long until the client will ask the token endpoint again, in ms, when it is backing off after failures or
   * honouring a Retry-After; undefined otherwise.
   */
  readonly retryAfterMs: number | undefined;

  // On the prototype, so it is in no own property, JSON or spread of an error, and not in the type: a typed
  // `unique symbol` member would make the .d.ts and .d.cts declarations of this class unassignable to each other.
  static {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class being set up
    Object.defineProperty(this.prototype, BRAND, { value: true });
  }

  /**
   * Recognises errors from any copy of the package by their brand. A subclass keeps the ordinary prototype check,
   * since the brand says nothing about which subclass made an error.
   *
   * The class is told from a subclass by its prototype owning the brand, not by its name: esbuild renames a class
   * that names itself in its body (to `_WristbandM2MError`), and stacks and `util.inspect` would show that name.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: a subclass's own check must see which class it was called on
    if (!Object.hasOwn(this.prototype, BRAND)) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  constructor(code: WristbandM2MErrorCode, message: string, details: WristbandM2MErrorDetails = {}) {
    super(message, 'cause' in details ? { cause: details.cause } : undefined);
    this.code = code;
    this.status = details.status;
    this.error = details.error;
    this.errorDescription = details.errorDescription;
    this.attempts = details.attempts;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** Creates the `INVALID_CONFIG` error for one option; every config check goes through here. */
export function invalidConfig(option: string, problem: string): WristbandM2MError {
  return new WristbandM2MError('INVALID_CONFIG', `Invalid Wristband M2M client config: \`${option}\` ${problem}`);
}

/**
 * `getToken()`'s `signal`, checked: anything without `addEventListener` (a plain object, `null`) would otherwise fail
 * as `signal.addEventListener is not a function`, or only once a refresh is due.
 */
export function checkedSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined || typeof (signal as AbortSignal | null)?.addEventListener === 'function') {
    return signal as AbortSignal | undefined;
  }
  throw new WristbandM2MError(
    'INVALID_CONFIG',
    `getToken(): \`signal\` is not an AbortSignal (got ${describeValue(signal)}).`,
  );
}

/** What a secret or client ID read from a file often has; never its value. */
export const WHITESPACE_AROUND = 'has surrounding whitespace (a line break from a file?): trim it';

/** The error for any call on, or request cut short by, a destroyed client. */
export function clientDestroyed(): WristbandM2MError {
  return new WristbandM2MError('CLIENT_DESTROYED', 'This client was destroyed: create a new one to get tokens.');
}

/** The error for work cut short by `signal`: its reason when it is one of ours, else `CLIENT_DESTROYED`. */
export function abortError(signal: AbortSignal): WristbandM2MError {
  return signal.reason instanceof WristbandM2MError ? signal.reason : clientDestroyed();
}

/**
 * `error` told again with a new message: its code and the server's fields kept, any of them replaced by `details`.
 * Only the fields of the type, never its `cause`, which the new message does not speak for.
 */
export function restated(
  error: Pick<WristbandM2MError, 'code' | 'status' | 'error'> & Partial<WristbandM2MError>,
  message: string,
  details: WristbandM2MErrorDetails = {},
): WristbandM2MError {
  const { status, error: oauthError, errorDescription, attempts, retryAfterMs } = error;
  return new WristbandM2MError(error.code, message, {
    status,
    error: oauthError,
    errorDescription,
    attempts,
    retryAfterMs,
    ...details,
  } as WristbandM2MErrorDetails);
}

/**
 * Whether a failure says the endpoint does not accept the secret that was sent: a 401, or any 4xx whose OAuth `error`
 * is `invalid_client`.
 */
export function isRejectedCredential(failure: { status?: number | undefined; error?: string | undefined }): boolean {
  const status = failure.status ?? 0;
  return status === 401 || (status >= 400 && status < 500 && failure.error === 'invalid_client');
}

/** Names the kind of a bad value without ever echoing it: it may be a secret put in the wrong option. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number')
    return Number.isNaN(value) ? 'NaN' : Number.isFinite(value) ? 'a number' : 'an infinite number';
  if (typeof value === 'string') return value === '' ? 'an empty string' : value.trim() ? 'a string' : 'a blank string';
  if (value == null) return String(value);
  return Array.isArray(value) ? 'an array' : `a${typeof value === 'object' ? 'n' : ''} ${typeof value}`;
}
