// The shared stores' figures for BENCHMARKS.md: `npm run bench` calls measureStores(); alone, after `npx tsup`:
//   node bench/stores.mjs [--only redis,node-redis,upstash,dynamodb,durable-object,deno-kv] [--json]
// prints the section. Each store runs against its engine on this machine, started here: a real redis-server (Redis
// through ioredis and node-redis; Upstash through the real @upstash/redis client against Upstash's REST API emulated
// in front of it, test/support/upstash-rest.ts), dynalite for DynamoDB through the real AWS SDK v3, workerd through
// Miniflare for Durable Objects, Deno's own KV on a local file. For each store:
// - a read: the median, over 5 batches of 40 sequential get() calls of a 300-byte value, of a batch's time / 40;
// - a cold fleet: 8 members started at once (Node or Deno processes, or Worker isolates), each with its own client and
//   its own connection, all calling getToken() at the same moment, the token endpoint answering after 100 ms: token
//   requests made;
// - a cold member's first token: its first getToken() timed, in a fresh process (or a Worker isolate's first call)
//   whose store connection is open, when another member has already stored a token (from the store), next to the same
//   without a store (from the endpoint: the local token server on loopback, answering at once); median of 5 members.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { startTokenServer } from '../demo/token-server.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../', import.meta.url));
const member = `${here}stores/member.mjs`;
const deno = `${root}.tools/deno/node_modules/.bin/deno`;
const FLEET = 8;
const FIRSTS = 5;

/** The stores measured, in the order of docs/stores.md's table; `lock` as the fleet protocol sees it. */
export const STORES = [
  { id: 'redis', name: 'Redis (ioredis)', entry: '/redis' },
  { id: 'node-redis', name: 'Redis (node-redis)', entry: '/redis' },
  { id: 'upstash', name: 'Upstash (REST)', entry: '/upstash' },
  { id: 'dynamodb', name: 'DynamoDB', entry: '/dynamodb' },
  { id: 'durable-object', name: 'Durable Objects', entry: '/durable-object' },
  { id: 'deno-kv', name: 'Deno KV', entry: '/deno-kv' },
];

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** A TypeScript helper of the test suite, bundled (its packages left to node_modules) so plain Node can import it. */
async function importTs(path) {
  const outdir = `${root}node_modules/.cache/wristband-m2m-bench`;
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, `${path.replaceAll('/', '_')}.mjs`);
  await build({
    entryPoints: [`${root}${path}`],
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    outfile,
    logLevel: 'error',
  });
  return import(pathToFileURL(outfile).href);
}

