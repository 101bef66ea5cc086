// Exploratory: where does a cached getToken() spend its nanoseconds, per runtime? Micro-variants of the hot path,
// each a client-like object built the way src/client.ts builds its client, measured with mitata as
// `() => client.getToken()` on a token valid for an hour. Not part of `npm run bench`; run
//   node bench/hot-path-variants.mjs            this runtime (also: deno run -A / bun bench/hot-path-variants.mjs)
//   node bench/hot-path-variants.mjs --all      Node, Deno and Bun one after the other, one table each
//   add --reverse to register the variants in the opposite order (a check on order effects), or --isolate to
//   measure each variant alone in a fresh process (slower, free of order effects: Bun shows a strong one)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { bench, run } from 'mitata';
import { PEERS } from './peers.mjs';

const token = 'eyJhbGciOiJSUzI1NiJ9.payload.signature';
const acquire = () => Promise.reject(new Error('not reached: the token is fresh'));

/**
 * name -> factory of a client-like object. Its state starts empty and is written once by store(), as a refresh
 * writes the real client's: a variable never written after creation can be constant-folded by the engine (JSC's
 * watchpoints, V8's context-slot tracking), which would flatter a replica against the real client.
 */
const VARIANTS = {
  'current: function, Date.now() && options?.signal?.aborted check, Promise.resolve, frozen object': () => {
    let accessToken = '';
    let expiresAt = 0;
    function getToken(options) {
      if (Date.now() < expiresAt && options?.signal?.aborted !== true) return Promise.resolve(accessToken);
      return acquire(options?.signal);
    }
    return Object.freeze({ getToken, store: (t, e) => ((accessToken = t), (expiresAt = e)) });
  },
  'no signal check: if (Date.now() < expiresAt) return Promise.resolve(token)': () => {
    let accessToken = '';
    let expiresAt = 0;
    function getToken(options) {
      if (Date.now() < expiresAt) return Promise.resolve(accessToken);
      return acquire(options?.signal);
    }
    return Object.freeze({ getToken, store: (t, e) => ((accessToken = t), (expiresAt = e)) });
  },
  'options === undefined fast path first, then the signal check': () => {
    let accessToken = '';
    let expiresAt = 0;
    function getToken(options) {
      if (options === undefined) {
        if (Date.now() < expiresAt) return Promise.resolve(accessToken);
      } else if (Date.now() < expiresAt && options.signal?.aborted !== true) return Promise.resolve(accessToken);
      return acquire(options?.signal);
    }
    return Object.freeze({ getToken, store: (t, e) => ((accessToken = t), (expiresAt = e)) });
  },
  'cached promise: returns one Promise made when the token was stored (+ signal check)': () => {
    let resolved;
    let expiresAt = 0;
    function getToken(options) {
      if (Date.now() < expiresAt && options?.signal?.aborted !== true) return resolved;
      return acquire(options?.signal);
    }
    return Object.freeze({ getToken, store: (t, e) => ((resolved = Promise.resolve(t)), (expiresAt = e)) });
  },
  'cached promise, no signal check': () => {
    let resolved;
    let expiresAt = 0;
    function getToken(options) {
      if (Date.now() < expiresAt) return resolved;
      return acquire(options?.signal);
    }
    return Object.freeze({ getToken, store: (t, e) => ((resolved = Promise.resolve(t)), (expiresAt = e)) });
  },
  'async function (+ signal check), returns the string': () => {
    let accessToken = '';
    let expiresAt = 0;
    async function getToken(options) {
      if (Date.now() < expiresAt && options?.signal?.aborted !== true) return accessToken;
      return acquire(options?.signal);
    }
    return Object.freeze({ getToken, store: (t, e) => ((accessToken = t), (expiresAt = e)) });
  },
  'async function, no signal check': () => {
    let accessToken = '';
    let expiresAt = 0;
    async function getToken(options) {
      if (Date.now() < expiresAt) return accessToken;
      return acquire(options?.signal);
    }
    return Object.freeze({ getToken, store: (t, e) => ((accessToken = t), (expiresAt = e)) });
  },
  'state in an object, property reads (s.expiresAt, s.token) instead of closure variables': () => {
    const s = { token: '', expiresAt: 0 };
    function getToken(options) {
      if (Date.now() < s.expiresAt && options?.signal?.aborted !== true) return Promise.resolve(s.token);
      return acquire(options?.signal);
    }
    return Object.freeze({ getToken, store: (t, e) => ((s.token = t), (s.expiresAt = e)) });
  },
  'class with this.expiresAt / this.token (+ signal check), Promise.resolve': () => {
    class Client {
      token = '';
      expiresAt = 0;
      store(t, e) {
        this.token = t;
        this.expiresAt = e;
      }
      getToken(options) {
        if (Date.now() < this.expiresAt && options?.signal?.aborted !== true) return Promise.resolve(this.token);
        return acquire(options?.signal);
      }
    }
    return new Client();
  },
  'badgateway style: async class method, this.token object with expiresAt': () => {
    class Client {
      token = null;
      store(t, e) {
        this.token = { accessToken: t, expiresAt: e };
      }
      async getToken() {
        if (this.token && (this.token.expiresAt === null || this.token.expiresAt > Date.now())) return this.token;
        return acquire();
      }
    }
    return new Client();
  },
  'current, object not frozen': () => {
    let accessToken = '';
    let expiresAt = 0;
    function getToken(options) {
      if (Date.now() < expiresAt && options?.signal?.aborted !== true) return Promise.resolve(accessToken);
      return acquire(options?.signal);
    }
    return { getToken, store: (t, e) => ((accessToken = t), (expiresAt = e)) };
  },
};

