// A Worker that passes its request's waitUntil to getToken(), as the README's Workers recipe does: used by
// test/workers-refresh.test.ts to check refresh-ahead and shared rounds inside workerd.
import { env } from 'cloudflare:workers';
import { createWristbandM2MClient } from '../../dist/index.js';

const m2m = createWristbandM2MClient({
  clientId: env.CLIENT_ID,
  clientSecret: env.CLIENT_SECRET,
  wristbandApplicationVanityDomain: env.VANITY_DOMAIN,
  tokenExpirationBuffer: 11,
});

export default {
  async fetch(_request, _env, ctx) {
    const token = await m2m.getToken({ waitUntil: ctx.waitUntil.bind(ctx) });
    return Response.json({ token, status: m2m.state.status });
  },
};
