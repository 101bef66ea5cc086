// Env files for the CLI and the demo, read by our own parser: process.loadEnvFile arrived in Node 20.12 and the
// package supports Node 20.0 and later.
import { readFileSync } from 'node:fs';

const ASSIGNMENT = /^\s*(?:export\s+)?([\w.-]+)\s*=\s*(.*)$/;
const QUOTES = ['"', "'", '`'];

/**
 * The variables of an env file, in the dialect `node --env-file` and dotenv read (our own parser, because
 * process.loadEnvFile arrived in Node 20.12 and the package supports Node 20.0 and later):
 * - one NAME=value a line, with an optional `export ` in front and spaces allowed around `=`; blank lines, lines
 *   starting with # and any other line that is not an assignment are skipped; a later line wins over an earlier one;
 * - a value in single, double or back quotes is taken as written, and may span lines; in double quotes, \n stands
 *   for a newline; what follows the closing quote (a comment, normally) is ignored;
 * - an unquoted value is trimmed, and a # at its start or after a space starts a comment; a # inside a word (in a
 *   generated secret, say) is kept, where node --env-file would cut the value there.
 * @param {string} text
 * @returns {Map<string, string> | string} the variables, or what is wrong with the file (never a value from it)
 */
export function parseEnvFile(text) {
  const variables = new Map();
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const assignment = ASSIGNMENT.exec(lines[i]);
    if (assignment === null) continue;
    const [, name, rest] = assignment;
    const quote = rest[0];
    if (!QUOTES.includes(quote)) {
      variables.set(name, rest.replace(/(^|\s)#.*/, '').trim());
      continue;
    }
    const opening = i + 1;
    let quoted = rest.slice(1);
    let end = quoted.indexOf(quote);
    while (end < 0 && i + 1 < lines.length) {
      quoted += `\n${lines[++i]}`;
      end = quoted.indexOf(quote);
    }
    if (end < 0) return `line ${opening}: the value of ${name} opens a ${quote} quote that is never closed.`;
    const value = quoted.slice(0, end);
    variables.set(name, quote === '"' ? value.replaceAll('\\n', '\n') : value);
  }
  return variables;
}

/**
 * Sets the variables of an env file that the environment does not already have (as `node --env-file` does).
 * @param {string} path
 * @returns {string | undefined} what went wrong, or nothing
 */
export function loadEnvFile(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return error.code === 'ENOENT' ? 'it does not exist.' : `${error.code ?? error.message}`;
  }
  const variables = parseEnvFile(text);
  if (typeof variables === 'string') return variables;
  for (const [name, value] of variables) {
    if (process.env[name] === undefined) process.env[name] = value;
  }
  return undefined;
}
