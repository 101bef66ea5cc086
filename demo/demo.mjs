// `npm run demo`: the client at work, step by step, against the test kit's Wristband-compatible token server and
// its protected resource on loopback (@wristband/typescript-m2m-auth/testing/server, what users test with too). With CLIENT_ID, CLIENT_SECRET and APPLICATION_VANITY_DOMAIN set (in the environment,
// or in a .env file in the current folder: see .env.example), it talks to that real Wristband application instead
// and skips the steps that need a scripted server.
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadEnvFile } from '../bin/env-file.mjs';
import { createMemoryTokenStore, createWristbandM2MClient, WristbandM2MError } from '../dist/index.js';
import { startTestTokenServer } from '../dist/testing-server.js';

// A variable already set in the environment wins over the file, as with `node --env-file`. The CLI's parser, not
// process.loadEnvFile, which Node 20 before 20.12 lacks.
const readEnvFile = existsSync('.env');
const envFileProblem = readEnvFile ? loadEnvFile('.env') : undefined;
if (envFileProblem !== undefined) {
  console.error(`demo: cannot read .env: ${envFileProblem}`);
  process.exit(2);
}
const { CLIENT_ID, CLIENT_SECRET, APPLICATION_VANITY_DOMAIN } = process.env;
const useRealWristband = Boolean(CLIENT_ID && CLIENT_SECRET && APPLICATION_VANITY_DOMAIN);

const local = useRealWristband
  ? undefined
  : await startTestTokenServer({ clientId: 'demo-client-id', clientSecret: 'demo-client-secret', latencyMs: 25 });
const credentials = local
  ? { clientId: local.clientId, clientSecret: local.clientSecret, wristbandApplicationVanityDomain: local.vanityDomain }
  : { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, wristbandApplicationVanityDomain: APPLICATION_VANITY_DOMAIN };

// Counts what goes to the token endpoint, whichever server that is (config.fetch also carries client.fetch calls).
let tokenRequests = 0;
/** @type {typeof fetch} */
const countingFetch = (input, init) => {
  if (String(input instanceof Request ? input.url : input).endsWith('/api/v1/oauth2/token')) tokenRequests++;
  return fetch(input, init);
};

let step = 0;
const heading = (title) => console.log(`\n${++step}. ${title}`);
const say = (line) => console.log(`   ${line}`);
const shown = (token) => `${token.slice(0, 12)}… (${token.length} chars)`;
const elapsed = (since) => `${(performance.now() - since).toFixed(1)} ms`;

console.log(
  useRealWristband
    ? `Wristband M2M client demo against the real application at ${APPLICATION_VANITY_DOMAIN}` +
        `${readEnvFile ? ' (credentials from .env)' : ''}`
    : `Wristband M2M client demo against a local token server at ${local.vanityDomain} (25 ms latency per request)` +
        `${readEnvFile ? ': .env does not set CLIENT_ID, CLIENT_SECRET and APPLICATION_VANITY_DOMAIN' : ''}`,
);

// Against a real application, a failure is most often a setting to fix: say so in one line, with the error code.
// Against the local server every step must work, so anything thrown there is a bug and keeps its stack.
if (useRealWristband) {
  process.on('uncaughtException', (error) => {
    if (!(error instanceof WristbandM2MError)) throw error;
    const details = [error.status && `HTTP ${error.status}`, error.error].filter(Boolean).join(', ');
    console.error(`\nThe demo stopped: ${error.code}${details ? ` (${details})` : ''}: ${error.message}`);
    process.exit(1);
  });
}

heading('Create the client');
/** @type {string[]} */
const refreshReasons = [];
const m2m = createWristbandM2MClient({
  ...credentials,
  fetch: countingFetch,
  // Observability: every refresh is reported with its reason, never with the token.
  onTokenRefreshed: ({ reason }) => refreshReasons.push(reason),
});
say(`Created. Token requests so far: ${tokenRequests} (creating a client does no I/O and starts no timer).`);

heading('First getToken(): a cold cache fetches a token');
let started = performance.now();
const first = await m2m.getToken();
say(`Got ${shown(first)} in ${elapsed(started)}. Token requests: ${tokenRequests}.`);

heading('Cache hits: 100,000 more getToken() calls');
started = performance.now();
for (let i = 0; i < 100_000; i++) await m2m.getToken();
const perCall = ((performance.now() - started) * 1e6) / 100_000;
say(`Same token every time, ${perCall.toFixed(0)} ns per call. Token requests: ${tokenRequests} (no new ones).`);

heading('1,000 concurrent getToken() calls on an empty cache');
m2m.clearToken();
let before = tokenRequests;
started = performance.now();
const tokens = await Promise.all(Array.from({ length: 1000 }, () => m2m.getToken()));
say(
  `${tokens.length} callers got ${new Set(tokens).size} distinct token in ${elapsed(started)}, ` +
    `with ${tokenRequests - before} token request: concurrent calls share one request.`,
);

