// Recipes work when pasted: every ```ts block of README.md and of the guides in docs/ is compiled as its own module,
// exactly as written (the test adds no import), against the library's source (so new API shows up without a build),
// with test/readme/ as the shared prelude: stand-ins for the reader's own names (`app`, `env`, `wristbandM2MClient`,
// `credentials`, ...) and minimal declarations of third-party modules. Each block is checked under moduleResolution
// bundler and nodenext (what ESM Node projects use).
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
/** README.md and every guide in docs/, by their path from the repository's root. */
const DOCUMENTS = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];
const scratch = mkdtempSync(join(tmpdir(), 'm2m-readme-'));

interface Block {
  file: string;
  /** The document holding it. */
  document: string;
  /** Line of the block's first line of code in its document. */
  line: number;
  code: string;
  heading: string;
}

/** Every ```ts block of `document`, with the line it starts on and the heading above it. */
function extractBlocks(document: string, markdown: string, first: number): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^#{1,6} /.test(line)) heading = line.replace(/^#+ /, '');
    if (!/^```(ts|typescript)\s*$/.test(line)) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !lines[end]!.startsWith('```')) end++;
    const n = String(first + blocks.length + 1).padStart(3, '0');
    const code = lines.slice(start, end).join('\n');
    blocks.push({ file: `block-${n}.ts`, document, line: start + 1, code, heading });
    i = end;
  }
  return blocks;
}

/**
 * The line `// ...credentials` inside an options object stands for the three options shown in Setup: it becomes the
 * prelude's `credentials` spread. Nothing else is added: a block imports everything it uses, as a reader pastes it.
 */
function expandElision(code: string): string {
  return code.replace(/^(\s*)\/\/ \.\.\.credentials\s*$/m, '$1...credentials,');
}

const blocks: Block[] = [];
for (const document of DOCUMENTS) {
  blocks.push(...extractBlocks(document, readFileSync(join(root, document), 'utf8'), blocks.length));
}
const MODES = ['bundler', 'nodenext'] as const;
/** Diagnostics per mode and block file, as `<document>:<line>:<col> <message>`. */
const diagnostics = new Map<string, string[]>();

function tsconfig(mode: (typeof MODES)[number]) {
  const lib = (path: string) => [join(root, path)];
  return {
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2022', 'DOM', 'DOM.Iterable', 'ESNext.Disposable'],
      module: mode === 'bundler' ? 'ESNext' : 'NodeNext',
      moduleResolution: mode === 'bundler' ? 'Bundler' : 'NodeNext',
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(root, 'node_modules/@types')],
      paths: {
        '@wristband/typescript-m2m-auth': lib('src/index.ts'),
        'npm:@wristband/typescript-m2m-auth': lib('src/index.ts'),
        '@wristband/typescript-m2m-auth/redis': lib('src/store/redis.ts'),
        '@wristband/typescript-m2m-auth/cloudflare-kv': lib('src/store/cloudflare-kv.ts'),
        '@wristband/typescript-m2m-auth/durable-object': lib('src/store/durable-object.ts'),
        '@wristband/typescript-m2m-auth/dynamodb': lib('src/store/dynamodb.ts'),
        '@wristband/typescript-m2m-auth/deno-kv': lib('src/store/deno-kv.ts'),
        '@wristband/typescript-m2m-auth/upstash': lib('src/store/upstash.ts'),
        '@wristband/typescript-m2m-auth/testing': lib('src/testing/index.ts'),
        '@wristband/typescript-m2m-auth/testing/server': lib('src/testing/server.ts'),
        '@wristband/typescript-m2m-auth/opentelemetry': lib('src/opentelemetry.ts'),
        // Their real types (nodenext needs the declaration file itself, not the folder).
        ioredis: lib('node_modules/ioredis/built/index.d.ts'),
        redis: lib('node_modules/redis/dist/index.d.ts'),
        '@aws-sdk/client-dynamodb': lib('node_modules/@aws-sdk/client-dynamodb/dist-types/index.d.ts'),
        '@aws-sdk/lib-dynamodb': lib('node_modules/@aws-sdk/lib-dynamodb/dist-types/index.d.ts'),
        '@upstash/redis': lib('node_modules/@upstash/redis/nodejs.d.ts'),
        axios: lib('examples/node_modules/axios/index.d.ts'),
        '@opentelemetry/api': lib('node_modules/@opentelemetry/api/build/src/index.d.ts'),
      },
    },
    files: ['prelude.d.ts', 'modules.d.ts', 'auth.ts', ...blocks.map((b) => b.file)],
  };
}

function compile(mode: (typeof MODES)[number]): Promise<void> {
  writeFileSync(join(scratch, `tsconfig.${mode}.json`), JSON.stringify(tsconfig(mode), null, 2));
  return new Promise((resolve) => {
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    execFile(
      process.execPath,
      [tsc, '-p', `tsconfig.${mode}.json`, '--pretty', 'false'],
      { cwd: scratch },
      (_e, stdout) => {
        for (const line of stdout.split('\n')) {
          const match = /^(.+?)\((\d+),(\d+)\): (.*)$/.exec(line);
          if (!match) continue;
          const [, file, row, col, message] = match;
          const block = blocks.find((b) => b.file === file);
          const where = block ? `${block.document}:${block.line + Number(row) - 1}:${col}` : `${file}:${row}:${col}`;
          const key = `${mode} ${block ? file : 'other'}`;
          diagnostics.set(key, [...(diagnostics.get(key) ?? []), `${where} ${message}`]);
        }
        resolve();
      },
    );
  });
}

beforeAll(async () => {
  writeFileSync(join(scratch, 'package.json'), '{ "type": "module" }\n');
  for (const file of ['prelude.d.ts', 'modules.d.ts', 'auth.ts']) {
    copyFileSync(new URL(`readme/${file}`, import.meta.url), join(scratch, file));
  }
  // `export {}` makes every block a module of its own, so blocks never share top-level names.
  for (const block of blocks) writeFileSync(join(scratch, block.file), `${expandElision(block.code)}\nexport {};\n`);
  await Promise.all(MODES.map(compile));
}, 120_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('TypeScript blocks of README.md and docs/', () => {
  it('finds the blocks in the README and in the guides, and the harness itself compiles', () => {
    expect(blocks.filter((b) => b.document === 'README.md').length).toBeGreaterThanOrEqual(5);
    expect(blocks.filter((b) => b.document.startsWith('docs/')).length).toBeGreaterThan(15);
    for (const mode of MODES) expect(diagnostics.get(`${mode} other`) ?? [], mode).toEqual([]);
  });

  describe.each(MODES)('moduleResolution %s', (mode) => {
    it.each(blocks.map((b) => [`${b.document}:${b.line} (${b.heading})`, b.file] as const))(
      '%s compiles',
      (_where, file) => {
        expect(diagnostics.get(`${mode} ${file}`) ?? []).toEqual([]);
      },
    );
  });
});
