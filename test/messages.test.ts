// Messages that say what to do (issue 21 item 7): each names the option or the fix, never a secret's value.
import { describe, expect, it } from 'vitest';
import { createWristbandM2MClient, type WristbandM2MClientConfig, type WristbandM2MError } from '../src/index.js';
import { settle } from './support/msw.js';
import { creationError } from './support/config-error.js';

const SECRET = 'wh1tespace-s3cret';
const base: WristbandM2MClientConfig = {
  clientId: 'client-id',
  clientSecret: SECRET,
  wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
};

const configError = (overrides: Record<string, unknown>) => creationError({ ...base, ...overrides });

/** The error of one getToken() whose fetch throws `thrown`, with `domain` as the vanity domain. */
async function unreachable(domain: string, thrown: unknown): Promise<WristbandM2MError> {
  const client = createWristbandM2MClient({
    ...base,
    wristbandApplicationVanityDomain: domain,
    fetch: async () => {
      throw thrown;
    },
  });
  const { error } = await settle(client.getToken());
  client.destroy();
  expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_UNREACHABLE', attempts: 1 });
  return error as WristbandM2MError;
}

/** What Deno's fetch throws without --allow-net: `Deno.errors.NotCapable` (`PermissionDenied` before Deno 2). */
function denoDenial(name: string, host: string): Error {
  const error = new Error(`Requires net access to "${host}", run again with the --allow-net flag`);
  error.name = name;
  return error;
}

describe('leading or trailing whitespace (a line break read from a file)', () => {
  it.each([
    ['clientId', 'client-id\n'],
    ['clientId', ' client-id'],
    ['clientSecret', `${SECRET}\n`],
    ['clientSecret', `${SECRET}\r\n`],
    ['clientSecret', `\t${SECRET}`],
    ['wristbandApplicationVanityDomain', 'acme.us.wristband.dev\n'],
  ])('%s %j is INVALID_CONFIG naming the option and the problem, never the value', (option, value) => {
    const error = configError({ [option]: value });
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe(
      `Invalid Wristband M2M client config: \`${option}\` has surrounding whitespace (a line break from a file?): ` +
        'trim it.',
    );
    expect(error.message).not.toContain(value.trim());
  });

  it('names the position of a list entry with whitespace, never its value', () => {
    const error = configError({ clientSecret: [SECRET, 'other-s3cret\n'] });
    expect(error.message).toBe(
      'Invalid Wristband M2M client config: `clientSecret` has an entry at index 1 that has surrounding whitespace ' +
        '(a line break from a file?): trim it.',
    );
    expect(error.message).not.toContain('s3cret');
  });

  it('from a clientSecret function is CLIENT_SECRET_UNAVAILABLE, and no token request is sent', async () => {
    let requests = 0;
    const client = createWristbandM2MClient({
      ...base,
      clientSecret: async () => `${SECRET}\n`,
      fetch: async () => {
        requests++;
        return Response.json({ access_token: 't', token_type: 'Bearer', expires_in: 3600 });
      },
    });
    const { error } = await settle(client.getToken());
    client.destroy();
    expect(error).toMatchObject({ code: 'CLIENT_SECRET_UNAVAILABLE' });
    expect((error as Error).message).toMatch(
      /^The clientSecret function returned a value that has surrounding whitespace/,
    );
    expect((error as Error).message).not.toContain('s3cret');
    expect(requests).toBe(0);
  });

  it('inside a value is not this check: a secret may hold spaces, and is sent as it is', () => {
    expect(() => createWristbandM2MClient({ ...base, clientSecret: 'with inner space' })).not.toThrow();
  });
});

describe('a vanity domain given without a scheme', () => {
  it('says https:// was assumed when a loopback host cannot be reached, and what to write instead', async () => {
    const error = await unreachable('localhost:8080', new TypeError('fetch failed'));
    expect(error.message).toBe(
      'Could not reach https://localhost:8080/api/v1/oauth2/token; https:// was assumed: for http, give ' +
        '"http://localhost:8080".',
    );
    expect(error.cause).toMatchObject({ name: 'TypeError', message: 'fetch failed' });
    for (const host of ['127.0.0.1:3000', '[::1]:3000']) {
      expect((await unreachable(host, new TypeError('fetch failed'))).message).toContain(`give "http://${host}"`);
    }
  });

  it('says nothing of it when the scheme was given, or for a host that only https:// may reach', async () => {
    for (const domain of ['https://localhost:8080', 'http://localhost:8080', 'acme.us.wristband.dev']) {
      const error = await unreachable(domain, new TypeError('fetch failed'));
      expect(error.message).toMatch(/; check the vanity domain, DNS and outbound network access\.$/);
      expect(error.message).not.toContain('assumed');
    }
  });
});

describe('a Deno permission denial', () => {
  it.each(['NotCapable', 'PermissionDenied'])('(%s) says to grant --allow-net for the host', async (name) => {
    const error = await unreachable('acme.us.wristband.dev', denoDenial(name, 'acme.us.wristband.dev:443'));
    expect(error.message).toBe(
      'Deno denied access to acme.us.wristband.dev: grant it with --allow-net=acme.us.wristband.dev.',
    );
    expect(error.cause).toMatchObject({ name });
  });

  it('names the port when the endpoint has one', async () => {
    const error = await unreachable('http://127.0.0.1:8089', denoDenial('NotCapable', '127.0.0.1:8089'));
    expect(error.message).toBe('Deno denied access to 127.0.0.1:8089: grant it with --allow-net=127.0.0.1:8089.');
  });
});

describe('getToken({ signal }) with something that is not an AbortSignal', () => {
  it.each([
    ['an object', {}],
    ['null', null],
    ['a string', 'abort'],
    ['an object', { aborted: true }],
    ['an object', new AbortController()],
  ])('(%s) rejects with INVALID_CONFIG naming `signal`, and sends nothing', async (kind, signal) => {
    let requests = 0;
    const client = createWristbandM2MClient({
      ...base,
      fetch: async () => {
        requests++;
        return Response.json({ access_token: 't', token_type: 'Bearer', expires_in: 3600 });
      },
    });
    const { error } = await settle(client.getToken({ signal: signal as unknown as AbortSignal }));
    client.destroy();
    expect(error).toMatchObject({ code: 'INVALID_CONFIG' });
    expect((error as Error).message).toBe(`getToken(): \`signal\` is not an AbortSignal (got ${kind}).`);
    expect(requests).toBe(0);
  });

  it('still takes a real AbortSignal, and undefined', async () => {
    const client = createWristbandM2MClient({
      ...base,
      fetch: async () => Response.json({ access_token: 't', token_type: 'Bearer', expires_in: 3600 }),
    });
    expect(await client.getToken({ signal: new AbortController().signal })).toBe('t');
    expect(await client.getToken({ signal: undefined })).toBe('t');
    // With a fresh token cached, a bad signal is still refused, not ignored until a refresh is due.
    await expect(client.getToken({ signal: {} as AbortSignal })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    client.destroy();
  });
});
