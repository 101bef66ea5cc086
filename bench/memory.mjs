// Retained heap per client (issue 14 item 4): N clients are created and kept, then each gets its first token from
// an in-process fake `fetch` (no sockets). Heap used after full GCs, minus the baseline, divided by N.
// Run: node --expose-gc bench/memory.mjs [N]  -> one JSON line.
import { PEERS } from './peers.mjs';

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const N = Number(process.argv[2] ?? 10_000);
const server = {
  clientId: 'bench-client',
  clientSecret: 'bench-secret',
  vanityDomain: 'https://acme.us.wristband.dev',
  tokenEndpoint: 'https://acme.us.wristband.dev/api/v1/oauth2/token',
};
let issued = 0;
/** A token endpoint answer as Wristband gives it; each token a distinct string of a JWT's typical length. */
const tokenOf = (serial) => `eyJhbGciOiJSUzI1NiJ9.${String(serial).padStart(8, '0')}.${'x'.repeat(600)}`;
const fakeFetch = async () => {
  const token = tokenOf(++issued);
  return new Response(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 3600 }), {
    status: 200,
    headers: { 'Content-Type': 'application/json' },
  });
};

/** Which peers: the ones that take an injected fetch. */
const SUBJECTS = {
  [PEERS[0].name]: 'createWristbandM2MClient({ clientId, clientSecret, wristbandApplicationVanityDomain, fetch })',
  [PEERS[2].name]:
    'new OAuth2Fetch({ client: new OAuth2Client({ ..., fetch }), getNewToken }): the client and its fetch wrapper',
};

async function heapUsed() {
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return process.memoryUsage().heapUsed;
}

const results = [];
for (const peer of PEERS.filter((p) => p.name in SUBJECTS)) {
  const lib = await peer.load();
  // Warm up: the library's code, shapes and one client, so the figure is per client, not per first client.
  const warm = peer.create(lib, server, { fetch: fakeFetch });
  await warm.call();
  warm.dispose?.();
  // Only what the library hands its user is kept: the benchmark's own wrapper (call, token, dispose) is not
  // the library's cost, and differs between subjects.
  const clients = new Array(N).fill(null); // allocated before the baseline: the array is not the clients' cost
  const base = await heapUsed();
  for (let i = 0; i < N; i++) clients[i] = peer.create(lib, server, { fetch: fakeFetch }).object;
  const created = await heapUsed();
  const tokens = await Promise.all(clients.map((c) => c.getToken()));
  tokens.length = 0;
  // Let any promise reaction or timer set up by the first request run out before measuring.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const withToken = await heapUsed();
  results.push({
    name: peer.name,
    what: SUBJECTS[peer.name],
    clients: N,
    bytesPerClientBeforeToken: (created - base) / N,
    bytesPerClientAfterToken: (withToken - base) / N,
    tokenLength: tokenOf(0).length,
  });
  for (const c of clients) c.destroy?.();
  clients.length = 0;
}
console.log(JSON.stringify({ node: process.version, results }));
process.exit(0);
