// The DynamoDB store against a real DynamoDB implementation (dynalite, in this process) through the real AWS SDK v3
// document client: the conformance suite, the fleet, the items as the table holds them, and what a hostile table or
// a failing SDK call does.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTokenServer } from '../../demo/token-server.mjs';
import { createWristbandM2MClient } from '../../src/index.js';
import { createDynamoDBTokenStore, type DynamoDBDocumentLike } from '../../src/store/dynamodb.js';
import { startDynalite, type LocalDynamoDB } from '../support/dynalite.js';
import { recordKeyFor } from '../support/fleet.js';
import { storeContract } from '../support/store-contract.js';
import { describeFleet } from '../support/store-fleet.js';

let dynamo: LocalDynamoDB;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(() => dynamo?.close());

const newStore = (options?: { wrapNumbers?: boolean | 'bigint' }) =>
  createDynamoDBTokenStore({ client: dynamo.client(options), tableName: dynamo.tableName });
const nowSeconds = () => Date.now() / 1000;

describe.concurrent('createDynamoDBTokenStore: the store contract', () => {
  // expiresAt is whole epoch seconds (DynamoDB's TTL format), rounded up: an entry may outlive its TTL by < 1 s.
  for (const check of storeContract(() => newStore(), { expiryGraceMs: 1_000 })) it(check.name, check.run);
});

describe.concurrent('createDynamoDBTokenStore with a wrapNumbers document client: the store contract', () => {
  for (const check of storeContract(() => newStore({ wrapNumbers: true }), { expiryGraceMs: 1_000 })) {
    it(check.name, check.run);
  }
});

describe.concurrent('createDynamoDBTokenStore with a document client whose wrapNumbers makes bigints: the store contract', () => {
  // Read as NaN before, every item looked expired: a plain miss, nothing reported, and a fleet fetched N tokens.
  for (const check of storeContract(() => newStore({ wrapNumbers: 'bigint' }), { expiryGraceMs: 1_000 })) {
    it(check.name, check.run);
  }
});

describeFleet('DynamoDB', () => newStore());
describeFleet('DynamoDB with bigint numbers', () => newStore({ wrapNumbers: 'bigint' }));

