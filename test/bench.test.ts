// Keeps `npm run bench` working: runs bench/run.mjs in smoke mode (few iterations, 0.6 s tokens, Node only; the full
// run adds Deno and Bun) and asserts what is deterministic: counts and behaviour. Timings from a shared CI machine
// are printed, never asserted.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';

const ours = '@wristband/typescript-m2m-auth (this package)';
interface Herd {
  name: string;
  requests: number;
  ok: number;
  failed: number;
  resolvedWithoutToken: number;
}
interface Rotation {
  name: string;
  calls: number;
  rotations: number;
  waited: number;
  failed: number;
  servedExpired: number;
  tokenRequests: number;
  requestsPerRotation: number | undefined;
  p50: number;
  max: number;
}
interface Runtime {
  runtime: string;
  error?: string;
  settings: { coldCallers: number; outageCallers: number; rotations: number };
  loadErrors: Record<string, string>;
  cached: { name: string; call: string; ticksToSettle: number }[];
  cachedPathRequests: number;
  cachedPathTelemetry: number;
  coldHerd: Herd[];
  outageHerd: Herd[];
  rotation: Rotation[];
  outageRotation: Rotation[];
}
let figures: {
  runtimes: Runtime[];
  memory: { results: { name: string; bytesPerClientBeforeToken: number; bytesPerClientAfterToken: number }[] };
  size: { factoryGz: number; storeShareGz: number | undefined };
  soak: { requests: number; rotations: number };
};
let node: Runtime;
const scratch = mkdtempSync(join(tmpdir(), 'm2m-bench-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

beforeAll(async () => {
  const out = join(scratch, 'bench.json');
  const script = fileURLToPath(new URL('../bench/run.mjs', import.meta.url));
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', script, '--smoke', '--runtimes', 'node', '--json', out],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  console.log(stdout);
  figures = JSON.parse(readFileSync(out, 'utf8'));
  node = figures.runtimes[0]!;
}, 120_000);

it('runs on Node and loads every peer there', () => {
  expect(node.error).toBeUndefined();
  expect(node.loadErrors).toEqual({});
});

it('measures both floors and every peer, each through its own call expression', () => {
  // 2 floors, 4 libraries, and this package again with OpenTelemetry on.
  expect(node.cached).toHaveLength(7);
  expect(node.cached.find((c) => c.name === ours)?.call).toBe('client.getToken()');
  expect(node.cached.find((c) => c.name === `${ours}, with OpenTelemetry`)?.call).toBe('client.getToken()');
  // A cached answer settles within microtask ticks, never on I/O.
  for (const c of node.cached) expect(c.ticksToSettle).toBeLessThan(1_000);
});

it('makes no token request on any cached path', () => {
  expect(node.cachedPathRequests).toBe(0);
  // nor any telemetry work with OpenTelemetry on: no span started, nothing measured
  expect(node.cachedPathTelemetry).toBe(0);
});

it('answers a cold herd with exactly 1 request, every caller with a token', () => {
  const herd = node.coldHerd.find((h) => h.name === ours);
  expect(herd).toMatchObject({ requests: 1, ok: node.settings.coldCallers, failed: 0, resolvedWithoutToken: 0 });
});

it('makes at most 3 requests for a herd during an outage, and rejects every caller', () => {
  const herd = node.outageHerd.find((h) => h.name === ours);
  expect(herd?.requests).toBeLessThanOrEqual(3);
  expect(herd).toMatchObject({ failed: node.settings.outageCallers, resolvedWithoutToken: 0 });
});

it('rotates with one token request per rotation, no failure and no expired token', () => {
  const rotation = node.rotation.find((r) => r.name === ours)!;
  expect(rotation.rotations).toBeGreaterThanOrEqual(node.settings.rotations);
  expect(rotation.requestsPerRotation).toBe(1);
  expect(rotation).toMatchObject({ failed: 0, servedExpired: 0 });
  // Waits are reported as counts, whatever the lifecycle: at most every call.
  expect(rotation.waited).toBeGreaterThanOrEqual(0);
  expect(rotation.waited).toBeLessThanOrEqual(rotation.calls);
  expect(rotation.max).toBeGreaterThanOrEqual(rotation.p50);
});

it('reports every subject in the outage-at-rotation scenario, with failed calls as a count', () => {
  expect(node.outageRotation).toHaveLength(4);
  const outage = node.outageRotation.find((r) => r.name === ours)!;
  expect(Number.isInteger(outage.failed)).toBe(true);
  expect(outage.tokenRequests).toBeGreaterThanOrEqual(2); // the outage answered at least the first refresh
});

it('reports a finite positive retained size per client, before and after the first token', () => {
  const memory = figures.memory.results.find((m) => m.name === ours)!;
  for (const bytes of [memory.bytesPerClientBeforeToken, memory.bytesPerClientAfterToken]) {
    expect(Number.isFinite(bytes)).toBe(true);
    expect(bytes).toBeGreaterThan(0);
  }
  expect(figures.memory.results).toHaveLength(2);
});

it('reports the bundle size of createWristbandM2MClient and the store share when the store seam exists', () => {
  expect(figures.size.factoryGz).toBeGreaterThan(1000);
  if (figures.size.storeShareGz !== undefined) expect(figures.size.storeShareGz).toBeGreaterThan(0);
});

it('makes one token request per rotation over a long run', () => {
  expect(figures.soak.requests).toBe(figures.soak.rotations);
});
