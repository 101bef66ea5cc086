import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WristbandM2MError as SourceError } from '../src/index.js';

// The real built package (vitest's global setup runs tsup), loaded the two ways an app that mixes `import` and
// `require` loads it: two module instances, two classes.
type Build = typeof import('../src/index.js');
const esm = (await import(fileURLToPath(new URL('../dist/index.js', import.meta.url)))) as Build;
const cjs = createRequire(import.meta.url)('../dist/index.cjs') as Build;

/** The INVALID_CONFIG error a build throws for an empty config. */
function configErrorFrom(build: Build): unknown {
  try {
    build.createWristbandM2MClient({} as never);
  } catch (error) {
    return error;
  }
  throw new Error('expected createWristbandM2MClient({}) to throw');
}

describe('WristbandM2MError across builds', () => {
  it('loads two distinct classes', () => {
    expect(cjs.WristbandM2MError).not.toBe(esm.WristbandM2MError);
  });

  it.each([
    ['CommonJS', 'ESM', cjs, esm],
    ['ESM', 'CommonJS', esm, cjs],
  ])(
    'an error thrown by the %s build is instanceof the %s build’s class, and keeps its code',
    (_from, _to, from, to) => {
      const error = configErrorFrom(from);
      expect(error instanceof to.WristbandM2MError).toBe(true);
      expect(error instanceof from.WristbandM2MError).toBe(true);
      expect(error instanceof SourceError).toBe(true);
      expect(error instanceof Error).toBe(true);
      expect(error).toMatchObject({ name: 'WristbandM2MError', code: 'INVALID_CONFIG' });
    },
  );

  it('is false for other errors and non-objects', () => {
    for (const value of [
      new Error('x'),
      Object.assign(new Error('x'), { name: 'WristbandM2MError', code: 'ABORTED' }),
      null,
      'WristbandM2MError',
      undefined,
    ]) {
      expect(value instanceof esm.WristbandM2MError).toBe(false);
      expect(value instanceof cjs.WristbandM2MError).toBe(false);
    }
  });

  it('keeps the ordinary prototype check for a subclass', () => {
    class Subclass extends SourceError {}
    expect(new SourceError('ABORTED', 'x') instanceof Subclass).toBe(false);
    expect(new Subclass('ABORTED', 'x') instanceof Subclass).toBe(true);
    expect(new Subclass('ABORTED', 'x') instanceof cjs.WristbandM2MError).toBe(true);
  });

  it('adds no enumerable property: JSON and spread show the same fields as before', () => {
    const error = new SourceError('TOKEN_ENDPOINT_HTTP_ERROR', 'm', { status: 503, attempts: 3, retryAfterMs: 1_500 });
    expect(Object.keys(error).sort()).toEqual([
      'attempts',
      'code',
      'error',
      'errorDescription',
      'name',
      'retryAfterMs',
      'status',
    ]);
    expect(Object.getOwnPropertySymbols(error)).toEqual([]);
  });
});

describe('WristbandM2MError details', () => {
  it('carries retryAfterMs when given, undefined otherwise', () => {
    expect(new SourceError('TOKEN_ENDPOINT_HTTP_ERROR', 'm', { retryAfterMs: 2_000 }).retryAfterMs).toBe(2_000);
    expect(new SourceError('TOKEN_ENDPOINT_HTTP_ERROR', 'm').retryAfterMs).toBeUndefined();
  });

  it('accepts the CLIENT_SECRET_UNAVAILABLE code', () => {
    const error = new SourceError('CLIENT_SECRET_UNAVAILABLE', 'The clientSecret provider failed.', {
      cause: { name: 'TypeError' },
    });
    expect(error).toMatchObject({ code: 'CLIENT_SECRET_UNAVAILABLE', cause: { name: 'TypeError' } });
  });
});
