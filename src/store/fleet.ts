/**
 * The fleet protocol, whole: how processes sharing a {@link TokenStore} get one token per rotation between them.
 *
 * 1. **Read**: a token another process shared, if the round takes it.
 * 2. **Lock**: the fleet lock of the round's first secret. Held by another process: while the cached token is still
 *    served, the round defers (no wait at all); else it **waits for the holder**, polling for its token, its
 *    failure note (only the note of the owner it saw holding the lock), or the lock coming free.
 * 3. **Double-check** after winning the lock: the holder before may have shared a token, or left a note asking
 *    for a pause (Retry-After), between the read and the lock.
 * 4. **Fetch** under the lock, then **publish** the token, or leave a **failure note** so that waiters stop waiting.
 * 5. The lock goes when the token's write has landed (so waiters find the token rather than the free lock), or at
 *    once when the round is detached (`clearToken()`, `destroy()`): one place, in the scope that took it.
 *
 * Every store call is bounded in time, and its failure is a miss reported through `onTokenStoreError`, never a
 * failed round.
 */
import { MAX_RETRY_AFTER_MS } from '../core/schedule.js';
import { isRejectedCredential, restated, type WristbandM2MError, type WristbandM2MErrorCode } from '../errors.js';
import { callHook, type TokenStoreErrorEvent } from '../hooks.js';
import type { Latch } from '../latch.js';
import { type IssuedToken, parseJsonObject, type SharedToken } from '../token.js';
import { pause, within } from '../timers.js';
import { secretRecords, type SecretRecords, storeError, tokenStoreKeyPrefix } from './codec.js';
import type { TokenStore, TokenStoreOperation } from './types.js';

/** How often a process waiting on another's lock looks at the store again. */
export const LOCK_POLL_MS = 100;
/** A record sent later than this ahead of the local clock is not used: its writer's clock, or the record, is wrong. */
export const MAX_CLOCK_SKEW_MS = 60_000;
/**
 * Store calls one {@link Fleet.obtain} makes one after another at most: the read, the acquire, the read of who holds
 * the lock; the last poll's reads (token, holder and note together) and acquire; the double-check's reads
 * (together); then the write of the token, or the reads before a failure note (holder and note together) and its
 * write.
 */
const SEQUENTIAL_STORE_CALLS = 8;
/** Secrets whose derived keys are kept; a provider rotating secrets never grows this past a few. */
const MAX_KNOWN_SECRETS = 8;
/** Retired tokens remembered, so that none of them is taken back from the store. */
const MAX_RETIRED = 16;

/** The longest {@link Fleet.obtain} spends on the store, its own fetch aside. */
export function longestFleetMs(storeTimeoutMs: number, lockWaitMs: number): number {
  return SEQUENTIAL_STORE_CALLS * storeTimeoutMs + lockWaitMs + LOCK_POLL_MS;
}

/** What the fleet needs of the client's settings. */
export interface FleetSettings {
  tokenEndpoint: string;
  clientId: string;
  tokenStoreEncryption: boolean;
  tokenStoreTimeoutMs: number;
  tokenStoreLockWaitMs: number;
  onTokenStoreError: ((event: TokenStoreErrorEvent) => void) | undefined;
}

/** A token read from the store, with the position (in the round's list) of the secret whose key opened it. */
export interface StoredToken extends SharedToken {
  secretIndex: number;
}

/** One round's business with the fleet. */
export interface FleetRequest {
  /** The round's secrets, as configured (or as the provider returned them). */
  secrets: readonly string[];
  /** The position in `secrets` of the one the round tries first: its lock is taken. */
  lockIndex: number;
  /** Whether to read the store before locking: a background refresh goes to Wristband by design. */
  readFirst: boolean;
  /** Whether the round takes a token another process shared. */
  accepts(token: StoredToken): boolean;
  /** Whether the cached token is still served, so that nobody needs to wait for another process's round. */
  mayDefer(): boolean;
  /** How long the lock lives: longer than the round that holds it can run. */
  lockTtlSeconds: number;
  /** Asks the token endpoint; rejects with the round's failure. `secretIndex` is a position in `secrets`. */
  fetch(): Promise<IssuedToken>;
}

export type FleetOutcome =
  | { type: 'stored'; token: StoredToken }
  | { type: 'fetched'; token: IssuedToken; written: Promise<void> }
  | { type: 'deferred' };

