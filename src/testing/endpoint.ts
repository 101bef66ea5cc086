/**
 * An in-memory stand-in for a Wristband application's token endpoint (`POST /api/v1/oauth2/token`, client-credentials
 * grant, HTTP Basic client authentication) and a Bearer-protected resource beside it, reached through a `fetch`
 * function: no network, no port, web-standard only, so it runs in Node, Deno, Bun and workerd alike.
 */

/** Where Wristband serves an application's token endpoint. */
export const TOKEN_PATH = '/api/v1/oauth2/token';
/** Where the endpoint serves its protected resource: 200 for a token it issued and still honours, 401 otherwise. */
export const RESOURCE_PATH = '/_test/resource';
/** Wristband lets an OAuth2 client hold a primary and a secondary secret, no more: a rotation needs exactly two. */
const MAX_SECRETS = 2;

/** How a {@link TestTokenEndpoint} starts out. Every field has a default; each can be changed later by a method. */
export interface TestTokenEndpointOptions {
  /**
   * The host to answer for, as passed to the client's `wristbandApplicationVanityDomain`: a bare host (https is
   * assumed) or an origin such as `http://127.0.0.1:8790`.
   * @default 'test-app.wristband.test' (the `.test` top-level domain is reserved: it never reaches a real server)
   */
  vanityDomain?: string;
  /** @default 'test-client-id' */
  clientId?: string;
  /** The secret accepted at first. @default 'test-client-secret' */
  clientSecret?: string;
  /** `expires_in` of the tokens issued, in seconds. @default 3600 */
  tokenLifetimeSeconds?: number;
  /** Delay before every answer, in milliseconds (a `setTimeout`, so a test's fake timers control it). @default 0 */
  latencyMs?: number;
  /**
   * Where requests for any other origin go (your own downstream API, an msw-patched `fetch`). Without it such a
   * request fails as a network error would, naming the URL: the kit never reaches the network by itself.
   */
  upstream?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /**
   * The clock that dates tokens and decides when they expire, in milliseconds since the epoch. The default reads
   * `Date.now()` at each request, so a test runner's fake `Date` moves it.
   * @default () => Date.now()
   */
  now?: () => number;
}

/** One request the token endpoint received, as recorded. Never holds the Authorization header or a secret. */
export interface TestTokenRequest {
  /** 1 for the first request since creation or the latest {@link TestTokenEndpoint.reset}. */
  readonly number: number;
  readonly method: string;
  readonly url: string;
  readonly contentType: string | null;
  readonly accept: string | null;
  /** The form body as received (`grant_type=client_credentials` from this library). */
  readonly body: string;
  /** The client id from HTTP Basic authentication, when the header could be decoded. */
  readonly clientId: string | undefined;
  /**
   * What the credentials were when the request arrived: `primary` or `secondary` (the first or second of
   * {@link TestTokenEndpoint.secrets}), `rejected` (a well-formed header with a wrong id or secret), `missing` (no
   * Basic header) or `malformed` (a Basic header that does not decode).
   */
  readonly credentials: 'primary' | 'secondary' | 'rejected' | 'missing' | 'malformed';
  /** The HTTP status answered, or `undefined` while the answer is pending (latency, a hang). */
  readonly status: number | undefined;
}

/** How a token endpoint answered, or will answer: see {@link TestTokenEndpoint.answerNext}. */
export type ScriptedAnswer = (request: Request) => Response | Promise<Response>;

/** What a protected resource thinks of a token. */
export type TokenVerdict = 'valid' | 'expired' | 'revoked' | 'unknown';

/** Settings of an outage started by {@link TestTokenEndpoint.startOutage}. */
export interface OutageOptions {
  /** The status of every token answer until {@link TestTokenEndpoint.endOutage}. @default 503 */
  status?: number;
  /** A `Retry-After` header, in seconds, on each answer. @default none */
  retryAfterSeconds?: number;
}

