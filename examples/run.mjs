// `npm run example -- <name>`: runs one example against the local token server and protected API (the demo's),
// then calls it the way a user would: GET /reports twice (one token, then the cache), the token server revokes
// every token, GET /reports again (the example retires the rejected token and retries once). Exits 0 when the
// example behaved, 1 otherwise. Installs what it needs on first use: the examples' dependencies, and Bun, Deno or
// Miniflare into the git-ignored .tools/ (as `npm test` does).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startLocalServers } from '../demo/local-servers.mjs';
import { disposeMiniflare, ensureRuntimes } from '../test/runtimes/matrix.mjs';

const examples = fileURLToPath(new URL('.', import.meta.url));
const tools = fileURLToPath(new URL('../.tools/', import.meta.url));
const bin = (tool, name) => `${tools}${tool}/node_modules/.bin/${name}`;

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
};

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

/** The Worker in workerd (Miniflare), bundled with esbuild as wrangler would, with the servers as its bindings. */
async function startWorker(env) {
  const { build } = await import('esbuild');
  const bundled = await build({
    entryPoints: [`${examples}cloudflare-worker/worker.ts`],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    external: ['cloudflare:workers'],
    write: false,
  });
  const { Miniflare } = createRequire(`${tools}miniflare/`)('miniflare');
  const mf = new Miniflare({
    modules: true,
    script: bundled.outputFiles[0].text,
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
