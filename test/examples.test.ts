// Runs every program in examples/ against the local token server and the demo's protected API, so the recipes
// the README points to keep working: Express on Node, a Bun server, a Deno script and a Worker in workerd, and one
// fleet per shared store, each on its real engine.
// The global setup has installed the runtimes and the examples' dependencies.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PROTECTED_API_PORT, DEFAULT_TOKEN_SERVER_PORT } from '../demo/local-servers.mjs';
import { startProtectedApi } from '../demo/protected-api.mjs';
import { startTokenServer } from '../demo/token-server.mjs';
import { createWristbandM2MClient } from '../src/index.js';
import { disposeMiniflare } from './runtimes/matrix.mjs';

const examples = fileURLToPath(new URL('../examples/', import.meta.url));
const tools = fileURLToPath(new URL('../.tools/', import.meta.url));

let tokenServer: Awaited<ReturnType<typeof startTokenServer>>;
let api: Awaited<ReturnType<typeof startProtectedApi>>;
let env: Record<string, string>;
const children: ChildProcess[] = [];

beforeAll(async () => {
  tokenServer = await startTokenServer({ clientId: 'examples-client', clientSecret: 'examples-secret' });
  api = await startProtectedApi((token) => tokenServer.verify(token));
  env = {
    PATH: process.env.PATH ?? '',
    CLIENT_ID: tokenServer.clientId,
    CLIENT_SECRET: tokenServer.clientSecret,
    APPLICATION_VANITY_DOMAIN: tokenServer.vanityDomain,
    DOWNSTREAM_URL: api.url,
    PORT: '0',
    NO_COLOR: '1',
  };
});
afterAll(async () => {
  await api?.close();
  await tokenServer?.close();
});
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  tokenServer.requests.length = 0;
});