/** The endpoint made by {@link createTestTokenEndpoint}. */
export interface TestTokenEndpoint {
  /** Pass as the client's `fetch` option. Serves the token endpoint and the protected resource of `vanityDomain`. */
  readonly fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** Pass as the client's `wristbandApplicationVanityDomain`. */
  readonly vanityDomain: string;
  /** Pass as the client's `clientId`. */
  readonly clientId: string;
  /** Pass as the client's `clientSecret`: the secret the endpoint started with. */
  readonly clientSecret: string;
  /** The token endpoint's full URL. */
  readonly tokenEndpoint: string;
  /** A Bearer-protected resource: 200 for a token issued here and still valid; 401 `invalid_token` otherwise. */
  readonly resourceUrl: string;
  /** Every token request received since creation or the latest {@link reset}, in order of arrival. */
  readonly requests: readonly TestTokenRequest[];
  /** `requests.length`. */
  readonly requestCount: number;
  /** How many tokens were issued (200 answers) since creation or the latest {@link reset}. */
  readonly issuedCount: number;
  /** Requests to `resourceUrl` so far, and how many of them were answered 401. */
  readonly resourceCalls: { readonly total: number; readonly rejected: number };
  /** Requests waiting in a hang right now. */
  readonly hangingCount: number;

  /** Answers one request addressed to this endpoint (any origin; only the path is read). */
  handle(request: Request): Promise<Response>;

  /** `expires_in` of the tokens issued from now on, in seconds. */
  setTokenLifetime(seconds: number): void;
  /** Delay before every answer from now on, in milliseconds. */
  setLatency(ms: number): void;
  /** The next token requests are answered with these statuses, in order (an OAuth `server_error` body for 5xx). */
  failNext(...statuses: number[]): void;
  /** The next `count` token requests get 429 `Retry-After: <retryAfterSeconds>`. */
  rateLimitNext(retryAfterSeconds: number, count?: number): void;
  /** The next `count` token requests get 401 `invalid_client`, whatever their credentials. */
  rejectNext(count?: number): void;
  /**
   * The next `count` token requests never get an answer: they wait until their `signal` aborts (the client's
   * request timeout), {@link releaseHangs} or {@link reset} (both end them as a dropped connection would).
   */
  hangNext(count?: number): void;
  /** The next token requests are answered by these functions, in order. */
  answerNext(...answers: ScriptedAnswer[]): void;
  /** Every token request gets `status` (503 by default) until {@link endOutage}: a 5xx storm. */
  startOutage(options?: OutageOptions): void;
  /** Ends an outage started by {@link startOutage}; a script queued before still applies. */
  endOutage(): void;
  /** Ends every hanging request with a network error (a dropped connection). */
  releaseHangs(): void;

  /** The secrets accepted now, oldest first (the dashboard's primary and secondary). */
  secrets(): string[];
  /** Accepts `secret` beside the current one (a second secret, as during a rotation). Throws past two secrets. */
  addSecret(secret: string): void;
  /** Stops accepting `secret`: requests with it get 401 `invalid_client`. */
  revokeSecret(secret: string): void;

  /** What the protected resource would answer for `token`. */
  verify(token: string | undefined): TokenVerdict;
  /** Revokes one token: the protected resource answers 401 for it from now on. */
  revoke(token: string): void;
  /** Revokes every token issued so far (a key rotation on the server). */
  revokeAll(): void;
  /** Makes every token issued so far expired for the protected resource, without waiting (the client still holds them). */
  expireAll(): void;
  /**
   * Back to the start: the script, an outage, the latency, the lifetime, the secrets and the request log are
   * forgotten and the counters are zero; hanging requests end with a network error. Issued tokens stay valid.
   */
  reset(): void;
}

interface Scripted {
  kind: 'answer';
  answer: ScriptedAnswer;
}
interface Hang {
  kind: 'hang';
}
type ScriptEntry = Scripted | Hang;

interface IssuedToken {
  expiresAt: number;
  revoked: boolean;
}