export interface Fleet {
  /**
   * Gets a token through the fleet, as the protocol above says. Rejects with the round's failure, or with another
   * holder's (from its note). `detached` fires when the round may no longer share what it gets: its lock goes
   * then, and it publishes nothing. `signal` aborts it.
   */
  obtain(request: FleetRequest, signal: AbortSignal, detached: Latch): Promise<FleetOutcome>;
  /**
   * Deletes every shared record holding `accessToken` and never reads it back, including a record whose write is
   * still on its way. Does not wait for the store.
   */
  retire(accessToken: string): void;
}

/** A lock this process holds: released by deleting only its own owner value. */
interface HeldLock {
  owner: string;
  release(): void;
}

/** The store has no lock: go ahead, alone or not. */
const NO_LOCK = 'none';
/** What a store call's timer rejects with, told apart from the store's own failures. */
const TIMED_OUT = Symbol();
const RESOLVED = Promise.resolve();
const MISS = '; treated as a cache miss';

/** Error codes a holder's failure note may carry: failures of the token endpoint itself. */
const SHAREABLE_FAILURES: readonly WristbandM2MErrorCode[] = [
  'TOKEN_ENDPOINT_HTTP_ERROR',
  'TOKEN_ENDPOINT_UNREACHABLE',
  'TOKEN_REQUEST_TIMEOUT',
  'INVALID_TOKEN_RESPONSE',
];