/** Spawns a member; resolves once it said ready (mode first) or with its answer (mode reads). */
function startMember(argv, config) {
  const child = spawn(argv[0], [...argv.slice(1), JSON.stringify(config)], {
    env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines = [];
  const waiters = [];
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
    let end = out.indexOf('\n');
    while (end >= 0) {
      lines.push(JSON.parse(out.slice(0, end)));
      out = out.slice(end + 1);
      end = out.indexOf('\n');
      waiters.shift()?.resolve(lines.shift());
    }
  });
  child.stderr.on('data', (chunk) => (err += chunk));
  const next = () =>
    new Promise((resolve, reject) => {
      if (lines.length > 0) return resolve(lines.shift());
      waiters.push({ resolve, reject });
    });
  child.on('exit', (code) => {
    for (const waiter of waiters.splice(0)) waiter.reject(new Error(`member exited with ${code}: ${err.trim()}`));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  child.on('exit', () => clearTimeout(timer));
  return { next, go: () => child.stdin.write('go\n'), exited: new Promise((r) => child.on('exit', r)) };
}

function memberArgv(kind, runtime = kind === 'deno-kv' ? 'deno' : 'node') {
  if (runtime === 'deno') {
    return [
      deno,
      'run',
      '--no-prompt',
      '--unstable-kv',
      '--allow-net=127.0.0.1',
      '--allow-read',
      '--allow-write',
      '--allow-env',
      member,
    ];
  }
  return [process.execPath, member];
}

/** `count` cold members of `kind` started together; each calls getToken() at once on `go`. Their answers. */
async function coldMembers(kind, engine, client, count) {
  const members = Array.from({ length: count }, () =>
    startMember(memberArgv(kind), { mode: 'first', kind, engine, client }),
  );
  await Promise.all(members.map((m) => m.next()));
  for (const m of members) m.go();
  const answers = await Promise.all(members.map((m) => m.next()));
  await Promise.all(members.map((m) => m.exited));
  return answers;
}

/** A token server of its own for one scenario: records are keyed by its origin, so no scenario finds another's. */
async function scenarioServer(servers) {
  const server = await startTokenServer({ clientId: 'bench-stores', clientSecret: 'bench-stores-secret' });
  servers.push(server);
  return server;
}
const clientOf = (server) => ({
  clientId: server.clientId,
  clientSecret: server.clientSecret,
  vanityDomain: server.vanityDomain,
});

/** The figures of one process-based store: reads, a cold fleet, first tokens from the store and from the endpoint. */
async function measureProcessStore(kind, engine, servers) {
  const readsMember = startMember(memberArgv(kind), { mode: 'reads', kind, engine });
  const reads = await readsMember.next();
  await readsMember.exited;
  // The fleet: 8 cold members at once, the endpoint answering after 100 ms.
  const fleetServer = await scenarioServer(servers);
  fleetServer.setLatency(100);
  const fleet = await coldMembers(kind, engine, clientOf(fleetServer), FLEET);
  // First tokens: one member stores a token, then 5 cold members one after another read it.
  const firstServer = await scenarioServer(servers);
  await coldMembers(kind, engine, clientOf(firstServer), 1);
  const fromStore = [];
  for (let i = 0; i < FIRSTS; i++) fromStore.push((await coldMembers(kind, engine, clientOf(firstServer), 1))[0]);
  // Deno's first token without a store, from Deno processes, to compare like with like (Node's is in the none row).
  let firstFromEndpointMs;
  if (kind === 'deno-kv') {
    const endpointServer = await scenarioServer(servers);
    const firsts = [];
    for (let i = 0; i < FIRSTS; i++)
      firsts.push((await coldMembers('none', undefined, clientOf(endpointServer), 1, 'deno'))[0]);
    firstFromEndpointMs = median(firsts.map((a) => a.ms));
  }
  return {
    readMs: median(reads.perReadMs),
    firstFromEndpointMs,
    fleetRequests: fleetServer.requestCount,
    fleetTokens: new Set(fleet.map((a) => a.token)).size,
    firstFromStoreMs: median(fromStore.map((a) => a.ms)),
    storeHitRequests: firstServer.requestCount - 1,
    storeErrors: [...fleet, ...fromStore].flatMap((a) => a.storeErrors),
  };
}

/** Without a store: the first token of 5 cold Node processes (from the endpoint), and a cold fleet of 8. */
async function measureEndpoint(servers) {
  const firstServer = await scenarioServer(servers);
  const firsts = [];
  for (let i = 0; i < FIRSTS; i++) firsts.push((await coldMembers('none', undefined, clientOf(firstServer), 1))[0]);
  const fleetServer = await scenarioServer(servers);
  fleetServer.setLatency(100);
  await coldMembers('none', undefined, clientOf(fleetServer), FLEET);
  return { firstFromEndpointMs: median(firsts.map((a) => a.ms)), fleetRequests: fleetServer.requestCount };
}

/** Durable Objects: 8 isolates of one Worker in workerd, the objects hosted by the first. */
async function measureDurableObjects(servers) {
  const { Miniflare } = createRequire(`${root}.tools/miniflare/`)('miniflare');
  const { disposeMiniflare } = await import('../test/runtimes/matrix.mjs');
  const dir = mkdtempSync(join(tmpdir(), 'm2m-bench-do-'));
  await build({
    entryPoints: [`${here}stores/worker.mjs`],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    outfile: join(dir, 'worker.mjs'),
    logLevel: 'error',
  });
  const names = Array.from({ length: FLEET + 2 }, (_, i) => `w${i}`);
  const mf = new Miniflare({
    workers: names.map((name, i) => ({
      name,
      modules: true,
      scriptPath: join(dir, 'worker.mjs'),
      modulesRoot: dir,
      modulesRules: [{ type: 'ESModule', include: ['**/*.js', '**/*.mjs'] }],
      compatibilityDate: '2025-09-01',
      durableObjects: {
        TOKEN_STORE:
          i === 0
            ? { className: 'WristbandTokenStoreObject', useSQLite: true }
            : { className: 'WristbandTokenStoreObject', scriptName: 'w0', useSQLite: true },
      },
    })),
  });
  try {
    await mf.ready;
    const post = async (name, path, body) => {
      const response = await (await mf.getWorker(name)).fetch(`http://worker${path}`, {
        method: 'POST',
        body: JSON.stringify(body ?? {}),
      });
      const answer = await response.json();
      if (response.status !== 200) throw new Error(`${name} ${path}: ${JSON.stringify(answer)}`);
      return answer;
    };
    const reads = await post('w1', '/reads');
    const fleetServer = await scenarioServer(servers);
    fleetServer.setLatency(100);
    const isolates = names.slice(1, FLEET + 1);
    const fleet = await Promise.all(
      isolates.map((n) => post(n, '/first', { config: clientOf(fleetServer), store: true })),
    );
    const fleetRequests = fleetServer.requestCount;
    const firstServer = await scenarioServer(servers);
    await post('w1', '/first', { config: clientOf(firstServer), store: true });
    const fromStore = [];
    for (const n of names.slice(2, 2 + FIRSTS))
      fromStore.push(await post(n, '/first', { config: clientOf(firstServer), store: true }));
    const storeHitRequests = firstServer.requestCount - 1;
    const endpointServer = await scenarioServer(servers);
    const fromEndpoint = [];
    for (const n of names.slice(2, 2 + FIRSTS))
      fromEndpoint.push(await post(n, '/first', { config: clientOf(endpointServer), store: false }));
    return {
      readMs: median(reads.perReadMs),
      fleetRequests,
      fleetTokens: new Set(fleet.map((a) => a.token)).size,
      firstFromStoreMs: median(fromStore.map((a) => a.ms)),
      firstFromEndpointMs: median(fromEndpoint.map((a) => a.ms)),
      storeHitRequests,
      storeErrors: [...fleet, ...fromStore].flatMap((a) => a.storeErrors),
    };
  } finally {
    await disposeMiniflare(mf);
    rmSync(dir, { recursive: true, force: true });
  }
}

const hasCommand = (command) => {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** Every store's figures; a store whose engine cannot run here gets { error }. */
export async function measureStores({ log = (line) => process.stderr.write(`${line}\n`), only } = {}) {
  const servers = [];
  const results = { fleetSize: FLEET, firsts: FIRSTS, stores: [] };
  const cleanups = [];
  const attempt = async (store, run) => {
    if (only && !only.includes(store.id)) return;
    const started = performance.now();
    try {
      results.stores.push({ ...store, ...(await run()) });
    } catch (error) {
      results.stores.push({
        ...store,
        error: String(error?.message ?? error)
          .split('\n')[0]
          .slice(0, 300),
      });
    }
    log(`bench: store ${store.name} done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  };
  try {
    results.endpoint = await measureEndpoint(servers);
    let redis;
    if (hasCommand('redis-server')) {
      const { startRedis } = await importTs('test/support/redis-server.ts');
      redis = await startRedis();
      cleanups.push(() => redis.stop());
    }
    const noRedis = () => {
      throw new Error('redis-server is not installed (apt-get install redis-server)');
    };
    await attempt(STORES[0], () => (redis ? measureProcessStore('redis', { url: redis.url }, servers) : noRedis()));
    await attempt(STORES[1], () =>
      redis ? measureProcessStore('node-redis', { url: redis.url }, servers) : noRedis(),
    );
    await attempt(STORES[2], async () => {
      if (!redis) noRedis();
      const { startUpstashRest } = await importTs('test/support/upstash-rest.ts');
      const rest = await startUpstashRest(redis.url);
      try {
        return await measureProcessStore('upstash', { url: rest.url, token: rest.token }, servers);
      } finally {
        await rest.close();
      }
    });
    await attempt(STORES[3], async () => {
      const { startDynalite } = await importTs('test/support/dynalite.ts');
      const dynamo = await startDynalite('wristband-m2m-tokens');
      try {
        return await measureProcessStore(
          'dynamodb',
          { endpoint: dynamo.endpoint, tableName: dynamo.tableName },
          servers,
        );
      } finally {
        await dynamo.close();
      }
    });
    await attempt(STORES[4], () => measureDurableObjects(servers));
    await attempt(STORES[5], async () => {
      const dir = mkdtempSync(join(tmpdir(), 'm2m-bench-kv-'));
      try {
        return await measureProcessStore('deno-kv', { path: join(dir, 'tokens.kv') }, servers);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  } finally {
    for (const cleanup of cleanups) await cleanup();
    await Promise.all(servers.map((server) => server.close()));
  }
  return results;
}

/** The section of BENCHMARKS.md, as markdown lines. */
export function storesReport(r) {
  const ms = (v) => (v === undefined ? '-' : readFigure(v));
  const rows = r.stores.map((s) =>
    s.error
      ? `| ${s.name} | \`${s.entry}\` | not run: ${s.error} | | | | |`
      : `| ${s.name} | \`${s.entry}\` | ${ms(s.readMs)} | ${s.fleetRequests} | ${ms(s.firstFromStoreMs)} | ${ms(s.firstFromEndpointMs ?? r.endpoint?.firstFromEndpointMs)} | ${s.storeErrors.length} |`,
  );
  return [
    '## Shared stores (this package, each against its engine on this machine)',
    '',
    `| store | entry point | a read (median) | cold fleet of ${r.fleetSize}: token requests | a cold member's first token, from the store | the same from the endpoint | store errors reported |`,
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    `| none | | - | ${r.endpoint?.fleetRequests ?? '-'} | - | ${ms(r.endpoint?.firstFromEndpointMs)} | - |`,
    ...rows,
    '',
    `Engines: a real redis-server (ioredis, node-redis); Upstash's REST API emulated in front of it, reached by the real \`@upstash/redis\`; dynalite through the AWS SDK v3; workerd through Miniflare (${r.fleetSize} isolates of one Worker, the objects in one of them, timed inside the Worker, whose clock advances only across I/O); Deno KV on a local file, from Deno processes. ` +
      `*A read*: 5 batches of 40 sequential \`get()\` of a 300-byte value, a batch's time / 40, median of the batches. ` +
      `*Cold fleet*: ${r.fleetSize} processes (isolates for Durable Objects) started together, each its own client and store connection, calling \`getToken()\` at the same moment, the endpoint answering after 100 ms. ` +
      `*First token*: a fresh process's (isolate's) first \`getToken()\`, its store connection open, median of ${r.firsts}: from the store once another member stored a token, and without a store from the local token server on loopback (answering at once: a real endpoint adds its network round trip and its signing), in the same runtime (Node; Deno processes for Deno KV; Worker isolates for Durable Objects). On Node, a process's first \`fetch()\` also loads Node's HTTP client (undici), which both Upstash's and the endpoint's first token pay. ` +
      'A production store adds its own network round trip to every figure but the request counts.',
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const onlyArg = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  const results = await measureStores({ only: onlyArg?.split(',') });
  console.log(storesReport(results).join('\n'));
  if (process.argv.includes('--json')) console.log(JSON.stringify(results));
}

/**
 * Writes this run's figures into the guides that quote them, so they say exactly what BENCHMARKS.md holds
 * (test/docs-figures.test.ts compares them): the "A read, measured here" cells of docs/stores.md's "Choose a store"
 * table (a row matched by its store's entry point; `/redis` takes the ioredis figure; a store that did not run keeps
 * its cell), and the cold-start figures between the bench:lambda-cold-start markers of docs/lambda.md.
 */
export function updateStoresGuide(r, docs = `${root}docs/`) {
  const rewrite = (path, change) => {
    const text = readFileSync(path, 'utf8');
    const updated = change(text);
    if (updated !== text) writeFileSync(path, updated);
  };
  for (const path of [`${docs}stores.md`, `${docs}../README.md`]) {
    rewrite(path, (text) =>
      rewriteColumn(text, READ_COLUMN, (entry) => {
        const store = r.stores.find((s) => s.entry === entry && !s.error);
        return store && readFigure(store.readMs);
      }),
    );
  }
  const dynamodb = r.stores.find((s) => s.id === 'dynamodb' && !s.error);
  if (r.endpoint && dynamodb) {
    rewrite(`${docs}lambda.md`, (text) =>
      text.replace(
        /(<!-- bench:lambda-cold-start[^\n]*-->\n)[\s\S]*?(<!-- \/bench:lambda-cold-start -->)/,
        (_all, open, close) => `${open}${lambdaColdStart(r.endpoint, dynamodb)}\n${close}`,
      ),
    );
  }
}

/** The title of the "Choose a store" tables' column that quotes a read measured here (README.md, docs/stores.md). */
export const READ_COLUMN = 'A read, measured here';

/**
 * Rewrites the cell under `title` in every row of a Markdown table whose second cell names an entry point
 * (`` `/redis`: ... ``) with `figure(entry)`, where that gives one; the column is found by its header, so tables of
 * different widths share this.
 */
export function rewriteColumn(text, title, figure) {
  let column = -1;
  return text
    .split('\n')
    .map((line) => {
      if (!line.startsWith('| ')) {
        column = -1;
        return line;
      }
      const cells = line.split(' | ');
      if (column < 0) {
        column = cells.indexOf(title);
        return line;
      }
      const entry = /^`(\/[\w-]+)`:/.exec(cells[1] ?? '')?.[1];
      const value = entry && column > 0 ? figure(entry) : undefined;
      if (value === undefined) return line;
      cells[column] = value;
      return cells.join(' | ');
    })
    .join('\n');
}

/** The cold-start lines of docs/lambda.md, from the "none" and DynamoDB rows of the shared stores' section. */
export function lambdaColdStart(endpoint, dynamodb) {
  return [
    `- from the token endpoint, without a store: ${readFigure(endpoint.firstFromEndpointMs)} (the local token server on`,
    "  loopback, answering at once; Wristband adds its network round trip). A process's first `fetch()` is slower than",
    '  the next ones: Node loads its HTTP client then;',
    `- from DynamoDB, a token another environment stored: ${readFigure(dynamodb.firstFromStoreMs)} (dynalite on the same`,
    '  machine, through the AWS SDK v3, whose first call in a process is far slower than the next ones);',
    `- ${FLEET} cold environments at once: ${endpoint.fleetRequests} token requests without a store, ${dynamodb.fleetRequests} with DynamoDB.`,
  ].join('\n');
}

/** A read figure as BENCHMARKS.md and docs/stores.md print it. */
export function readFigure(v) {
  return v < 1 ? `${v.toFixed(2)} ms` : `${v.toFixed(1)} ms`;
}
