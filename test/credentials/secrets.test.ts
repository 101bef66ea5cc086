import { inspect } from 'node:util';
import { HttpResponse } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type WristbandM2MClient, type WristbandM2MClientConfig, WristbandM2MError } from '../../src/index.js';
import { basicAuthorization, formUrlEncode } from '../../src/http/token-request.js';
import { CLIENT_ID, CLIENT_SECRET, onTokenEndpoint, settle, testClient, useMsw } from '../support/msw.js';
import { renderings } from '../support/renderings.js';
import { FAKED } from '../support/clocks.js';

useMsw();

const AUTHORIZATION = basicAuthorization(CLIENT_ID, CLIENT_SECRET);
const BASE64 = AUTHORIZATION.slice('Basic '.length);
const FORBIDDEN = [CLIENT_SECRET, AUTHORIZATION, BASE64, formUrlEncode(CLIENT_SECRET)];

/** What `console.log(client)` hands the console before the client's first token and after it. */
async function loggedBeforeAndAfterUse(client: WristbandM2MClient): Promise<unknown[]> {
  const logged: unknown[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...args) => void logged.push(...args));
  try {
    console.log(client);
    await client.getToken();
    console.log(client);
  } finally {
    spy.mockRestore();
  }
  return logged;
}

function expectNoSecret(value: unknown): void {
  for (const text of renderings(value)) {
    for (const secret of FORBIDDEN) expect(text).not.toContain(secret);
  }
}

// A hostile or buggy server that echoes the credentials back in every answer.
const echo = `${CLIENT_SECRET} ${AUTHORIZATION}`;
const failurePaths: [string, () => Response | Promise<Response>, Partial<WristbandM2MClientConfig>?][] = [
  ['400 echoing the secret', () => HttpResponse.json({ error: echo, error_description: echo }, { status: 400 })],
  [
    '401 echoing the secret',
    () => HttpResponse.json({ error: 'invalid_client', error_description: echo }, { status: 401 }),
  ],
  ['503 three times', () => HttpResponse.json({ error: 'server_error', error_description: echo }, { status: 503 })],
  [
    '302 to a URL holding the secret',
    () => new HttpResponse(null, { status: 302, headers: { Location: `https://x/${CLIENT_SECRET}` } }),
  ],
  [
    'an HTML page echoing the secret',
    () => new HttpResponse(`<html>${echo}</html>`, { headers: { 'Content-Type': 'text/html' } }),
  ],
  ['invalid JSON starting with the secret', () => new HttpResponse(`${CLIENT_SECRET}{`)],
  ['a token response with a bad expires_in', () => HttpResponse.json({ access_token: 'ok', expires_in: echo })],
  ['an oversized body', () => new HttpResponse(echo.repeat(10_000))],
  ['a network error', () => HttpResponse.error()],
  ['a timeout', () => new Promise<Response>(() => undefined), { tokenRequestTimeout: 0.05 }],
];

