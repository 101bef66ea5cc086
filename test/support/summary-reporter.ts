import type { Reporter, TestModule, TestRunEndReason } from 'vitest/node';

interface Summary {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * Ends the run with the plain `N passed, M failed` line that CI reads. It counts every failure, not only failed
 * tests: a file that fails to load, a failing `beforeAll`/`afterAll` (of a file or a suite), an unhandled error, and
 * a run that fails before or after its tests (global setup, a non-zero exit for any other reason). The line is
 * printed as the process exits, when the exit code is known, so it never says `0 failed` for a run that failed.
 * test/summary-reporter.test.ts proves each case on the fixtures in test/fixtures/reporter/.
 */
export default class SummaryReporter implements Reporter {
  #summary: Summary | undefined;

  constructor() {
    process.once('exit', (code) => this.#printClosingLine(code));
  }

  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<unknown>,
    reason: TestRunEndReason,
  ): void {
    const counts = { passed: 0, failed: 0, skipped: 0, pending: 0 };
    let outsideTests = 0; // failures that belong to no test: load errors, failed hooks
    for (const module of testModules) {
      for (const test of module.children.allTests()) counts[test.result().state]++;
      const hookAndLoadErrors =
        module.errors().length +
        [...module.children.allSuites()].reduce((sum, suite) => sum + suite.errors().length, 0);
      const failedTests = [...module.children.allTests('failed')].length;
      // A file marked failed with neither a failed test nor an error of its own still failed once.
      outsideTests += hookAndLoadErrors || (module.state() === 'failed' && failedTests === 0 ? 1 : 0);
    }
    const failed = counts.failed + outsideTests + unhandledErrors.length;
    this.#summary = {
      passed: counts.passed,
      // vitest decided the run failed (or was interrupted) for a reason none of the above counted.
      failed: failed === 0 && reason !== 'passed' ? 1 : failed,
      skipped: counts.skipped + counts.pending,
    };
  }

  #printClosingLine(exitCode: number): void {
    const summary = this.#summary ?? { passed: 0, failed: 0, skipped: 0 };
    let note = '';
    if (exitCode !== 0 && summary.failed === 0) {
      summary.failed = 1;
      note = this.#summary
        ? `\nvitest exits with code ${exitCode} after the tests: see the error above.`
        : `\nThe run ended before its results were reported (exit code ${exitCode}): see the error above.`;
    }
    const skipped = summary.skipped ? `, ${summary.skipped} skipped` : '';
    process.stdout.write(`${note}\n${summary.passed} passed, ${summary.failed} failed${skipped}\n`);
  }
}
