// Testing your own handler through a revocation and a Wristband outage, with vitest and the test kit: no network,
// no Wristband application. Run: npm run test:kit (in examples/), or `npx vitest run` in your project.
import { createWristbandM2MClient } from '@wristband/typescript-m2m-auth';
import { createTestTokenEndpoint } from '@wristband/typescript-m2m-auth/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createReportsHandler } from './reports-handler.mjs';

let endpoint;
let m2m;
let handle;

beforeEach(() => {
  endpoint = createTestTokenEndpoint();
  m2m = createWristbandM2MClient({
    clientId: endpoint.clientId,
    clientSecret: endpoint.clientSecret,
    wristbandApplicationVanityDomain: endpoint.vanityDomain,
    fetch: endpoint.fetch,
  });
  // The kit's protected resource stands in for the downstream API: it accepts the tokens the kit issued.
  handle = createReportsHandler({ m2m, downstreamUrl: endpoint.resourceUrl });
});
afterEach(() => m2m.destroy());

const get = () => handle(new Request('http://my-service/reports'));

describe('GET /reports', () => {
  it('answers from the downstream API with one token for many requests', async () => {
    for (let i = 0; i < 5; i++) expect((await get()).status).toBe(200);
    expect(endpoint.requestCount).toBe(1);
  });

  it('survives a revoked token: the 401 costs one new token, the caller never sees it', async () => {
    expect((await get()).status).toBe(200);
    endpoint.revokeAll();
    expect((await get()).status).toBe(200);
    expect(endpoint.issuedCount).toBe(2);
    expect(endpoint.resourceCalls).toEqual({ total: 3, rejected: 1 });
  });

  it('keeps serving from its cached token while Wristband is down', async () => {
    await get();
    endpoint.startOutage({ status: 503 });
    expect((await get()).status).toBe(200);
    expect(endpoint.requestCount).toBe(1);
  });

  it('answers 503 with the error code when it cannot get a token, and recovers after the outage', async () => {
    endpoint.startOutage({ status: 503 });
    const down = await get();
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ error: 'TOKEN_ENDPOINT_HTTP_ERROR' });
    endpoint.endOutage();
    expect((await get()).status).toBe(200);
  });

  it('answers 503 when a revocation meets an outage: no token to retry with', async () => {
    await get();
    endpoint.revokeAll();
    endpoint.startOutage();
    expect((await get()).status).toBe(503);
  });
});
