// A failure note carries the wall-clock instant its pause ends, as its writer's clock reads it. A reader must never
// pause longer than the pause the endpoint asked for (nor past the 5-minute cap on any Retry-After), whatever the
// writer's clock said: one process with a clock ahead must not stop the rest of the fleet for hours.
import { expect, it, vi } from 'vitest';
import type { WristbandM2MError } from '../../src/index.js';
import { MAX_RETRY_AFTER_MS } from '../../src/core/schedule.js';
import { after, advanceUntil, fakeEndpoint, scriptedStore, track, useFleetHarness } from '../support/fleet.js';

const { fleetClient } = useFleetHarness();

it('a note written by a process whose clock runs 2 h ahead pauses a reader for what the endpoint asked, not 2 h', async () => {
  const endpoint = fakeEndpoint((n) =>
    n === 1 ? after(10, { kind: 'error', status: 429, retryAfter: '3' }) : after(10, { kind: 'token' }),
  );
  const store = scriptedStore();
  const a = fleetClient(endpoint, store);
  const b = fleetClient(endpoint, store);
  const trueTime = Date.now();
  // Process A's clock is 2 h ahead when its request gets a 429 with Retry-After: 3.
  vi.setSystemTime(trueTime + 2 * 3_600_000);
  const fromA = track(a.getToken());
  await advanceUntil(() => fromA.settled);
  expect((fromA.error as WristbandM2MError).status).toBe(429);
  // Process B's clock is right. It finds A's note a moment later (the note lives 3 s in the store).
  vi.setSystemTime(trueTime + 100);
  const fromB = track(b.getToken());
  await advanceUntil(() => fromB.settled);
  const noted = fromB.error as WristbandM2MError;
  expect(noted.status).toBe(429);
  // At most the 3 s asked for; never past the cap on any Retry-After.
  expect(noted.retryAfterMs ?? 0).toBeLessThanOrEqual(MAX_RETRY_AFTER_MS);
  expect(noted.retryAfterMs ?? 0).toBeLessThanOrEqual(3_000);
  // 10 minutes later B asks the endpoint again.
  await vi.advanceTimersByTimeAsync(10 * 60_000);
  const later = track(b.getToken());
  await advanceUntil(() => later.settled);
  expect(later.value).toBe('tok-2');
});
