// An Express API that calls a protected downstream service with an M2M token.
// Run: npm run example -- express (against the local token server), or
// CLIENT_ID=… CLIENT_SECRET=… APPLICATION_VANITY_DOMAIN=… DOWNSTREAM_URL=… node express/server.mjs
import express from 'express';
import { createWristbandM2MClient, WristbandM2MError } from '@wristband/typescript-m2m-auth';

const { CLIENT_ID, CLIENT_SECRET, APPLICATION_VANITY_DOMAIN, DOWNSTREAM_URL, PORT = '3000' } = process.env;

// One client per process: its cache and in-flight request are shared by every request this server handles.
const m2m = createWristbandM2MClient({
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  wristbandApplicationVanityDomain: APPLICATION_VANITY_DOMAIN,
});

/** GETs a downstream path with the M2M token; on 401 gets a fresh token and tries once more. */
async function callDownstream(path) {
  for (let attempt = 1; ; attempt++) {
    const token = await m2m.getToken();
    const response = await fetch(new URL(path, DOWNSTREAM_URL), { headers: { Authorization: `Bearer ${token}` } });
    if (response.status !== 401 || attempt === 2) return response;
    m2m.clearToken(token); // retires only the rejected token: 100 concurrent 401s cause 1 refresh
  }
}

const app = express();

app.get('/reports', async (_req, res, next) => {
  try {
    const downstream = await callDownstream('/reports');
    // An error answer (a second 401 has an empty body) is not passed on as JSON: it would throw.
    if (!downstream.ok) return void res.status(502).json({ error: `downstream answered ${downstream.status}` });
    res.json(await downstream.json());
  } catch (error) {
    next(error);
  }
});

// Token failures become 503s: the problem is ours to fix, not the caller's.
app.use((error, _req, res, _next) => {
  const code = error instanceof WristbandM2MError ? error.code : 'INTERNAL';
  res.status(error instanceof WristbandM2MError ? 503 : 500).json({ error: code });
});

// Warm the cache before taking traffic; a failure here is retried by the first request.
await m2m.getToken().catch((error) => console.error('first M2M token failed:', error.message));
const server = app.listen(Number(PORT), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => {
  m2m.destroy();
  server.close();
});
