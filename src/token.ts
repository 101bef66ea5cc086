/**
 * What an access token is to this library, wherever it comes from (the endpoint's answer or another process's
 * store record): the checks both apply, the lifetime cap, and the JSON reading both need. Imported by the HTTP and
 * store layers alike, importing neither.
 */

/** Longer advertised lifetimes are cut to this, so a buggy `expires_in` cannot pin a revoked token for years. */
export const MAX_TOKEN_LIFETIME_SECONDS = 24 * 60 * 60;

/** A token as it is shared between processes: enough for each reader to work out its own schedule. */
export interface SharedToken {
  accessToken: string;
  /** When the request that got it was sent, in ms since the epoch. */
  sentAt: number;
  expiresInSeconds: number;
}

/** A token the endpoint issued (or the store held), with what the cache needs to date and report it. */
export interface IssuedToken extends SharedToken {
  /** `performance.now()` when its request was sent, so a wall clock stepped back cannot stretch its lifetime. */
  sentAtMono: number;
  /** Token requests sent in the round, the successful one included; 0 for a token from the store. */
  attempts: number;
  /** Position of the secret that worked (or whose key opened the record), in the list as configured. */
  secretIndex: number;
}

/** A token that can go into an `Authorization` header as it is: a non-empty string of visible ASCII characters. */
export function isUsableAccessToken(value: unknown): value is string {
  return typeof value === 'string' && /^[\x21-\x7e]+$/.test(value);
}

/** A lifetime in seconds if it is a finite positive number, capped at {@link MAX_TOKEN_LIFETIME_SECONDS}. */
export function usableLifetime(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0
    ? Math.min(value, MAX_TOKEN_LIFETIME_SECONDS)
    : undefined;
}

/** `text` parsed as JSON if it is an object (not an array, not null); `undefined` for anything else. */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
