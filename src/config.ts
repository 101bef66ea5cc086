import { describeValue, invalidConfig, WHITESPACE_AROUND, type WristbandM2MError } from './errors.js';
import type { TokenRefreshedEvent, TokenRefreshFailedEvent, TokenStoreErrorEvent } from './hooks.js';
import { asSecretList, type ClientSecret, secretListProblem } from './credentials/secrets.js';
import type { TokenStore } from './store/types.js';
import { type RoundObserver, TELEMETRY } from './telemetry.js';

/** A `fetch` implementation with the shape of the global one. */
export type FetchImplementation = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Options of {@link createWristbandM2MClient}. Times are in seconds, as in the Wristband dashboard. */
export interface WristbandM2MClientConfig {
  /** Client ID of the Wristband machine-to-machine OAuth2 client, with no leading or trailing whitespace. */
  clientId: string;
  /**
   * Client secret of that OAuth2 client. Sent only in the `Authorization` header of token requests
   * ([RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)); never logged or put in an error.
   * Leading or trailing whitespace (a line break read from a file) is refused, at creation or from a function.
   *
   * For a rotation without downtime, give a list (`[newSecret, oldSecret]`): when the endpoint rejects a secret as a
   * bad client credential, the next one is tried in the same round, and the one that worked is tried first from
   * then on. Or give a function (a secrets manager) returning one secret or a list: it is called once per token
   * round, never at creation, bounded by `tokenRequestTimeout`, and its answer is not kept beyond the round.
   */
  clientSecret: ClientSecret;
  /**
   * The application's vanity domain, such as `acme.us.wristband.dev`. A leading `https://` and a trailing `/` are
   * accepted; a path, query, fragment or user info is not. `http://` is accepted only for loopback hosts
   * (`localhost`, `127.0.0.0/8`, `[::1]`), so a local test server can stand in for Wristband. Without a scheme,
   * `https://` is assumed; when a loopback host given so cannot be reached, the error says so and what to write.
   */
  wristbandApplicationVanityDomain: string;
  /**
   * Seconds subtracted from a token's lifetime, so it is replaced before it can expire in flight. When a token
   * lives no longer than this buffer, it is cached for half its lifetime instead.
   * @default 60
   */
  tokenExpirationBuffer?: number;
  /**
   * Seconds between proactive background refreshes; `undefined` turns them off. At least 60 when set. The timer
   * starts at the first `getToken()` call, never at creation, and does not keep the process alive.
   * Leave it off on serverless and edge runtimes, where timers do not outlive the request.
   * @default undefined
   */
  backgroundTokenRefreshInterval?: number;
  /**
   * Seconds one token request may take, headers and body, before it is abandoned as `TOKEN_REQUEST_TIMEOUT`.
   * Fractions are allowed. A caller waits at most 3 attempts of this long plus the pauses between them, one more
   * attempt per extra secret of a `clientSecret` list, and with a `clientSecret` function, its call too.
   * @default 10
   */
  tokenRequestTimeout?: number;
  /**
   * Receives the error of a failed background refresh. Without it those errors are dropped, since a valid
   * cached token keeps being served and the next `getToken()` after expiry fetches again.
   * @default undefined
   */
  onBackgroundRefreshError?: (error: WristbandM2MError) => void;
  /**
   * Called after each successful token request, with why it was made, how long it took and when the new token
   * expires; never with the token. For logs and metrics. What it throws is ignored.
   * @default undefined
   */
  onTokenRefreshed?: (event: TokenRefreshedEvent) => void;
  /**
   * Called after each token request that failed for good (after its retries), background ones included, with
   * the {@link WristbandM2MError}. What it throws is ignored.
   * @default undefined
   */
  onTokenRefreshFailed?: (event: TokenRefreshFailedEvent) => void;
  /**
   * A cache shared by every process, container or Worker isolate using this OAuth2 client (Redis, Workers KV, or
   * your own {@link TokenStore}). Memory stays the first layer; the store is read on a memory miss and written after
   * each token fetched, so a fleet shares one token and a cold start often needs no token request.
   * @default undefined (memory only)
   */
  tokenStore?: TokenStore;
  /**
   * Whether records are encrypted before they reach `tokenStore` (AES-256-GCM, key derived from the client secret).
   * Turn off only for a store as private as the secret itself.
   * @default true
   */
  tokenStoreEncryption?: boolean;
  /**
   * Seconds one `tokenStore` call may take before it counts as a miss.
   * @default 1
   */
  tokenStoreTimeout?: number;
  /**
   * Seconds a process that lost the store's lock waits for the winner's token before fetching one itself.
   * @default 5
   */
  tokenStoreLockWait?: number;
  /**
   * Called when a `tokenStore` call fails, times out, or returns a record that cannot be read (a rotated secret).
   * Those are cache misses: getToken() carries on. What it throws is ignored.
   * @default undefined
   */
  onTokenStoreError?: (event: TokenStoreErrorEvent) => void;
  /**
   * Allows creating a client where `window` and `document` exist. An M2M client secret must never reach a browser,
   * where anyone can read it, so this is refused by default; set it only for a browser-like test environment
   * (jsdom, happy-dom) or a trusted desktop shell.
   * @default false
   */
  dangerouslyAllowBrowser?: boolean;
  /**
   * The `fetch` to send token requests, and `client.fetch` requests, with.
   * @default globalThis.fetch, looked up at each request so interceptors installed later (msw, nock) apply
   */
  fetch?: FetchImplementation;
}

