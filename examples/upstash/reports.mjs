// A serverless function (Vercel's and Netlify's web signature: GET(request) answers a Response) that calls a
// protected service with an M2M token shared by every instance through Upstash Redis over REST.
// Run: npm run example -- upstash (4 cold instances; Upstash's REST API emulated in front of a local redis-server,
// since no local Upstash server is published on npm). In production, set UPSTASH_REDIS_REST_URL and
// UPSTASH_REDIS_REST_TOKEN from your Upstash database (Vercel's Upstash integration sets them).
import { Redis } from '@upstash/redis';
import { createWristbandM2MClient } from '@wristband/typescript-m2m-auth';
import { createUpstashTokenStore } from '@wristband/typescript-m2m-auth/upstash';

/** One warning per minute while the store fails, not one per call: tokens keep coming from Wristband meanwhile. */
let lastStoreWarning = 0;

// Module scope: one client per instance, reused by every request it serves.
const m2m = createWristbandM2MClient({
  clientId: process.env.CLIENT_ID,
  clientSecret: process.env.CLIENT_SECRET,
  wristbandApplicationVanityDomain: process.env.APPLICATION_VANITY_DOMAIN,
  tokenStore: createUpstashTokenStore(Redis.fromEnv()), // UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN
  onTokenStoreError: ({ operation, error }) => {
    if (Date.now() - lastStoreWarning < 60_000) return;
    lastStoreWarning = Date.now();
    console.warn(`M2M token store ${operation} failed, tokens come from Wristband meanwhile: ${error.cause ?? error}`);
  },
});

export async function GET() {
  // The token, and on a 401 one retry with a fresh token (the rejected one retired for every instance).
  const response = await m2m.fetch(new URL('/reports', process.env.DOWNSTREAM_URL));
  if (!response.ok) return Response.json({ error: `reports answered ${response.status}` }, { status: 502 });
  return new Response(response.body, { headers: { 'content-type': 'application/json' } });
}