describe('the client secret never leaks', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: [...FAKED] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each(failurePaths)('not in the error for %s', async (_case, respond, config = {}) => {
    onTokenEndpoint(respond);
    const result = settle(testClient(config).getToken());
    await vi.advanceTimersByTimeAsync(1_000);
    const { error } = await result;
    expect(error).toBeInstanceOf(WristbandM2MError);
    expectNoSecret(error);
  });

  it('not in the cause when a custom fetch throws an error carrying the request, as axios errors do', async () => {
    const leaky = async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
      throw Object.assign(new TypeError(`request failed: ${JSON.stringify(init?.headers)}`), { config: init });
    };
    const { error } = await settle(testClient({ fetch: leaky }).getToken());
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_UNREACHABLE' });
    expect((error as Error).cause).toBeInstanceOf(Error);
    expectNoSecret(error);
  });

  it('not in a cause two levels deep in the fetch implementation’s error', async () => {
    const deep = new TypeError('fetch failed', {
      cause: new Error('socket closed', { cause: new Error(`while sending ${AUTHORIZATION}`) }),
    });
    const { error } = await settle(testClient({ fetch: () => Promise.reject(deep) }).getToken());
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_UNREACHABLE',
      cause: { message: 'fetch failed', cause: { message: 'socket closed' } },
    });
    expectNoSecret(error);
  });

  it('not in a Request or Headers attached to the fetch implementation’s error (JSON renders them as {})', async () => {
    const leaky = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
      throw Object.assign(new TypeError('fetch failed'), {
        request: new Request(url, init),
        headers: new Headers(init?.headers),
      });
    };
    const { error } = await settle(testClient({ fetch: leaky }).getToken());
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_UNREACHABLE',
      cause: { name: 'TypeError', message: 'fetch failed' },
    });
    expect((error as Error).cause).not.toHaveProperty('request');
    expectNoSecret(error);
  });

  it('not in an error_description echoing the bare base64 credentials', async () => {
    onTokenEndpoint(() =>
      HttpResponse.json({ error: 'invalid_client', error_description: `bad credentials ${BASE64}` }, { status: 401 }),
    );
    const { error } = await settle(testClient().getToken());
    expect(error).toMatchObject({ errorDescription: 'bad credentials [REDACTED]' });
    expectNoSecret(error);
  });

  it('keeps an ordinary network error’s name, code and message, in a copy', async () => {
    const plain = Object.assign(new TypeError('fetch failed'), { code: 'UND_ERR_SOCKET' });
    const { error } = await settle(testClient({ fetch: () => Promise.reject(plain) }).getToken());
    const cause = (error as Error).cause;
    expect(cause).not.toBe(plain);
    expect(cause).toBeInstanceOf(TypeError);
    expect(cause).toMatchObject({ name: 'TypeError', message: 'fetch failed', code: 'UND_ERR_SOCKET' });
  });

  it('with short credentials (x / y), still keeps an unrelated error’s name, code and message', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' });
    const failed = new TypeError('fetch failed', { cause: refused });
    const client = testClient({ clientId: 'x', clientSecret: 'y', fetch: () => Promise.reject(failed) });
    const { error } = await settle(client.getToken());
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_UNREACHABLE',
      cause: {
        name: 'TypeError',
        message: 'fetch failed',
        cause: { message: 'connect ECONNREFUSED 127.0.0.1:443', code: 'ECONNREFUSED' },
      },
    });
  });

  it('not in a background refresh error', async () => {
    onTokenEndpoint((n) =>
      n === 1
        ? HttpResponse.json({ access_token: 't', expires_in: 3600 })
        : HttpResponse.json({ error: echo, error_description: echo }, { status: 401 }),
    );
    const reported: unknown[] = [];
    const client = testClient({
      backgroundTokenRefreshInterval: 60,
      onBackgroundRefreshError: (e) => reported.push(e),
    });
    await client.getToken();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(reported).toHaveLength(1);
    expectNoSecret(reported[0]);
  });

  it('not in abort or destroy errors', async () => {
    onTokenEndpoint(() => new Promise<Response>(() => undefined));
    const client = testClient();
    const aborted = settle(client.getToken({ signal: AbortSignal.abort() }));
    const destroyed = settle(client.getToken());
    await vi.advanceTimersByTimeAsync(0);
    client.destroy();
    expectNoSecret((await aborted).error);
    expectNoSecret((await destroyed).error);
  });

  it('not in a config error, even when the secret lands in the wrong option', () => {
    for (const option of ['tokenExpirationBuffer', 'fetch', 'backgroundTokenRefreshInterval']) {
      let caught: unknown;
      try {
        testClient({ [option]: CLIENT_SECRET });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(WristbandM2MError);
      expectNoSecret(caught);
    }
  });

  it('not in console.log or util.inspect of the client, before or after use', async () => {
    onTokenEndpoint(() => HttpResponse.json({ access_token: 'tok', expires_in: 3600 }));
    const client = testClient({ backgroundTokenRefreshInterval: 60 });
    const logged = await loggedBeforeAndAfterUse(client);
    expect(logged).toHaveLength(2);
    for (const value of [...logged, client, JSON.stringify(client)]) expectNoSecret(value);
  });
});

