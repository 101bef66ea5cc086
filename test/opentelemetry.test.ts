// The OpenTelemetry entry point against the real SDK: every instrument's name, kind, unit and attributes, every
// span's kind, attributes and parent, for each way a token round can go; nothing secret in anything exported; and
// telemetry that throws never reaching a caller.
import { readdirSync, readFileSync } from 'node:fs';
import { type Span, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  type HistogramMetricData,
  MeterProvider,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { credentialForms } from '../src/credentials/redact.js';
import {
  createMemoryTokenStore,
  createWristbandM2MClient,
  type TokenStore,
  type WristbandM2MClient,
  type WristbandM2MClientConfig,
  WristbandM2MError,
} from '../src/index.js';
import {
  INSTRUMENTATION_SCOPE,
  type MeterProviderLike,
  observeHealth,
  type TracerProviderLike,
  withOpenTelemetry,
} from '../src/opentelemetry.js';
import { createTestTokenEndpoint, type TestTokenEndpoint } from '../src/testing/index.js';

class ManualReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const ROUND_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const STORE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const TOKEN_HOST = 'test-app.wristband.test';
const TOKEN_URL = `https://${TOKEN_HOST}/api/v1/oauth2/token`;
/** The attributes every request to the kit's token endpoint starts with. */
const TOKEN_REQUEST = {
  'http.request.method': 'POST',
  'server.address': TOKEN_HOST,
  'server.port': 443,
  'url.full': TOKEN_URL,
};
/** The attributes of its measurement: the method and server, then the outcome. */
const TOKEN_MEASURED = { 'http.request.method': 'POST', 'server.address': TOKEN_HOST, 'server.port': 443 };

let exporter: InMemorySpanExporter;
let tracerProvider: BasicTracerProvider;
let reader: ManualReader;
let meterProvider: MeterProvider;
const contextManager = new AsyncLocalStorageContextManager();
const clients: WristbandM2MClient[] = [];

beforeAll(() => {
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
});
afterAll(() => {
  context.disable();
});
beforeEach(() => {
  exporter = new InMemorySpanExporter();
  tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  reader = new ManualReader();
  meterProvider = new MeterProvider({ readers: [reader] });
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  vi.useRealTimers();
  vi.restoreAllMocks();
  await meterProvider.shutdown();
  await tracerProvider.shutdown();
});

function kit(options: Parameters<typeof createTestTokenEndpoint>[0] = {}): TestTokenEndpoint {
  return createTestTokenEndpoint(options);
}

function instrumented(endpoint: TestTokenEndpoint, overrides: Partial<WristbandM2MClientConfig> = {}) {
  const config: WristbandM2MClientConfig = {
    clientId: endpoint.clientId,
    clientSecret: endpoint.clientSecret,
    wristbandApplicationVanityDomain: endpoint.vanityDomain,
    fetch: endpoint.fetch,
    ...overrides,
  };
  const client = createWristbandM2MClient(withOpenTelemetry(config, { tracerProvider, meterProvider }));
  clients.push(client);
  return client;
}

/** Runs `fn` inside an active span named `name`, ended after; resolves to what `fn` returns and the span's id. */
async function inParent<T>(name: string, fn: () => Promise<T>): Promise<{ value: T; spanId: string }> {
  const tracer = tracerProvider.getTracer('test');
  return tracer.startActiveSpan(name, async (span: Span) => {
    try {
      return { value: await fn(), spanId: span.spanContext().spanId };
    } finally {
      span.end();
    }
  });
}

const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
const named = (name: string): ReadableSpan[] => spans().filter((span) => span.name === name);
const parentOf = (span: ReadableSpan | undefined): string | undefined => span?.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan | undefined): string | undefined => span?.spanContext().spanId;

async function collect(): Promise<CollectionResult> {
  return reader.collect();
}

/** The metric `name` as collected, with its scope; undefined when nothing recorded it. */
async function metric(name: string) {
  const { resourceMetrics } = await collect();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const data of scope.metrics) if (data.descriptor.name === name) return { scope: scope.scope, data };
  }
  return undefined;
}

