// Need `chromium`: the documentation site is checked in a real headless browser (test/docs-site.test.ts). Debian's
// package is installed with apt-get when this process may (root, or sudo without a password), as redis-server is;
// otherwise the run stops at once with the one command to run. Also builds the site (npm run docs) into docs/api/.
import { execFileSync } from 'node:child_process';
import { thisMachine } from '../redis-server.js';
import { log, once, root } from './once.js';

export const INSTALL_CHROMIUM_COMMAND = 'sudo apt-get update && sudo apt-get install -y chromium';

export default once('chromium', () => {
  if (!thisMachine.has('chromium')) {
    const elevate = thisMachine.isRoot() ? [] : thisMachine.canSudo() ? ['sudo', '-n'] : undefined;
    if (elevate && thisMachine.has('apt-get')) {
      log('installing chromium with apt-get (the documentation site is checked in a headless browser)');
      const install = 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium';
      try {
        thisMachine.run([...elevate, 'sh', '-c', install]);
      } catch {
        // Reported below, with the command to run by hand.
      }
    }
    if (!thisMachine.has('chromium')) {
      const error = new Error(
        `chromium is not installed and the test suite cannot install it; run: ${INSTALL_CHROMIUM_COMMAND}`,
      );
      error.stack = error.message;
      throw error;
    }
  }
  log('building the documentation site (npm run docs)');
  execFileSync(process.execPath, [`${root}node_modules/typedoc/bin/typedoc`, '--logLevel', 'Warn'], {
    cwd: root,
    stdio: 'inherit',
  });
});
