// The pure token state machine, checked directly: no network, no timers, no client. Named rules first, then a
// model-based run over random event sequences (RACE_RUNS of them; `npm run test:race` does 100,000).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ageOf, type Instant } from '../../src/clock.js';
import { BACKOFF_CAP_MS, MAX_RETRY_AFTER_MS, tokenSchedule } from '../../src/core/schedule.js';
import {
  apply,
  CLOCK_CHECK_MS,
  decide,
  hotWindow,
  INITIAL_STATE,
  phaseOf,
  snapshot,
  takesStored,
  type TokenState,
} from '../../src/core/token-state.js';
import { WristbandM2MError } from '../../src/index.js';

const RUNS = Number(process.env.RACE_RUNS ?? 1_000);
const at = (mono: number, wall = mono + 1_700_000_000_000): Instant => ({ wall, mono });
const failure = (retryAfterMs?: number) =>
  new WristbandM2MError('TOKEN_ENDPOINT_HTTP_ERROR', 'down', { status: 503, retryAfterMs });

function withToken(state: TokenState, now: Instant, lifetimeS: number, bufferS: number): TokenState {
  const started = apply(state, { type: 'started', reason: 'initial' }, now);
  const schedule = tokenSchedule(lifetimeS * 1000, bufferS * 1000, 0, 0);
  return apply(
    started,
    { type: 'succeeded', seq: started.seq, token: { accessToken: 't', sentAt: now, schedule } },
    now,
  );
}

describe('decide', () => {
  it('serves a fresh token, serves and refreshes an expiring one once, and joins or starts with none', () => {
    const fresh = withToken(INITIAL_STATE, at(0), 100, 60);
    expect(decide(fresh, at(10_000)).action).toBe('serve');
    expect(decide(fresh, at(40_000)).action).toBe('serve-and-refresh');
    const refreshing = apply(fresh, { type: 'started', reason: 'expiring' }, at(40_000));
    expect(decide(refreshing, at(40_001)).action).toBe('serve');
    expect(decide(refreshing, at(95_000)).action).toBe('join');
    expect(decide(INITIAL_STATE, at(0))).toEqual({ action: 'start', reason: 'initial' });
  });

  it('refuses at once during a backoff, with what is left of it, and starts a round once it has passed', () => {
    let state = apply(INITIAL_STATE, { type: 'started', reason: 'initial' }, at(0));
    state = apply(state, { type: 'failed', seq: state.seq, error: failure(5_000), random: 0 }, at(0));
    const refused = decide(state, at(2_000));
    expect(refused.action).toBe('reject');
    expect(refused.action === 'reject' && refused.error.retryAfterMs).toBe(3_000);
    expect(decide(state, at(5_000)).action).toBe('start');
  });

  it('ignores the result of a round a clearToken() or destroy() detached', () => {
    const started = apply(INITIAL_STATE, { type: 'started', reason: 'initial' }, at(0));
    const cleared = apply(started, { type: 'cleared', token: undefined }, at(1));
    const token = { accessToken: 'old', sentAt: at(0), schedule: tokenSchedule(60_000, 0, 0, 0) };
    expect(apply(cleared, { type: 'succeeded', seq: started.seq, token }, at(2)).token).toBeUndefined();
    expect(decide(apply(started, { type: 'destroyed' }, at(1)), at(2)).action).toBe('reject');
  });

  it('lets a late 401 for an older token evict nothing', () => {
    const state = withToken(INITIAL_STATE, at(0), 100, 60);
    expect(apply(state, { type: 'cleared', token: 'older' }, at(1))).toBe(state);
  });
});

describe('takesStored', () => {
  const schedule = tokenSchedule(30_000, 20_000, 0, 0);
  const held = { accessToken: 'mine', sentAt: 1_000 };
  it('a refresh ahead takes only a newer token, still fresh, never its own back', () => {
    expect(
      takesStored('expiring', { accessToken: 'mine', sentAt: 1_000, expiresInSeconds: 30 }, 500, schedule, held),
    ).toBe(false);
    expect(
      takesStored('expiring', { accessToken: 'older', sentAt: 900, expiresInSeconds: 30 }, 500, schedule, held),
    ).toBe(false);
    expect(
      takesStored('expiring', { accessToken: 'newer', sentAt: 2_000, expiresInSeconds: 30 }, 500, schedule, held),
    ).toBe(true);
    expect(
      takesStored('background', { accessToken: 'newer', sentAt: 2_000, expiresInSeconds: 30 }, 12_000, schedule, held),
    ).toBe(false);
  });
  it('a round with no usable token takes any usable one', () => {
    expect(
      takesStored('expired', { accessToken: 'mine', sentAt: 1_000, expiresInSeconds: 30 }, 15_000, schedule, held),
    ).toBe(true);
    expect(
      takesStored('initial', { accessToken: 'x', sentAt: 0, expiresInSeconds: 30 }, 29_000, schedule, undefined),
    ).toBe(false);
  });
});

describe('snapshot', () => {
  it('is a query: reading it changes neither the state nor the hot window', () => {
    const state = withToken(INITIAL_STATE, at(0), 100, 60);
    const window = hotWindow(state, at(100));
    expect(snapshot(state, at(50_000)).status).toBe('fresh');
    expect(hotWindow(state, at(100))).toEqual(window);
  });
});

