// The Durable Object store in workerd (Miniflare), on the built package: the object as a user's Worker exports it,
// SQLite-backed, in one of 8 isolates of the same Worker, the 7 others binding it by script name. The conformance
// suite runs inside a Worker, on its binding, as the store runs in production; acquire() contended from 4 isolates
// at once; the fleet is 8 isolates, each with its own client; the alarm empties an object whose entries expired.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenServer } from '../../demo/token-server.mjs';
import {
  createDurableObjectTokenStore,
  type DurableObjectNamespaceLike,
  WristbandTokenStoreObject,
} from '../../src/store/durable-object.js';
import { disposeMiniflare } from '../runtimes/matrix.mjs';
import { storeContract } from '../support/store-contract.js';
import { FLEET_SIZE } from '../support/store-fleet.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { Miniflare } = createRequire(`${root}.tools/miniflare/`)('miniflare');
const ISOLATES = FLEET_SIZE;
const HOST = 'w0';
const names = Array.from({ length: ISOLATES }, (_, i) => `w${i}`);

// biome-ignore lint/suspicious/noExplicitAny: Miniflare is loaded from .tools/ at run time, untyped
let mf: any;
let namespace: DurableObjectNamespaceLike;
/** The Worker bundled with the store contract (TypeScript) and dist/, as one module workerd loads. */
const bundleDir = mkdtempSync(join(tmpdir(), 'm2m-do-'));
beforeAll(async () => {
  await build({
    entryPoints: [`${root}test/store/durable-object-worker.mjs`],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    outfile: join(bundleDir, 'worker.mjs'),
    logLevel: 'error',
  });
  const classes = { TOKEN_STORE: 'WristbandTokenStoreObject', INSPECTED_STORE: 'InspectedTokenStoreObject' };
  mf = new Miniflare({
    workers: names.map((name) => ({
      name,
      modules: true,
      scriptPath: join(bundleDir, 'worker.mjs'),
      modulesRoot: bundleDir,
      modulesRules: [{ type: 'ESModule', include: ['**/*.js', '**/*.mjs'] }],
      compatibilityDate: '2025-09-01',
      bindings: { NAME: name },
      durableObjects: Object.fromEntries(
        Object.entries(classes).map(([binding, className]) => [
          binding,
          name === HOST ? { className, useSQLite: true } : { className, scriptName: HOST, useSQLite: true },
        ]),
      ),
    })),
  });
  await mf.ready;
  namespace = await mf.getDurableObjectNamespace('TOKEN_STORE', HOST);
}, 60_000);
afterAll(async () => {
  await disposeMiniflare(mf);
  rmSync(bundleDir, { recursive: true, force: true });
});

/** POSTs `body` as JSON to isolate `name`'s Worker; its JSON answer. */
async function post(name: string, path: string, body: unknown) {
  const worker = await mf.getWorker(name);
  const response = await worker.fetch(`http://worker${path}`, { method: 'POST', body: JSON.stringify(body) });
  const answer = await response.json();
  if (response.status !== 200) throw new Error(`${name} ${path}: ${JSON.stringify(answer)}`);
  return answer;
}

describe('createDurableObjectTokenStore: the store contract, run in a Worker on its binding', () => {
  let results: Promise<{ name: string; error?: string }[]> | undefined;
  // Every check runs in one request to isolate w1 (the objects live in w0), concurrently; each is reported here.
  for (const { name } of storeContract(() => createDurableObjectTokenStore(namespace))) {
    it(name, async () => {
      results ??= post('w1', '/contract', {});
      const result = (await results).find((r) => r.name === name);
      expect(result).toEqual({ name });
    });
  }
});

