import { fileURLToPath } from 'node:url';

// Each need (a folder to install, dist/ to build) is the global setup of every vitest project whose files need it;
// vitest runs a project's global setups only when one of its files is in the run. Several projects may list the same
// need, and vitest loads their global setups apart from each other (one module instance per project) but in the same
// process, so the work is remembered on globalThis: done once per run, however many projects ask for it.
const done = ((globalThis as { [key: symbol]: Map<string, Promise<void>> | undefined })[
  Symbol.for('m2m.test.setup')
] ??= new Map<string, Promise<void>>());

/** A global setup that runs `work` at most once per vitest process; a failure fails every project that needs it. */
export function once(need: string, work: () => void | Promise<void>): () => Promise<void> {
  return () => {
    let run = done.get(need);
    if (run === undefined) {
      run = Promise.resolve().then(work);
      done.set(need, run);
    }
    return run;
  };
}

export const log = (line: string): void => console.log(`[setup] ${line}`);

/** The repository's root folder, with a trailing slash. */
export const root = fileURLToPath(new URL('../../../', import.meta.url));
