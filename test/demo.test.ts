// `npm run demo` is the main job: it must run to completion on loopback and show what the README says it shows.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('runs the narrated demo against the local token server and exits by itself', async () => {
  const demo = fileURLToPath(new URL('../demo/demo.mjs', import.meta.url));
  const { CLIENT_ID: _id, CLIENT_SECRET: _secret, APPLICATION_VANITY_DOMAIN: _domain, ...env } = process.env;
  const { stdout } = await promisify(execFile)(process.execPath, [demo], { env, timeout: 30_000 });
  expect(stdout).toContain('against a local token server');
  expect(stdout).toContain('Token requests: 1 (no new ones)');
  expect(stdout).toMatch(/1000 callers got 1 distinct token in [\d.]+ ms, with 1 token request/);
  expect(stdout).toMatch(/answered 503, then 502, then a token: .* after 3 attempts/);
  expect(stdout).toMatch(/code=TOKEN_ENDPOINT_HTTP_ERROR status=401 error=invalid_client attempts=1/);
  expect(stdout).toMatch(/after 2 API calls \(401, then 200\) and 1 new token request/);
  expect(stdout).toMatch(/took the same token from the store .*: 1 token request for both/);
  expect(stdout).toMatch(/fetched 2 new tokens by itself/);
  expect(stdout).toMatch(/before the dashboard holds the new secret: 2 token requests \(new rejected, old at once\), secretIndex=1/);
  expect(stdout).toMatch(/The next refresh tries old first .* falls back to new in the same round: 2 token requests, secretIndex=0/);
  expect(stdout).toMatch(/The refresh after that: 1 token request, new first/);
  expect(stdout).toMatch(/The process exits by itself \(code 0\)/);
}, 40_000);