export function createFleet(store: TokenStore, settings: FleetSettings): Fleet {
  const prefix = tokenStoreKeyPrefix(settings.tokenEndpoint, settings.clientId);
  const timeoutMs = settings.tokenStoreTimeoutMs;
  const known = new Map<string, Promise<SecretRecords>>();
  const retired: string[] = [];

  /** Reports a store problem; the client carries on as if the store had nothing. */
  const report = (operation: TokenStoreOperation, problem: string, cause?: unknown): void =>
    callHook(settings.onTokenStoreError, { operation, error: storeError(operation, problem, cause) });

  /**
   * Runs one store call, the only way this module reaches the store: bounded in time, and any failure (a throw, a
   * rejection, a timeout) reported and turned into `fallback`.
   */
  function call<T, F>(operation: TokenStoreOperation, start: () => Promise<T>, fallback: F): Promise<T | F> {
    return within(start, timeoutMs, () => TIMED_OUT).catch((error: unknown) => {
      if (error === TIMED_OUT) report(operation, `took longer than ${timeoutMs} ms${MISS}`);
      else report(operation, `failed${MISS}`, error);
      return fallback;
    });
  }

  /** The value under `key` if it is a string; anything else but null/undefined is reported as a miss. */
  async function get(key: string): Promise<string | undefined> {
    const value: unknown = await call('get', () => store.get(key), undefined);
    if (typeof value === 'string' || value == null) return value ?? undefined;
    report('get', `returned ${typeof value}, not the string that was stored${MISS}`);
    return undefined;
  }

  /**
   * A secret's record key and codec, derived once (WebCrypto) and kept for the next rounds, the most recently used
   * last: retire() looks only at the secrets kept, so the one whose record was just shared must stay among them.
   */
  function recordsOf(secret: string, derived = known.get(secret)): Promise<SecretRecords> {
    const records = derived ?? secretRecords(secret, prefix, settings.tokenStoreEncryption);
    known.delete(secret);
    known.set(secret, records);
    if (known.size > MAX_KNOWN_SECRETS) known.delete(known.keys().next().value as string);
    return records;
  }

  /**
   * The record under `records`' key with its raw value, or `undefined` (reported when unreadable). `asIs` keeps a
   * retired token and one dated in the future, to delete it: after this machine's clock stepped back, its own
   * records look dated in the future, and they must still go when retired.
   */
  async function readRecord(
    records: SecretRecords,
    asIs: boolean,
  ): Promise<(SharedToken & { value: string }) | undefined> {
    const value = await get(records.key);
    if (value === undefined) return undefined;
    const token = await records.open(value);
    if (token === undefined) {
      report('get', `returned a record this client cannot read (not written by this library, or damaged)${MISS}`);
    } else if (!asIs && token.sentAt > Date.now() + MAX_CLOCK_SKEW_MS) {
      report('get', `returned a record dated in the future (a clock more than 60 s ahead)${MISS}`);
    } else if (asIs || !retired.includes(token.accessToken)) {
      return { ...token, value };
    }
    return undefined;
  }

  /** The newest usable record under the keys of the round's secrets (`all`, in the round's order). */
  async function read(all: readonly SecretRecords[]): Promise<StoredToken | undefined> {
    const found = await Promise.all(all.map((records) => readRecord(records, false)));
    let newest: StoredToken | undefined;
    for (const [secretIndex, record] of found.entries()) {
      if (record !== undefined && (newest === undefined || record.sentAt > newest.sentAt)) {
        const { accessToken, sentAt, expiresInSeconds } = record;
        newest = { accessToken, sentAt, expiresInSeconds, secretIndex };
      }
    }
    return newest;
  }

  /** Deletes `key` while it holds `value`: atomically where the store can, else a read then a delete. */
  async function deleteIfHolds(key: string, value: string): Promise<void> {
    if (store.deleteIfEquals !== undefined) {
      await call('deleteIfEquals', async () => store.deleteIfEquals?.(key, value), undefined);
    } else if ((await get(key)) === value) {
      await call('delete', () => store.delete(key), undefined);
    }
  }

  /** Tries to take a lock: the lock, `'held'` by another process, or {@link NO_LOCK} (none in this store). */
  async function tryLock(records: SecretRecords, ttlSeconds: number): Promise<HeldLock | 'held' | typeof NO_LOCK> {
    if (store.acquire === undefined) return NO_LOCK;
    const key = lockKey(records);
    let owner: string;
    try {
      owner = crypto.randomUUID();
    } catch (error) {
      // A runtime with WebCrypto's subtle but no randomUUID (Safari before 15.4): no lock, but a token all the same.
      report('acquire', 'could not run: crypto.randomUUID() is missing; no lock taken', error);
      return NO_LOCK;
    }
    let landed: Promise<unknown> = RESOLVED;
    // A store that cannot answer counts as a lock won: better a request too many than no token.
    const won: unknown = await call(
      'acquire',
      () => (landed = Promise.resolve(store.acquire?.(key, ttlSeconds, owner))),
      true,
    );
    if (won === false) return 'held';
    if (won !== true) report('acquire', `returned ${typeof won}, not a boolean; counted as a lock won`);
    let released = false;
    return {
      owner,
      release() {
        if (released) return;
        released = true;
        // After the acquire() itself: one that timed out may still land later and set the lock, and a delete sent
        // before it would leave that lock to block the fleet until its TTL.
        const free = (): Promise<void> => deleteIfHolds(key, owner);
        void landed.then(free, free);
      },
    };
  }

  /** The failure note left under `records`' lock, if any. */
  async function readNote(records: SecretRecords): Promise<FailureNote | undefined> {
    const value = await get(noteKey(records));
    return value === undefined ? undefined : parseNote(value);
  }

  /**
   * Notes `error` for the waiters of `owner`'s lock, unless that lock is no longer `owner`'s (it ran out, or the store
   * lost it: the waiters now wait on another holder) or a pause another holder noted is still running (the endpoint's
   * Retry-After stands for every process until it ends).
   */
  async function writeNote(records: SecretRecords, error: WristbandM2MError, owner: string): Promise<void> {
    const { code, message, status, error: oauthError, retryAfterMs } = error;
    if (!SHAREABLE_FAILURES.includes(code)) return;
    // The instant the pause ends, counted from the failure (not from this write, which slow store calls may delay),
    // so that a process reading the note later pauses only what is left; and its length, which bounds that when the
    // writer's clock runs ahead of the reader's.
    const retryUntil = retryAfterMs === undefined ? undefined : Date.now() + retryAfterMs;
    const [holder, current] = await Promise.all([get(lockKey(records)), readNote(records)]);
    if ((holder !== undefined && holder !== owner) || (current?.retryUntil ?? 0) > Date.now()) return;
    const note = { code, message: message.slice(0, 500), status, error: oauthError, retryAfterMs, retryUntil, owner };
    const ttlSeconds = Math.max(1, Math.ceil((retryAfterMs ?? 0) / 1000));
    await call('set', () => store.set(noteKey(records), JSON.stringify(note), ttlSeconds), undefined);
  }

  /**
   * Waits while another process holds the round's lock, until the lock wait runs out: resolves with the token it
   * shared, the lock once it is free (or {@link NO_LOCK} when the wait ran out: fetch anyway), or rejects with the
   * failure it noted, or with `signal.reason`.
   */
  async function awaitHolder(
    request: FleetRequest,
    all: readonly SecretRecords[],
    signal: AbortSignal,
  ): Promise<StoredToken | HeldLock | typeof NO_LOCK> {
    const records = all[request.lockIndex] as SecretRecords;
    // The note that ends this wait is the one of the owner seen holding the lock: a process whose lock expired
    // while its request ran may note its failure later, under a lock it no longer holds.
    let holder = await get(lockKey(records));
    const deadline = performance.now() + settings.tokenStoreLockWaitMs;
    for (let now = performance.now(); now < deadline; now = performance.now()) {
      await pause(Math.min(LOCK_POLL_MS, deadline - now), signal);
      const [token, current, note] = await Promise.all([read(all), get(lockKey(records)), readNote(records)]);
      if (token !== undefined && request.accepts(token)) return token;
      holder = current ?? holder;
      // A holder's rejected credential only says that the secret of its lock is rejected. A waiter holding other
      // secrets (a [new, old] process behind an [old] one, mid-rotation) tries them itself.
      const holderFailed = note?.owner !== undefined && note.owner === holder;
      if (holderFailed && !(all.length > 1 && isRejectedCredential(note))) throw asError(note);
      // Aborted (destroy(), a round given up) during those reads: take no lock for a round that is over.
      signal.throwIfAborted();
      const lock = await tryLock(records, request.lockTtlSeconds);
      if (lock !== 'held') return lock;
    }
    return NO_LOCK;
  }

  /** Shares `token` under `records`' key, until it expires; deleted once written if it was retired meanwhile. */
  async function publish(token: SharedToken, records: SecretRecords): Promise<void> {
    const ttlSeconds = Math.max(1, Math.ceil((token.sentAt + token.expiresInSeconds * 1000 - Date.now()) / 1000));
    await call(
      'set',
      async () => {
        const value = await records.seal(token);
        const written = store.set(records.key, value, ttlSeconds);
        // A token retired while its write was on the way is deleted once the write lands, however late.
        void Promise.resolve(written)
          .then(() => (retired.includes(token.accessToken) ? deleteIfHolds(records.key, value) : undefined))
          .catch(noop);
        return written;
      },
      undefined,
    );
  }

  async function obtain(request: FleetRequest, signal: AbortSignal, detached: Latch): Promise<FleetOutcome> {
    let all: SecretRecords[];
    try {
      all = await Promise.all(request.secrets.map((secret) => recordsOf(secret)));
    } catch (error) {
      // No record key without WebCrypto: no store for this round, and no failure either.
      report('get', `could not derive its record keys (is WebCrypto available?)${MISS}`, error);
      return { type: 'fetched', token: await request.fetch(), written: RESOLVED };
    }
    const records = all[request.lockIndex] as SecretRecords;
    const stored = (token: StoredToken): FleetOutcome => ({ type: 'stored', token });
    const check = (): void => signal.throwIfAborted();
    if (request.readFirst) {
      const found = await read(all);
      check();
      if (found !== undefined && request.accepts(found)) return stored(found);
    }
    const first = await tryLock(records, request.lockTtlSeconds);
    // Another process is refreshing: a usable token keeps being served meanwhile, with no wait at all.
    if (first === 'held' && request.mayDefer()) return { type: 'deferred' };
    const taken = first === 'held' ? await awaitHolder(request, all, signal) : first;
    if (!(taken === NO_LOCK || 'release' in taken)) return stored(taken);
    const lock = taken === NO_LOCK ? undefined : taken;
    // From here this scope holds the lock. It goes once the token's write has landed (its `finally`), at once when
    // the round is detached (it will share nothing, so nobody should wait for it), whichever comes first.
    const release = (): void => lock?.release();
    detached.then(release);
    let written = RESOLVED;
    try {
      check();
      if (lock !== undefined && request.readFirst) {
        // Double-checked: the holder before may have shared its token, or noted a pause the endpoint asked for,
        // between the read above and the lock. A note without Retry-After does not stop a lock winner.
        const [found, note] = await Promise.all([read(all), readNote(records)]);
        check();
        if (found !== undefined && request.accepts(found)) return stored(found);
        if (note !== undefined && (asError(note).retryAfterMs ?? 0) > 0) throw asError(note);
      }
      let token: IssuedToken;
      try {
        token = await request.fetch();
      } catch (failure) {
        // Only while the lock is still ours and the round current: a note under a lock let go would end the wait
        // of processes waiting on its next holder. Written before the round fails, so that the lock goes (and
        // destroy() finds nothing left to do) once the note is there for the next holder.
        if (lock !== undefined && !signal.aborted && !detached.fired) {
          const failedAt = performance.now();
          await writeNote(records, failure as WristbandM2MError, lock.owner);
          throw pauseLeft(failure as WristbandM2MError, performance.now() - failedAt);
        }
        throw failure;
      }
      if (!detached.fired) {
        const { accessToken, sentAt, expiresInSeconds } = token;
        const shared = all[token.secretIndex] as SecretRecords;
        void recordsOf(request.secrets[token.secretIndex] as string, Promise.resolve(shared));
        written = publish({ accessToken, sentAt, expiresInSeconds }, shared);
      }
      return { type: 'fetched', token, written };
    } finally {
      void written.then(release);
    }
  }

  return {
    obtain,
    retire(accessToken) {
      if (!retired.includes(accessToken)) retired.push(accessToken);
      if (retired.length > MAX_RETIRED) retired.shift();
      for (const derived of known.values()) {
        void derived
          .then(async (records) => {
            const found = await readRecord(records, true);
            if (found?.accessToken === accessToken) await deleteIfHolds(records.key, found.value);
          })
          .catch(noop);
      }
    },
  };
}

