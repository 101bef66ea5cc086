import { afterEach, beforeEach, vi } from 'vitest';

/** Every timer and both clocks the client reads (it dates tokens by `Date.now()` and `performance.now()`). */
export const FAKED = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] as const;

/**
 * Fakes the timers and both clocks for each test of the calling file or `describe` block. `random` pins
 * `Math.random`, which sets the refresh jitter (0: refresh exactly at lifetime - buffer) and the backoff's share of
 * its ceiling (1: the whole ceiling).
 */
export function useFakeClocks(options: { random?: number } = {}): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: [...FAKED] });
    if (options.random !== undefined) vi.spyOn(Math, 'random').mockReturnValue(options.random);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });
}
