// Workers KV as the shared store, in workerd through Miniflare with a real (persisted) KV binding: a cold isolate
// starts with the token an earlier isolate fetched, instead of a token request.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenServer } from '../../demo/token-server.mjs';
import { createKVTokenStore, KV_MIN_TTL_SECONDS } from '../../src/store/cloudflare-kv.js';
import { disposeMiniflare } from '../runtimes/matrix.mjs';
import { recordKeyFor } from '../support/fleet.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { Miniflare } = createRequire(`${root}.tools/miniflare/`)('miniflare');
let tokenServer: Awaited<ReturnType<typeof startTokenServer>>;
const kvPersist = mkdtempSync(join(tmpdir(), 'm2m-kv-'));

beforeAll(async () => {
  tokenServer = await startTokenServer({ clientId: 'kv-client', clientSecret: 'kv-secret' });
});
afterAll(async () => {
  await tokenServer.close();
  rmSync(kvPersist, { recursive: true, force: true });
});

/** A fresh isolate of the KV Worker; the KV data persists in `kvPersist` between isolates. */
function isolate() {
  return new Miniflare({
    modules: true,
    scriptPath: `${root}test/runtimes/kv-worker.mjs`,
    modulesRoot: root,
    modulesRules: [{ type: 'ESModule', include: ['**/*.js', '**/*.mjs'] }],
    compatibilityDate: '2025-09-01',
    kvNamespaces: ['TOKENS'],
    kvPersist,
    bindings: {
      CLIENT_ID: tokenServer.clientId,
      CLIENT_SECRET: tokenServer.clientSecret,
      VANITY_DOMAIN: tokenServer.vanityDomain,
    },
  });
}

describe('createKVTokenStore in workerd', () => {
  it('lets a second cold isolate start with the first one’s token: one token request for both', async () => {
    const first = isolate();
    let token: string;
    try {
      token = (await (await first.dispatchFetch('http://worker/')).json()).token;
      expect(tokenServer.requestCount).toBe(1);
      const kv = await first.getKVNamespace('TOKENS');
      const raw: string = await kv.get(await recordKeyFor(tokenServer));
      expect(raw).toMatch(/^v2\./);
      expect(raw).not.toContain(token);
      expect(raw).not.toContain(tokenServer.clientSecret);
    } finally {
      await disposeMiniflare(first);
    }
    const second = isolate();
    try {
      expect((await (await second.dispatchFetch('http://worker/')).json()).token).toBe(token);
      expect(tokenServer.requestCount).toBe(1);
    } finally {
      await disposeMiniflare(second);
    }
  }, 60_000);

  it(`never asks KV for a TTL under its ${KV_MIN_TTL_SECONDS} s minimum`, async () => {
    const puts: unknown[] = [];
    const store = createKVTokenStore({
      get: async () => null,
      put: async (_key, _value, options) => void puts.push(options),
      delete: async () => undefined,
    });
    await store.set('k', 'v', 5);
    await store.set('k', 'v', 3599.2);
    expect(puts).toEqual([{ expirationTtl: 60 }, { expirationTtl: 3600 }]);
    expect(store.acquire).toBeUndefined();
  });
});
