import { afterEach, describe, expect, it, vi } from 'vitest';
import { isLoopbackHost, resolveConfig, tokenEndpointFor, type WristbandM2MClientConfig } from '../src/config.js';
import { createWristbandM2MClient } from '../src/index.js';
import { creationError } from './support/config-error.js';

const base: WristbandM2MClientConfig = {
  clientId: 'id',
  clientSecret: 'secret-value-123',
  wristbandApplicationVanityDomain: 'acme.us.wristband.dev',
};

const configError = (overrides: Record<string, unknown>) => creationError({ ...base, ...overrides });

describe('required options', () => {
  it.each(['clientId', 'clientSecret', 'wristbandApplicationVanityDomain'])(
    '%s must be a non-blank string',
    (option) => {
      for (const bad of [undefined, null, '', '   ', '\n', 42, {}]) {
        const error = configError({ [option]: bad });
        expect(error.code).toBe('INVALID_CONFIG');
        expect(error.message).toContain(`\`${option}\``);
      }
    },
  );

  it('rejects a config that is not an object', () => {
    for (const bad of [undefined, null, 'acme', 3]) {
      expect(() => createWristbandM2MClient(bad as never)).toThrow(/`config` must be an object/);
    }
  });

  it('never echoes a value put in the wrong option', () => {
    const error = configError({ tokenExpirationBuffer: 'secret-value-123' });
    expect(error.message).toContain('got a string');
    expect(error.message).not.toContain('secret-value-123');
  });

  it.each([
    ['clientSecret', 987654321, 'got a number'],
    ['clientId', 123456789, 'got a number'],
    ['clientSecret', ['s3cr3t-in-an-array', 987654321], 'got a number'],
    ['clientSecret', { value: 's3cr3t-in-an-object' }, 'got an object'],
    ['clientSecret', true, 'got a boolean'],
    ['clientSecret', 12345678901234567890n, 'got a bigint'],
    ['tokenRequestTimeout', 987654321, 'got a number'],
    ['tokenStoreEncryption', 'yes-s3cr3t', 'got a string'],
    ['fetch', 424242, 'got a number'],
  ])('never prints the value of %s, whatever its type (%s)', (option, value, kind) => {
    const error = configError({ [option]: value });
    expect(error.message).toContain(`(${kind})`);
    for (const shown of [String(value), JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? String(v) : v))]) {
      expect(error.message).not.toContain(shown);
    }
    expect(error.message).not.toContain('s3cr3t');
  });
});

describe('unknown options', () => {
  it.each([
    ['tokenExpiryBuffer', 'tokenExpirationBuffer'],
    ['tokenExpirationBufer', 'tokenExpirationBuffer'],
    ['clientID', 'clientId'],
    ['client_secret', 'clientSecret'],
    ['requestTimeout', 'tokenRequestTimeout'],
    ['backgroundRefreshInterval', 'backgroundTokenRefreshInterval'],
    ['vanityDomain', 'wristbandApplicationVanityDomain'],
    ['applicationVanityDomain', 'wristbandApplicationVanityDomain'],
    ['onTokenRefresh', 'onTokenRefreshed'],
    ['tokenstore', 'tokenStore'],
  ])('rejects %s and suggests %s', (typo, meant) => {
    const error = configError({ [typo]: 60 });
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe(
      `Invalid Wristband M2M client config: \`${typo}\` is not an option. Did you mean \`${meant}\`?`,
    );
  });

  it("answers @wristband/node-m2m-auth's config, pasted as it was, with our name for appDomain", () => {
    const error = creationError({ appDomain: 'acme.us.wristband.dev', clientId: 'id', clientSecret: 'secret-123' });
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe(
      "Invalid Wristband M2M client config: `appDomain` is not an option. @wristband/node-m2m-auth's appDomain is " +
        '`wristbandApplicationVanityDomain` here.',
    );
  });

  it('rejects a name nothing is close to, without a suggestion', () => {
    const error = configError({ retries: 5 });
    expect(error.message).toBe('Invalid Wristband M2M client config: `retries` is not an option.');
  });

  it('rejects an unknown option even when its value is undefined, and never prints its value', () => {
    expect(configError({ tokenExpiryBuffer: undefined }).message).toContain('`tokenExpiryBuffer`');
    expect(configError({ secretValue: 'do-not-print-me' }).message).not.toContain('do-not-print-me');
  });

  it('accepts every documented option', () => {
    const all: Required<WristbandM2MClientConfig> = {
      ...base,
      tokenExpirationBuffer: 3600,
      backgroundTokenRefreshInterval: 86_400,
      tokenRequestTimeout: 300,
      onBackgroundRefreshError: () => undefined,
      onTokenRefreshed: () => undefined,
      onTokenRefreshFailed: () => undefined,
      tokenStore: { get: async () => null, set: async () => undefined, delete: async () => undefined },
      tokenStoreEncryption: true,
      tokenStoreTimeout: 60,
      tokenStoreLockWait: 300,
      onTokenStoreError: () => undefined,
      dangerouslyAllowBrowser: false,
      fetch: async () => new Response(),
    };
    expect(() => resolveConfig(all)).not.toThrow();
  });
});

