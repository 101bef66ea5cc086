// `npm run bench`: this package against floors and its peers, on Node, Deno and Bun, in one run on one machine,
// over real loopback HTTP to a local Wristband-compatible token server (bench/token-server.mjs, in this process).
// Each runtime runs bench/runtime.mjs in a child process (cached path, herds, rotation); this process adds the
// Node-only figures (memory per client, bundle size, import time, long-run memory) and writes BENCHMARKS.md.
//   node --expose-gc bench/run.mjs [--smoke] [--json FILE] [--runtimes node,deno,bun]
// --smoke: few iterations and short token lifetimes, only to keep the harness working (test/bench.test.ts); it
// prints the report but does not write BENCHMARKS.md, and skips the shared stores unless --stores is given.
// The shared stores (bench/stores.mjs) run each store against its engine; a full run also writes their read figures
// into docs/stores.md's "Choose a store" table.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { PEERS } from './peers.mjs';
import { measureSize } from './size.mjs';
import { measureStores, storesReport, updateStoresGuide } from './stores.mjs';
import { startBenchTokenServer } from './token-server.mjs';

/** Issue 14's ceiling for `createWristbandM2MClient` alone, minified and gzipped: 6.5 KiB. */
const SIZE_TARGET_BYTES = 6.5 * 1024;
const SMOKE = process.argv.includes('--smoke');
const arg = (flag) => (process.argv.includes(flag) ? process.argv[process.argv.indexOf(flag) + 1] : undefined);
const jsonOut = arg('--json');
const wanted = (arg('--runtimes') ?? 'node,deno,bun').split(',');
const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../', import.meta.url));
const tools = `${root}.tools`;
const runtimeScript = `${here}runtime.mjs`;

const RUNTIMES = [
  { id: 'node', name: 'Node', argv: [process.execPath, '--expose-gc', runtimeScript] },
  {
    id: 'deno',
    name: 'Deno',
    binary: `${tools}/deno/node_modules/.bin/deno`,
    argv: [
      `${tools}/deno/node_modules/.bin/deno`,
      'run',
      '--no-prompt',
      '--allow-net=127.0.0.1',
      '--allow-read',
      '--allow-env',
      '--v8-flags=--expose-gc',
      runtimeScript,
    ],
  },
  {
    id: 'bun',
    name: 'Bun',
    binary: `${tools}/bun/node_modules/.bin/bun`,
    argv: [`${tools}/bun/node_modules/.bin/bun`, runtimeScript],
  },
].filter((r) => wanted.includes(r.id));

const startedAt = performance.now();
const server = await startBenchTokenServer({ clientId: 'bench-client', clientSecret: 'bench-secret' });
const results = {
  machine: machine(),
  runtimes: [],
  memory: undefined,
  size: undefined,
  footprint: [],
  soak: undefined,
};

