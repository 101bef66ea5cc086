/**
 * The client's one seam to a {@link TokenStore}: the second cache layer behind memory, the fleet-wide lock that lets
 * one process fetch while the others wait for the store to fill, and the note a failing holder leaves so that the
 * others stop waiting. Every store call is bounded in time, and its failure is a miss reported through
 * `onTokenStoreError`, never a failed `getToken()`.
 */
import type { ResolvedConfig } from '../config.js';
import { restated, type WristbandM2MError, type WristbandM2MErrorCode } from '../errors.js';
import { callHook } from '../hooks.js';
import { pause } from '../timers.js';
import { isRejectedCredential, parseJsonObject } from '../token-request.js';
import { boundedStoreCall, secretRecords, type SecretRecords, storeError, tokenStoreKeyPrefix } from './codec.js';
import type { SharedToken, TokenStore, TokenStoreOperation } from './types.js';

/** How often a process waiting on another's lock looks at the store again. */
export const LOCK_POLL_MS = 100;
/** A record sent later than this ahead of the local clock is not used: its writer's clock, or the record, is wrong. */
export const MAX_CLOCK_SKEW_MS = 60_000;
/** Secrets whose derived keys are kept; a provider rotating secrets never grows this past a few. */
const MAX_KNOWN_SECRETS = 8;
/** Retired tokens remembered, so that none of them is taken back from the store. */
const MAX_RETIRED = 16;

/** A token read from the store, with the position of the secret whose key opened it. */
export interface StoredToken extends SharedToken {
  secretIndex: number;
}

/** A lock this round holds; releasing it deletes only this round's own value. */
export interface HeldLock {
  release(): Promise<void>;
}

export interface SharedCache {
  /** The newest readable, unretired record under the keys of `secrets`. */
  read(secrets: readonly string[]): Promise<StoredToken | undefined>;
  /**
   * Tries to take the fleet lock of `secret`'s records: a lock, `undefined` when the store has no lock (go ahead),
   * or `'held'` when another round holds it.
   */
  lock(secret: string): Promise<HeldLock | undefined | 'held'>;
  /**
   * Waits while another round holds the lock, until `deadline` (`performance.now()`): resolves with a token it
   * shared that `accept` takes, the failure it reported, the lock once it is free, or `undefined` at the deadline.
   * Rejects with `signal.reason` when `signal` aborts.
   */
  awaitHolder(
    secrets: readonly string[],
    accept: (token: StoredToken) => boolean,
    deadline: number,
    signal: AbortSignal,
  ): Promise<StoredToken | WristbandM2MError | HeldLock | undefined>;
  /** Shares a token; settles when the store has it or the bounded call gave up; never rejects. */
  publish(token: SharedToken, secret: string): Promise<void>;
  /** The failure a recent holder of `secret`'s lock reported, while its note lasts (its Retry-After, or 1 s). */
  failure(secret: string): Promise<WristbandM2MError | undefined>;
  /** Tells the processes waiting on this round's lock that it failed, so they stop waiting. */
  reportFailure(secret: string, error: WristbandM2MError): Promise<void>;
  /**
   * Deletes every shared record holding `accessToken` and never reads it back, including a record whose write is
   * still on its way. Does not wait for the store.
   */
  retire(accessToken: string): void;
}

/** Error codes a holder's failure note may carry: failures of the token endpoint itself. */
const SHAREABLE_FAILURES: readonly WristbandM2MErrorCode[] = [
  'TOKEN_ENDPOINT_HTTP_ERROR',
  'TOKEN_ENDPOINT_UNREACHABLE',
  'TOKEN_REQUEST_TIMEOUT',
  'INVALID_TOKEN_RESPONSE',
];