type Step =
  | { kind: 'call'; dtMs: number; wallStepMs: number }
  | { kind: 'start'; reason: 'expiring' | 'expired' }
  | { kind: 'succeed'; which: 'current' | 'old'; lifetimeS: number }
  | { kind: 'fail'; retryAfterMs: number | undefined; random: number }
  | { kind: 'defer' }
  | { kind: 'clear'; which: 'any' | 'current' | 'other' }
  | { kind: 'destroy' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      dtMs: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 400_000 })),
      wallStepMs: fc.oneof(fc.constant(0), fc.integer({ min: -3_600_000, max: 3_600_000 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('start' as const), reason: fc.constantFrom('expiring', 'expired') }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('succeed' as const),
      which: fc.constantFrom('current', 'current', 'old'),
      lifetimeS: fc.integer({ min: 1, max: 7_200 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('fail' as const),
      retryAfterMs: fc.option(fc.integer({ min: 0, max: MAX_RETRY_AFTER_MS }), { nil: undefined }),
      random: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'defer' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('clear' as const), which: fc.constantFrom('any', 'current', 'other') }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'destroy' as const }) },
);

/**
 * The rules every reachable state keeps, checked after each step:
 * S1. a served token is usable by both clocks; the hot window never reaches past the refresh instant, is at most
 *     CLOCK_CHECK_MS long, and ends before the token is unusable;
 * S2. a round starts only when none is current, and a call joins only one that is;
 * S3. a result fills the cache only from the current round: never from one started before a clearToken() or
 *     destroy();
 * S4. a refusal during a backoff says how long is left, never more than the longest backoff or Retry-After;
 * S5. the snapshot agrees with the decision: a token is reported valid exactly when a call would be served.
 */
it(`the state machine keeps its rules over ${RUNS.toLocaleString('en-US')} random event sequences`, () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 120 }),
      fc.array(stepArb, { minLength: 1, maxLength: 60 }),
      (bufferS, steps) => {
        let state = INITIAL_STATE;
        let now = at(0);
        let serial = 0;
        /** Sequence numbers of rounds started before the latest clearToken()/destroy(). */
        let detachedBelow = 0;
        for (const step of steps) {
          switch (step.kind) {
            case 'call': {
              now = { mono: now.mono + step.dtMs, wall: now.wall + step.dtMs + step.wallStepMs };
              const decision = decide(state, now);
              const phase = phaseOf(state, now);
              if (decision.action === 'serve' || decision.action === 'serve-and-refresh') {
                expect(phase).not.toBe('unusable'); // S1
                const token = state.token!;
                const window = hotWindow(state, now);
                if (window.until > window.from) {
                  const age = ageOf(token.sentAt, now);
                  expect(window.until - window.from).toBeLessThanOrEqual(CLOCK_CHECK_MS);
                  expect(age + (window.until - window.from)).toBeLessThanOrEqual(token.schedule.refreshAfterMs);
                  expect(age + 2 * (window.until - window.from)).toBeLessThanOrEqual(token.schedule.usableForMs);
                }
              }
              if (decision.action === 'serve-and-refresh' || decision.action === 'start')
                expect(state.round).toBeUndefined(); // S2
              if (decision.action === 'join') expect(state.round).toBeDefined();
              if (decision.action === 'reject' && !state.destroyed) {
                const left = decision.error.retryAfterMs ?? 0; // S4
                expect(left).toBeGreaterThan(0);
                expect(left).toBeLessThanOrEqual(Math.max(BACKOFF_CAP_MS, MAX_RETRY_AFTER_MS));
              }
              const view = snapshot(state, now); // S5
              expect(view.hasValidToken).toBe(!state.destroyed && phase !== 'unusable');
              if (decision.action === 'serve-and-refresh' || decision.action === 'start') {
                state = apply(
                  state,
                  { type: 'started', reason: decision.action === 'start' ? decision.reason : 'expiring' },
                  now,
                );
              }
              break;
            }
            case 'start':
              if (state.round === undefined && !state.destroyed)
                state = apply(state, { type: 'started', reason: step.reason }, now);
              break;
            case 'succeed': {
              const seq = step.which === 'current' ? (state.round?.seq ?? state.seq) : Math.max(1, detachedBelow);
              const token = {
                accessToken: `t${++serial}`,
                sentAt: now,
                schedule: tokenSchedule(step.lifetimeS * 1000, bufferS * 1000, 0, 0.5),
              };
              const next = apply(state, { type: 'succeeded', seq, token }, now);
              if (seq <= detachedBelow || state.destroyed) expect(next.token).toBe(state.token); // S3
              state = next;
              break;
            }
            case 'fail':
              if (state.round !== undefined) {
                state = apply(
                  state,
                  { type: 'failed', seq: state.round.seq, error: failure(step.retryAfterMs), random: step.random },
                  now,
                );
              }
              break;
            case 'defer':
              if (state.round !== undefined) state = apply(state, { type: 'deferred', seq: state.round.seq }, now);
              break;
            case 'clear': {
              const token =
                step.which === 'any' ? undefined : step.which === 'current' ? state.token?.accessToken : 'someone-else';
              const next = apply(state, { type: 'cleared', token }, now);
              if (next !== state) detachedBelow = state.seq;
              if (step.which === 'other' && state.token !== undefined) expect(next).toBe(state);
              state = next;
              break;
            }
            case 'destroy':
              state = apply(state, { type: 'destroyed' }, now);
              detachedBelow = state.seq;
              break;
          }
        }
      },
    ),
    { numRuns: RUNS },
  );
}, 600_000);
