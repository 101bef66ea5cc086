import { defineConfig } from 'tsup';

export default defineConfig({
  // The store adapters are entry points of their own, straight from the store folder.
  entry: {
    index: 'src/index.ts',
    redis: 'src/store/redis.ts',
    'cloudflare-kv': 'src/store/cloudflare-kv.ts',
    'durable-object': 'src/store/durable-object.ts',
    dynamodb: 'src/store/dynamodb.ts',
    'deno-kv': 'src/store/deno-kv.ts',
    upstash: 'src/store/upstash.ts',
    testing: 'src/testing/index.ts',
    'testing-server': 'src/testing/server.ts',
    opentelemetry: 'src/opentelemetry.ts',
  },
  format: ['esm', 'cjs'],
  target: 'es2022',
  platform: 'neutral',
  // tsup 8 forces `baseUrl` into its declaration build, which TypeScript 6 rejects (TS5101).
  dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
  clean: true,
  sourcemap: false,
  treeshake: true,
});
