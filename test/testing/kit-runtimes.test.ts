// The built test kit (dist/testing.js, dist/testing-server.js) on the runtimes it promises: Deno and Bun in memory
// and on their own servers (Deno.serve, Bun.serve), workerd in memory inside a request.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { disposeMiniflare } from '../runtimes/matrix.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const entry = `${root}test/runtimes/kit-entry.mjs`;
const CHECKS = [
  'issues a token the resource accepts',
  'retries a 5xx storm of two, then succeeds',
  '429 with Retry-After is reported, not retried',
  'a hang ends at the client timeout',
  'a revoked token costs one refresh through client.fetch',
  'a rotation: two secrets, then one',
];
const allPass = Object.fromEntries(CHECKS.map((name) => [name, true]));

function run(command: string[]): Promise<{ inMemory: unknown; loopback?: unknown }> {
  return new Promise((resolve, reject) => {
    execFile(command[0]!, command.slice(1), { cwd: root, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!));
    });
  });
}

describe('the test kit on every runtime it supports', () => {
  it.each([
    ['Deno', [`${root}.tools/deno/node_modules/.bin/deno`, 'run', '--no-prompt', '--allow-net=127.0.0.1', entry]],
    ['Bun', [`${root}.tools/bun/node_modules/.bin/bun`, entry]],
  ])(
    '%s: in memory and on its own loopback server',
    async (_name, command) => {
      expect(await run(command)).toEqual({ inMemory: allPass, loopback: allPass });
    },
    60_000,
  );

  it('workerd: in memory, inside a request', async () => {
    const { Miniflare } = createRequire(`${root}.tools/miniflare/`)('miniflare');
    const worker = new Miniflare({
      modules: true,
      scriptPath: `${root}test/runtimes/kit-worker.mjs`,
      modulesRoot: root,
      modulesRules: [{ type: 'ESModule', include: ['**/*.js', '**/*.mjs'] }],
      compatibilityDate: '2025-09-01',
    });
    try {
      expect(await (await worker.dispatchFetch('http://worker/')).json()).toEqual({ inMemory: allPass });
    } finally {
      await disposeMiniflare(worker);
    }
  }, 60_000);

  it('workerd: upstream: globalThis.fetch, as docs/testing.md suggests, forwards a request (called unbound)', async () => {
    const { Miniflare } = createRequire(`${root}.tools/miniflare/`)('miniflare');
    const worker = new Miniflare({
      modules: true,
      scriptPath: `${root}test/runtimes/kit-upstream-worker.mjs`,
      modulesRoot: root,
      modulesRules: [{ type: 'ESModule', include: ['**/*.js', '**/*.mjs'] }],
      compatibilityDate: '2025-09-01',
    });
    try {
      const { error } = await (await worker.dispatchFetch('http://worker/')).json();
      // A network error is fine (nothing listens on port 1); "Illegal invocation" means the kit broke fetch's `this`.
      expect(error).not.toMatch(/Illegal invocation/);
    } finally {
      await disposeMiniflare(worker);
    }
  }, 60_000);
});

describe('the loopback server on Deno', () => {
  const deno = `${root}.tools/deno/node_modules/.bin/deno`;
  const run = (code: string) =>
    new Promise<string>((resolve, reject) =>
      execFile(deno, ['eval', code], { cwd: root, timeout: 30_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout.trim().split('\n').at(-1) ?? ''),
      ),
    );
  const script = (latencyMs: number, setup: string) => `
    import { startTestTokenServer } from '${root}dist/testing-server.js';
    const server = await startTestTokenServer({ latencyMs: ${latencyMs} });
    ${setup}
    const pending = fetch(server.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: 'Basic ' + btoa('test-client-id:test-client-secret') },
      body: 'grant_type=client_credentials',
      signal: AbortSignal.timeout(5000),
    }).then((r) => r.status, (e) => e.name);
    await new Promise((r) => setTimeout(r, 100));
    const t = Date.now();
    await server.close();
    const closeMs = Date.now() - t;
    console.log(JSON.stringify({ closeMs, request: await pending }));`;

  // Behaviour, not time: a close() that waited would let the request finish its latency (200) or run into its own
  // 5 s timeout; one that returns at once drops it.
  it('close() drops a request still in its latency, as on Node and Bun (Deno.serve shutdown() waits for it)', async () => {
    const { request } = JSON.parse(await run(script(3000, '')));
    expect([200, 'TimeoutError']).not.toContain(request);
  }, 40_000);

  it('close() drops a request whose scripted hang is behind a latency', async () => {
    const { request } = JSON.parse(await run(script(300, 'server.hangNext();')));
    expect([200, 'TimeoutError']).not.toContain(request);
  }, 40_000);

  it("a client that gives up on a hang leaves nothing on the server's stderr", async () => {
    const stderr = await new Promise<string>((resolve, reject) =>
      execFile(
        deno,
        [
          'eval',
          `import { startTestTokenServer } from '${root}dist/testing-server.js';
          const server = await startTestTokenServer();
          server.hangNext();
          await fetch(server.tokenEndpoint, { method: 'POST', signal: AbortSignal.timeout(200) }).catch(() => {});
          await new Promise((r) => setTimeout(r, 200));
          await server.close();`,
        ],
        { cwd: root, timeout: 30_000 },
        (error, _stdout, err) => (error ? reject(error) : resolve(err)),
      ),
    );
    expect(stderr).not.toContain('dropped the connection'); // observed: a TypeError and its stack, once per timeout
  }, 40_000);
});
