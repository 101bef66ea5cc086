// A Node server whose processes share one M2M token through Redis (ioredis), and keep serving when Redis is down:
// the connection's errors are handled (no `[ioredis] Unhandled error event`), a store failure is a cache miss, and
// an outage is reported once a minute, not once per call.
// Run: npm run example -- redis (4 processes against a local redis-server and the local token server), or
// REDIS_URL=redis://127.0.0.1:6379 CLIENT_ID=… CLIENT_SECRET=… APPLICATION_VANITY_DOMAIN=… DOWNSTREAM_URL=… node redis/server.mjs
import http from 'node:http';
import { Redis } from 'ioredis';
import { createWristbandM2MClient, WristbandM2MError } from '@wristband/typescript-m2m-auth';
import { createRedisTokenStore } from '@wristband/typescript-m2m-auth/redis';

/** One line per minute while Redis fails, not one per call: tokens keep coming from Wristband meanwhile. */
let lastStoreWarning = 0;
const warnStoreDown = (what, error) => {
  if (Date.now() - lastStoreWarning < 60_000) return;
  lastStoreWarning = Date.now();
  console.warn(`M2M token store: ${what} (${error}); tokens come from Wristband until it is back`);
};

// enableOfflineQueue: false fails store calls at once while Redis is down; connect before the warm-up.
const redis = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false, lazyConnect: true });
redis.on('error', (error) => warnStoreDown('Redis connection failed', error.message)); // ioredis reconnects itself
await redis.connect().catch(() => undefined); // reported by the 'error' listener

const m2m = createWristbandM2MClient({
  clientId: process.env.CLIENT_ID,
  clientSecret: process.env.CLIENT_SECRET,
  wristbandApplicationVanityDomain: process.env.APPLICATION_VANITY_DOMAIN,
  tokenStore: createRedisTokenStore(redis),
  onTokenStoreError: ({ operation, error }) => warnStoreDown(`${operation} failed`, error.cause ?? error),
});

const server = http.createServer(async (req, res) => {
  if (req.url !== '/reports') return void res.writeHead(404).end();
  const reply = (status, body) => res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  try {
    // The token, and on a 401 one retry with a fresh token (the rejected one retired in Redis for every process).
    const response = await m2m.fetch(new URL('/reports', process.env.DOWNSTREAM_URL));
    if (!response.ok) return reply(502, JSON.stringify({ error: `reports answered ${response.status}` }));
    reply(200, await response.text());
  } catch (error) {
    // No token could be had (a wrong secret, Wristband down): a JSON 503 with the code, never our message.
    reply(error instanceof WristbandM2MError ? 503 : 500, JSON.stringify({ error: error.code ?? 'INTERNAL' }));
  }
});
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => {
  m2m.destroy();
  redis.disconnect();
  server.close();
  process.exit(0);
});
