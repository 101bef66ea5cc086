// The module README snippets import as './auth.js': the process's shared client.
import { createWristbandM2MClient } from '@wristband/typescript-m2m-auth';

export const wristbandM2MClient = createWristbandM2MClient({
  clientId: 'id',
  clientSecret: 'secret',
  wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
});
