import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  basicAuthorization,
  createRedactor,
  credentialForms,
  formUrlEncode,
  MAX_CAUSE_DEPTH,
  MIN_SUBSTRING_REDACTION_LENGTH,
  REDACTED,
  redact,
  sanitizeError,
} from '../../src/credentials/redact.js';

const ID = 'client-id';
const SECRET = 'pa ss/wörd"+=7f3a9c';
const FORMS = credentialForms(ID, SECRET);
const BASE64 = basicAuthorization(ID, SECRET).slice('Basic '.length);

describe('credentialForms', () => {
  it('lists the secret raw, form-encoded, percent-encoded, JSON-escaped and as the Basic credentials', () => {
    expect(FORMS).toEqual([
      SECRET,
      formUrlEncode(SECRET),
      encodeURIComponent(SECRET),
      JSON.stringify(SECRET).slice(1, -1),
      BASE64,
    ]);
  });

  it('accepts a secret encodeURIComponent refuses (a lone surrogate) and still redacts it', () => {
    const secret = 'long-secret-\ud800-tail';
    const forms = credentialForms(ID, secret);
    expect(redact(`got ${secret}`, forms)).toBe(`got ${REDACTED}`);
  });

  it('leaves out duplicates and empty strings', () => {
    expect(credentialForms('id', 'plainsecret')).toEqual(['plainsecret', btoa('id:plainsecret')]);
    expect(credentialForms('', '')).toEqual([btoa(':')]);
  });
});

describe('redact', () => {
  it('replaces every form, including the Basic header and the bare base64 value', () => {
    const text = `a ${SECRET} b ${formUrlEncode(SECRET)} c Basic ${BASE64} d ${BASE64} e ${JSON.stringify({ s: SECRET })}`;
    const out = redact(text, FORMS);
    for (const form of FORMS) expect(out).not.toContain(form);
    expect(out).toBe(`a ${REDACTED} b ${REDACTED} c Basic ${REDACTED} d ${REDACTED} e {"s":"${REDACTED}"}`);
  });

  it('replaces the longest form first, so no part of a longer form survives', () => {
    expect(redact('abcdefghij-abcdefghijklmnop', ['abcdefghij', 'abcdefghijklmnop'])).toBe(`${REDACTED}-${REDACTED}`);
  });

  it('treats regular expression characters in a form literally', () => {
    expect(redact('x a.b*c(d)[e]{f}|g\\h$i^j+k?l/m-n x', ['a.b*c(d)[e]{f}|g\\h$i^j+k?l/m-n'])).toBe(`x ${REDACTED} x`);
    expect(redact('aXbXcXdX', ['a.b.c.d.'])).toBe('aXbXcXdX');
  });

  it(`redacts forms shorter than ${MIN_SUBSTRING_REDACTION_LENGTH} characters only where they stand alone`, () => {
    const forms = credentialForms('x', 'y');
    expect(redact('TypeError: fetch failed for y.example.com, key=y, Basic eDp5 "y"', forms)).toBe(
      `TypeError: fetch failed for ${REDACTED}.example.com, key=${REDACTED}, Basic ${REDACTED} "${REDACTED}"`,
    );
  });

  it('never leaves a form of a long secret in any text', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: MIN_SUBSTRING_REDACTION_LENGTH }),
        fc.string(),
        fc.string(),
        (secret, before, after) => {
          const forms = credentialForms('id', secret);
          for (const form of forms) {
            if (form.length >= MIN_SUBSTRING_REDACTION_LENGTH)
              expect(redact(before + form + after, forms)).not.toContain(form);
          }
        },
      ),
    );
  });

  it('returns the text unchanged when there are no forms', () => {
    expect(redact('text', [])).toBe('text');
  });
});

