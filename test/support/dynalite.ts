// A DynamoDB on loopback for the DynamoDB store's tests: dynalite (an implementation of DynamoDB's API on LevelDB, in
// this process and in memory), with a table shaped as the store documents it, reached through the real AWS SDK v3.
// dynalite has no TTL deletion (UpdateTimeToLive is an unknown operation there): expiry is the store's own check.
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocument } from '@aws-sdk/lib-dynamodb';
// @ts-expect-error dynalite ships no type declarations
import dynalite from 'dynalite';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export interface LocalDynamoDB {
  endpoint: string;
  /** A table with the string partition key `pk`, as the store needs. */
  tableName: string;
  /** A new SDK client of its own (its own connections), as one process of a fleet would have. */
  /** `wrapNumbers`: the document client's unmarshall option, `true` (NumberValue) or a function (here to bigint). */
  client(options?: { wrapNumbers?: boolean | 'bigint' }): DynamoDBDocument;
  close(): Promise<void>;
}

export async function startDynalite(tableName = 'wristband-tokens'): Promise<LocalDynamoDB> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const raw = () =>
    new DynamoDBClient({
      endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
  const admin = raw();
  // The table the store's documentation gives, as one AWS CLI command.
  await admin.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  admin.destroy();
  const made: DynamoDBClient[] = [];
  return {
    endpoint,
    tableName,
    client(options = {}) {
      const client = raw();
      made.push(client);
      const wrapNumbers = options.wrapNumbers === 'bigint' ? (n: string) => BigInt(n) : (options.wrapNumbers ?? false);
      return DynamoDBDocument.from(client, { unmarshallOptions: { wrapNumbers } });
    },
    async close() {
      for (const client of made) client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
