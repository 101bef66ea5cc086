// One process of a fleet (test/store/redis.test.ts): the built package, a Redis store when given one, and steps read
// from stdin as JSON lines; each step's result is one JSON line on stdout. `clientSecret` may be a list.
import { createInterface } from 'node:readline';
import Redis from 'ioredis';
import { createWristbandM2MClient } from '../dist/index.js';
import { createRedisTokenStore } from '../dist/redis.js';

const config = JSON.parse(process.argv[2]);
// Fail fast while Redis is down rather than queue commands; the client counts each failure as a miss.
const redis = config.redisUrl
  ? new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 200 })
  : undefined;
redis?.on('error', () => undefined);
// What each step reports besides its result: store errors seen so far, and the refresh the step caused, if any.
let storeErrors = 0;
let refreshed;
const m2m = createWristbandM2MClient({
  clientId: config.clientId,
  clientSecret: config.clientSecret,
  wristbandApplicationVanityDomain: config.vanityDomain,
  tokenStoreTimeout: 0.5,
  onTokenStoreError: () => storeErrors++,
  onTokenRefreshed: ({ source, secretIndex }) => (refreshed = { source, secretIndex }),
  ...(redis ? { tokenStore: createRedisTokenStore(redis) } : {}),
});
const say = (result) =>
  console.log(JSON.stringify(result.step === 'ready' ? result : { ...result, storeErrors, refreshed }));

if (redis) await new Promise((resolve) => redis.once('ready', resolve));
say({ step: 'ready' });
for await (const line of createInterface({ input: process.stdin })) {
  const { step } = JSON.parse(line);
  refreshed = undefined;
  try {
    if (step === 'cold') say({ step, token: await m2m.getToken() });
    if (step === 'call-api') say({ step, status: (await m2m.fetch(`${config.vanityDomain}/_protected`)).status });
    if (step === 'refetch') {
      m2m.clearToken();
      say({ step, token: await m2m.getToken() });
    }
    if (step === 'exit') break;
  } catch (error) {
    say({ step, error: String(error) });
  }
}
m2m.destroy();
redis?.disconnect();
