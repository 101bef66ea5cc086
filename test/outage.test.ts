// Outages at rotation time, against the real token server on 127.0.0.1. Only the clocks are fake (Date and
// performance), so the network path and the 100 ms pauses between attempts are real, while a minute of outage
// passes in a few seconds: the clocks step one second at a time, with 1,000 calls in each second.
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { startTokenServer } from '../demo/token-server.mjs';
import { createWristbandM2MClient, WristbandM2MError } from '../src/index.js';

let server: Awaited<ReturnType<typeof startTokenServer>>;
beforeAll(async () => {
  server = await startTokenServer({ tokenLifetimeSeconds: 3600 });
});
afterAll(() => server.close());
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  server.reset();
});

/** The endpoint answers 503 to everything until `up()`. */
function outage(): { up: () => void } {
  let down = true;
  const fail = (): void => {
    if (!down) return;
    server.answerNext((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"temporarily_unavailable"}');
      fail();
    });
  };
  fail();
  return {
    up() {
      down = false;
      server.reset();
    },
  };
}

/** 1,000 calls spread over one (fake) second, then the clocks move one second on. */
async function secondOfTraffic(
  client: ReturnType<typeof createWristbandM2MClient>,
): Promise<{ ok: number; failed: unknown[] }> {
  const results = await Promise.allSettled(Array.from({ length: 1000 }, () => client.getToken()));
  // Real time for the round this second started to finish (3 attempts 100 ms apart on loopback), so each fake
  // second sees the outcome of the one before, as it would in real time.
  while (client.state.refreshing) await new Promise((resolve) => setTimeout(resolve, 5));
  vi.advanceTimersByTime(1000);
  const failed = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
  return { ok: results.length - failed.length, failed };
}

function client() {
  return createWristbandM2MClient({
    clientId: server.clientId,
    clientSecret: server.clientSecret,
    wristbandApplicationVanityDomain: server.vanityDomain,
  });
}

it('fails no call while the endpoint is down for 30 s from refreshAt, and sends a bounded number of requests', async () => {
  vi.spyOn(Math, 'random').mockReturnValue(0.5);
  const m2m = client();
  await m2m.getToken();
  vi.useFakeTimers({ toFake: ['Date', 'performance'] });
  vi.advanceTimersByTime(3540_000);
  const before = server.requestCount;
  const { up } = outage();
  let failed = 0;
  for (let s = 0; s < 30; s++) failed += (await secondOfTraffic(m2m)).failed.length;
  expect(failed).toBe(0);
  // 2 rounds at once, then backoffs of 0.5, 1, 2, 4, 8 s: at most 7 rounds of 3 attempts in 30 s.
  expect(server.requestCount - before).toBeLessThanOrEqual(21);
  expect(m2m.state.status).toBe('degraded');
  up();
  await vi.waitFor(async () => {
    await secondOfTraffic(m2m);
    expect(m2m.state.status).toBe('fresh');
  });
  m2m.destroy();
});

it('fails fast past usableUntil, and sends fewer than 12 rounds in 60 s of outage', async () => {
  vi.spyOn(Math, 'random').mockReturnValue(0.5);
  const m2m = client();
  await m2m.getToken();
  vi.useFakeTimers({ toFake: ['Date', 'performance'] });
  vi.advanceTimersByTime(3590_000);
  const before = server.requestCount;
  outage();
  let ok = 0;
  const codes = new Set<string>();
  for (let s = 0; s < 60; s++) {
    const second = await secondOfTraffic(m2m);
    ok += second.ok;
    for (const error of second.failed) codes.add(error instanceof WristbandM2MError ? error.code : 'other');
  }
  expect(ok).toBe(0);
  expect([...codes]).toEqual(['TOKEN_ENDPOINT_HTTP_ERROR']);
  const rounds = (server.requestCount - before) / 3;
  expect(rounds).toBeLessThan(12);
  m2m.destroy();
});
