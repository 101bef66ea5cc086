// `npm run bench`: this package against two floors and its peers, in one run on one machine, over real loopback
// HTTP to the local Wristband-compatible token server. Prints markdown tables; `--json FILE` also writes the raw
// figures. `--smoke` runs few iterations, only to keep the suite working (CI asserts its request counts).
// Run it with `node --expose-gc` (npm run bench does): mitata then reports heap bytes per call.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { bench, run } from 'mitata';
import { startTokenServer } from '../demo/token-server.mjs';
import { PEERS } from './peers.mjs';

const SMOKE = process.argv.includes('--smoke');
const jsonOut = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : undefined;
const here = fileURLToPath(new URL('.', import.meta.url));
const COLD_CALLERS = 10_000;
const OUTAGE_CALLERS = 1_000;
const LATENCY_MS = 50;

const server = await startTokenServer({ clientId: 'bench-client', clientSecret: 'bench-secret' });
const results = { machine: machine(), cached: [], coldHerd: [], outageHerd: [], footprint: [], soak: undefined };

// 1. Cached path: ns per `await getToken()` with a valid token, next to two floors.
{
  const cached = 'eyJhbGciOiJSUzI1NiJ9.payload.signature';
  const expiresAt = Date.now() + 3_600_000;
  const floorA = async () => cached;
  const floorB = async () => {
    if (Date.now() < expiresAt) return cached;
    throw new Error('unreachable');
  };
  const subjects = [
    { name: 'floor A: async function returning a cached string', getToken: floorA },
    { name: 'floor B: floor A after one Date.now() < expiresAt check', getToken: floorB },
  ];
  for (const peer of PEERS) {
    const instance = peer.create(server);
    await instance.getToken(); // fill the cache
    subjects.push({ name: peer.name, getToken: instance.getToken, instance });
  }
  if (SMOKE) {
    for (const subject of subjects) {
      const started = process.hrtime.bigint();
      for (let i = 0; i < 1_000; i++) await subject.getToken();
      results.cached.push({ name: subject.name, smokeNsPerCall: Number(process.hrtime.bigint() - started) / 1_000 });
    }
  } else {
    for (const subject of subjects) bench(subject.name, () => subject.getToken()).gc('inner');
    const report = await run({ format: 'quiet', throw: true });
    for (const benchmark of report.benchmarks) {
      const { min, p50, p99, heap } = benchmark.runs[0].stats;
      results.cached.push({ name: benchmark.alias, min, p50, p99, heapBytesPerCall: heap?.avg });
    }
  }
  const requestsBefore = server.requestCount;
  for (const subject of subjects) await subject.getToken();
  results.cachedPathRequests = server.requestCount - requestsBefore; // must be 0: the cached path does no I/O
  for (const subject of subjects) subject.instance?.dispose?.();
}

// 2. Cold herd: 10,000 concurrent calls on an empty cache, against an endpoint with 50 ms latency.
// 3. Outage herd: 1,000 concurrent calls while the endpoint answers 503 to everything.
for (const peer of PEERS) {
  results.coldHerd.push({ name: peer.name, ...(await herd(peer, COLD_CALLERS, { latencyMs: LATENCY_MS })) });
  results.outageHerd.push({ name: peer.name, ...(await herd(peer, OUTAGE_CALLERS, { outage: true })) });
}

// What the harness itself costs for a herd: 10,000 calls that return one shared promise, then allSettled.
{
  const samples = [];
  for (let i = 0; i < 5; i++) {
    let resolve;
    const shared = new Promise((r) => (resolve = r));
    const started = performance.now();
    const all = Promise.allSettled(Array.from({ length: COLD_CALLERS }, () => shared));
    resolve('token');
    await all;
    samples.push(performance.now() - started);
  }
  results.herdFloorMs = samples.sort((a, b) => a - b)[2];
}