describe('WristbandTokenStoreObject in workerd', () => {
  it('4 isolates contending for one lock, 13 acquire() calls each: exactly one winner', async () => {
    const key = `contended-${Date.now()}`;
    const answers = await Promise.all(
      names.slice(0, 4).map((name) => post(name, '/acquire', { key, count: 13, ttlSeconds: 30 })),
    );
    const winners = answers.flatMap((a) => a.winners);
    expect(answers.flatMap((a) => a.answers).every((a: unknown) => typeof a === 'boolean')).toBe(true);
    expect(winners).toHaveLength(1);
    expect(await createDurableObjectTokenStore(namespace).get(key)).toBe(winners[0]);
  });

  it('an alarm deletes the entries that expired: an idle object ends up holding nothing', async () => {
    const key = `alarmed-${Date.now()}`;
    const inspected: DurableObjectNamespaceLike = await mf.getDurableObjectNamespace('INSPECTED_STORE', HOST);
    const store = createDurableObjectTokenStore(inspected);
    // 3 s: time enough to look at the object through Miniflare's proxy before the alarm fires, on a loaded machine.
    await store.set(key, 'short-lived', 3);
    const entries = async () => (await (await mf.getWorker('w1')).fetch(`http://worker/entries?key=${key}`)).json();
    const before = await entries();
    expect(Object.keys(before.entries)).toEqual([key]);
    expect(before.alarm).toBe(before.entries[key].expiresAt);
    const deadline = Date.now() + 10_000;
    let after = before;
    while (Date.now() < deadline && Object.keys(after.entries).length > 0) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      after = await entries();
    }
    expect(after).toEqual({ entries: {}, alarm: null });
  });

  it('an alarm keeps the entries still live, and comes back for them', async () => {
    const key = `kept-${Date.now()}`;
    const inspected: DurableObjectNamespaceLike = await mf.getDurableObjectNamespace('INSPECTED_STORE', HOST);
    const stub = inspected.get(inspected.idFromName(key) as never);
    const put = (stored: unknown, as = key) =>
      stub.fetch('https://inspect/_put', { method: 'POST', body: JSON.stringify({ key: as, stored }) });
    // Two entries under one object (the store routes one key per object, but the object does not rely on it).
    await put({ value: 'soon', expiresAt: Date.now() + 500 }, `${key}:a`);
    await put({ value: 'later', expiresAt: Date.now() + 60_000 }, `${key}:b`);
    await put('garbage', `${key}:c`);
    const store = createDurableObjectTokenStore(inspected);
    // A set schedules the alarm for the earliest expiry it knows of: its own (the raw puts set none).
    await store.set(key, 'x', 1);
    const entries = async () => (await stub.fetch('https://inspect/_entries', { method: 'POST' })).json();
    const deadline = Date.now() + 5_000;
    let seen = await entries();
    while (Date.now() < deadline && Object.keys(seen.entries).length > 1) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      seen = await entries();
    }
    expect(Object.keys(seen.entries)).toEqual([`${key}:b`]);
    expect(seen.alarm).toBe(seen.entries[`${key}:b`].expiresAt);
  });

  it('answers 400 to a call that is not a store call, and changes nothing', async () => {
    const key = `refused-${Date.now()}`;
    const store = createDurableObjectTokenStore(namespace);
    await store.set(key, 'kept', 30);
    const stub = namespace.get(namespace.idFromName(key) as never);
    for (const init of [
      { method: 'GET' },
      { method: 'POST', body: 'not json' },
      { method: 'POST', body: JSON.stringify({ op: 'flush', key }) },
      { method: 'POST', body: JSON.stringify({ op: 'set', key, value: 'x', ttlSeconds: 0 }) },
      { method: 'POST', body: JSON.stringify({ op: 'set', key, value: 'x', ttlSeconds: -1 }) },
      { method: 'POST', body: JSON.stringify({ op: 'set', key, value: 'x', ttlSeconds: '30' }) },
      { method: 'POST', body: JSON.stringify({ op: 'set', key, value: 2, ttlSeconds: 30 }) },
      { method: 'POST', body: JSON.stringify({ op: 'acquire', key, ttlSeconds: 30 }) },
      { method: 'POST', body: JSON.stringify({ op: 'deleteIfEquals', key }) },
      { method: 'POST', body: JSON.stringify({ op: 'get', key: 42 }) },
      { method: 'POST', body: 'null' },
    ] as RequestInit[]) {
      const response = await stub.fetch('https://token-store/', init);
      expect(response.status, String(init.body)).toBe(400);
      await response.text();
    }
    expect(await store.get(key)).toBe('kept');
  });

  it('treats an entry it did not write (no expiry, wrong types) as absent: never served, free to acquire', async () => {
    const key = `foreign-${Date.now()}`;
    const inspected: DurableObjectNamespaceLike = await mf.getDurableObjectNamespace('INSPECTED_STORE', HOST);
    const stub = inspected.get(inspected.idFromName(key) as never);
    const store = createDurableObjectTokenStore(inspected);
    for (const stored of ['a string', 42, { value: 2, expiresAt: Date.now() + 60_000 }, { value: 'x' }]) {
      await stub.fetch('https://inspect/_put', { method: 'POST', body: JSON.stringify({ key, stored }) });
      expect(await store.get(key)).toBeNull();
      expect(await store.acquire?.(key, 30, 'owner')).toBe(true);
      expect(await store.get(key)).toBe('owner');
    }
  });
});

