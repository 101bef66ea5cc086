// A Deno server that calls a protected service with an M2M token shared by every process through Deno KV.
// Run: npm run example -- deno-kv (4 Deno processes on one KV file, against the local token server), or
//   deno run --unstable-kv --allow-net --allow-env --allow-read --allow-write deno-kv/server.ts
// On Deno Deploy, Deno.openKv() with no path opens the project's KV. Outside this repository, import from
// 'jsr:@wristband/typescript-m2m-auth' or 'npm:@wristband/typescript-m2m-auth'.
import { createWristbandM2MClient } from '@wristband/typescript-m2m-auth';
import { createDenoKvTokenStore } from '@wristband/typescript-m2m-auth/deno-kv';

const env = (name: string): string => {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

/** One warning per minute while the store fails, not one per call: tokens keep coming from Wristband meanwhile. */
let lastStoreWarning = 0;

// One client per process; KV_PATH names a KV file several local processes share (unset: Deno's default KV).
const m2m = createWristbandM2MClient({
  clientId: env('CLIENT_ID'),
  clientSecret: env('CLIENT_SECRET'),
  wristbandApplicationVanityDomain: env('APPLICATION_VANITY_DOMAIN'),
  tokenStore: createDenoKvTokenStore(await Deno.openKv(Deno.env.get('KV_PATH'))),
  onTokenStoreError: ({ operation, error }) => {
    if (Date.now() - lastStoreWarning < 60_000) return;
    lastStoreWarning = Date.now();
    console.warn(`M2M token store ${operation} failed, tokens come from Wristband meanwhile: ${error.cause ?? error}`);
  },
});

Deno.serve(
  {
    hostname: '127.0.0.1',
    port: Number(Deno.env.get('PORT') ?? 8000),
    onListen: ({ hostname, port }) => console.log(`listening on http://${hostname}:${port}`),
  },
  async (request) => {
    if (new URL(request.url).pathname !== '/reports') return new Response('not found', { status: 404 });
    // The token, and on a 401 one retry with a fresh token (the rejected one retired in KV for every process).
    const response = await m2m.fetch(new URL('/reports', env('DOWNSTREAM_URL')));
    if (!response.ok) return Response.json({ error: `reports answered ${response.status}` }, { status: 502 });
    return new Response(response.body, { headers: { 'content-type': 'application/json' } });
  },
);
