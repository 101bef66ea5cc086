import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createWristbandM2MClient, type WristbandM2MClient, type WristbandM2MClientConfig } from '../../src/index.js';

export const VANITY_DOMAIN = 'acme.us.wristband.dev';
export const TOKEN_URL = `https://${VANITY_DOMAIN}/api/v1/oauth2/token`;
export const CLIENT_ID = 'test-client-id';
export const CLIENT_SECRET = 'test-secret-DO-NOT-LEAK-7f3a9c';

export const mswServer = setupServer();

/** Installs msw for the calling test file: any request without a handler fails the test. */
export function useMsw(): void {
  beforeAll(() => mswServer.listen({ onUnhandledRequest: 'error' }));
  afterEach(() => mswServer.resetHandlers());
  afterAll(() => mswServer.close());
}

/** What the token endpoint saw. */
export interface EndpointLog {
  count: number;
  requests: { method: string; headers: Headers; body: string }[];
}

/** Routes the token endpoint to `respond`, which gets the 1-based request number. */
export function onTokenEndpoint(respond: (n: number) => Response | Promise<Response>): EndpointLog {
  const log: EndpointLog = { count: 0, requests: [] };
  mswServer.use(
    http.post(TOKEN_URL, async ({ request }) => {
      const n = ++log.count;
      log.requests.push({ method: request.method, headers: request.headers, body: await request.text() });
      return respond(n);
    }),
  );
  return log;
}

/** A successful token answer; the token is `token-<n>` unless given. */
export function tokenResponse(token: string, expiresIn = 3600, extra: Record<string, unknown> = {}): Response {
  return HttpResponse.json({ access_token: token, token_type: 'Bearer', expires_in: expiresIn, ...extra });
}

/** An endpoint that issues `token-1`, `token-2`, ... with the given lifetime. */
export function issuingEndpoint(expiresIn = 3600): EndpointLog {
  return onTokenEndpoint((n) => tokenResponse(`token-${n}`, expiresIn));
}

export function oauthError(status: number, error = 'server_error', description = 'scripted'): Response {
  return HttpResponse.json({ error, error_description: description }, { status });
}

const clients: WristbandM2MClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
});

/** A client for the msw endpoint, destroyed after the test. */
export function testClient(overrides: Partial<WristbandM2MClientConfig> = {}): WristbandM2MClient {
  const client = createWristbandM2MClient({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    wristbandApplicationVanityDomain: VANITY_DOMAIN,
    ...overrides,
  });
  clients.push(client);
  return client;
}

/** Settles a promise into a value, so a test can inspect a rejection without an unhandled one. */
export async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}
