// Hostile review of the rewritten TokenCache: each test reproduces a defect found in review (it failed before the
// fix next to it in src/). Fake timers always fake Date and performance; a process 'unhandledRejection' listener
// fails the file if anything rejects unhandled.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWristbandM2MClient, type WristbandM2MClient, type WristbandM2MClientConfig } from '../src/index.js';

const seenCredentialCounts: number[] = [];
vi.mock('../src/redact.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/redact.js')>();
  return {
    ...original,
    // Delegates; records how many credential forms the client asks to scrub, to see whether that list grows.
    redact: (text: string, forms: readonly string[]) => {
      seenCredentialCounts.push(forms.length);
      return original.redact(text, forms);
    },
  };
});

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  await new Promise((resolve) => setImmediate(resolve));
  expect(unhandled).toEqual([]);
});

const clients: WristbandM2MClient[] = [];
function makeClient(overrides: Partial<WristbandM2MClientConfig>): WristbandM2MClient {
  const client = createWristbandM2MClient({
    clientId: 'review-client-id',
    clientSecret: 'review-client-secret',
    wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
    ...overrides,
  });
  clients.push(client);
  return client;
}
afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function tokenResponse(token: string, expiresIn = 3600): Response {
  return new Response(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: expiresIn }), {
    status: 200,
    headers: { 'content-type': 'application/json' },
  });
}

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

/** Lets queued promise jobs (several hops deep) run, with no timer firing. */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe('review', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
  });

  it('keeps the credential forms bounded when a secret provider returns a new secret every round', async () => {
    let round = 0;
    let status = 200;
    const client = makeClient({
      clientSecret: () => `rotating-secret-${++round}`,
      fetch: async () =>
        status === 200
          ? tokenResponse(`token-${round}`)
          : new Response(JSON.stringify({ error: 'invalid_request' }), { status }),
    });
    for (let i = 0; i < 200; i++) {
      await client.getToken();
      client.clearToken();
    }
    status = 400;
    seenCredentialCounts.length = 0;
    await settle(client.getToken());
    expect(seenCredentialCounts.length).toBeGreaterThan(0);
    // 5 forms per secret; a few recent secrets are plenty, 200 are a leak (and an O(n) regex per error).
    expect(Math.max(...seenCredentialCounts)).toBeLessThanOrEqual(40);
  });

  it('leaves no timer behind when destroyed while a secret provider hangs', async () => {
    const client = makeClient({ clientSecret: () => new Promise<string>(() => undefined), fetch: async () => tokenResponse('t') });
    const pending = settle(client.getToken());
    await flush();
    client.destroy();
    expect((await pending).error).toMatchObject({ code: 'CLIENT_DESTROYED' });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('review: frozen timers', () => {
  it('gives up a wedged round detached by clearToken(), so its callers do not hang', async () => {
    // Only the clocks are fake: the real timers never fire within the test, as in a Worker whose request ended.
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    const answers: ((response: Response) => void)[] = [];
    const client = makeClient({
      fetch: () => new Promise<Response>((resolve) => answers.push(resolve)),
      tokenRequestTimeout: 1,
    });
    const before = settle(client.getToken());
    await flush();
    client.clearToken();
    const after = settle(client.getToken());
    await flush();
    expect(answers).toHaveLength(2);
    vi.advanceTimersByTime(10_000);
    const next = client.getToken();
    await flush();
    expect((await after).error).toMatchObject({ code: 'TOKEN_REQUEST_TIMEOUT' });
    const first = await Promise.race([before, new Promise((resolve) => setImmediate(() => resolve('hung')))]);
    expect(first).not.toBe('hung');
    expect((first as { error?: unknown }).error).toMatchObject({ code: 'TOKEN_REQUEST_TIMEOUT' });
    await vi.waitFor(() => expect(answers).toHaveLength(3));
    answers[2]?.(tokenResponse('fresh'));
    expect(await next).toBe('fresh');
  });
});
