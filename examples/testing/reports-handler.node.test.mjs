// The same tests with Node's own runner (node:test), no test library at all. Run: npm run test:kit (in
// examples/), or `node --test` in your project.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createWristbandM2MClient } from '@wristband/typescript-m2m-auth';
import { createTestTokenEndpoint } from '@wristband/typescript-m2m-auth/testing';
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
  handle = createReportsHandler({ m2m, downstreamUrl: endpoint.resourceUrl });
});
afterEach(() => m2m.destroy());

const get = () => handle(new Request('http://my-service/reports'));

describe('GET /reports', () => {
  it('survives a revoked token: the 401 costs one new token, the caller never sees it', async () => {
    assert.equal((await get()).status, 200);
    endpoint.revokeAll();
    assert.equal((await get()).status, 200);
    assert.equal(endpoint.issuedCount, 2);
    assert.deepEqual(endpoint.resourceCalls, { total: 3, rejected: 1 });
  });

  it('keeps serving from its cached token while Wristband is down', async () => {
    await get();
    endpoint.startOutage();
    assert.equal((await get()).status, 200);
    assert.equal(endpoint.requestCount, 1);
  });

  it('answers 503 with the error code when it cannot get a token, and recovers after the outage', async () => {
    endpoint.startOutage();
    const down = await get();
    assert.equal(down.status, 503);
    assert.deepEqual(await down.json(), { error: 'TOKEN_ENDPOINT_HTTP_ERROR' });
    endpoint.endOutage();
    assert.equal((await get()).status, 200);
  });
});
