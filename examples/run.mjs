// `npm run example -- <name>`: runs one example against the local token server and protected API (the demo's),
// then calls it the way a user would: GET /reports twice (one token, then the cache), the token server revokes
// every token, GET /reports again (the example retires the rejected token and retries once). Exits 0 when the
// example behaved, 1 otherwise. Installs what it needs on first use: the examples' dependencies, and Bun, Deno or
// Miniflare into the git-ignored .tools/ (as `npm test` does).
//
// A shared-store example (redis, upstash, dynamodb, deno-kv, durable-object) runs as a fleet of cold instances
// (processes, or isolates of one workerd) sharing the store, started by this script with the store's engine:
// every instance GETs /reports at the same moment (1 token request between them), the token server revokes every
// token, then two instances GET /reports again (1 more token request, for the whole fleet).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startLocalServers } from '../demo/local-servers.mjs';
import { disposeMiniflare, ensureRuntimes } from '../test/runtimes/matrix.mjs';

const examples = fileURLToPath(new URL('.', import.meta.url));
const tools = fileURLToPath(new URL('../.tools/', import.meta.url));
const bin = (tool, name) => `${tools}${tool}/node_modules/.bin/${name}`;

const hasRedisServer = () => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** Each example: what it needs, and how to start it and reach its GET /reports. */
export const EXAMPLES = {
  express: { file: 'express/server.mjs', start: (env) => startServer([process.execPath, 'express/server.mjs'], env) },
  bun: {
    file: 'bun/server.ts',
    runtime: 'bun',
    start: (env) => startServer([bin('bun', 'bun'), 'bun/server.ts'], env),
  },
  deno: { file: 'deno/script.ts', runtime: 'deno', start: runDenoScript },
  'cloudflare-worker': { file: 'cloudflare-worker/worker.ts', runtime: 'miniflare', start: startWorker },
  axios: { file: 'axios/reports-api.mjs', start: startAxios },
  opentelemetry: { file: 'opentelemetry/traced.mjs', start: runTracedScript },
  redis: { file: 'redis/server.mjs', needs: 'redis-server', start: (env) => startFleet('redis', env) },
  upstash: { file: 'upstash/reports.mjs', needs: 'redis-server', start: (env) => startFleet('upstash', env) },
  dynamodb: { file: 'dynamodb/handler.mjs', start: (env) => startFleet('dynamodb', env) },
  'deno-kv': { file: 'deno-kv/server.ts', runtime: 'deno', start: (env) => startFleet('deno-kv', env) },
  'durable-object': { file: 'durable-object/worker.ts', runtime: 'miniflare', start: startDurableObjectFleet },
};

/** How many cold instances a shared-store example starts (FLEET_SIZE overrides it; the benchmark uses 8). */
const fleetSize = () => Number(process.env.FLEET_SIZE ?? 4);

const USAGE = `Usage: npm run example -- <${Object.keys(EXAMPLES).join('|')}>`;

