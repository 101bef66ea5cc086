// The Workers guide's wrangler steps work on a fresh clone: each Worker example, copied with the package's sources
// alone (no dist/, no node_modules anywhere), is served by the real `wrangler dev` (wrangler 4.86.0, the last release
// that runs on Node 20, installed into the git-ignored .tools/wrangler/ by the `wrangler` global setup) after the guide's
// `cp .dev.vars.example .dev.vars`, and answers GET /reports with a token from the local token server, a 401 answered
// by one fresh token. Before wrangler.toml's [alias], this failed with `Could not resolve
// "@wristband/typescript-m2m-auth"` until something else had built dist/ and installed examples/.
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalServers } from '../demo/local-servers.mjs';
import { wranglerBin } from './support/setup/wrangler.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const clone = mkdtempSync(join(tmpdir(), 'm2m-wrangler-'));
let servers: Awaited<ReturnType<typeof startLocalServers>>;
const children: ChildProcess[] = [];

beforeAll(async () => {
  // A fresh clone, as far as wrangler can tell: the examples and src/, nothing built, nothing installed.
  cpSync(join(root, 'src'), join(clone, 'src'), { recursive: true });
  for (const example of ['cloudflare-worker', 'durable-object']) {
    cpSync(join(root, 'examples', example), join(clone, 'examples', example), {
      recursive: true,
      filter: (path) => !/[/\\](node_modules|\.wrangler|\.dev\.vars)$/.test(path),
    });
  }
  mkdirSync(join(clone, 'tmp'));
  servers = await startLocalServers();
}, 120_000);

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
  }
  await servers?.close();
  rmSync(clone, { recursive: true, force: true, maxRetries: 5 });
});

/** `wrangler dev` in the example's folder; resolves with its origin once it is ready. */
function wranglerDev(example: string): Promise<string> {
  const folder = join(clone, 'examples', example);
  // The guide's step: `cp .dev.vars.example .dev.vars` (the durable-object example shares cloudflare-worker's).
  copyFileSync(join(clone, 'examples/cloudflare-worker/.dev.vars.example'), join(folder, '.dev.vars'));
  const { APPLICATION_VANITY_DOMAIN, DOWNSTREAM_URL } = servers.env;
  const child = spawn(
    wranglerBin,
    // The vars of wrangler.toml name the fixed ports of `npm run token-server`; this run's servers use free ones.
    [
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      '0',
      '--inspector-port',
      '0',
      '--var',
      `APPLICATION_VANITY_DOMAIN:${APPLICATION_VANITY_DOMAIN}`,
      '--var',
      `DOWNSTREAM_URL:${DOWNSTREAM_URL}`,
    ],
    {
      cwd: folder,
      detached: true, // its own process group: workerd goes with it
      env: {
        ...process.env,
        TMPDIR: join(clone, 'tmp'),
        WRANGLER_SEND_METRICS: 'false',
        NO_COLOR: '1',
        XDG_CONFIG_HOME: join(clone, 'config'),
      },
    },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk;
      const url = /Ready on (http:\/\/\S+)/.exec(output)?.[1];
      if (url) resolve(url);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`wrangler dev exited with ${code}:\n${output}`)));
  });
}

describe('wrangler dev on a fresh clone (no dist/, no node_modules)', () => {
  it.each(['cloudflare-worker', 'durable-object'])(
    'examples/%s: GET /reports answers 200 with one token, and one more after a revocation',
    async (example) => {
      const origin = await wranglerDev(example);
      const before = servers.tokenServer.requestCount;
      const get = async () => {
        const response = await fetch(`${origin}/reports`);
        return { status: response.status, body: await response.json() };
      };
      const ok = { status: 200, body: { report: 'quarterly-usage', rows: 3 } };
      expect(await get()).toEqual(ok);
      expect(await get()).toEqual(ok);
      expect(servers.tokenServer.requestCount - before).toBe(1);
      servers.tokenServer.revokeAll();
      expect(await get()).toEqual(ok);
      expect(servers.tokenServer.requestCount - before).toBe(2);
    },
    90_000,
  );
});
