// Test doubles for fleet tests: a token store whose calls take scripted time, fail or hang (driven by fake timers),
// and a token endpoint whose answers are scripted. The store keeps its own clock (`performance.now()`), as Redis
// does: a wall clock stepped on the client machine does not move the store's TTLs.
import nodeCrypto from 'node:crypto';
import { afterEach, beforeEach, vi } from 'vitest';
import { FAKED } from './clocks.js';
import { createWristbandM2MClient, type TokenStore, type WristbandM2MClientConfig } from '../../src/index.js';
import { secretRecords, tokenStoreKeyPrefix } from '../../src/store/codec.js';

export type StoreOp = 'get' | 'set' | 'delete' | 'deleteIfEquals' | 'acquire';
/** How one store call behaves: lands at once, after `delayMs`, fails after `delayMs`, never settles, or waits for `release()`. */
export type StoreBehaviour =
  | { kind: 'now' }
  | { kind: 'delay'; ms: number }
  | { kind: 'fail'; ms: number }
  | { kind: 'hang' }
  | { kind: 'hold' };

export interface StoreCall {
  op: StoreOp;
  key: string;
  /** The value written or compared (set, deleteIfEquals, acquire's owner). */
  value: string | undefined;
  behaviour: StoreBehaviour;
  /** Set when the call's effect landed (or it failed). */
  done: boolean;
  /** For a held call: lands it now. */
  release(): void;
}

export interface ScriptedStore extends TokenStore {
  /** Decides how each call behaves; `now` by default. */
  script: (op: StoreOp, key: string) => StoreBehaviour;
  calls: StoreCall[];
  /** Calls waiting for `release()`. */
  held(op?: StoreOp): StoreCall[];
  /** Live keys ending in `:lock`, with their owners. */
  locks(): Map<string, string>;
  /** Live keys and values. */
  entries(): Map<string, string>;
  /** Removes a key, as its TTL running out would. */
  drop(key: string): void;
  /** Sets a raw value (as another process would). */
  put(key: string, value: string, ttlSeconds: number): void;
  /** Calls whose effect has not landed yet (held, delayed or hanging). */
  inFlight(): number;
}

export function scriptedStore(options: { atomic?: boolean; lock?: boolean } = {}): ScriptedStore {
  const data = new Map<string, { value: string; expiresAt: number }>();
  const live = (key: string): string | undefined => {
    const entry = data.get(key);
    if (entry === undefined) return undefined;
    if (performance.now() < entry.expiresAt) return entry.value;
    data.delete(key);
    return undefined;
  };
  const put = (key: string, value: string, ttlSeconds: number): void =>
    void data.set(key, { value, expiresAt: performance.now() + ttlSeconds * 1000 });

  const calls: StoreCall[] = [];
  function run<T>(op: StoreOp, key: string, effect: () => T, value?: string): Promise<T> {
    const behaviour = store.script(op, key);
    return new Promise<T>((resolve, reject) => {
      const call: StoreCall = { op, key, value, behaviour, done: false, release: () => land() };
      calls.push(call);
      const land = (): void => {
        if (call.done) return;
        call.done = true;
        try {
          resolve(effect());
        } catch (error) {
          reject(error);
        }
      };
      switch (behaviour.kind) {
        case 'now':
          land();
          break;
        case 'delay':
          setTimeout(land, behaviour.ms);
          break;
        case 'fail':
          setTimeout(() => {
            call.done = true;
            reject(new Error(`scripted ${op} failure`));
          }, behaviour.ms);
          break;
        case 'hang':
          break;
        case 'hold':
          break;
      }
    });
  }

  const store: ScriptedStore = {
    script: () => ({ kind: 'now' }),
    calls,
    held: (op) => calls.filter((c) => !c.done && (op === undefined || c.op === op)),
    locks: () =>
      new Map(
        [...data.keys()].filter((k) => k.endsWith(':lock') && live(k) !== undefined).map((k) => [k, live(k) as string]),
      ),
    entries: () => new Map([...data.keys()].filter((k) => live(k) !== undefined).map((k) => [k, live(k) as string])),
    put,
    drop: (key) => void data.delete(key),
    inFlight: () => calls.filter((c) => !c.done).length,
    get: (key) => run('get', key, () => live(key)),
    set: (key, value, ttl) => run('set', key, () => put(key, value, ttl), value),
    delete: (key) => run('delete', key, () => void data.delete(key)),
  };
  if (options.atomic !== false) {
    store.deleteIfEquals = (key, value) =>
      run(
        'deleteIfEquals',
        key,
        () => {
          if (live(key) === value) data.delete(key);
        },
        value,
      );
  }
  if (options.lock !== false) {
    store.acquire = (key, ttl, owner) =>
      run(
        'acquire',
        key,
        () => {
          if (live(key) !== undefined) return false;
          put(key, owner ?? 'unknown-owner', ttl);
          return true;
        },
        owner,
      );
  }
  return store;
}