/** Validated config with every default applied, in the units the client works in. */
export interface ResolvedConfig {
  clientId: string;
  /** The configured list, or the provider to ask once per round. */
  clientSecret: readonly string[] | Exclude<ClientSecret, string | readonly string[]>;
  tokenEndpoint: string;
  /** Whether the vanity domain had no scheme, so https:// was assumed. */
  httpsAssumed: boolean;
  expirationBufferMs: number;
  backgroundRefreshIntervalMs: number | undefined;
  requestTimeoutMs: number;
  onBackgroundRefreshError: ((error: WristbandM2MError) => void) | undefined;
  onTokenRefreshed: ((event: TokenRefreshedEvent) => void) | undefined;
  onTokenRefreshFailed: ((event: TokenRefreshFailedEvent) => void) | undefined;
  tokenStore: TokenStore | undefined;
  tokenStoreEncryption: boolean;
  tokenStoreTimeoutMs: number;
  tokenStoreLockWaitMs: number;
  onTokenStoreError: ((event: TokenStoreErrorEvent) => void) | undefined;
  fetch: FetchImplementation | undefined;
  /** Set by `withOpenTelemetry()` under a symbol, which no option check sees. */
  observer: RoundObserver | undefined;
}

const DEFAULT_TOKEN_EXPIRATION_BUFFER_SECONDS = 60;
const DEFAULT_TOKEN_REQUEST_TIMEOUT_SECONDS = 10;
const DEFAULT_TOKEN_STORE_TIMEOUT_SECONDS = 1;
const DEFAULT_TOKEN_STORE_LOCK_WAIT_SECONDS = 5;
const MIN_BACKGROUND_REFRESH_INTERVAL_SECONDS = 60;
// Upper bounds: well above any sensible setting, and low enough that a value given in milliseconds is caught.
const MAX_TOKEN_EXPIRATION_BUFFER_SECONDS = 3600; // 1 hour
const MAX_BACKGROUND_REFRESH_INTERVAL_SECONDS = 86_400; // 24 hours, the longest token lifetime the client honours
const MAX_TOKEN_REQUEST_TIMEOUT_SECONDS = 300; // 5 minutes
const MAX_TOKEN_STORE_TIMEOUT_SECONDS = 60;
const MAX_TOKEN_STORE_LOCK_WAIT_SECONDS = 300;

