// The runtime matrix (test/runtimes/matrix.mjs) inside the suite: one test per runtime and check, on dist/.
import { beforeAll, expect, it } from 'vitest';
import { IDLE_CHECK, JSR_CHECK, OTEL_CHECK, processRuntimes, runMatrix, WORKER_CHECKS } from './runtimes/matrix.mjs';
import { CHECKS } from './runtimes/scenario.mjs';

interface Row {
  runtime: string;
  check: string;
  ok: boolean;
  detail: string;
}

const expected: [string, string][] = [
  ...processRuntimes().flatMap((runtime) =>
    [...CHECKS, ...(runtime.idle ? [IDLE_CHECK] : []), ...(runtime.entry === 'entry.mjs' ? [OTEL_CHECK] : [])].map(
      (check): [string, string] => [runtime.name, check],
    ),
  ),
  ['Deno', JSR_CHECK],
  ...[...WORKER_CHECKS, ...CHECKS, OTEL_CHECK].map((check): [string, string] => ['workerd', check]),
];

let rows: Row[] = [];
// The global setup has installed the runtimes into .tools/.
beforeAll(async () => {
  rows = await runMatrix();
}, 120_000);

it.each(expected)('%s: %s', (runtime, check) => {
  const row = rows.find((r) => r.runtime === runtime && r.check === check);
  expect(row, 'this check did not run').toBeDefined();
  expect(row?.ok, row?.detail).toBe(true);
});

it('runs nothing the matrix does not expect', () => {
  expect(rows.length).toBe(expected.length);
});
