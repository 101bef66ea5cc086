/**
 * OpenTelemetry traces and metrics for a token client, opt-in: {@link withOpenTelemetry} instruments a config,
 * {@link observeHealth} reports a client's health at each collection. Takes the tracer and meter providers you
 * already have (`trace.getTracerProvider()`, `metrics.getMeterProvider()` after the OpenTelemetry SDK started);
 * imports nothing from `@opentelemetry/api` (its members are typed here by shape), so this entry adds no dependency.
 * The instruments, spans and attributes are listed in the Observability guide.
 *
 * Nothing recorded ever holds the token or the client secret: no header, key, value or exception message is read,
 * only methods, hosts, ports, status codes, our error codes and durations.
 * @module @wristband/typescript-m2m-auth/opentelemetry
 */
import type { WristbandM2MClient } from './client.js';
import type { FetchImplementation, WristbandM2MClientConfig } from './config.js';
import type { RoundOutcome } from './core/round.js';
import type { RefreshReason } from './hooks.js';
import type { TokenStore, TokenStoreOperation } from './store/types.js';
import { type ObservedInit, type RoundObserver, TELEMETRY } from './telemetry.js';

/** An attribute set, as OpenTelemetry takes it. */
export type TelemetryAttributes = Record<string, string | number | boolean>;