/** Starts a server example and resolves with its origin once it prints `listening on <url>`. */
function startServerExample(argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: examples, env });
    children.push(child);
    let output = '';
    const onData = (chunk: Buffer): void => {
      output += chunk;
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (url) resolve(url);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited with ${code} before listening: ${output}`)));
  });
}

type Get = (path: string) => Promise<Response>;

/** GET /reports three times, revoking the token before the third: the example must clearToken() and retry once. */
async function expectReportsWithRetryOn401(get: Get): Promise<void> {
  const reports = async () => {
    const response = await get('/reports');
    return { status: response.status, body: await response.json() };
  };
  const ok = { status: 200, body: { report: 'quarterly-usage', rows: 3 } };
  const apiCallsBefore = api.calls;
  expect(await reports()).toEqual(ok);
  expect(await reports()).toEqual(ok);
  expect(tokenServer.requestCount).toBe(1); // one token, then the cache
  tokenServer.revokeAll();
  expect(await reports()).toEqual(ok);
  expect(tokenServer.requestCount).toBe(2); // exactly one fresh token after the 401
  expect(api.calls - apiCallsBefore).toBe(4); // 200, 200, 401, 200
}

const over =
  (origin: string): Get =>
  (path) =>
    fetch(`${origin}${path}`);

describe('examples/', () => {
  it('express/server.mjs serves /reports and answers a downstream 401 with clearToken() and one retry', async () => {
    await expectReportsWithRetryOn401(over(await startServerExample([process.execPath, 'express/server.mjs'])));
  });

  it('bun/server.ts does the same on Bun', async () => {
    await expectReportsWithRetryOn401(
      over(await startServerExample([`${tools}bun/node_modules/.bin/bun`, 'bun/server.ts'])),
    );
  });

  it('deno/script.ts calls the API once with a token and exits', async () => {
    const deno = `${tools}deno/node_modules/.bin/deno`;
    const { stdout } = await promisify(execFile)(
      deno,
      ['run', '--no-prompt', '--allow-net=127.0.0.1', '--allow-env', 'deno/script.ts'],
      { cwd: examples, env: { ...env, DENO_NO_UPDATE_CHECK: '1' }, timeout: 30_000 },
    );
    expect(stdout.trim()).toBe('GET /reports: 200 {"report":"quarterly-usage","rows":3}');
    expect(tokenServer.requestCount).toBe(1);
  }, 30_000);

  it('axios/reports-api.mjs adds the token through interceptors and retries a 401 once', async () => {
    const { createReportsApi } = await import('../examples/axios/reports-api.mjs');
    const m2m = createWristbandM2MClient({
      clientId: env.CLIENT_ID!,
      clientSecret: env.CLIENT_SECRET!,
      wristbandApplicationVanityDomain: env.APPLICATION_VANITY_DOMAIN!,
    });
    const api = createReportsApi(m2m, env.DOWNSTREAM_URL!);
    await expectReportsWithRetryOn401(async (path) => {
      const response = await api.get(path); // a 401 left after the one retry would throw and fail the test
      return Response.json(response.data, { status: response.status });
    });
    m2m.destroy();
  });

  it('npm run test:kit: a handler tested through a revocation and an outage with the test kit, in node:test and vitest', async () => {
    const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'test:kit'], {
      cwd: examples,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      timeout: 60_000,
    });
    // node:test's TAP summary, then vitest's: every test of both files ran and passed.
    expect(stdout).toMatch(/^# pass 3$/m);
    expect(stdout).toMatch(/^# fail 0$/m);
    expect(stdout).toMatch(/Tests\s+5 passed \(5\)/);
  }, 60_000);

  it('every example folder has an entry in examples/run.mjs, and its file exists', async () => {
    const { EXAMPLES } = await import('../examples/run.mjs');
    const folders = readdirSync(examples, { withFileTypes: true })
      // testing/ holds the test kit's examples, run by `npm run test:kit` below rather than as a server.
      // A hidden folder is no example: test/docs-js.test.ts, running alongside, runs recipes in a .docs-js-* folder.
      .filter(
        (entry) =>
          entry.isDirectory() &&
          !entry.name.startsWith('.') &&
          entry.name !== 'node_modules' &&
          entry.name !== 'testing',
      )
      .map((entry) => entry.name);
    expect(Object.keys(EXAMPLES).sort()).toEqual(folders.sort());
    for (const { file } of Object.values(EXAMPLES) as { file: string }[])
      expect(existsSync(`${examples}${file}`), file).toBe(true);
  });

  it('each example retires exactly the rejected token: clearToken(token), never a bare clearToken()', () => {
    for (const file of [
      'express/server.mjs',
      'bun/server.ts',
      'cloudflare-worker/worker.ts',
      'axios/reports-api.mjs',
    ]) {
      const source = readFileSync(`${examples}${file}`, 'utf8');
      expect(source, file).toMatch(/clearToken\(\w[\w.]*\)/);
      expect(source, file).not.toContain('clearToken()');
    }
  });

  it('cloudflare-worker has a wrangler configuration whose vars point at `npm run token-server`', () => {
    const toml = readFileSync(`${examples}cloudflare-worker/wrangler.toml`, 'utf8');
    expect(toml).toMatch(/^main = "worker.ts"$/m);
    expect(toml).toMatch(/^compatibility_date = "\d{4}-\d{2}-\d{2}"$/m);
    expect(toml).toContain(`APPLICATION_VANITY_DOMAIN = "http://127.0.0.1:${DEFAULT_TOKEN_SERVER_PORT}"`);
    expect(toml).toContain(`DOWNSTREAM_URL = "http://127.0.0.1:${DEFAULT_PROTECTED_API_PORT}"`);
    expect(toml).not.toContain('CLIENT_SECRET ='); // a secret, never a var
  });

  it('cloudflare-worker/worker.ts runs in workerd with its client at module scope', async () => {
    const { bundleWorker } = await import('../examples/run.mjs');
    const script = await bundleWorker('cloudflare-worker');
    const { Miniflare } = createRequire(`${tools}miniflare/`)('miniflare');
    const mf = new Miniflare({
      modules: true,
      script,
      compatibilityDate: '2025-09-01',
      bindings: {
        CLIENT_ID: env.CLIENT_ID,
        CLIENT_SECRET: env.CLIENT_SECRET,
        APPLICATION_VANITY_DOMAIN: env.APPLICATION_VANITY_DOMAIN,
        DOWNSTREAM_URL: env.DOWNSTREAM_URL,
      },
    });
    try {
      await mf.ready;
      await expectReportsWithRetryOn401((path) => mf.dispatchFetch(`http://worker${path}`));
    } finally {
      await disposeMiniflare(mf);
    }
  }, 60_000);
});

