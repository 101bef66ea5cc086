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

  it('the entry point src/index.ts only re-exports (after the module comment that names it in the docs)', () => {
    const entry = 'index.ts';
    const code = (sources.find((s) => s.name === entry)?.code ?? '').replace(/^\/\*\*[\s\S]*?\*\/\n/, '');
    expect(code).not.toBe('');
    for (const line of code.split('\n').filter(Boolean)) {
      expect(line).toMatch(/^export (type )?\{[^}]+\} from '\.\/[\w/-]+\.js';$/);
    }
  });

  it('reaches the shared store only through its seam: the core imports no adapter and no codec', () => {
    const core = sources.filter((s) => !s.name.startsWith('store/') && s.name !== 'index.ts');
    const reached = core.flatMap(({ code }) => [...code.matchAll(/from '\.\/store\/([\w-]+)\.js'/g)].map((m) => m[1]));
    expect(new Set(reached)).toEqual(new Set(['fleet', 'types']));
  });
});
