// Need `examples-deps`: examples/node_modules (express, axios, the package itself through `file:..`).
import { folderDeps } from './folder-deps.js';

export default folderDeps('examples', 'express');