/** The data points of histogram `name`: attributes and count, sorted by attributes for stable comparison. */
async function histogramPoints(name: string) {
  const found = await metric(name);
  if (found === undefined) return [];
  const data = found.data as HistogramMetricData;
  expect(data.dataPointType).toBe(DataPointType.HISTOGRAM);
  return data.dataPoints
    .map((point) => ({ attributes: point.attributes, count: point.value.count }))
    .sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)));
}

describe('instruments', () => {
  it('declares each histogram with its name, unit, description and bucket boundaries in seconds, in our scope', async () => {
    const endpoint = kit();
    await instrumented(endpoint).getToken();
    for (const [name, buckets] of [
      ['http.client.request.duration', HTTP_BUCKETS],
      ['wristband.m2m.round.duration', ROUND_BUCKETS],
    ] as const) {
      const found = await metric(name);
      expect(found?.scope).toMatchObject({ name: '@wristband/typescript-m2m-auth', version: '0.2.0' });
      expect(found?.data.descriptor).toMatchObject({ name, unit: 's' });
      expect(found?.data.descriptor.description).not.toBe('');
      const data = found?.data as HistogramMetricData;
      expect(data.dataPoints[0]?.value.buckets.boundaries).toEqual(buckets);
    }
  });

  it('names its instrumentation scope after the package, at the version package.json declares', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(INSTRUMENTATION_SCOPE).toEqual({ name: pkg.name, version: pkg.version });
  });
});

describe('a first token', () => {
  it('records a round span (internal, child of the caller span) and a POST client span as its child', async () => {
    const endpoint = kit();
    const client = instrumented(endpoint);
    const { spanId: handler } = await inParent('handler', () => client.getToken());

    const [round] = named('wristband.m2m.round');
    expect(round?.kind).toBe(SpanKind.INTERNAL);
    expect(parentOf(round)).toBe(handler);
    expect(round?.attributes).toEqual({
      'wristband.m2m.round.reason': 'initial',
      'wristband.m2m.round.outcome': 'success',
      'wristband.m2m.round.source': 'endpoint',
      'wristband.m2m.round.attempts': 1,
      'wristband.m2m.round.secret_index': 0,
    });
    expect(round?.status.code).toBe(SpanStatusCode.UNSET);

    const [post] = named('POST');
    expect(post?.kind).toBe(SpanKind.CLIENT);
    expect(parentOf(post)).toBe(idOf(round));
    expect(post?.attributes).toEqual({ ...TOKEN_REQUEST, 'http.response.status_code': 200 });
    expect(spans().map((span) => span.name)).toEqual(['POST', 'wristband.m2m.round', 'handler']);
  });

  it('measures the request and the round, each once, with exactly the bounded attributes', async () => {
    const endpoint = kit();
    await instrumented(endpoint).getToken();
    expect(await histogramPoints('http.client.request.duration')).toEqual([
      { attributes: { ...TOKEN_MEASURED, 'http.response.status_code': 200 }, count: 1 },
    ]);
    expect(await histogramPoints('wristband.m2m.round.duration')).toEqual([
      {
        attributes: {
          'wristband.m2m.round.reason': 'initial',
          'wristband.m2m.round.outcome': 'success',
          'wristband.m2m.round.source': 'endpoint',
          'wristband.m2m.round.attempts': 1,
        },
        count: 1,
      },
    ]);
    expect(await metric('wristband.m2m.store.duration')).toBeUndefined();
  });

  it('does no telemetry work on the cached path: no span, no measurement', async () => {
    const endpoint = kit();
    const client = instrumented(endpoint);
    await client.getToken();
    const before = spans().length;
    for (let i = 0; i < 1000; i++) await client.getToken();
    expect(spans()).toHaveLength(before);
    expect((await histogramPoints('wristband.m2m.round.duration'))[0]?.count).toBe(1);
    expect(endpoint.requestCount).toBe(1);
  });
});

