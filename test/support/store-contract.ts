// The conformance suite every TokenStore with a lock must pass, against the real engine: values round-trip exactly,
// TTLs hold and are checked on read, deleteIfEquals deletes only its own value, acquire is set-if-absent with a TTL
// (50 concurrent calls, one winner), a lock frees itself at its TTL.
//
// It imports nothing at run time and uses no Node API, so that the same checks run under vitest (memory, Redis,
// Upstash, DynamoDB, Durable Objects from Node) and inside Deno (Deno KV): each check throws on a failure.
import type { TokenStore } from '../../src/store/types.js';

/**
 * The TTL of the entries and locks that must expire during a check: 2 s rather than 1, so that a slow round trip
 * (Node to workerd through Miniflare's proxy takes hundreds of ms under load) still reads them within it.
 */
const SHORT_TTL_SECONDS = 2;

export interface ContractOptions {
  /** Time an entry may outlive its TTL: a store that rounds expiries up to a whole second needs 1,000 ms. */
  expiryGraceMs?: number;
  /** Concurrent acquire() calls on one key. */
  contenders?: number;
}

export interface ContractCheck {
  name: string;
  run(): Promise<void>;
}

/** Values a store must hand back exactly: JSON-looking ones, which a deserializing client would turn into others. */
export const AWKWARD_VALUES: readonly string[] = [
  'v2.AAECAwQFBgcICQoL.c2VhbGVkLXJlY29yZA',
  '2',
  '-0',
  '2.50',
  '1e3',
  'true',
  'null',
  'OK',
  '"quoted"',
  '{"code":"TOKEN_ENDPOINT_HTTP_ERROR","retryUntil":1}',
  ' {"spaced": true} ',
  '[1,"2"]',
  '',
  'é ✓ 𝄞',
  'x'.repeat(8_000),
];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function expectSame(actual: unknown, expected: unknown, what: string): void {
  if (!Object.is(actual, expected)) {
    const show = (value: unknown): string =>
      typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : String(value);
    throw new Error(`${what}: expected ${show(expected)} (${typeof expected}), got ${show(actual)} (${typeof actual})`);
  }
}

const absent = async (store: TokenStore, key: string, what: string): Promise<void> => {
  const value = await store.get(key);
  if (value !== null && value !== undefined)
    throw new Error(`${what}: expected no value, got ${JSON.stringify(value)}`);
};

/**
 * The checks, each on keys of its own (so they may run concurrently); `store()` is called when a check runs, so the
 * store may be created in a hook after the checks are declared.
 */
