/**
 * A `fetch` that sends the client's token as a Bearer credential
 * ([RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1)) and, when the server answers 401, retires
 * that token and tries once more with a fresh one: at most once per 30 s, unless a fresh token was accepted since.
 */
import type { FetchImplementation } from './config.js';
import { WristbandM2MError } from './errors.js';
import { type ObservedInit, TELEMETRY } from './telemetry.js';

/** The part of a client that an authenticated fetch needs. */
export interface TokenSource {
  getToken(options?: { signal?: AbortSignal }): Promise<string>;
  clearToken(token?: string): void;
}

/**
 * After an authenticated fetch retires a token because of a 401, it retires no other token because of a 401 for this
 * long, in ms: such a 401 is returned to the caller with no retry. An API that rejects every token (a wrong audience,
 * a misconfigured gateway) therefore costs at most one token request per 30 s, instead of one per call, which would
 * get the whole client throttled at Wristband and break its calls to healthy APIs. A 401 for the very token already
 * retired (concurrent requests that sent it), or for one older than the last token the wrapper got (a slow request
 * sent before a retirement or a refresh), is still retried with the current token: no token request, no retirement.
 *
 * The interval ends early once the URL whose 401 retired the token answers a request sent after the retirement with
 * a 2xx (the retry, most often): the API took a fresh token, so that 401 was a real revocation, and the next 401
 * retires its token at once. Not twice in a row: a retirement made so, early, gets the full interval. An API that
 * rejects every token never answers 2xx, so it keeps the bound; other APIs' answers do not count; one that rejects
 * some requests whatever their token (a bad backend behind a balancer) costs at most two token requests per 30 s.
 * @default 30_000
 */
export const UNAUTHORIZED_RETIREMENT_INTERVAL_MS = 30_000;

/**
 * Wraps `fetchImpl` so every request carries `Authorization: Bearer <token>` from `client`, replacing any
 * Authorization header the caller set: use plain `fetch` for requests that need other credentials.
 *
 * A 401 answer retires exactly the token that was sent (`client.clearToken(token)`, so concurrent 401s cause one
 * refresh) and the request is sent once more; a second 401 is returned as it is. Three exceptions return the 401
 * without a retry:
 * - its `WWW-Authenticate` Bearer challenge names an error other than `invalid_token`, such as `insufficient_scope`
 *   ([RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)): the token is fine, a new one would be
 *   refused alike, so it is not retired;
 * - this wrapper retired another token on a 401 less than 30 s (`UNAUTHORIZED_RETIREMENT_INTERVAL_MS`) ago, and
 *   either the URL that 401 came from has answered no request sent since with a 2xx, or that retirement was itself
 *   made early: the token is kept, which bounds the token requests an always-401 API can cause, while a second real
 *   revocation costs one refresh;
 * - the request body is a one-shot stream: the token is retired (the next request gets a fresh one), but the body
 *   cannot be sent twice.
 *
 * The caller's signal and every other option go to `fetchImpl` unchanged.
 *
 * @param fetchImpl The fetch to send requests with. @default globalThis.fetch, looked up at each request
 * @example
 * const authedFetch = createAuthenticatedFetch(m2m);
 * const openai = new OpenAI({ fetch: authedFetch, baseURL: 'https://llm-gateway.internal.example/v1' });
 */
