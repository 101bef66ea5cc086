// A failure note belongs to the lock owner that wrote it. A process whose lock ran out while its request ran must
// not wipe out the note of the lock's next holder: that note may carry the endpoint's Retry-After, which the next
// process to take the lock must honour ("While a holder's Retry-After lasts, the next process to take the lock
// honours it too").
import { expect, it, vi } from 'vitest';
import { createWristbandM2MClient, type WristbandM2MClientConfig, type WristbandM2MError } from '../../src/index.js';
import {
  type Answer,
  advanceUntil,
  fakeEndpoint,
  type ScriptedStore,
  scriptedStore,
  track,
  useFleetHarness,
} from '../support/fleet.js';

const { destroyAfterEach } = useFleetHarness();
const after = (ms: number, answer: Answer): Answer => ({ ...answer, delayMs: ms }) as Answer;

function fleetClient(endpoint: { fetch: WristbandM2MClientConfig['fetch'] }, store: ScriptedStore) {
  const client = createWristbandM2MClient({
    clientId: 'fleet',
    clientSecret: 'fleet-secret',
    wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
    fetch: endpoint.fetch,
    tokenStore: store,
    tokenRequestTimeout: 5,
    tokenStoreLockWait: 10,
  });
  destroyAfterEach(client);
  return client;
}

it("a late failure under a lock that ran out does not erase the next holder's Retry-After note", async () => {
  const endpoint = fakeEndpoint((n) => {
    // A's request: fails late (a 400, no Retry-After), after its lock ran out.
    if (n === 1) return after(2_000, { kind: 'error', status: 400, error: 'invalid_request' });
    // B's request: 429 with Retry-After: 30.
    if (n === 2) return after(100, { kind: 'error', status: 429, error: 'slow_down', retryAfter: '30' });
    return after(10, { kind: 'token' });
  });
  const store = scriptedStore();
  const a = fleetClient(endpoint, store);
  const b = fleetClient(endpoint, store);
  const c = fleetClient(endpoint, store);
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