export function storeContract(store: () => TokenStore, options: ContractOptions = {}): ContractCheck[] {
  const grace = options.expiryGraceMs ?? 0;
  const contenders = options.contenders ?? 50;
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const key = (name: string): string => `contract:${run}:${name}`;
  const acquire = (s: TokenStore, k: string, ttl: number, owner: string): Promise<boolean> => {
    if (s.acquire === undefined) throw new Error('the store has no acquire()');
    return s.acquire(k, ttl, owner);
  };
  const deleteIfEquals = async (s: TokenStore, k: string, value: string): Promise<void> => {
    if (s.deleteIfEquals === undefined) throw new Error('the store has no deleteIfEquals()');
    await s.deleteIfEquals(k, value);
  };

  return [
    {
      name: 'get of a key never set is null or undefined',
      run: () => absent(store(), key('never'), 'get'),
    },
    {
      name: 'values come back exactly as stored, JSON-looking ones included',
      async run() {
        const s = store();
        await Promise.all(AWKWARD_VALUES.map((value, i) => s.set(key(`value-${i}`), value, 60)));
        const read = await Promise.all(AWKWARD_VALUES.map((_, i) => s.get(key(`value-${i}`))));
        for (const [i, value] of AWKWARD_VALUES.entries()) expectSame(read[i], value, `value ${i}`);
      },
    },
    {
      name: 'set replaces the value and its TTL; an entry is gone once its TTL has passed, checked on read',
      async run() {
        const s = store();
        await s.set(key('short'), 'short-lived', SHORT_TTL_SECONDS);
        await s.set(key('long'), 'long-lived', 60);
        await s.set(key('extended'), 'first', SHORT_TTL_SECONDS);
        await s.set(key('extended'), 'second', 60);
        await s.set(key('shortened'), 'first', 60);
        await s.set(key('shortened'), 'second', SHORT_TTL_SECONDS);
        expectSame(await s.get(key('short')), 'short-lived', 'within its TTL');
        expectSame(await s.get(key('extended')), 'second', 'replaced');
        await sleep(SHORT_TTL_SECONDS * 1000 + 100 + grace);
        await absent(s, key('short'), 'past its TTL');
        await absent(s, key('shortened'), 'past the TTL of its last set');
        expectSame(await s.get(key('long')), 'long-lived', 'within its TTL');
        expectSame(await s.get(key('extended')), 'second', 'within the TTL of its last set');
      },
    },
    {
      name: 'delete removes a value; deleting a missing key is no error',
      async run() {
        const s = store();
        await s.set(key('doomed'), 'value', 60);
        await s.delete(key('doomed'));
        await absent(s, key('doomed'), 'after delete');
        await s.delete(key('doomed'));
        await s.delete(key('never-set'));
      },
    },
    {
      name: 'deleteIfEquals deletes only its own value, and creates nothing',
      async run() {
        const s = store();
        await s.set(key('mine'), 'mine', 60);
        await deleteIfEquals(s, key('mine'), 'theirs');
        expectSame(await s.get(key('mine')), 'mine', 'another value compared');
        await deleteIfEquals(s, key('mine'), 'min');
        expectSame(await s.get(key('mine')), 'mine', 'a prefix of the value compared');
        await deleteIfEquals(s, key('mine'), 'mine');
        await absent(s, key('mine'), 'its own value compared');
        await deleteIfEquals(s, key('nothing'), 'anything');
        await absent(s, key('nothing'), 'a missing key compared');
        await s.set(key('json'), '2', 60);
        await deleteIfEquals(s, key('json'), '2.0');
        expectSame(await s.get(key('json')), '2', 'an equal number, spelt otherwise');
      },
    },
    {
      name: 'acquire takes a free key once and stores its owner; a key holding any value is taken',
      async run() {
        const s = store();
        expectSame(await acquire(s, key('lock'), 30, 'owner-a'), true, 'first acquire');
        expectSame(await acquire(s, key('lock'), 30, 'owner-b'), false, 'second acquire');
        expectSame(await s.get(key('lock')), 'owner-a', 'the lock holds its owner');
        await s.set(key('record'), 'a token record', 30);
        expectSame(await acquire(s, key('record'), 30, 'owner-c'), false, 'acquire of a key set');
        expectSame(await s.get(key('record')), 'a token record', 'the value acquire did not take');
      },
    },
    {
      name: 'a lock is released only by its owner (deleteIfEquals), then is free',
      async run() {
        const s = store();
        expectSame(await acquire(s, key('owned'), 30, 'owner-a'), true, 'acquire');
        await deleteIfEquals(s, key('owned'), 'owner-b');
        expectSame(await acquire(s, key('owned'), 30, 'owner-c'), false, 'after another owner released it');
        await deleteIfEquals(s, key('owned'), 'owner-a');
        expectSame(await acquire(s, key('owned'), 30, 'owner-c'), true, 'after its owner released it');
        expectSame(await s.get(key('owned')), 'owner-c', 'the new owner');
      },
    },
    {
      name: `${contenders} concurrent acquire() calls on one key: exactly one wins, and the key holds its owner`,
      async run() {
        const s = store();
        const owners = Array.from({ length: contenders }, (_, i) => `contender-${i}`);
        const won = await Promise.all(owners.map((owner) => acquire(s, key('contended'), 30, owner)));
        const winners = owners.filter((_, i) => won[i] === true);
        expectSame(winners.length, 1, 'winners');
        expectSame(won.filter((w) => w !== true && w !== false).length, 0, 'answers other than booleans');
        expectSame(await s.get(key('contended')), winners[0], 'the key holds the winner');
      },
    },
    {
      name: 'a lock frees itself at its TTL: a later acquire wins it',
      async run() {
        const s = store();
        expectSame(await acquire(s, key('expiring'), SHORT_TTL_SECONDS, 'owner-a'), true, 'acquire');
        expectSame(await acquire(s, key('expiring'), SHORT_TTL_SECONDS, 'owner-b'), false, 'acquire within its TTL');
        await sleep(SHORT_TTL_SECONDS * 1000 + 100 + grace);
        await absent(s, key('expiring'), 'past its TTL');
        expectSame(await acquire(s, key('expiring'), 30, 'owner-b'), true, 'acquire past its TTL');
        expectSame(await s.get(key('expiring')), 'owner-b', 'the new owner');
        // The old owner's late release must not free the new owner's lock.
        await deleteIfEquals(s, key('expiring'), 'owner-a');
        expectSame(await s.get(key('expiring')), 'owner-b', 'after the old owner released it late');
      },
    },
    {
      name: 'keys are independent: a key, its :lock and its :failed',
      async run() {
        const s = store();
        await s.set(key('independent'), 'record', 60);
        expectSame(await acquire(s, `${key('independent')}:lock`, 30, 'owner'), true, 'acquire of :lock');
        await s.set(`${key('independent')}:failed`, '{"code":"TOKEN_REQUEST_TIMEOUT"}', 60);
        await deleteIfEquals(s, `${key('independent')}:lock`, 'owner');
        await s.delete(`${key('independent')}:failed`);
        expectSame(await s.get(key('independent')), 'record', 'the record');
      },
    },
  ];
}
