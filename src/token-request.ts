/**
 * One client-credentials token request ([RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4)) and the
 * policy around it: a timeout per attempt, a cap on the bytes read, and retries for 5xx answers only.
 */
import type { FetchImplementation, ResolvedConfig } from './config.js';
import { abortError, restated, WristbandM2MError } from './errors.js';
import { parseRetryAfter } from './lifecycle.js';
import { basicAuthorization, redact, sanitizeError } from './redact.js';
import { pause, within } from './timers.js';

export { basicAuthorization, formUrlEncode } from './redact.js';

/** Attempts per token request, the first included. Only 5xx answers are tried again. */
export const MAX_ATTEMPTS = 3;
/** Pause between two attempts, long enough to ride out a load balancer blip, short enough for a caller to wait. */
export const RETRY_DELAY_MS = 100;
/** A token response is well under 4 KiB; anything past this cap is not one, and reading on would waste memory. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
/** Longer advertised lifetimes are cut to this, so a buggy `expires_in` cannot pin a revoked token for years. */
export const MAX_TOKEN_LIFETIME_SECONDS = 24 * 60 * 60;

/** A token the endpoint issued, with what the cache needs to date it. */
export interface IssuedToken {
  accessToken: string;
  /** Lifetime from `expires_in`, in seconds, clamped to {@link MAX_TOKEN_LIFETIME_SECONDS}. */
  expiresInSeconds: number;
  /** `Date.now()` when the successful attempt was sent: the lifetime counts from there, not from the answer. */
  sentAt: number;
  /** `performance.now()` at the same moment, so a wall clock stepped back cannot stretch the lifetime. */
  sentAtMono: number;
  /** Token requests sent in the round, the successful one included. */
  attempts: number;
  /** Position of the secret that worked, in the list as configured or as the provider returned it. */
  secretIndex: number;
}

/**
 * Runs one round: sends token requests with `secrets`, trying the positions in `order`, until one succeeds or the
 * round fails for good. `signal` aborts when the client is destroyed or gives the round up; nothing is sent after.
 */
export type TokenRequester = (
  secrets: readonly string[],
  order: readonly number[],
  signal: AbortSignal,
) => Promise<IssuedToken>;

interface OAuthErrorBody {
  error?: string;
  errorDescription?: string;
}

/**
 * Makes the round runner. `credentials` holds every form of every secret in use (the caller appends the forms of
 * secrets a provider returns): server text and foreign errors are scrubbed of all of them before reaching an error.
 */
