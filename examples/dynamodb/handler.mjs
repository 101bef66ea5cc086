// An AWS Lambda function that calls a protected service with an M2M token shared by every execution environment
// through DynamoDB. The table: a string partition key `pk`, TTL on the number attribute `expiresAt` (docs/stores.md).
// Run: npm run example -- dynamodb (4 cold environments against dynalite, an implementation of DynamoDB, and the
// local token server). On Lambda, leave DYNAMODB_ENDPOINT unset: the SDK finds the region and the role's credentials.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocument } from '@aws-sdk/lib-dynamodb';
import { createWristbandM2MClient } from '@wristband/typescript-m2m-auth';
import { createDynamoDBTokenStore } from '@wristband/typescript-m2m-auth/dynamodb';

// A local DynamoDB (dynalite, DynamoDB Local) when DYNAMODB_ENDPOINT is set; the real one otherwise.
const local = process.env.DYNAMODB_ENDPOINT
  ? {
      endpoint: process.env.DYNAMODB_ENDPOINT,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }
  : {};

/** One warning per minute while the store fails, not one per call: tokens keep coming from Wristband meanwhile. */
let lastStoreWarning = 0;

// Module scope: created once per execution environment during its init phase (no I/O, no timer), reused by every
// warm invocation. No backgroundTokenRefreshInterval: a frozen environment runs no timers.
const m2m = createWristbandM2MClient({
  clientId: process.env.CLIENT_ID,
  clientSecret: process.env.CLIENT_SECRET,
  wristbandApplicationVanityDomain: process.env.APPLICATION_VANITY_DOMAIN,
  tokenStore: createDynamoDBTokenStore({
    client: DynamoDBDocument.from(new DynamoDBClient(local)),
    tableName: process.env.TOKEN_TABLE ?? 'wristband-m2m-tokens',
  }),
  onTokenStoreError: ({ operation, error }) => {
    if (Date.now() - lastStoreWarning < 60_000) return;
    lastStoreWarning = Date.now();
    console.warn(`M2M token store ${operation} failed, tokens come from Wristband meanwhile: ${error.cause ?? error}`);
  },
});

export async function handler() {
  // The token, and on a 401 one retry with a fresh token: the rejected one is retired in DynamoDB too, so the other
  // environments do not take it back.
  const response = await m2m.fetch(new URL('/reports', process.env.DOWNSTREAM_URL));
  if (!response.ok) return { statusCode: 502, body: JSON.stringify({ error: `reports answered ${response.status}` }) };
  return { statusCode: 200, body: await response.text() };
}
