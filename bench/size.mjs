// Bundle size of createWristbandM2MClient alone, and the shared store's share of it (issue 14 item 5).
// Method: esbuild (bundle, minify, ESM, browser-neutral like test/package.test.ts) then gzip -9.
//   factory:       an entry that re-exports only createWristbandM2MClient from dist/index.js (what users bundle);
//   factory (src): the same entry built from src/index.ts, to check the src builds below match dist;
//   without store: the src build with the module that wires the shared store into the client (src/store/fleet.ts)
//                  replaced by a stub exporting `createFleet = () => undefined`; esbuild then drops everything
//                  only that module reached (the store seam, record sealing, the lock). The store's share is
//                  factory (src) minus this. A stub is used rather than subtracting a separate bundle of the store,
//                  because gzip of two bundles does not add up, and a stub keeps the rest of the client unchanged.
//   memory store:  an entry that exports only createMemoryTokenStore (what a user adds to opt in to a store).
// Also reports, from esbuild's metafile, the minified (not gzipped) bytes each store module contributes.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../', import.meta.url));
const STORE_SEAM = /(^|\/)fleet(\.js|\.ts)?$/;

async function bundle(contents, plugins = []) {
  let stubbed = false;
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: plugins.map((p) => p(() => (stubbed = true))),
  });
  const code = result.outputFiles[0].contents;
  const inputs = Object.entries(Object.values(result.metafile.outputs)[0].inputs).map(([path, info]) => ({
    path,
    bytes: info.bytesInOutput,
  }));
  return { gz: gzipSync(code, { level: 9 }).byteLength, min: code.byteLength, inputs, stubbed };
}

const stubStoreSeam = (onStub) => ({
  name: 'stub-store-seam',
  setup(b) {
    b.onResolve({ filter: STORE_SEAM }, (args) => {
      if (!args.importer.includes('/src/')) return undefined;
      onStub();
      return { path: 'store-seam-stub', namespace: 'stub' };
    });
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents: 'export function createFleet() { return undefined; } export function longestFleetMs() { return 0; }',
      loader: 'js',
    }));
  },
});

export async function measureSize() {
  const factory = await bundle('export { createWristbandM2MClient } from "./dist/index.js";');
  const factorySrc = await bundle('export { createWristbandM2MClient } from "./src/index.ts";');
  const withoutStore = await bundle('export { createWristbandM2MClient } from "./src/index.ts";', [stubStoreSeam]);
  const memoryStore = await bundle('export { createMemoryTokenStore } from "./dist/index.js";');
  const storeFiles = new Set(readdirSync(`${root}src/store`).map((name) => `src/store/${name}`));
  const storeModules = factorySrc.inputs.filter((i) => storeFiles.has(i.path) && i.bytes > 0);
  return {
    factoryGz: factory.gz,
    factoryMin: factory.min,
    factorySrcGz: factorySrc.gz,
    withoutStoreGz: withoutStore.stubbed ? withoutStore.gz : undefined,
    storeShareGz: withoutStore.stubbed ? factorySrc.gz - withoutStore.gz : undefined,
    memoryStoreGz: memoryStore.gz,
    storeModulesMin: storeModules,
    factoryModulesMin: factorySrc.inputs.filter((i) => i.bytes > 0),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(await measureSize(), null, 2));
