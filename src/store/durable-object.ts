/**
 * `@wristband/typescript-m2m-auth/durable-object`: a {@link TokenStore} on Cloudflare Durable Objects, with the
 * fleet's lock. Export {@link WristbandTokenStoreObject} from your Worker, bind it as a Durable Object namespace, and
 * pass the binding to {@link createDurableObjectTokenStore}. Each key lives in its own object, and an object runs
 * one call at a time: a compare-and-set there is atomic, across every isolate and location of the Worker.
 *
 * See https://developers.cloudflare.com/durable-objects/ (and, for why a read then a write is atomic, "input gates"
 * in https://blog.cloudflare.com/durable-objects-easy-fast-correct-choose-three/).
 * @module @wristband/typescript-m2m-auth/durable-object
 */
import type { TokenStore } from './types.js';

export type { TokenStore } from './types.js';

/** What is used of a Durable Object's `ctx.storage` (`DurableObjectStorage`). */
export interface DurableObjectStorageLike {
  get(key: string): Promise<unknown>;
  put(key: string, value: unknown): Promise<unknown>;
  delete(key: string): Promise<unknown>;
  list(): Promise<Map<string, unknown>>;
  getAlarm(): Promise<number | null>;
  setAlarm(scheduledTime: number): Promise<unknown>;
}

/** What is used of a Durable Object's state (`DurableObjectState`, `this.ctx` in a class extending `DurableObject`). */
export interface DurableObjectStateLike {
  readonly storage: DurableObjectStorageLike;
}

/** What is used of a Durable Object namespace binding (`DurableObjectNamespace`). */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: never): { fetch(input: string, init: RequestInit): Promise<Response> };
}

/** The operations a {@link WristbandTokenStoreObject} answers, one JSON request each. */
type Operation =
  | { op: 'get'; key: string }
  | { op: 'set'; key: string; value: string; ttlSeconds: number }
  | { op: 'delete'; key: string }
  | { op: 'deleteIfEquals'; key: string; value: string }
  | { op: 'acquire'; key: string; value: string; ttlSeconds: number };

/** What the object answers: the operation it ran, and its result. */
interface Answer {
  op: Operation['op'];
  value?: string | null;
  won?: boolean;
}

/** What the object keeps under each key: the value and the instant (ms since the epoch, its own clock) it expires. */
interface Entry {
  value: string;
  expiresAt: number;
}

/** The URL the store calls its objects at: any absolute URL does, as a stub's fetch never leaves Cloudflare. */
const OBJECT_URL = 'https://wristband-token-store.invalid/';

/**
 * The Durable Object that holds shared tokens, locks and failure notes. Export it from your Worker's main module
 * (`export { WristbandTokenStoreObject } from '@wristband/typescript-m2m-auth/durable-object';`) and declare it in
 * your Wrangler configuration, SQLite-backed:
 *
 * ```jsonc
 * "durable_objects": { "bindings": [{ "name": "TOKEN_STORE", "class_name": "WristbandTokenStoreObject" }] },
 * "migrations": [{ "tag": "v1", "new_sqlite_classes": ["WristbandTokenStoreObject"] }]
 * ```
 *
 * Every call is answered from the object's storage with nothing but storage calls awaited between a read and its
 * write, so each one is atomic (the object's input gate admits no other call meanwhile). Each entry keeps its own
 * expiry, checked on every read; an alarm deletes expired entries, so an idle object holds nothing.
 */
export class WristbandTokenStoreObject {
  readonly #storage: DurableObjectStorageLike;

  /** Called by the Workers runtime with the object's state; the environment is not used. */
  constructor(state: DurableObjectStateLike, _env?: unknown) {
    this.#storage = state.storage;
  }

