// The stores are typed structurally, so a user passes their own binding or client. These compile a user's code
// against the published declarations (dist/) and each platform's real typings: a Worker (@cloudflare/workers-types)
// exporting the Durable Object and passing its bindings, and a Deno program (@types/deno) passing
// `await Deno.openKv()`. One project per platform: their typings conflict with each other and with Node's. (The AWS SDK's DynamoDBDocument and @upstash/redis's
// Redis are passed as they are in test/store/dynamodb.test.ts and test/store/upstash.test.ts, which the type check
// of the tests compiles.)
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
// Inside node_modules/, so that the projects resolve the typings installed there (and git ignores them).
mkdirSync(join(root, 'node_modules/.cache'), { recursive: true });
const scratch = mkdtempSync(join(root, 'node_modules/.cache/m2m-platform-types-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * Compiles `source` (importing the package as `PKG`) with `types` and `lib`, its libraries checked too; resolves to
 * tsc's output (empty when it compiles).
 */
async function compile(name: string, types: string[], lib: string[], source: string): Promise<string> {
  const dir = join(scratch, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'user.ts'), source.replaceAll('PKG', join(root, 'dist')));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib,
        module: 'ESNext',
        moduleResolution: 'Bundler',
        types,
        strict: true,
        exactOptionalPropertyTypes: true,
        skipLibCheck: false,
        noEmit: true,
      },
      files: ['user.ts'],
    }),
  );
  try {
    await promisify(execFile)(join(root, 'node_modules/.bin/tsc'), ['-p', dir]);
    return '';
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error);
  }
}

describe.concurrent('the stores against each platform’s own typings', () => {
  it('a Worker exports WristbandTokenStoreObject and passes its DurableObjectNamespace and KVNamespace bindings', async () => {
    const output = await compile(
      'workers',
      ['@cloudflare/workers-types'],
      ['ES2022'],
      `
      import { createWristbandM2MClient } from 'PKG/index.js';
      import { createKVTokenStore } from 'PKG/cloudflare-kv.js';
      import { createDurableObjectTokenStore, WristbandTokenStoreObject } from 'PKG/durable-object.js';

      export { WristbandTokenStoreObject };
      interface Env { TOKEN_STORE: DurableObjectNamespace; TOKENS: KVNamespace; CLIENT_SECRET: string }
      export default {
        async fetch(_request, env, ctx) {
          const m2m = createWristbandM2MClient({
            clientId: 'id',
            clientSecret: env.CLIENT_SECRET,
            wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
            tokenStore: createDurableObjectTokenStore(env.TOKEN_STORE),
          });
          createKVTokenStore(env.TOKENS);
          return new Response(await m2m.getToken({ waitUntil: ctx }));
        },
      } satisfies ExportedHandler<Env>;
      // The runtime constructs the class with the object's state.
      declare const state: DurableObjectState;
      const object: { fetch(request: Request): Promise<Response>; alarm(): Promise<void> } =
        new WristbandTokenStoreObject(state, {});
      void object;
      `,
    );
    expect(output).toBe('');
  }, 60_000);

  it('a Deno program passes the Deno.Kv that Deno.openKv() resolves to', async () => {
    const output = await compile(
      'deno',
      ['deno'],
      // @types/deno holds the Deno namespace; the web globals Deno also has (setTimeout, fetch) come from the DOM lib.
      ['ESNext', 'DOM'],
      `
      import { createDenoKvTokenStore } from 'PKG/deno-kv.js';
      const kv: Deno.Kv = await Deno.openKv();
      export const store = createDenoKvTokenStore(kv);
      `,
    );
    expect(output).toBe('');
  }, 60_000);

  it('a binding of the wrong kind does not compile (the check can fail)', async () => {
    const output = await compile(
      'wrong',
      ['@cloudflare/workers-types'],
      ['ES2022'],
      `
      import { createDurableObjectTokenStore } from 'PKG/durable-object.js';
      declare const kv: KVNamespace;
      createDurableObjectTokenStore(kv);
      `,
    );
    expect(output).toMatch(/TS2345/);
  }, 60_000);
});
