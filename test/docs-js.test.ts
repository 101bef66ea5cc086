// Plain JavaScript users: every ```js block of README.md and docs/ is JavaScript (no TypeScript-only syntax: a `!`, a
// type annotation, `satisfies`), every Node recipe written in TypeScript-only syntax has a JavaScript form next to it,
// and the JavaScript Express recipe (docs/runtimes.md, with the README's auth.js) runs as pasted: a wrong secret
// answers a JSON 503 with the error's code, not Express's HTML 500 page with our message.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { startTokenServer } from '../demo/token-server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const DOCUMENTS = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

interface Block {
  document: string;
  language: string;
  /** Line of the opening fence, 1-based. */
  line: number;
  /** Line of the closing fence, 1-based. */
  end: number;
  code: string;
}

function blocks(document: string): Block[] {
  const lines = readFileSync(join(root, document), 'utf8').split('\n');
  const found: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const language = /^```(\w+)\s*$/.exec(lines[i]!)?.[1];
    if (!language) continue;
    let end = i + 1;
    while (end < lines.length && !lines[end]!.startsWith('```')) end++;
    found.push({ document, language, line: i + 1, end: end + 1, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return found;
}

const all = DOCUMENTS.flatMap(blocks);
const isJavaScript = (code: string) =>
  transform(code, { loader: 'js', format: 'esm' }).then(
    () => true,
    () => false,
  );

describe('JavaScript forms of the recipes', () => {
  it.each(all.filter((b) => b.language === 'js').map((b) => [`${b.document}:${b.line}`, b] as const))(
    '%s is JavaScript',
    async (_where, block) => {
      expect(await isJavaScript(block.code)).toBe(true);
    },
  );

  it('every Node recipe in TypeScript-only syntax has a JavaScript form right after it', async () => {
    const missing: string[] = [];
    for (const block of all.filter((b) => b.language === 'ts' && b.code.includes('process.env'))) {
      if (await isJavaScript(block.code)) continue; // already JavaScript as written
      const lines = readFileSync(join(root, block.document), 'utf8').split('\n');
      const after = lines.slice(block.end, block.end + 12).join('\n');
      if (!/```js\n|in (plain )?javascript/i.test(after)) missing.push(`${block.document}:${block.line}`);
    }
    expect(missing).toEqual([]);
  });
});

describe("the JavaScript Express recipe with the README's auth.js, as pasted", () => {
  // In examples/ (git-ignored scratch folder), so express and the package resolve from examples/node_modules.
  const scratch = mkdtempSync(join(root, 'examples', '.docs-js-'));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(scratch, { recursive: true, force: true });
  });

  const only = (document: string, firstLine: string) => {
    const found = all.filter((b) => b.document === document && b.language === 'js' && b.code.startsWith(firstLine));
    expect(found, `${document}: a js block starting with ${firstLine}`).toHaveLength(1);
    return found[0]!.code;
  };

  it('a wrong secret answers a JSON 503 with its code, never an HTML page or our message', async () => {
    writeFileSync(join(scratch, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(scratch, 'auth.js'), only('README.md', '// auth.js'));
    writeFileSync(join(scratch, 'server.js'), only('docs/runtimes.md', '// server.js'));
    const server = await startTokenServer({ clientId: 'docs-js', clientSecret: 'the right secret' });
    const port = await freePort();
    const child = spawn(process.execPath, ['server.js'], {
      cwd: scratch,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: String(port),
        CLIENT_ID: 'docs-js',
        CLIENT_SECRET: 'a wrong secret',
        APPLICATION_VANITY_DOMAIN: server.vanityDomain,
      },
    });
    children.push(child);
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    try {
      let response: Response | undefined;
      for (let i = 0; i < 100 && !response; i++) {
        response = await fetch(`http://127.0.0.1:${port}/dashboard`).catch(async () => {
          await new Promise((resolve) => setTimeout(resolve, 100));
          return undefined;
        });
      }
      expect(response, output).toBeDefined();
      expect(response!.status).toBe(503);
      expect(response!.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await response!.json()).toEqual({ error: 'TOKEN_ENDPOINT_HTTP_ERROR' });
      expect(server.requestCount).toBeGreaterThanOrEqual(1);
    } finally {
      await server.close();
    }
  }, 30_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