describe('wristbandApplicationVanityDomain', () => {
  it.each([
    ['acme.us.wristband.dev', 'https://acme.us.wristband.dev/api/v1/oauth2/token'],
    ['https://acme.us.wristband.dev', 'https://acme.us.wristband.dev/api/v1/oauth2/token'],
    ['https://acme.us.wristband.dev/', 'https://acme.us.wristband.dev/api/v1/oauth2/token'],
    ['HTTPS://Acme.US.Wristband.dev/', 'https://acme.us.wristband.dev/api/v1/oauth2/token'],
    ['acme.us.wristband.dev:8443', 'https://acme.us.wristband.dev:8443/api/v1/oauth2/token'],
    ['https://acme.us.wristband.dev:443', 'https://acme.us.wristband.dev/api/v1/oauth2/token'],
    ['bücher.example', 'https://xn--bcher-kva.example/api/v1/oauth2/token'],
    ['[2001:db8::1]', 'https://[2001:db8::1]/api/v1/oauth2/token'],
    ['http://localhost:8080', 'http://localhost:8080/api/v1/oauth2/token'],
    ['http://127.0.0.1:3001/', 'http://127.0.0.1:3001/api/v1/oauth2/token'],
    ['http://127.9.8.7', 'http://127.9.8.7/api/v1/oauth2/token'],
    ['http://[::1]:9000', 'http://[::1]:9000/api/v1/oauth2/token'],
    ['HTTP://LOCALHOST:1', 'http://localhost:1/api/v1/oauth2/token'],
    ['HtTpS://acme.us.wristband.dev', 'https://acme.us.wristband.dev/api/v1/oauth2/token'],
    ['http://127.1:8080', 'http://127.0.0.1:8080/api/v1/oauth2/token'],
    ['http://0x7f.0.0.1', 'http://127.0.0.1/api/v1/oauth2/token'],
    ['http://[0:0:0:0:0:0:0:1]', 'http://[::1]/api/v1/oauth2/token'],
    ['https://[2001:DB8::1]:8443/', 'https://[2001:db8::1]:8443/api/v1/oauth2/token'],
    ['ACME。us。wristband。dev', 'https://acme.us.wristband.dev/api/v1/oauth2/token'],
    ['acme.us.wristband.dev.', 'https://acme.us.wristband.dev./api/v1/oauth2/token'],
  ])('accepts %s', (domain, endpoint) => {
    expect(tokenEndpointFor(domain)).toBe(endpoint);
  });

  it.each([
    ['http://acme.us.wristband.dev', /only sent over HTTPS/],
    ['http://10.0.0.1:8080', /only sent over HTTPS/],
    ['http://localhost.evil.com', /only sent over HTTPS/],
    ['http://127.0.0.1.nip.io', /only sent over HTTPS/],
    ['http://[::2]', /only sent over HTTPS/],
    ['ftp://acme.us.wristband.dev', /scheme "ftp:\/\/"/],
    ['acme.us.wristband.dev/api/v1', /has a path/],
    ['https://acme.us.wristband.dev/api/v1/oauth2/token', /has a path/],
    ['acme.us.wristband.dev?x=1', /has a path, query/],
    ['acme.us.wristband.dev#frag', /fragment/],
    ['https://user@acme.us.wristband.dev', /user info/],
    ['https://user:pass@acme.us.wristband.dev', /user info/],
    ['https://acme.us.wristband.dev//', /has a path/],
    ['acme .us.wristband.dev', /whitespace/],
    [' acme.us.wristband.dev', /whitespace/],
    ['acme.us.wristband.dev\n', /whitespace/],
    ['https://', /has no host/],
    ['https:///', /has no host/],
    ['acme.us.wristband.dev:99999', /not a valid host/],
    ['[::1', /not a valid host/],
    ['http://[::ffff:127.0.0.1]', /only sent over HTTPS/],
    ['http://localhost.', /only sent over HTTPS/],
    ['HTTP://ACME.US.WRISTBAND.DEV', /only sent over HTTPS/],
    ['https://acme.us.wristband.dev\\@evil.example', /has a path/],
    ['https://evil.example#@acme.us.wristband.dev', /fragment/],
    ['https:/acme.us.wristband.dev', /has a path/],
    ['//acme.us.wristband.dev', /has a path/],
    ['acme.us.wristband.dev\t', /whitespace/],
    ['acme.us.wristband.dev\u00a0', /whitespace/],
    ['javascript://acme.us.wristband.dev', /scheme "javascript:\/\/"/],
    ['a b', /whitespace/],
    ['exa mple.com', /whitespace/],
    ['xn--zz.example:0x50', /not a valid host/],
  ])('rejects %j', (domain, message) => {
    const error = configError({ wristbandApplicationVanityDomain: domain });
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toContain('`wristbandApplicationVanityDomain`');
    expect(error.message).toMatch(message);
  });

  it('recognises exactly the loopback hosts', () => {
    for (const host of ['localhost', '127.0.0.1', '127.255.255.254', '[::1]']) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['localhost.com', '128.0.0.1', '[::2]', '0.0.0.0', '1127.0.0.1']) {
      expect(isLoopbackHost(host)).toBe(false);
    }
  });
});

