// A Worker that uses the client the ways that wedged an isolate (test/workers-isolate.test.ts): a refresh ahead
// of expiry started by a request with no bound waitUntil, which workerd cancels when that request's response goes
// out, and getToken() called at module scope. MODE (a binding) picks the way:
// - `none`: `getToken()` with no options;
// - `unbound`: `getToken({ waitUntil: ctx.waitUntil })`, which throws "Illegal invocation" when called;
// - `context`: `getToken({ waitUntil: ctx })`, the execution context itself;
// - `fetch`: `client.fetch(url)`, which has no way to pass a waitUntil;
// - `lazy`: the client created on the first request, then `client.fetch(url)`, as the README's snippet does;
// - `warm-up`: `none`, plus `m2m.getToken().catch(() => {})` at module scope;
// - `warm-up-recorded`: `none`, plus the same module-scope call with its outcome kept for GET /warm-up.
// Every answer is JSON: `{ token }` (for `fetch` and `lazy`, the token the protected resource was called with, and
// its `status`), or `{ error: { name, code, message } }` with status 500 for anything thrown.
import { env } from 'cloudflare:workers';
import { createWristbandM2MClient, WristbandM2MError } from '../../dist/index.js';

const MODE = env.MODE;
/** The token server's own Bearer-protected resource (demo/token-server.mjs). */
const PROTECTED_URL = `${env.VANITY_DOMAIN}/_protected`;
/** Probe id (the `x-probe` header of a protected call) -> the token it was sent with, for `fetch` and `lazy`. */
const sentWith = new Map();

function config() {
  return {
    clientId: env.CLIENT_ID,
    clientSecret: env.CLIENT_SECRET,
    wristbandApplicationVanityDomain: env.VANITY_DOMAIN,
    tokenExpirationBuffer: Number(env.BUFFER_SECONDS),
    tokenRequestTimeout: Number(env.REQUEST_TIMEOUT_SECONDS),
    // Passes every call through to the runtime's fetch, noting which token each protected call carried.
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      const probe = headers.get('x-probe');
      if (probe !== null) sentWith.set(probe, headers.get('authorization')?.replace(/^Bearer /, ''));
      return fetch(input, init);
    },
  };
}

/** @type {import('../../dist/index.js').WristbandM2MClient | undefined} */
let m2m = MODE === 'lazy' ? undefined : createWristbandM2MClient(config());

if (MODE === 'warm-up') {
  // As a user would write it: warm the cache while the isolate starts, ignoring a failure.
  m2m.getToken().catch(() => {});
}

/** What the module-scope call did: threw synchronously, rejected (with what), or resolved. */
let warmUp = { outcome: 'pending' };
if (MODE === 'warm-up-recorded') {
  try {
    m2m.getToken().then(
      () => {
        warmUp = { outcome: 'resolved' };
      },
      (error) => {
        warmUp = { outcome: 'rejected', ...describe(error) };
      },
    );
  } catch (error) {
    warmUp = { outcome: 'threw', ...describe(error) };
  }
}

function describe(error) {
  return {
    wristbandError: error instanceof WristbandM2MError,
    name: error?.name,
    code: error?.code,
    message: String(error?.message ?? error),
  };
}

export default {
  async fetch(request, _env, ctx) {
    const url = new URL(request.url);
    try {
      if (url.pathname === '/warm-up') return Response.json(warmUp);
      if (url.pathname === '/state') {
        const state = m2m?.state;
        return Response.json({ ...state, lastRefreshError: state?.lastRefreshError?.code, now: Date.now() });
      }
      if (MODE === 'fetch' || MODE === 'lazy') {
        m2m ??= createWristbandM2MClient(config());
        const probe = crypto.randomUUID();
        const response = await m2m.fetch(PROTECTED_URL, { headers: { 'x-probe': probe } });
        await response.body?.cancel();
        const token = sentWith.get(probe);
        sentWith.delete(probe);
        return Response.json({ token, status: response.status });
      }
      const token =
        MODE === 'unbound'
          ? await m2m.getToken({ waitUntil: ctx.waitUntil })
          : MODE === 'context'
            ? await m2m.getToken({ waitUntil: ctx })
            : await m2m.getToken();
      return Response.json({ token });
    } catch (error) {
      return Response.json({ error: describe(error) }, { status: 500 });
    }
  },
};
