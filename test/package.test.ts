// Checks the built package as npm would publish it (the global setup has just built dist/).
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { inspect, promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build, type Plugin } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('..', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const bin = (name: string) => new URL(`node_modules/.bin/${name}`, root).pathname;
/** The store adapters' entry points, each `@wristband/typescript-m2m-auth/<name>`, built from src/store/<name>.ts. */
const STORE_ENTRIES = ['redis', 'cloudflare-kv', 'durable-object', 'dynamodb', 'deno-kv', 'upstash'];
const ENTRIES = ['index', ...STORE_ENTRIES];
/** What each store entry point exports at run time: names users (and their tools) depend on. */
const STORE_EXPORTS: Record<string, string[]> = {
  redis: ['createRedisTokenStore'],
  'cloudflare-kv': ['KV_MIN_TTL_SECONDS', 'createKVTokenStore'],
  'durable-object': ['WristbandTokenStoreObject', 'createDurableObjectTokenStore'],
  dynamodb: ['createDynamoDBTokenStore'],
  'deno-kv': ['DENO_KV_PREFIX', 'createDenoKvTokenStore'],
  upstash: ['createUpstashTokenStore'],
};

// Measured at 4,705 bytes with client.fetch, hooks, state and the browser guard, then 6,407 bytes once the shared
// token store came in (HKDF and AES-GCM record sealing, the fleet lock): client.ts imports it, so it is bundled
// whether or not a tokenStore is configured. Then 11,696 bytes with refresh-ahead and backoff, secret lists and
// providers, per-secret store records with owned locks and failure notes, bounded 401 retirements and redaction by
// sanitized copies, and config checks that reject unknown options; 11,534 once the helpers that existed twice (or
// four times, as the timeout race) became one and their review's fixes landed. Over the 6.5 KiB target of issue 14: see its note for where the bytes
// are. The budget leaves about 2% for growth; argue any larger step here.
// Then 13,213 bytes once the core was rebuilt as a pure state machine, a round with a tagged outcome and the whole
// fleet protocol in one module (issue 18): the callers' own deadline timers, the owner-bound failure notes, the
// execution-context waitUntil and the Worker module-scope error added code, and the new layers did not come out
// smaller. Over issue 18's ceiling (11,534): see its note. The budget is that figure plus about 1%.
// Then 13,364 once the fleet review's fixes landed (1089ff1: a failed round writes its note before it fails, the
// publishing secret kept among the record keys, a missing crypto.randomUUID reported), 13,361 with the messages of
// issue 21 (shorter texts paid for the new hints), and 13,428 with the telemetry seam of issue 19 (+62: the round
// observer called around runRound and the resend count in each request's init; the OpenTelemetry code itself lives
// in its own entry point), then 13,443 with the review's fixes to client.fetch's 401 rule and 13,476 with the answer to the predecessor's
// appDomain option. The budget is 13,428 plus
// about 1%.
const SIZE_BUDGET_BYTES = 13_560;

/** The client's one import from the store folder, replaced by a stub to measure what the store costs. */
const storeSeamStub: Plugin = {
  name: 'store-seam-stub',
  setup(esbuild) {
    esbuild.onResolve({ filter: /\/store\/fleet\.js$/ }, () => ({ path: 'stub', namespace: 'stub' }));
    esbuild.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents: 'export const createFleet = () => {}; export const longestFleetMs = () => 0;',
    }));
  },
};