// 4. Footprint: minified + gzipped bundle of the minimal client-credentials usage, and import time.
const USAGE = {
  [PEERS[0].name]: `import { createWristbandM2MClient } from '@wristband/typescript-m2m-auth'; export default createWristbandM2MClient;`,
  [PEERS[1].name]: `import { WristbandM2MClient } from '@wristband/node-m2m-auth'; export default WristbandM2MClient;`,
  [PEERS[2].name]: `import { OAuth2Client, OAuth2Fetch } from '@badgateway/oauth2-client'; export default [OAuth2Client, OAuth2Fetch];`,
  [PEERS[3].name]: `import { ConfidentialClientApplication } from '@azure/msal-node'; export default ConfidentialClientApplication;`,
};
const IMPORT = {
  [PEERS[0].name]: `await import('@wristband/typescript-m2m-auth')`,
  [PEERS[1].name]: `require('@wristband/node-m2m-auth')`,
  [PEERS[2].name]: `await import('@badgateway/oauth2-client')`,
  [PEERS[3].name]: `require('@azure/msal-node')`,
};
const importRuns = SMOKE ? 1 : 15;
const baselineImportMs = importTime('', importRuns);
for (const [name, usage] of Object.entries(USAGE)) {
  const bundled = await build({
    stdin: { contents: usage, resolveDir: here, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    write: false,
    logLevel: 'silent',
  });
  const bytes = gzipSync(bundled.outputFiles[0].contents, { level: 9 }).byteLength;
  results.footprint.push({ name, gzipBytes: bytes, importMs: importTime(IMPORT[name], importRuns) - baselineImportMs });
}

// 5. Memory after a long run: 1,000,000 calls over 1,000 rotations (test/soak.mjs, on the built package).
const soakArgs = SMOKE ? ['10000', '10'] : ['1000000', '1000'];
results.soak = JSON.parse(
  execFileSync(process.execPath, ['--expose-gc', fileURLToPath(new URL('../test/soak.mjs', import.meta.url)), ...soakArgs], {
    encoding: 'utf8',
  }),
);

await server.close();
console.log(report(results));
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2));

/**
 * Starts `callers` concurrent getToken() calls on a fresh client; counts requests and times the last settlement.
 * A cold herd is timed next to one caller on a fresh client against the same endpoint, the endpoint's own time.
 */
async function herd(peer, callers, { latencyMs = 0, outage = false }) {
  let singleMs;
  if (!outage) {
    // The endpoint's own time as a client sees it: the median of five lone callers on fresh clients.
    const samples = [];
    for (let i = 0; i < 5; i++) {
      server.reset();
      server.setLatency(latencyMs);
      samples.push((await settleCallers(peer, 1)).ms);
    }
    singleMs = samples.sort((a, b) => a - b)[2];
  }
  server.reset();
  server.setLatency(latencyMs);
  if (outage) server.answerNext(...Array.from({ length: 20_000 }, () => (_req, res) => void res.writeHead(503).end()));
  const { ms, settled } = await settleCallers(peer, callers);
  const figures = {
    requests: server.requestCount,
    msToLast: ms,
    singleMs,
    ok: settled.filter((s) => s.status === 'fulfilled' && typeof s.value === 'string' && s.value.length > 0).length,
    failed: settled.filter((s) => s.status === 'rejected').length,
    resolvedWithoutToken: settled.filter((s) => s.status === 'fulfilled' && !(typeof s.value === 'string' && s.value.length > 0)).length,
  };
  // Let the peer's own retries or pollers run out before the next scenario.
  await new Promise((resolve) => setTimeout(resolve, outage ? 1_500 : 200));
  server.reset();
  return figures;
}

async function settleCallers(peer, callers) {
  const instance = peer.create(server);
  const started = performance.now();
  const settled = await Promise.allSettled(Array.from({ length: callers }, () => instance.getToken()));
  const ms = performance.now() - started;
  instance.dispose?.();
  return { ms, settled };
}

