// Figures the docs quote come from one generated source, BENCHMARKS.md (written by `npm run bench`): each quoted figure
// is read back from it here, so a new benchmark run that changes a figure fails this test until the docs follow, and
// no second, drifting copy of a size or a memory figure can appear anywhere in README.md or docs/.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const benchmarks = read('BENCHMARKS.md');
const performance = read('docs/performance.md');
const documents = ['README.md', ...readdirSync(new URL('../docs', import.meta.url)).filter((f) => f.endsWith('.md'))]
  .map((name) => (name === 'README.md' ? name : `docs/${name}`))
  .map((path) => ({ path, text: read(path) }));

/** The cells of the table row of `section` (a `##`/`###` heading prefix) whose first cell starts with `subject`. */
function row(section: string, subject: string): string[] {
  const start = benchmarks.indexOf(`\n${section}`);
  expect(start, section).toBeGreaterThanOrEqual(0);
  const rest = benchmarks.slice(start + 1);
  const end = rest.search(/\n#{2,3} /);
  const line = (end < 0 ? rest : rest.slice(0, end))
    .split('\n')
    .map((l) => l.replaceAll('**', ''))
    .find((l) => l.startsWith(`| ${subject}`) || l.startsWith(`| \`${subject}`));
  expect(line, `${section} / ${subject}`).toBeDefined();
  return line!.split('|').map((cell) => cell.trim());
}

const median = (runtime: string, subject: string) => row(`### ${runtime}`, subject)[4];
const THIS = '@wristband/typescript-m2m-auth (this package)';

describe('figures in the docs match BENCHMARKS.md', () => {
  it('cached getToken() medians on Node, Deno and Bun', () => {
    const [node, deno, bun] = ['Node', 'Deno', 'Bun'].map((runtime) => median(runtime, THIS));
    expect(performance).toContain(`${node} on Node, ${deno} on Deno, ${bun} on Bun (medians)`);
  });

  it("the nearest peer's medians", () => {
    const peer = '@badgateway/oauth2-client';
    const figures = ['Node', 'Deno', 'Bun'].map((runtime) => median(runtime, peer)?.replace(' ns', ''));
    expect(performance).toContain(`\`${peer}\` ${figures.join(' / ')} ns`);
  });

  it('memory per client before the first token', () => {
    const bytes = row('## Memory per client', THIS)[4];
    expect(performance).toContain(`**Memory**: ${bytes} bytes retained per client`);
  });

  it('bundle size, its shared-store share, and import time', () => {
    const bytes = Number(row('## Size of', "export { createWristbandM2MClient } from './dist/index.js'")[2]);
    const share = Number(row('## Size of', 'share of the shared store')[2]);
    const footprint = row('## Footprint', THIS);
    expect(performance).toContain(`bundles to ${footprint[2]} (${bytes.toLocaleString('en-US')} bytes)`);
    expect(performance).toContain(`${(share / 1024).toFixed(1)} KiB of it the`);
    expect(performance).toContain(`importing the package takes ${footprint[3]} on Node`);
  });

  it.each(['README.md', 'docs/stores.md'])(
    "%s's Choose a store table quotes the shared stores' section of BENCHMARKS.md",
    (path) => {
      // bench/run.mjs writes both tables from one run (bench/stores.mjs, updateStoresGuide); a store that could not
      // run there is 'not run' in BENCHMARKS.md and must not be quoted.
      const section = '## Shared stores';
      expect(benchmarks, `BENCHMARKS.md has no "${section}" section: run npm run bench`).toContain(`\n${section}`);
      const text = read(path);
      const rows = text
        .slice(text.indexOf('# Choose a store'))
        .split('\n')
        .slice(1)
        .filter(
          (line, i, lines) => line.startsWith('| ') && lines.slice(0, i).every((l) => l === '' || l.startsWith('| ')),
        )
        .map((line) => line.split(' | '));
      const column = rows[0]!.indexOf('A read, measured here');
      expect(column, `${path}: the read column`).toBeGreaterThan(0);
      const quoted = rows.filter((cells) => /^`\/[\w-]+`:/.test(cells[1] ?? ''));
      expect(quoted.length, path).toBeGreaterThanOrEqual(6);
      for (const cells of quoted) {
        const entry = /^`(\/[\w-]+)`/.exec(cells[1]!)![1]!;
        if (entry === '/cloudflare-kv') {
          expect(cells[column], entry).toBe('not measured'); // no lock: not in the bench
          continue;
        }
        // The first row of that entry point: for /redis, ioredis.
        const line = benchmarks
          .slice(benchmarks.indexOf(`\n${section}`))
          .split('\n')
          .find((l) => l.includes(`| \`${entry}\` |`));
        expect(line, `${section} / ${entry}`).toBeDefined();
        expect(cells[column], `${path} ${entry}`).toBe(line!.split('|').map((cell) => cell.trim())[3]);
      }
    },
  );

  it("docs/lambda.md's cold-start figures are the shared stores' section of BENCHMARKS.md", () => {
    const section = benchmarks.slice(benchmarks.indexOf('\n## Shared stores'));
    expect(section.length, 'BENCHMARKS.md has no "## Shared stores" section: run npm run bench').toBeLessThan(
      benchmarks.length,
    );
    const cells = (subject: string) =>
      section
        .split('\n')
        .find((l) => l.startsWith(`| ${subject} |`))
        ?.split('|')
        .map((cell) => cell.trim()) ?? [];
    const [none, dynamodb] = [cells('none'), cells('DynamoDB')];
    const lambda = read('docs/lambda.md');
    const block = lambda.slice(lambda.indexOf('<!-- bench:lambda-cold-start'), lambda.indexOf('<!-- /bench:lambda'));
    expect(block).toContain(`without a store: ${none[6]} `);
    expect(block).toContain(`another environment stored: ${dynamodb[5]} `);
    expect(block).toContain(`${none[4]} token requests without a store, ${dynamodb[4]} with DynamoDB.`);
  });

  it('no other document quotes a bundle size or a per-client memory figure of its own', () => {
    for (const { path, text } of documents) {
      if (path === 'docs/performance.md') continue;
      // 64 KiB is the response cap, a constant of the code, not a measurement.
      const sizes = [...text.matchAll(/(\d[\d,.]*) ?(KB|KiB|kB)\b/g)].map((m) => m[0]).filter((s) => s !== '64 KiB');
      expect(sizes, path).toEqual([]);
      expect(text, path).not.toMatch(/\d bytes (retained|per client)|minified and gzipped \(/);
    }
  });
});
