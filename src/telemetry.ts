/**
 * The seam `@wristband/typescript-m2m-auth/opentelemetry` plugs into; nothing else in the core knows about
 * telemetry. One registered symbol, used two ways:
 * - a config may hold a {@link RoundObserver} under it, which the client calls once per token round;
 * - the `init` of a request the client sends holds, under it, how many times this request was sent before (the
 *   token round's 5xx retries and secret fallbacks, or `client.fetch`'s retry after a 401), so that a wrapped `fetch`
 *   can tell a resend from a new request.
 * Registered (`Symbol.for`), so a second copy of the package in one process still speaks the same protocol.
 */
import type { RoundOutcome } from './core/round.js';
import type { RefreshReason } from './hooks.js';

export const TELEMETRY: unique symbol = Symbol.for('wristband.m2m');

/**
 * Runs one token round: calls `run` exactly once and returns what it returns (a promise that never rejects), so it
 * can time the round and run it inside a span's context. Must never throw: the client does not guard it.
 */
export type RoundObserver = (reason: RefreshReason, run: () => Promise<RoundOutcome>) => Promise<RoundOutcome>;

/** A `RequestInit` as the client sends it, with the resend count for a telemetry-wrapped `fetch`. */
export type ObservedInit = RequestInit & { [TELEMETRY]?: number };
