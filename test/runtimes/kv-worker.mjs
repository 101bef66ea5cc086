// A Worker whose client shares its token through Workers KV, as the README's "Fleets and serverless" recipe does.
import { env } from 'cloudflare:workers';
import { createWristbandM2MClient } from '../../dist/index.js';
import { createKVTokenStore } from '../../dist/cloudflare-kv.js';

const m2m = createWristbandM2MClient({
  clientId: env.CLIENT_ID,
  clientSecret: env.CLIENT_SECRET,
  wristbandApplicationVanityDomain: env.VANITY_DOMAIN,
  tokenStore: createKVTokenStore(env.TOKENS),
});

export default {
  async fetch() {
    return Response.json({ token: await m2m.getToken() });
  },
};