describe('createDynamoDBTokenStore: the table', () => {
  it('holds pk, value and expiresAt in whole epoch seconds, the TTL rounded up', async () => {
    const store = newStore();
    const before = nowSeconds();
    await store.set('item-shape', 'a value', 90);
    expect(await store.acquire?.('item-shape:lock', 30, 'owner-1')).toBe(true);
    const raw = dynamo.client();
    const { Item } = await raw.get({ TableName: dynamo.tableName, Key: { pk: 'item-shape' } });
    expect(Object.keys(Item ?? {}).sort()).toEqual(['expiresAt', 'pk', 'value']);
    expect(Item).toMatchObject({ pk: 'item-shape', value: 'a value' });
    expect(Number.isInteger(Item?.expiresAt)).toBe(true);
    expect(Item?.expiresAt).toBeGreaterThanOrEqual(before + 90);
    expect(Item?.expiresAt).toBeLessThanOrEqual(nowSeconds() + 91);
    const lock = await raw.get({ TableName: dynamo.tableName, Key: { pk: 'item-shape:lock' } });
    expect(lock.Item).toMatchObject({ value: 'owner-1' });
  });

  it('serves nothing from an item DynamoDB has not deleted yet, and lets acquire and set replace it', async () => {
    // DynamoDB's TTL deletion lags by minutes or days: an expired item stays readable there.
    const raw = dynamo.client();
    const put = (pk: string, Item: Record<string, unknown>) =>
      raw.put({ TableName: dynamo.tableName, Item: { pk, ...Item } });
    await put('stale', { value: 'stale token', expiresAt: Math.floor(nowSeconds()) - 5 });
    await put('stale:lock', { value: 'dead owner', expiresAt: Math.floor(nowSeconds()) - 1 });
    const store = newStore();
    expect(await store.get('stale')).toBeNull();
    expect(await store.get('stale:lock')).toBeNull();
    expect(await store.acquire?.('stale:lock', 30, 'new owner')).toBe(true);
    expect(await store.get('stale:lock')).toBe('new owner');
    // An expired lock of the old owner released late does not free the new one.
    await store.deleteIfEquals?.('stale:lock', 'dead owner');
    expect(await store.get('stale:lock')).toBe('new owner');
  });

  it('treats an item whose expiresAt is missing or not a number as expired: never served, free to acquire', async () => {
    const raw = dynamo.client();
    const store = newStore();
    for (const [pk, extra] of [
      ['no-expiry', {}],
      ['text-expiry', { expiresAt: '99999999999' }],
      ['null-expiry', { expiresAt: null }],
    ] as const) {
      await raw.put({ TableName: dynamo.tableName, Item: { pk, value: 'foreign', ...extra } });
      expect(await store.get(pk), pk).toBeNull();
      expect(await store.acquire?.(pk, 30, 'owner'), pk).toBe(true);
      expect(await store.get(pk), pk).toBe('owner');
    }
  });

  it('passes a value that is no string on as it is, for the client to report', async () => {
    const raw = dynamo.client();
    await raw.put({
      TableName: dynamo.tableName,
      Item: { pk: 'number-value', value: 2, expiresAt: nowSeconds() + 60 },
    });
    expect(await newStore().get('number-value')).toBe(2);
  });

  it('a garbage record, or a table that does not exist, is a miss reported through onTokenStoreError', async () => {
    const server = await startTokenServer({ clientId: 'dynamo-garbage', clientSecret: 'garbage secret' });
    const raw = dynamo.client();
    const errors: string[] = [];
    const client = (tableName: string) =>
      createWristbandM2MClient({
        clientId: server.clientId,
        clientSecret: server.clientSecret,
        wristbandApplicationVanityDomain: server.vanityDomain,
        tokenStore: createDynamoDBTokenStore({ client: dynamo.client(), tableName }),
        onTokenStoreError: ({ operation, error }) => void errors.push(`${operation}: ${error.message}`),
      });
    try {
      const key = await recordKeyFor(server);
      for (const value of [42, { S: 'v2.x.y' }, 'v2.not-a-record', ['a']]) {
        await raw.put({ TableName: dynamo.tableName, Item: { pk: key, value, expiresAt: nowSeconds() + 60 } });
        const m2m = client(dynamo.tableName);
        expect(await m2m.getToken()).toMatch(/^m2m\./);
        m2m.destroy();
      }
      // Each client reads the record twice (before and after taking the lock): every read reported, none thrown.
      const reads = errors.filter((e) => e.startsWith('get:'));
      expect(reads.length).toBeGreaterThanOrEqual(4);
      for (const read of reads) expect(read).toMatch(/returned (number|object)|cannot read/);
      errors.length = 0;
      const missing = client('no-such-table');
      expect(await missing.getToken()).toMatch(/^m2m\./);
      missing.destroy();
      expect(errors.some((e) => /ResourceNotFound|non-existent table|failed/i.test(e))).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe('createDynamoDBTokenStore: failed and throttled calls', () => {
  /** A document client whose calls fail as a throttled DynamoDB does, `times` times, then reach dynalite. */
  function throttled(times: number): DynamoDBDocumentLike & { calls: string[] } {
    const real = dynamo.client();
    const calls: string[] = [];
    const fail = <T>(name: string, call: () => Promise<T>): Promise<T> => {
      calls.push(name);
      if (calls.length > times) return call();
      const error = new Error('Rate of requests exceeds the allowed throughput.');
      error.name = 'ProvisionedThroughputExceededException';
      return Promise.reject(error);
    };
    return {
      calls,
      get: (input) => fail('get', () => real.get(input)),
      put: (input) => fail('put', () => real.put(input)),
      delete: (input) => fail('delete', () => real.delete(input)),
    };
  }

  it('rejects with the SDK error: a throttled acquire is never a lock lost, nor a throttled get a miss unreported', async () => {
    const store = createDynamoDBTokenStore({ client: throttled(99), tableName: dynamo.tableName });
    await expect(store.get('throttled')).rejects.toThrow(/throughput/);
    await expect(store.acquire?.('throttled:lock', 30, 'owner')).rejects.toThrow(/throughput/);
    await expect(store.deleteIfEquals?.('throttled:lock', 'owner')).rejects.toThrow(/throughput/);
  });

  it('a throttled store costs the client its sharing, never its token: every failure reported', async () => {
    const server = await startTokenServer({ clientId: 'dynamo-throttled', clientSecret: 'throttled secret' });
    const errors: string[] = [];
    try {
      const m2m = createWristbandM2MClient({
        clientId: server.clientId,
        clientSecret: server.clientSecret,
        wristbandApplicationVanityDomain: server.vanityDomain,
        tokenStore: createDynamoDBTokenStore({ client: throttled(99), tableName: dynamo.tableName }),
        onTokenStoreError: ({ operation }) => void errors.push(operation),
      });
      expect(await m2m.getToken()).toMatch(/^m2m\./);
      m2m.destroy();
      // The reads, the lock (counted as won: a request too many rather than a stall), the write, the lock's release.
      expect(new Set(errors)).toEqual(new Set(['acquire', 'deleteIfEquals', 'get', 'set']));
    } finally {
      await server.close();
    }
  });

  it('an acquire whose put the SDK retried after it landed finds its own lock (ALL_OLD): won, not lost', async () => {
    // The first attempt's put lands and its answer is lost; the SDK's retry then fails its condition on that very
    // item, which DynamoDB returns (ALL_OLD, in wire form). dynalite returns none: this client plays both.
    const real = dynamo.client();
    let landed: Record<string, unknown> | undefined;
    const retrying: DynamoDBDocumentLike = {
      get: (input) => real.get(input),
      delete: (input) => real.delete(input),
      async put(input) {
        await real.put(input);
        landed = input.Item;
        const wire = Object.fromEntries(
          Object.entries(landed).map(([name, v]) => [name, typeof v === 'number' ? { N: String(v) } : { S: v }]),
        );
        throw Object.assign(new Error('The conditional request failed'), {
          name: 'ConditionalCheckFailedException',
          Item: wire,
        });
      },
    };
    const store = createDynamoDBTokenStore({ client: retrying, tableName: dynamo.tableName });
    expect(await store.acquire?.('retried:lock', 30, 'owner-1')).toBe(true);
    expect(Object.keys(landed ?? {}).sort()).toEqual(['attempt', 'expiresAt', 'pk', 'value']);
    // A lock the same owner took in an earlier call is not this call's: lost, as with Redis's SET NX.
    const again = createDynamoDBTokenStore({ client: dynamo.client(), tableName: dynamo.tableName });
    expect(await again.acquire?.('retried:lock', 30, 'owner-1')).toBe(false);
    const answering = (Item: unknown): DynamoDBDocumentLike => ({
      get: async () => ({}),
      put: async () =>
        Promise.reject(Object.assign(new Error('failed'), { name: 'ConditionalCheckFailedException', Item })),
      delete: async () => undefined,
    });
    const expiresAt = { N: String(Math.ceil(nowSeconds()) + 30) };
    for (const Item of [
      undefined,
      { value: { S: 'owner-1' }, expiresAt },
      { value: { S: 'owner-1' }, attempt: { S: 'x' }, expiresAt },
    ]) {
      const store = createDynamoDBTokenStore({ client: answering(Item), tableName: 'tokens' });
      expect(await store.acquire?.('k', 30, 'owner-1'), JSON.stringify(Item)).toBe(false);
    }
  });

  it('refuses a client that is not a document client, or no table name, when created', () => {
    expect(() => createDynamoDBTokenStore({ client: {} as never, tableName: 'tokens' })).toThrow(/DynamoDBDocument/);
    expect(() => createDynamoDBTokenStore({ client: dynamo.client(), tableName: '' })).toThrow(/tableName/);
  });
});

describe('createDynamoDBTokenStore: clocks', () => {
  it('shifts a lock’s expiry by its writer’s clock skew, no more: 5 s behind, a 30 s lock still holds', async () => {
    const behind = vi.spyOn(Date, 'now').mockImplementation(() => performance.timeOrigin + performance.now() - 5_000);
    try {
      expect(await newStore().acquire?.('skewed:lock', 30, 'slow clock')).toBe(true);
    } finally {
      behind.mockRestore();
    }
    expect(await newStore().acquire?.('skewed:lock', 30, 'true clock')).toBe(false);
    expect(await newStore().get('skewed:lock')).toBe('slow clock');
  });
});
