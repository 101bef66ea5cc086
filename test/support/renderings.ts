import { inspect } from 'node:util';

/**
 * Every way an error (or any value) is commonly turned into text: util.inspect with hidden properties, String(),
 * JSON, and the message and stack of each level of its cause chain. A secret must be in none of them.
 */
export function renderings(value: unknown): string[] {
  const out = [inspect(value, { depth: Infinity, showHidden: true }), String(value)];
  try {
    out.push(JSON.stringify(value) ?? '');
  } catch {
    // circular values are fine: inspect covers them
  }
  for (let current = value, depth = 0; current instanceof Error && depth < 10; depth++) {
    out.push(current.message, current.stack ?? '');
    current = current.cause;
  }
  return out;
}
