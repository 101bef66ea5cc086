// Bounded soak: 1,000,000 getToken() calls across 1,000 token rotations on an injected clock, against the built
// package. Prints one JSON line of figures; test/soak.test.ts runs it and asserts them.
// Run: node --expose-gc test/soak.mjs [calls] [rotations]
import { getEventListeners } from 'node:events';
import { createWristbandM2MClient } from '../dist/index.js';

const CALLS = Number(process.argv[2] ?? 1_000_000);
const ROTATIONS = Number(process.argv[3] ?? 1_000);
const LIFETIME_S = 120; // with the default 60 s buffer, each token is served for 60 s of injected time

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
let now = Date.UTC(2026, 0, 1);
Date.now = () => now;

let requests = 0;
const client = createWristbandM2MClient({
  clientId: 'soak',
  clientSecret: 'soak-secret',
  wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
  backgroundTokenRefreshInterval: 3600, // on, so the test also sees that its timer does not multiply
  fetch: async () => {
    requests++;
    return Response.json({ access_token: `soak.${requests}`, token_type: 'Bearer', expires_in: LIFETIME_S });
  },
});
// One signal that outlives every call, as a server-wide shutdown signal would: its listeners must not pile up.
const longLived = new AbortController().signal;
// Live intervals, counted where they are made: unref'd timers do not show in process.getActiveResourcesInfo().
const live = new Set();
const { setInterval: realSetInterval, clearInterval: realClearInterval } = globalThis;
globalThis.setInterval = (...args) => {
  const handle = realSetInterval(...args);
  live.add(handle);
  return handle;
};
globalThis.clearInterval = (handle) => {
  live.delete(handle);
  realClearInterval(handle);
};
const timers = () => live.size;

async function rotate(calls) {
  for (let i = 0; i < calls; i++) {
    const token = await client.getToken(i % 10 === 0 ? { signal: longLived } : undefined);
    if (token.length === 0) throw new Error('empty token');
  }
  now += (LIFETIME_S - 60) * 1000;
}

// Warm-up rotation (JIT, first allocations), then measure from a collected heap.
await rotate(1_000);
const warmupRequests = requests;
globalThis.gc();
const heapBefore = process.memoryUsage().heapUsed;
const timersBefore = timers();
const started = performance.now();

const perRotation = CALLS / ROTATIONS;
for (let r = 0; r < ROTATIONS; r++) await rotate(perRotation);

const elapsedMs = performance.now() - started;
// Two collections and a turn of the event loop in between, so weakly held and finalisable objects are gone too.
globalThis.gc();
await new Promise((resolve) => setTimeout(resolve, 10));
globalThis.gc();
const heapAfter = process.memoryUsage().heapUsed;
console.log(
  JSON.stringify({
    calls: CALLS,
    rotations: ROTATIONS,
    requests: requests - warmupRequests,
    heapBeforeBytes: heapBefore,
    heapAfterBytes: heapAfter,
    heapGrowthBytes: heapAfter - heapBefore,
    abortListenersLeft: getEventListeners(longLived, 'abort').length,
    timersBefore,
    timersAfter: timers(),
    timersAfterDestroy: (client.destroy(), timers()),
    elapsedMs: Math.round(elapsedMs),
    nsPerCall: Math.round((elapsedMs * 1e6) / CALLS),
  }),
);
