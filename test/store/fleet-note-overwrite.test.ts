// A failure note belongs to the lock owner that wrote it. A process whose lock ran out while its request ran must
// not wipe out the note of the lock's next holder: that note may carry the endpoint's Retry-After, which the next
// process to take the lock must honour ("While a holder's Retry-After lasts, the next process to take the lock
// honours it too").
import { expect, it, vi } from 'vitest';
import type { WristbandM2MError } from '../../src/index.js';
import { after, advanceUntil, fakeEndpoint, scriptedStore, track, useFleetHarness } from '../support/fleet.js';

const { fleetClient } = useFleetHarness();
/** A request times out after 5 ms and a lock wait after 10 ms: locks run out while requests are on their way. */
const QUICK = { tokenRequestTimeout: 5, tokenStoreLockWait: 10 };

it("a late failure under a lock that ran out does not erase the next holder's Retry-After note", async () => {
  const endpoint = fakeEndpoint((n) => {
    // A's request: fails late (a 400, no Retry-After), after its lock ran out.
    if (n === 1) return after(2_000, { kind: 'error', status: 400, error: 'invalid_request' });
    // B's request: 429 with Retry-After: 30.
    if (n === 2) return after(100, { kind: 'error', status: 429, error: 'slow_down', retryAfter: '30' });
    return after(10, { kind: 'token' });
  });
  const store = scriptedStore();
  const a = fleetClient(endpoint, store, QUICK);
  const b = fleetClient(endpoint, store, QUICK);
  const c = fleetClient(endpoint, store, QUICK);
  const fromA = track(a.getToken());
  await vi.advanceTimersByTimeAsync(100);
  const [lockKey] = store.locks().keys();
  store.drop(lockKey as string); // A's lock runs out (evicted, a store restart) while its request runs
  const fromB = track(b.getToken()); // takes the lock, gets a 429 with Retry-After: 30
  await advanceUntil(() => fromA.settled && fromB.settled, 10_000);
  expect((fromB.error as WristbandM2MError).status).toBe(429);
  expect((fromA.error as WristbandM2MError).status).toBe(400);
  // 5 s into B's 30 s pause, process C needs a token: it takes the free lock and must honour B's Retry-After.
  await vi.advanceTimersByTimeAsync(5_000);
  const fromC = track(c.getToken());
  await advanceUntil(() => fromC.settled, 10_000);
  expect(endpoint.sent).toHaveLength(2);
  expect(fromC.error).toMatchObject({ status: 429 });
});
