// A round given up past its deadline moves each of its callers to the round replacing it, once. A caller that has
// already left the round (its signal aborted) or already moved (its own timer gave the round up) must not be moved
// again: that second move calls getToken() for nobody, whose rejection goes unhandled.
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { createWristbandM2MClient, type WristbandM2MClient } from '../../src/index.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => void process.off('unhandledRejection', onUnhandled));

const clients: WristbandM2MClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
  vi.useRealTimers();
  unhandled.length = 0;
});

const realWait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
async function flush(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}
function track<T>(promise: Promise<T>) {
  const result: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(result, { settled: true, value }),
    (error: unknown) => Object.assign(result, { settled: true, error }),
  );
  return result;
}

/** A fetch whose first call never answers (a round wedged, as in a Worker whose request ended); later calls get `later`. */
function wedgedThen(later: () => Response) {
  let calls = 0;
  const fetch = (_: unknown, __?: RequestInit): Promise<Response> => {
    calls++;
    return calls === 1 ? new Promise<Response>(() => undefined) : Promise.resolve(later());
  };
  return { fetch, calls: () => calls };
}

function client(fetch: (input: unknown, init?: RequestInit) => Promise<Response>): WristbandM2MClient {
  const c = createWristbandM2MClient({
    clientId: 'id',
    clientSecret: 'secret-value-123',
    wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
    tokenRequestTimeout: 1,
    fetch: fetch as typeof globalThis.fetch,
  });
  clients.push(c);
  return c;
}

it('a caller whose signal aborted is not moved to the replacing round when its round is given up', async () => {
  // Only the clocks are fake: the round's real timers do not fire within the test, as in a Worker whose request ended.
  vi.useFakeTimers({ toFake: ['Date', 'performance'] });
  const endpoint = wedgedThen(() => new Response(JSON.stringify({ error: 'invalid_request' }), { status: 400 }));
  const m2m = client(endpoint.fetch);
  const controller = new AbortController();
  const first = track(m2m.getToken({ signal: controller.signal }));
  await flush();
  controller.abort(new Error('caller gone'));
  await flush();
  expect(first.error).toMatchObject({ code: 'ABORTED' });
  // Past the round's deadline; the next call gives it up (the sweep) and starts the round replacing it.
  vi.advanceTimersByTime(60_000);
  const second = track(m2m.getToken());
  await flush();
  await realWait(20);
  expect(second.settled).toBe(true);
  // The aborted caller left long ago: nothing may be started, or rejected, on its behalf.
  expect(unhandled).toEqual([]);
});

it('a caller whose own timer gave its round up moves to the replacing round once, not twice', async () => {
  vi.useFakeTimers({ toFake: ['Date', 'performance'] });
  const endpoint = wedgedThen(() => new Response(JSON.stringify({ error: 'invalid_request' }), { status: 400 }));
  const m2m = client(endpoint.fetch);
  // Round 1 wedges. Its deadline is 3 attempts of 1 s, 2 pauses of 0.1 s, and 1 s of grace: 4.2 s.
  const first = track(m2m.getToken());
  await flush();
  // A caller joins 5 ms before the deadline: its own (real) timer fires in about 6 ms.
  vi.advanceTimersByTime(4_195);
  const late = track(m2m.getToken());
  await flush();
  // The clocks run past the deadline with no call to notice: the caller's own timer gives the round up.
  vi.advanceTimersByTime(1_000);
  await realWait(30);
  await flush();
  expect(late.error).toMatchObject({ code: 'TOKEN_ENDPOINT_HTTP_ERROR', status: 400 });
  expect(first.error).toMatchObject({ code: 'TOKEN_ENDPOINT_HTTP_ERROR', status: 400 });
  // One replacing round, and each caller's getToken() settled exactly once: no second getToken() on its behalf.
  expect(endpoint.calls()).toBe(2);
  expect(unhandled).toEqual([]);
});