describe('one command each', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));

  // `npm run example -- <name>` is `tsup && node examples/run.mjs <name>`; the global setup has built dist/.
  it.each(['express', 'bun', 'deno', 'cloudflare-worker', 'axios', 'opentelemetry'])(
    'node examples/run.mjs %s starts the local servers, runs the example against them and exits 0',
    async (name) => {
      const { stdout } = await promisify(execFile)(process.execPath, ['examples/run.mjs', name], {
        cwd: root,
        env: { ...process.env, NO_COLOR: '1' },
        timeout: 60_000,
      });
      expect(stdout).toMatch(/Local token server: http:\/\/127\.0\.0\.1:\d+/);
      expect(stdout.trim().split('\n').at(-1)).toBe('The example works.');
    },
    90_000,
  );

  // A store example runs a fleet of 4 cold instances on the store's real engine (redis-server, the emulated Upstash
  // REST API in front of it, dynalite, Deno KV on one file, a Durable Object in workerd): they make 1 token request
  // between them, and after every token is revoked, 1 more for the whole fleet.
  it.each(['redis', 'upstash', 'dynamodb', 'deno-kv', 'durable-object'])(
    'node examples/run.mjs %s: 4 cold instances sharing the store make 1 token request, and 1 after a revocation',
    async (name) => {
      const { stdout } = await promisify(execFile)(process.execPath, ['examples/run.mjs', name], {
        cwd: root,
        env: { ...process.env, NO_COLOR: '1' },
        timeout: 90_000,
      });
      expect(stdout).toContain('Token requests: 1 for 4 cold instances');
      expect(stdout).toMatch(/Token requests: 2\n/);
      expect(stdout.trim().split('\n').at(-1)).toBe('The example works.');
    },
    120_000,
  );

  it('node examples/run.mjs with an unknown name prints the usage and exits 2', async () => {
    const error = await promisify(execFile)(process.execPath, ['examples/run.mjs', 'rails'], { cwd: root }).catch(
      (e) => e,
    );
    expect(error.code).toBe(2);
    expect(error.stderr).toContain(
      'Usage: npm run example -- <express|bun|deno|cloudflare-worker|axios|opentelemetry|redis|upstash|dynamodb|deno-kv|durable-object>',
    );
  });

  it('npm run token-server prints its URLs and the demo credentials, serves tokens, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['demo/local-servers.mjs', '--port', '0', '--api-port', '0'], { cwd: root });
    children.push(child);
    let stdout = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        if (stdout.includes('Ctrl-C')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`exited with ${code}: ${stdout}`)));
    });
    const vars = Object.fromEntries([...stdout.matchAll(/^([A-Z_]+)=(.+)$/gm)].map((m) => [m[1], m[2]]));
    expect(Object.keys(vars)).toEqual(['CLIENT_ID', 'CLIENT_SECRET', 'APPLICATION_VANITY_DOMAIN', 'DOWNSTREAM_URL']);
    expect(stdout).toContain(`Token server:  ${vars.APPLICATION_VANITY_DOMAIN}/api/v1/oauth2/token`);
    const m2m = createWristbandM2MClient({
      clientId: vars.CLIENT_ID!,
      clientSecret: vars.CLIENT_SECRET!,
      wristbandApplicationVanityDomain: vars.APPLICATION_VANITY_DOMAIN!,
    });
    const response = await m2m.fetch(`${vars.DOWNSTREAM_URL}/reports`);
    expect(response.status).toBe(200);
    m2m.destroy();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