export function createSharedCache(store: TokenStore, settings: ResolvedConfig): SharedCache {
  const prefix = tokenStoreKeyPrefix(settings.tokenEndpoint, settings.clientId);
  // A lock outlives the longest round a holder can run, so a crashed holder frees it in time.
  const lockTtlSeconds = Math.ceil(settings.maxRoundMs / 1000);
  const known = new Map<string, Promise<SecretRecords>>();
  const retired: string[] = [];

  const report = (operation: TokenStoreOperation, error: WristbandM2MError): void =>
    callHook(settings.onTokenStoreError, { operation, error });

  /** Runs a store call, bounded in time; a failure (a throw included) is reported and becomes `fallback`. */
  async function attempt<T, F>(operation: TokenStoreOperation, call: () => Promise<T>, fallback: F): Promise<T | F> {
    try {
      return await boundedStoreCall(operation, invoke(call), settings.tokenStoreTimeoutMs);
    } catch (error) {
      report(operation, error as WristbandM2MError);
      return fallback;
    }
  }

  function recordsFor(secret: string): Promise<SecretRecords> {
    let records = known.get(secret);
    if (records === undefined) {
      records = secretRecords(secret, prefix, settings.tokenStoreEncryption);
      known.set(secret, records);
      if (known.size > MAX_KNOWN_SECRETS) known.delete(known.keys().next().value as string);
    }
    return records;
  }

  /** The value under `key` if it is a string; anything else but null/undefined is reported. */
  async function getString(key: string): Promise<string | undefined> {
    const value: unknown = await attempt('get', () => store.get(key), undefined);
    if (typeof value === 'string' || value == null) return value ?? undefined;
    report(
      'get',
      storeError('get', `returned ${typeof value}, not the string that was stored; treated as a cache miss`),
    );
    return undefined;
  }

  /**
   * The record under `secret`'s key, with its raw value. `forRetire` reads it as it is, to delete it: a retired
   * token, and one dated in the future, included (after this machine's clock stepped back, its own records look
   * dated in the future, and they must still be deleted when retired).
   */
  async function readOne(
    secret: string,
    secretIndex: number,
    forRetire = false,
  ): Promise<(StoredToken & { value: string; key: string }) | undefined> {
    const { key, open } = await recordsFor(secret);
    const value = await getString(key);
    if (value === undefined) return undefined;
    const token = await open(value);
    if (token === undefined) {
      report(
        'get',
        storeError(
          'get',
          'returned a record this client cannot read (not written by this library, or damaged); treated as a cache miss',
        ),
      );
      return undefined;
    }
    if (forRetire) return { ...token, secretIndex, value, key };
    if (token.sentAt > Date.now() + MAX_CLOCK_SKEW_MS) {
      report(
        'get',
        storeError(
          'get',
          'returned a record dated in the future (a clock more than 60 s ahead); treated as a cache miss',
        ),
      );
      return undefined;
    }
    return retired.includes(token.accessToken) ? undefined : { ...token, secretIndex, value, key };
  }

  /**
   * Runs `work`, turning any failure it did not report itself (no WebCrypto to derive keys with, a codec bug) into
   * a reported store error and `fallback`: the store must never fail a round.
   */
  async function safely<T>(operation: TokenStoreOperation, work: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await work();
    } catch (error) {
      report(
        operation,
        storeError(operation, 'could not run (is WebCrypto available?); treated as a cache miss', error),
      );
      return fallback;
    }
  }

  const read = (secrets: readonly string[]): Promise<StoredToken | undefined> =>
    safely('get', () => readNewest(secrets), undefined);

  async function readNewest(secrets: readonly string[]): Promise<StoredToken | undefined> {
    let newest: StoredToken | undefined;
    for (const found of await Promise.all(secrets.map((secret, index) => readOne(secret, index)))) {
      if (found !== undefined && (newest === undefined || found.sentAt > newest.sentAt)) {
        newest = {
          accessToken: found.accessToken,
          sentAt: found.sentAt,
          expiresInSeconds: found.expiresInSeconds,
          secretIndex: found.secretIndex,
        };
      }
    }
    return newest;
  }

  /** Deletes `key` while it holds `value`: atomically where the store can, else a read then a delete. */
  async function deleteIfHolds(key: string, value: string): Promise<void> {
    const deleteIfEquals = store.deleteIfEquals?.bind(store);
    if (deleteIfEquals !== undefined) {
      await attempt('deleteIfEquals', () => deleteIfEquals(key, value), undefined);
    } else if ((await getString(key)) === value) {
      await attempt('delete', () => store.delete(key), undefined);
    }
  }

  const lock = (secret: string): Promise<HeldLock | undefined | 'held'> =>
    safely('acquire', () => lockOf(secret), undefined);

  async function lockOf(secret: string): Promise<HeldLock | undefined | 'held'> {
    const acquire = store.acquire?.bind(store);
    if (acquire === undefined) return undefined;
    const key = `${(await recordsFor(secret)).key}:lock`;
    const owner = crypto.randomUUID();
    const call = invoke(() => acquire(key, lockTtlSeconds, owner));
    // A store that cannot answer counts as a lock won: better a request too many than no token.
    const won: unknown = await attempt('acquire', () => call, true);
    if (typeof won !== 'boolean') {
      report('acquire', storeError('acquire', `returned ${typeof won}, not a boolean; counted as a lock won`));
    } else if (!won) {
      return 'held';
    }
    let released: Promise<void> | undefined;
    // The release waits for the acquire() itself: one that timed out may still land later and set the lock, and
    // a delete sent before it would leave that lock to block the fleet until its TTL. A call that never settles
    // never set anything.
    const release = (): Promise<void> =>
      call.then(
        () => deleteIfHolds(key, owner),
        () => deleteIfHolds(key, owner),
      );
    return { release: () => (released ??= release()) };
  }

  const readFailure = (secret: string): Promise<WristbandM2MError | undefined> =>
    safely('get', () => failureOf(secret), undefined);

  async function failureOf(secret: string): Promise<WristbandM2MError | undefined> {
    const value = await getString(`${(await recordsFor(secret)).key}:failed`);
    const note = value === undefined ? undefined : parseFailure(value);
    if (note === undefined) return undefined;
    return restated(note, `${note.message} (reported through the token store by the process holding its lock)`);
  }

  return {
    read,
    lock,
    failure: readFailure,
    async awaitHolder(secrets, accept, deadline, signal) {
      const lockSecret = secrets[0] as string;
      for (let now = performance.now(); now < deadline; now = performance.now()) {
        await pause(Math.min(LOCK_POLL_MS, deadline - now), signal);
        const token = await read(secrets);
        if (token !== undefined && accept(token)) return token;
        const failure = await readFailure(lockSecret);
        // A holder's rejected credential only says that the secret of this lock is rejected. A waiter holding other
        // secrets (a [new, old] process behind an [old] one, mid-rotation) must try them itself rather than fail
        // because of another process's record: it takes the lock, which the holder has released, and runs its round.
        if (failure !== undefined && !(secrets.length > 1 && isRejectedCredential(failure))) return failure;
        // Aborted (destroy(), a round given up) during those reads: take no lock for a round that is over.
        signal.throwIfAborted();
        const taken = await lock(lockSecret);
        if (taken === 'held') continue;
        // Double-checked: the holder may have shared its token and let the lock go since the read above; fetching
        // again then would be a second request for the same rotation.
        const shared = taken === undefined ? undefined : await read(secrets);
        if (shared !== undefined && accept(shared)) {
          void taken?.release();
          return shared;
        }
        return taken;
      }
      return undefined;
    },
    publish: (token, secret) => safely('set', () => publish(token, secret), undefined),
    reportFailure: (secret, error) => safely('set', () => reportFailure(secret, error), undefined),
    retire(accessToken) {
      if (!retired.includes(accessToken)) retired.push(accessToken);
      if (retired.length > MAX_RETIRED) retired.shift();
      for (const secret of known.keys()) {
        void safely(
          'delete',
          async () => {
            const found = await readOne(secret, 0, true);
            if (found?.accessToken === accessToken) await deleteIfHolds(found.key, found.value);
          },
          undefined,
        );
      }
    },
  };

  async function publish(token: SharedToken, secret: string): Promise<void> {
    const { key, seal } = await recordsFor(secret);
    const value = await seal(token);
    const ttlSeconds = Math.max(1, Math.ceil((token.sentAt + token.expiresInSeconds * 1000 - Date.now()) / 1000));
    const written = invoke(() => store.set(key, value, ttlSeconds));
    // A token retired while its write was on the way is deleted once the write lands, however late.
    written
      .then(() => (retired.includes(token.accessToken) ? deleteIfHolds(key, value) : undefined))
      .catch(() => undefined);
    await attempt('set', () => written, undefined);
  }

  async function reportFailure(secret: string, error: WristbandM2MError): Promise<void> {
    if (!SHAREABLE_FAILURES.includes(error.code)) return;
    const { code, message, status, error: oauthError, retryAfterMs } = error;
    const note = JSON.stringify({ code, message: message.slice(0, 500), status, error: oauthError, retryAfterMs });
    const ttlSeconds = Math.max(1, Math.ceil((retryAfterMs ?? 0) / 1000));
    const key = `${(await recordsFor(secret)).key}:failed`;
    await attempt('set', () => store.set(key, note, ttlSeconds), undefined);
  }
}

/** Calls a store method, turning a synchronous throw into a rejection. */
function invoke<T>(call: () => Promise<T>): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error);
  }
}

interface FailureNote {
  code: WristbandM2MErrorCode;
  message: string;
  status: number | undefined;
  error: string | undefined;
  retryAfterMs: number | undefined;
}

/** A failure note as another process wrote it; fields of the wrong type are dropped, an unknown code voids it. */
function parseFailure(value: string): FailureNote | undefined {
  const { code, message, status, error, retryAfterMs } = parseJsonObject(value) ?? {};
  if (!SHAREABLE_FAILURES.includes(code as WristbandM2MErrorCode) || typeof message !== 'string') return undefined;
  return {
    code: code as WristbandM2MErrorCode,
    message,
    status: typeof status === 'number' ? status : undefined,
    error: typeof error === 'string' ? error : undefined,
    retryAfterMs: typeof retryAfterMs === 'number' && retryAfterMs >= 0 ? retryAfterMs : undefined,
  };
}
