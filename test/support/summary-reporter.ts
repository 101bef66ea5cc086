import type { Reporter, TestModule } from 'vitest/node';

/** Ends the run with the plain `N passed, M failed` line that CI reads. */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, errors: ReadonlyArray<unknown>): void {
    const counts = { passed: 0, failed: 0, skipped: 0, pending: 0 };
    for (const module of testModules) {
      for (const test of module.children.allTests()) counts[test.result().state]++;
    }
    // A file that fails to load has no tests to count, and an unhandled error belongs to no test: both are failures.
    const unloaded = testModules.filter((m) => m.state() === 'failed' && [...m.children.allTests()].length === 0);
    const failed = counts.failed + unloaded.length + errors.length;
    const skipped = counts.skipped + counts.pending;
    console.log(`\n${counts.passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  }
}
