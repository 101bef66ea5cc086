// One scenario, run unchanged on every runtime the package claims: Node (ESM and CJS), Deno, Bun and workerd.
// It uses only web-standard APIs and drives the local token server (demo/token-server.mjs) over HTTP. Each check
// records a pass or a failure with a reason; nothing here throws past runScenario().

/**
 * @typedef {{ name: string, ok: boolean, detail: string }} CheckResult
 * @typedef {{ createWristbandM2MClient: Function, WristbandM2MError: Function }} Library
 * @typedef {{ clientId: string, clientSecret: string, vanityDomain: string }} Server
 */

/** The checks, by name, in the order they run; the matrix prints them in this order. */
export const CHECKS = [
  'fetches a token with the right request',
  'serves the cached token with no request',
  '100 concurrent calls make one request',
  'retries a 503, then succeeds',
  'fails at once on a 401 with status 401',
  'clearToken() forces a fresh token',
  'getToken({ signal }) aborts',
  'client.fetch sends the token and retries a 401 once',
  'a list of secrets: the first rejected, the second works, in one round',
];

/**
 * @param {Library} lib the built package, as this runtime loads it
 * @param {Server} server
 * @returns {Promise<CheckResult[]>}
 */
export async function runScenario(lib, server) {
  const control = async (action, input) => {
    const response = await fetch(`${server.vanityDomain}/_control/${action}`, {
      method: 'POST',
      body: input === undefined ? undefined : JSON.stringify(input),
    });
    return (await response.json()).requests;
  };
  const requestCount = async () => (await control('requests')).length;
  const clients = [];
  const newClient = (overrides = {}) => {
    const client = lib.createWristbandM2MClient({
      clientId: server.clientId,
      clientSecret: server.clientSecret,
      wristbandApplicationVanityDomain: server.vanityDomain,
      ...overrides,
    });
    clients.push(client);
    return client;
  };

  await control('reset');
  const m2m = newClient();
  let first = '';
  /** @type {[string, () => Promise<void>][]} */
  const steps = [
    [
      CHECKS[0],
      async () => {
        first = await m2m.getToken();
        const requests = await control('requests');
        expect(typeof first === 'string' && first.length > 0, `token ${JSON.stringify(first)}`);
        expect(requests.length === 1, `${requests.length} requests`);
        const [request] = requests;
        expect(
          request.method === 'POST' &&
            request.url === '/api/v1/oauth2/token' &&
            request.contentType === 'application/x-www-form-urlencoded' &&
            request.accept === 'application/json' &&
            request.body === 'grant_type=client_credentials' &&
            request.hasAuthorization,
          `request ${JSON.stringify(request)}`,
        );
      },
    ],
    [
      CHECKS[1],
      async () => {
        const again = await m2m.getToken();
        expect(again === first, 'a different token');
        expect((await requestCount()) === 1, 'a request was made');
      },
    ],
    [
      CHECKS[2],
      async () => {
        await control('reset');
        await control('latency', 30);
        m2m.clearToken();
        const tokens = await Promise.all(Array.from({ length: 100 }, () => m2m.getToken()));
        await control('latency', 0);
        expect(new Set(tokens).size === 1, `${new Set(tokens).size} distinct tokens`);
        const count = await requestCount();
        expect(count === 1, `${count} requests`);
      },
    ],
    [
      CHECKS[3],
      async () => {
        await control('reset');
        await control('fail-next', [503]);
        m2m.clearToken();
        const token = await m2m.getToken();
        const count = await requestCount();
        expect(token.length > 0, 'no token');
        expect(count === 2, `${count} requests`);
      },
    ],
    [
      CHECKS[4],
      async () => {
        await control('reset');
        const wrong = newClient({ clientSecret: 'not-the-secret' });
        const error = await rejection(wrong.getToken());
        expect(error instanceof lib.WristbandM2MError, `rejected with ${error}`);
        expect(error.status === 401 && error.code === 'TOKEN_ENDPOINT_HTTP_ERROR', `status ${error.status}`);
        expect(!String(error.message).includes('not-the-secret'), 'the secret is in the message');
        const count = await requestCount();
        expect(count === 1, `${count} requests`);
      },
    ],
    [
      CHECKS[5],
      async () => {
        const before = await m2m.getToken();
        m2m.clearToken();
        const after = await m2m.getToken();
        expect(after !== before && after.length > 0, 'the same token after clearToken()');
      },
    ],
    [
      CHECKS[6],
      async () => {
        const fresh = newClient();
        const early = await rejection(fresh.getToken({ signal: AbortSignal.abort() }));
        expect(early instanceof lib.WristbandM2MError && early.code === 'ABORTED', `pre-aborted: ${early}`);
        await control('latency', 1000);
        const controller = new AbortController();
        const waiting = rejection(fresh.getToken({ signal: controller.signal }));
        const startedAt = Date.now();
        setTimeout(() => controller.abort(new Error('caller gave up')), 20);
        const error = await waiting;
        const waited = Date.now() - startedAt;
        await control('latency', 0);
        expect(error instanceof lib.WristbandM2MError && error.code === 'ABORTED', `rejected with ${error}`);
        expect(waited < 900, `aborted caller waited ${waited} ms`);
      },
    ],
    [
      CHECKS[7],
      async () => {
        const protectedUrl = `${server.vanityDomain}/_protected`;
        const ok = await m2m.fetch(protectedUrl);
        expect(ok.status === 200, `first call answered ${ok.status}`);
        await control('reset');
        await control('revoke-all');
        const retried = await m2m.fetch(protectedUrl);
        expect(retried.status === 200, `call after revocation answered ${retried.status}`);
        const count = await requestCount();
        expect(count === 1, `${count} token requests after the 401`);
      },
    ],
    [
      CHECKS[8],
      async () => {
        await control('reset');
        /** @type {{ secretIndex: number, attempts: number } | undefined} */
        let event;
        const listed = newClient({
          clientSecret: ['not-the-secret', server.clientSecret],
          onTokenRefreshed: (refreshed) => (event = refreshed),
        });
        const token = await listed.getToken();
        const count = await requestCount();
        expect(typeof token === 'string' && token.length > 0, `token ${JSON.stringify(token)}`);
        expect(count === 2, `${count} requests`);
        expect(event?.secretIndex === 1 && event.attempts === 2, `onTokenRefreshed ${JSON.stringify(event)}`);
        listed.clearToken();
        await listed.getToken();
        const sticky = await requestCount();
        expect(sticky === 3, `${sticky} requests: the secret that worked was not tried first`);
      },
    ],
  ];

  const results = [];
  for (const [name, run] of steps) {
    try {
      await run();
      results.push({ name, ok: true, detail: '' });
    } catch (error) {
      results.push({ name, ok: false, detail: error instanceof Error ? error.message : String(error) });
    }
  }
  for (const client of clients) client.destroy();
  return results;
}

function expect(condition, problem) {
  if (!condition) throw new Error(problem);
}

async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('resolved instead of rejecting');
}
