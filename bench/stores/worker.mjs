// The Worker of bench/stores.mjs's Durable Object figures, on the built package, bundled by esbuild. Several copies run
// as isolates of one workerd; the first hosts the objects. Routes (POST, JSON):
// - /first {config, store}: this isolate's first getToken() for `config` (a client per config, with the Durable
//   Object store when `store` is true), timed inside the Worker; { ms, token, storeErrors };
// - /reads: a 300-byte value written, then read back in 5 batches of 40 sequential get() calls; { perReadMs }.
// Inside workerd the clock advances only across I/O, so a batch is timed as a whole.
import { createWristbandM2MClient } from '../../dist/index.js';
import { createDurableObjectTokenStore, WristbandTokenStoreObject } from '../../dist/durable-object.js';

export { WristbandTokenStoreObject };

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    try {
      if (pathname === '/reads') {
        const store = createDurableObjectTokenStore(env.TOKEN_STORE);
        const value = 'x'.repeat(300);
        await store.set('bench:read', value, 60);
        const perReadMs = [];
        for (let batch = 0; batch < 5; batch++) {
          const started = Date.now();
          for (let i = 0; i < 40; i++) if ((await store.get('bench:read')) !== value) throw new Error('another value');
          perReadMs.push((Date.now() - started) / 40);
        }
        return Response.json({ perReadMs });
      }
      if (pathname === '/first') {
        const { config, store } = await request.json();
        const storeErrors = [];
        const m2m = createWristbandM2MClient({
          clientId: config.clientId,
          clientSecret: config.clientSecret,
          wristbandApplicationVanityDomain: config.vanityDomain,
          tokenStore: store ? createDurableObjectTokenStore(env.TOKEN_STORE) : undefined,
          tokenStoreTimeout: 5,
          onTokenStoreError: ({ operation, error }) => void storeErrors.push(`${operation}: ${error.message}`),
        });
        const started = Date.now();
        const token = await m2m.getToken({ waitUntil: ctx });
        return Response.json({ ms: Date.now() - started, token, storeErrors });
      }
      return Response.json({ error: 'no such route' }, { status: 404 });
    } catch (error) {
      return Response.json({ error: String(error?.stack ?? error) }, { status: 500 });
    }
  },
};