/**
 * Makes an in-memory Wristband token endpoint. Plug it into the client through its `fetch` option:
 *
 * ```ts
 * import { createWristbandM2MClient } from '@wristband/typescript-m2m-auth';
 * import { createTestTokenEndpoint } from '@wristband/typescript-m2m-auth/testing';
 *
 * const endpoint = createTestTokenEndpoint();
 * const m2m = createWristbandM2MClient({
 *   clientId: endpoint.clientId,
 *   clientSecret: endpoint.clientSecret,
 *   wristbandApplicationVanityDomain: endpoint.vanityDomain,
 *   fetch: endpoint.fetch,
 * });
 * endpoint.failNext(503);
 * await m2m.getToken(); // a 503, then a token: endpoint.requestCount is 2
 * ```
 */
export function createTestTokenEndpoint(options: TestTokenEndpointOptions = {}): TestTokenEndpoint {
  const clientId = options.clientId ?? 'test-client-id';
  const clientSecret = options.clientSecret ?? 'test-client-secret';
  requireText(clientId, 'clientId');
  requireText(clientSecret, 'clientSecret');
  const vanityDomain = options.vanityDomain ?? 'test-app.wristband.test';
  const origin = originOf(vanityDomain);
  const now = options.now ?? (() => Date.now());
  const initialLifetime = options.tokenLifetimeSeconds ?? 3600;
  const initialLatency = options.latencyMs ?? 0;
  requireDuration(initialLifetime, 'tokenLifetimeSeconds', true);
  requireDuration(initialLatency, 'latencyMs', false);

  let tokenLifetimeSeconds = initialLifetime;
  let latencyMs = initialLatency;
  let outage: Required<Pick<OutageOptions, 'status'>> & OutageOptions = { status: 503 };
  let inOutage = false;
  const accepted = [clientSecret];
  const script: ScriptEntry[] = [];
  const requests: (TestTokenRequest & { status: number | undefined })[] = [];
  const issued = new Map<string, IssuedToken>();
  /** Every pending hang's release, called with the error that ends it. */
  const hangs = new Set<(error: Error) => void>();
  let issuedCount = 0;
  let serial = 0;
  /** Bumped by reset(), so a request that took a hang before it does not start hanging after it. */
  let generation = 0;
  /** Every pending latency's early end, called with the error that ends it (the loopback server's close()). */
  const waiting = new Set<(error: Error) => void>();
  const resourceCalls = { total: 0, rejected: 0 };

  async function handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === RESOURCE_PATH) return protectedResource(request);
    if (path !== TOKEN_PATH) return json(404, { error: 'not_found' });
    // A request whose signal has already aborted is never sent, as with fetch: not logged, no script taken.
    if (request.signal.aborted) throw abortReason(request.signal);
    const auth = basicCredentials(request.headers.get('authorization'));
    const record = {
      number: requests.length + 1,
      method: request.method,
      url: redactSecrets(request.url),
      contentType: request.headers.get('content-type'),
      accept: request.headers.get('accept'),
      body: '',
      clientId: auth.kind === 'decoded' ? auth.id : undefined,
      credentials: credentialsOf(auth),
      status: undefined as number | undefined,
    };
    requests.push(record);
    // What the answer will be is taken from the script when the request arrives, in order of arrival, before any
    // await: reading a body takes more turns than no body, and latency only delays the delivery. So concurrent
    // requests take scripted answers in the order they were sent.
    const entry = script.shift();
    const outageNow = inOutage ? { ...outage } : undefined;
    const arrivedIn = generation;
    const body = await request.text();
    record.body = redactSecrets(body);
    await delay(latencyMs, request.signal);
    let response: Response;
    // reset() forgets the script: a hang scripted before it ends as the hangs reset() ended.
    if (entry?.kind === 'hang' && arrivedIn !== generation) throw dropped();
    if (entry?.kind === 'hang') response = await hang(request.signal);
    else if (entry?.kind === 'answer') response = await entry.answer(request);
    else if (outageNow) response = serverError(outageNow.status, outageNow.retryAfterSeconds);
    // Unscripted, the credentials are checked when the answer is given, against the secrets accepted then.
    else response = tokenAnswer(request, body, credentialsOf(auth));
    record.status = response.status;
    return response;
  }

  function credentialsOf(auth: Credentials): TestTokenRequest['credentials'] {
    if (auth.kind !== 'decoded') return auth.kind;
    if (auth.id !== clientId) return 'rejected';
    const index = accepted.indexOf(auth.secret);
    return index === 0 ? 'primary' : index === 1 ? 'secondary' : 'rejected';
  }

  function tokenAnswer(request: Request, body: string, credentials: TestTokenRequest['credentials']): Response {
    if (request.method !== 'POST') return json(405, { error: 'invalid_request' }, { Allow: 'POST' });
    if (credentials !== 'primary' && credentials !== 'secondary') return invalidClient();
    const type = request.headers.get('content-type') ?? '';
    if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
      return json(400, { error: 'invalid_request', error_description: 'expected a form-encoded body' });
    }
    const grant = new URLSearchParams(body).get('grant_type');
    if (grant === null) return json(400, { error: 'invalid_request', error_description: 'grant_type is missing' });
    if (grant !== 'client_credentials') return json(400, { error: 'unsupported_grant_type' });
    const token = mintToken(++serial);
    issued.set(token, { expiresAt: now() + tokenLifetimeSeconds * 1000, revoked: false });
    issuedCount++;
    return json(200, { access_token: token, token_type: 'Bearer', expires_in: tokenLifetimeSeconds });
  }

  function protectedResource(request: Request): Response {
    resourceCalls.total++;
    const match = /^Bearer +([\x21-\x7e]+)$/i.exec(request.headers.get('authorization') ?? '');
    const verdict = verify(match?.[1]);
    if (verdict === 'valid') return json(200, { ok: true });
    resourceCalls.rejected++;
    // RFC 6750 §3: no error code when the request carried no token at all.
    const challenge =
      match === null
        ? 'Bearer realm="wristband-test"'
        : `Bearer realm="wristband-test", error="invalid_token", error_description="${verdict} token"`;
    return json(401, { error: 'invalid_token' }, { 'WWW-Authenticate': challenge });
  }

  function verify(token: string | undefined): TokenVerdict {
    const entry = token === undefined ? undefined : issued.get(token);
    if (entry === undefined) return 'unknown';
    if (entry.revoked) return 'revoked';
    return now() < entry.expiresAt ? 'valid' : 'expired';
  }

  function hang(signal: AbortSignal): Promise<Response> {
    return new Promise<Response>((_resolve, reject) => {
      const end = (error: Error): void => {
        hangs.delete(end);
        signal.removeEventListener('abort', onAbort);
        reject(error);
      };
      const onAbort = (): void => end(abortReason(signal));
      if (signal.aborted) return onAbort();
      hangs.add(end);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  function releaseHangs(): void {
    for (const end of [...hangs]) end(dropped());
  }

  /** Waits `ms` (nothing at 0, so an answer stays within the same turn of fake timers), rejecting when `signal` aborts. */
  function delay(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    if (ms === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const end = (error?: Error): void => {
        clearTimeout(timer);
        waiting.delete(end);
        signal.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const onAbort = (): void => end(abortReason(signal));
      const timer = setTimeout(() => end(), ms);
      waiting.add(end);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  const endpoint: TestTokenEndpoint = {
    async fetch(input, init) {
      const request = new Request(input, init);
      if (new URL(request.url).origin === origin) return handle(request);
      // Called unbound: Workers reject a fetch invoked as a method of another object (upstream: globalThis.fetch).
      const { upstream } = options;
      if (upstream) return upstream(request);
      throw new TypeError(
        `The test token endpoint serves ${origin} only; ${request.method} ${new URL(request.url).origin} has no ` +
          'route. Pass `upstream` to createTestTokenEndpoint() to send other requests on.',
      );
    },
    vanityDomain,
    clientId,
    clientSecret,
    tokenEndpoint: `${origin}${TOKEN_PATH}`,
    resourceUrl: `${origin}${RESOURCE_PATH}`,
    get requests() {
      return requests.map((record) => ({ ...record }));
    },
    get requestCount() {
      return requests.length;
    },
    get issuedCount() {
      return issuedCount;
    },
    get resourceCalls() {
      return { ...resourceCalls };
    },
    get hangingCount() {
      return hangs.size;
    },
    handle,
    setTokenLifetime(seconds) {
      requireDuration(seconds, 'seconds', true);
      tokenLifetimeSeconds = seconds;
    },
    setLatency(ms) {
      requireDuration(ms, 'ms', false);
      latencyMs = ms;
    },
    failNext(...statuses) {
      for (const status of statuses) {
        requireStatus(status);
        script.push({ kind: 'answer', answer: () => failure(status) });
      }
    },
    rateLimitNext(retryAfterSeconds, count = 1) {
      requireSeconds(retryAfterSeconds);
      for (let i = 0; i < requireCount(count); i++) {
        script.push({
          kind: 'answer',
          answer: () =>
            json(
              429,
              { error: 'rate_limited', error_description: 'Too many token requests.' },
              { 'Retry-After': String(retryAfterSeconds) },
            ),
        });
      }
    },
    rejectNext(count = 1) {
      for (let i = 0; i < requireCount(count); i++) script.push({ kind: 'answer', answer: invalidClient });
    },
    hangNext(count = 1) {
      for (let i = 0; i < requireCount(count); i++) script.push({ kind: 'hang' });
    },
    answerNext(...answers) {
      for (const answer of answers) {
        if (typeof answer !== 'function') throw new TypeError('answerNext() takes functions of a Request');
        script.push({ kind: 'answer', answer });
      }
    },
    startOutage(settings = {}) {
      const status = settings.status ?? 503;
      requireStatus(status);
      if (settings.retryAfterSeconds !== undefined) {
        requireSeconds(settings.retryAfterSeconds);
      }
      outage = { ...settings, status };
      inOutage = true;
    },
    endOutage() {
      inOutage = false;
    },
    releaseHangs,
    secrets() {
      return [...accepted];
    },
    addSecret(secret) {
      requireText(secret, 'secret');
      if (accepted.includes(secret)) return;
      if (accepted.length >= MAX_SECRETS) {
        throw new Error(
          `The client already holds ${MAX_SECRETS} secrets, as many as Wristband allows; revoke one first.`,
        );
      }
      accepted.push(secret);
    },
    revokeSecret(secret) {
      const index = accepted.indexOf(secret);
      if (index >= 0) accepted.splice(index, 1);
    },
    verify,
    revoke(token) {
      const entry = issued.get(token);
      if (entry) entry.revoked = true;
    },
    revokeAll() {
      for (const entry of issued.values()) entry.revoked = true;
    },
    expireAll() {
      const at = now();
      for (const entry of issued.values()) entry.expiresAt = Math.min(entry.expiresAt, at);
    },
    reset() {
      script.length = 0;
      requests.length = 0;
      inOutage = false;
      latencyMs = initialLatency;
      tokenLifetimeSeconds = initialLifetime;
      accepted.splice(0, accepted.length, clientSecret);
      issuedCount = 0;
      generation++;
      resourceCalls.total = 0;
      resourceCalls.rejected = 0;
      releaseHangs();
    },
  };
  dropPending.set(endpoint, () => {
    for (const end of [...waiting]) end(dropped());
    releaseHangs();
  });
  return endpoint;
}

/**
 * Ends every request an endpoint still owes an answer, in its latency or a hang, as a dropped connection. For the
 * loopback server's close(): Deno's server.shutdown() waits for every request in flight.
 */
export const dropPending = new WeakMap<TestTokenEndpoint, () => void>();

type Credentials = { kind: 'decoded'; id: string; secret: string } | { kind: 'missing' } | { kind: 'malformed' };

/**
 * Decodes `Authorization: Basic` as an authorization server does (RFC 6749 §2.3.1): base64 of UTF-8, split at the
 * first colon, then form-decode each part, so any correct encoding of the credentials is accepted.
 */
export function basicCredentials(header: string | null): Credentials {
  if (header === null || !/^basic(\s|$)/i.test(header)) return { kind: 'missing' };
  const match = /^basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(header);
  if (!match) return { kind: 'malformed' };
  let decoded: string;
  try {
    const binary = atob(match[1] as string);
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  } catch {
    return { kind: 'malformed' };
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) return { kind: 'malformed' };
  const id = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  if (id === undefined || secret === undefined) return { kind: 'malformed' };
  return { kind: 'decoded', id, secret };
}

function formDecode(part: string): string | undefined {
  try {
    return decodeURIComponent(part.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

/** `https://<host>` for a bare host; an origin given with its scheme stays as it is. */
function originOf(vanityDomain: string): string {
  if (typeof vanityDomain !== 'string' || vanityDomain.trim() === '') {
    throw new TypeError('createTestTokenEndpoint: vanityDomain must be a host such as "test-app.wristband.test".');
  }
  const withScheme = /^https?:\/\//i.test(vanityDomain) ? vanityDomain : `https://${vanityDomain}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new TypeError(`createTestTokenEndpoint: vanityDomain "${vanityDomain}" is not a host.`);
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') {
    throw new TypeError(`createTestTokenEndpoint: vanityDomain "${vanityDomain}" must be a host, with no path.`);
  }
  return url.origin;
}

function mintToken(serialNumber: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  const random = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `test-m2m.${serialNumber}.${random}`;
}

function json(status: number, payload: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(payload), {
    status,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers },
  });
}

function invalidClient(): Response {
  return json(
    401,
    { error: 'invalid_client', error_description: 'Client authentication failed.' },
    { 'WWW-Authenticate': 'Basic realm="wristband-test"' },
  );
}

function failure(status: number): Response {
  return status >= 500
    ? serverError(status)
    : json(status, {
        error: status === 429 ? 'rate_limited' : 'invalid_request',
        error_description: `scripted ${status}`,
      });
}

function serverError(status: number, retryAfterSeconds?: number): Response {
  const headers: Record<string, string> =
    retryAfterSeconds === undefined ? {} : { 'Retry-After': String(retryAfterSeconds) };
  return json(status, { error: 'server_error', error_description: `scripted ${status}` }, headers);
}

function dropped(): TypeError {
  return new TypeError('The test token endpoint dropped the connection.');
}

/** The values of `client_secret` parameters in a query or form body, replaced: the log never holds a secret. */
function redactSecrets(text: string): string {
  return text.replace(/([?&]|^)(client_secret=)[^&#]*/gi, '$1$2[REDACTED]');
}

/** What `fetch` rejects with when its signal aborts: the signal's reason, or an `AbortError`. */
function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted.', 'AbortError');
}

function requireText(value: unknown, name: string): void {
  if (typeof value !== 'string' || value === '')
    throw new TypeError(`createTestTokenEndpoint: ${name} must be a non-empty string.`);
}

function requireDuration(value: unknown, name: string, positive: boolean): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    throw new TypeError(`createTestTokenEndpoint: ${name} must be a ${positive ? 'positive' : 'non-negative'} number.`);
  }
}

/** Retry-After is delay-seconds, 1*DIGIT (RFC 9110 §10.2.3): the client ignores anything else, such as "1.5". */
function requireSeconds(value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError('createTestTokenEndpoint: retryAfterSeconds must be a non-negative integer.');
  }
}

function requireStatus(status: unknown): void {
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) {
    throw new TypeError('createTestTokenEndpoint: a failure status is an integer from 400 to 599.');
  }
}

function requireCount(count: unknown): number {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
    throw new TypeError('createTestTokenEndpoint: count must be a positive integer.');
  }
  return count;
}
