// One Deno process of the Deno KV store's tests (test/store/deno-kv.test.ts), on the built package (dist/). Run as
// `deno run --unstable-kv ... deno-kv-process.mjs <mode> <kv path or :memory:> [JSON]`, it writes JSON lines:
// - `contract`: the store contract (test/support/store-contract.ts) on the KV; one line, each check's name and error;
// - `fleet {clientId, clientSecret, vanityDomain}`: says `{"step":"ready"}`, then runs one step per stdin line
//   (`token`, `call-api`, `store-errors`, `exit`) with this process's client and answers one line each;
// - `hammer {name, rounds}`: says ready, waits for a `go` line, then for each round acquires `hammer:<round>` as
//   `name` and writes, reads and compares-and-deletes a value of its own; answers the rounds it won, every error, and
//   how many KV calls met `database is locked` (retried by the store).
import { createWristbandM2MClient } from '../../dist/index.js';
import { createDenoKvTokenStore } from '../../dist/deno-kv.js';
import { storeContract } from '../support/store-contract.ts';

const [mode, path, json] = Deno.args;
const kv = await Deno.openKv(path);
/** Calls of the store that met SQLite's `database is locked` (which the store retries): the hammer reports them. */
let lockedSeen = 0;
const counted = (call) =>
  call.catch((error) => {
    if (/database is locked/.test(String(error?.message))) lockedSeen++;
    throw error;
  });
const store = createDenoKvTokenStore({
  get: (key) => counted(kv.get(key)),
  set: (key, value, options) => counted(kv.set(key, value, options)),
  delete: (key) => counted(kv.delete(key)),
  atomic() {
    const op = kv.atomic();
    const commit = op.commit.bind(op);
    return Object.assign(op, { commit: () => counted(commit()) });
  },
});
const say = (line) => console.log(JSON.stringify(line));

/** stdin, one line at a time. */
async function* lines() {
  let buffered = '';
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let end = buffered.indexOf('\n');
    while (end >= 0) {
      yield buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      end = buffered.indexOf('\n');
    }
  }
}

if (mode === 'contract') {
  const results = await Promise.all(
    storeContract(() => store).map(({ name, run }) =>
      run().then(
        () => ({ name }),
        (error) => ({ name, error: String(error?.message ?? error) }),
      ),
    ),
  );
  say(results);
} else if (mode === 'fleet') {
  const config = JSON.parse(json);
  const storeErrors = [];
  const m2m = createWristbandM2MClient({
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    wristbandApplicationVanityDomain: config.vanityDomain,
    tokenStore: store,
    // Generous: on a loaded machine a slow call is not what this counts (requests are), nor a store failure.
    tokenStoreTimeout: 5,
    onTokenStoreError: ({ operation, error }) => void storeErrors.push(`${operation}: ${error.message}`),
  });
  say({ step: 'ready' });
  for await (const line of lines()) {
    const { step } = JSON.parse(line);
    if (step === 'exit') break;
    try {
      if (step === 'token') say({ step, token: await m2m.getToken() });
      if (step === 'call-api') say({ step, status: (await m2m.fetch(`${config.vanityDomain}/_protected`)).status });
      if (step === 'store-errors') say({ step, storeErrors });
    } catch (error) {
      say({ step, error: String(error) });
    }
  }
  m2m.destroy();
} else if (mode === 'hammer') {
  const { name, rounds } = JSON.parse(json);
  say({ step: 'ready' });
  for await (const line of lines()) if (line === 'go') break;
  const won = [];
  const errors = [];
  for (let round = 0; round < rounds; round++) {
    try {
      if (await store.acquire?.(`hammer:${round}`, 30, name)) won.push(round);
      const own = `hammer:${name}:${round}`;
      await store.set(own, `${name}-${round}`, 30);
      if ((await store.get(own)) !== `${name}-${round}`) errors.push(`round ${round}: read another value`);
      await store.deleteIfEquals?.(own, `${name}-${round}`);
    } catch (error) {
      errors.push(`round ${round}: ${String(error)}`);
    }
  }
  say({ won, errors, lockedSeen });
}
kv.close();