/**
 * Every option {@link createWristbandM2MClient} accepts; any other name is rejected as a typo. Add each new option
 * here: leaving one out of this list fails to compile, naming it.
 */
const OPTION_NAMES: readonly string[] = everyOption([
  'clientId',
  'clientSecret',
  'wristbandApplicationVanityDomain',
  'tokenExpirationBuffer',
  'backgroundTokenRefreshInterval',
  'tokenRequestTimeout',
  'onBackgroundRefreshError',
  'onTokenRefreshed',
  'onTokenRefreshFailed',
  'tokenStore',
  'tokenStoreEncryption',
  'tokenStoreTimeout',
  'tokenStoreLockWait',
  'onTokenStoreError',
  'dangerouslyAllowBrowser',
  'fetch',
]);

const TOKEN_ENDPOINT_PATH = '/api/v1/oauth2/token';

/** Checks every option and applies the defaults. Throws an `INVALID_CONFIG` error naming the first bad option. */
export function resolveConfig(config: WristbandM2MClientConfig): ResolvedConfig {
  if (typeof config !== 'object' || config === null) {
    throw invalidConfig('config', 'must be an object.');
  }
  if (config.dangerouslyAllowBrowser !== true && isBrowser()) {
    throw invalidConfig(
      'dangerouslyAllowBrowser',
      'is not set, and in a browser anyone can read the client secret: get tokens on a server.',
    );
  }
  rejectUnknownOptions(config);
  const clientId = requireText(config.clientId, 'clientId');
  const clientSecret = secretOption(config.clientSecret);
  const domain = requireText(config.wristbandApplicationVanityDomain, 'wristbandApplicationVanityDomain');

  const expirationBufferMs = milliseconds(
    config,
    'tokenExpirationBuffer',
    0,
    MAX_TOKEN_EXPIRATION_BUFFER_SECONDS,
    DEFAULT_TOKEN_EXPIRATION_BUFFER_SECONDS,
  );
  const backgroundRefreshIntervalMs = milliseconds(
    config,
    'backgroundTokenRefreshInterval',
    MIN_BACKGROUND_REFRESH_INTERVAL_SECONDS,
    MAX_BACKGROUND_REFRESH_INTERVAL_SECONDS,
    undefined,
  );
  const requestTimeoutMs = milliseconds(
    config,
    'tokenRequestTimeout',
    'positive',
    MAX_TOKEN_REQUEST_TIMEOUT_SECONDS,
    DEFAULT_TOKEN_REQUEST_TIMEOUT_SECONDS,
  );
  const tokenStoreTimeoutMs = milliseconds(
    config,
    'tokenStoreTimeout',
    'positive',
    MAX_TOKEN_STORE_TIMEOUT_SECONDS,
    DEFAULT_TOKEN_STORE_TIMEOUT_SECONDS,
  );
  const tokenStoreLockWaitMs = milliseconds(
    config,
    'tokenStoreLockWait',
    0,
    MAX_TOKEN_STORE_LOCK_WAIT_SECONDS,
    DEFAULT_TOKEN_STORE_LOCK_WAIT_SECONDS,
  );
  const store = config.tokenStore;
  if (store !== undefined && !isTokenStore(store)) {
    throw invalidConfig(
      'tokenStore',
      'must be an object with get, set and delete functions (acquire and deleteIfEquals optional).',
    );
  }
  if (config.tokenStoreEncryption !== undefined && typeof config.tokenStoreEncryption !== 'boolean') {
    throw invalidConfig(
      'tokenStoreEncryption',
      `must be true or false (got ${describeValue(config.tokenStoreEncryption)}).`,
    );
  }

  return {
    clientId,
    clientSecret,
    tokenEndpoint: tokenEndpointFor(domain),
    httpsAssumed: !domain.includes('://'),
    expirationBufferMs,
    backgroundRefreshIntervalMs,
    requestTimeoutMs,
    onBackgroundRefreshError: optionalFunction(config, 'onBackgroundRefreshError'),
    onTokenRefreshed: optionalFunction(config, 'onTokenRefreshed'),
    onTokenRefreshFailed: optionalFunction(config, 'onTokenRefreshFailed'),
    tokenStore: store,
    tokenStoreEncryption: config.tokenStoreEncryption ?? true,
    tokenStoreTimeoutMs,
    tokenStoreLockWaitMs,
    onTokenStoreError: optionalFunction(config, 'onTokenStoreError'),
    fetch: optionalFunction(config, 'fetch'),
    observer: (config as { [TELEMETRY]?: RoundObserver })[TELEMETRY],
  };
}

