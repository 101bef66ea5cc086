// One runtime's share of `npm run bench`: the cached path, the herds and the rotation scenarios, run unchanged
// under Node, Deno and Bun. bench/run.mjs starts the token server (bench/token-server.mjs) in its own Node process
// and runs this file once per runtime with one JSON argument:
//   { server: {clientId, clientSecret, vanityDomain, tokenEndpoint, origin}, smoke: boolean }
// This file prints one line of JSON, the figures, and nothing else on stdout.
import process from 'node:process';
import { bench, run } from 'mitata';
import { PEERS } from './peers.mjs';

const { server, smoke } = JSON.parse(process.argv[process.argv.length - 1]);

const SETTINGS = smoke
  ? {
      coldCallers: 200,
      outageCallers: 100,
      handlers: 8,
      rotations: 2,
      lifetimeS: 0.6,
      bufferS: 0.3,
      ownLifetimeS: 10.6,
      ownBufferS: 10.3,
      outageMs: 150,
      latencyMs: 20,
    }
  : {
      coldCallers: 10_000,
      outageCallers: 1_000,
      handlers: 8,
      rotations: 5,
      lifetimeS: 3,
      bufferS: 1,
      // This package serves a token past refreshAt only while the buffer exceeds the 10 s it keeps before expiry
      // (usableUntil = lifetime - min(buffer, 10 s)), as with the default 60 s buffer; at a 1 s buffer it would have
      // no window at all. So it gets tokens living 12 s with an 11 s buffer: the same 1 s between rotations as the
      // peers' 3 s tokens with a 1 s buffer (or none), and a 1 s window in which it serves the current token.
      ownLifetimeS: 12,
      ownBufferS: 11,
      outageMs: 500,
      latencyMs: 50,
    };
/** A call still pending after this many microtask ticks waited on a timer or I/O: no I/O runs between ticks. */
const PROBE_TICKS = 1_000;

const runtime = globalThis.Deno
  ? `Deno ${globalThis.Deno.version.deno} (V8 ${globalThis.Deno.version.v8})`
  : globalThis.Bun
    ? `Bun ${globalThis.Bun.version} (JavaScriptCore)`
    : `Node ${process.version} (V8 ${process.versions.v8})`;

const results = {
  runtime,
  settings: SETTINGS,
  loadErrors: {},
  cached: [],
  cachedPathRequests: 0,
  coldHerd: [],
  outageHerd: [],
  herdFloorMs: 0,
  rotation: [],
  outageRotation: [],
};

// Load every peer; one that cannot load on this runtime is reported, not fatal.
const loaded = [];
for (const peer of PEERS) {
  try {
    const lib = await peer.load();
    const probe = peer.create(lib, server);
    probe.dispose?.();
    loaded.push({ peer, lib });
  } catch (error) {
    results.loadErrors[peer.name] = String(error?.message ?? error)
      .split('\n')[0]
      .slice(0, 200);
  }
}

