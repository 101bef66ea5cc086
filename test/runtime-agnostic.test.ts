import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// tsconfig's "types": [] makes tsc fail on Node globals in src/; this also catches what a cast could hide.
const sources = (readdirSync(new URL('../src', import.meta.url), { recursive: true }) as string[])
  .filter((name) => name.endsWith('.ts'))
  .map((name) => ({ name, code: readFileSync(new URL(`../src/${name}`, import.meta.url), 'utf8') }));

describe('src/ uses only web-standard APIs', () => {
  it.each([
    ['node: imports', /from\s+['"]node:/],
    ['require()', /\brequire\(/],
    ['process', /\bprocess\./],
    ['Buffer', /\bBuffer\b/],
    ['__dirname', /__dirname/],
  ])('has no %s', (_what, pattern) => {
    expect(sources.length).toBeGreaterThan(3);
    for (const { name, code } of sources) expect(code, name).not.toMatch(pattern);
  });

  it.each(['index.ts', 'redis.ts', 'cloudflare-kv.ts'])('the entry point src/%s only re-exports', (entry) => {
    const code = sources.find((s) => s.name === entry)?.code ?? '';
    expect(code).not.toBe('');
    for (const line of code.split('\n').filter(Boolean)) {
      expect(line).toMatch(/^export (type )?\{[^}]+\} from '\.\/[\w/-]+\.js';$/);
    }
  });
});
