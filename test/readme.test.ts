// README recipes work when pasted: every ```ts block of README.md is compiled as its own module, against the
// library's source (so new API shows up without a build), with test/readme/ as the shared prelude: stand-ins for the
// reader's own names (`app`, `env`, `wristbandM2MClient`, ...) and minimal declarations of third-party modules.
// Each block is checked under moduleResolution bundler and nodenext (what ESM Node projects use).
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const scratch = mkdtempSync(join(tmpdir(), 'm2m-readme-'));

interface Block {
  file: string;
  /** README line of the block's first line of code. */
  line: number;
  code: string;
  heading: string;
}

/** Every ```ts block, with the README line it starts on and the heading above it. */
function extractBlocks(markdown: string): Block[] {
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
    const n = String(blocks.length + 1).padStart(2, '0');
    blocks.push({ file: `block-${n}.ts`, line: start + 1, code: lines.slice(start, end).join('\n'), heading });
    i = end;
  }
  return blocks;
}

/**
 * A block with the line `// ...credentials` is a fragment of the client creation shown in Setup (`auth.ts`): the
 * line stands for the prelude's `credentials`, and the block gets that file's import when it lacks it. Any other
 * block must compile as pasted.
 */
function expandFragment(code: string): string {
  const elision = /^(\s*)\/\/ \.\.\.credentials\s*$/m;
  if (!elision.test(code)) return code;
  const expanded = code.replace(elision, '$1...credentials,');
  const imported = /import \{[^}]*\bcreateWristbandM2MClient\b[^}]*\} from '@wristband\/typescript-m2m-auth'/.test(
    code,
  );
  return imported
    ? expanded
    : `import { createWristbandM2MClient } from '@wristband/typescript-m2m-auth';\n${expanded}`;
}

const blocks = extractBlocks(readme);
const MODES = ['bundler', 'nodenext'] as const;
/** Diagnostics per mode and block file, as `README.md:<line>:<col> <message>`. */
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
        // Their real types (nodenext needs the declaration file itself, not the folder).
        ioredis: lib('node_modules/ioredis/built/index.d.ts'),
        redis: lib('node_modules/redis/dist/index.d.ts'),
        axios: lib('examples/node_modules/axios/index.d.ts'),
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
          const where = block ? `README.md:${block.line + Number(row) - 1}:${col}` : `${file}:${row}:${col}`;
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
  for (const block of blocks) writeFileSync(join(scratch, block.file), `${expandFragment(block.code)}\nexport {};\n`);
  await Promise.all(MODES.map(compile));
}, 120_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('README.md TypeScript blocks', () => {
  it('finds the blocks, and the harness itself compiles', () => {
    expect(blocks.length).toBeGreaterThan(10);
    for (const mode of MODES) expect(diagnostics.get(`${mode} other`) ?? [], mode).toEqual([]);
  });

  describe.each(MODES)('moduleResolution %s', (mode) => {
    it.each(blocks.map((b) => [`README.md:${b.line} (${b.heading})`, b.file] as const))(
      '%s compiles',
      (_where, file) => {
        expect(diagnostics.get(`${mode} ${file}`) ?? []).toEqual([]);
      },
    );
  });
});
