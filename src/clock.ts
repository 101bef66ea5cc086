/**
 * The client's two clocks, read together at the edge (a call, a timer tick, a round's end, a `state` read) and
 * passed down as one {@link Instant}. The wall clock (`Date.now()`) dates what crosses processes (store records,
 * events); the monotonic clock (`performance.now()`) measures what a wall clock stepped back, or a machine that
 * slept, must not stretch. Nothing below the edge reads a clock itself.
 */

/** One moment, by both clocks. */
export interface Instant {
  /** `Date.now()`: ms since the epoch. */
  readonly wall: number;
  /** `performance.now()`: ms since this runtime started, never stepped. */
  readonly mono: number;
}

/** Reads both clocks. */
export function readClock(): Instant {
  return { wall: Date.now(), mono: performance.now() };
}

/**
 * How long ago `then` was, by whichever clock says it is longer: a wall clock stepped back cannot make a token
 * younger, and neither can a machine that slept (its monotonic clock stands still meanwhile).
 */
export function ageOf(then: Instant, now: Instant): number {
  return Math.max(now.mono - then.mono, now.wall - then.wall);
}

/**
 * A moment known by its wall time only (a record another process wrote), placed on this runtime's monotonic clock
 * as if both clocks had run alike since. A wall time ahead of `now` counts as `now`.
 */
export function fromWall(wall: number, now: Instant): Instant {
  return { wall, mono: now.mono - Math.max(0, now.wall - wall) };
}

/** The wall time at which the monotonic instant `mono` happens, in `now`'s frame. */
export function wallAt(mono: number, now: Instant): number {
  return now.wall + (mono - now.mono);
}