describe('sanitizeError', () => {
  const leaky = () =>
    Object.assign(new TypeError(`failed sending Basic ${BASE64}`), {
      code: `E_${SECRET}`,
      request: new Request('https://x.example/', { headers: { Authorization: `Basic ${BASE64}` } }),
      headers: new Headers({ authorization: `Basic ${BASE64}` }),
      config: { auth: SECRET },
    });

  it('returns a new error with only name, code, message, stack and cause, redacted', () => {
    const original = leaky();
    const copy = sanitizeError(original, FORMS);
    expect(copy).not.toBe(original);
    expect(copy).toBeInstanceOf(TypeError);
    expect(copy.name).toBe('TypeError');
    expect(copy.message).toBe(`failed sending Basic ${REDACTED}`);
    expect((copy as { code?: string }).code).toBe(`E_${REDACTED}`);
    expect(Object.keys(copy)).toEqual(['code']);
    expect(copy.stack).not.toContain(BASE64);
    expect(copy.stack).toContain('redact.test.ts');
  });

  it('sanitizes the cause chain to a bounded depth, cycles included', () => {
    const deepest = Object.assign(new Error(`secret ${SECRET}`), { code: 'ECONNRESET' });
    const middle = new Error('socket', { cause: deepest });
    const top = new TypeError('fetch failed', { cause: middle });
    const copy = sanitizeError(top, FORMS);
    expect(copy.cause).toMatchObject({
      message: 'socket',
      cause: { message: `secret ${REDACTED}`, code: 'ECONNRESET' },
    });
    expect((copy.cause as Error).cause).not.toBe(deepest);

    const cyclic = new Error('loop') as Error & { cause?: unknown };
    cyclic.cause = cyclic;
    let depth = 0;
    for (let current: unknown = sanitizeError(cyclic, FORMS); current !== undefined; current = (current as Error).cause)
      depth++;
    expect(depth).toBe(MAX_CAUSE_DEPTH);
  });

  it('keeps a custom name as the name of a plain Error, and drops a non-string code', () => {
    const custom = Object.assign(new Error('boom'), { name: 'FetchError', code: 42 });
    const copy = sanitizeError(custom, FORMS);
    expect(copy.constructor).toBe(Error);
    expect(copy.name).toBe('FetchError');
    expect('code' in copy).toBe(false);
  });

  it('turns a thrown non-error into an Error with its text as message', () => {
    expect(sanitizeError(`oops ${SECRET}`, FORMS)).toMatchObject({ name: 'Error', message: `oops ${REDACTED}` });
    expect(sanitizeError(undefined, FORMS)).toMatchObject({ name: 'Error', message: 'undefined' });
    expect(sanitizeError({ message: 'plain object' }, FORMS)).toMatchObject({ name: 'Error', message: 'plain object' });
  });

  it('survives objects whose properties throw', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    );
    expect(sanitizeError(hostile, FORMS)).toMatchObject({ name: 'Error', message: '' });
  });
});

describe('createRedactor', () => {
  it('keeps the forms of the latest few secrets only when a provider returns a new secret every round', () => {
    const redactor = createRedactor('client-id');
    for (let i = 0; i < 200; i++) redactor.learn([`rotating-secret-${i}`]);
    // 5 forms per secret; a few recent secrets are plenty, 200 are a leak (and an O(n) regex per error).
    expect(redactor.size).toBeLessThanOrEqual(40);
    expect(redactor.redact('x rotating-secret-199 y')).toBe(`x ${REDACTED} y`);
    expect(redactor.redact('rotating-secret-0')).toBe('rotating-secret-0');
  });

  it('keeps every form of one round however many secrets it holds', () => {
    const redactor = createRedactor('client-id');
    const secrets = Array.from({ length: 12 }, (_, i) => `round-secret-number-${i}`);
    redactor.learn(secrets);
    for (const secret of secrets) expect(redactor.redact(secret)).toBe(REDACTED);
  });

  it('redacts a percent-encoded form whatever the case of its hex digits (RFC 3986 §2.1), as .NET writes it', () => {
    const secret = 'k9/Fq+Zr=secret/value';
    const redactor = createRedactor('client-id');
    redactor.learn([secret]);
    const lower = encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (octet) => octet.toLowerCase());
    const formLower = formUrlEncode(secret).replace(/%[0-9A-F]{2}/g, (octet) => octet.toLowerCase());
    expect(lower).not.toBe(encodeURIComponent(secret));
    for (const echoed of [lower, formLower, `client_secret=${lower}&x=1`]) {
      const text = redactor.redact(echoed);
      expect(text).toContain(REDACTED);
      expect(text).not.toContain(lower);
      expect(text).not.toContain(formLower);
      expect(decodeURIComponent(text)).not.toContain(secret);
    }
  });
});
