// The test kit's checks, run by test/testing/kit-runtimes.test.ts on Deno, Bun (in memory and on a loopback server)
// and inside workerd (in memory: a Worker cannot listen). Each check resolves to true or to what went wrong.
import { createWristbandM2MClient } from '../../dist/index.js';

/** @param {import('../../dist/testing.js').TestTokenEndpoint} endpoint a fresh endpoint; `inMemory` adds its fetch */
export async function runKitScenario(endpoint, { inMemory }) {
  const make = (overrides = {}) =>
    createWristbandM2MClient({
      clientId: endpoint.clientId,
      clientSecret: endpoint.clientSecret,
      wristbandApplicationVanityDomain: endpoint.vanityDomain,
      // Generous: a loaded machine can take hundreds of ms over a first request. Only the hang check times out.
      tokenRequestTimeout: 10,
      ...(inMemory ? { fetch: endpoint.fetch } : {}),
      ...overrides,
    });
  const results = {};
  const check = async (name, run) => {
    const client = make();
    try {
      results[name] = await run(client);
    } catch (error) {
      results[name] = `threw ${error?.code ?? error?.name}: ${error?.message}`;
    } finally {
      client.destroy();
      endpoint.reset();
    }
  };
  const expectEqual = (actual, expected) =>
    JSON.stringify(actual) === JSON.stringify(expected) || `${JSON.stringify(actual)} != ${JSON.stringify(expected)}`;

  await check('issues a token the resource accepts', async (m2m) => {
    const response = await m2m.fetch(endpoint.resourceUrl);
    return expectEqual([response.status, endpoint.requestCount, endpoint.requests[0].credentials], [200, 1, 'primary']);
  });
  await check('retries a 5xx storm of two, then succeeds', async (m2m) => {
    endpoint.failNext(503, 502);
    await m2m.getToken();
    return expectEqual(
      endpoint.requests.map((r) => r.status),
      [503, 502, 200],
    );
  });
  await check('429 with Retry-After is reported, not retried', async (m2m) => {
    endpoint.rateLimitNext(5);
    const error = await m2m.getToken().catch((e) => e);
    return expectEqual([error.status, error.retryAfterMs, endpoint.requestCount], [429, 5000, 1]);
  });
  await check('a hang ends at the client timeout', async () => {
    endpoint.hangNext();
    const impatient = make({ tokenRequestTimeout: 0.3 });
    const error = await impatient.getToken().catch((e) => e);
    impatient.destroy();
    return expectEqual(error.code, 'TOKEN_REQUEST_TIMEOUT');
  });
  await check('a revoked token costs one refresh through client.fetch', async (m2m) => {
    await m2m.getToken();
    endpoint.revokeAll();
    const response = await m2m.fetch(endpoint.resourceUrl);
    return expectEqual(
      [response.status, endpoint.issuedCount, endpoint.resourceCalls],
      [200, 2, { total: 2, rejected: 1 }],
    );
  });
  await check('a rotation: two secrets, then one', async () => {
    endpoint.addSecret('next-secret');
    const onNew = make({ clientSecret: 'next-secret' });
    await onNew.getToken();
    onNew.destroy();
    endpoint.revokeSecret(endpoint.clientSecret);
    const onOld = make();
    const error = await onOld.getToken().catch((e) => e);
    onOld.destroy();
    return expectEqual(
      [endpoint.requests.map((r) => r.credentials), error.error],
      [['secondary', 'rejected'], 'invalid_client'],
    );
  });
  return results;
}