for (const runtime of RUNTIMES) {
  if (runtime.binary && !existsSync(runtime.binary)) {
    results.runtimes.push({
      runtime: runtime.name,
      error: `not installed at ${runtime.binary} (npm run test:runtimes installs it)`,
    });
    continue;
  }
  const t0 = performance.now();
  try {
    const figures = await runChild(runtime.argv, JSON.stringify({ server: server.info, smoke: SMOKE }));
    results.runtimes.push({ ...figures, seconds: (performance.now() - t0) / 1000 });
  } catch (error) {
    results.runtimes.push({ runtime: runtime.name, error: String(error.message).slice(0, 500) });
  }
  process.stderr.write(`bench: ${runtime.name} done in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}
await server.close();

// Memory per client (Node, --expose-gc): 10,000 clients before and after their first token.
results.memory = JSON.parse(
  execFileSync(process.execPath, ['--expose-gc', `${here}memory.mjs`, String(SMOKE ? 1_000 : 10_000)], {
    encoding: 'utf8',
    cwd: here,
  })
    .trim()
    .split('\n')
    .pop(),
);

// Size of createWristbandM2MClient alone and the shared store's share (bench/size.mjs).
results.size = await measureSize();

// Footprint: minified + gzipped bundle of each library's minimal client-credentials usage, and import time on Node.
const USAGE = {
  [PEERS[0].name]:
    `import { createWristbandM2MClient } from '@wristband/typescript-m2m-auth'; export default createWristbandM2MClient;`,
  [PEERS[1].name]: `import { WristbandM2MClient } from '@wristband/node-m2m-auth'; export default WristbandM2MClient;`,
  [PEERS[2].name]:
    `import { OAuth2Client, OAuth2Fetch } from '@badgateway/oauth2-client'; export default [OAuth2Client, OAuth2Fetch];`,
  [PEERS[3].name]:
    `import { ConfidentialClientApplication } from '@azure/msal-node'; export default ConfidentialClientApplication;`,
};
const IMPORT = {
  [PEERS[0].name]: `await import('@wristband/typescript-m2m-auth')`,
  [PEERS[1].name]: `require('@wristband/node-m2m-auth')`,
  [PEERS[2].name]: `await import('@badgateway/oauth2-client')`,
  [PEERS[3].name]: `await import('@azure/msal-node')`,
};
const importRuns = SMOKE ? 1 : 11;
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

// Memory after a long run: 1,000,000 calls over 1,000 rotations (test/soak.mjs, on the built package).
const soakArgs = SMOKE ? ['10000', '10'] : ['1000000', '1000'];
results.soak = JSON.parse(
  execFileSync(process.execPath, ['--expose-gc', `${root}test/soak.mjs`, ...soakArgs], { encoding: 'utf8' }),
);
// Shared stores against their engines (bench/stores.mjs): reads, a cold fleet of 8, a cold member's first token.
if (!SMOKE || process.argv.includes('--stores')) results.stores = await measureStores();
results.totalSeconds = (performance.now() - startedAt) / 1000;

const markdown = report(results);
console.log(markdown);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2));
if (!SMOKE) writeFileSync(`${root}BENCHMARKS.md`, benchmarksFile(markdown));
if (!SMOKE && results.stores) updateStoresGuide(results.stores);

/** Runs a runtime's child; resolves with its last stdout line as JSON. */
function runChild(argv, lastArg) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], [...argv.slice(1), lastArg], {
      cwd: here,
      env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', (error) => reject(error));
    child.on('close', (code) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve(JSON.parse(last));
      } catch (error) {
        reject(new Error(`${error.message}: ${(err || out).trim().split('\n').slice(-3).join(' / ')}`));
      }
    });
  });
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
  const load =
    process.platform === 'linux'
      ? execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ')
      : 'n/a';
  return {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    loadAverageAtStart: load,
    date: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    smoke: SMOKE,
  };
}

function report(r) {
  const ns = (v) => (v === undefined ? '-' : v >= 10_000 ? `${(v / 1000).toFixed(1)} µs` : `${v.toFixed(1)} ns`);
  const ms = (v) => (v === undefined ? '-' : v < 1 ? `${(v * 1000).toFixed(1)} µs` : `${v.toFixed(1)} ms`);
  const short = (name) => PEERS.find((p) => p.name === name)?.short ?? name;
  const lines = [];
  lines.push(
    `Machine: ${r.machine.cores} cores (${r.machine.cpu}), load average ${r.machine.loadAverageAtStart} at start, ${r.machine.date}; ` +
      `orchestrator Node ${r.machine.node}; the whole run took ${r.totalSeconds.toFixed(0)} s.` +
      (r.machine.smoke ? ' SMOKE MODE: few iterations, short lifetimes; timings meaningless.' : ''),
    '',
    ...targets(r),
    '',
  );
  for (const rt of r.runtimes) {
    lines.push(`## ${rt.runtime}`, '');
    if (rt.error) {
      lines.push(`Could not run: ${rt.error}`, '');
      continue;
    }
    const s = rt.settings;
    for (const [name, why] of Object.entries(rt.loadErrors))
      lines.push(`- ${name} **cannot load on this runtime**: ${why}`);
    if (Object.keys(rt.loadErrors).length > 0) lines.push('');
    const [floorAsync, floorResolve] = rt.cached;
    const med = (c) => c.p50 ?? c.smokeNs;
    lines.push(
      `### ${rt.runtime.split(' (')[0]}: cached path, \`await <call>\` with a valid token`,
      '',
      '| subject | call | min | median | p99 | x async floor | x Promise.resolve floor | microtask ticks to settle | heap bytes / call |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rt.cached.map(
        (c) =>
          `| ${c.name} | \`${c.call}\` | ${ns(c.min)} | ${ns(med(c))} | ${ns(c.p99)} | ${(med(c) / med(floorAsync)).toFixed(2)} | ${(med(c) / med(floorResolve)).toFixed(2)} | ${c.ticksToSettle} | ${c.heapBytesPerCall === undefined ? '-' : Math.round(c.heapBytesPerCall)} |`,
      ),
      '',
      `Token requests made by the cached paths after warm-up: ${rt.cachedPathRequests}.`,
      ...(rt.cachedPathTelemetry === undefined
        ? []
        : [
            '',
            `With OpenTelemetry on (\`withOpenTelemetry()\`, its providers counting what they are asked for: this runtime loads no SDK, and the cached path calls none of it): spans started and measurements recorded by the cached calls: ${rt.cachedPathTelemetry}.`,
          ]),
      '',
      `### ${rt.runtime.split(' (')[0]}: herds (${s.latencyMs} ms endpoint latency)`,
      '',
      `| subject | cold herd of ${s.coldCallers}: token requests | last caller done after | one caller alone | got a token | rejected | resolved without a token | outage herd of ${s.outageCallers} (503): token requests | all settled after | rejected | resolved without a token |`,
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rt.coldHerd.map((h) => {
        const o = rt.outageHerd.find((x) => x.name === h.name);
        return `| ${short(h.name)} | ${h.requests} | ${ms(h.msToLast)} | ${ms(h.singleMs)} | ${h.ok} | ${h.failed} | ${h.resolvedWithoutToken} | ${o.requests} | ${ms(o.msToLast)} | ${o.failed} | ${o.resolvedWithoutToken} |`;
      }),
      '',
      `Harness floor for the cold herd (${s.coldCallers} calls returning one shared promise, then Promise.allSettled): ${ms(rt.herdFloorMs)}.`,
      '',
      `### ${rt.runtime.split(' (')[0]}: rotation, ${s.handlers} concurrent handlers, \`expires_in\` ${s.lifetimeS} s, buffer ${s.bufferS} s (this package: ${s.ownLifetimeS} s, buffer ${s.ownBufferS} s), ${s.latencyMs} ms endpoint latency`,
      '',
      '| subject | scenario | rotations | calls | p50 | p99 | max | calls that waited | failed calls | served an expired token | token requests | requests per rotation |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rt.rotation.flatMap((x) => {
        const o = rt.outageRotation.find((y) => y.name === x.name);
        const row = (v, scenario) =>
          `| ${short(v.name)} | ${scenario} | ${v.rotations} | ${v.calls} | ${ms(v.p50)} | ${ms(v.p99)} | ${ms(v.max)} | ${v.waited} | ${v.failed} | ${v.servedExpired} | ${v.tokenRequests} (${v.failedRequests} answered 503) | ${v.requestsPerRotation === undefined ? '-' : v.requestsPerRotation.toFixed(2)} |`;
        return [row(x, 'steady'), row({ ...o, name: x.name }, `503 for ${s.outageMs} ms from its first refresh`)];
      }),
      '',
      `This runtime's share of the run: ${rt.seconds.toFixed(0)} s.`,
      '',
    );
  }
  lines.push(
    '## Memory per client (Node, `--expose-gc`)',
    '',
    `| subject | what is created | clients | retained bytes per client before the first token | after the first token (token string of ${r.memory.results[0].tokenLength} chars included) |`,
    '| --- | --- | ---: | ---: | ---: |',
    ...r.memory.results.map(
      (m) =>
        `| ${m.name} | \`${m.what}\` | ${m.clients} | ${Math.round(m.bytesPerClientBeforeToken)} | ${Math.round(m.bytesPerClientAfterToken)} |`,
    ),
    '',
    '## Size of `createWristbandM2MClient` (esbuild minify, gzip -9)',
    '',
    '| bundle | bytes |',
    '| --- | ---: |',
    `| \`export { createWristbandM2MClient } from './dist/index.js'\` | ${r.size.factoryGz} |`,
    `| the same from \`src/index.ts\` (checks the two rows below use the same code) | ${r.size.factorySrcGz} |`,
    `| the same from \`src/\` with the store seam (\`src/store/fleet.ts\`) stubbed out | ${r.size.withoutStoreGz ?? 'n/a (no fleet module found)'} |`,
    `| **share of the shared store** (difference of the two rows above) | **${r.size.storeShareGz ?? 'n/a'}** |`,
    `| \`export { createMemoryTokenStore } from './dist/index.js'\` alone | ${r.size.memoryStoreGz} |`,
    '',
    `Minified bytes (before gzip) per module in the factory bundle: ${r.size.factoryModulesMin.map((m) => `${m.path.replace('src/', '')} ${m.bytes}`).join(', ')}.`,
    '',
    '## Footprint of each library (Node)',
    '',
    '| subject | minimal usage, bundled with its dependencies, minified + gzipped | import time (median of fresh processes, minus an empty node; a few ms either way is noise) |',
    '| --- | ---: | ---: |',
    ...r.footprint.map((f) => `| ${f.name} | ${(f.gzipBytes / 1024).toFixed(1)} KiB | ${f.importMs.toFixed(1)} ms |`),
    '',
    '## Memory over a long run (this package, Node)',
    '',
    `${r.soak.calls.toLocaleString('en-US')} getToken() calls over ${r.soak.rotations.toLocaleString('en-US')} rotations: ` +
      `${r.soak.requests} token requests, ${(r.soak.heapGrowthBytes / 1024).toFixed(0)} KiB retained after GC, ` +
      `${r.soak.abortListenersLeft} abort listeners and ${r.soak.timersAfter} timer left.`,
  );
  if (r.stores) lines.push('', ...storesReport(r.stores));
  return lines.join('\n');
}