const lockKey = (records: SecretRecords): string => `${records.key}:lock`;
const noteKey = (records: SecretRecords): string => `${records.key}:failed`;
const noop = (): void => undefined;

/** A failure note as a holder wrote it: its error's fields, the instant its pause ends, and the lock's owner. */
interface FailureNote {
  code: WristbandM2MErrorCode;
  message: string;
  status: number | undefined;
  error: string | undefined;
  /** Wall time (ms since the epoch) until which the endpoint asked for a pause, by the writer's clock. */
  retryUntil: number | undefined;
  /** The pause's length as the endpoint gave it: a reader never pauses longer. */
  retryAfterMs: number | undefined;
  owner: string | undefined;
}

/** A note as another process wrote it; fields of the wrong type are dropped, an unknown code voids it. */
function parseNote(value: string): FailureNote | undefined {
  const { code, message, status, error, retryUntil, retryAfterMs, owner } = parseJsonObject(value) ?? {};
  if (!SHAREABLE_FAILURES.includes(code as WristbandM2MErrorCode) || typeof message !== 'string') return undefined;
  return {
    code: code as WristbandM2MErrorCode,
    message,
    status: typeof status === 'number' ? status : undefined,
    error: typeof error === 'string' ? error : undefined,
    retryUntil: typeof retryUntil === 'number' && Number.isFinite(retryUntil) ? retryUntil : undefined,
    retryAfterMs: typeof retryAfterMs === 'number' && retryAfterMs >= 0 ? retryAfterMs : undefined,
    owner: typeof owner === 'string' ? owner : undefined,
  };
}

/**
 * `error` with `elapsedMs` taken off its pause: a Retry-After counts from the endpoint's answer, not from the end of
 * the store calls that followed it.
 */
function pauseLeft(error: WristbandM2MError, elapsedMs: number): WristbandM2MError {
  const ms = error.retryAfterMs;
  return ms === undefined || elapsedMs <= 0
    ? error
    : restated(error, error.message, { retryAfterMs: Math.max(0, ms - elapsedMs) });
}

/** The note as the error its holder reported, with what is left of its pause. */
function asError(note: FailureNote): WristbandM2MError {
  // What is left of the pause, never more than its length (a writer's clock running ahead) nor the Retry-After cap.
  const leftMs =
    note.retryUntil === undefined
      ? 0
      : Math.min(note.retryUntil - Date.now(), note.retryAfterMs ?? MAX_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS);
  return restated(
    { ...note, error: note.error },
    `${note.message} (reported through the token store by the process holding its lock)`,
    { retryAfterMs: leftMs > 0 ? leftMs : undefined },
  );
}
