// A process that gets one token with background refresh on, then has nothing left to do. It must exit by itself:
// the refresh timer is unref'd (timer.unref() on Node and Bun, Deno.unrefTimer() on Deno).
import { createWristbandM2MClient } from '../../dist/index.js';

const server = JSON.parse(globalThis.Deno ? globalThis.Deno.args[0] : process.argv[2]);
const client = createWristbandM2MClient({
  clientId: server.clientId,
  clientSecret: server.clientSecret,
  wristbandApplicationVanityDomain: server.vanityDomain,
  backgroundTokenRefreshInterval: 60,
});
const token = await client.getToken();
console.log(JSON.stringify({ gotToken: token.length > 0 }));