/** Median wall time of a fresh `node -e <statement>` run in bench/, so packages resolve from bench/node_modules. */
function importTime(statement, runs) {
  const samples = [];
  const args = statement.startsWith('await') ? ['--input-type=module', '-e', statement] : ['-e', statement];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    execFileSync(process.execPath, args, { cwd: here });
    samples.push(performance.now() - started);
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)];
}

function machine() {
  return {
    node: process.version,
    flags: process.execArgv.join(' ') || '(none)',
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    date: new Date().toISOString().slice(0, 10),
    smoke: SMOKE,
  };
}

function report(r) {
  const ns = (v) => (v === undefined ? '-' : `${v.toFixed(1)} ns`);
  const floorB = r.cached.find((c) => c.name.startsWith('floor B'));
  const floorA = r.cached.find((c) => c.name.startsWith('floor A'));
  const median = (c) => c.p50 ?? c.smokeNsPerCall;
  const lines = [
    `Machine: Node ${r.machine.node}, flags ${r.machine.flags}, ${r.machine.cores} cores (${r.machine.cpu}), ${r.machine.date}${r.machine.smoke ? ', SMOKE MODE (timings meaningless)' : ''}`,
    '',
    '### Cached path: `await getToken()` with a valid token',
    '',
    '| subject | min | median | p99 | x floor A | x floor B | heap bytes / call |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.cached.map(
      (c) =>
        `| ${c.name} | ${ns(c.min)} | ${ns(median(c))} | ${ns(c.p99)} | ${(median(c) / median(floorA)).toFixed(2)} | ${(median(c) / median(floorB)).toFixed(2)} | ${c.heapBytesPerCall === undefined ? '-' : Math.round(c.heapBytesPerCall)} |`,
    ),
    '',
    `Token requests made by the cached paths after warm-up: ${r.cachedPathRequests}.`,
    '',
    `### Cold herd: ${COLD_CALLERS.toLocaleString('en-US')} concurrent calls, empty cache, ${LATENCY_MS} ms endpoint latency`,
    '',
    '| subject | token requests | last caller done after | one caller alone | difference | got a token | rejected | resolved without a token |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.coldHerd.map(
      (h) =>
        `| ${h.name} | ${h.requests} | ${h.msToLast.toFixed(1)} ms | ${h.singleMs.toFixed(1)} ms | ${(h.msToLast - h.singleMs).toFixed(1)} ms | ${h.ok} | ${h.failed} | ${h.resolvedWithoutToken} |`,
    ),
    '',
    `Harness floor for the herd (${COLD_CALLERS.toLocaleString('en-US')} calls returning one shared promise, then Promise.allSettled): ${r.herdFloorMs.toFixed(1)} ms.`,
    '',
    `### Outage herd: ${OUTAGE_CALLERS.toLocaleString('en-US')} concurrent calls while the endpoint answers 503`,
    '',
    '| subject | token requests | all settled after | rejected | resolved without a token |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...r.outageHerd.map((h) => `| ${h.name} | ${h.requests} | ${h.msToLast.toFixed(1)} ms | ${h.failed} | ${h.resolvedWithoutToken} |`),
    '',
    '### Footprint',
    '',
    '| subject | minimal usage, bundled with its dependencies, minified + gzipped | import time on Node (median, over an empty node) |',
    '| --- | ---: | ---: |',
    ...r.footprint.map((f) => `| ${f.name} | ${(f.gzipBytes / 1024).toFixed(1)} KiB | ${f.importMs.toFixed(1)} ms |`),
    '',
    '### Memory over a long run (this package)',
    '',
    `${r.soak.calls.toLocaleString('en-US')} getToken() calls over ${r.soak.rotations.toLocaleString('en-US')} rotations: ` +
      `${r.soak.requests} token requests, ${(r.soak.heapGrowthBytes / 1024).toFixed(0)} KiB retained after GC, ` +
      `${r.soak.abortListenersLeft} abort listeners and ${r.soak.timersAfter} timer left (the background refresh timer).`,
  ];
  return lines.join('\n');
}
