/**
 * A shared token cache: the interface a store implements, and how the client keeps its records in one. Records are
 * encrypted by default with AES-256-GCM under a key derived by HKDF-SHA-256 from the client secret, so a leaked
 * cache holds no usable token and only holders of the secret can read it.
 */
import { WristbandM2MError } from './errors.js';

/**
 * Where tokens are shared between processes, containers or Worker isolates: Redis, Workers KV, or your own. All
 * methods are async and may fail; the client treats a failure or a slow answer as a cache miss and carries on.
 * Values are opaque strings (encrypted records); keys never contain the secret.
 */
export interface TokenStore {
  /** The value stored under `key`, or `null`/`undefined` if there is none. */
  get(key: string): Promise<string | null | undefined>;
  /** Stores `value` under `key` for `ttlSeconds` (a whole number, at least 1). */
  set(key: string, value: string, ttlSeconds: number): Promise<unknown>;
  delete(key: string): Promise<unknown>;
  /**
   * Optional atomic compare-and-delete: deletes `key` only while it still holds `value`. Without it, retiring a
   * rejected token is a read then a delete, and a token another process shared in between can be deleted too
   * (which costs the fleet one extra refresh, nothing worse).
   */
  deleteIfEquals?(key: string, value: string): Promise<unknown>;
  /**
   * Optional fleet-wide lock: resolves `true` for exactly one caller until `ttlSeconds` pass (Redis `SET NX PX`).
   * With it, when many processes miss at once one fetches a token and the others wait for the store to fill.
   */
  acquire?(key: string, ttlSeconds: number): Promise<boolean>;
}

/** A token as it is shared: enough for each reader to work out its own cache expiry. */
export interface SharedToken {
  accessToken: string;
  /** When the request that got it was sent, in ms since the epoch. */
  sentAt: number;
  expiresInSeconds: number;
}

/** The store operations, as named in `onTokenStoreError` events. */
export type TokenStoreOperation = 'get' | 'set' | 'delete' | 'deleteIfEquals' | 'acquire';

const RECORD_VERSION = 'v1';
const HKDF_SALT = new TextEncoder().encode('wristband-m2m-token-store');

/** The store key for one OAuth2 client of one application: readable, and free of the secret. */
export function tokenStoreKey(tokenEndpoint: string, clientId: string): string {
  return `wristband-m2m:${RECORD_VERSION}:${new URL(tokenEndpoint).host}:${encodeURIComponent(clientId)}`;
}

/** Turns records into the strings a store holds, and back; `undefined` for anything unreadable. */
export interface RecordCodec {
  seal(record: SharedToken): Promise<string>;
  open(value: string): Promise<SharedToken | undefined>;
}

/** Plain JSON: for stores the user has decided to trust with readable tokens (`tokenStoreEncryption: false`). */
export const plainCodec: RecordCodec = {
  seal: async (record) => JSON.stringify(record),
  open: async (value) => asSharedToken(parseJson(value)),
};

/**
 * AES-256-GCM under a key derived by HKDF-SHA-256 from the client secret, with the store key as HKDF info and as
 * additional data: a record cannot be read without the secret, nor moved to another key. A record written under a
 * rotated secret fails authentication and reads as a miss. Each record gets a fresh 96-bit IV.
 */
export function encryptedCodec(clientSecret: string, storeKey: string): RecordCodec {
  const encoder = new TextEncoder();
  const additionalData = encoder.encode(storeKey);
  let key: Promise<CryptoKey> | undefined;
  const deriveKey = (): Promise<CryptoKey> =>
    (key ??= crypto.subtle
      .importKey('raw', encoder.encode(clientSecret), 'HKDF', false, ['deriveKey'])
      .then((secret) =>
        crypto.subtle.deriveKey(
          { name: 'HKDF', hash: 'SHA-256', salt: HKDF_SALT, info: additionalData },
          secret,
          { name: 'AES-GCM', length: 256 },
          false,
          ['encrypt', 'decrypt'],
        ),
      ));
  return {
    async seal(record) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const plaintext = encoder.encode(JSON.stringify(record));
      const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData }, await deriveKey(), plaintext);
      return `${RECORD_VERSION}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`;
    },
    async open(value) {
      const [version, iv, sealed] = value.split('.');
      if (version !== RECORD_VERSION || iv === undefined || sealed === undefined) return undefined;
      try {
        const plaintext = await crypto.subtle.decrypt(
          { name: 'AES-GCM', iv: fromBase64Url(iv), additionalData },
          await deriveKey(),
          fromBase64Url(sealed),
        );
        return asSharedToken(parseJson(new TextDecoder().decode(plaintext)));
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * Runs one store call with a time limit, so a stalled store costs a caller at most `timeoutMs`. Rejects with a
 * `TOKEN_STORE_ERROR` that names the operation and keeps the store's own error as `cause`.
 */
export function boundedStoreCall<T>(operation: TokenStoreOperation, call: () => Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const fail = (cause: unknown, problem: string): void =>
      reject(new WristbandM2MError('TOKEN_STORE_ERROR', `The token store's ${operation}() ${problem}; treated as a cache miss.`, { cause }));
    const timer = setTimeout(() => fail(undefined, `took longer than ${timeoutMs} ms`), timeoutMs);
    let pending: Promise<T>;
    try {
      pending = Promise.resolve(call());
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        fail(error, 'failed');
      },
    );
  });
}

function asSharedToken(value: unknown): SharedToken | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { accessToken, sentAt, expiresInSeconds } = value as Record<string, unknown>;
  const valid =
    typeof accessToken === 'string' &&
    accessToken !== '' &&
    typeof sentAt === 'number' &&
    Number.isFinite(sentAt) &&
    typeof expiresInSeconds === 'number' &&
    expiresInSeconds > 0;
  return valid ? { accessToken, sentAt, expiresInSeconds } : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