export function createTokenRequester(config: ResolvedConfig, credentials: readonly string[]): TokenRequester {
  const timeoutMs = config.requestTimeoutMs;

  async function attemptOnce(
    secret: string,
    attempt: number,
    signal: AbortSignal,
  ): Promise<Omit<IssuedToken, 'secretIndex'>> {
    // The fetch's own signal aborts the moment the round does or the time is up, not a few ticks later: destroy()
    // returns with it aborted, so a fetch implementation (or its socket) lets go at once.
    const controller = new AbortController();
    const abort = (): void => controller.abort();
    signal.addEventListener('abort', abort, { once: true });
    try {
      // The attempt ends at the timeout or the round's abort even when a fetch implementation ignores its signal.
      return await within(
        () => send(secret, attempt, controller.signal),
        timeoutMs,
        () => (abort(), timeoutError(attempt)),
        signal,
      );
    } catch (error) {
      throw signal.aborted ? abortError(signal) : error;
    } finally {
      signal.removeEventListener('abort', abort);
      abort();
    }
  }

  async function send(secret: string, attempt: number, signal: AbortSignal): Promise<Omit<IssuedToken, 'secretIndex'>> {
    const fetchImpl: FetchImplementation = config.fetch ?? globalThis.fetch;
    const sentAt = Date.now();
    const sentAtMono = performance.now();
    let response: Response;
    try {
      // Called unbound: Workers reject a fetch invoked as a method of another object.
      response = await fetchImpl(config.tokenEndpoint, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Accept: 'application/json',
          Authorization: basicAuthorization(config.clientId, secret),
        },
        body: 'grant_type=client_credentials',
        // A redirect would resend the credentials to wherever it points; it is answered as an error instead.
        redirect: 'manual',
        signal,
      });
    } catch (cause) {
      throw unreachable(cause, attempt);
    }
    let text: string | undefined;
    try {
      text = await readCapped(response, MAX_RESPONSE_BYTES, signal);
    } catch (cause) {
      if (!(cause instanceof ResponseTooLarge)) throw unreachable(cause, attempt);
    }
    if (response.ok) {
      const token = parseTokenResponse(text, response, attempt);
      if (Date.now() >= sentAt + token.expiresInSeconds * 1000) {
        // Only a stalled answer or a jumping clock gets here; handing out the token would mean a sure 401.
        throw new WristbandM2MError(
          'INVALID_TOKEN_RESPONSE',
          'The token expired before its answer arrived; check the system clock and the latency to Wristband.',
          { status: response.status, attempts: attempt },
        );
      }
      return { ...token, sentAt, sentAtMono, attempts: attempt };
    }
    const oauth = parseOAuthError(text, (value) => redact(value, credentials));
    const retryAfterMs =
      response.status === 429 || response.status === 503
        ? parseRetryAfter(response.headers.get('retry-after'), Date.now())
        : undefined;
    throw new WristbandM2MError('TOKEN_ENDPOINT_HTTP_ERROR', httpErrorMessage(response, oauth, attempt), {
      status: response.status,
      ...oauth,
      attempts: attempt,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }

  function unreachable(cause: unknown, attempt: number): WristbandM2MError {
    return new WristbandM2MError(
      'TOKEN_ENDPOINT_UNREACHABLE',
      `Could not reach ${config.tokenEndpoint}; check the vanity domain, DNS and outbound network access.`,
      { attempts: attempt, cause: sanitizeError(cause, credentials) },
    );
  }

  function timeoutError(attempt: number): WristbandM2MError {
    return new WristbandM2MError(
      'TOKEN_REQUEST_TIMEOUT',
      `No answer from the Wristband token endpoint within tokenRequestTimeout (${timeoutMs / 1000} s); ` +
        'check connectivity, or raise tokenRequestTimeout.',
      { attempts: attempt },
    );
  }

  return async function requestToken(secrets, order, signal) {
    let position = 0;
    let serverErrors = 0;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw abortError(signal);
      const secretIndex = order[position] as number;
      try {
        return { ...(await attemptOnce(secrets[secretIndex] as string, attempt, signal)), secretIndex };
      } catch (error) {
        const step = nextStep(error, position + 1 < order.length, serverErrors);
        if (step === 'next secret') {
          position++;
          continue;
        }
        if (step !== 'retry') {
          throw step === 'all rejected' && order.length > 1
            ? allSecretsRejected(error as WristbandM2MError, order.length)
            : error;
        }
        serverErrors++;
      }
      await pause(RETRY_DELAY_MS, signal).catch(() => {
        throw abortError(signal);
      });
    }
  };
}

/**
 * What a round does after a failed attempt: a rejected credential moves to the next secret at once; a 5xx without
 * `Retry-After` is tried again with the same secret until {@link MAX_ATTEMPTS} 5xx answers came back in the round;
 * anything else (a 4xx, a network error, a timeout, a `Retry-After`) ends the round.
 */
export function nextStep(
  error: unknown,
  hasNextSecret: boolean,
  earlierServerErrors: number,
): 'next secret' | 'all rejected' | 'retry' | 'fail' {
  if (!(error instanceof WristbandM2MError) || error.status === undefined) return 'fail';
  if (isRejectedCredential(error)) return hasNextSecret ? 'next secret' : 'all rejected';
  const retryable = error.status >= 500 && error.retryAfterMs === undefined;
  return retryable && earlierServerErrors + 1 < MAX_ATTEMPTS ? 'retry' : 'fail';
}

/** A 401, or any 4xx whose OAuth `error` is `invalid_client`: the endpoint does not accept this secret. */
export function isRejectedCredential(error: WristbandM2MError): boolean {
  const status = error.status ?? 0;
  return status === 401 || (status >= 400 && status < 500 && error.error === 'invalid_client');
}

function allSecretsRejected(last: WristbandM2MError, count: number): WristbandM2MError {
  return restated(
    last,
    `${last.message.replace(/; check clientId.*$/, '')}; all ${count} client secrets were rejected: check clientId ` +
      'and the secrets against the OAuth2 client in the Wristband dashboard.',
  );
}

class ResponseTooLarge extends Error {}

/**
 * Reads the body as UTF-8 text, refusing at `limit` bytes so a runaway or hostile answer cannot fill the heap.
 * Throws {@link ResponseTooLarge} past the cap, `signal.reason` once `signal` aborts, or whatever the stream
 * throws (a reset). The abort is enforced here rather than left to the fetch implementation, since not every one
 * ties its signal to a body that has started to arrive.
 */
