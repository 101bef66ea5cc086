/**
 * Which client secret to send: a fixed list tried in order with the one that last worked first, or a provider
 * function (a secrets manager) asked once per token round. Nothing here ever puts a secret's value in a message.
 */
import { describeValue, WHITESPACE_AROUND as PADDED, WristbandM2MError } from '../errors.js';
import { within } from '../timers.js';

/** One secret, a list tried in order, or a function returning either (sync or async), called once per token round. */
export type ClientSecret =
  | string
  | readonly string[]
  | (() => string | readonly string[] | Promise<string | readonly string[]>);

/**
 * What is wrong with `value` as a list of secrets, or `undefined` if it is usable: a non-empty string, or a
 * non-empty array of distinct non-blank strings. The problem names positions, never values.
 */
export function secretListProblem(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? 'is blank' : value.trim() === value ? undefined : PADDED;
  if (!Array.isArray(value)) return `is not a string or an array of strings (got ${describeValue(value)})`;
  if (value.length === 0) return 'is an empty list';
  for (let index = 0; index < value.length; index++) {
    const entry: unknown = value[index];
    if (typeof entry !== 'string') return `has a non-string entry at index ${index} (got ${describeValue(entry)})`;
    if (entry.trim() === '') return `has a blank entry at index ${index}`;
    if (entry.trim() !== entry) return `has an entry at index ${index} that ${PADDED}`;
    const first = value.indexOf(entry);
    if (first !== index) return `has the same secret at index ${first} and ${index}`;
  }
  return undefined;
}

/** The secrets of a list or a single string, as a list. Assumes {@link secretListProblem} found nothing. */
export function asSecretList(value: string | readonly string[]): readonly string[] {
  return typeof value === 'string' ? [value] : value;
}

/**
 * The order in which to try `secrets`: the one equal to `lastWorked` first when the list still holds it, then the
 * others in their configured order. Positions, so events can report where the working secret sits in the list.
 */
export function secretOrder(secrets: readonly string[], lastWorked: string | undefined): number[] {
  const first = lastWorked === undefined ? -1 : secrets.indexOf(lastWorked);
  const order = secrets.map((_, index) => index);
  if (first > 0) order.unshift(...order.splice(first, 1));
  return order;
}

/**
 * Asks a secret provider for this round's secrets, bounded by `timeoutMs`. A throw, a rejection, a hang or an
 * unusable answer becomes `CLIENT_SECRET_UNAVAILABLE`; the provider's error is reduced to its name, since its
 * message may quote a secret.
 */
export async function callSecretProvider(
  provider: () => string | readonly string[] | Promise<string | readonly string[]>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<readonly string[]> {
  const timeout = unavailable(`did not answer within tokenRequestTimeout (${timeoutMs / 1000} s)`);
  let answer: unknown;
  try {
    // The round's abort (destroy(), a round given up) ends the wait at once, so no timer outlives the client.
    answer = await within(provider, timeoutMs, () => timeout, signal);
  } catch (error) {
    // Only our own timeout and the round's abort pass as they are. A provider's WristbandM2MError (one built on
    // another client) is still the provider failing: it becomes CLIENT_SECRET_UNAVAILABLE like any other error.
    if (error === timeout || (signal?.aborted && error === signal.reason)) throw error;
    throw unavailable('threw or rejected', { name: error instanceof Error ? error.name : describeValue(error) });
  }
  // A duplicate in a runtime answer is harmless (a secrets manager's current and previous versions are equal
  // between rotations): the first of each is kept. In a static list it stays a config error: a typo, most likely.
  const distinct = Array.isArray(answer) ? [...new Set(answer)] : answer;
  const problem = secretListProblem(distinct);
  if (problem !== undefined) throw unavailable(`returned a value that ${problem}`);
  return asSecretList(distinct as string | readonly string[]);
}

function unavailable(problem: string, cause?: { name: string }): WristbandM2MError {
  return new WristbandM2MError(
    'CLIENT_SECRET_UNAVAILABLE',
    `The clientSecret function ${problem}; no token request was sent. Check the secrets manager it reads.`,
    cause === undefined ? {} : { cause },
  );
}