/** A list of secrets, or a provider function; a problem is an `INVALID_CONFIG` naming the index, never a value. */
function secretOption(value: unknown): ResolvedConfig['clientSecret'] {
  if (typeof value === 'function') return value as Exclude<ClientSecret, string | readonly string[]>;
  if (value === undefined || value === null) {
    throw invalidConfig('clientSecret', `is required: a secret, a list or a function (got ${describeValue(value)}).`);
  }
  const problem = secretListProblem(value);
  if (problem !== undefined) throw invalidConfig('clientSecret', `${problem}.`);
  return [...asSecretList(value as string | readonly string[])];
}

/**
 * Turns a vanity domain into the token endpoint URL. Only a bare host (with an optional port) is a vanity domain:
 * anything that would make the URL point somewhere other than that host's token endpoint is refused rather than
 * silently dropped, so a pasted dashboard URL fails loudly instead of sending credentials to the wrong place.
 */
export function tokenEndpointFor(domain: string): string {
  const bad = (problem: string) =>
    invalidConfig(
      'wristbandApplicationVanityDomain',
      `${problem}; give the bare host, such as "acme.us.wristband.dev".`,
    );
  if (/\s/.test(domain)) throw bad('contains whitespace');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(domain)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'https' && scheme !== 'http') throw bad(`uses the scheme "${scheme}://"`);
  const authority = (scheme === undefined ? domain : domain.slice(scheme.length + 3)).replace(/\/$/, '');
  if (authority === '') throw bad('has no host');
  if (/[/?#@\\]/.test(authority)) throw bad('has a path, query, fragment or user info');
  let url: URL;
  try {
    url = new URL(`${scheme ?? 'https'}://${authority}${TOKEN_ENDPOINT_PATH}`);
  } catch {
    throw bad('is not a valid host');
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw bad('uses http:// for a host that is not loopback, and the secret is only sent over HTTPS');
  }
  return url.href;
}

function isTokenStore(value: unknown): value is TokenStore {
  const store = value as Record<string, unknown> | null;
  const method = (name: string, optional = false) =>
    typeof store?.[name] === 'function' || (optional && store?.[name] === undefined);
  return (
    typeof value === 'object' &&
    method('get') &&
    method('set') &&
    method('delete') &&
    method('acquire', true) &&
    method('deleteIfEquals', true)
  );
}

function isBrowser(): boolean {
  const scope = globalThis as { window?: unknown; document?: unknown };
  return typeof scope.window === 'object' && scope.window !== null && typeof scope.document === 'object';
}

/** `hostname` as `URL` normalises it: IPv4 in dotted decimal, IPv6 in brackets, names lower-cased. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

function requireText(value: unknown, option: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalidConfig(option, `must be a non-empty string (got ${describeValue(value)}).`);
  }
  if (value.trim() !== value) throw invalidConfig(option, `${WHITESPACE_AROUND}.`);
  return value;
}

/**
 * `config[option]` in ms, or `fallbackSeconds` in ms when it is not set. `min` is inclusive; `'positive'` means
 * anything above 0, for durations where 0 would mean "never". A value above `max` that is in range once divided by
 * 1000 was almost certainly given in milliseconds, and the message says so.
 */
function milliseconds<T extends number | undefined>(
  config: WristbandM2MClientConfig,
  option:
    | 'tokenExpirationBuffer'
    | 'backgroundTokenRefreshInterval'
    | 'tokenRequestTimeout'
    | 'tokenStoreTimeout'
    | 'tokenStoreLockWait',
  min: number | 'positive',
  max: number,
  fallbackSeconds: T,
): number | T {
  const given: unknown = config[option];
  const value = given === undefined ? fallbackSeconds : given;
  if (value === undefined) return value as T;
  // False for NaN and the infinities too.
  const inRange = (seconds: number) => (min === 'positive' ? seconds > 0 : seconds >= min) && seconds <= max;
  if (typeof value !== 'number' || !inRange(value)) {
    const range = min === 'positive' ? 'greater than 0' : `at least ${min}`;
    // Only a value above `max` can be in range once divided by 1000: it was almost certainly given in milliseconds.
    const hint =
      typeof value === 'number' && inRange(value / 1000) ? ` The unit is seconds: did you mean ${value / 1000}?` : '';
    throw invalidConfig(option, `must be ${range} and at most ${max} seconds (got ${describeValue(value)}).${hint}`);
  }
  return value * 1000;
}

/** Throws for an option name the client does not know, naming the nearest known one. */
function rejectUnknownOptions(config: object): void {
  for (const name of Object.keys(config)) {
    if (OPTION_NAMES.includes(name)) continue;
    const nearest = nearestOption(name);
    const suggestion =
      name === 'appDomain'
        ? " @wristband/node-m2m-auth's appDomain is `wristbandApplicationVanityDomain` here."
        : nearest === undefined
          ? ''
          : ` Did you mean \`${nearest}\`?`;
    throw invalidConfig(name, `is not an option.${suggestion}`);
  }
}

/**
 * The known option closest to `name`, ignoring case, `_` and `-`: the one at the smallest edit (Levenshtein) distance,
 * if that is at most a third of the name's length (at least 2), or else one that contains the name or is contained
 * in it (`vanityDomain`). `undefined` when none is that close.
 */
function nearestOption(name: string): string | undefined {
  const normalise = (text: string) => text.toLowerCase().replace(/[-_]/g, '');
  const wanted = normalise(name);
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(wanted.length / 3)) + 1;
  for (const option of OPTION_NAMES) {
    const known = normalise(option);
    // Edits (insertions, deletions, substitutions) that turn `wanted` into `known`, one row of the table at a time.
    let row = [...Array(known.length + 1).keys()];
    for (let i = 1; i <= wanted.length; i++) {
      const next = [i];
      for (let j = 1; j <= known.length; j++) {
        next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (wanted[i - 1] === known[j - 1] ? 0 : 1));
      }
      row = next;
    }
    const contains = wanted.length > 3 && (known.includes(wanted) || wanted.includes(known));
    const distance = row[known.length]! - (contains ? 99 : 0);
    if (distance < bestDistance) [best, bestDistance] = [option, distance];
  }
  return best;
}

/** Returns `names`; fails to compile when an option of {@link WristbandM2MClientConfig} is missing from it. */
function everyOption<const T extends readonly (keyof WristbandM2MClientConfig)[]>(
  names: T &
    ([Exclude<keyof WristbandM2MClientConfig, T[number]>] extends [never]
      ? unknown
      : { missing: Exclude<keyof WristbandM2MClientConfig, T[number]> }),
): T {
  return names;
}

function optionalFunction<K extends keyof WristbandM2MClientConfig>(
  config: WristbandM2MClientConfig,
  option: K,
): WristbandM2MClientConfig[K] {
  const value = config[option];
  if (value !== undefined && typeof value !== 'function') {
    throw invalidConfig(option, `must be a function (got ${describeValue(value)}).`);
  }
  return value;
}