describe('a rotation with refresh ahead', () => {
  it('records an expiring round, child of the call that started it, while that call got the cached token', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const endpoint = kit({ tokenLifetimeSeconds: 300 });
    const client = instrumented(endpoint);
    const first = await client.getToken();
    vi.advanceTimersByTime(241_000); // past the refresh instant (300 - 60 s buffer), still served
    const { value: served, spanId: caller } = await inParent('second request', () => client.getToken());
    expect(served).toBe(first);
    await vi.waitFor(() => expect(named('wristband.m2m.round')).toHaveLength(2));

    const expiring = named('wristband.m2m.round')[1];
    expect(parentOf(expiring)).toBe(caller);
    expect(expiring?.attributes).toMatchObject({
      'wristband.m2m.round.reason': 'expiring',
      'wristband.m2m.round.outcome': 'success',
      'wristband.m2m.round.source': 'endpoint',
    });
    expect(parentOf(named('POST')[1])).toBe(idOf(expiring));
    expect((await histogramPoints('wristband.m2m.round.duration')).map((p) => p.attributes)).toEqual([
      expect.objectContaining({ 'wristband.m2m.round.reason': 'expiring' }),
      expect.objectContaining({ 'wristband.m2m.round.reason': 'initial' }),
    ]);
  });

  it('makes a background refresh a root span: no caller waits for it', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance', 'setInterval', 'clearInterval'] });
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const endpoint = kit({ tokenLifetimeSeconds: 300 });
    const client = instrumented(endpoint, { backgroundTokenRefreshInterval: 60 });
    await inParent('first request', () => client.getToken());
    vi.advanceTimersByTime(60_000); // the interval's first tick refreshes in the background
    await vi.waitFor(() => expect(named('wristband.m2m.round')).toHaveLength(2));
    const background = named('wristband.m2m.round')[1];
    expect(background?.attributes['wristband.m2m.round.reason']).toBe('background');
    expect(parentOf(background)).toBeUndefined();
    expect(parentOf(named('POST')[1])).toBe(idOf(background));
  });
});

