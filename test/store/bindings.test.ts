// A Worker's binding misnamed in the Wrangler config reaches the store factory as undefined: the factory says so at
// creation, naming the fix, as the other stores' factories do for a missing client (it had failed every call instead).
import { describe, expect, it } from 'vitest';
import { createKVTokenStore, type KVNamespaceLike } from '../../src/store/cloudflare-kv.js';
import { createDurableObjectTokenStore, type DurableObjectNamespaceLike } from '../../src/store/durable-object.js';

describe('a missing binding', () => {
  it.each([undefined, null, {}, 'TOKEN_STORE'])(
    'createDurableObjectTokenStore(%j) throws, naming the binding',
    (value) => {
      expect(() => createDurableObjectTokenStore(value as unknown as DurableObjectNamespaceLike)).toThrow(
        /needs a Durable Object namespace binding .*Wrangler config/,
      );
    },
  );

  it.each([undefined, null, {}, 'TOKENS'])('createKVTokenStore(%j) throws, naming the binding', (value) => {
    expect(() => createKVTokenStore(value as unknown as KVNamespaceLike)).toThrow(
      /needs a Workers KV namespace binding .*Wrangler config/,
    );
  });
});