describe(`a fleet of ${ISOLATES} isolates sharing the Durable Object store`, () => {
  const OLD = 'do old secret/+=';
  const NEW = 'do new secret';
  /** A token server of its own, and each isolate's step for a client of it holding `secrets[i]`. */
  async function fleet(secrets: (string | string[])[]) {
    const server = await startTokenServer({ clientId: `do-fleet-${Date.now()}`, clientSecret: OLD });
    const run = (step: string) =>
      Promise.all(
        secrets.map((clientSecret, i) =>
          post(names[i]!, '/client', {
            config: { clientId: server.clientId, clientSecret, vanityDomain: server.vanityDomain },
            step,
          }),
        ),
      );
    return { server, run };
  }

  it(`${ISOLATES} cold isolates make 1 token request; a 401 in all of them makes 1 more`, async () => {
    const { server, run } = await fleet(Array(ISOLATES).fill(OLD));
    try {
      server.setLatency(100);
      const cold = await run('token');
      expect(new Set(cold.map((r) => r.token)).size).toBe(1);
      expect(server.requestCount).toBe(1);
      console.log(`[fleet] Durable Objects: ${server.requestCount} token request for ${ISOLATES} cold isolates`);
      server.requests.length = 0;
      server.revokeAll();
      const recovered = await run('call-api');
      expect(recovered.map((r) => r.status)).toEqual(Array(ISOLATES).fill(200));
      expect(new Set(recovered.map((r) => r.token)).size).toBe(1);
      expect(server.requestCount).toBe(1);
      console.log(`[fleet] Durable Objects: ${server.requestCount} token request to recover from a 401 in all`);
      expect((await run('store-errors')).flatMap((r) => r.storeErrors)).toEqual([]);
    } finally {
      await server.close();
    }
  }, 30_000);

  it('a fleet mid-rotation ([old], [new, old], [new]) makes one request per secret and shares each token', async () => {
    const { server, run } = await fleet([OLD, OLD, [NEW, OLD], [NEW, OLD], NEW, NEW]);
    try {
      server.secrets.add(NEW);
      server.setLatency(200);
      const tokens = (await run('token')).map((r) => r.token);
      expect(server.requestCount).toBe(2);
      expect(tokens[1]).toBe(tokens[0]);
      expect(tokens[5]).toBe(tokens[4]);
      expect(tokens[4]).not.toBe(tokens[0]);
      for (const token of tokens.slice(2, 4)) expect([tokens[0], tokens[4]]).toContain(token);
      expect((await run('store-errors')).flatMap((r) => r.storeErrors)).toEqual([]);
    } finally {
      await server.close();
    }
  }, 30_000);
});

describe('createDurableObjectTokenStore: an object that fails', () => {
  const failing = (fetch: () => Promise<Response>): DurableObjectNamespaceLike => ({
    idFromName: (name) => name,
    get: () => ({ fetch }),
  });

  it('rejects on an error status, a rejected fetch or an answer that is no JSON object', async () => {
    const cases: [string, () => Promise<Response>, RegExp][] = [
      ['500', async () => new Response('Durable Object reset because its code was updated.', { status: 500 }), /500/],
      ['overloaded', async () => Promise.reject(new Error('Durable Object is overloaded.')), /overloaded/],
      ['no JSON', async () => new Response('<html>'), /JSON/],
      ['null', async () => Response.json(null), /bound to that class/],
      // A namespace bound to another Durable Object class, which answers every call with 200 and its own JSON.
      ['another class', async () => Response.json({ ok: true }), /bound to that class/],
    ];
    for (const [name, fetch, error] of cases) {
      const store = createDurableObjectTokenStore(failing(fetch));
      await expect(store.get('k'), name).rejects.toThrow(error);
      await expect(store.acquire?.('k', 30, 'o') ?? Promise.resolve(), name).rejects.toThrow(error);
      await expect(Promise.resolve(store.set('k', 'v', 30)), name).rejects.toThrow(error);
    }
  });

  it('passes an answer of the wrong type on as it is, for the client to report', async () => {
    const answering = (body: object) => createDurableObjectTokenStore(failing(async () => Response.json(body)));
    expect(await answering({ op: 'get', value: 2 }).get('k')).toBe(2);
    expect(await answering({ op: 'acquire', won: 'yes' }).acquire?.('k', 30, 'o')).toBe('yes');
  });

  it('is a class a Worker can export and construct with its state', () => {
    const object = new WristbandTokenStoreObject({ storage: {} as never });
    expect(typeof object.fetch).toBe('function');
    expect(typeof object.alarm).toBe('function');
  });
});
