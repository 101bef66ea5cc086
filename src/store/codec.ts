/**
 * How records are kept in a store: one record per client secret, under a key that carries an identifier derived
 * from that secret, sealed with AES-256-GCM under a key derived from the same secret by HKDF-SHA-256. A leaked store
 * holds nothing usable without a secret; processes holding different secrets (mid-rotation) never overwrite or
 * misread each other's records; a reader tries the key of every secret it holds.
 */
import { WristbandM2MError } from '../errors.js';
import { isUsableAccessToken, parseJsonObject, type SharedToken, usableLifetime } from '../token.js';
import type { TokenStoreOperation } from './types.js';

const RECORD_VERSION = 'v2';
const encoder = new TextEncoder();
const HKDF_SALT = encoder.encode('wristband-m2m-token-store');
/** Bytes of the derived material: an AES-256 key, then the record key's identifier. */
const KEY_BYTES = 32;
const ID_BYTES = 9;

/** What one secret gives a store: the record key it writes and reads, and the codec for its records. */
export interface SecretRecords {
  key: string;
  seal(record: SharedToken): Promise<string>;
  open(value: string): Promise<SharedToken | undefined>;
}

/** The part of every record key shared by all secrets of one OAuth2 client: readable, and free of the secret. */
export function tokenStoreKeyPrefix(tokenEndpoint: string, clientId: string): string {
  return `wristband-m2m:${RECORD_VERSION}:${new URL(tokenEndpoint).host}:${encodeURIComponent(clientId)}`;
}

/**
 * Derives the record key and codec of one secret. `prefix` is the HKDF info, so the same secret gives unrelated
 * keys for other clients or hosts. With `encrypted` false, records are plain JSON (for a store as private as the
 * secret), still one per secret.
 */
export async function secretRecords(secret: string, prefix: string, encrypted: boolean): Promise<SecretRecords> {
  const material = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, ['deriveBits']);
  const bits = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: 'HKDF', hash: 'SHA-256', salt: HKDF_SALT, info: encoder.encode(prefix) },
      material,
      (KEY_BYTES + ID_BYTES) * 8,
    ),
  );
  const key = `${prefix}:${toBase64Url(bits.subarray(KEY_BYTES))}`;
  if (!encrypted)
    return {
      key,
      seal: async (record) => JSON.stringify(record),
      open: async (value) => asSharedToken(parseJsonObject(value)),
    };
  const additionalData = encoder.encode(key);
  const aesKey = await crypto.subtle.importKey('raw', bits.subarray(0, KEY_BYTES), 'AES-GCM', false, [
    'encrypt',
    'decrypt',
  ]);
  return {
    key,
    async seal(record) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData },
        aesKey,
        encoder.encode(JSON.stringify(record)),
      );
      return `${RECORD_VERSION}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`;
    },
    async open(value) {
      const [version, iv, sealed] = value.split('.');
      if (version !== RECORD_VERSION || iv === undefined || sealed === undefined) return undefined;
      try {
        const plaintext = await crypto.subtle.decrypt(
          { name: 'AES-GCM', iv: fromBase64Url(iv), additionalData },
          aesKey,
          fromBase64Url(sealed),
        );
        return asSharedToken(parseJsonObject(new TextDecoder().decode(plaintext)));
      } catch {
        return undefined;
      }
    },
  };
}

/** A `TOKEN_STORE_ERROR` about one operation. */
export function storeError(operation: TokenStoreOperation, problem: string, cause?: unknown): WristbandM2MError {
  return new WristbandM2MError(
    'TOKEN_STORE_ERROR',
    `The token store's ${operation}() ${problem}.`,
    cause === undefined ? {} : { cause },
  );
}

/** A record as the endpoint's answers are checked: a visible-ASCII token and a finite positive lifetime, capped. */
function asSharedToken(value: unknown): SharedToken | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { accessToken, sentAt, expiresInSeconds } = value as Record<string, unknown>;
  const lifetime = usableLifetime(expiresInSeconds);
  return isUsableAccessToken(accessToken) && typeof sentAt === 'number' && Number.isFinite(sentAt) && lifetime
    ? { accessToken, sentAt, expiresInSeconds: lifetime }
    : undefined;
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
