// Keeps `npm run bench` working: runs bench/run.mjs in smoke mode (few iterations) and asserts only what is
// deterministic, the request counts. Timings from a shared CI machine are printed, never asserted.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';

const ours = '@wristband/typescript-m2m-auth (this package)';
interface Herd {
  name: string;
  requests: number;
  ok: number;
  failed: number;
  resolvedWithoutToken: number;
}
let figures: { cachedPathRequests: number; coldHerd: Herd[]; outageHerd: Herd[]; cached: { name: string }[]; soak: { requests: number; rotations: number } };

beforeAll(async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'm2m-bench-')), 'bench.json');
  const script = fileURLToPath(new URL('../bench/run.mjs', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', script, '--smoke', '--json', out], {
    maxBuffer: 16 * 1024 * 1024,
  });
  console.log(stdout);
  figures = JSON.parse(readFileSync(out, 'utf8'));
}, 120_000);

it('measures us, both floors and every peer', () => {
  expect(figures.cached.map((c) => c.name)).toHaveLength(6);
  expect(figures.coldHerd.map((h) => h.name)).toHaveLength(4);
});

it('makes no token request on any cached path', () => {
  expect(figures.cachedPathRequests).toBe(0);
});

it('answers a cold herd of 10,000 callers with exactly 1 request, every caller with a token', () => {
  const herd = figures.coldHerd.find((h) => h.name === ours);
  expect(herd).toMatchObject({ requests: 1, ok: 10_000, failed: 0, resolvedWithoutToken: 0 });
});

it('makes at most 3 requests for 1,000 callers during an outage, and rejects every one of them', () => {
  const herd = figures.outageHerd.find((h) => h.name === ours);
  expect(herd?.requests).toBeLessThanOrEqual(3);
  expect(herd).toMatchObject({ failed: 1_000, resolvedWithoutToken: 0 });
});

it('makes one token request per rotation over a long run', () => {
  expect(figures.soak.requests).toBe(figures.soak.rotations);
});
