// The memory store against the conformance suite every store with a lock passes (test/support/store-contract.ts).
import { describe, it } from 'vitest';
import { createMemoryTokenStore } from '../../src/store/memory.js';
import { storeContract } from '../support/store-contract.js';
import { describeFleet } from '../support/store-fleet.js';

describe.concurrent('createMemoryTokenStore: the store contract', () => {
  const store = createMemoryTokenStore();
  for (const check of storeContract(() => store)) it(check.name, check.run);
});

// One memory store shared by every client of the fleet, as clients in one process share it.
const shared = createMemoryTokenStore();
describeFleet('memory', () => shared);
