// The fleet half of the store conformance suite, for stores a Node process reaches over the network (Redis, Upstash,
// DynamoDB): clients of the real client (src/) against the demo token server, each with its own store object (its
// own connection), so that the store is all they share. The Durable Object and Deno KV suites run the same three
// scenarios in workerd isolates and Deno processes (test/store/durable-object.test.ts, test/store/deno-kv.test.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { startTokenServer } from '../../demo/token-server.mjs';
import { createWristbandM2MClient, type TokenStore, type WristbandM2MClient } from '../../src/index.js';

export const FLEET_SIZE = 8;
type TokenServer = Awaited<ReturnType<typeof startTokenServer>>;

/** Figures the scenarios printed, by store: the report quotes them. */
const log = (line: string): void => console.log(`[fleet] ${line}`);

/**
 * Declares the three fleet scenarios for a store: 8 cold clients make 1 token request; a fleet mid-rotation shares
 * one token per secret; a 401 seen by every client makes one refresh for all. `newStore()` is called once per client.
 */
export function describeFleet(name: string, newStore: () => TokenStore | Promise<TokenStore>): void {
  describe(`${name}: a fleet of ${FLEET_SIZE} clients sharing the store`, () => {
    const OLD = 'old secret/+=';
    const servers: TokenServer[] = [];
    const clients: WristbandM2MClient[] = [];
    const storeErrors: string[] = [];
    afterEach(async () => {
      for (const client of clients.splice(0)) client.destroy();
      storeErrors.length = 0;
      await Promise.all(servers.splice(0).map((server) => server.close()));
    });

    /**
     * A token server of its own (records are keyed by the endpoint's host and the client id, so no scenario finds
     * another's token) and one client per entry of `secrets`.
     */
    async function fleet(
      secrets: (string | string[])[],
    ): Promise<{ server: TokenServer; members: WristbandM2MClient[] }> {
      const server = await startTokenServer({ clientId: `fleet-${name}`, clientSecret: OLD });
      servers.push(server);
      const members = await Promise.all(
        secrets.map(async (clientSecret) =>
          createWristbandM2MClient({
            clientId: server.clientId,
            clientSecret,
            wristbandApplicationVanityDomain: server.vanityDomain,
            tokenStore: await newStore(),
            // Generous: on a loaded machine a slow call is not what this counts (requests are), nor a store failure.
            tokenStoreTimeout: 5,
            onTokenStoreError: ({ operation, error }) => void storeErrors.push(`${operation}: ${error.message}`),
          }),
        ),
      );
      clients.push(...members);
      return { server, members };
    }

    it(`${FLEET_SIZE} cold clients make 1 token request and share its token`, async () => {
      const { server, members } = await fleet(Array(FLEET_SIZE).fill(OLD));
      server.setLatency(100);
      const tokens = await Promise.all(members.map((m) => m.getToken()));
      expect(new Set(tokens).size).toBe(1);
      expect(server.requestCount).toBe(1);
      expect(storeErrors).toEqual([]);
      log(`${name}: ${server.requestCount} token request for ${FLEET_SIZE} cold clients`);
    });

    it('a 401 seen by every client makes one refresh for all', async () => {
      const { server, members } = await fleet(Array(FLEET_SIZE).fill(OLD));
      const [first] = await Promise.all(members.map((m) => m.getToken()));
      server.requests.length = 0;
      server.revokeAll(); // every client now holds a token the API rejects
      server.setLatency(100);
      const statuses = await Promise.all(
        members.map(async (m) => (await m.fetch(`${server.vanityDomain}/_protected`)).status),
      );
      expect(statuses).toEqual(Array(FLEET_SIZE).fill(200));
      expect(server.requestCount).toBe(1);
      const after = await Promise.all(members.map((m) => m.getToken()));
      expect(new Set(after).size).toBe(1);
      expect(after[0]).not.toBe(first);
      expect(storeErrors).toEqual([]);
      log(`${name}: ${server.requestCount} token request to recover from a 401 in all ${FLEET_SIZE} clients`);
    });

    it('a fleet mid-rotation ([old], [new, old], [new]) makes one request per secret and shares each token', async () => {
      const NEW = 'new secret 7f3a';
      const { server, members } = await fleet([OLD, OLD, [NEW, OLD], [NEW, OLD], NEW, NEW]);
      server.secrets.add(NEW);
      server.setLatency(200);
      const tokens = await Promise.all(members.map((m) => m.getToken()));
      expect(server.requestCount).toBe(2);
      expect(tokens[1]).toBe(tokens[0]);
      expect(tokens[5]).toBe(tokens[4]);
      expect(tokens[4]).not.toBe(tokens[0]);
      for (const token of tokens.slice(2, 4)) expect([tokens[0], tokens[4]]).toContain(token);
      expect(storeErrors).toEqual([]);
      log(`${name}: ${server.requestCount} token requests for 6 cold clients holding 2 secrets between them`);
    });
  });
}
