import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ensureRuntimes } from '../runtimes/matrix.mjs';
import { ensureRedisServer, thisMachine } from './redis-server.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

// Runs once before any test file, so parallel workers never build or install the same thing at the same time.
export default async function globalSetup(): Promise<void> {
  // First, so a machine that cannot run the suite says so at once, with the command to run.
  ensureRedisServer(thisMachine, (line) => console.log(`[setup] ${line}`));
  // Child-process tests (runtimes, examples, packaging) use the built package, exactly what npm would publish.
  execFileSync(process.execPath, ['node_modules/tsup/dist/cli-default.js', '--silent'], {
    cwd: root,
    stdio: 'inherit',
  });
  // Node 22/24, Deno, Bun and Miniflare into the git-ignored .tools/, once per machine.
  await ensureRuntimes((line) => console.log(`[setup] ${line}`));
  // The examples and the benchmark have their own package.json, so their peers never enter the library's.
  for (const [folder, marker] of [
    ['examples', 'express'],
    ['bench', 'mitata'],
  ]) {
    if (!existsSync(`${root}${folder}/node_modules/${marker}`)) {
      console.log(`[setup] installing ${folder}/ dependencies`);
      execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
        cwd: `${root}${folder}`,
        stdio: 'inherit',
      });
    }
  }
}
