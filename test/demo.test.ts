// `npm run demo` is the main job: it must run to completion on loopback and show what the README says it shows.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestTokenServer, type TestTokenServer } from '../src/testing/server.js';

const demo = fileURLToPath(new URL('../demo/demo.mjs', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'm2m-demo-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The environment without any credentials the developer may have set. */
function cleanEnv(): NodeJS.ProcessEnv {
  const { CLIENT_ID: _id, CLIENT_SECRET: _secret, APPLICATION_VANITY_DOMAIN: _domain, ...env } = process.env;
  return env;
}

/** Runs the demo in `cwd` (where it looks for .env); resolves with its exit code and output. */
function runDemo(cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const options = { cwd, env: { ...cleanEnv(), ...env }, timeout: 30_000 };
    execFile(process.execPath, [demo], options, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A folder holding a .env with these variables. */
function folderWithEnv(vars: Record<string, string>): string {
  const folder = mkdtempSync(join(scratch, 'env-'));
  writeFileSync(
    join(folder, '.env'),
    Object.entries(vars)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
  );
  return folder;
}

it('runs the narrated demo against the local token server and exits by itself', async () => {
  const { code, stdout } = await runDemo(scratch);
  expect(code).toBe(0);
  expect(stdout).toContain('against a local token server');
  expect(stdout).toContain('Token requests: 1 (no new ones)');
  expect(stdout).toMatch(/1000 callers got 1 distinct token in [\d.]+ ms, with 1 token request/);
  expect(stdout).toMatch(/answered 503, then 502, then a token: .* after 3 attempts/);
  expect(stdout).toMatch(/code=TOKEN_ENDPOINT_HTTP_ERROR status=401 error=invalid_client attempts=1/);
  expect(stdout).toMatch(
    /after 2 API calls \(401, then 200\) and 1 new token request: on the 401, client\.fetch called clearToken\(token\)/,
  );
  expect(stdout).toMatch(/took the same token from the store .*: 1 token request for both/);
  expect(stdout).toMatch(/fetched 2 new tokens by itself/);
  expect(stdout).toMatch(
    /before the dashboard holds the new secret: 2 token requests \(new rejected, old at once\), secretIndex=1/,
  );
  expect(stdout).toMatch(
    /The next refresh tries old first .* falls back to new in the same round: 2 token requests, secretIndex=0/,
  );
  expect(stdout).toMatch(/The refresh after that: 1 token request, new first/);
  expect(stdout).toMatch(/The process exits by itself \(code 0\)/);
}, 40_000);

describe('the demo and .env', () => {
  const servers: TestTokenServer[] = [];
  afterAll(async () => {
    for (const server of servers) await server.close();
  });

  /** A token server the demo did not start, and a folder whose .env holds its credentials. */
  async function dotenvApplication(): Promise<{ server: TestTokenServer; cwd: string }> {
    const server = await startTestTokenServer({ clientId: 'from-dotenv', clientSecret: 'dotenv-secret' });
    servers.push(server);
    const cwd = folderWithEnv({
      CLIENT_ID: 'from-dotenv',
      CLIENT_SECRET: 'dotenv-secret',
      APPLICATION_VANITY_DOMAIN: server.vanityDomain,
    });
    return { server, cwd };
  }

  it('reads credentials from .env and runs against that application (here a token server it did not start)', async () => {
    const { server, cwd } = await dotenvApplication();
    const { code, stdout } = await runDemo(cwd);
    expect(code).toBe(0);
    expect(stdout).toContain(`against the real application at ${server.vanityDomain} (credentials from .env)`);
    expect(stdout).not.toContain('dotenv-secret');
    expect(server.requestCount).toBeGreaterThan(0);
  }, 40_000);

  it('reads .env without process.loadEnvFile, which Node 20.0 to 20.11 lack', async () => {
    const { server, cwd } = await dotenvApplication();
    // Node 20.11, emulated: the preload removes process.loadEnvFile before the demo starts.
    const node2011 = join(cwd, 'node-20.11.cjs');
    writeFileSync(node2011, 'delete process.loadEnvFile;\n');
    const { code, stdout, stderr } = await runDemo(cwd, { NODE_OPTIONS: `--require "${node2011}"` });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('(credentials from .env)');
    expect(server.requestCount).toBeGreaterThan(0);
  }, 40_000);

  it('in real mode, a failure prints one line with the error code, not a stack, and exits 1', async () => {
    const server = await startTestTokenServer({ clientId: 'from-dotenv', clientSecret: 'dotenv-secret' });
    servers.push(server);
    const cwd = folderWithEnv({
      CLIENT_ID: 'from-dotenv',
      CLIENT_SECRET: 'wrong-secret',
      APPLICATION_VANITY_DOMAIN: server.vanityDomain,
    });
    const { code, stderr } = await runDemo(cwd);
    expect(code).toBe(1);
    expect(stderr.trim()).toMatch(/^The demo stopped: TOKEN_ENDPOINT_HTTP_ERROR \(HTTP 401, invalid_client\): .+$/);
    expect(stderr).not.toContain('    at ');
    expect(stderr).not.toContain('wrong-secret');
  }, 40_000);

  it('says so when a .env does not set all three variables, and stays local', async () => {
    const { code, stdout } = await runDemo(folderWithEnv({ CLIENT_ID: 'only-this' }));
    expect(code).toBe(0);
    expect(stdout).toContain('against a local token server');
    expect(stdout).toContain('.env does not set CLIENT_ID, CLIENT_SECRET and APPLICATION_VANITY_DOMAIN');
  }, 40_000);
});
