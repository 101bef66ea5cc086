// Need `wrangler`: wrangler 4.86.0 (the last release that runs on Node 20, as the Workers guide says), installed from
// npm into the git-ignored .tools/wrangler/ once per machine (about 20 s and 150 MB the first time). Never a
// devDependency: users run it with npx, and the suite runs Workers through Miniflare everywhere else.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { log, once, root } from './once.js';

export const WRANGLER = 'wrangler@4.86.0';
export const wranglerBin = `${root}.tools/wrangler/node_modules/.bin/wrangler`;

export default once('wrangler', () => {
  if (existsSync(wranglerBin)) return;
  log(`installing ${WRANGLER} into .tools/wrangler/`);
  execFileSync(
    'npm',
    ['install', '--prefix', `${root}.tools/wrangler`, '--no-package-lock', '--no-audit', '--no-fund', WRANGLER],
    { cwd: root, stdio: 'inherit' },
  );
});
