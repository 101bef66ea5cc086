// The whole run (this process, the test workers and every child process they start) gets a temporary folder of its
// own: TMPDIR, which os.tmpdir() returns, points into a fresh `m2m-test-run-*` folder until the run ends. Each test
// removes what it creates there (an afterAll, or a finally); whatever is left at the end fails the run, by name, and
// is removed with the folder. So a run leaves nothing in the system's temporary folder, and is never blamed for what
// another run on the same machine leaves there.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const before = process.env.TMPDIR;
  const folder = mkdtempSync(join(tmpdir(), 'm2m-test-run-'));
  process.env.TMPDIR = folder;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    const left = readdirSync(folder);
    rmSync(folder, { recursive: true, force: true, maxRetries: 5 });
    if (left.length === 0) return;
    // vitest only logs an error thrown by a global teardown and still exits 0: the exit code is set here, and the
    // summary reporter counts it.
    process.exitCode = 1;
    const error = new Error(
      `the tests left ${left.join(', ')} in the temporary folder (now removed); the test that creates it must remove ` +
        'it in an afterAll or a finally (m2m-<name>-* is test/<name>.test.ts; miniflare-* is a Miniflare disposed ' +
        'without disposeMiniflare() from test/runtimes/matrix.mjs)',
    );
    error.stack = error.message;
    throw error;
  };
}
