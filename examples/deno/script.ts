// A Deno script (a cron job, say) that calls a protected service once with an M2M token and exits.
// Run: npm run example -- deno (against the local token server), or deno run --allow-net --allow-env deno/script.ts
// Outside this repository, import from 'npm:@wristband/typescript-m2m-auth'.
import { createWristbandM2MClient } from '@wristband/typescript-m2m-auth';

const env = (name: string): string => {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const m2m = createWristbandM2MClient({
  clientId: env('CLIENT_ID'),
  clientSecret: env('CLIENT_SECRET'),
  wristbandApplicationVanityDomain: env('APPLICATION_VANITY_DOMAIN'),
});

const token = await m2m.getToken();
const response = await fetch(new URL('/reports', env('DOWNSTREAM_URL')), {
  headers: { Authorization: `Bearer ${token}` },
});
console.log(`GET /reports: ${response.status} ${JSON.stringify(await response.json())}`);
