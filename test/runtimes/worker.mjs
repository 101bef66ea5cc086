// A Cloudflare Worker as the README tells users to write one: the client is created at module scope from the
// bindings imported from cloudflare:workers, and getToken() runs inside the fetch handler.
import { env } from 'cloudflare:workers';
import * as lib from '../../dist/index.js';
import { runScenario } from './scenario.mjs';

const server = { clientId: env.CLIENT_ID, clientSecret: env.CLIENT_SECRET, vanityDomain: env.VANITY_DOMAIN };
const m2m = lib.createWristbandM2MClient({
  clientId: env.CLIENT_ID,
  clientSecret: env.CLIENT_SECRET,
  wristbandApplicationVanityDomain: env.VANITY_DOMAIN,
  backgroundTokenRefreshInterval: 60,
});

export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/token') return Response.json({ token: await m2m.getToken() });
    if (pathname === '/scenario') return Response.json(await runScenario(lib, server));
    return new Response('not found', { status: 404 });
  },
};