export function createAuthenticatedFetch(client: TokenSource, fetchImpl?: FetchImplementation): FetchImplementation {
  // Per wrapper: `client.fetch` is built from a fresh `{ getToken, clearToken }`, so no identity ties wrappers together.
  // `early`: made within the interval of the one before; `accepted`: its URL has since taken a fresh token.
  let lastRetirement: { token: string; at: number; url: string; early: boolean; accepted?: boolean } | undefined;
  // The token this wrapper got last: a 401 for an older one answers a request sent before that token came (a
  // retirement or a refresh since), so it is retried with the current token and is no new revocation.
  let newest: string | undefined;

  /** Whether a 401 for `token` from `url` may trigger a retry, retiring `token` first when it is still the current one. */
  function retireOnUnauthorized(token: string, url: string): boolean {
    const last = lastRetirement;
    if (token === last?.token || token !== newest) return true;
    const now = Date.now();
    const early = last !== undefined && withinInterval(now - last.at);
    // Within the interval only after a fresh token was accepted, and not twice in a row.
    if (early && (!last.accepted || last.early)) return false;
    lastRetirement = { token, at: now, url, early };
    client.clearToken(token);
    return true;
  }

  return async function authenticatedFetch(input, init) {
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    const url = input instanceof Request ? input.url : String(input);
    const replayable = canReplay(input, init);
    const send = async (resend?: number): Promise<{ response: Response; token: string }> => {
      // Taken before the token: this request carries a token got after that retirement.
      const retirement = lastRetirement;
      const token = await tokenFor(client, signal ?? undefined);
      newest = token;
      const request = replayable && input instanceof Request ? input.clone() : input;
      const headers = new Headers(init?.headers ?? (request instanceof Request ? request.headers : undefined));
      headers.set('Authorization', `Bearer ${token}`);
      const response = await (fetchImpl ?? globalThis.fetch)(request, {
        ...init,
        headers,
        [TELEMETRY]: resend,
      } as ObservedInit);
      // The URL that rejected a token accepts a fresh one: that was a real revocation, the next may come at once.
      if (response.ok && retirement?.url === url) retirement.accepted = true;
      return { response, token };
    };

    const first = await send();
    if (first.response.status !== 401 || !rejectsToken(first.response)) return first.response;
    if (!retireOnUnauthorized(first.token, url) || !replayable) return first.response;
    first.response.body?.cancel().catch(() => undefined);
    return (await send(1)).response;
  };
}

/** A clock stepped backwards ends the interval rather than stretching it. */
function withinInterval(elapsedMs: number): boolean {
  return elapsedMs >= 0 && elapsedMs < UNAUTHORIZED_RETIREMENT_INTERVAL_MS;
}

/**
 * Whether a 401 says the token itself is bad: yes unless a Bearer challenge names an error and none of the named
 * errors is `invalid_token`. No header, a bare `Bearer` or `Bearer realm="..."` count as a rejected token.
 */
export function rejectsToken(response: Response): boolean {
  const header = response.headers.get('www-authenticate');
  if (header === null) return true;
  const errors = parseChallenges(header)
    .filter((challenge) => challenge.scheme === 'bearer')
    .flatMap((challenge) => challenge.params.error?.toLowerCase() ?? []);
  return errors.length === 0 || errors.includes('invalid_token');
}

/** One challenge of a `WWW-Authenticate` value; scheme and parameter names lower-cased, as both are case-insensitive. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** One challenge's scheme (a bare token), or one `name=value` parameter, its value a quoted string or a token. */
const CHALLENGE_PART = /([!#$%&'*+\-.^`|~\w]+)[ \t]*(?:=[ \t]*(?:"((?:[^"\\]|\\.)*)"|([!#$%&'*+\-.^`|~\w]*)))?/g;

/**
 * Parses a `WWW-Authenticate` value ([RFC 9110 §11.6.1](https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1)):
 * a comma-separated list of challenges, each a scheme then `name=value` parameters, values a token or a quoted
 * string. Several headers arrive joined with `, `, which is the same list. Anything it cannot read (a token68
 * credential, stray characters) is skipped rather than failing: a malformed header must not throw in a fetch.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  for (const [, name = '', quoted, bare] of header.matchAll(CHALLENGE_PART)) {
    const current = challenges.at(-1);
    if (quoted === undefined && bare === undefined) challenges.push({ scheme: name.toLowerCase(), params: {} });
    else if (current !== undefined) current.params[name.toLowerCase()] = quoted?.replace(/\\(.)/g, '$1') ?? bare ?? '';
  }
  return challenges;
}

/** Waits for a token the way fetch waits for anything: an abort rejects with the signal's own reason. */
async function tokenFor(client: TokenSource, signal: AbortSignal | undefined): Promise<string> {
  try {
    return await client.getToken(signal === undefined ? undefined : { signal });
  } catch (error) {
    if (error instanceof WristbandM2MError && error.code === 'ABORTED' && signal?.aborted) throw signal.reason;
    throw error;
  }
}

/** Whether the same request can be sent twice: bodies fetch re-reads from the start each time, or a fresh Request. */
function canReplay(input: string | URL | Request, init: RequestInit | undefined): boolean {
  if (init?.body !== undefined) return isReusableBody(init.body);
  if (input instanceof Request) return !input.bodyUsed;
  return true;
}

function isReusableBody(body: BodyInit | null): boolean {
  return (
    body === null ||
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    body instanceof FormData ||
    body instanceof Blob ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body)
  );
}