/** The issues' targets for this package, each with this run's figure, per runtime where it applies. */
function targets(r) {
  const ours = PEERS[0].name;
  const lines = [
    '## Targets (this package, this run)',
    '',
    '| target | runtime | this run | met |',
    '| --- | --- | ---: | --- |',
  ];
  for (const rt of r.runtimes.filter((x) => !x.error)) {
    const name = rt.runtime.split(' (')[0];
    const med = (c) => c.p50 ?? c.smokeNs;
    const us = rt.cached.find((c) => c.name === ours);
    const floor = rt.cached[1];
    // This package with OpenTelemetry on is this package, not a peer.
    const peers = rt.cached.filter((c) => !c.name.startsWith('floor') && !c.name.startsWith(ours));
    const ratio = med(us) / med(floor);
    lines.push(
      `| cached \`getToken()\` within 1.1x the Promise.resolve floor | ${name} | ${ratio.toFixed(2)}x | ${ratio <= 1.1 ? 'yes' : 'no'} |`,
    );
    const fastestPeer = peers.sort((a, b) => med(a) - med(b))[0];
    if (fastestPeer) {
      const ahead = med(us) < med(fastestPeer);
      lines.push(
        `| cached \`getToken()\` ahead of every peer (fastest peer: ${PEERS.find((p) => p.name === fastestPeer.name)?.short}) | ${name} | ${(med(us) / med(fastestPeer)).toFixed(2)}x that peer | ${ahead ? 'yes' : 'no'} |`,
      );
    }
    const rot = rt.rotation.find((x) => x.name === ours);
    if (rot) {
      lines.push(
        `| no \`getToken()\` waits on a rotation (refresh-ahead) | ${name} | ${rot.waited} calls waited over ${rot.rotations} rotations | ${rot.waited === 0 ? 'yes' : 'no'} |`,
      );
      lines.push(
        `| one token request per rotation | ${name} | ${rot.requestsPerRotation?.toFixed(2) ?? '-'} | ${rot.requestsPerRotation === 1 ? 'yes' : 'no'} |`,
      );
    }
    const out = rt.outageRotation.find((x) => x.name === ours);
    if (out)
      lines.push(
        `| 0 failed calls in the outage at rotation | ${name} | ${out.failed} failed | ${out.failed === 0 ? 'yes' : 'no'} |`,
      );
  }
  const mem = r.memory.results.find((m) => m.name === ours);
  if (mem) {
    lines.push(
      `| at most 1 KB retained per client before the first token | Node | ${Math.round(mem.bytesPerClientBeforeToken)} bytes | ${mem.bytesPerClientBeforeToken <= 1024 ? 'yes' : 'no'} |`,
    );
  }
  if (r.size) {
    lines.push(
      `| \`createWristbandM2MClient\` at most 6.5 KiB (${SIZE_TARGET_BYTES} bytes) minified + gzipped | esbuild | ${r.size.factoryGz} bytes | ${r.size.factoryGz <= SIZE_TARGET_BYTES ? 'yes' : 'no'} |`,
    );
  }
  return lines;
}

