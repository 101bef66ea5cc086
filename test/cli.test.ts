// `wristband-m2m token` as an operator runs it: a real child process (bin/ on the built dist/) against the local
// token server. The global setup has built dist/.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenServer } from '../demo/token-server.mjs';

const cli = fileURLToPath(new URL('../bin/wristband-m2m.mjs', import.meta.url));
const SECRET = 'cli-s3cret-NEVER-PRINTED';
let server: Awaited<ReturnType<typeof startTokenServer>>;
let scratch: string;

beforeAll(async () => {
  server = await startTokenServer({ clientId: 'cli-client', clientSecret: SECRET });
  scratch = mkdtempSync(join(tmpdir(), 'm2m-cli-'));
});
afterAll(async () => {
  await server.close();
  rmSync(scratch, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with only PATH and `env` in its environment, in `cwd` (an empty folder unless given). */
function wristbandM2M(args: string[], env: Record<string, string> = {}, cwd = scratch): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A preload that holds the CLI until a byte arrives on its stdin (blocking, or polling if stdin is non-blocking). */
const GATE = `const { readSync } = require('node:fs');
const pause = new Int32Array(new SharedArrayBuffer(4));
for (;;) {
  try {
    readSync(0, Buffer.alloc(1));
    break;
  } catch (error) {
    if (error.code !== 'EAGAIN') throw error;
    Atomics.wait(pause, 0, 0, 5);
  }
}
`;

/** Writes a CommonJS file into the scratch folder, for `NODE_OPTIONS=--require`, and returns its path. */
function preload(name: string, source: string): string {
  const path = join(scratch, name);
  writeFileSync(path, source);
  return path;
}

/**
 * Runs the CLI with its stdout or stderr a pipe whose reading end the test has closed before the CLI writes a byte:
 * a preload holds the CLI until the test writes to its stdin, which the test does once that end is closed.
 */
async function withClosedReader(
  closed: 'stdout' | 'stderr',
  args: string[],
  env: Record<string, string>,
): Promise<Run> {
  const gate = preload('gate.cjs', GATE);
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: scratch,
    env: { PATH: process.env.PATH ?? '', ...env, NODE_OPTIONS: `--require "${gate}"` },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  const open = closed === 'stdout' ? 'stderr' : 'stdout';
  child[open].setEncoding('utf8').on('data', (chunk: string) => (output[open] += chunk));
  child[closed].destroy();
  await once(child[closed], 'close');
  child.stdin.end('go\n');
  const [code] = (await once(child, 'close')) as [number | null];
  return { code: code ?? -1, ...output };
}

const credentials = () => ({
  CLIENT_ID: server.clientId,
  CLIENT_SECRET: SECRET,
  APPLICATION_VANITY_DOMAIN: server.vanityDomain,
});

/** Nothing a run prints may contain the secret. */
function expectNoSecret(run: Run): void {
  expect(run.stdout).not.toContain(SECRET);
  expect(run.stderr).not.toContain(SECRET);
}

describe('wristband-m2m token', () => {
  it('prints the access token alone on stdout, ready for $(...)', async () => {
    const run = await wristbandM2M(['token'], credentials());
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^\S+\n$/);
    expect(server.verify(run.stdout.trim())).toBe('valid');
    expectNoSecret(run);
  });

  it('prints { access_token, expires_at } with --json', async () => {
    const before = Date.now();
    const run = await wristbandM2M(['token', '--json'], credentials());
    expect(run.code).toBe(0);
    const output = JSON.parse(run.stdout);
    expect(Object.keys(output)).toEqual(['access_token', 'expires_at']);
    expect(server.verify(output.access_token)).toBe('valid');
    // The local server issues tokens for 3600 s; expires_at is counted from when the request was sent.
    const expiresAt = Date.parse(output.expires_at);
    expect(output.expires_at).toBe(new Date(expiresAt).toISOString());
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expectNoSecret(run);
  });

  it('prints --json on one line, spaced as docs/command-line.md and --help show it', async () => {
    const run = await wristbandM2M(['token', '--json'], credentials());
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const { access_token, expires_at } = JSON.parse(run.stdout);
    expect(run.stdout).toBe(`{"access_token": ${JSON.stringify(access_token)}, "expires_at": "${expires_at}"}\n`);
    // The same line as documented, the values aside: the Command line guide's example and the help's --json.
    const shape = (line: string) => line.replace(/("\w+": )"[^"]*"/g, '$1"…"');
    const readme = readFileSync(new URL('../docs/command-line.md', import.meta.url), 'utf8');
    const documented = /^npx wristband-m2m token --json +# (\{.*\})$/m.exec(readme)?.[1];
    const help = /^ +--json +print (\{.*\}) instead$/m.exec((await wristbandM2M(['--help'])).stdout)?.[1];
    expect(documented).toBeDefined();
    expect(help).toBeDefined();
    expect(shape(run.stdout.trimEnd())).toBe(shape(documented!));
    expect(shape(help!)).toBe(shape(documented!));
    expectNoSecret(run);
  });

  it('on failure prints the error code and message on stderr, nothing on stdout, and exits 1', async () => {
    const run = await wristbandM2M(['token'], { ...credentials(), CLIENT_SECRET: `${SECRET}-wrong` });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^wristband-m2m: TOKEN_ENDPOINT_HTTP_ERROR \(HTTP 401\): .+\n$/);
    expectNoSecret(run);
  });

  it('says when the token endpoint cannot be reached', async () => {
    const closed = await startTokenServer();
    await closed.close();
    const run = await wristbandM2M(['token'], { ...credentials(), APPLICATION_VANITY_DOMAIN: closed.vanityDomain });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^wristband-m2m: TOKEN_ENDPOINT_UNREACHABLE: /);
    expectNoSecret(run);
  });

  it('reports a bad setting with the INVALID_CONFIG code, never the secret', async () => {
    const run = await wristbandM2M(['token'], {
      ...credentials(),
      APPLICATION_VANITY_DOMAIN: `http://${SECRET}.example`,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^wristband-m2m: INVALID_CONFIG: /);
    expectNoSecret(run);
  });

  it.each(['token', 'token --json'])(
    'exits 0 without a word when the reader of its stdout has gone (wristband-m2m %s | true)',
    async (command) => {
      const run = await withClosedReader('stdout', command.split(' '), credentials());
      expect(run).toEqual({ code: 0, stdout: '', stderr: '' });
    },
  );

  it('keeps its exit status when the reader of its stderr has gone', async () => {
    const usage = await withClosedReader('stderr', ['tokens'], credentials());
    expect(usage).toEqual({ code: 2, stdout: '', stderr: '' });
    const failure = await withClosedReader('stderr', ['token'], { ...credentials(), CLIENT_SECRET: `${SECRET}-wrong` });
    expect(failure).toEqual({ code: 1, stdout: '', stderr: '' });
  });

  it.runIf(existsSync('/dev/full'))('says so and exits 1 when stdout cannot be written (> /dev/full)', async () => {
    const full = openSync('/dev/full', 'w');
    try {
      const run = await new Promise<Run>((resolve) => {
        const child = spawn(process.execPath, [cli, 'token'], {
          cwd: scratch,
          env: { PATH: process.env.PATH ?? '', ...credentials() },
          stdio: ['ignore', full, 'pipe'],
        });
        let stderr = '';
        child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
        child.on('close', (code) => resolve({ code: code ?? -1, stdout: '', stderr }));
      });
      expect(run).toEqual({ code: 1, stdout: '', stderr: 'wristband-m2m: cannot write to stdout: ENOSPC\n' });
    } finally {
      closeSync(full);
    }
  });

  it('names every missing variable and exits 2', async () => {
    const run = await wristbandM2M(['token'], { CLIENT_ID: 'cli-client' });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('CLIENT_SECRET, APPLICATION_VANITY_DOMAIN are not set');
  });

  it('reads the variables from --env-file <path>', async () => {
    const file = join(scratch, 'staging.env');
    const vars = credentials();
    writeFileSync(
      file,
      Object.entries(vars)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n'),
    );
    const run = await wristbandM2M(['token', '--env-file', file]);
    expect(run.code).toBe(0);
    expect(server.verify(run.stdout.trim())).toBe('valid');
    expectNoSecret(run);
  });

  it('reads ./.env by default when it exists, and the environment wins over the file', async () => {
    const folder = mkdtempSync(join(scratch, 'dotenv-'));
    const vars = { ...credentials(), CLIENT_SECRET: 'wrong-secret-in-the-file' };
    writeFileSync(
      join(folder, '.env'),
      Object.entries(vars)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n'),
    );
    expect((await wristbandM2M(['token'], {}, folder)).stderr).toContain('HTTP 401');
    const run = await wristbandM2M(['token'], { CLIENT_SECRET: SECRET }, folder);
    expect(run.code).toBe(0);
    expect(server.verify(run.stdout.trim())).toBe('valid');
  });

  it('reads an env file with comments, export, quoted values over several lines and \\n escapes', async () => {
    // Credentials only a faithful parse gets right: spaces, # and a newline in them, a second secret with a # inside
    // an unquoted word, and an assignment-looking line inside a quoted value that must not override CLIENT_ID.
    const quirky = await startTokenServer({ clientId: 'cli client #2', clientSecret: 'line one\nline #two' });
    quirky.secrets.add('generated#Secret');
    try {
      const file = join(scratch, 'quirky.env');
      const domain = `APPLICATION_VANITY_DOMAIN = ${quirky.vanityDomain}   # a comment after an unquoted value`;
      writeFileSync(
        file,
        [
          '# Credentials for the local token server',
          '',
          "export CLIENT_ID='cli client #2'  # single quotes keep spaces and #",
          'NOTE=`a quoted value over',
          'CLIENT_ID=not-this-one',
          'three lines`',
          'CLIENT_SECRET="line one\\nline #two" # \\n in double quotes is a newline',
          domain,
        ].join('\r\n'),
      );
      const run = await wristbandM2M(['token', '--env-file', file]);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(quirky.verify(run.stdout.trim())).toBe('valid');

      writeFileSync(file, ["CLIENT_ID='cli client #2'", 'CLIENT_SECRET=generated#Secret', domain].join('\n'));
      const unquoted = await wristbandM2M(['token', '--env-file', file]);
      expect(unquoted).toMatchObject({ code: 0, stderr: '' });
      expect(quirky.verify(unquoted.stdout.trim())).toBe('valid');
    } finally {
      await quirky.close();
    }
  });

  it('names the line of a quote that is never closed, not its value, and exits 2', async () => {
    const file = join(scratch, 'unclosed.env');
    writeFileSync(file, `CLIENT_ID=cli-client\nCLIENT_SECRET="${SECRET}\nAPPLICATION_VANITY_DOMAIN=x\n`);
    const run = await wristbandM2M(['token', '--env-file', file]);
    expect(run).toEqual({
      code: 2,
      stdout: '',
      stderr: `wristband-m2m: cannot read the env file ${file}: line 2: the value of CLIENT_SECRET opens a " quote that is never closed.\n`,
    });
  });

  it('reads env files without process.loadEnvFile, which Node 20.0 to 20.11 lack', async () => {
    // Node 20.11, emulated: the preload removes process.loadEnvFile before the CLI starts.
    const node2011 = preload('node-20.11.cjs', 'delete process.loadEnvFile;\n');
    const env = { NODE_OPTIONS: `--require "${node2011}"` };
    const file = join(scratch, 'for-node-20.11.env');
    writeFileSync(
      file,
      Object.entries(credentials())
        .map(([k, v]) => `${k}=${v}`)
        .join('\n'),
    );
    const run = await wristbandM2M(['token', '--env-file', file], env);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(server.verify(run.stdout.trim())).toBe('valid');
    const folder = mkdtempSync(join(scratch, 'dotenv-20.11-'));
    writeFileSync(join(folder, '.env'), readFileSync(file));
    const dotenv = await wristbandM2M(['token'], env, folder);
    expect(dotenv).toMatchObject({ code: 0, stderr: '' });
    expect(server.verify(dotenv.stdout.trim())).toBe('valid');
  });

  it('reads the variables from --env <path> as from --env-file, and refuses both at once', async () => {
    const file = join(scratch, 'staging-env.env');
    writeFileSync(
      file,
      Object.entries(credentials())
        .map(([k, v]) => `${k}=${v}`)
        .join('\n'),
    );
    const run = await wristbandM2M(['token', '--env', file]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(server.verify(run.stdout.trim())).toBe('valid');
    const both = await wristbandM2M(['token', '--env', file, '--env-file', file]);
    expect(both).toMatchObject({ code: 2, stdout: '' });
    expect(both.stderr).toContain('give --env or --env-file, not both');
  });

  it('exits 2 with its own message for an --env file that does not exist (Node does not scan --env)', async () => {
    const missing = join(scratch, 'missing-env.env');
    const run = await wristbandM2M(['token', '--env', missing], credentials());
    expect(run).toEqual({
      code: 2,
      stdout: '',
      stderr: `wristband-m2m: cannot read the env file ${missing}: it does not exist.\n`,
    });
  });

  it('fails, naming the file, for an env file that does not exist', async () => {
    const run = await wristbandM2M(['token', '--env-file', join(scratch, 'missing.env')], credentials());
    // Node (20 and 22 at least) reads --env-file anywhere on its command line, even after the script, and exits 9
    // on a missing file before the CLI runs ("node: <path>: not found"); where it does not, the CLI exits 2.
    expect([2, 9]).toContain(run.code);
    expect(run.stderr).toContain('missing.env');
    expect(run.stdout).toBe('');
  });

  it('documents itself with --help', async () => {
    const run = await wristbandM2M(['--help']);
    expect(run.code).toBe(0);
    for (const text of [
      'Usage: wristband-m2m token',
      'CLIENT_ID',
      'CLIENT_SECRET',
      'APPLICATION_VANITY_DOMAIN',
      '--json',
      '--env <path>',
      '--env-file',
      'Exit status',
    ]) {
      expect(run.stdout).toContain(text);
    }
  });

  it.each([[[]], [['tokens']], [['token', '--jsn']], [['token', 'extra']]])(
    'exits 2 with a usage hint for %j',
    async (args) => {
      const run = await wristbandM2M(args, credentials());
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('wristband-m2m --help');
    },
  );
});
