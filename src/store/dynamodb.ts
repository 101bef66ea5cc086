/**
 * `@wristband/typescript-m2m-auth/dynamodb`: a {@link TokenStore} on a DynamoDB table, through the AWS SDK v3
 * document client you already have (`DynamoDBDocument` from `@aws-sdk/lib-dynamodb`), with the fleet's lock.
 *
 * The table's only key is a string partition key named `pk`; each item also holds `value` (a string) and
 * `expiresAt` (epoch seconds), which you should enable as the table's TTL attribute so that DynamoDB deletes old
 * items, and a lock also the random `attempt` of the call that took it. That deletion lags, by minutes or days, so
 * the expiry is also checked on every read and in every condition: the lock is a put conditioned on
 * `attribute_not_exists(pk)` or an expired item, the compare-and-delete a delete conditioned on the value. Reads are
 * strongly consistent. A document client whose `unmarshallOptions.wrapNumbers` is a function must have it return a
 * number, a bigint or a `NumberValue`.
 *
 * See https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html and
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html.
 * @module @wristband/typescript-m2m-auth/dynamodb
 */
import type { TokenStore } from './types.js';

export type { TokenStore } from './types.js';

/** An item as the store writes it: the key, the value, and when it expires in epoch seconds. */
type Item = Record<string, unknown>;

/**
 * What is used of a `DynamoDBDocument` (from `@aws-sdk/lib-dynamodb`: `DynamoDBDocument.from(new DynamoDBClient())`),
 * whose `get`, `put` and `delete` take and return plain values.
 */
export interface DynamoDBDocumentLike {
  get(input: {
    TableName: string;
    Key: Record<string, unknown>;
    ConsistentRead?: boolean;
  }): Promise<{ Item?: Record<string, unknown> | undefined }>;
  put(input: {
    TableName: string;
    Item: Record<string, unknown>;
    ConditionExpression?: string;
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
    ReturnValuesOnConditionCheckFailure?: 'ALL_OLD';
  }): Promise<unknown>;
  delete(input: {
    TableName: string;
    Key: Record<string, unknown>;
    ConditionExpression?: string;
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  }): Promise<unknown>;
}

/** What {@link createDynamoDBTokenStore} needs. */
export interface DynamoDBTokenStoreOptions {
  /** Your document client: `DynamoDBDocument.from(new DynamoDBClient({}))`. */
  client: DynamoDBDocumentLike;
  /** A table whose partition key is the string `pk` (and no sort key), with `expiresAt` as its TTL attribute. */
  tableName: string;
}

/** Free when there is no item, when its expiry is missing or not a number (not ours), or when it has passed. */
const FREE = 'attribute_not_exists(pk) OR NOT attribute_type(#expiresAt, :number) OR #expiresAt <= :now';

export function createDynamoDBTokenStore({ client, tableName }: DynamoDBTokenStoreOptions): TokenStore {
  if (typeof client?.get !== 'function' || typeof client.put !== 'function' || typeof client.delete !== 'function') {
    throw new TypeError(
      'createDynamoDBTokenStore() needs { client, tableName } with client a DynamoDBDocument from @aws-sdk/lib-dynamodb.',
    );
  }
  if (typeof tableName !== 'string' || tableName === '') {
    throw new TypeError('createDynamoDBTokenStore() needs the name of the table as tableName.');
  }
  const TableName = tableName;
  /** The item for `key` that holds `value` until `ttlSeconds` from now, rounded up to a whole second for TTL. */
  const item = (key: string, value: string, ttlSeconds: number): Item => ({
    pk: key,
    value,
    expiresAt: Math.ceil(Date.now() / 1000 + ttlSeconds),
  });
  return {
    async get(key) {
      const { Item: found } = await client.get({ TableName, Key: { pk: key }, ConsistentRead: true });
      if (found === undefined || !(Date.now() / 1000 < expiryOf(found))) return null;
      // A value that is no string is passed on as it is: the client reports it and reads past it.
      return found.value as string;
    },
    set: (key, value, ttlSeconds) => client.put({ TableName, Item: item(key, value, ttlSeconds) }),
    delete: (key) => client.delete({ TableName, Key: { pk: key } }),
    async deleteIfEquals(key, value) {
      try {
        await client.delete({
          TableName,
          Key: { pk: key },
          // `value` is one of DynamoDB's reserved words: the expression names it through a placeholder.
          ConditionExpression: '#value = :value',
          ExpressionAttributeNames: { '#value': 'value' },
          ExpressionAttributeValues: { ':value': value },
        });
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    },
    async acquire(key, ttlSeconds, owner) {
      // Marks this call's put, so that a put the SDK retried (its first attempt landed, its answer was lost) knows
      // its own lock from one the same owner took before.
      const attempt = crypto.randomUUID();
      try {
        await client.put({
          TableName,
          Item: { ...item(key, owner, ttlSeconds), attempt },
          ConditionExpression: FREE,
          ExpressionAttributeNames: { '#expiresAt': 'expiresAt' },
          ExpressionAttributeValues: { ':number': 'N', ':now': Date.now() / 1000 },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        });
        return true;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        // DynamoDB sends the item it found (ALL_OLD) in its wire form ({ S: ... }), which the document client leaves
        // as it is (and dynalite sends none).
        const old = (error as { Item?: Item }).Item;
        return old !== undefined && scalar(old.attempt) === attempt && Date.now() / 1000 < expiryOf(old);
      }
    },
  };
}

/** The item's expiry in epoch seconds; NaN (never live) when it has none or it is no number. */
function expiryOf(found: Item): number {
  const expiresAt = scalar(found.expiresAt);
  return typeof expiresAt === 'number' ? expiresAt : Number.NaN;
}

/**
 * An attribute as a plain string or number, whichever form it came in: plain (the document client), wire form
 * (`{ S: 'x' }`, `{ N: '1' }`), a `NumberValue` (a document client made with `wrapNumbers: true`), or a bigint (one
 * whose `wrapNumbers` function returns one: read as a plain null before, every item looked expired).
 */
function scalar(attribute: unknown): unknown {
  if (typeof attribute === 'bigint') return Number(attribute);
  if (typeof attribute !== 'object' || attribute === null) return attribute;
  const { S, N, value } = attribute as Record<string, unknown>;
  if (typeof S === 'string') return S;
  const digits = typeof N === 'string' ? N : value;
  return typeof digits === 'string' ? Number(digits) : undefined;
}

function isConditionFailure(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'ConditionalCheckFailedException';
}