/** Spawns a server example; resolves once it prints `listening on <url>`, with a GET and a stop function. */
function startServer(argv, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: examples, env: { ...process.env, ...env, PORT: '0' } });
    let output = '';
    const onData = (chunk) => {
      output += chunk;
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (url) {
        resolve({
          get: (path) => fetch(`${url}${path}`),
          stop: () => child.kill('SIGTERM'),
          banner: `${argv.slice(1).join(' ')} is listening on ${url}`,
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${argv.join(' ')} exited with ${code} before listening:\n${output}`)));
  });
}

/** The Deno example is a one-shot script: run it once (asynchronously: the servers live in this process). */
async function runDenoScript(env) {
  const { stdout } = await promisify(execFile)(
    bin('deno', 'deno'),
    ['run', '--no-prompt', '--allow-net=127.0.0.1', '--allow-env', 'deno/script.ts'],
    { cwd: examples, env: { ...process.env, ...env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' }, timeout: 60_000 },
  );
  return { oneShot: stdout.trim(), stop: () => undefined, banner: 'deno run deno/script.ts' };
}

/** The OpenTelemetry example is a one-shot script: it prints its two calls, then its spans and metrics. */
async function runTracedScript(env) {
  const { stdout } = await promisify(execFile)(process.execPath, ['opentelemetry/traced.mjs'], {
    cwd: examples,
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { oneShot: stdout.trim(), stop: () => undefined, banner: 'node opentelemetry/traced.mjs' };
}

/** An example Worker bundled with esbuild as wrangler would (`cloudflare:workers` left to workerd). */
export async function bundleWorker(folder) {
  const { build } = await import('esbuild');
  const bundled = await build({
    entryPoints: [`${examples}${folder}/worker.ts`],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    external: ['cloudflare:workers'],
    write: false,
  });
  return bundled.outputFiles[0].text;
}

/** The Worker in workerd (Miniflare), bundled with esbuild as wrangler would, with the servers as its bindings. */
async function startWorker(env) {
  const script = await bundleWorker('cloudflare-worker');
  const { Miniflare } = createRequire(`${tools}miniflare/`)('miniflare');
  const mf = new Miniflare({
    modules: true,
    script,
    compatibilityDate: '2025-09-01',
    bindings: env,
  });
  await mf.ready;
  return {
    get: (path) => mf.dispatchFetch(`http://worker${path}`),
    stop: () => disposeMiniflare(mf),
    banner: 'cloudflare-worker/worker.ts is running in workerd (Miniflare)',
  };
}

/** A redis-server of its own on a free loopback port, for the redis and upstash examples. */
export async function startRedisServer() {
  const port = await new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
  const child = spawn('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  await new Promise((resolve, reject) => {
    let output = '';
    child.on('error', () => reject(new Error('redis-server is not installed: sudo apt-get install -y redis-server')));
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)));
  });
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

/**
 * Upstash's REST API in front of a local redis-server (no local Upstash server is published on npm): the test
 * suite's emulation, test/support/upstash-rest.ts, compiled by esbuild on first use.
 */
