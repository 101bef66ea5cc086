// The Worker of the Durable Object store's tests (test/store/durable-object.test.ts), on the built package (dist/),
// bundled with the store contract by esbuild before it runs. Several copies of it run as isolates of one workerd:
// the first hosts the objects, the others bind them by script name. It exports the store's object as a user's
// Worker does, and a subclass with routes for the tests to look at an object's storage. Every route answers JSON:
// - POST /contract: the store contract (test/support/store-contract.ts) run here, in the Worker, on the binding; each
//   check's name and its error, if any;
// - POST /acquire {key, count, ttlSeconds}: `count` concurrent acquire() calls from this isolate; the owners that won;
// - POST /client {config, step}: one step of this isolate's client for `config` (its client id, secrets and token
//   server): `token` (getToken), `call-api` (a call to the token server's protected resource, and on a 401 the
//   token retired and one more call, as client.fetch does; the last status), `store-errors` (reported so far);
// - GET /entries?key=: what the inspected object named `key` holds in its storage, and its alarm.
import { createWristbandM2MClient } from '../../dist/index.js';
import { createDurableObjectTokenStore, WristbandTokenStoreObject } from '../../dist/durable-object.js';
import { storeContract } from '../support/store-contract.ts';

export { WristbandTokenStoreObject };

/** The store's object, plus GET /_entries (what its storage holds, alarm included) and POST /_put (a raw entry). */
export class InspectedTokenStoreObject extends WristbandTokenStoreObject {
  constructor(state, env) {
    super(state, env);
    this.storage = state.storage;
  }

  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/_entries') {
      const entries = Object.fromEntries(await this.storage.list());
      return Response.json({ entries, alarm: await this.storage.getAlarm() });
    }
    if (pathname === '/_put') {
      const { key, stored } = await request.json();
      await this.storage.put(key, stored);
      return Response.json({});
    }
    return super.fetch(request);
  }
}

/** This isolate's clients, by their configuration (as JSON), each with the store errors it reported. */
const clients = new Map();

function clientFor(env, config) {
  const id = JSON.stringify(config);
  let client = clients.get(id);
  if (client === undefined) {
    const storeErrors = [];
    const m2m = createWristbandM2MClient({
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      wristbandApplicationVanityDomain: config.vanityDomain,
      tokenStore: createDurableObjectTokenStore(env.TOKEN_STORE),
      // Generous: on a loaded machine a slow call is not what this counts (requests are), nor a store failure.
      tokenStoreTimeout: 5,
      onTokenStoreError: ({ operation, error }) => storeErrors.push(`${operation}: ${error.message}`),
    });
    client = { m2m, storeErrors };
    clients.set(id, client);
  }
  return client;
}

async function step(env, ctx, { config, step }) {
  const { m2m, storeErrors } = clientFor(env, config);
  if (step === 'token') return { token: await m2m.getToken({ waitUntil: ctx }) };
  if (step === 'call-api') {
    const call = async () => {
      const token = await m2m.getToken({ waitUntil: ctx });
      const response = await fetch(`${config.vanityDomain}/_protected`, {
        headers: { authorization: `Bearer ${token}` },
      });
      return { token, status: response.status };
    };
    const first = await call();
    if (first.status !== 401) return first;
    m2m.clearToken(first.token);
    return call();
  }
  if (step === 'store-errors') return { storeErrors };
  throw new Error(`unknown step ${step}`);
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    try {
      if (url.pathname === '/acquire') {
        const { key, count, ttlSeconds } = await request.json();
        const store = createDurableObjectTokenStore(env.TOKEN_STORE);
        const owners = Array.from({ length: count }, (_, i) => `${env.NAME}-${i}`);
        const won = await Promise.all(owners.map((owner) => store.acquire(key, ttlSeconds, owner)));
        return Response.json({ winners: owners.filter((_, i) => won[i] === true), answers: won });
      }
      if (url.pathname === '/contract') {
        const checks = storeContract(() => createDurableObjectTokenStore(env.TOKEN_STORE));
        const results = await Promise.all(
          checks.map(({ name, run }) =>
            run().then(
              () => ({ name }),
              (error) => ({ name, error: String(error?.message ?? error) }),
            ),
          ),
        );
        return Response.json(results);
      }
      if (url.pathname === '/client') return Response.json(await step(env, ctx, await request.json()));
      if (url.pathname === '/entries') {
        const stub = env.INSPECTED_STORE.get(env.INSPECTED_STORE.idFromName(url.searchParams.get('key')));
        return stub.fetch('https://inspect/_entries');
      }
      return Response.json({ error: 'no such route' }, { status: 404 });
    } catch (error) {
      return Response.json({ error: String(error?.stack ?? error) }, { status: 500 });
    }
  },
};