const runtime = globalThis.Deno
  ? `Deno ${globalThis.Deno.version.deno}`
  : globalThis.Bun
    ? `Bun ${globalThis.Bun.version}`
    : `Node ${process.version}`;

if (process.argv.includes('--all')) {
  const self = fileURLToPath(import.meta.url);
  const tools = fileURLToPath(new URL('../.tools/', import.meta.url));
  const passOn = process.argv.includes('--reverse') ? ['--reverse'] : [];
  const commands = [
    [process.execPath, self, '--json', ...passOn],
    [
      `${tools}deno/node_modules/.bin/deno`,
      'run',
      '--no-prompt',
      '--allow-read',
      '--allow-env',
      self,
      '--json',
      ...passOn,
    ],
    [`${tools}bun/node_modules/.bin/bun`, self, '--json', ...passOn],
  ];
  const tables = [];
  const spawnJson = (command, args) => {
    const child = spawnSync(command, args, {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('.', import.meta.url)),
      maxBuffer: 1 << 24,
    });
    if (child.status !== 0) return { runtime: command, error: (child.error?.message ?? child.stderr).slice(0, 300) };
    return JSON.parse(child.stdout.trim().split('\n').pop());
  };
  for (const [command, ...args] of commands) {
    if (!process.argv.includes('--isolate')) {
      tables.push(spawnJson(command, args));
      continue;
    }
    // One fresh process per variant: no variant's figure depends on what ran before it in the same process.
    const rows = [];
    let name;
    for (let i = 0; i < Object.keys(VARIANTS).length + 2; i++) {
      const one = spawnJson(command, [...args, '--only', String(i)]);
      if (one.error) {
        tables.push(one);
        break;
      }
      name = one.runtime;
      rows.push(...one.rows);
    }
    if (name) tables.push({ runtime: `${name}, one process per variant`, rows });
  }
  for (const t of tables) console.log(t.error ? `${t.runtime}: could not run (${t.error})\n` : table(t));
} else {
  const clients = Object.entries(VARIANTS).map(([name, make]) => {
    const client = make();
    client.store(token, Date.now() + 3_600_000);
    return { name, client };
  });
  // The real thing next to the replicas: this package's built client and badgateway's OAuth2Fetch, each filled
  // from an in-process fetch, called as their READMEs say.
  const fakeFetch = async () => Response.json({ access_token: token, token_type: 'Bearer', expires_in: 3600 });
  const server = { clientId: 'c', clientSecret: 's', vanityDomain: 'https://acme.us.wristband.dev' };
  for (const peer of [PEERS[0], PEERS[2]]) {
    const instance = peer.create(await peer.load(), server, { fetch: fakeFetch });
    await instance.call();
    // instance.call is `() => client.getToken()` itself: the same one closure as the replicas' bench function.
    clients.push({ name: `real: ${peer.short}, ${peer.call}`, client: { getToken: instance.call }, fn: instance.call });
  }
  for (const { client } of clients) {
    const answer = await client.getToken();
    if (answer !== token && answer?.accessToken !== token) throw new Error('broken variant');
  }
  // --reverse registers them in the opposite order, to see whether a variant's place in the run moves its figure;
  // --only I measures the I-th alone (what --all --isolate runs, one process each).
  if (process.argv.includes('--reverse')) clients.reverse();
  const only = process.argv.includes('--only') ? Number(process.argv[process.argv.indexOf('--only') + 1]) : undefined;
  for (const [i, { name, client, fn }] of clients.entries()) {
    if (only === undefined || only === i) bench(name, fn ?? (() => client.getToken()));
  }
  const report = await run({ format: 'quiet', throw: true });
  const rows = report.benchmarks.map((b) => ({
    name: b.alias,
    p50: b.runs[0].stats.p50,
    avg: b.runs[0].stats.avg,
    min: b.runs[0].stats.min,
  }));
  const result = { runtime, rows };
  console.log(process.argv.includes('--json') ? JSON.stringify(result) : table(result));
}

function table({ runtime: name, rows }) {
  const best = Math.min(...rows.map((r) => r.p50));
  const current = (rows.find((r) => r.name.startsWith('current:')) ?? rows[0]).p50;
  return [
    `#### ${name}`,
    '',
    '| variant | min | median | mean | x fastest | x current |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.min.toFixed(1)} ns | ${r.p50.toFixed(1)} ns | ${r.avg.toFixed(1)} ns | ${(r.p50 / best).toFixed(2)} | ${(r.p50 / current).toFixed(2)} |`,
    ),
    '',
  ].join('\n');
}