export type Answer =
  | { kind: 'token'; token?: string; lifetimeS?: number; delayMs?: number }
  | { kind: 'error'; status: number; error?: string; retryAfter?: string; delayMs?: number }
  | { kind: 'network'; delayMs?: number }
  | { kind: 'hold' };

export interface SentRequest {
  n: number;
  at: number;
  settled: boolean;
  answer(answer: Answer): void;
}

/** A token endpoint as a `fetch`: `answer(n)` scripts the n-th request (1-based); tokens are `tok-<n>` by default. */
export function fakeEndpoint(answer: (n: number) => Answer = () => ({ kind: 'token' })) {
  const sent: SentRequest[] = [];
  const fetch = (_input: unknown, init?: RequestInit): Promise<Response> =>
    new Promise((resolve, reject) => {
      const n = sent.length + 1;
      const request: SentRequest = {
        n,
        at: performance.now(),
        settled: false,
        answer(a) {
          if (request.settled) return;
          const deliver = (): void => {
            if (request.settled) return;
            request.settled = true;
            if (a.kind === 'token') {
              resolve(
                Response.json({
                  access_token: a.token ?? `tok-${n}`,
                  token_type: 'Bearer',
                  expires_in: a.lifetimeS ?? 3600,
                }),
              );
            } else if (a.kind === 'error') {
              const headers = a.retryAfter === undefined ? undefined : { 'retry-after': a.retryAfter };
              resolve(Response.json({ error: a.error ?? 'server_error' }, { status: a.status, headers }));
            } else if (a.kind === 'network') {
              reject(new TypeError('fetch failed'));
            }
          };
          if (a.kind === 'hold') return;
          const delay = a.delayMs ?? 0;
          if (delay > 0) setTimeout(deliver, delay);
          else deliver();
        },
      };
      sent.push(request);
      init?.signal?.addEventListener('abort', () => {
        if (request.settled) return;
        request.settled = true;
        reject(init.signal?.reason);
      });
      request.answer(answer(n));
    });
  return { fetch, sent };
}

/** Settles a promise into a record that tests can look at while it is pending. */
export function track<T>(promise: Promise<T>) {
  const result: { settled: boolean; value?: T; error?: unknown; at?: number } = { settled: false };
  promise.then(
    (value) => Object.assign(result, { settled: true, value, at: performance.now() }),
    (error: unknown) => Object.assign(result, { settled: true, error, at: performance.now() }),
  );
  return result;
}

/** Advances fake time in `stepMs` steps until `done()` or `maxMs`; returns the time advanced. */
export async function advanceUntil(done: () => boolean, maxMs = 60_000, stepMs = 10): Promise<number> {
  let elapsed = 0;
  await vi.advanceTimersByTimeAsync(0);
  while (!done() && elapsed < maxMs) {
    await vi.advanceTimersByTimeAsync(stepMs);
    elapsed += stepMs;
  }
  return elapsed;
}

export const flush = async (): Promise<void> => void (await vi.advanceTimersByTimeAsync(0));

/**
 * WebCrypto answers through the real event loop (a thread pool), which fake timers do not drive: a round would
 * pause on a key derivation for a real-time while, and a fake-timer test would not be deterministic. This swaps the
 * `crypto.subtle` calls the store codec makes for node:crypto's synchronous equivalents, answered as
 * microtasks: same bytes, same records, deterministic timing. Returns the function that restores them.
 */