  /** Answers one store call from {@link createDurableObjectTokenStore}: a POST with a JSON body. */
  async fetch(request: Request): Promise<Response> {
    let operation: Operation | undefined;
    if (request.method === 'POST') {
      try {
        operation = asOperation(await request.json());
      } catch {
        operation = undefined;
      }
    }
    if (operation === undefined) {
      return Response.json({ error: 'Not a token store call.' }, { status: 400 });
    }
    // From here until the answer, only storage calls are awaited: the input gate keeps other calls out.
    return Response.json(await this.#run(operation));
  }

  /** Deletes the entries that have expired, and sets the alarm again for the next one to expire. */
  async alarm(): Promise<void> {
    const now = Date.now();
    let next: number | undefined;
    for (const [key, stored] of await this.#storage.list()) {
      const entry = asEntry(stored);
      if (entry === undefined || entry.expiresAt <= now) await this.#storage.delete(key);
      else if (next === undefined || entry.expiresAt < next) next = entry.expiresAt;
    }
    if (next !== undefined) await this.#storage.setAlarm(next);
  }

  /** Runs one call; the answer names its operation, so that the store knows it reached this class. */
  async #run(operation: Operation): Promise<Answer> {
    const { op, key } = operation;
    switch (operation.op) {
      case 'get':
        return { op, value: (await this.#live(key))?.value ?? null };
      case 'set':
        await this.#put(key, operation.value, operation.ttlSeconds);
        return { op };
      case 'delete':
        await this.#storage.delete(key);
        return { op };
      case 'deleteIfEquals':
        // An expired entry holding the value goes too: nobody can read it any more.
        if (asEntry(await this.#storage.get(key))?.value === operation.value) await this.#storage.delete(key);
        return { op };
      case 'acquire':
        if ((await this.#live(key)) !== undefined) return { op, won: false };
        await this.#put(key, operation.value, operation.ttlSeconds);
        return { op, won: true };
    }
  }

  async #live(key: string): Promise<Entry | undefined> {
    const entry = asEntry(await this.#storage.get(key));
    return entry !== undefined && Date.now() < entry.expiresAt ? entry : undefined;
  }

  async #put(key: string, value: string, ttlSeconds: number): Promise<void> {
    const expiresAt = Date.now() + ttlSeconds * 1000;
    await this.#storage.put(key, { value, expiresAt } satisfies Entry);
    const alarm = await this.#storage.getAlarm();
    if (alarm === null || expiresAt < alarm) await this.#storage.setAlarm(expiresAt);
  }
}

/**
 * A {@link TokenStore} on a namespace bound to {@link WristbandTokenStoreObject}: `get`, `set`, `delete`,
 * `deleteIfEquals` and `acquire`, each one call to the object named after the key
 * (`namespace.idFromName(key)`), so the fleet has its lock. Pass the binding itself, as in
 * `createDurableObjectTokenStore(env.TOKEN_STORE)`.
 */
export function createDurableObjectTokenStore(namespace: DurableObjectNamespaceLike): TokenStore {
  // A binding misnamed in the Wrangler config is undefined here: say so once, not on every call.
  if (typeof namespace?.get !== 'function' || typeof namespace?.idFromName !== 'function') {
    throw new TypeError(
      'createDurableObjectTokenStore() needs a Durable Object namespace binding (such as env.TOKEN_STORE): check its name in your Wrangler config.',
    );
  }
  async function call(operation: Operation): Promise<{ value?: unknown; won?: unknown }> {
    const stub = namespace.get(namespace.idFromName(operation.key) as never);
    const response = await stub.fetch(OBJECT_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(operation),
    });
    if (!response.ok) {
      // The object's own error text names the problem; it never holds a value.
      const detail = (await response.text()).slice(0, 200);
      throw new Error(`The token store object answered HTTP ${response.status} to ${operation.op}: ${detail}`);
    }
    const body: unknown = await response.json();
    // A namespace bound to another class would answer anything: every read a miss, every write lost, unnoticed.
    if ((body as { op?: unknown } | null)?.op !== operation.op) {
      throw new TypeError(
        `The token store object's answer to ${operation.op} is not a WristbandTokenStoreObject's: is the namespace bound to that class?`,
      );
    }
    return body as { value?: unknown; won?: unknown };
  }
  return {
    // A value that is no string is passed on as it is: the client reports it and reads past it.
    get: async (key) => (await call({ op: 'get', key })).value as string | null,
    set: (key, value, ttlSeconds) => call({ op: 'set', key, value, ttlSeconds }),
    delete: (key) => call({ op: 'delete', key }),
    deleteIfEquals: (key, value) => call({ op: 'deleteIfEquals', key, value }),
    acquire: async (key, ttlSeconds, owner) =>
      (await call({ op: 'acquire', key, value: owner, ttlSeconds })).won as boolean,
  };
}

function asOperation(body: unknown): Operation | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { op, key, value, ttlSeconds } = body as Record<string, unknown>;
  if (typeof key !== 'string') return undefined;
  const ttl = typeof ttlSeconds === 'number' && Number.isFinite(ttlSeconds) && ttlSeconds > 0;
  if (op === 'get' || op === 'delete') return { op, key };
  if (op === 'deleteIfEquals' && typeof value === 'string') return { op, key, value };
  if ((op === 'set' || op === 'acquire') && typeof value === 'string' && ttl) {
    return { op, key, value, ttlSeconds: ttlSeconds as number };
  }
  return undefined;
}

function asEntry(stored: unknown): Entry | undefined {
  if (typeof stored !== 'object' || stored === null) return undefined;
  const { value, expiresAt } = stored as Record<string, unknown>;
  return typeof value === 'string' && typeof expiresAt === 'number' ? { value, expiresAt } : undefined;
}
