import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// tsconfig's "types": [] makes tsc fail on Node globals in src/; this also catches what a cast could hide.
const sources = readdirSync(new URL('../src', import.meta.url)).map((name) => ({
  name,
  code: readFileSync(new URL(`../src/${name}`, import.meta.url), 'utf8'),
}));

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

  it('src/index.ts only re-exports', () => {
    const index = sources.find((s) => s.name === 'index.ts')?.code ?? '';
    for (const line of index.split('\n').filter(Boolean)) expect(line).toMatch(/^export (type )?\{[^}]+\} from '\.\/[\w-]+\.js';$/);
  });
});