/** The members of an OpenTelemetry `Span` this module uses. */
export interface SpanLike {
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/** The members of an OpenTelemetry `Tracer` this module uses. */
export interface TracerLike {
  startActiveSpan<F extends (span: SpanLike) => unknown>(
    name: string,
    options: { kind?: number; attributes?: TelemetryAttributes; root?: boolean },
    fn: F,
  ): ReturnType<F>;
}

/** An OpenTelemetry `TracerProvider` (from `@opentelemetry/api`), typed by the one member used. */
export interface TracerProviderLike {
  getTracer(name: string, version?: string): TracerLike;
}

/** The members of an OpenTelemetry `Histogram` this module uses. */
export interface HistogramLike {
  record(value: number, attributes?: TelemetryAttributes): void;
}

/** What an observable instrument's callback is given. */
export interface ObservableResultLike {
  observe(value: number, attributes?: TelemetryAttributes): void;
}

/** The members of an OpenTelemetry `ObservableGauge` this module uses. */
export interface ObservableGaugeLike {
  addCallback(callback: (result: ObservableResultLike) => void): void;
  removeCallback(callback: (result: ObservableResultLike) => void): void;
}

/** The options of an instrument this module passes. */
export interface InstrumentOptions {
  description?: string;
  unit?: string;
  advice?: { explicitBucketBoundaries?: number[] };
}

/** The members of an OpenTelemetry `Meter` this module uses. */
export interface MeterLike {
  createHistogram(name: string, options?: InstrumentOptions): HistogramLike;
  createObservableGauge(name: string, options?: InstrumentOptions): ObservableGaugeLike;
}

/** An OpenTelemetry `MeterProvider` (from `@opentelemetry/api`), typed by the one member used. */
export interface MeterProviderLike {
  getMeter(name: string, version?: string): MeterLike;
}

/** Options of {@link withOpenTelemetry}. Leave one out to get only the other signal. */
export interface OpenTelemetryOptions {
  /** Where the spans go: `trace.getTracerProvider()` for the one the SDK registered. */
  tracerProvider?: TracerProviderLike;
  /** Where the measurements go: `metrics.getMeterProvider()` for the one the SDK registered. */
  meterProvider?: MeterProviderLike;
}

/** Options of {@link observeHealth}. */
export interface HealthOptions {
  /** `metrics.getMeterProvider()` for the one the SDK registered. */
  meterProvider: MeterProviderLike;
  /**
   * Added to every observation, to tell clients apart when a process observes more than one (for example
   * `{ 'wristband.m2m.client': 'billing' }`). Keep the values few: each set is a time series.
   * @default {}
   */
  attributes?: TelemetryAttributes;
}

/** The instrumentation scope: this package, at this version. */
export const INSTRUMENTATION_SCOPE = { name: '@wristband/typescript-m2m-auth', version: '0.2.0' } as const;

// SpanKind and SpanStatusCode of @opentelemetry/api, whose values are part of its stable API.
const INTERNAL = 0;
const CLIENT = 2;
const ERROR = 2;

/** The HTTP semantic conventions' advice for `http.client.request.duration`, in seconds. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** A round may pause between retries and wait for another process's lock: up to a minute. */
const ROUND_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** A store answers in milliseconds, or times out after `tokenStoreTimeout` (1 s by default). */
const STORE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const STORE_OPERATIONS: readonly TokenStoreOperation[] = ['get', 'set', 'delete', 'deleteIfEquals', 'acquire'];
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']);
/** Query parameters whose values the semantic conventions redact in `url.full`. */
const SENSITIVE_QUERY = ['AWSAccessKeyId', 'Signature', 'sig', 'X-Goog-Signature'];

/** What instrumenting one config made: instruments may be missing (no provider, or a provider that threw). */
interface Instruments {
  tracer: TracerLike | undefined;
  http: HistogramLike | undefined;
  round: HistogramLike | undefined;
  store: HistogramLike | undefined;
}

/**
 * Returns `config` instrumented: a span and a measurement for every token round, every request sent through its
 * `fetch` (token requests, and `client.fetch`'s requests), and every `tokenStore` call. Pass the result to
 * `createWristbandM2MClient`. The cached `getToken()` path does no telemetry work at all.
 *
 * Telemetry can never fail a call: whatever the tracer, a span or an instrument throws is dropped, and the request
 * goes on untraced.
 *
 * @example
 * import { metrics, trace } from '@opentelemetry/api';
 * const m2m = createWristbandM2MClient(
 *   withOpenTelemetry(
 *     { clientId, clientSecret, wristbandApplicationVanityDomain },
 *     { tracerProvider: trace.getTracerProvider(), meterProvider: metrics.getMeterProvider() },
 *   ),
 * );
 */
export function withOpenTelemetry(
  config: WristbandM2MClientConfig,
  options: OpenTelemetryOptions,
): WristbandM2MClientConfig {
  const { tracerProvider, meterProvider } = options ?? {};
  const { name, version } = INSTRUMENTATION_SCOPE;
  const meter = attempt(() => meterProvider?.getMeter(name, version));
  const histogram = (metric: string, description: string, buckets: number[]) =>
    attempt(() =>
      meter?.createHistogram(metric, { description, unit: 's', advice: { explicitBucketBoundaries: buckets } }),
    );
  const instruments: Instruments = {
    tracer: attempt(() => tracerProvider?.getTracer(name, version)),
    http: histogram('http.client.request.duration', 'Duration of HTTP client requests.', HTTP_BUCKETS),
    round: histogram(
      'wristband.m2m.round.duration',
      'Duration of token rounds: the secrets, the store and the token requests until a token or a failure.',
      ROUND_BUCKETS,
    ),
    store: histogram('wristband.m2m.store.duration', 'Duration of token store calls.', STORE_BUCKETS),
  };
  const given = config?.fetch;
  // A config instrumented before keeps its round observer, run inside this one's round span.
  const inner = (config as { [TELEMETRY]?: RoundObserver } | undefined)?.[TELEMETRY];
  const outer = roundObserver(instruments);
  const instrumented: WristbandM2MClientConfig & { [TELEMETRY]?: RoundObserver } = {
    ...config,
    // Anything but a function (or nothing) is left as it is, for the client's config check to refuse.
    fetch: given === undefined || typeof given === 'function' ? tracedFetch(instruments, given) : given,
    [TELEMETRY]: typeof inner === 'function' ? (reason, run) => outer(reason, () => inner(reason, run)) : outer,
  };
  const store = config?.tokenStore;
  if (typeof store === 'object' && store !== null) instrumented.tokenStore = tracedStore(instruments, store);
  return instrumented;
}

/**
 * Reports `client`'s health at each metric collection, reading `client.state` then (nothing on the hot path):
 * - `wristband.m2m.client.status` (gauge, `1`): 1 for the current status and 0 for the two others, by the
 *   `wristband.m2m.status` attribute (`fresh`, `degraded` or `unavailable`);
 * - `wristband.m2m.token.time_remaining` (gauge, `s`): how long the cached token is still served, 0 with none.
 *
 * Returns a function that stops the reports (and lets the client be collected).
 */
export function observeHealth(client: WristbandM2MClient, options: HealthOptions): () => void {
  const { meterProvider, attributes = {} } = options;
  const { name, version } = INSTRUMENTATION_SCOPE;
  const meter = attempt(() => meterProvider.getMeter(name, version));
  const status = attempt(() =>
    meter?.createObservableGauge('wristband.m2m.client.status', {
      description: 'The token client status: 1 for the current one (wristband.m2m.status), 0 for the others.',
      unit: '1',
    }),
  );
  const remaining = attempt(() =>
    meter?.createObservableGauge('wristband.m2m.token.time_remaining', {
      description: 'Time the cached token is still served; 0 with no token.',
      unit: 's',
    }),
  );
  const observeStatus = (result: ObservableResultLike): void => {
    const current = client.state.status;
    for (const value of ['fresh', 'degraded', 'unavailable'] as const) {
      result.observe(value === current ? 1 : 0, { ...attributes, 'wristband.m2m.status': value });
    }
  };
  const observeRemaining = (result: ObservableResultLike): void => {
    const { expiresAt } = client.state;
    result.observe(expiresAt === undefined ? 0 : Math.max(0, (expiresAt - Date.now()) / 1000), attributes);
  };
  attempt(() => status?.addCallback(observeStatus));
  attempt(() => remaining?.addCallback(observeRemaining));
  return () => {
    attempt(() => status?.removeCallback(observeStatus));
    attempt(() => remaining?.removeCallback(observeRemaining));
  };
}

/**
 * Runs `work` inside a span when the tracer gives one, or without one when it throws; `work` runs exactly once
 * either way, and its result is returned as it is. `done` is called once with the span (if any) when the result
 * settles (never for a synchronous throw, which `failed` gets instead).
 */
function inSpan<T>(
  tracer: TracerLike | undefined,
  name: string,
  options: { kind: number; attributes: TelemetryAttributes; root?: boolean },
  work: () => T,
  failed: (span: SpanLike | undefined, error: unknown) => void,
): { result: T; span: SpanLike | undefined } {
  let ran: { result: T; span: SpanLike | undefined } | undefined;
  const run = (span?: SpanLike): T => {
    if (ran !== undefined) return ran.result;
    try {
      ran = { result: work(), span };
    } catch (error) {
      ran = undefined;
      failed(span, error);
      throw error;
    }
    return ran.result;
  };
  let threw: { error: unknown } | undefined;
  try {
    if (tracer !== undefined) {
      tracer.startActiveSpan(name, options, (span) => {
        try {
          return run(span);
        } catch (error) {
          threw = { error };
          return undefined;
        }
      });
    }
  } catch {
    // A tracer that throws (before or after calling us) leaves the work untraced, never undone or done twice.
  }
  if (threw !== undefined) throw threw.error;
  return ran ?? { result: run(), span: undefined };
}

/** Calls `fn`, turning a throw into `undefined`: telemetry must never break a token call. */
function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function since(start: number): number {
  return (performance.now() - start) / 1000;
}

/** Ends `span` with `attributes` and, on failure, an error status carrying no more than `message`. */
function finish(span: SpanLike | undefined, attributes: TelemetryAttributes, failure?: { message?: string }): void {
  if (span === undefined) return;
  attempt(() => {
    for (const [key, value] of Object.entries(attributes)) span.setAttribute(key, value);
    if (failure !== undefined) span.setStatus({ code: ERROR, ...failure });
  });
  attempt(() => span.end());
}

/** The client's round observer: an internal span and a duration per round. */
function roundObserver({ tracer, round }: Instruments): RoundObserver {
  return (reason: RefreshReason, run: () => Promise<RoundOutcome>): Promise<RoundOutcome> => {
    const start = performance.now();
    const base = { 'wristband.m2m.round.reason': reason };
    // A background refresh belongs to no caller's trace: its timer would otherwise carry the context of whichever
    // call started the timer, long ended.
    const { result, span } = inSpan(
      tracer,
      'wristband.m2m.round',
      { kind: INTERNAL, attributes: base, root: reason === 'background' },
      run,
      noop,
    );
    void result.then((outcome) => {
      const attributes = roundAttributes(reason, outcome);
      const error = outcome.type === 'failed' ? outcome.error : undefined;
      const measured = { ...attributes };
      delete measured['wristband.m2m.round.secret_index'];
      attempt(() => round?.record(since(start), measured));
      finish(span, attributes, error && { message: error.message });
    }, noop);
    return result;
  };
}

/** The attributes of a round's span; its measurement takes all but the secret index. */
function roundAttributes(reason: RefreshReason, outcome: RoundOutcome): TelemetryAttributes {
  const attributes: TelemetryAttributes = { 'wristband.m2m.round.reason': reason };
  if (outcome.type === 'failed') {
    attributes['wristband.m2m.round.outcome'] = 'failure';
    attributes['wristband.m2m.round.attempts'] = outcome.error.attempts ?? 0;
    attributes['error.type'] = outcome.error.code;
  } else if (outcome.type === 'deferred') {
    // Another process holds the fleet's lock and refreshes for everyone; the cached token is served meanwhile.
    attributes['wristband.m2m.round.outcome'] = 'deferred';
    attributes['wristband.m2m.round.attempts'] = 0;
  } else {
    attributes['wristband.m2m.round.outcome'] = 'success';
    attributes['wristband.m2m.round.source'] = outcome.source;
    attributes['wristband.m2m.round.attempts'] = outcome.source === 'endpoint' ? outcome.token.attempts : 0;
    attributes['wristband.m2m.round.secret_index'] = outcome.token.secretIndex;
  }
  return attributes;
}

/** `fetch` wrapped in an HTTP client span and a duration per request. */
function tracedFetch({ tracer, http }: Instruments, fetchImpl: FetchImplementation | undefined): FetchImplementation {
  return (input, init) => {
    const start = performance.now();
    const request = attempt(() => requestAttributes(input, init)) ?? {};
    const method = (request['http.request.method'] as string | undefined) ?? '_OTHER';
    const measured = (extra: TelemetryAttributes): TelemetryAttributes => {
      const attributes: TelemetryAttributes = { 'http.request.method': method, ...extra };
      for (const key of ['server.address', 'server.port'] as const) {
        if (request[key] !== undefined) attributes[key] = request[key];
      }
      return attributes;
    };
    // Set once the span has ended and the request was measured, by whichever way came first.
    let done = false;
    const failed = (span: SpanLike | undefined, error: unknown): void => {
      if (done) return;
      done = true;
      const type = errorType(error);
      attempt(() => http?.record(since(start), measured({ 'error.type': type })));
      finish(span, { 'error.type': type }, {});
    };
    // Looked up at each request, as the client does, so interceptors installed later still apply.
    const { result, span } = inSpan(
      tracer,
      method === '_OTHER' ? 'HTTP' : method,
      { kind: CLIENT, attributes: request },
      () => (fetchImpl ?? globalThis.fetch)(input, init),
      failed,
    );
    // A fetch that ignores its signal may never settle once the client gave up on it (a timeout, destroy()): the
    // span ends at the abort, as the request did for the client.
    const signal = attempt(() => init?.signal ?? (input instanceof Request ? input.signal : undefined)) ?? undefined;
    const onAbort = (): void => failed(span, signal?.reason);
    attempt(() => signal?.addEventListener('abort', onAbort, { once: true }));
    const settled = (): void => attempt(() => signal?.removeEventListener('abort', onAbort));
    void Promise.resolve(result).then(
      (response) => {
        settled();
        // Read with care: a fetch of one's own may resolve to anything, and a throw here would go unhandled.
        const status = attempt(() => response.status);
        if (typeof status !== 'number') return failed(span, response);
        if (done) return;
        done = true;
        const outcome: TelemetryAttributes = { 'http.response.status_code': status };
        if (status >= 400) outcome['error.type'] = String(status);
        attempt(() => http?.record(since(start), measured(outcome)));
        finish(span, outcome, status >= 400 ? {} : undefined);
      },
      (error: unknown) => {
        settled();
        failed(span, error);
      },
    );
    return result;
  };
}

/** The stable HTTP client attributes of a request, known before it is sent; `url.full` without credentials. */
function requestAttributes(input: string | URL | Request, init: RequestInit | undefined): TelemetryAttributes {
  const attributes: TelemetryAttributes = {};
  const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  if (KNOWN_METHODS.has(method)) attributes['http.request.method'] = method;
  else {
    attributes['http.request.method'] = '_OTHER';
    attributes['http.request.method_original'] = method.slice(0, 32);
  }
  const url = attempt(() => new URL(input instanceof Request ? input.url : input));
  if (url !== undefined) {
    url.username = '';
    url.password = '';
    url.hash = '';
    for (const key of SENSITIVE_QUERY) if (url.searchParams.has(key)) url.searchParams.set(key, 'REDACTED');
    attributes['url.full'] = url.href;
    attributes['server.address'] = url.hostname;
    attributes['server.port'] = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  }
  const resends = (init as ObservedInit | undefined)?.[TELEMETRY];
  if (typeof resends === 'number' && resends > 0) attributes['http.request.resend_count'] = resends;
  return attributes;
}

/** `store` with a client span and a duration per call; its optional methods stay absent when absent. */
function tracedStore({ tracer, store: histogram }: Instruments, store: TokenStore): TokenStore {
  const traced: Partial<Record<TokenStoreOperation, unknown>> = {};
  for (const operation of STORE_OPERATIONS) {
    const method = (store as unknown as Record<string, unknown>)[operation];
    if (typeof method !== 'function') {
      // Kept as it is, for the client's config check to refuse (an `acquire` that is not a function).
      if (method !== undefined) traced[operation] = method;
      continue;
    }
    traced[operation] = (...args: unknown[]): unknown => {
      const start = performance.now();
      const attributes = { 'wristband.m2m.store.operation': operation };
      const failed = (span: SpanLike | undefined, error: unknown): void => {
        const failure = { 'error.type': errorType(error) };
        attempt(() => histogram?.record(since(start), { ...attributes, ...failure }));
        finish(span, failure, {});
      };
      const { result, span } = inSpan(
        tracer,
        `wristband.m2m.store.${operation}`,
        { kind: CLIENT, attributes },
        () => method.apply(store, args) as unknown,
        failed,
      );
      // What the store returned goes back as it is; the measurement follows it on the side.
      void Promise.resolve(result).then(
        () => {
          attempt(() => histogram?.record(since(start), attributes));
          finish(span, {});
        },
        (error: unknown) => failed(span, error),
      );
      return result;
    };
  }
  return traced as unknown as TokenStore;
}

/**
 * `error.type` for a thrown value: its constructor's name (`TypeError`, `AbortError`), never its message, which
 * is not ours to repeat. `_OTHER` for a value that is not an error.
 */
function errorType(error: unknown): string {
  const name = error instanceof Error ? error.name : undefined;
  // Only a name shaped like an error class's (TypeError, AbortError): any other is foreign text that may hold
  // anything, a secret included (the client redacts error names for the same reason).
  return typeof name === 'string' && /^[A-Z][A-Za-z0-9]{0,58}(Error|Exception)$/.test(name) ? name : '_OTHER';
}

function noop(): void {}
