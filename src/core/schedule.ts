/**
 * The token lifecycle as pure policy: when a token is refreshed ahead of its expiry, until when it may still be
 * served while that refresh fails, and how long to hold back after failed rounds. No I/O and no clock reads here:
 * every function takes the times it needs, so the client wires them together and tests call them directly.
 */

/** The refresh instant moves earlier by up to this share of the time from receipt to it, so a fleet spreads out. */
export const REFRESH_JITTER_SHARE = 0.1;
/** Past `refreshAt`, a token is still served until this close to its real expiry (or the buffer, if smaller). */
export const STALE_MARGIN_MS = 10_000;
/** Backoff after the second consecutive failed round; it doubles with each failure after that. */
export const BACKOFF_BASE_MS = 1_000;
/** The longest backoff between two rounds. */
export const BACKOFF_CAP_MS = 30_000;
/** The longest `Retry-After` honoured; a larger value is cut to this, so a bad header cannot stop a client for hours. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** A token's two instants, as offsets in ms from when its request was sent. */
export interface TokenSchedule {
  /** From here a call starts a refresh while the token keeps being served. */
  refreshAfterMs: number;
  /** From here the token is no longer served at all. */
  usableForMs: number;
}

/**
 * When to refresh a token and until when to serve it.
 * - `refreshAt`: lifetime minus `bufferMs` (half the lifetime when it is no longer than the buffer), moved earlier
 *   by `jitter` (0 to 1) times {@link REFRESH_JITTER_SHARE} of the time from receipt (`ageAtReceiptMs` after it was
 *   sent) to that instant.
 * - `usableUntil`: lifetime minus the smaller of `bufferMs` and {@link STALE_MARGIN_MS}, never before the unjittered
 *   `refreshAt`.
 */
export function tokenSchedule(
  lifetimeMs: number,
  bufferMs: number,
  ageAtReceiptMs: number,
  jitter: number,
): TokenSchedule {
  const refreshAfterMs = lifetimeMs > bufferMs ? lifetimeMs - bufferMs : lifetimeMs / 2;
  const spread = jitter * REFRESH_JITTER_SHARE * Math.max(0, refreshAfterMs - ageAtReceiptMs);
  return {
    refreshAfterMs: refreshAfterMs - spread,
    usableForMs: Math.max(refreshAfterMs, lifetimeMs - Math.min(bufferMs, STALE_MARGIN_MS)),
  };
}

/** Where a token stands `ageMs` after its request was sent. */
export type TokenPhase = 'fresh' | 'expiring' | 'unusable';

export function tokenPhase(schedule: TokenSchedule, ageMs: number): TokenPhase {
  if (ageMs < schedule.refreshAfterMs) return 'fresh';
  return ageMs < schedule.usableForMs ? 'expiring' : 'unusable';
}

/**
 * How long to wait before the next round after `failures` consecutive failed rounds: nothing after one (a single
 * blip costs nothing), then full jitter (`random` from 0 to 1) over a ceiling that starts at
 * {@link BACKOFF_BASE_MS} and doubles up to {@link BACKOFF_CAP_MS}.
 */
export function backoffMs(failures: number, random: number): number {
  if (failures < 2) return 0;
  return random * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (failures - 2));
}

/**
 * A `Retry-After` value ([RFC 9110 §10.2.3](https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3)) as ms from
 * `nowMs`: delay-seconds or an HTTP date, capped at {@link MAX_RETRY_AFTER_MS}; `undefined` if absent or unreadable.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  // Only the two forms the RFC allows: Date.parse alone would read "1.5" or "3" as dates.
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : /GMT$/i.test(text) ? Date.parse(text) - nowMs : Number.NaN;
  return Number.isNaN(ms) ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}
