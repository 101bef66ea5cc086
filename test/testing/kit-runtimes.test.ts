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
});
