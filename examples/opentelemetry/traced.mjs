// client.fetch with OpenTelemetry: the client's spans and metrics printed to the console.
// Run: npm run example -- opentelemetry (against the local token server), or
// CLIENT_ID=… CLIENT_SECRET=… APPLICATION_VANITY_DOMAIN=… DOWNSTREAM_URL=… node opentelemetry/traced.mjs
// In production, start the OpenTelemetry Node SDK with OTLP exporters instead (docs/observability.md).
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter } from '@opentelemetry/sdk-trace-base';
import { createWristbandM2MClient } from '@wristband/typescript-m2m-auth';
import { observeHealth, withOpenTelemetry } from '@wristband/typescript-m2m-auth/opentelemetry';

const { CLIENT_ID, CLIENT_SECRET, APPLICATION_VANITY_DOMAIN, DOWNSTREAM_URL } = process.env;

// What the Node SDK's start() does: a context manager (so spans find their parents) and the global providers.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(new ConsoleSpanExporter())] });
const metricReader = new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter() });
const meterProvider = new MeterProvider({ readers: [metricReader] });
trace.setGlobalTracerProvider(tracerProvider);
metrics.setGlobalMeterProvider(meterProvider);

const m2m = createWristbandM2MClient(
  withOpenTelemetry(
    { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, wristbandApplicationVanityDomain: APPLICATION_VANITY_DOMAIN },
    { tracerProvider: trace.getTracerProvider(), meterProvider: metrics.getMeterProvider() },
  ),
);
const stopHealth = observeHealth(m2m, { meterProvider: metrics.getMeterProvider() });

// Two calls inside a span of our own, as a request handler would be: the first fetches a token (a round span and a
// POST span under it), the second uses the cached one (no token span at all).
const tracer = trace.getTracer('reports-job');
const lines = await tracer.startActiveSpan('GET /reports twice', async (span) => {
  const out = [];
  for (let i = 0; i < 2; i++) {
    const response = await m2m.fetch(new URL('/reports', DOWNSTREAM_URL));
    out.push(`GET /reports: ${response.status} ${await response.text()}`);
  }
  span.end();
  return out;
});
console.log(lines.join('\n'));

// Export now rather than on the next interval, then stop.
await tracerProvider.forceFlush();
await metricReader.forceFlush();
stopHealth();
m2m.destroy();
await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
