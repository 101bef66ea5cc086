#!/usr/bin/env node
// `wristband-m2m token`: an M2M access token on the command line, for operators debugging an API:
//   curl -H "Authorization: Bearer $(npx wristband-m2m token)" https://api.example.com/...
// Node only, no dependency. It never prints the client secret.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createWristbandM2MClient, WristbandM2MError } from '../dist/index.js';
import { loadEnvFile } from './env-file.mjs';

const HELP = `Usage: wristband-m2m token [--json] [--env <path>]

Prints an access token of a Wristband machine-to-machine OAuth2 client, fetched with the
client-credentials grant, alone on stdout:

  curl -H "Authorization: Bearer $(npx wristband-m2m token)" https://api.example.com/v1/reports

Credentials come from the environment:
  CLIENT_ID                   the OAuth2 client's ID
  CLIENT_SECRET               the OAuth2 client's secret (never printed)
  APPLICATION_VANITY_DOMAIN   the application's vanity domain, such as acme.us.wristband.dev

Options:
  --json              print {"access_token": "...", "expires_at": "<ISO 8601 time>"} instead
  --env <path>        read the variables from this file first (default: ./.env when it exists);
                      a variable already set in the environment wins, as with node --env-file
  --env-file <path>   the same; but Node itself reads --env-file anywhere on its command line
                      and ends at once with its own message (exit 9) when the file is missing
  -h, --help          print this help

Exit status: 0 with a token; 1 when no token could be had (the error code and message go to
stderr, e.g. "TOKEN_ENDPOINT_HTTP_ERROR (HTTP 401): ..."); 2 for a usage error.
`;

const VARIABLES = ['CLIENT_ID', 'CLIENT_SECRET', 'APPLICATION_VANITY_DOMAIN'];

/** Prints one line to stderr, with any occurrence of the secret blanked out, and sets the exit status. */
function fail(line, status, secret) {
  process.stderr.write(`wristband-m2m: ${secret ? line.replaceAll(secret, '[client secret]') : line}\n`);
  process.exitCode = status;
}

/**
 * One line of JSON and a newline, spaced as README.md and --help show it: {"access_token": "...", "expires_at": "..."}
 * (`JSON.stringify(value)` alone leaves no space after `:` and `,`; with an indent it spreads over several lines).
 */
function jsonLine(fields) {
  const members = Object.entries(fields).map(([name, value]) => `${JSON.stringify(name)}: ${JSON.stringify(value)}`);
  return `{${members.join(', ')}}\n`;
}

// A write to stdout or stderr can fail after the fact, as an 'error' event on the stream; unhandled, that event ends
// the process with a stack trace and status 1. EPIPE means the reader went away (`wristband-m2m token | true`, a
// closed pager): the token was produced, and whoever closed the pipe chose not to read it, so nothing is printed
// and the exit status stays what it was: 0 with a token, 1 or 2 after a failure. Dying of SIGPIPE (status 141), as
// C tools do, would make the status depend on a race: a reader that leaves just after the write, rather than just
// before it, gets status 0 from the same command, and under `set -o pipefail` that would fail pipelines at random.
// Any other error (`> /dev/full`: ENOSPC) means the output was lost where it was wanted: said on stderr, status 1.
process.stdout.on('error', (error) => {
  if (error.code !== 'EPIPE') fail(`cannot write to stdout: ${error.code ?? error.message}`, 1);
});
// With stderr gone there is nowhere left to report anything; the exit status still tells.
process.stderr.on('error', () => undefined);

async function main() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        // --env first: Node scans its whole command line for --env-file (ours included) before the CLI runs.
        env: { type: 'string' },
        'env-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return fail(`${error.message}\nRun "wristband-m2m --help" for usage.`, 2);
  }
  const { values, positionals } = parsed;
  if (values.help) return void process.stdout.write(HELP);
  if (positionals.length !== 1 || positionals[0] !== 'token') {
    const got = positionals.length === 0 ? 'no command' : `"${positionals.join(' ')}"`;
    return fail(`expected the command "token", got ${got}.\nRun "wristband-m2m --help" for usage.`, 2);
  }

  if (values.env !== undefined && values['env-file'] !== undefined) {
    return fail('give --env or --env-file, not both.\nRun "wristband-m2m --help" for usage.', 2);
  }
  const envFile = values.env ?? values['env-file'] ?? (existsSync('.env') ? '.env' : undefined);
  if (envFile !== undefined) {
    const problem = loadEnvFile(envFile);
    if (problem !== undefined) return fail(`cannot read the env file ${envFile}: ${problem}`, 2);
  }
  const missing = VARIABLES.filter((name) => !process.env[name]);
  if (missing.length > 0) {
    const where = envFile === undefined ? 'the environment (or an env file: --env)' : `the environment or ${envFile}`;
    return fail(`${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set in ${where}.`, 2);
  }
  const { CLIENT_ID, CLIENT_SECRET, APPLICATION_VANITY_DOMAIN } = process.env;

  let expiresAt;
  try {
    const client = createWristbandM2MClient({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      wristbandApplicationVanityDomain: APPLICATION_VANITY_DOMAIN,
      tokenExpirationBuffer: 0, // so expiresAt is the token's own expiry (counted from when the request was sent)
      onTokenRefreshed: (event) => {
        expiresAt = event.expiresAt;
      },
    });
    const token = await client.getToken();
    client.destroy();
    process.stdout.write(
      values.json ? jsonLine({ access_token: token, expires_at: new Date(expiresAt).toISOString() }) : `${token}\n`,
    );
  } catch (error) {
    if (error instanceof WristbandM2MError) {
      const status = error.status === undefined ? '' : ` (HTTP ${error.status})`;
      return fail(`${error.code}${status}: ${error.message}`, 1, CLIENT_SECRET);
    }
    return fail(`unexpected error: ${error instanceof Error ? error.message : String(error)}`, 1, CLIENT_SECRET);
  }
}

await main();
