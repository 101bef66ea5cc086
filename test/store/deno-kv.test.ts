// The Deno KV store in real Deno (from .tools/), on the built package: the conformance suite on an in-memory KV,
// several Deno processes hammering one KV file (SQLite's `database is locked`, retried), and the fleet as 8 Deno
// processes sharing one KV file. The retry itself, and what a hostile KV answers, with a stand-in KV in Node.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startTokenServer } from '../../demo/token-server.mjs';
import { createDenoKvTokenStore, DENO_KV_PREFIX, type DenoKvLike } from '../../src/store/deno-kv.js';
import { storeContract } from '../support/store-contract.js';
import { FLEET_SIZE } from '../support/store-fleet.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const deno = `${root}.tools/deno/node_modules/.bin/deno`;
const script = `${root}test/store/deno-kv-process.mjs`;
const scratch = mkdtempSync(join(tmpdir(), 'm2m-deno-kv-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** `deno run` of the test process, outside the repository so that Deno reads no configuration of ours. */
const denoArgs = (...args: string[]) => [
  'run',
  '--no-prompt',
  '--unstable-kv',
  `--allow-read=${root},${scratch}`,
  `--allow-write=${scratch}`,
  '--allow-net=127.0.0.1',
  script,
  ...args,
];

/** A Deno process speaking JSON lines: `next()` is its next line, `send()` writes one. */
function denoProcess(...args: string[]) {
  const child: ChildProcess = spawn(deno, denoArgs(...args), { cwd: scratch, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    next: async () => JSON.parse((await lines.next()).value as string),
    send: (line: string) => void child.stdin!.write(`${line}\n`),
    exited: new Promise((resolve) => child.once('exit', resolve)),
    end: () => child.stdin!.end(),
  };
}

describe('createDenoKvTokenStore in Deno: the store contract (Deno.openKv(":memory:"))', () => {
  let results: Promise<{ name: string; error?: string }[]> | undefined;
  for (const { name } of storeContract(() => createDenoKvTokenStore({} as never))) {
    it(name, async () => {
      results ??= promisify(execFile)(deno, denoArgs('contract', ':memory:'), { cwd: scratch }).then(({ stdout }) =>
        JSON.parse(stdout),
      );
      expect((await results).find((r) => r.name === name)).toEqual({ name });
    });
  }
});

describe('createDenoKvTokenStore in Deno: processes sharing one KV file', () => {
  it('4 processes racing through 150 locks on one file: each lock won once, no call failed (database is locked retried)', async () => {
    const path = join(scratch, 'hammer.sqlite');
    const processes = Array.from({ length: 4 }, (_, i) =>
      denoProcess('hammer', path, JSON.stringify({ name: `p${i}`, rounds: 150 })),
    );
    for (const p of processes) expect(await p.next()).toEqual({ step: 'ready' });
    for (const p of processes) p.send('go');
    const results: { won: number[]; errors: string[]; lockedSeen: number }[] = await Promise.all(
      processes.map((p) => p.next()),
    );
    for (const p of processes) p.end();
    await Promise.all(processes.map((p) => p.exited));
    expect(results.flatMap((r) => r.errors)).toEqual([]);
    const won = results.flatMap((r) => r.won).sort((a, b) => a - b);
    expect(won).toEqual(Array.from({ length: 150 }, (_, i) => i));
    // The engine did lock the file under them (hundreds of times here): the store retried every one.
    const lockedSeen = results.reduce((sum, r) => sum + r.lockedSeen, 0);
    expect(lockedSeen).toBeGreaterThan(0);
    console.log(`[deno-kv] 4 processes on one file: ${lockedSeen} calls met "database is locked", all retried`);
  }, 30_000);

  it(`${FLEET_SIZE} cold processes make 1 token request, and 1 more after a 401 in all of them`, async () => {
    const server = await startTokenServer({ clientId: 'deno-fleet', clientSecret: 'deno fleet secret/+=' });
    const path = join(scratch, 'fleet.sqlite');
    const config = JSON.stringify({
      clientId: server.clientId,
      clientSecret: server.clientSecret,
      vanityDomain: server.vanityDomain,
    });
    const processes = Array.from({ length: FLEET_SIZE }, () => denoProcess('fleet', path, config));
    const step = (name: string) => {
      for (const p of processes) p.send(JSON.stringify({ step: name }));
      return Promise.all(processes.map((p) => p.next()));
    };
    try {
      for (const p of processes) expect(await p.next()).toEqual({ step: 'ready' });
      server.setLatency(100);
      const cold = await step('token');
      expect(new Set(cold.map((r) => r.token)).size).toBe(1);
      expect(typeof cold[0].token).toBe('string');
      expect(server.requestCount).toBe(1);
      console.log(`[fleet] Deno KV: ${server.requestCount} token request for ${FLEET_SIZE} cold processes`);
      server.requests.length = 0;
      server.revokeAll();
      const recovered = await step('call-api');
      expect(recovered.map((r) => r.status)).toEqual(Array(FLEET_SIZE).fill(200));
      expect(server.requestCount).toBe(1);
      console.log(`[fleet] Deno KV: ${server.requestCount} token request to recover from a 401 in all`);
      expect((await step('store-errors')).flatMap((r) => r.storeErrors)).toEqual([]);
    } finally {
      for (const p of processes) p.send(JSON.stringify({ step: 'exit' }));
      await Promise.all(processes.map((p) => p.exited));
      await server.close();
    }
  }, 30_000);
});

describe('createDenoKvTokenStore in Deno: a fleet mid-rotation', () => {
  it('[old], [new, old] and [new] processes make one request per secret and share each token', async () => {
    const OLD = 'deno old secret';
    const NEW = 'deno new secret';
    const server = await startTokenServer({ clientId: 'deno-rotation', clientSecret: OLD });
    server.secrets.add(NEW);
    const path = join(scratch, 'rotation.sqlite');
    const processes = [OLD, OLD, [NEW, OLD], [NEW, OLD], NEW, NEW].map((clientSecret) =>
      denoProcess(
        'fleet',
        path,
        JSON.stringify({ clientId: server.clientId, clientSecret, vanityDomain: server.vanityDomain }),
      ),
    );
    try {
      for (const p of processes) expect(await p.next()).toEqual({ step: 'ready' });
      server.setLatency(200);
      for (const p of processes) p.send(JSON.stringify({ step: 'token' }));
      const tokens = (await Promise.all(processes.map((p) => p.next()))).map((r) => r.token);
      expect(server.requestCount).toBe(2);
      expect(tokens[1]).toBe(tokens[0]);
      expect(tokens[5]).toBe(tokens[4]);
      expect(tokens[4]).not.toBe(tokens[0]);
      for (const token of tokens.slice(2, 4)) expect([tokens[0], tokens[4]]).toContain(token);
    } finally {
      for (const p of processes) p.send(JSON.stringify({ step: 'exit' }));
      await Promise.all(processes.map((p) => p.exited));
      await server.close();
    }
  }, 30_000);
});

/** A stand-in Deno.Kv in memory, whose calls can be made to fail; entries are what the store wrote, versionstamped. */
function fakeKv(fail: (call: string, attempt: number) => Error | undefined = () => undefined) {
  const data = new Map<string, { value: unknown; versionstamp: string }>();
  let version = 0;
  const calls: string[] = [];
  const id = (key: readonly string[]) => JSON.stringify(key);
  const attempt = (call: string) => {
    calls.push(call);
    const error = fail(call, calls.filter((c) => c === call).length);
    if (error) throw error;
  };
  const kv: DenoKvLike & { data: typeof data; calls: string[] } = {
    data,
    calls,
    async get(key) {
      attempt('get');
      return data.get(id(key)) ?? { value: null, versionstamp: null };
    },
    async set(key, value) {
      attempt('set');
      data.set(id(key), { value, versionstamp: String(++version) });
    },
    async delete(key) {
      attempt('delete');
      data.delete(id(key));
    },
    atomic() {
      const checks: { key: readonly string[]; versionstamp: string | null }[] = [];
      const ops: (() => void)[] = [];
      const op = {
        check: (...more: typeof checks) => (checks.push(...more), op),
        set: (key: readonly string[], value: unknown) => (
          ops.push(() => data.set(id(key), { value, versionstamp: String(++version) })), op
        ),
        delete: (key: readonly string[]) => (ops.push(() => data.delete(id(key))), op),
        async commit() {
          attempt('commit');
          if (checks.some((c) => (data.get(id(c.key))?.versionstamp ?? null) !== c.versionstamp)) return { ok: false };
          for (const apply of ops) apply();
          return { ok: true };
        },
      };
      return op;
    },
  };
  return kv;
}

const locked = () => new TypeError('database is locked');

describe('createDenoKvTokenStore: database is locked, and hostile answers', () => {
  it('retries a call that met `database is locked` until it goes through, and reports nothing', async () => {
    const kv = fakeKv((_call, n) => (n <= 3 ? locked() : undefined));
    const store = createDenoKvTokenStore(kv);
    await store.set('k', 'v', 30);
    expect(await store.get('k')).toBe('v');
    expect(await store.acquire?.('k:lock', 30, 'owner')).toBe(true);
    await store.deleteIfEquals?.('k:lock', 'owner');
    expect(await store.get('k:lock')).toBeNull();
    expect(kv.calls.filter((c) => c === 'set')).toHaveLength(4);
  });

  it('gives up on a database locked for good after about a second, with the error; never retries other errors', async () => {
    const store = createDenoKvTokenStore(fakeKv(() => locked()));
    const started = performance.now();
    await expect(store.get('k')).rejects.toThrow(/database is locked/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_000);
    const quota = fakeKv(() => new Error('Quota exceeded'));
    await expect(createDenoKvTokenStore(quota).get('k')).rejects.toThrow(/Quota/);
    expect(quota.calls).toEqual(['get']);
  });

  it('a lock whose commit met `database is locked` and then found its own entry is won, not lost', async () => {
    // The commit's first attempt landed, its answer was lost: the retry's check fails on its own write.
    const kv = fakeKv();
    const commit = kv.atomic;
    let first = true;
    kv.atomic = () => {
      const op = commit();
      const real = op.commit.bind(op);
      op.commit = async () => {
        const result = await real();
        if (first) {
          first = false;
          throw locked();
        }
        return result;
      };
      return op;
    };
    expect(await createDenoKvTokenStore(kv).acquire?.('k:lock', 30, 'owner-1')).toBe(true);
    expect(await createDenoKvTokenStore(kv).acquire?.('k:lock', 30, 'owner-2')).toBe(false);
    // A second acquire by the same owner is lost, as in Redis (SET NX): only this call's own commit counts.
    expect(await createDenoKvTokenStore(kv).acquire?.('k:lock', 30, 'owner-1')).toBe(false);
  });

  it('serves nothing from an entry Deno has not swept yet, and lets acquire take it', async () => {
    const kv = fakeKv();
    kv.data.set(JSON.stringify([DENO_KV_PREFIX, 'k:lock']), {
      value: { value: 'dead owner', expiresAt: Date.now() - 1 },
      versionstamp: '1',
    });
    const store = createDenoKvTokenStore(kv);
    expect(await store.get('k:lock')).toBeNull();
    expect(await store.acquire?.('k:lock', 30, 'new owner')).toBe(true);
    await store.deleteIfEquals?.('k:lock', 'dead owner');
    expect(await store.get('k:lock')).toBe('new owner');
  });

  it('passes a value it did not write on as it is (the client reports it), and lets acquire take its key', async () => {
    const kv = fakeKv();
    const store = createDenoKvTokenStore(kv);
    for (const value of [2, 'a bare string', { value: 2, expiresAt: Date.now() + 60_000 }]) {
      kv.data.set(JSON.stringify([DENO_KV_PREFIX, 'foreign']), { value, versionstamp: '1' });
      expect(await store.get('foreign')).toEqual(value);
      expect(await store.acquire?.('foreign', 30, 'owner')).toBe(true);
    }
  });

  it('an entry changing under every compare-and-delete gives up with an error rather than loop', async () => {
    const kv = fakeKv();
    const store = createDenoKvTokenStore(kv);
    await store.set('busy', 'mine', 30);
    const commit = kv.atomic;
    kv.atomic = () => Object.assign(commit(), { commit: async () => ({ ok: false }) });
    await expect(store.deleteIfEquals?.('busy', 'mine')).rejects.toThrow(/kept changing/);
    expect(await store.acquire?.('other', 30, 'owner')).toBe(false);
  });

  it('refuses what is not a Deno.Kv when created', () => {
    expect(() => createDenoKvTokenStore({} as never)).toThrow(/Deno\.openKv/);
    expect(() => createDenoKvTokenStore(undefined as never)).toThrow(/Deno\.openKv/);
  });
});
