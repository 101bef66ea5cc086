// A Cloudflare Worker that calls a protected downstream service with an M2M token.
// Bindings: CLIENT_ID, APPLICATION_VANITY_DOMAIN and DOWNSTREAM_URL as vars (wrangler.toml), CLIENT_SECRET as a
// secret (`wrangler secret put CLIENT_SECRET`; locally, in .dev.vars).
// Run: npm run example -- cloudflare-worker (in workerd through Miniflare), or with wrangler, which bundles it:
//   npm run token-server   # in one terminal: the local token server on :8790 and the API on :8791
//   cd examples/cloudflare-worker && cp .dev.vars.example .dev.vars && npx wrangler@4.86.0 dev
// (wrangler.toml maps the package to ../../src, so a fresh clone needs no build or install first).
import { env } from 'cloudflare:workers';
import { createWristbandM2MClient } from '@wristband/typescript-m2m-auth';

interface Env {
  CLIENT_ID: string;
  CLIENT_SECRET: string;
  APPLICATION_VANITY_DOMAIN: string;
  DOWNSTREAM_URL: string;
}

// Module scope: one client, and one cached token, per isolate. Creating it does no I/O and starts no timer, which
// Workers forbid outside a handler; background refresh stays off because timers do not outlive a request here.
const bindings = env as unknown as Env;
const m2m = createWristbandM2MClient({
  clientId: bindings.CLIENT_ID,
  clientSecret: bindings.CLIENT_SECRET,
  wristbandApplicationVanityDomain: bindings.APPLICATION_VANITY_DOMAIN,
});

/** What is used of the handler's third argument. */
interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContextLike): Promise<Response> {
    if (new URL(request.url).pathname !== '/reports') return new Response('not found', { status: 404 });
    // A refresh this request starts (ahead of expiry, or one other requests wait on too) runs on in waitUntil, so
    // Workers do not cancel it when this response goes out.
    const waitUntil = ctx.waitUntil.bind(ctx);
    for (let attempt = 1; ; attempt++) {
      const token = await m2m.getToken({ waitUntil });
      const response = await fetch(new URL('/reports', env.DOWNSTREAM_URL), {
        headers: { Authorization: `Bearer ${token}` },
      });
      if (response.status !== 401 || attempt === 2) return response;
      m2m.clearToken(token); // retires only the rejected token
    }
  },
};