function benchmarksFile(generated) {
  const s = results.runtimes.find((rt) => rt.settings)?.settings;
  const calls = PEERS.map((p) => `| ${p.name} | \`${p.call}\` | ${p.setup} | ${p.buffer} |`);
  return `# Benchmarks

<!-- Generated by \`npm run bench\` (bench/run.mjs). Do not edit by hand: run it again. -->

\`\`\`sh
npm run bench   # = tsup && npm ci --prefix bench (first time) && node --expose-gc bench/run.mjs
node bench/stores.mjs   # the shared stores' section alone (after npx tsup), printed, not written
\`\`\`

One run on one machine writes this file: the tables below are that run's output, unedited. The benchmark lives in
\`bench/\` with its own \`package.json\` and lockfile, so the peers never enter this package's dependencies. A local
Wristband-compatible token server (\`bench/token-server.mjs\`) runs on 127.0.0.1 in the orchestrating Node process;
each runtime (Node ${process.version}, Deno and Bun from \`.tools/\`) runs \`bench/runtime.mjs\` in its own child process
against it over real loopback HTTP, so the server never shares an event loop with the code measured. A peer that
cannot load on a runtime is listed as such under that runtime. **Figures from a shared 2-core machine are noisy**:
compare rows of one table, not runs.

## How each subject is called

Every subject is measured through its own call expression, the one its README tells users to write, as the single
closure the benchmark runs (\`() => <call>\`), with no \`async\` wrapper, \`await\` or property read of the result
inside the measured call:

| subject | call | set up as | expiry buffer equivalent (rotation benchmark) |
| --- | --- | --- | --- |
| floor: async function | \`floorAsync()\` | \`async () => { if (Date.now() < expiresAt) return token; ... }\` | - |
| floor: Promise.resolve | \`floorResolve()\` | \`() => { if (Date.now() < expiresAt) return Promise.resolve(token); ... }\`: the shape of this package's hot path | - |
${calls.join('\n')}

## Method

- **Cached path.** mitata 1.0.34 with its defaults for every subject (its warm-up, iteration counts and a collection
  between trials; heap bytes per call where the runtime lets it collect). The former \`.gc('inner')\` (a collection
  inside the measured loop) is gone: it charged MSAL more than ten times its own cost (0.5 ms against tens of µs). *Microtask ticks to settle*
  counts \`await null\` ticks until the call's promise settles.
- **Herds.** A cold herd: N concurrent calls on a fresh client, empty cache, endpoint latency as stated; "one caller
  alone" is the median of five lone callers on fresh clients. An outage herd: the endpoint answers 503 to every request.
- **Rotation** (issue 11). ${s?.handlers ?? 8} handlers loop \`<call>\` then \`await sleep(1 + Math.random())\` (1-2 ms of
  downstream work), after the first token, until ${s?.rotations ?? 5} rotations have been seen (a deadline stops a
  subject that never gets there). A rotation is the first new token seen more than (lifetime - buffer) / 2 after
  the previous one: a client that does not coalesce gets several new tokens at one expiry, one per waiting handler. Tokens live \`expires_in\` = ${s?.lifetimeS ?? 3} s; each peer runs with
  the equivalent of a ${s?.bufferS ?? 1} s buffer from the table above. This package gets tokens of ${s?.ownLifetimeS ?? 12} s with
  \`tokenExpirationBuffer: ${s?.ownBufferS ?? 11}\` (a rotation every second, as short a cycle as the peers'), because it keeps serving a token until
  lifetime - min(buffer, 10 s), a 1 s window in which it serves the current token while refreshing (with a buffer of
  10 s or less that window is only the refresh jitter). *Calls that waited*: a
  call whose promise is still pending after 1,000 microtask ticks (no timer or I/O callback can run between ticks,
  so a cached answer settles within them however many \`await\`s deep, and a network wait cannot). *Served an
  expired token*: the server writes each token's true expiry into it, and a handler checks it on receipt.
  *Requests per rotation*: token requests after the first token, over the rotations seen.
- **Outage at rotation.** The issue's scenario is the endpoint going down at the client's refresh time (\`refreshAt\`)
  for 30 s, with the default 60 s buffer: half the buffer, ending while the token in hand is still valid. Scaled:
  with a ${s?.bufferS ?? 1} s buffer, the server answers 503 to every token request arriving in the
  ${s?.outageMs ?? 500} ms after the first token request that follows the first token, i.e. the outage starts at the
  moment each client itself first refreshes (whenever its lifecycle decides that is), and ends ${(s?.bufferS ?? 1) * 1000 - (s?.outageMs ?? 500)} ms before
  that token's real expiry (for a client refreshing ${s?.bufferS ?? 1} s early). The row then runs for 2 rotations.
  *Failed calls* are calls that rejected; the target for this package once refresh-ahead lands is 0. MSAL records a
  5xx answer as a throttling entry and refuses to send requests for its fixed 60 s (not scaled;
  \`DEFAULT_THROTTLE_TIME_SECONDS\` in msal-common), so it sees no rotation in that row and fails every call until the deadline.
- **Memory per client** (\`bench/memory.mjs\`). 10,000 clients created, and only the object each library hands its user kept in a preallocated array (not the benchmark's own wrapper), heap used
  after repeated full collections minus the baseline, divided by 10,000; then each gets its first token from an
  in-process fake \`fetch\` (\`config.fetch\`, badgateway's \`fetch\` setting) answering a ${results.memory.results[0].tokenLength}-character token, and the heap
  is measured again. Target for this package: at most 1 KB before the first token.
- **Size** (\`bench/size.mjs\`). esbuild (bundle, minify, ESM) then gzip level 9, as \`test/package.test.ts\` does. The
  store's share is the factory bundle built from \`src/\` minus the same build with \`src/store/fleet.ts\` (the seam
  that wires a \`tokenStore\` into the client) replaced by a stub \`createFleet = () => undefined\`, so esbuild
  drops everything only the store reaches (record sealing, the fleet lock). A stub rather than a subtraction of a
  separate store bundle, because gzip sizes of two bundles do not add up. Config validation of the store options stays.
  \`node bench/size-breakdown.mjs\` (not part of this run) shows where the bytes are: the share of each feature by the
  same stub method, and the bundle with every string literal emptied.
- **Targets** are the issues' (cached path within 1.1x the floor and ahead of every peer; refresh-ahead: no call
  waits on a rotation and none fails in the outage; at most 1 KB per client; the factory at most 6.5 KiB min+gz),
  checked against this run's figures.
- \`bench/hot-path-variants.mjs\` (not part of this run) measures micro-variants of the hot path on all three runtimes:
  \`node bench/hot-path-variants.mjs --all --isolate\` (one process per variant: Bun's figures depend on a
  benchmark's place in a run by up to 15%, more than the variants differ).

${generated}
`;
}
