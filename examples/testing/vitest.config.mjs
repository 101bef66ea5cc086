// The vitest example's own configuration, so vitest does not pick up the repository's.
import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { include: ['**/*.vitest.test.mjs'] } });