// 1. Cached path: each subject's own call expression, as the one closure mitata runs.
{
  const cached = 'eyJhbGciOiJSUzI1NiJ9.payload.signature';
  const expiresAt = Date.now() + 3_600_000;
  const floorAsync = async () => {
    if (Date.now() < expiresAt) return cached;
    throw new Error('unreachable');
  };
  const floorResolve = () => {
    if (Date.now() < expiresAt) return Promise.resolve(cached);
    return Promise.reject(new Error('unreachable'));
  };
  const subjects = [
    { name: 'floor: async function, Date.now() check, returns a string', call: 'floorAsync()', fn: () => floorAsync() },
    {
      name: 'floor: function, Date.now() check, returns Promise.resolve(string)',
      call: 'floorResolve()',
      fn: () => floorResolve(),
    },
  ];
  await config({});
  for (const { peer, lib } of loaded) {
    const instance = peer.create(lib, server);
    await instance.call(); // fill the cache
    subjects.push({ name: peer.name, call: peer.call, fn: instance.call, instance });
  }
  // This package again, with OpenTelemetry on: withOpenTelemetry() with providers that count what they are asked
  // for (the runtimes here load no OpenTelemetry SDK; the cached path calls none of it either way).
  const own = loaded.find(({ peer }) => peer.short === 'this package');
  if (own !== undefined) {
    const { withOpenTelemetry } = await import('@wristband/typescript-m2m-auth/opentelemetry');
    const span = { setAttribute() {}, setStatus() {}, end() {} };
    const telemetry = { spans: 0, measurements: 0 };
    const client = own.lib.createWristbandM2MClient(
      withOpenTelemetry(
        {
          clientId: server.clientId,
          clientSecret: server.clientSecret,
          wristbandApplicationVanityDomain: server.vanityDomain,
        },
        {
          tracerProvider: {
            getTracer: () => ({ startActiveSpan: (_name, _options, fn) => (telemetry.spans++, fn(span)) }),
          },
          meterProvider: {
            getMeter: () => ({
              createHistogram: () => ({ record: () => telemetry.measurements++ }),
              createObservableGauge: () => ({ addCallback() {}, removeCallback() {} }),
            }),
          },
        },
      ),
    );
    await client.getToken();
    subjects.push({
      name: `${own.peer.name}, with OpenTelemetry`,
      call: 'client.getToken()',
      fn: () => client.getToken(),
      instance: { dispose: () => client.destroy() },
      telemetry,
    });
  }
  const telemetryBefore = subjects.map((subject) => subject.telemetry && { ...subject.telemetry });
  for (const subject of subjects) subject.ticksToSettle = await ticksToSettle(subject.fn);
  if (smoke) {
    for (const subject of subjects) {
      const started = performance.now();
      for (let i = 0; i < 1_000; i++) await subject.fn();
      results.cached.push({
        name: subject.name,
        call: subject.call,
        ticksToSettle: subject.ticksToSettle,
        smokeNs: ((performance.now() - started) * 1e6) / 1_000,
      });
    }
  } else {
    // mitata's defaults (its own warm-up, iteration counts and a GC between trials, the same for every subject).
    // The former .gc('inner') collected garbage inside the measured loop, which charged MSAL (large per-call
    // garbage) 20x more than its own cost; it is gone.
    for (const subject of subjects) bench(subject.name, subject.fn);
    const report = await run({ format: 'quiet', throw: true });
    for (const [i, benchmark] of report.benchmarks.entries()) {
      const { min, avg, p50, p99, heap } = benchmark.runs[0].stats;
      const subject = subjects[i];
      results.cached.push({
        name: subject.name,
        call: subject.call,
        ticksToSettle: subject.ticksToSettle,
        min,
        avg,
        p50,
        p99,
        heapBytesPerCall: heap?.avg,
      });
    }
  }
  const before = (await count()).requests;
  for (const subject of subjects) await subject.fn();
  results.cachedPathRequests = (await count()).requests - before;
  // Spans started and measurements recorded by every cached call above (after the first token): none expected.
  results.cachedPathTelemetry = subjects.flatMap((subject, i) =>
    subject.telemetry === undefined
      ? []
      : [
          subject.telemetry.spans -
            telemetryBefore[i].spans +
            subject.telemetry.measurements -
            telemetryBefore[i].measurements,
        ],
  )[0];
  for (const subject of subjects) subject.instance?.dispose?.();
}

// 2. Cold herd and 3. outage herd.
for (const { peer, lib } of loaded) {
  results.coldHerd.push({ name: peer.name, ...(await herd(peer, lib, SETTINGS.coldCallers, false)) });
  results.outageHerd.push({ name: peer.name, ...(await herd(peer, lib, SETTINGS.outageCallers, true)) });
}
{
  const samples = [];
  for (let i = 0; i < 5; i++) {
    let resolve;
    const shared = new Promise((r) => (resolve = r));
    const started = performance.now();
    const all = Promise.allSettled(Array.from({ length: SETTINGS.coldCallers }, () => shared));
    resolve('token');
    await all;
    samples.push(performance.now() - started);
  }
  results.herdFloorMs = samples.sort((a, b) => a - b)[2];
}

// 4. Rotation (issue 11): 8 handlers, each getToken() then 1-2 ms of downstream work, over several rotations;
// then the same with the endpoint down (503) for a window that opens at the client's first refresh.
for (const { peer, lib } of loaded) {
  results.rotation.push({ name: peer.name, ...(await rotation(peer, lib, { rotations: SETTINGS.rotations })) });
  results.outageRotation.push({
    name: peer.name,
    ...(await rotation(peer, lib, { rotations: 2, outageMs: SETTINGS.outageMs })),
  });
}

console.log(JSON.stringify(results));
process.exit(0); // peers may hold sockets or timers open

async function config(body) {
  return control('config', { method: 'POST', body: JSON.stringify(body) });
}

async function count() {
  return control('count', {});
}

