// Need `dist`: child processes (the CLI, the demo, the soak, the fleet workers), workerd and the packaging checks
// load the built package, exactly what npm would publish. Built here, once before any file of the run, so parallel
// workers never build it at the same time.
import { execFileSync } from 'node:child_process';
import { once, root } from './once.js';

export default once('dist', () => {
  execFileSync(process.execPath, ['node_modules/tsup/dist/cli-default.js', '--silent'], {
    cwd: root,
    stdio: 'inherit',
  });
});
