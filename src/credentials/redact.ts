/**
 * Keeps the client credentials out of everything the client reports. Pure functions over a list of "forms": every
 * spelling in which a secret can show up in text a server, a proxy or a fetch implementation hands back. The list is
 * the caller's, so a requester holding several secrets (rotation) appends the forms of each one it uses.
 */

/** What a credential form is replaced with. */
export const REDACTED = '[REDACTED]';

/**
 * Forms shorter than this are redacted only where they stand alone (not touching a letter or digit on either side).
 * A real client secret is far longer; a 1-character test secret such as `y` would otherwise turn `TypeError` into
 * `T[REDACTED]peError` and make every error unreadable, while a standalone `y` (in a header, a query string, JSON) is
 * still caught.
 */
export const MIN_SUBSTRING_REDACTION_LENGTH = 8;

/** How many `cause` levels {@link sanitizeError} copies; deeper ones, and cycles, are cut off. */
export const MAX_CAUSE_DEPTH = 4;

/** `application/x-www-form-urlencoded` encoding of one value (spaces become `+`), as RFC 6749 Appendix B asks. */
export function formUrlEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/**
 * `Basic base64(urlencode(id) ":" urlencode(secret))`: RFC 6749 §2.3.1 form-encodes both parts first, which also
 * keeps `btoa` to ASCII input whatever characters the credentials hold. It lives here so that
 * {@link credentialForms} derives the base64 form from exactly the bytes that are sent.
 */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  return `Basic ${basicCredentials(clientId, clientSecret)}`;
}

function basicCredentials(clientId: string, clientSecret: string): string {
  return btoa(`${formUrlEncode(clientId)}:${formUrlEncode(clientSecret)}`);
}

/**
 * Every form in which `clientSecret` can leak: as it is, form-encoded, percent-encoded (`encodeURIComponent`),
 * JSON-escaped, and the base64 credentials of the `Authorization: Basic` header. The base64 value is listed without
 * its `Basic ` prefix, so redacting it covers the header value and a server echoing the bare value alike. Empty and
 * duplicate forms are left out.
 */
export function credentialForms(clientId: string, clientSecret: string): string[] {
  const forms = [
    clientSecret,
    formUrlEncode(clientSecret),
    percentEncode(clientSecret),
    JSON.stringify(clientSecret).slice(1, -1),
    basicCredentials(clientId, clientSecret),
  ];
  return [...new Set(forms)].filter((form) => form !== '');
}

/** `encodeURIComponent`, or nothing for a string it refuses (a lone surrogate), which then cannot leak that way. */
function percentEncode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return '';
  }
}

/**
 * `text` with every occurrence of every form replaced by {@link REDACTED}, in one pass, longest form first (so the
 * base64 value is not half-replaced by a shorter form it contains). Forms shorter than
 * {@link MIN_SUBSTRING_REDACTION_LENGTH} are replaced only where they stand alone.
 */
export function redact(text: string, forms: readonly string[]): string {
  const pattern = redactionPattern(forms);
  return pattern === undefined ? text : text.replace(pattern, REDACTED);
}

function redactionPattern(forms: readonly string[]): RegExp | undefined {
  const alternatives = forms
    .filter((form) => form !== '')
    .sort((a, b) => b.length - a.length)
    .map((form) => {
      // A percent-encoded octet matches in either case: RFC 3986 §2.1 makes `%2f` and `%2F` the same octet, and
      // some encoders (.NET's HttpUtility.UrlEncode) write lowercase hex.
      const escaped = form
        .replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')
        .replace(
          /%([0-9A-Fa-f])([0-9A-Fa-f])/g,
          (_, high: string, low: string) => `%${eitherCase(high)}${eitherCase(low)}`,
        );
      return form.length < MIN_SUBSTRING_REDACTION_LENGTH ? `(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])` : escaped;
    });
  return alternatives.length === 0 ? undefined : new RegExp(alternatives.join('|'), 'gu');
}

/** A hex digit as a character class of both its cases (`[aA]`), or the digit itself. */
function eitherCase(digit: string): string {
  const lower = digit.toLowerCase();
  const upper = digit.toUpperCase();
  return lower === upper ? digit : `[${lower}${upper}]`;
}

