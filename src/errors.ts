/**
 * Stable machine-readable reasons for a {@link WristbandM2MError}. Branch on these, never on the message.
 *
 * - `INVALID_CONFIG`: `createWristbandM2MClient()` was given an option it cannot use; the message names it.
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
 * - `CLIENT_SECRET_UNAVAILABLE`: a `clientSecret` function threw, rejected, took longer than `tokenRequestTimeout`
 *   or returned something that is not a secret or a list of them; `cause` keeps only the error's name.
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
   * How long until the client asks the token endpoint again, in ms: set while it backs off after failed rounds or
   * honours a `Retry-After` answer.
   */
  retryAfterMs?: number;
  /** The underlying failure (a network error, an abort reason, a JSON syntax error). */
  cause?: unknown;
}

/**
 * The only error type the client raises. Its message says what to do; its `code` is stable across releases.
 * It never holds the client secret or the `Authorization` header, in any property, message or `cause`.
 */
export class WristbandM2MError extends Error {
  override readonly name = 'WristbandM2MError';
  readonly code: WristbandM2MErrorCode;
  readonly status: number | undefined;
  readonly error: string | undefined;
  readonly errorDescription: string | undefined;
  readonly attempts: number | undefined;
  readonly retryAfterMs: number | undefined;

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

/** The error for any call on, or request cut short by, a destroyed client. */
export function clientDestroyed(): WristbandM2MError {
  return new WristbandM2MError(
    'CLIENT_DESTROYED',
    'This Wristband M2M client was destroyed; create a new one to get tokens.',
  );
}