// Issue 13: every secret in use is covered, not only a single configured string: each entry of a list, and each
// value a provider returned (this round's and earlier ones), in every form a secret travels in.
describe('every secret of a list and every value a provider returned never leaks', () => {
  // Characters that form-encoding changes, so the raw and the encoded forms differ.
  const LISTED = ['listed secret/one+=', 'listed-secret-TWO&é'];
  const PROVIDED = ['provided secret#1?', 'provided/secret 2', 'provided-rotated %3'];
  const forms = (secret: string): string[] => {
    const basic = basicAuthorization(CLIENT_ID, secret);
    return [secret, formUrlEncode(secret), basic, basic.slice('Basic '.length)];
  };
  const ALL_FORMS = [...LISTED, ...PROVIDED].flatMap(forms);
  /** What a hostile server echoes: every form of each secret the client sent it (it knows no other). */
  const echoOf = (secrets: readonly string[]): string => secrets.flatMap(forms).join(' ');
  const echoListed = echoOf(LISTED);
  const echoProvided = echoOf(PROVIDED);

  function expectNoForm(value: unknown): void {
    for (const text of renderings(value)) {
      for (const form of ALL_FORMS) expect(text).not.toContain(form);
    }
  }

  beforeEach(() => {
    vi.useFakeTimers({ toFake: [...FAKED] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Drives one failing round of `client` and everything it exposes afterwards, for a check on each. */
  async function exposed(config: Partial<WristbandM2MClientConfig>): Promise<unknown[]> {
    const events: unknown[] = [];
    const client = testClient({
      ...config,
      onTokenRefreshFailed: (event) => void events.push(event),
      onTokenRefreshed: (event) => void events.push(event),
    });
    const result = settle(client.getToken());
    await vi.advanceTimersByTimeAsync(1_000);
    const { error } = await result;
    expect(error).toBeInstanceOf(WristbandM2MError);
    expect(events.length).toBeGreaterThan(0);
    return [
      error,
      (error as Error).cause,
      events,
      client.state,
      client.state.lastRefreshError,
      inspect(client, { showHidden: true, depth: Infinity }),
    ];
  }

  it.each<[string, () => Response]>([
    ['401', () => HttpResponse.json({ error: 'invalid_client', error_description: echoListed }, { status: 401 })],
    [
      '400 invalid_client',
      () => HttpResponse.json({ error: 'invalid_client', error_description: echoListed }, { status: 400 }),
    ],
  ])('when every listed secret is rejected with a %s echoing them all', async (_case, respond) => {
    const log = onTokenEndpoint(respond);
    for (const value of await exposed({ clientSecret: LISTED })) expectNoForm(value);
    expect(log.count).toBe(2);
  });

  it('when the first listed secret is rejected and the second gets 5xx answers echoing both', async () => {
    const log = onTokenEndpoint((n) =>
      HttpResponse.json(
        { error: n === 1 ? 'invalid_client' : echoListed, error_description: echoListed },
        { status: n === 1 ? 401 : 503 },
      ),
    );
    for (const value of await exposed({ clientSecret: LISTED })) expectNoForm(value);
    expect(log.count).toBe(4);
  });

  it("when a custom fetch puts the second secret's Authorization header in its error", async () => {
    let calls = 0;
    const leaky = async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
      if (++calls === 1) return HttpResponse.json({ error: 'invalid_client' }, { status: 401 });
      throw Object.assign(new TypeError(`failed: ${JSON.stringify(init?.headers)}`), { config: init });
    };
    for (const value of await exposed({ clientSecret: LISTED, fetch: leaky })) expectNoForm(value);
    expect(calls).toBe(2);
  });

  it("when every secret a provider returned is rejected, this round's and an earlier round's", async () => {
    const answers = [[PROVIDED[0]!], [PROVIDED[1]!, PROVIDED[2]!]];
    const log = onTokenEndpoint((n) =>
      n === 1
        ? HttpResponse.json({ access_token: 'first-token', expires_in: 3600 })
        : HttpResponse.json({ error: 'invalid_client', error_description: echoProvided }, { status: 401 }),
    );
    const events: unknown[] = [];
    const client = testClient({
      clientSecret: () => answers.shift()!,
      onTokenRefreshFailed: (event) => void events.push(event),
      onTokenRefreshed: (event) => void events.push(event),
    });
    await client.getToken();
    client.clearToken();
    const { error } = await settle(client.getToken());
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_HTTP_ERROR', attempts: 2 });
    expect(log.count).toBe(3);
    expect(events).toHaveLength(2);
    const logged: unknown[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args) => void logged.push(...args));
    console.log(client);
    spy.mockRestore();
    // The first round's value (PROVIDED[0]) is no longer in use, but a server may still quote it.
    for (const value of [error, (error as Error).cause, events, client.state, logged, inspect(client)])
      expectNoForm(value);
  });

  it('when a provider fails with a message quoting a secret: only the error name is kept', async () => {
    onTokenEndpoint(() => HttpResponse.json({ access_token: 't', expires_in: 3600 }));
    const provider = (): never => {
      throw new Error(`secret ${PROVIDED[0]} was rotated to ${forms(PROVIDED[1]!).join(', ')}`);
    };
    const values = await exposed({ clientSecret: provider });
    expect(values[0]).toMatchObject({ code: 'CLIENT_SECRET_UNAVAILABLE' });
    expect(values[1]).toEqual({ name: 'Error' });
    for (const value of values) expectNoForm(value);
  });

  it('in the refreshed event, the state and console.log(client) after a fallback to the second secret', async () => {
    onTokenEndpoint((n) =>
      n === 1
        ? HttpResponse.json({ error: 'invalid_client', error_description: echoProvided }, { status: 401 })
        : HttpResponse.json({ access_token: 'tok', expires_in: 3600 }),
    );
    const events: unknown[] = [];
    const client = testClient({
      clientSecret: () => PROVIDED.slice(0, 2),
      onTokenRefreshed: (event) => void events.push(event),
    });
    const logged = await loggedBeforeAndAfterUse(client);
    expect(events).toEqual([expect.objectContaining({ secretIndex: 1, attempts: 2 })]);
    for (const value of [events, client.state, logged, JSON.stringify(client)]) expectNoForm(value);
  });
});
