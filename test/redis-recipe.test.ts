// The Redis recipes of docs/fleets-and-stores.md, run as pasted (the ioredis block in TypeScript, its types stripped by
// esbuild; the node-redis block in JavaScript), each as processes of a fleet on the built package:
// - with Redis up, processes started one after another, each warming up at startup, make one token request between
//   them and report nothing (with `enableOfflineQueue: false` and no `await redis.connect()`, the warm-up ran before
//   the connection was open and every process missed the store);
// - with Redis stopped before the process starts, or under a running process, every call still gets a token, the
//   process does not crash, and the outage is reported once: no `[ioredis] Unhandled error event`, no message per
//   call or per reconnect attempt.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenServer } from '../demo/token-server.mjs';
import { type RedisServer, startRedis } from './support/redis-server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const driver = fileURLToPath(new URL('fixtures/redis-recipe-driver.mjs', import.meta.url));
// Inside the package (git-ignored), so the recipes' `@wristband/typescript-m2m-auth` imports resolve to dist/ by the
// package's self-reference, and ioredis and redis from its node_modules, as in a user's project.
const scratch = `${root}.tools/redis-recipes-${process.pid}/`;
const guide = readFileSync(`${root}docs/fleets-and-stores.md`, 'utf8');

/** The fenced block of the guide, in `language`, that starts with `firstLine`. */
function block(language: string, firstLine: string): string {
  const start = guide.indexOf(`\`\`\`${language}\n${firstLine}`);
  expect(start, `a \`\`\`${language} block starting with ${firstLine}`).toBeGreaterThanOrEqual(0);
  const code = guide.slice(guide.indexOf('\n', start) + 1);
  return code.slice(0, code.indexOf('\n```'));
}

const RECIPES = [
  { name: 'ioredis (TypeScript)', file: 'ioredis.mjs', language: 'ts', firstLine: "import { Redis } from 'ioredis';" },
  {
    name: 'node-redis (JavaScript)',
    file: 'node-redis.mjs',
    language: 'js',
    firstLine: "import { createClient } from 'redis';",
  },
];

let redis: RedisServer;
const servers: Awaited<ReturnType<typeof startTokenServer>>[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  mkdirSync(scratch, { recursive: true });
  for (const recipe of RECIPES) {
    const code = block(recipe.language, recipe.firstLine);
    const js = recipe.language === 'ts' ? (await transform(code, { loader: 'ts', format: 'esm' })).code : code;
    writeFileSync(`${scratch}${recipe.file}`, js);
  }
  redis = await startRedis();
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(servers.map((server) => server.close()));
  await redis?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

async function tokenServer() {
  const server = await startTokenServer({ clientId: 'recipe-client', clientSecret: 'recipe-secret' });
  servers.push(server);
  return server;
}

/** A process running `recipe` through the driver: send it steps, read its answers, then its exit and stderr. */
function fleetProcess(recipe: (typeof RECIPES)[number], redisUrl: string, vanityDomain: string) {
  const child = spawn(process.execPath, [driver, `${scratch}${recipe.file}`], {
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: redisUrl,
      CLIENT_ID: 'recipe-client',
      CLIENT_SECRET: 'recipe-secret',
      APPLICATION_VANITY_DOMAIN: vanityDomain,
    },
  });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<{ step: string; token?: string; error?: string }> => {
    const line = await Promise.race([answers.next(), exited.then(() => ({ done: true as const, value: undefined }))]);
    if (line.done || line.value === undefined) throw new Error(`the process ended early: ${stderr}`);
    return JSON.parse(line.value);
  };
  return {
    ready: next,
    async step(step: 'token' | 'fresh') {
      child.stdin.write(`${step}\n`);
      return next();
    },
    async exit() {
      child.stdin.write('exit\n');
      return { code: await exited, stderr };
    },
  };
}

/** Lines of a recipe's stderr: the outage reports, and anything else (which there should not be). */
const outageReports = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('Redis is unavailable'));

describe.each(RECIPES)('the $name recipe', (recipe) => {
  it('three processes started one after another make one token request and report nothing', async () => {
    const server = await tokenServer();
    const tokens: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const member = fleetProcess(recipe, redis.url, server.vanityDomain);
      await member.ready();
      tokens.push((await member.step('token')).token);
      expect(await member.exit()).toEqual({ code: 0, stderr: '' });
    }
    expect(tokens[0]).toBeTruthy();
    expect(new Set(tokens).size).toBe(1);
    expect(server.requestCount).toBe(1);
  }, 60_000);

  it('with Redis down from the start, every call gets a token and the outage is reported once', async () => {
    const server = await tokenServer();
    const stopped = await startRedis();
    await stopped.stop(); // a port where Redis was: connections are refused
    const member = fleetProcess(recipe, stopped.url, server.vanityDomain);
    await member.ready();
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await member.step('fresh'));
    expect(answers.map((a) => a.error)).toEqual(Array(5).fill(undefined));
    expect(new Set(answers.map((a) => a.token)).size).toBe(5); // each retired token replaced by a new one
    const { code, stderr } = await member.exit();
    expect(code).toBe(0);
    expect(outageReports(stderr)).toHaveLength(1);
    expect(stderr).not.toContain('Unhandled error event');
    expect(stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);

  it('with Redis stopped under a running process, calls keep getting tokens and the outage is reported once', async () => {
    const server = await tokenServer();
    const ownRedis = await startRedis();
    const member = fleetProcess(recipe, ownRedis.url, server.vanityDomain);
    await member.ready();
    expect((await member.step('token')).token).toBeTruthy();
    await ownRedis.stop();
    const answers = [];
    for (let i = 0; i < 5; i++) {
      answers.push(await member.step('fresh'));
      await new Promise((resolve) => setTimeout(resolve, 200)); // reconnect attempts happen meanwhile
    }
    expect(answers.map((a) => a.error)).toEqual(Array(5).fill(undefined));
    expect(answers.every((a) => a.token)).toBe(true);
    const { code, stderr } = await member.exit();
    expect(code).toBe(0);
    expect(outageReports(stderr)).toHaveLength(1);
    expect(stderr).not.toContain('Unhandled error event');
    expect(stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);
});