export function synchronousWebCrypto(): () => void {
  const subtle = crypto.subtle as unknown as Record<string, unknown>;
  const saved = {
    importKey: subtle.importKey,
    deriveBits: subtle.deriveBits,
    deriveKey: subtle.deriveKey,
    encrypt: subtle.encrypt,
    decrypt: subtle.decrypt,
  };
  type Raw = { raw: Buffer };
  const bytes = (data: BufferSource): Buffer =>
    ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data as ArrayBuffer);
  subtle.importKey = async (_format: string, data: BufferSource) =>
    ({ raw: Buffer.from(bytes(data)) }) as unknown as CryptoKey;
  subtle.deriveBits = async (params: { salt: BufferSource; info: BufferSource }, key: Raw, length: number) =>
    nodeCrypto.hkdfSync('sha256', key.raw, bytes(params.salt), bytes(params.info), length / 8);
  // deriveKey: what the codec of 0.1 used (kept, so these tests also run against the old code).
  subtle.deriveKey = async (
    params: { salt: BufferSource; info: BufferSource },
    key: Raw,
    derived: { length: number },
  ) => ({
    raw: Buffer.from(
      nodeCrypto.hkdfSync('sha256', key.raw, bytes(params.salt), bytes(params.info), derived.length / 8),
    ),
  });
  subtle.encrypt = async (params: { iv: BufferSource; additionalData: BufferSource }, key: Raw, data: BufferSource) => {
    const cipher = nodeCrypto.createCipheriv('aes-256-gcm', key.raw, bytes(params.iv));
    cipher.setAAD(bytes(params.additionalData));
    const out = Buffer.concat([cipher.update(bytes(data)), cipher.final(), cipher.getAuthTag()]);
    return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength);
  };
  subtle.decrypt = async (params: { iv: BufferSource; additionalData: BufferSource }, key: Raw, data: BufferSource) => {
    const all = bytes(data);
    const decipher = nodeCrypto.createDecipheriv('aes-256-gcm', key.raw, bytes(params.iv));
    decipher.setAAD(bytes(params.additionalData));
    decipher.setAuthTag(all.subarray(all.length - 16));
    const out = Buffer.concat([decipher.update(all.subarray(0, all.length - 16)), decipher.final()]);
    return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength);
  };
  return () => Object.assign(subtle, saved);
}

/** `answer`, given after `ms` of the endpoint's own time. */
export const after = (ms: number, answer: Answer): Answer => ({ ...answer, delayMs: ms }) as Answer;

/** A seeded generator (mulberry32), standing in for Math.random so that a failing run replays exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A fleet harness's clients: each is destroyed after its test. */
export interface FleetHarness {
  destroyAfterEach(client: { destroy(): void }): void;
  /** A client of one fleet (the same id and secret) on `endpoint` and `store`, with `overrides`. */
  fleetClient(
    endpoint: { fetch: WristbandM2MClientConfig['fetch'] },
    store: TokenStore,
    overrides?: Partial<WristbandM2MClientConfig>,
  ): ReturnType<typeof createWristbandM2MClient>;
}

/**
 * For each test of the calling file: synchronous WebCrypto and fake timers and clocks, and afterwards every client
 * it made (or was given) destroyed and every timer cleared.
 */
export function useFleetHarness(): FleetHarness {
  const clients: { destroy(): void }[] = [];
  let restoreCrypto: () => void = () => undefined;
  beforeEach(() => {
    restoreCrypto = synchronousWebCrypto();
    vi.useFakeTimers({ toFake: [...FAKED] });
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.destroy();
    vi.clearAllTimers();
    vi.useRealTimers();
    restoreCrypto();
  });
  const destroyAfterEach = (client: { destroy(): void }): void => void clients.push(client);
  return {
    destroyAfterEach,
    fleetClient(endpoint, store, overrides = {}) {
      const client = createWristbandM2MClient({
        clientId: 'fleet',
        clientSecret: 'fleet-secret',
        wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
        fetch: endpoint.fetch,
        tokenStore: store,
        ...overrides,
      });
      destroyAfterEach(client);
      return client;
    },
  };
}

/** The store key under which a client of `server` (the demo token server) keeps its encrypted token record. */
export async function recordKeyFor(server: {
  clientId: string;
  clientSecret: string;
  tokenEndpoint: string;
}): Promise<string> {
  const prefix = tokenStoreKeyPrefix(server.tokenEndpoint, server.clientId);
  return (await secretRecords(server.clientSecret, prefix, true)).key;
}
