// Need `runtimes`: Node 22/24, Deno, Bun and Miniflare (workerd), installed from npm into the git-ignored .tools/
// once per machine (about 10 s and 730 MB the first time).
import { ensureRuntimes } from '../../runtimes/matrix.mjs';
import { log, once } from './once.js';

export default once('runtimes', () => ensureRuntimes(log));