async function startUpstashRest(redisUrl) {
  const out = `${examples}node_modules/.cache/wristband-examples/upstash-rest.mjs`;
  const { build } = await import('esbuild');
  await build({
    entryPoints: [fileURLToPath(new URL('../test/support/upstash-rest.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile: out,
    logLevel: 'error',
  });
  const { startUpstashRest: start } = await import(out);
  return start(redisUrl);
}

/** dynalite (an implementation of DynamoDB, in this process) with the table docs/stores.md describes. */
async function startDynamoDB() {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const { default: dynalite } = await import('dynalite');
  const { CreateTableCommand, DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
  const server = dynalite({ createTableMs: 0 });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${server.address().port}`;
  const admin = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await admin.send(
    new CreateTableCommand({
      TableName: 'wristband-m2m-tokens',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  admin.destroy();
  return { endpoint, stop: () => new Promise((resolve) => server.close(resolve)) };
}

/**
 * Starts a shared store's engine, for an example or the store benchmark (bench/stores.mjs). Resolves with the
 * variables an instance needs to reach it, a way to start one cold instance, and stop().
 * @param {'redis' | 'upstash' | 'dynamodb' | 'deno-kv'} name
 */
export async function startEngine(name) {
  const stops = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn();
  };
  try {
    if (name === 'redis' || name === 'upstash') {
      const redis = await startRedisServer();
      stops.push(redis.stop);
      if (name === 'redis')
        return { env: { REDIS_URL: redis.url }, argv: [process.execPath, 'redis/server.mjs'], stop };
      const rest = await startUpstashRest(redis.url);
      stops.push(() => rest.close());
      return {
        env: { UPSTASH_REDIS_REST_URL: rest.url, UPSTASH_REDIS_REST_TOKEN: rest.token },
        argv: [process.execPath, 'local-function.mjs', 'upstash/reports.mjs', 'web'],
        stop,
      };
    }
    if (name === 'dynamodb') {
      const dynamodb = await startDynamoDB();
      stops.push(dynamodb.stop);
      return {
        env: { DYNAMODB_ENDPOINT: dynamodb.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        argv: [process.execPath, 'local-function.mjs', 'dynamodb/handler.mjs', 'lambda'],
        stop,
      };
    }
    if (name === 'deno-kv') {
      const folder = mkdtempSync(join(tmpdir(), 'wristband-deno-kv-'));
      stops.push(() => rmSync(folder, { recursive: true, force: true }));
      return {
        env: { KV_PATH: join(folder, 'tokens.sqlite3'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
        argv: [
          bin('deno', 'deno'),
          'run',
          '--no-prompt',
          '--unstable-kv',
          '--allow-net=127.0.0.1',
          '--allow-env',
          `--allow-read=${folder},.`,
          `--allow-write=${folder}`,
          'deno-kv/server.ts',
        ],
        stop,
      };
    }
  } catch (error) {
    await stop();
    throw error;
  }
  throw new Error(`no engine named ${name}`);
}

/** A fleet of cold processes sharing the store of example `name`: GET on instance i, and stop(). */
async function startFleet(name, env, size = fleetSize()) {
  const engine = await startEngine(name);
  const instances = [];
  try {
    instances.push(
      ...(await Promise.all(Array.from({ length: size }, () => startServer(engine.argv, { ...env, ...engine.env })))),
    );
  } catch (error) {
    for (const instance of instances) instance.stop();
    await engine.stop();
    throw error;
  }
  return {
    instances: instances.map((instance) => instance.get),
    stop: async () => {
      for (const instance of instances) instance.stop();
      await engine.stop();
    },
    banner: `${size} cold processes of ${EXAMPLES[name].file}, sharing one ${name === 'deno-kv' ? 'KV file' : name}`,
  };
}

/**
 * The Durable Object example as a fleet of isolates in one workerd (Miniflare): the first hosts the object, the
 * others bind it by script name, as isolates of one Worker share its namespace.
 */
export async function startDurableObjectFleet(env, size = fleetSize()) {
  const script = await bundleWorker('durable-object');
  const { Miniflare } = createRequire(`${tools}miniflare/`)('miniflare');
  const names = Array.from({ length: size }, (_, i) => `isolate-${i}`);
  const className = 'WristbandTokenStoreObject';
  const mf = new Miniflare({
    workers: names.map((name, i) => ({
      name,
      modules: true,
      script,
      compatibilityDate: '2025-09-01',
      bindings: env,
      durableObjects: {
        TOKEN_STORE: i === 0 ? { className, useSQLite: true } : { className, scriptName: names[0], useSQLite: true },
      },
    })),
  });
  await mf.ready;
  const workers = await Promise.all(names.map((name) => mf.getWorker(name)));
  return {
    instances: workers.map((worker) => (path) => worker.fetch(`http://worker${path}`)),
    stop: () => disposeMiniflare(mf),
    banner: `${size} isolates of durable-object/worker.ts in one workerd (Miniflare), sharing its Durable Object`,
  };
}

/** The Axios example is a module: give it a client and call the API through it. */
async function startAxios(env) {
  const { createWristbandM2MClient } = await import('@wristband/typescript-m2m-auth');
  const { createReportsApi } = await import('./axios/reports-api.mjs');
  const m2m = createWristbandM2MClient({
    clientId: env.CLIENT_ID,
    clientSecret: env.CLIENT_SECRET,
    wristbandApplicationVanityDomain: env.APPLICATION_VANITY_DOMAIN,
  });
  const api = createReportsApi(m2m, env.DOWNSTREAM_URL);
  return {
    get: async (path) => {
      try {
        const response = await api.get(path);
        return Response.json(response.data, { status: response.status });
      } catch (error) {
        // Axios rejects any non-2xx answer (after the interceptor's one retry on 401): show its status.
        if (!error.response) throw error;
        return new Response(JSON.stringify(error.response.data ?? ''), { status: error.response.status });
      }
    },
    stop: () => m2m.destroy(),
    banner: 'createReportsApi(m2m, DOWNSTREAM_URL) from axios/reports-api.mjs',
  };
}

/**
 * Runs one example against fresh local servers. Resolves with whether it behaved as the README says.
 * @param {keyof typeof EXAMPLES} name
 * @param {(line: string) => void} log
 */
export async function runExample(name, log = console.log) {
  const example = EXAMPLES[name];
  if (!existsSync(`${examples}node_modules/express`)) {
    log("Installing the examples' dependencies (once)...");
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: examples, stdio: 'inherit' });
  }
  if (example.needs === 'redis-server' && !hasRedisServer()) {
    log('This example needs redis-server on the PATH: sudo apt-get update && sudo apt-get install -y redis-server');
    return false;
  }
  if (example.runtime && !existsSync(`${tools}${example.runtime}/node_modules`)) {
    log('Installing Bun, Deno and Miniflare into .tools/ (once)...');
    await ensureRuntimes(log);
  }
  const servers = await startLocalServers();
  const { tokenServer, api, env } = servers;
  log(
    `Local token server: ${tokenServer.vanityDomain} (CLIENT_ID=${env.CLIENT_ID}, CLIENT_SECRET=${env.CLIENT_SECRET})`,
  );
  log(`Protected API:      ${api.url}`);
  let running;
  try {
    running = await example.start(env);
    log(`Started: ${running.banner}`);
    if (running.instances !== undefined) return await exerciseFleet(running.instances, tokenServer, log);
    if (running.oneShot !== undefined) {
      log(`It printed: ${running.oneShot}`);
      log(`Token requests: ${tokenServer.requestCount}`);
      return running.oneShot.startsWith('GET /reports: 200') && tokenServer.requestCount === 1;
    }
    const call = async (note) => {
      const response = await running.get('/reports');
      log(
        `GET /reports -> ${response.status} ${await response.text()}  (${note}; token requests so far: ${tokenServer.requestCount})`,
      );
      return response.status;
    };
    const statuses = [await call('a token fetched'), await call('the cached token')];
    tokenServer.revokeAll();
    log('The token server revokes every token, as a key rotation would: the API now answers 401 to the cached one.');
    statuses.push(await call('the example retired the rejected token and retried once with a new one'));
    return statuses.every((status) => status === 200) && tokenServer.requestCount === 2;
  } finally {
    await running?.stop();
    await servers.close();
  }
}

/** A shared-store fleet: a cold burst on every instance, then a revocation answered once for the whole fleet. */
async function exerciseFleet(instances, tokenServer, log) {
  const call = async (i, note) => {
    const response = await instances[i]('/reports');
    const body = await response.text();
    log(`  instance ${i}: GET /reports -> ${response.status} ${body}${note ? `  (${note})` : ''}`);
    return response.status;
  };
  log(`Every instance, cold, GETs /reports at the same moment:`);
  const statuses = await Promise.all(instances.map((_, i) => call(i)));
  const burst = tokenServer.requestCount;
  log(
    `Token requests: ${burst} for ${instances.length} cold instances (the store's lock: one fetched, the others waited for its token)`,
  );
  tokenServer.revokeAll();
  log('The token server revokes every token: the API now answers 401 to the one every instance holds.');
  statuses.push(await call(0, 'it retired the rejected token in the store too, and fetched a new one'));
  statuses.push(await call(1 % instances.length, 'its 401 found the new token in the store'));
  log(`Token requests: ${tokenServer.requestCount}`);
  return statuses.every((status) => status === 200) && burst === 1 && tokenServer.requestCount === 2;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const name = process.argv[2];
  if (name === '--help' || name === '-h') {
    console.log(USAGE);
  } else if (!(name in EXAMPLES)) {
    console.error(`${name === undefined ? 'Which example?' : `No example named "${name}".`}\n${USAGE}`);
    process.exitCode = 2;
  } else {
    console.log(`Example ${name} (examples/${EXAMPLES[name].file})`);
    const ok = await runExample(name);
    console.log(ok ? '\nThe example works.' : '\nThe example misbehaved: see above.');
    process.exitCode = ok ? 0 : 1;
  }
}
