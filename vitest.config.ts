import { existsSync } from 'node:fs';
import { configDefaults, defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

// The test files are grouped into vitest projects by what they need besides Node and the root node_modules/, so that
// a unit file runs in seconds on a fresh clone (`npx vitest run test/config.test.ts` installs and builds nothing),
// while `vitest run` (the last step of `npm test`) still runs every file. Each need is a global setup in
// test/support/setup/<need>.ts; vitest runs a project's global setups only when one of its files is in the run, and
// each need runs once per run however many projects list it:
//
//   redis-server   redis-server on the PATH (apt-get installs it when it may; otherwise the run stops at once with
//                  the command to run)
//   dist           tsup builds dist/: the package as npm publishes it, which child processes, Workers and the
//                  packaging checks load
//   runtimes       Node 22/24, Deno, Bun and Miniflare (workerd) installed from npm into the git-ignored .tools/
//   examples-deps  npm ci in examples/ (express, axios)
//   bench-deps     npm ci in bench/ (mitata, the peer libraries)
//   chromium       Debian's headless Chromium (apt-get installs it when it may, as redis-server), and the docs site
//                  built into docs/api/ by npm run docs
//   wrangler       wrangler 4.86.0 installed from npm into the git-ignored .tools/wrangler/
//
// Every *.test.ts under test/, in any subfolder, is in the `unit` project (no global setup) unless NEEDS lists it.
// A new file that loads dist/ (a child process, a Worker), anything from .tools/, examples/ or bench/, or starts
// redis-server must be listed here, or it fails on a fresh clone and passes on a machine that ran the suite before.
type Need = 'redis-server' | 'dist' | 'runtimes' | 'examples-deps' | 'bench-deps' | 'chromium' | 'wrangler';
const NEEDS: Record<string, Need[]> = {
  'test/bench.test.ts': ['dist', 'bench-deps'], // bench/run.mjs --smoke: the peers from bench/, the size of dist/
  'test/cli.test.ts': ['dist'], // bin/wristband-m2m.mjs imports dist/
  'test/store/cloudflare-kv.test.ts': ['dist', 'runtimes'], // Miniflare from .tools/; the Worker imports dist/
  'test/demo.test.ts': ['dist'], // demo/demo.mjs imports dist/
  'test/docs-js.test.ts': ['dist', 'examples-deps'], // runs the JavaScript Express recipe with express from examples/
  'test/docs-site.test.ts': ['chromium'], // the built docs site, opened in headless Chromium
  'test/errors.test.ts': ['dist'], // loads dist/index.js and dist/index.cjs
  'test/examples.test.ts': ['redis-server', 'dist', 'runtimes', 'examples-deps'], // Express, Bun, Deno, workerd, axios; the store fleets
  'test/package.test.ts': ['dist'], // publint, attw, npm pack, consumers compiled against the tarball
  'test/readme.test.ts': ['examples-deps'], // the README blocks compile against axios's types from examples/
  'test/redis-recipe.test.ts': ['redis-server', 'dist'], // test/fixtures/redis-recipe.mjs imports dist/
  'test/store/redis.test.ts': ['redis-server', 'dist'], // test/fleet-worker.mjs imports dist/
  'test/runtimes.test.ts': ['dist', 'runtimes'], // the runtime matrix
  'test/soak.test.ts': ['dist'], // test/soak.mjs imports dist/
  'test/store/deno-kv.test.ts': ['dist', 'runtimes'], // Deno from .tools/; test/store/deno-kv-process.mjs imports dist/
  'test/store/durable-object.test.ts': ['dist', 'runtimes'], // Miniflare from .tools/; the Worker imports dist/
  'test/store/platform-types.test.ts': ['dist'], // compiles Worker and Deno code against dist/'s declarations
  'test/store/redis-contract.test.ts': ['redis-server'], // the store contract on a real redis-server
  'test/store/upstash.test.ts': ['redis-server'], // the emulated Upstash REST API fronts a real redis-server
  'test/testing/kit-runtimes.test.ts': ['dist', 'runtimes'], // the built kit on Deno, Bun and workerd from .tools/
  'test/timers.test.ts': ['dist'], // one test: an idle child process on dist/ exits by itself
  'test/workers-refresh.test.ts': ['dist', 'runtimes'], // Miniflare from .tools/; the Worker imports dist/
  'test/workers-isolate.test.ts': ['dist', 'runtimes'], // Miniflare from .tools/; the Worker imports dist/
  'test/wrangler.test.ts': ['wrangler'], // wrangler dev on the Worker examples, copied without dist/ or node_modules
};

/** The order a project meets its needs in: one that cannot get redis-server says so before it builds anything. */
const ORDER: Need[] = ['redis-server', 'chromium', 'dist', 'runtimes', 'examples-deps', 'bench-deps', 'wrangler'];

const shared = { environment: 'node', testTimeout: 15_000 } as const;

/** One project per distinct set of needs, named after them (`dist+runtimes`), with their files and global setups. */
function heavyProjects(): TestProjectInlineConfiguration[] {
  const groups = new Map<string, { needs: Need[]; files: string[] }>();
  for (const [file, needs] of Object.entries(NEEDS)) {
    if (!existsSync(new URL(file, import.meta.url)))
      throw new Error(`vitest.config.ts lists ${file} in NEEDS, but there is no such file`);
    const sorted = ORDER.filter((need) => needs.includes(need));
    const name = sorted.join('+');
    const group = groups.get(name) ?? { needs: sorted, files: [] };
    group.files.push(file);
    groups.set(name, group);
  }
  return [...groups].map(([name, { needs, files }]) => ({
    test: { ...shared, name, include: files, globalSetup: needs.map((need) => `test/support/setup/${need}.ts`) },
  }));
}

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...Object.keys(NEEDS)],
        },
      },
      ...heavyProjects(),
    ],
    // Every run, whatever its files: a temporary folder of its own, which must be empty at the end.
    globalSetup: ['test/support/setup/temp-folder.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
