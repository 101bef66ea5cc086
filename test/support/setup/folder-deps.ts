// The examples and the benchmark have their own package.json, so their peers never enter the library's: their
// node_modules/ are installed (npm ci) the first time a file that needs them runs.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { log, once, root } from './once.js';

/** The global setup that installs `folder`'s dependencies unless `marker` (one of them) is already there. */
export function folderDeps(folder: 'examples' | 'bench', marker: string): () => Promise<void> {
  return once(`${folder}-deps`, () => {
    if (existsSync(`${root}${folder}/node_modules/${marker}`)) return;
    log(`installing ${folder}/ dependencies`);
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: `${root}${folder}`,
      stdio: 'inherit',
    });
  });
}
