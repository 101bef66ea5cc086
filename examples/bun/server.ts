// A plain Bun server that calls a protected downstream service with an M2M token.
// Run: npm run example -- bun (against the local token server), or
// CLIENT_ID=… CLIENT_SECRET=… APPLICATION_VANITY_DOMAIN=… DOWNSTREAM_URL=… bun bun/server.ts
import { createWristbandM2MClient, WristbandM2MError } from '@wristband/typescript-m2m-auth';

const m2m = createWristbandM2MClient({
  clientId: Bun.env.CLIENT_ID!,
  clientSecret: Bun.env.CLIENT_SECRET!,
  wristbandApplicationVanityDomain: Bun.env.APPLICATION_VANITY_DOMAIN!,
});

async function callDownstream(path: string): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const token = await m2m.getToken();
    const response = await fetch(new URL(path, Bun.env.DOWNSTREAM_URL), {
      headers: { Authorization: `Bearer ${token}` },
    });
    if (response.status !== 401 || attempt === 2) return response;
    m2m.clearToken(token); // retires only the rejected token
  }
}

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(Bun.env.PORT ?? 3000),
  async fetch(request) {
    if (new URL(request.url).pathname !== '/reports') return new Response('not found', { status: 404 });
    try {
      const downstream = await callDownstream('/reports');
      if (!downstream.ok) return Response.json({ error: `downstream answered ${downstream.status}` }, { status: 502 });
      return Response.json(await downstream.json());
    } catch (error) {
      if (error instanceof WristbandM2MError) return Response.json({ error: error.code }, { status: 503 });
      throw error;
    }
  },
});
console.log(`listening on ${server.url.origin}`);
