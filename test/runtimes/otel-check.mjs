// The OpenTelemetry entry on one runtime: a client instrumented through dist/opentelemetry.js with the real SDK,
// against the local token server. Bundled with the SDK by the matrix (esbuild), so it runs alike in Node, Deno, Bun
// and workerd; its context manager is ten lines over AsyncLocalStorage (`nodejs_als` in workerd), since
// @opentelemetry/context-async-hooks does not bundle for workerd.
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createWristbandM2MClient } from '../../dist/index.js';
import { observeHealth, withOpenTelemetry } from '../../dist/opentelemetry.js';

class AlsContextManager {
  #storage = new AsyncLocalStorage();
  active = () => this.#storage.getStore() ?? ROOT_CONTEXT;
  with = (ctx, fn, thisArg, ...args) => this.#storage.run(ctx, () => fn.call(thisArg, ...args));
  bind = (ctx, target) =>
    typeof target === 'function' ? (...args) => this.with(ctx, target, undefined, ...args) : target;
  enable = () => this;
  disable = () => (this.#storage.disable(), this);
}

class ManualReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  async onForceFlush() {}
  async onShutdown() {}
}

/**
 * @param {{ clientId: string, clientSecret: string, vanityDomain: string }} server
 * @returns {Promise<{ ok: boolean, detail: string }>}
 */
export async function runOtelCheck(server) {
  const fail = (problem) => ({ ok: false, detail: problem });
  try {
    context.setGlobalContextManager(new AlsContextManager());
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const reader = new ManualReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const client = createWristbandM2MClient(
      withOpenTelemetry(
        {
          clientId: server.clientId,
          clientSecret: ['not-the-secret', server.clientSecret],
          wristbandApplicationVanityDomain: server.vanityDomain,
        },
        { tracerProvider, meterProvider },
      ),
    );
    const stop = observeHealth(client, { meterProvider });
    const parent = await tracerProvider.getTracer('check').startActiveSpan('handler', async (span) => {
      await client.getToken();
      span.end();
      return span.spanContext().spanId;
    });
    const spans = exporter.getFinishedSpans();
    const round = spans.find((s) => s.name === 'wristband.m2m.round');
    const posts = spans.filter((s) => s.name === 'POST');
    if (round?.parentSpanContext?.spanId !== parent) return fail(`round parent ${round?.parentSpanContext?.spanId}`);
    if (round.attributes['wristband.m2m.round.secret_index'] !== 1) return fail('secret index not 1');
    if (posts.length !== 2 || posts.some((s) => s.parentSpanContext?.spanId !== round.spanContext().spanId)) {
      return fail(`${posts.length} POST spans, parents ${posts.map((s) => s.parentSpanContext?.spanId)}`);
    }
    if (posts[1].attributes['http.request.resend_count'] !== 1) return fail('no resend_count on the fallback');
    const { resourceMetrics } = await reader.collect();
    const metrics = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
    const byName = (name) => metrics.find((m) => m.descriptor.name === name);
    const requests = byName('http.client.request.duration');
    if (requests?.descriptor.unit !== 's' || requests.dataPoints.length !== 2) return fail('request histogram');
    if (byName('wristband.m2m.round.duration')?.dataPoints[0]?.value.count !== 1) return fail('round histogram');
    const fresh = byName('wristband.m2m.client.status')?.dataPoints.find(
      (p) => p.attributes['wristband.m2m.status'] === 'fresh',
    );
    if (fresh?.value !== 1) return fail('status gauge');
    const serialized = JSON.stringify([spans.map((s) => [s.name, s.attributes, s.status, s.events]), metrics]);
    if (serialized.includes(server.clientSecret)) return fail('the secret was exported');
    stop();
    client.destroy();
    return { ok: true, detail: '' };
  } catch (error) {
    return fail(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  }
}
