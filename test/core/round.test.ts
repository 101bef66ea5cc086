// A round's longest duration: counted from the secrets it actually holds (a provider may return any number), so a
// slow but working round is never given up as wedged, and its store lock outlives it.
import { describe, expect, it } from 'vitest';
import { longestRoundMs } from '../../src/core/round.js';
import { createWristbandM2MClient, type WristbandM2MError } from '../../src/index.js';
import {
  type Answer,
  after,
  advanceUntil,
  fakeEndpoint,
  scriptedStore,
  track,
  useFleetHarness,
} from '../support/fleet.js';

const { destroyAfterEach } = useFleetHarness();
const SECRETS = ['secret-one', 'secret-two', 'secret-three', 'secret-four', 'secret-five'];

describe('longestRoundMs', () => {
  const bounds = { requestTimeoutMs: 1_000, provider: true, store: undefined };
  it('grows by one request timeout per extra secret', () => {
    expect(longestRoundMs(bounds, 3) - longestRoundMs(bounds, 2)).toBe(1_000);
    expect(longestRoundMs(bounds, 5) - longestRoundMs(bounds, 1)).toBe(4_000);
  });
  it('adds the provider call, and the store calls and lock wait with a store', () => {
    const plain = longestRoundMs({ ...bounds, provider: false }, 1);
    expect(longestRoundMs(bounds, 1) - plain).toBe(1_000);
    const stored = longestRoundMs({ ...bounds, store: { timeoutMs: 500, lockWaitMs: 5_000 } }, 1);
    expect(stored - longestRoundMs(bounds, 1)).toBeGreaterThanOrEqual(5_000 + 7 * 500);
  });
});

describe('a round whose provider returns five secrets', () => {
  /** Four secrets rejected, then two 503s and a token: 7 requests of 950 ms each, 6.85 s in all. */
  const slowRotation = (n: number): Answer =>
    n <= 4
      ? after(950, { kind: 'error', status: 401, error: 'invalid_client' })
      : n <= 6
        ? after(950, { kind: 'error', status: 503 })
        : after(950, { kind: 'token' });

  it('is not given up as wedged while it works: a caller arriving after 6.5 s joins it', async () => {
    const endpoint = fakeEndpoint(slowRotation);
    const client = createWristbandM2MClient({
      clientId: 'round',
      clientSecret: () => SECRETS,
      wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
      tokenRequestTimeout: 1,
      fetch: endpoint.fetch,
    });
    destroyAfterEach(client);
    const first = track(client.getToken());
    await advanceUntil(() => performance.now() >= 6_500, 10_000, 50);
    const second = track(client.getToken());
    await advanceUntil(() => first.settled && second.settled, 20_000);
    expect((first.error as WristbandM2MError | undefined)?.code).toBeUndefined();
    expect(first.value).toBe('tok-7');
    expect(second.value).toBe('tok-7');
    expect(endpoint.sent).toHaveLength(7);
  });

  it('keeps its store lock for its whole duration: the lock TTL counts every secret', async () => {
    const endpoint = fakeEndpoint(slowRotation);
    const store = scriptedStore();
    const ttls: number[] = [];
    const acquire = store.acquire?.bind(store);
    store.acquire = (key, ttl, owner) => {
      ttls.push(ttl);
      return (acquire as NonNullable<typeof acquire>)(key, ttl, owner);
    };
    const client = createWristbandM2MClient({
      clientId: 'round',
      clientSecret: () => SECRETS,
      wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
      tokenRequestTimeout: 1,
      tokenStore: store,
      fetch: endpoint.fetch,
    });
    destroyAfterEach(client);
    const first = track(client.getToken());
    await advanceUntil(() => first.settled, 20_000);
    expect(first.value).toBe('tok-7');
    const longest = longestRoundMs(
      { requestTimeoutMs: 1_000, provider: true, store: { timeoutMs: 1_000, lockWaitMs: 5_000 } },
      SECRETS.length,
    );
    expect(ttls).toEqual([Math.ceil(longest / 1000)]);
  });
});
