// A Cloudflare Worker whose isolates share one M2M token through a Durable Object: the object runs one call at a
// time, so when several isolates start cold together one fetches the token and the others wait for it.
// Run: npm run example -- durable-object (4 isolates in one workerd, through Miniflare, against the local token
// server), or `npx wrangler@4.86.0 dev` from this folder (wrangler.jsonc binds TOKEN_STORE; see ../cloudflare-worker
// for the local token server's setup).
import { env } from 'cloudflare:workers';
import { createWristbandM2MClient } from '@wristband/typescript-m2m-auth';
import {
  createDurableObjectTokenStore,
  type DurableObjectNamespaceLike,
} from '@wristband/typescript-m2m-auth/durable-object';

// The class TOKEN_STORE names in wrangler.jsonc: the Workers runtime creates its objects.
export { WristbandTokenStoreObject } from '@wristband/typescript-m2m-auth/durable-object';

interface Env {
  CLIENT_ID: string;
  CLIENT_SECRET: string;
  APPLICATION_VANITY_DOMAIN: string;
  DOWNSTREAM_URL: string;
  TOKEN_STORE: DurableObjectNamespaceLike;
}
const bindings = env as unknown as Env;

/** One warning per minute while the store fails, not one per call: tokens keep coming from Wristband meanwhile. */
let lastStoreWarning = 0;

// Module scope: one client per isolate; creating it (and the store) does no I/O and starts no timer.
const m2m = createWristbandM2MClient({
  clientId: bindings.CLIENT_ID,
  clientSecret: bindings.CLIENT_SECRET,
  wristbandApplicationVanityDomain: bindings.APPLICATION_VANITY_DOMAIN,
  tokenStore: createDurableObjectTokenStore(bindings.TOKEN_STORE),
  onTokenStoreError: ({ operation, error }) => {
    if (Date.now() - lastStoreWarning < 60_000) return;
    lastStoreWarning = Date.now();
    console.warn(`M2M token store ${operation} failed, tokens come from Wristband meanwhile: ${error.cause ?? error}`);
  },
});

/** What is used of the handler's third argument. */
interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContextLike): Promise<Response> {
    if (new URL(request.url).pathname !== '/reports') return new Response('not found', { status: 404 });
    const waitUntil = ctx.waitUntil.bind(ctx); // a refresh and its write to the store finish after the response
    for (let attempt = 1; ; attempt++) {
      const token = await m2m.getToken({ waitUntil });
      const response = await fetch(new URL('/reports', env.DOWNSTREAM_URL), {
        headers: { Authorization: `Bearer ${token}` },
      });
      if (response.status !== 401 || attempt === 2) return response;
      m2m.clearToken(token); // retires the rejected token here and in the store, for every isolate
    }
  },
};
