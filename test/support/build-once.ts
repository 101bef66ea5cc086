import { execFileSync } from 'node:child_process';

// Child-process tests (unref, packaging) run the built package, exactly what npm would publish.
export default function buildOnce(): void {
  execFileSync(process.execPath, ['node_modules/tsup/dist/cli-default.js', '--silent'], { stdio: 'inherit' });
}
