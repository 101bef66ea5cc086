// What the guides and the API reference say of the store contract matches the code: a store written from the docs
// must work with the client (a review found a custom store built from the old text kept its lock for good).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8').replace(/\s+/g, ' ');

describe('the store contract as the docs state it', () => {
  it('"Your own store" gives acquire() the owner the client passes and releases with deleteIfEquals', () => {
    const guide = read('docs/fleets-and-stores.md');
    const section = guide.slice(guide.indexOf('## Your own store'));
    expect(section).toContain('acquire(key, ttlSeconds, owner)');
    expect(section).toContain('deleteIfEquals(key, owner)');
    // The contract itself (src/store/types.ts) takes the owner too.
    expect(read('src/store/types.ts')).toMatch(/acquire\?\(key: string, ttlSeconds: number, owner: string\)/);
  });

  it('does not claim Workers KV passes the conformance suite (it has no lock and no compare-and-delete)', () => {
    const stores = read('docs/stores.md');
    expect(stores).not.toContain('conformance suite every store above passes');
    expect(stores).toContain('every store above with a lock passes (not Workers KV');
  });

  it("the DynamoDB reference names expiresAt as the table's TTL attribute", () => {
    const source = read('src/store/dynamodb.ts');
    const header = source.slice(0, source.indexOf('@module'));
    expect(header).toContain("`expiresAt` (epoch seconds), which you should enable as the table's TTL attribute");
  });
});
