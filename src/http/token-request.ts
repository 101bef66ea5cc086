/**
 * One client-credentials token request ([RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4)) and the
 * policy around it: a timeout per attempt, a cap on the bytes read, and retries for 5xx answers only.
 */
import { type FetchImplementation, isLoopbackHost } from '../config.js';
import { parseRetryAfter } from '../core/schedule.js';
import { basicAuthorization, type Redactor } from '../credentials/redact.js';
import { abortError, isRejectedCredential, restated, WristbandM2MError } from '../errors.js';
import { type ObservedInit, TELEMETRY } from '../telemetry.js';
import { pause, within } from '../timers.js';
import { type IssuedToken, isUsableAccessToken, parseJsonObject, usableLifetime } from '../token.js';

export { basicAuthorization, formUrlEncode } from '../credentials/redact.js';
export { MAX_TOKEN_LIFETIME_SECONDS } from '../token.js';

/** Attempts per token request, the first included. Only 5xx answers are tried again. */
export const MAX_ATTEMPTS = 3;
/** Pause between two attempts, long enough to ride out a load balancer blip, short enough for a caller to wait. */
export const RETRY_DELAY_MS = 100;
/** A token response is well under 4 KiB; anything past this cap is not one, and reading on would waste memory. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * The longest one {@link TokenRequester} call can take with `secretCount` secrets: one request per extra secret
 * (each rejected at once) plus {@link MAX_ATTEMPTS} for 5xx answers, each bounded by `requestTimeoutMs`, and the
 * pauses between those.
 */
export function longestRequestMs(secretCount: number, requestTimeoutMs: number): number {
  return (secretCount - 1 + MAX_ATTEMPTS) * requestTimeoutMs + (MAX_ATTEMPTS - 1) * RETRY_DELAY_MS;
}

/** What the requester needs of the client's settings. */
export interface TokenRequestSettings {
  tokenEndpoint: string;
  /** Whether the vanity domain had no scheme: a loopback host that cannot be reached is then told to add http://. */
  httpsAssumed?: boolean;
  clientId: string;
  requestTimeoutMs: number;
  fetch: FetchImplementation | undefined;
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
 * Makes the round runner. `redactor` knows every form of every secret in use: server text and foreign errors are
 * scrubbed of all of them before reaching an error.
 */
export function createTokenRequester(config: TokenRequestSettings, redactor: Redactor): TokenRequester {
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
        [TELEMETRY]: attempt - 1,
      } as ObservedInit);
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
          'The token expired in transit: check the system clock and the latency to Wristband.',
          { status: response.status, attempts: attempt },
        );
      }
      return { ...token, sentAt, sentAtMono, attempts: attempt };
    }
    const oauth = parseOAuthError(text, redactor.redact);
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
    const sanitized = redactor.sanitize(cause);
    const { host, hostname } = new URL(config.tokenEndpoint);
    return new WristbandM2MError(
      'TOKEN_ENDPOINT_UNREACHABLE',
      // Deno refuses a fetch it has no permission for with NotCapable (PermissionDenied before Deno 2).
      /^(NotCapable|PermissionDenied)$/.test(sanitized.name)
        ? `Deno denied access to ${host}: grant it with --allow-net=${host}.`
        : `Could not reach ${config.tokenEndpoint}` +
            (config.httpsAssumed && isLoopbackHost(hostname)
              ? `; https:// was assumed: for http, give "http://${host}".`
              : '; check the vanity domain, DNS and outbound network access.'),
      { attempts: attempt, cause: sanitized },
    );
  }

  function timeoutError(attempt: number): WristbandM2MError {
    return new WristbandM2MError(
      'TOKEN_REQUEST_TIMEOUT',
      `No answer within tokenRequestTimeout (${timeoutMs / 1000} s): check the network, or raise it.`,
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

function allSecretsRejected(last: WristbandM2MError, count: number): WristbandM2MError {
  return restated(last, `${last.message} All ${count} client secrets were rejected.`);
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
        'wristbandApplicationVanityDomain points at Wristband.',
      { status: response.status, attempts },
    );
  if (text === undefined) throw invalid(`a body larger than ${MAX_RESPONSE_BYTES} bytes`);
  const body = parseJsonObject(text);
  // The JSON syntax error is not kept as `cause`: its message quotes the body, which is not ours to repeat.
  if (body === undefined) throw invalid(`a body that is not a JSON object (${describeBody(response, text)})`);
  const { access_token: accessToken, expires_in: expiresIn, token_type: tokenType } = body;
  if (!isUsableAccessToken(accessToken)) {
    throw invalid('no usable access_token (a non-empty string of visible ASCII)');
  }
  if (tokenType !== undefined && (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer')) {
    throw invalid('a token_type other than "Bearer"');
  }
  const expiresInSeconds = usableLifetime(expiresIn);
  if (expiresInSeconds === undefined) throw invalid('no usable expires_in (a positive number of seconds)');
  return { accessToken, expiresInSeconds };
}

/** Picks the OAuth error fields ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)) if present. */
function parseOAuthError(text: string | undefined, redact: (text: string) => string): OAuthErrorBody {
  const body = text === undefined ? undefined : parseJsonObject(text);
  const out: OAuthErrorBody = {};
  if (typeof body?.error === 'string') out.error = redact(body.error).slice(0, 200);
  if (typeof body?.error_description === 'string') out.errorDescription = redact(body.error_description).slice(0, 500);
  return out;
}

function describeBody(response: Response, text: string): string {
  return `${text.length} characters, ${response.headers.get('content-type') ?? 'no content-type'}`;
}

function httpErrorMessage(response: Response, oauth: OAuthErrorBody, attempts: number): string {
  const { status } = response;
  const detail =
    oauth.error === undefined ? '' : ` (${oauth.error}${oauth.errorDescription ? `: ${oauth.errorDescription}` : ''})`;
  const advice =
    status >= 500
      ? 'Wristband may be down: the next getToken() tries again'
      : status === 401 || oauth.error === 'invalid_client'
        ? 'check clientId, clientSecret and that the OAuth2 client belongs to this vanity domain'
        : status >= 300 && status < 400
          ? 'redirects are not followed: check wristbandApplicationVanityDomain'
          : status === 429
            ? 'too many token requests: share one client across your app'
            : status === 404
              ? 'no token endpoint there: check wristbandApplicationVanityDomain'
              : "check the OAuth2 client's settings in the Wristband dashboard";
  return `The Wristband token endpoint answered ${status}${detail} after ${attempts} attempt${attempts === 1 ? '' : 's'}; ${advice}.`;
}