describe('a 5xx retried', () => {
  it('marks the retry as a resend, and the round took 2 attempts', async () => {
    const endpoint = kit();
    endpoint.failNext(500);
    await instrumented(endpoint).getToken();
    const [failed, retried] = named('POST');
    expect(failed?.attributes).toEqual({ ...TOKEN_REQUEST, 'http.response.status_code': 500, 'error.type': '500' });
    expect(failed?.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(retried?.attributes).toEqual({
      ...TOKEN_REQUEST,
      'http.request.resend_count': 1,
      'http.response.status_code': 200,
    });
    expect(named('wristband.m2m.round')[0]?.attributes['wristband.m2m.round.attempts']).toBe(2);
    expect(await histogramPoints('http.client.request.duration')).toEqual([
      { attributes: { ...TOKEN_MEASURED, 'http.response.status_code': 200 }, count: 1 },
      { attributes: { ...TOKEN_MEASURED, 'http.response.status_code': 500, 'error.type': '500' }, count: 1 },
    ]);
  });
});

describe('a fallback to the second secret', () => {
  it('records the rejected request, the resend with the second secret, and secret index 1', async () => {
    const endpoint = kit();
    await instrumented(endpoint, { clientSecret: ['a-new-secret-not-yet-live', endpoint.clientSecret] }).getToken();
    const [rejected, fallback] = named('POST');
    expect(rejected?.attributes).toEqual({ ...TOKEN_REQUEST, 'http.response.status_code': 401, 'error.type': '401' });
    expect(fallback?.attributes).toMatchObject({ 'http.request.resend_count': 1, 'http.response.status_code': 200 });
    expect(named('wristband.m2m.round')[0]?.attributes).toMatchObject({
      'wristband.m2m.round.attempts': 2,
      'wristband.m2m.round.secret_index': 1,
    });
  });
});

describe('a backoff', () => {
  it('records each failed round with our error code; a call refused during the backoff starts no round', async () => {
    const endpoint = kit();
    endpoint.failNext(400, 400);
    const client = instrumented(endpoint);
    for (let i = 0; i < 2; i++) await expect(client.getToken()).rejects.toThrow(WristbandM2MError);
    await expect(client.getToken()).rejects.toMatchObject({ code: 'TOKEN_ENDPOINT_HTTP_ERROR' });
    expect(endpoint.requestCount).toBe(2);

    const rounds = named('wristband.m2m.round');
    expect(rounds).toHaveLength(2);
    expect(rounds[1]?.attributes).toEqual({
      'wristband.m2m.round.reason': 'initial',
      'wristband.m2m.round.outcome': 'failure',
      'wristband.m2m.round.attempts': 1,
      'error.type': 'TOKEN_ENDPOINT_HTTP_ERROR',
    });
    expect(rounds[1]?.status.code).toBe(SpanStatusCode.ERROR);
    expect(rounds[1]?.status.message).toMatch(/^The Wristband token endpoint answered 400/);
    expect(await histogramPoints('wristband.m2m.round.duration')).toEqual([
      {
        attributes: {
          'wristband.m2m.round.reason': 'initial',
          'wristband.m2m.round.outcome': 'failure',
          'wristband.m2m.round.attempts': 1,
          'error.type': 'TOKEN_ENDPOINT_HTTP_ERROR',
        },
        count: 2,
      },
    ]);
  });
});

describe('a token store', () => {
  it('a store hit: the round takes the token from the store, its store calls are its children', async () => {
    const endpoint = kit();
    const store = createMemoryTokenStore();
    await instrumented(endpoint, { tokenStore: store }).getToken();
    exporter.reset();
    await instrumented(endpoint, { tokenStore: store }).getToken();
    expect(endpoint.requestCount).toBe(1);

    const [round] = named('wristband.m2m.round');
    expect(round?.attributes).toEqual({
      'wristband.m2m.round.reason': 'initial',
      'wristband.m2m.round.outcome': 'success',
      'wristband.m2m.round.source': 'store',
      'wristband.m2m.round.attempts': 0,
      'wristband.m2m.round.secret_index': 0,
    });
    const [get] = named('wristband.m2m.store.get');
    expect(get?.kind).toBe(SpanKind.CLIENT);
    expect(get?.attributes).toEqual({ 'wristband.m2m.store.operation': 'get' });
    expect(parentOf(get)).toBe(idOf(round));
    expect(named('POST')).toEqual([]);
    // The first client's whole fleet protocol (read, lock, double-check, publish, release), then this read.
    const points = await histogramPoints('wristband.m2m.store.duration');
    expect(points.map((p) => p.attributes)).toEqual(
      ['acquire', 'deleteIfEquals', 'get', 'set'].map((operation) => ({ 'wristband.m2m.store.operation': operation })),
    );
    expect((await metric('wristband.m2m.store.duration'))?.data.descriptor.unit).toBe('s');
    const store0 = (await metric('wristband.m2m.store.duration'))?.data as HistogramMetricData;
    expect(store0.dataPoints[0]?.value.buckets.boundaries).toEqual(STORE_BUCKETS);
  });

  it('a store failure: the call span and measurement carry error.type; the round still gets a token', async () => {
    const failing: TokenStore = {
      get: () => Promise.reject(new RangeError('store down')),
      set: async () => undefined,
      delete: async () => undefined,
    };
    const endpoint = kit();
    const storeErrors: string[] = [];
    await instrumented(endpoint, {
      tokenStore: failing,
      onTokenStoreError: ({ operation }) => storeErrors.push(operation),
    }).getToken();
    expect(storeErrors).toContain('get');
    const [get] = named('wristband.m2m.store.get');
    expect(get?.attributes).toEqual({ 'wristband.m2m.store.operation': 'get', 'error.type': 'RangeError' });
    expect(get?.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(named('wristband.m2m.round')[0]?.attributes['wristband.m2m.round.source']).toBe('endpoint');
    expect(await histogramPoints('wristband.m2m.store.duration')).toContainEqual({
      attributes: { 'wristband.m2m.store.operation': 'get', 'error.type': 'RangeError' },
      count: 1,
    });
    // Optional methods the store lacks stay absent, so the fleet still knows it has no lock.
    expect(named('wristband.m2m.store.acquire')).toEqual([]);
  });
});

describe('client.fetch after a 401', () => {
  it('records the rejected request, the unauthorized round, and the second request as a resend', async () => {
    const endpoint = kit();
    const client = instrumented(endpoint);
    endpoint.revoke(await client.getToken());
    exporter.reset();
    const { value: response, spanId: handler } = await inParent('handler', () => client.fetch(endpoint.resourceUrl));
    expect(response.status).toBe(200);

    const url = new URL(endpoint.resourceUrl);
    const resource = { 'http.request.method': 'GET', 'server.address': url.hostname, 'server.port': 443 };
    const gets = named('GET');
    expect(gets.map((span) => span.attributes)).toEqual([
      { ...resource, 'url.full': url.href, 'http.response.status_code': 401, 'error.type': '401' },
      { ...resource, 'url.full': url.href, 'http.request.resend_count': 1, 'http.response.status_code': 200 },
    ]);
    for (const get of gets) expect(parentOf(get)).toBe(handler);
    const [round] = named('wristband.m2m.round');
    expect(round?.attributes['wristband.m2m.round.reason']).toBe('unauthorized');
    expect(parentOf(round)).toBe(handler);
    expect(await histogramPoints('http.client.request.duration')).toContainEqual({
      attributes: { ...resource, 'http.response.status_code': 401, 'error.type': '401' },
      count: 1,
    });
  });

  it('strips credentials from url.full and redacts the query values the conventions name', async () => {
    const endpoint = kit();
    // The test kit's Request refuses user info in a URL, as undici does; a fetch of one's own may take it.
    const client = instrumented(endpoint, {
      fetch: async (input, init) =>
        String(input) === endpoint.tokenEndpoint ? endpoint.fetch(input, init) : new Response('ok'),
    });
    await client.fetch('https://user:pass@api.example.com:8443/v1/x?Signature=abc&page=2#frag', { method: 'patch' });
    const [span] = named('PATCH');
    expect(span?.attributes).toMatchObject({
      'url.full': 'https://api.example.com:8443/v1/x?Signature=REDACTED&page=2',
      'server.address': 'api.example.com',
      'server.port': 8443,
      'http.request.method': 'PATCH',
    });
  });
});

describe('health, read at collection time', () => {
  it('reports the status as 1 for the current one and 0 for the others, and the seconds the token is served', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const endpoint = kit({ tokenLifetimeSeconds: 300 });
    const client = instrumented(endpoint);
    const stop = observeHealth(client, { meterProvider, attributes: { 'wristband.m2m.client': 'billing' } });
    const read = async () => {
      const status = (await metric('wristband.m2m.client.status'))?.data;
      const remaining = (await metric('wristband.m2m.token.time_remaining'))?.data;
      return {
        status: Object.fromEntries(
          (status?.dataPoints ?? []).map((p) => [p.attributes['wristband.m2m.status'], p.value]),
        ),
        statusAttributes: status?.dataPoints[0]?.attributes,
        remaining: remaining?.dataPoints[0]?.value,
        units: [status?.descriptor.unit, remaining?.descriptor.unit],
        types: [status?.dataPointType, remaining?.dataPointType],
      };
    };
    expect(await read()).toEqual({
      status: { fresh: 0, degraded: 0, unavailable: 1 },
      statusAttributes: { 'wristband.m2m.client': 'billing', 'wristband.m2m.status': 'fresh' },
      remaining: 0,
      units: ['1', 's'],
      types: [DataPointType.GAUGE, DataPointType.GAUGE],
    });
    await client.getToken();
    vi.advanceTimersByTime(100_000);
    const servedFor = () => ((client.state.expiresAt ?? 0) - Date.now()) / 1000;
    expect(servedFor()).toBeGreaterThan(100);
    expect(await read()).toMatchObject({ status: { fresh: 1, degraded: 0, unavailable: 0 }, remaining: servedFor() });
    endpoint.failNext(400);
    vi.advanceTimersByTime(141_000);
    await client.getToken();
    await vi.waitFor(() => expect(client.state.status).toBe('degraded'));
    expect(servedFor()).toBeGreaterThan(0);
    expect(await read()).toMatchObject({ status: { fresh: 0, degraded: 1, unavailable: 0 }, remaining: servedFor() });
    stop();
  });

  it('reads client.state only at collection time, and no more once stopped', async () => {
    const endpoint = kit();
    const client = instrumented(endpoint);
    let reads = 0;
    const counted = {
      get state() {
        reads++;
        return client.state;
      },
    } as WristbandM2MClient;
    const stop = observeHealth(counted, { meterProvider });
    await client.getToken();
    expect(reads).toBe(0);
    await collect();
    expect(reads).toBe(2); // one per gauge
    stop();
    await collect();
    expect(reads).toBe(2);
  });
});

describe('nothing secret, ever', () => {
  it('no exported span name, attribute, event or status and no metric attribute holds a token or a secret form', async () => {
    const secret = 'pa ss/wörd"+=7f3a9c-ÄÖ';
    const endpoint = kit({ clientSecret: secret, upstream: async () => new Response('ok') });
    const wrong = 'wr ong/sécret"+=%41-0x9';
    const tokens: string[] = [];
    const recording: typeof fetch = async (input, init) => {
      const response = await endpoint.fetch(input, init);
      const body = await response
        .clone()
        .json()
        .catch(() => undefined);
      if (typeof body?.access_token === 'string') tokens.push(body.access_token);
      return response;
    };
    const store = createMemoryTokenStore();
    const client = instrumented(endpoint, { clientSecret: [wrong, secret], fetch: recording, tokenStore: store });
    endpoint.failNext(503);
    await client.getToken();
    endpoint.revokeAll();
    await client.fetch(endpoint.resourceUrl);
    await client.fetch('https://api.example.com/');
    client.clearToken();
    endpoint.failNext(400);
    await client.getToken().catch(() => undefined);
    const other = instrumented(endpoint, { clientSecret: [wrong, secret], fetch: recording, tokenStore: store });
    await other.getToken().catch(() => undefined);
    const health = observeHealth(client, { meterProvider });
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    expect(named('POST').length).toBeGreaterThanOrEqual(4);

    const exported = JSON.stringify({
      spans: spans().map((span) => ({
        name: span.name,
        attributes: span.attributes,
        events: span.events,
        links: span.links,
        status: span.status,
        resource: span.resource.attributes,
      })),
      metrics: (await collect()).resourceMetrics,
    });
    health();
    const forms = [wrong, secret].flatMap((s) => {
      const all = credentialForms(endpoint.clientId, s);
      // percent-encoding in lowercase too, which some servers echo
      return [...all, ...all.map((form) => form.replace(/%[0-9A-F]{2}/g, (octet) => octet.toLowerCase()))];
    });
    for (const form of new Set([...forms, ...tokens])) expect(exported).not.toContain(form);
    // the serialization itself holds what it should, so the check above looks at real data
    expect(exported).toContain('wristband.m2m.round.duration');
    expect(exported).toContain(TOKEN_URL);
  });
});

describe('telemetry that fails never fails a call', () => {
  const throwing = () => {
    throw new Error('telemetry broke');
  };

  it.each([
    ['providers that throw', { getTracer: throwing }, { getMeter: throwing }],
    [
      'a tracer and instruments that throw',
      { getTracer: () => ({ startActiveSpan: throwing }) },
      { getMeter: () => ({ createHistogram: throwing, createObservableGauge: throwing }) },
    ],
    [
      'spans and histograms that throw once started',
      {
        getTracer: () => ({
          startActiveSpan: (_n: string, _o: unknown, fn: (span: unknown) => unknown) => {
            fn({ setAttribute: throwing, setStatus: throwing, end: throwing });
            throw new Error('after the work');
          },
        }),
      },
      { getMeter: () => ({ createHistogram: () => ({ record: throwing }), createObservableGauge: throwing }) },
    ],
    [
      'a tracer that calls the work twice',
      {
        getTracer: () => ({
          startActiveSpan: (_n: string, _o: unknown, fn: (span: unknown) => unknown) => {
            fn({ setAttribute() {}, setStatus() {}, end() {} });
            return fn({ setAttribute() {}, setStatus() {}, end() {} });
          },
        }),
      },
      { getMeter: throwing },
    ],
  ])('%s: tokens, client.fetch, the store and health all work', async (_case, tracer, meter) => {
    const endpoint = kit();
    endpoint.failNext(500);
    const store = createMemoryTokenStore();
    const config = withOpenTelemetry(
      {
        clientId: endpoint.clientId,
        clientSecret: endpoint.clientSecret,
        wristbandApplicationVanityDomain: endpoint.vanityDomain,
        fetch: endpoint.fetch,
        tokenStore: store,
      },
      { tracerProvider: tracer as unknown as TracerProviderLike, meterProvider: meter as unknown as MeterProviderLike },
    );
    const client = createWristbandM2MClient(config);
    clients.push(client);
    const token = await client.getToken();
    expect(endpoint.verify(token)).toBe('valid');
    expect(endpoint.requestCount).toBe(2); // the work ran once per attempt, never twice
    endpoint.revoke(token);
    expect((await client.fetch(endpoint.resourceUrl)).status).toBe(200);
    expect(endpoint.resourceCalls).toEqual({ total: 2, rejected: 1 });
    const stop = observeHealth(client, { meterProvider: meter as unknown as MeterProviderLike });
    stop();
  });

  it('a fetch that throws synchronously still throws to the client, recorded as the round failure', async () => {
    const client = createWristbandM2MClient(
      withOpenTelemetry(
        {
          clientId: 'id',
          clientSecret: 'secret',
          wristbandApplicationVanityDomain: TOKEN_HOST,
          fetch: () => {
            throw new TypeError('no network');
          },
        },
        { tracerProvider, meterProvider },
      ),
    );
    clients.push(client);
    await expect(client.getToken()).rejects.toMatchObject({ code: 'TOKEN_ENDPOINT_UNREACHABLE' });
    expect(named('POST')[0]?.attributes['error.type']).toBe('TypeError');
    expect(named('wristband.m2m.round')[0]?.attributes['error.type']).toBe('TOKEN_ENDPOINT_UNREACHABLE');
  });
});

describe('rounds that end early', () => {
  it('destroy() during a round ends its span, and the request span, as failures', async () => {
    const endpoint = kit();
    endpoint.hangNext();
    const client = instrumented(endpoint);
    const pending = client.getToken();
    await vi.waitFor(() => expect(endpoint.hangingCount).toBe(1));
    client.destroy();
    await expect(pending).rejects.toMatchObject({ code: 'CLIENT_DESTROYED' });
    await vi.waitFor(() => expect(named('POST')).toHaveLength(1));
    const [round] = named('wristband.m2m.round');
    expect(round?.attributes).toMatchObject({
      'wristband.m2m.round.outcome': 'failure',
      'error.type': 'CLIENT_DESTROYED',
    });
    expect(named('POST')[0]?.attributes['error.type']).toMatch(/Error$/);
  });

  it('a caller that aborts leaves; the round goes on and its span ends when it does', async () => {
    const endpoint = kit({ latencyMs: 30 });
    const client = instrumented(endpoint);
    const controller = new AbortController();
    const pending = client.getToken({ signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
    await vi.waitFor(() => expect(named('wristband.m2m.round')).toHaveLength(1));
    expect(named('wristband.m2m.round')[0]?.attributes['wristband.m2m.round.outcome']).toBe('success');
  });
});

describe('the entry points stay apart', () => {
  it('no file of src/ imports @opentelemetry/*, and only the opentelemetry entry imports the telemetry code', () => {
    const files = (dir: string): string[] =>
      readdirSync(new URL(`../src/${dir}`, import.meta.url), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? files(`${dir}${entry.name}/`) : [`${dir}${entry.name}`],
      );
    for (const file of files('')) {
      const source = readFileSync(new URL(`../src/${file}`, import.meta.url), 'utf8');
      expect(source, file).not.toMatch(/^import [^\n]*'@opentelemetry\//m);
      if (file !== 'opentelemetry.ts') expect(source, file).not.toMatch(/from '\.\/opentelemetry\.js'/);
    }
  });
});

describe('what a careless config or fetch does to telemetry', () => {
  const base = {
    clientId: 'id',
    clientSecret: 'a-long-client-secret',
    wristbandApplicationVanityDomain: TOKEN_HOST,
  };
  const track = (client: WristbandM2MClient) => (clients.push(client), client);

  it('a fetch that resolves to something not a Response: no unhandled rejection, the span ends', async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      const config = { ...base, fetch: (async () => undefined) as unknown as typeof fetch };
      const client = track(createWristbandM2MClient(withOpenTelemetry(config, { tracerProvider })));
      // Without telemetry the same config rejects exactly like this, and nothing else happens.
      await expect(client.getToken()).rejects.toMatchObject({ code: 'TOKEN_ENDPOINT_UNREACHABLE' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
      expect(named('POST')).toHaveLength(1);
      expect(named('POST')[0]!.attributes['error.type']).toBe('_OTHER');
    } finally {
      process.off('unhandledRejection', listener);
    }
  });

  it('a fetch that ignores its signal: the request the client gave up on still ends its span and is measured', async () => {
    const hung = () => new Promise<Response>(() => undefined);
    const client = track(
      createWristbandM2MClient(
        withOpenTelemetry({ ...base, fetch: hung, tokenRequestTimeout: 0.05 }, { tracerProvider, meterProvider }),
      ),
    );
    await expect(client.getToken()).rejects.toMatchObject({ code: 'TOKEN_REQUEST_TIMEOUT' });
    await vi.waitFor(() => expect(named('wristband.m2m.round')).toHaveLength(1));
    expect(named('POST')).toHaveLength(1);
    expect(await metric('http.client.request.duration')).toBeDefined();
  });

  it('keeps the config check: a fetch or a store method that is not a function is still INVALID_CONFIG', () => {
    const notFetch = { ...base, fetch: 'https://proxy.internal' as unknown as typeof fetch };
    expect(() => createWristbandM2MClient(notFetch)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => track(createWristbandM2MClient(withOpenTelemetry(notFetch, { tracerProvider })))).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    );
    const store = { get: async () => null, set: async () => undefined, delete: async () => undefined, acquire: 'yes' };
    const badStore = { ...base, tokenStore: store as unknown as WristbandM2MClientConfig['tokenStore'] };
    expect(() => track(createWristbandM2MClient(withOpenTelemetry(badStore, { tracerProvider })))).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    );
  });

  it('applied twice, each instrumentation sees its rounds', async () => {
    const endpoint = kit();
    const config: WristbandM2MClientConfig = {
      clientId: endpoint.clientId,
      clientSecret: endpoint.clientSecret,
      wristbandApplicationVanityDomain: endpoint.vanityDomain,
      fetch: endpoint.fetch,
    };
    const first = new InMemorySpanExporter();
    const firstProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(first)] });
    const client = track(
      createWristbandM2MClient(
        withOpenTelemetry(withOpenTelemetry(config, { tracerProvider: firstProvider }), { tracerProvider }),
      ),
    );
    await client.getToken();
    expect(spans().map((span) => span.name)).toEqual(['POST', 'wristband.m2m.round']);
    expect(first.getFinishedSpans().map((span) => span.name)).toEqual(['POST', 'wristband.m2m.round']);
    await firstProvider.shutdown();
  });

  it('error.type never repeats a foreign error name (here the secret itself; the client redacts it too)', async () => {
    const secret = 'Zq8vT3mK9wR2xL7pN4sB6yH1';
    const refused = async (): Promise<Response> => {
      throw Object.assign(new Error('refused'), { name: secret });
    };
    const client = track(
      createWristbandM2MClient(
        withOpenTelemetry({ ...base, clientSecret: secret, fetch: refused }, { tracerProvider, meterProvider }),
      ),
    );
    const error = await client.getToken().catch((caught: unknown) => caught);
    expect((error as { cause: Error }).cause.name).toBe('[REDACTED]');
    expect(JSON.stringify(spans().map((span) => span.attributes))).not.toContain(secret);
    expect(JSON.stringify(await collect())).not.toContain(secret);
    expect(named('POST')[0]!.attributes['error.type']).toBe('_OTHER');
  });
});