/** Copies keep the built-in subclass, so `cause instanceof TypeError` (how fetch reports network errors) still works. */
const BUILT_IN_ERROR = /^(Eval|Range|Reference|Syntax|Type|URI)Error$/;

/**
 * A new error holding only what is safe to log from `error`: its `name`, its `code` when that is a string, its
 * `message` and `stack` (all redacted), and a sanitized copy of its `cause`, up to {@link MAX_CAUSE_DEPTH} levels.
 * Never the original object and never any other property: fetch implementations and interceptors attach the request
 * (`request`, `config`, `headers`, `Request` and `Headers` objects) to their errors, and those hold the
 * `Authorization` header in forms no text check sees. A built-in error type (`TypeError`, ...) is kept; anything
 * else becomes an `Error` whose `name` is the original's. A value that is not an object becomes an `Error` with that
 * value as its message.
 */
export function sanitizeError(error: unknown, forms: readonly string[]): Error {
  return sanitizeLevel(error, forms, MAX_CAUSE_DEPTH);
}

function sanitizeLevel(error: unknown, forms: readonly string[], levels: number): Error {
  const name = stringProperty(error, 'name') ?? 'Error';
  // A primitive's String() cannot throw (a symbol's included); an object's could, so it is not called.
  const message = stringProperty(error, 'message') ?? (isObject(error) ? '' : String(error));
  const cause = isObject(error) && levels > 1 ? readProperty(error, 'cause') : undefined;
  const Constructor: ErrorConstructor = BUILT_IN_ERROR.test(name)
    ? (globalThis as unknown as Record<string, ErrorConstructor>)[name]!
    : Error;
  const copy = new Constructor(
    redact(message, forms),
    cause === undefined ? undefined : { cause: sanitizeLevel(cause, forms, levels - 1) },
  );
  if (Constructor === Error) copy.name = redact(name, forms);
  const code = stringProperty(error, 'code');
  if (code !== undefined) Object.assign(copy, { code: redact(code, forms) });
  const stack = stringProperty(error, 'stack');
  // The original stack says where the failure happened, which the copy's own stack (made here) cannot.
  if (stack !== undefined) copy.stack = redact(stack, forms);
  return copy;
}

function isObject(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

/** Reads one property without trusting the object: a getter or a Proxy that throws counts as absent. */
function readProperty(value: unknown, key: string): unknown {
  if (!isObject(value)) return undefined;
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function stringProperty(value: unknown, key: string): string | undefined {
  const property = readProperty(value, key);
  return typeof property === 'string' ? property : undefined;
}

/** Forms kept beyond the current round's: those of about the last 8 secrets. */
const MAX_KEPT_FORMS = 8 * 5;

/**
 * The credential forms of one client's secrets, and the scrubbing done with them. One object, held by whoever reports
 * server text or foreign errors (the token request, the client), instead of a list shared and trimmed in place.
 */
export interface Redactor {
  /** Adds the forms of `secrets`, keeping those of the latest few secrets only (these included). */
  learn(secrets: readonly string[]): void;
  /** `text` with every known form replaced by {@link REDACTED}. */
  redact(text: string): string;
  /** A safe copy of a foreign error: see {@link sanitizeError}. */
  sanitize(error: unknown): Error;
  /** How many forms it holds: bounded however many secrets a provider hands out. */
  readonly size: number;
}

export function createRedactor(clientId: string): Redactor {
  let forms: readonly string[] = [];
  return {
    learn(secrets) {
      const added = secrets.flatMap((secret) => credentialForms(clientId, secret));
      // The newest last, each once: a provider may return a new secret every round, and the list (with the regex
      // built from it for every error) must not grow forever.
      const merged = [...forms.filter((form) => !added.includes(form)), ...added];
      forms = merged.slice(-Math.max(MAX_KEPT_FORMS, added.length));
    },
    redact: (text) => redact(text, forms),
    sanitize: (error) => sanitizeError(error, forms),
    get size() {
      return forms.length;
    },
  };
}