describe('numeric options', () => {
  it('applies the documented defaults', () => {
    const resolved = resolveConfig(base);
    expect(resolved.expirationBufferMs).toBe(60_000);
    expect(resolved.backgroundRefreshIntervalMs).toBeUndefined();
    expect(resolved.requestTimeoutMs).toBe(10_000);
    expect(resolved.requestTimeoutMs).toBeLessThanOrEqual(30_000);
  });

  it('converts seconds, fractions included', () => {
    const resolved = resolveConfig({
      ...base,
      tokenExpirationBuffer: 0,
      backgroundTokenRefreshInterval: 60,
      tokenRequestTimeout: 0.25,
    });
    expect(resolved.expirationBufferMs).toBe(0);
    expect(resolved.backgroundRefreshIntervalMs).toBe(60_000);
    expect(resolved.requestTimeoutMs).toBe(250);
  });

  it.each([
    ['tokenExpirationBuffer', -1],
    ['tokenExpirationBuffer', Number.NaN],
    ['tokenExpirationBuffer', Infinity],
    ['tokenExpirationBuffer', '60'],
    ['backgroundTokenRefreshInterval', 59.9],
    ['backgroundTokenRefreshInterval', 0],
    ['backgroundTokenRefreshInterval', null],
    ['backgroundTokenRefreshInterval', 3_000_000],
    ['tokenRequestTimeout', 0],
    ['tokenRequestTimeout', -5],
    ['tokenRequestTimeout', Number.NaN],
    ['tokenRequestTimeout', 3_000_000],
    ['tokenExpirationBuffer', 3600.5],
    ['backgroundTokenRefreshInterval', 86_401],
    ['tokenRequestTimeout', 300.1],
    ['tokenStoreTimeout', 60.5],
    ['tokenStoreTimeout', 0],
    ['tokenStoreLockWait', 301],
    ['tokenStoreLockWait', -1],
  ])('rejects %s = %s', (option, value) => {
    const error = configError({ [option]: value });
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toContain(`\`${option}\``);
  });

  it.each([
    ['tokenExpirationBuffer', 3600, 60_000, 60],
    ['backgroundTokenRefreshInterval', 86_400, 300_000, 300],
    ['tokenRequestTimeout', 300, 10_000, 10],
    ['tokenStoreTimeout', 60, 1_500, 1.5],
    ['tokenStoreLockWait', 300, 5_000, 5],
  ])('%s is at most %s seconds, and a value in milliseconds gets a hint', (option, max, milliseconds, seconds) => {
    expect(() => resolveConfig({ ...base, [option]: max })).not.toThrow();
    const error = configError({ [option]: milliseconds });
    expect(error.message).toContain(`at most ${max} seconds (got a number).`);
    expect(error.message).toContain(`The unit is seconds: did you mean ${seconds}?`);
    expect(error.message).not.toContain(String(milliseconds));
  });

  it('gives no milliseconds hint when the value divided by 1000 would still be out of range', () => {
    for (const [option, value] of [
      ['tokenRequestTimeout', 987_654_321],
      ['tokenExpirationBuffer', 3_700_000],
    ] as const) {
      const error = configError({ [option]: value });
      expect(error.message).toContain('(got a number).');
      expect(error.message).not.toContain('did you mean');
    }
  });

  it('describes every bad value in one style: "got a number", "got a string", never the value', () => {
    expect(configError({ tokenRequestTimeout: -5 }).message).toBe(
      'Invalid Wristband M2M client config: `tokenRequestTimeout` must be greater than 0 and at most 300 seconds ' +
        '(got a number).',
    );
    expect(configError({ tokenRequestTimeout: '10' }).message).toContain('(got a string)');
    expect(configError({ tokenRequestTimeout: Number.NaN }).message).toContain('(got NaN)');
    expect(configError({ tokenRequestTimeout: Infinity }).message).toContain('(got an infinite number)');
    expect(configError({ tokenRequestTimeout: null }).message).toContain('(got null)');
    expect(configError({ clientId: '' }).message).toContain('(got an empty string)');
    expect(configError({ clientId: '  ' }).message).toContain('(got a blank string)');
    expect(configError({ clientId: undefined }).message).toContain('(got undefined)');
    expect(configError({ fetch: {} }).message).toContain('(got an object)');
  });

  it.each([
    ['fetch', 'not a function'],
    ['onBackgroundRefreshError', 42],
  ])('rejects %s that is not a function', (option, value) => {
    expect(configError({ [option]: value }).message).toContain(`\`${option}\` must be a function`);
  });
});

describe('the browser guard', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('refuses to create a client where window and document exist, and says why', () => {
    vi.stubGlobal('window', {});
    vi.stubGlobal('document', {});
    const error = configError({});
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toContain('`dangerouslyAllowBrowser`');
    expect(error.message).toMatch(/anyone can read the client secret/);
  });

  it('allows it with dangerouslyAllowBrowser: true', () => {
    vi.stubGlobal('window', {});
    vi.stubGlobal('document', {});
    expect(() => createWristbandM2MClient({ ...base, dangerouslyAllowBrowser: true })).not.toThrow();
  });

  it('is not fooled by a window without a document (Deno 1) or by neither (servers, Workers)', () => {
    vi.stubGlobal('window', {});
    expect(() => createWristbandM2MClient(base)).not.toThrow();
    vi.unstubAllGlobals();
    expect(() => createWristbandM2MClient(base)).not.toThrow();
  });
});