async function minifiedGzipSize(entry: string, plugins: Plugin[] = []): Promise<number> {
  const result = await build({
    stdin: { contents: entry, resolveDir: root.pathname, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
    plugins,
  });
  return gzipSync(result.outputFiles[0]!.contents, { level: 9 }).byteLength;
}

/** The test kit's entries live in src/testing/, the OpenTelemetry entry in src/: not in the store folder. */
const OTHER_SOURCES: Record<string, string> = {
  './testing': 'testing/index',
  './testing/server': 'testing/server',
  './opentelemetry': 'opentelemetry',
};

describe('the published package', () => {
  it('builds ESM, CJS and both declaration files', () => {
    for (const file of ['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts']) {
      expect(existsSync(new URL(`dist/${file}`, root)), file).toBe(true);
    }
  });

  it('declares the exports map, engines, files and side effects it promises', () => {
    expect(pkg.exports['.']).toEqual({
      import: { types: './dist/index.d.ts', default: './dist/index.js' },
      require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
    });
    expect(Object.keys(pkg.exports['.'].import)[0]).toBe('types');
    expect(Object.keys(pkg.exports['.'].require)[0]).toBe('types');
    expect(pkg).toMatchObject({
      type: 'module',
      sideEffects: false,
      files: ['dist', 'bin'],
      engines: { node: '>=20' },
    });
    expect(pkg.bin).toEqual({ 'wristband-m2m': './bin/wristband-m2m.mjs' });
    expect(pkg.license).toBe('MIT');
    const repo = 'https://github.com/wristband-dev/typescript-m2m-auth';
    expect(pkg.repository).toEqual({ type: 'git', url: `git+${repo}.git` });
    expect(pkg.homepage).toBe(`${repo}#readme`);
    expect(pkg.bugs).toEqual({ url: `${repo}/issues` });
    expect(pkg.author).toMatchObject({ name: 'Wristband' });
    expect(pkg.dependencies ?? {}).toEqual({});
  });

  it('loads through both require() and import, with the same API', async () => {
    const cjs = createRequire(import.meta.url)('../dist/index.cjs');
    const esm = await import(new URL('dist/index.js', root).href);
    for (const mod of [cjs, esm]) {
      expect(Object.keys(mod).sort()).toEqual([
        'WristbandM2MError',
        'createAuthenticatedFetch',
        'createMemoryTokenStore',
        'createWristbandM2MClient',
      ]);
      expect(() => mod.createWristbandM2MClient({})).toThrow(mod.WristbandM2MError);
    }
  });

  it('names the error class WristbandM2MError in both builds: its name, stack and util.inspect', async () => {
    const cjs = createRequire(import.meta.url)('../dist/index.cjs');
    const esm = await import(new URL('dist/index.js', root).href);
    for (const { WristbandM2MError } of [cjs, esm]) {
      const error = new WristbandM2MError('INVALID_CONFIG', 'm');
      expect(WristbandM2MError.name).toBe('WristbandM2MError');
      expect(error.stack.split('\n')[0]).toBe('WristbandM2MError: m');
      expect(inspect(error).split('\n')[0]).toBe('WristbandM2MError: m');
      expect(inspect(error)).not.toContain('_WristbandM2MError');
    }
    // No exported class of any entry point is renamed by the bundler either.
    for (const file of readdirSync(new URL('dist/', root)).filter((name) => /\.c?js$/.test(name))) {
      expect(readFileSync(new URL(`dist/${file}`, root), 'utf8'), file).not.toMatch(/= class _/);
    }
  });

  it('loads every store entry point through both require() and import, exporting exactly its names', async () => {
    for (const entry of STORE_ENTRIES) {
      const cjs = createRequire(import.meta.url)(`../dist/${entry}.cjs`);
      const esm = await import(new URL(`dist/${entry}.js`, root).href);
      for (const mod of [cjs, esm]) expect(Object.keys(mod).sort(), entry).toEqual(STORE_EXPORTS[entry]);
    }
  });

  it('loads the OpenTelemetry entry through both require() and import, apart from the client and from the OTel API', async () => {
    const cjs = createRequire(import.meta.url)('../dist/opentelemetry.cjs');
    const esm = await import(new URL('dist/opentelemetry.js', root).href);
    for (const mod of [cjs, esm]) {
      expect(Object.keys(mod).sort()).toEqual(['INSTRUMENTATION_SCOPE', 'observeHealth', 'withOpenTelemetry']);
    }
    // @opentelemetry/api is at most an optional peer: neither build requires it, and the entry bundles no client.
    expect(pkg.peerDependenciesMeta?.['@opentelemetry/api']).toEqual({ optional: true });
    for (const file of ['opentelemetry.js', 'opentelemetry.cjs', 'index.js', 'index.cjs']) {
      expect(readFileSync(new URL(`dist/${file}`, root), 'utf8'), file).not.toMatch(/@opentelemetry\//);
    }
    const bytes = await minifiedGzipSize('export * from "./dist/opentelemetry.js";');
    expect(bytes).toBeLessThan(3_000);
  });

  it(`keeps createWristbandM2MClient within ${SIZE_BUDGET_BYTES} bytes minified and gzipped`, async () => {
    const bytes = await minifiedGzipSize('export { createWristbandM2MClient } from "./dist/index.js";');
    // The store's share: the same factory built from src/ with the store seam stubbed out.
    const fromSource = 'export { createWristbandM2MClient } from "./src/index.ts";';
    const [whole, withoutStore] = await Promise.all([
      minifiedGzipSize(fromSource),
      minifiedGzipSize(fromSource, [storeSeamStub]),
    ]);
    console.log(
      `createWristbandM2MClient: ${bytes} bytes minified + gzipped (budget ${SIZE_BUDGET_BYTES}); ` +
        `the shared store's share: ${whole - withoutStore} bytes`,
    );
    expect(withoutStore).toBeLessThan(whole - 1000); // the stub really cut the store out
    expect(bytes).toBeLessThanOrEqual(SIZE_BUDGET_BYTES);
    expect(bytes).toBeGreaterThan(1000); // guards the measurement itself: an empty bundle would pass any budget
  });

  it('packs only dist/, the CLI, README, LICENSE and package.json, with every entry point', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json'], { cwd: root });
    const packed = JSON.parse(stdout)[0].files as { path: string; mode: number }[];
    const files = packed.map((f) => f.path).sort();
    expect(files.filter((f) => !f.startsWith('dist/'))).toEqual([
      'LICENSE',
      'README.md',
      'bin/env-file.mjs',
      'bin/wristband-m2m.mjs',
      'package.json',
    ]);
    // The CLI is executable, so `npx wristband-m2m` runs it.
    expect((packed.find((f) => f.path === 'bin/wristband-m2m.mjs')?.mode ?? 0) & 0o111).not.toBe(0);
    for (const entry of [...ENTRIES, 'testing', 'testing-server', 'opentelemetry']) {
      for (const ext of ['js', 'cjs', 'd.ts', 'd.cts']) expect(files).toContain(`dist/${entry}.${ext}`);
    }
    // Shared declaration chunks are the only other files: no sources, maps or tests.
    expect(files.filter((f) => f.startsWith('dist/') && !/^dist\/[\w-]+\.(c?js|d\.c?ts)$/.test(f))).toEqual([]);
  });

  it('has a JSR manifest with the same name and version, exporting the TypeScript source of every entry point', () => {
    const jsr = JSON.parse(readFileSync(new URL('jsr.json', root), 'utf8'));
    expect(jsr.name).toBe(pkg.name);
    expect(jsr.version).toBe(pkg.version);
    const entries = Object.keys(pkg.exports).filter((key) => key !== './package.json');
    expect(Object.keys(jsr.exports).sort()).toEqual(entries.sort());
    for (const entry of entries) {
      // The same sources tsup builds each entry from: the adapters live in the store folder.
      const source = OTHER_SOURCES[entry] ?? (entry === '.' ? 'index' : `store/${entry.slice(2)}`);
      expect(jsr.exports[entry]).toBe(`./src/${source}.ts`);
    }
    // deno publish --dry-run itself runs in the runtime matrix (test/runtimes.test.ts).
  });

  it('passes publint --strict', async () => {
    const { stdout } = await run(bin('publint'), ['--strict'], { cwd: root });
    expect(stdout).toMatch(/All good!/);
  });

  it('passes are-the-types-wrong in every resolution mode (node10, node16 from CJS and ESM, bundler)', async () => {
    // No --profile: every mode attw knows is checked. attw exits non-zero on any problem, which rejects this promise
    // with its report; the table must also show a green cell for every entry point in every mode.
    const { stdout } = await run(bin('attw'), ['--pack', '.', '--format', 'table-flipped'], { cwd: root });
    expect(stdout).toContain('No problems found');
    expect(stdout).not.toContain('(ignored)');
    const header = stdout.split('\n').find((line) => line.includes('node10')) ?? '';
    for (const mode of ['node10', 'node16 (from CJS)', 'node16 (from ESM)', 'bundler']) expect(header).toContain(mode);
    for (const entry of [
      '"@wristband/typescript-m2m-auth"',
      ...STORE_ENTRIES.map((name) => `/${name}"`),
      '/testing"',
      '/testing/server"',
      '/opentelemetry"',
    ]) {
      const row = stdout.split('\n').find((line) => line.includes(entry)) ?? '';
      expect(row.match(/🟢/g), `${entry}: ${row}`).toHaveLength(4);
    }
  }, 60_000);

  it('maps every subpath export to its declarations for node10 resolution (typesVersions)', () => {
    const subpaths = Object.keys(pkg.exports).filter((key) => key !== '.' && key !== './package.json');
    expect(Object.keys(pkg.typesVersions['*']).sort()).toEqual(subpaths.map((key) => key.slice(2)).sort());
    for (const subpath of subpaths) {
      expect(pkg.typesVersions['*'][subpath.slice(2)]).toEqual([pkg.exports[subpath].require.types]);
    }
  });
});

describe('types from the packed tarball, as consumers resolve them', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'm2m-consumer-'));
  const tsc = bin('tsc');

  beforeAll(async () => {
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: root });
    const tarball = join(scratch, JSON.parse(stdout)[0].filename);
    const installed = join(scratch, 'node_modules/@wristband/typescript-m2m-auth');
    mkdirSync(installed, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
    cpSync(new URL('fixtures/consumer', import.meta.url), scratch, { recursive: true });
  }, 60_000);
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** Compiles one consumer project; resolves to the package files tsc loaded for it. */
  async function compile(project: string): Promise<string[]> {
    const { stdout } = await run(tsc, ['-p', join(scratch, project), '--listFiles'], { cwd: scratch });
    return stdout.split('\n').filter((file) => file.includes('@wristband/typescript-m2m-auth/'));
  }

  it('node16: the ESM consumer gets index.d.ts and the CJS consumer index.d.cts', async () => {
    const files = (await compile('tsconfig.node16.json')).map((f) => f.split('/').at(-1));
    expect(files).toContain('index.d.ts');
    expect(files).toContain('index.d.cts');
  }, 60_000);

  it('node10 (module: commonjs, as in a default NestJS project): every entry point resolves', async () => {
    const files = (await compile('tsconfig.node10.json')).map((f) => f.split('/').at(-1));
    for (const entry of [...ENTRIES, 'opentelemetry']) expect(files).toContain(`${entry}.d.cts`);
  }, 60_000);

  it('bundler: the consumer gets index.d.ts', async () => {
    const files = (await compile('tsconfig.bundler.json')).map((f) => f.split('/').at(-1));
    expect(files).toContain('index.d.ts');
    expect(files.some((f) => f?.endsWith('.d.cts'))).toBe(false);
  }, 60_000);
});