async function readCapped(response: Response, limit: number, signal: AbortSignal): Promise<string> {
  const body = response.body;
  if (body === null) return '';
  if (Number(response.headers.get('content-length')) > limit) {
    discard(body.cancel());
    throw new ResponseTooLarge();
  }
  const reader = body.getReader();
  // Cancelling settles a pending read() at once; awaiting the cancel itself could wait on the server.
  const stop = (): void => discard(reader.cancel());
  signal.addEventListener('abort', stop, { once: true });
  try {
    const decoder = new TextDecoder();
    let text = '';
    let received = 0;
    for (;;) {
      const { done, value } = await reader.read();
      signal.throwIfAborted();
      if (done) return text + decoder.decode();
      received += value.byteLength;
      if (received > limit) {
        stop();
        throw new ResponseTooLarge();
      }
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

function discard(promise: Promise<unknown>): void {
  promise.catch(() => undefined);
}

/** A token that can go into an `Authorization` header as it is: a non-empty string of visible ASCII characters. */
export function isUsableAccessToken(value: unknown): value is string {
  return typeof value === 'string' && /^[\x21-\x7e]+$/.test(value);
}

/** Validates a successful answer ([RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)). */
function parseTokenResponse(
  text: string | undefined,
  response: Response,
  attempts: number,
): Pick<IssuedToken, 'accessToken' | 'expiresInSeconds'> {
  const invalid = (problem: string): WristbandM2MError =>
    new WristbandM2MError(
      'INVALID_TOKEN_RESPONSE',
      `The Wristband token endpoint answered ${response.status} with ${problem}; check that ` +
        'wristbandApplicationVanityDomain points at Wristband, not a proxy.',
      { status: response.status, attempts },
    );
  if (text === undefined) throw invalid(`a body larger than ${MAX_RESPONSE_BYTES} bytes`);
  const body = parseJsonObject(text);
  // The JSON syntax error is not kept as `cause`: its message quotes the body, which is not ours to repeat.
  if (body === undefined) throw invalid(`a body that is not a JSON object (${describeBody(response, text)})`);
  const { access_token: accessToken, expires_in: expiresIn, token_type: tokenType } = body;
  if (!isUsableAccessToken(accessToken)) {
    throw invalid('no usable access_token (it must be a non-empty string of visible ASCII characters)');
  }
  if (tokenType !== undefined && (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer')) {
    throw invalid('a token_type other than "Bearer"');
  }
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
    throw invalid('no usable expires_in (it must be a positive number of seconds)');
  }
  return { accessToken, expiresInSeconds: Math.min(expiresIn, MAX_TOKEN_LIFETIME_SECONDS) };
}

/** Picks the OAuth error fields ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)) if present. */
function parseOAuthError(text: string | undefined, redact: (text: string) => string): OAuthErrorBody {
  const body = text === undefined ? undefined : parseJsonObject(text);
  const out: OAuthErrorBody = {};
  if (typeof body?.error === 'string') out.error = redact(body.error).slice(0, 200);
  if (typeof body?.error_description === 'string') out.errorDescription = redact(body.error_description).slice(0, 500);
  return out;
}

export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function describeBody(response: Response, text: string): string {
  const type = response.headers.get('content-type') ?? 'no content-type';
  return text === '' ? `empty, ${type}` : `${type}, ${text.length} characters`;
}

function httpErrorMessage(response: Response, oauth: OAuthErrorBody, attempts: number): string {
  const { status } = response;
  const detail =
    oauth.error === undefined ? '' : ` (${oauth.error}${oauth.errorDescription ? `: ${oauth.errorDescription}` : ''})`;
  const tries = `after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
  const head = `The Wristband token endpoint answered ${status}${detail} ${tries}`;
  if (status >= 500) return `${head}; Wristband may be unavailable. The next getToken() call tries again.`;
  if (status === 401 || oauth.error === 'invalid_client') {
    return `${head}; check clientId and clientSecret, and that the OAuth2 client belongs to this vanity domain.`;
  }
  if (status >= 300 && status < 400) {
    return `${head}; redirects are not followed with credentials. Check wristbandApplicationVanityDomain.`;
  }
  if (status === 429) return `${head}; too many token requests: share one client across your app.`;
  if (status === 404) return `${head}; no token endpoint there: check wristbandApplicationVanityDomain.`;
  return `${head}; check the OAuth2 client's settings in the Wristband dashboard.`;
}