/** One request to the server's control API; retried once, in case a pooled socket was closed under it. */
async function control(action, init) {
  try {
    return await (await fetch(`${server.origin}/_bench/${action}`, init)).json();
  } catch {
    return (await fetch(`${server.origin}/_bench/${action}`, init)).json();
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Microtask ticks until `fn()` settles (a cached path settles in a few; PROBE_TICKS or more means I/O). */
async function ticksToSettle(fn) {
  let settled = false;
  fn().then(
    () => (settled = true),
    () => (settled = true),
  );
  let ticks = 0;
  while (!settled && ticks < PROBE_TICKS) {
    await null;
    ticks++;
  }
  return ticks;
}

async function herd(peer, lib, callers, outage) {
  let singleMs;
  if (!outage) {
    const samples = [];
    for (let i = 0; i < 5; i++) {
      await config({ latencyMs: SETTINGS.latencyMs });
      samples.push((await settleCallers(peer, lib, 1)).ms);
    }
    singleMs = samples.sort((a, b) => a - b)[2];
  }
  await config(outage ? { outage: { mode: 'always' } } : { latencyMs: SETTINGS.latencyMs });
  const { ms, settled, instance } = await settleCallers(peer, lib, callers);
  const isToken = (s) => {
    if (s.status !== 'fulfilled') return false;
    try {
      const token = instance.token(s.value);
      return typeof token === 'string' && token.length > 0;
    } catch {
      return false;
    }
  };
  const figures = {
    requests: (await count()).requests,
    msToLast: ms,
    singleMs,
    ok: settled.filter(isToken).length,
    failed: settled.filter((s) => s.status === 'rejected').length,
    resolvedWithoutToken: settled.filter((s) => s.status === 'fulfilled' && !isToken(s)).length,
  };
  // Let the peer's own retries or pollers run out before the next scenario.
  await sleep(outage ? (smoke ? 300 : 1_500) : 200);
  await config({});
  return figures;
}

async function settleCallers(peer, lib, callers) {
  const instance = peer.create(lib, server);
  const started = performance.now();
  const settled = await Promise.allSettled(Array.from({ length: callers }, () => instance.call()));
  const ms = performance.now() - started;
  instance.dispose?.();
  return { ms, settled, instance };
}

/**
 * Runs SETTINGS.handlers handlers, each looping `getToken()` then 1-2 ms of simulated downstream work, until
 * `rotations` new tokens have been served after the first (or a deadline). Counts a call as having waited when its
 * promise is still pending after PROBE_TICKS microtask ticks (no timer or I/O callback can run between ticks, so a
 * cached answer, however many awaits deep, settles within them and a network wait cannot).
 */
async function rotation(peer, lib, { rotations, outageMs }) {
  const { handlers, latencyMs } = SETTINGS;
  const ours = peer.short === 'this package';
  const lifetimeS = ours ? SETTINGS.ownLifetimeS : SETTINGS.lifetimeS;
  const bufferS = ours ? SETTINGS.ownBufferS : SETTINGS.bufferS;
  await config({ latencyMs, lifetimeS, outage: outageMs ? { mode: 'at-refresh', durationMs: outageMs } : null });
  const instance = peer.create(lib, server, { bufferS });
  const first = instance.token(await instance.call()); // the cold start is not part of the figures
  const baseRequests = (await count()).requests;
  const seen = new Set([first]);
  // A rotation is a cluster of new tokens: a client that does not coalesce gets several new tokens at one expiry,
  // all within one endpoint round trip; the next rotation comes (lifetime - buffer) later.
  const clusterMs = ((lifetimeS - bufferS) * 1000) / 2;
  let lastRotationAt = performance.now();
  let rotationsSeen = 0;
  const latencies = [];
  let calls = 0;
  let waited = 0;
  let over10ms = 0;
  let failed = 0;
  let servedExpired = 0;
  let stop = false;
  const deadline = setTimeout(() => (stop = true), (rotations + 2) * lifetimeS * 1000 + (smoke ? 500 : 5_000));
  const started = performance.now();
  await Promise.all(
    Array.from({ length: handlers }, async () => {
      while (!stop) {
        let settled = false;
        const t0 = performance.now();
        const pending = instance.call();
        pending.then(
          () => (settled = true),
          () => (settled = true),
        );
        const probe = (async () => {
          for (let i = 0; i < PROBE_TICKS && !settled; i++) await null;
          return settled;
        })();
        try {
          const token = instance.token(await pending);
          const ms = performance.now() - t0;
          latencies.push(ms);
          if (ms > 10) over10ms++;
          // The server writes each token's true expiry into it (bench/token-server.mjs).
          if (Date.now() >= Number(token.split('.')[2])) servedExpired++;
          if (!seen.has(token)) {
            seen.add(token);
            if (performance.now() - lastRotationAt > clusterMs) {
              lastRotationAt = performance.now();
              if (++rotationsSeen >= rotations) stop = true;
            }
          }
        } catch {
          latencies.push(performance.now() - t0);
          failed++;
        }
        calls++;
        if (!(await probe)) waited++;
        await sleep(1 + Math.random());
      }
    }),
  );
  clearTimeout(deadline);
  const elapsedMs = performance.now() - started;
  const { requests, failed: failedRequests } = await count();
  instance.dispose?.();
  await sleep(200);
  latencies.sort((a, b) => a - b);
  const pick = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  const tokenRequests = requests - baseRequests;
  return {
    calls,
    rotations: rotationsSeen,
    newTokens: seen.size - 1,
    elapsedMs,
    p50: pick(0.5),
    p99: pick(0.99),
    max: latencies[latencies.length - 1],
    waited,
    over10ms,
    failed,
    servedExpired,
    tokenRequests,
    failedRequests,
    requestsPerRotation: rotationsSeen > 0 ? tokenRequests / rotationsSeen : undefined,
  };
}
