// Need `bench-deps`: bench/node_modules (mitata and the peer libraries the benchmark compares with).
import { folderDeps } from './folder-deps.js';

export default folderDeps('bench', 'mitata');