if (local) {
  heading('A 5xx from the token endpoint is retried');
  local.failNext(503, 502);
  m2m.clearToken();
  before = tokenRequests;
  started = performance.now();
  const afterOutage = await m2m.getToken();
  say(
    `The server answered 503, then 502, then a token: got ${shown(afterOutage)} after ` +
      `${tokenRequests - before} attempts in ${elapsed(started)} (100 ms between attempts).`,
  );

  heading('Wrong credentials fail at once, with an error you can act on');
  const wrong = createWristbandM2MClient({ ...credentials, clientSecret: 'not-the-secret', fetch: countingFetch });
  before = tokenRequests;
  try {
    await wrong.getToken();
  } catch (error) {
    if (!(error instanceof WristbandM2MError)) throw error;
    say(`WristbandM2MError code=${error.code} status=${error.status} error=${error.error} attempts=${error.attempts}`);
    say(`message: ${error.message}`);
    say(`Token requests for it: ${tokenRequests - before} (a 4xx is never retried).`);
  }

  heading('A downstream API answers 401: client.fetch retires the token and retries once');
  let response = await m2m.fetch(local.resourceUrl);
  say(`m2m.fetch(resourceUrl) adds "Authorization: Bearer <token>": ${response.status}.`);
  local.revoke(await m2m.getToken());
  say('The token server now revokes that token (as a key rotation would).');
  const apiCallsBefore = local.resourceCalls.total;
  before = tokenRequests;
  response = await m2m.fetch(local.resourceUrl);
  say(
    `m2m.fetch(resourceUrl) again: ${response.status} ${JSON.stringify(await response.json())}, after ` +
      `${local.resourceCalls.total - apiCallsBefore} API calls (401, then 200) and ${tokenRequests - before} new token request: ` +
      'on the 401, client.fetch called clearToken(token) with the rejected token, then sent the request once more.',
  );
  say(`Refresh reasons reported by onTokenRefreshed so far: ${refreshReasons.join(', ')}.`);
  const { hasValidToken, expiresAt, refreshing } = m2m.state;
  say(
    `client.state: hasValidToken=${hasValidToken} refreshing=${refreshing} expiresAt=${new Date(expiresAt).toISOString()}`,
  );
}

heading('A fleet shares one token through a tokenStore');
// In production the store is Redis (createRedisTokenStore) or Workers KV (createKVTokenStore); here, memory.
const store = createMemoryTokenStore();
const podA = createWristbandM2MClient({ ...credentials, fetch: countingFetch, tokenStore: store });
const podB = createWristbandM2MClient({ ...credentials, fetch: countingFetch, tokenStore: store });
before = tokenRequests;
const tokenA = await podA.getToken();
const tokenB = await podB.getToken();
say(
  `Client A fetched a token; client B started cold and took ${tokenB === tokenA ? 'the same token' : 'another token'} ` +
    `from the store (encrypted with a key derived from the client secret): ${tokenRequests - before} token request for both.`,
);
podA.destroy();
podB.destroy();

heading('Background refresh, in time-lapse');
// The interval is at least 60 s; the demo plays the timer 200 times faster so the refreshes show in a second.
const TIME_LAPSE = 200;
const realSetInterval = globalThis.setInterval;
globalThis.setInterval = (callback, ms, ...args) => realSetInterval(callback, ms / TIME_LAPSE, ...args);
const refreshing = createWristbandM2MClient({
  ...credentials,
  fetch: countingFetch,
  backgroundTokenRefreshInterval: 60,
});
const initial = await refreshing.getToken(); // the schedule starts at the first call, never at creation
globalThis.setInterval = realSetInterval;
before = tokenRequests;
// Two intervals of simulated time; waits for the ticks rather than a fixed time, so a busy machine cannot skew it.
for (const deadline = Date.now() + 5_000; tokenRequests - before < 2 && Date.now() < deadline; ) await sleep(20);
const refreshed = await refreshing.getToken();
say(
  `backgroundTokenRefreshInterval: 60 s. Over two intervals the client fetched ${tokenRequests - before} ` +
    `new tokens by itself; getToken() now returns ${refreshed === initial ? 'the same' : 'a newer'} token with no wait.`,
);
say("The timer is unref'd: this client is never destroyed, and the process still exits on its own below.");

/**
 * Rotating the client secret with no downtime, on the local token server (which, like Wristband, holds up to two
 * secrets per client). Self-contained: it uses its own client and leaves the others alone.
 */
async function showSecretRotation(server) {
  heading('Rotating the client secret: the old one is deleted, the client falls back at once');
  const oldSecret = server.clientSecret;
  const newSecret = `${oldSecret}-rotated`;
  /** @type {number[]} */
  const secretIndexes = [];
  // Its own count: the background-refresh client above keeps fetching on its time-lapse timer meanwhile.
  let requests = 0;
  /** @type {typeof fetch} */
  const fetchCounted = (input, init) => {
    if (String(input instanceof Request ? input.url : input).endsWith('/api/v1/oauth2/token')) requests++;
    return countingFetch(input, init);
  };
  const rotating = createWristbandM2MClient({
    ...credentials,
    // As the README says: the new secret first, the old one as the fallback.
    clientSecret: [newSecret, oldSecret],
    fetch: fetchCounted,
    onTokenRefreshed: ({ secretIndex }) => secretIndexes.push(secretIndex),
  });
  let from = requests;
  await rotating.getToken();
  say(
    `Deployed with clientSecret: [new, old] before the dashboard holds the new secret: ${requests - from} token ` +
      `requests (new rejected, old at once), secretIndex=${secretIndexes.at(-1)}: a fallback secret is in use.`,
  );
  server.addSecret(newSecret);
  say('Dashboard: the new secret is added as the secondary one; both are accepted now, nothing to redeploy.');
  server.revokeSecret(oldSecret);
  rotating.clearToken(); // stands for the next refresh
  from = requests;
  await rotating.getToken();
  say(
    `Dashboard: the old secret is deleted. The next refresh tries old first (it worked last), is rejected and falls ` +
      `back to new in the same round: ${requests - from} token requests, secretIndex=${secretIndexes.at(-1)}.`,
  );
  rotating.clearToken();
  from = requests;
  await rotating.getToken();
  say(`The refresh after that: ${requests - from} token request, new first. Redeploy with [new] when convenient.`);
  rotating.destroy();
}
if (local) await showSecretRotation(local);

m2m.destroy();
await local?.close();
process.on('exit', (code) => {
  console.log(`\nDone: ${tokenRequests} token requests in all. The process exits by itself (code ${code}).`);
});
