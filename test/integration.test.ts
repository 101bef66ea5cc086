// The client against a real HTTP server on 127.0.0.1 playing the Wristband token endpoint: real sockets, real
// fetch, real timers (delays kept to tens of milliseconds).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTokenServer } from '../demo/token-server.mjs';
import { createWristbandM2MClient, WristbandM2MError, type WristbandM2MClient } from '../src/index.js';
import { settle } from './support/msw.js';

let server: Awaited<ReturnType<typeof startTokenServer>>;
const clients: WristbandM2MClient[] = [];

beforeAll(async () => {
  server = await startTokenServer({ clientId: 'integration-id', clientSecret: 'integration sécret/+=' });
});
afterAll(() => server.close());
afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
  server.requests.length = 0;
  server.setLatency(0);
  server.setTokenLifetime(3600);
});

function client(overrides: Partial<Parameters<typeof createWristbandM2MClient>[0]> = {}): WristbandM2MClient {
  const created = createWristbandM2MClient({
    clientId: server.clientId,
    clientSecret: server.clientSecret,
    wristbandApplicationVanityDomain: server.vanityDomain,
    ...overrides,
  });
  clients.push(created);
  return created;
}

describe('against a local Wristband-compatible token endpoint', () => {
  it('gets a token the server accepts, with the request Wristband expects', async () => {
    const token = await client().getToken();
    expect(server.verify(token)).toBe('valid');
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({
      method: 'POST',
      url: '/api/v1/oauth2/token',
      contentType: 'application/x-www-form-urlencoded',
      accept: 'application/json',
      body: 'grant_type=client_credentials',
    });
  });

  it('serves the cached token with no request, and coalesces 1,000 concurrent cold callers into one', async () => {
    server.setLatency(20);
    const m2m = client();
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => m2m.getToken()));
    expect(new Set(tokens).size).toBe(1);
    await m2m.getToken();
    expect(server.requestCount).toBe(1);
  });

  it('retries 5xx answers and succeeds', async () => {
    server.failNext(503, 502);
    const token = await client().getToken();
    expect(server.verify(token)).toBe('valid');
    expect(server.requestCount).toBe(3);
  });

  it('fails at once on wrong credentials with the OAuth error', async () => {
    const { error } = await settle(client({ clientSecret: 'wrong-secret' }).getToken());
    expect(error).toBeInstanceOf(WristbandM2MError);
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_HTTP_ERROR',
      status: 401,
      error: 'invalid_client',
      attempts: 1,
    });
    expect(server.requestCount).toBe(1);
  });

  it('gives up on a server that accepts and never answers after tokenRequestTimeout', async () => {
    server.answerNext(() => undefined);
    const started = Date.now();
    const { error } = await settle(client({ tokenRequestTimeout: 0.2 }).getToken());
    expect(error).toMatchObject({ code: 'TOKEN_REQUEST_TIMEOUT', attempts: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('reports a refused connection as TOKEN_ENDPOINT_UNREACHABLE', async () => {
    const gone = await startTokenServer();
    const vanityDomain = gone.vanityDomain;
    await gone.close();
    const { error } = await settle(client({ wristbandApplicationVanityDomain: vanityDomain }).getToken());
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_UNREACHABLE', attempts: 1 });
    expect(JSON.stringify(error)).not.toContain(server.clientSecret);
  });

  it('recovers after clearToken() when the API stops accepting the old token', async () => {
    const m2m = client();
    const first = await m2m.getToken();
    server.revoke(first);
    expect(server.verify(await m2m.getToken())).toBe('unknown');
    m2m.clearToken();
    const second = await m2m.getToken();
    expect(second).not.toBe(first);
    expect(server.verify(second)).toBe('valid');
    expect(server.requestCount).toBe(2);
  });
});
