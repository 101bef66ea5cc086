// The suite's closing line (test/support/summary-reporter.ts) must count every failure, of any kind: each fixture
// in test/fixtures/reporter/ fails in one way, and is run here by a real vitest child process with that reporter.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const config = 'test/fixtures/reporter/vitest.config.ts';
/** The suite's layout in small: a `unit` project, and a `needs-setup` project whose global setup fails. */
const projectsConfig = 'test/fixtures/reporter/vitest.projects.config.ts';

/** Runs vitest on the fixtures `filter` names; resolves with its exit code and the last line it printed. */
function runFixture(
  filter: string,
  env: Record<string, string> = {},
  configFile = config,
): Promise<{ code: number; closing: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['node_modules/vitest/vitest.mjs', 'run', '--config', configFile, ...filter.split(' ')],
      { cwd: root, env: { ...process.env, ...env, NO_COLOR: '1', CI: '1' }, timeout: 60_000 },
      (error, stdout) => {
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, closing: stdout.trim().split('\n').at(-1) ?? '' });
      },
    );
  });
}

const counts = (closing: string) => {
  const match = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/.exec(closing);
  expect(match, `closing line: ${closing}`).not.toBeNull();
  return { passed: Number(match?.[1]), failed: Number(match?.[2]), skipped: Number(match?.[3] ?? 0) };
};

describe('the closing line of a test run', () => {
  it('says 0 failed for a run that passed, and vitest exits 0', async () => {
    const { code, closing } = await runFixture('passing.fixture');
    expect(code).toBe(0);
    expect(counts(closing)).toEqual({ passed: 1, failed: 0, skipped: 0 });
  }, 60_000);

  it.each([
    ['a failing test', 'failing-test.fixture', { passed: 1, failed: 1, skipped: 0 }],
    ['a failing beforeAll', 'before-all.fixture', { passed: 0, failed: 1, skipped: 1 }],
    ['a failing afterAll', 'after-all.fixture', { passed: 1, failed: 1, skipped: 0 }],
    ['a test file that throws on import', 'import.fixture', { passed: 0, failed: 1, skipped: 0 }],
    ['an unhandled rejection', 'unhandled.fixture', { passed: 1, failed: 1, skipped: 0 }],
  ])(
    'counts %s as a failure',
    async (_kind, fixture, expected) => {
      const { code, closing } = await runFixture(fixture);
      expect(code).not.toBe(0);
      expect(counts(closing)).toEqual(expected);
    },
    60_000,
  );

  it('counts a failing global setup, when no test ever runs', async () => {
    const { code, closing } = await runFixture('passing.fixture', { FAIL_GLOBAL_SETUP: '1' });
    expect(code).not.toBe(0);
    expect(counts(closing).failed).toBeGreaterThan(0);
  }, 60_000);

  it('counts a failing global setup of one project, when the files of another would pass', async () => {
    const { code, closing } = await runFixture('passing.fixture needs-setup.fixture', {}, projectsConfig);
    expect(code).not.toBe(0);
    expect(counts(closing).failed).toBeGreaterThan(0);
  }, 60_000);

  it('runs no global setup of a project none of whose files is in the run', async () => {
    const { code, closing } = await runFixture('passing.fixture', {}, projectsConfig);
    expect(code).toBe(0);
    expect(counts(closing)).toEqual({ passed: 1, failed: 0, skipped: 0 });
  }, 60_000);

  it('counts a run that fails for any other reason (here: no test file matches)', async () => {
    const { code, closing } = await runFixture('no-such-fixture');
    expect(code).not.toBe(0);
    expect(counts(closing).failed).toBeGreaterThan(0);
  }, 60_000);
});
