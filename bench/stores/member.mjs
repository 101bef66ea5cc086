// One member of a fleet for bench/stores.mjs: a cold process (Node, or Deno for Deno KV) with one client of the built
// package and its own connection to the store. Run as `<runtime> member.mjs <JSON>`, the JSON holding
// { mode, kind, engine, client }:
// - mode `first`: sets everything up (the store's connection open, as the recipes do), prints {"ready":true}, waits
//   for a `go` line on stdin, then times its first getToken() and prints { ms, token, storeErrors };
// - mode `reads`: writes a 300-byte value and reads it back in 5 batches of 40 sequential get() calls; prints
//   { perReadMs } (one figure per batch: the batch's time divided by 40).
// `kind` is the store: none, redis (ioredis), node-redis, upstash, dynamodb, deno-kv.
import { createWristbandM2MClient } from '../../dist/index.js';

const config = JSON.parse(globalThis.Deno ? Deno.args[0] : process.argv[2]);
const say = (value) => console.log(JSON.stringify(value));
const cleanups = [];

async function openStore({ kind, engine }) {
  if (kind === 'none') return undefined;
  if (kind === 'redis') {
    const { Redis } = await import('ioredis');
    const { createRedisTokenStore } = await import('../../dist/redis.js');
    const redis = new Redis(engine.url, { enableOfflineQueue: false, lazyConnect: true });
    redis.on('error', () => undefined);
    await redis.connect();
    cleanups.push(() => redis.disconnect());
    return createRedisTokenStore(redis);
  }
  if (kind === 'node-redis') {
    const { createClient } = await import('redis');
    const { createRedisTokenStore } = await import('../../dist/redis.js');
    const redis = createClient({ url: engine.url });
    redis.on('error', () => undefined);
    await redis.connect();
    cleanups.push(() => redis.destroy());
    return createRedisTokenStore(redis);
  }
  if (kind === 'upstash') {
    const { Redis } = await import('@upstash/redis');
    const { createUpstashTokenStore } = await import('../../dist/upstash.js');
    return createUpstashTokenStore(new Redis({ url: engine.url, token: engine.token }));
  }
  if (kind === 'dynamodb') {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { DynamoDBDocument } = await import('@aws-sdk/lib-dynamodb');
    const { createDynamoDBTokenStore } = await import('../../dist/dynamodb.js');
    const raw = new DynamoDBClient({
      endpoint: engine.endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    cleanups.push(() => raw.destroy());
    return createDynamoDBTokenStore({ client: DynamoDBDocument.from(raw), tableName: engine.tableName });
  }
  if (kind === 'deno-kv') {
    const { createDenoKvTokenStore } = await import('../../dist/deno-kv.js');
    const kv = await Deno.openKv(engine.path);
    cleanups.push(() => kv.close());
    return createDenoKvTokenStore(kv);
  }
  throw new Error(`unknown store kind ${kind}`);
}

async function firstLine() {
  const stream = globalThis.Deno ? Deno.stdin.readable : process.stdin;
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (text.includes('\n')) return text.slice(0, text.indexOf('\n'));
  }
  return text;
}

const store = await openStore(config);
if (config.mode === 'reads') {
  const value = 'x'.repeat(300);
  await store.set('bench:read', value, 60);
  const perReadMs = [];
  for (let batch = 0; batch < 5; batch++) {
    const started = performance.now();
    for (let i = 0; i < 40; i++) if ((await store.get('bench:read')) !== value) throw new Error('read another value');
    perReadMs.push((performance.now() - started) / 40);
  }
  say({ perReadMs });
} else {
  const storeErrors = [];
  const m2m = createWristbandM2MClient({
    clientId: config.client.clientId,
    clientSecret: config.client.clientSecret,
    wristbandApplicationVanityDomain: config.client.vanityDomain,
    tokenStore: store,
    tokenStoreTimeout: 5, // a loaded machine's slow call is not what this counts
    onTokenStoreError: ({ operation, error }) => void storeErrors.push(`${operation}: ${error.message}`),
  });
  say({ ready: true });
  await firstLine();
  const started = performance.now();
  const token = await m2m.getToken();
  say({ ms: performance.now() - started, token, storeErrors });
  m2m.destroy();
}
for (const cleanup of cleanups) await cleanup();
if (!globalThis.Deno) process.exit(0);
