// Each library the benchmark compares, set up against the bench token server, and called exactly the way its own
// README tells users to get a token: `call` is that one expression, and the benchmark runs it with no wrapper of
// its own (no extra `async` frame, no `await`, no property read of the result inside the measured call).
// Runtime-neutral: this file runs under Node, Deno and Bun (bench/runtime.mjs).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * @typedef {{ clientId: string, clientSecret: string, vanityDomain: string, tokenEndpoint: string }} Server
 * @typedef {{ bufferS?: number, fetch?: typeof fetch }} Options
 *   bufferS: seconds before expiry at which the client stops serving a token (each peer's equivalent, if any);
 *   fetch: an in-process fetch for token requests (the memory benchmark), where the library takes one.
 * @typedef {{ call: () => Promise<unknown>, token: (result: unknown) => string, dispose?: () => void,
 *   object?: { getToken(): Promise<unknown>, destroy?(): void } }} Instance
 *   object: what the library returns to its user, with the call on it (the memory benchmark keeps only that)
 * @typedef {{ name: string, short: string, call: string, setup: string, buffer: string,
 *   load: () => Promise<unknown>, create: (lib: any, server: Server, options?: Options) => Instance }} Peer
 * @type {Peer[]}
 */
export const PEERS = [
  {
    name: '@wristband/typescript-m2m-auth (this package)',
    short: 'this package',
    call: 'client.getToken()',
    setup: 'createWristbandM2MClient({ clientId, clientSecret, wristbandApplicationVanityDomain })',
    buffer: '`tokenExpirationBuffer` (seconds)',
    load: () => import('@wristband/typescript-m2m-auth'),
    create({ createWristbandM2MClient }, server, { bufferS, fetch } = {}) {
      const client = createWristbandM2MClient({
        clientId: server.clientId,
        clientSecret: server.clientSecret,
        wristbandApplicationVanityDomain: server.vanityDomain,
        ...(bufferS === undefined ? {} : { tokenExpirationBuffer: bufferS }),
        ...(fetch === undefined ? {} : { fetch }),
      });
      return { call: () => client.getToken(), token: (t) => t, dispose: () => client.destroy(), object: client };
    },
  },
  {
    name: '@wristband/node-m2m-auth 1.0.5',
    short: 'node-m2m-auth',
    call: 'client.getToken()',
    setup:
      'new WristbandM2MClient({ appDomain, clientId, clientSecret }) (CJS build; its ESM build does not load), its axios baseURL pointed at the local server',
    buffer: 'none: serves a token until `expires_in` runs out',
    load: async () => require('@wristband/node-m2m-auth'),
    create({ WristbandM2MClient }, server) {
      const client = new WristbandM2MClient({
        appDomain: 'unused.example',
        clientId: server.clientId,
        clientSecret: server.clientSecret,
      });
      client.tokenAPI.wristbandApiClient.axiosInstance.defaults.baseURL = `${server.vanityDomain}/api`;
      return { call: () => client.getToken(), token: (t) => t };
    },
  },
  {
    name: '@badgateway/oauth2-client 3.3.1',
    short: 'badgateway',
    call: 'fetchWrapper.getToken()',
    setup:
      "new OAuth2Fetch({ client: new OAuth2Client({ server, tokenEndpoint, clientId, clientSecret, authenticationMethod: 'client_secret_basic' }), getNewToken: () => client.clientCredentials() })",
    buffer: 'none: serves a token until `expires_in` runs out',
    load: () => import('@badgateway/oauth2-client'),
    create({ OAuth2Client, OAuth2Fetch }, server, { fetch } = {}) {
      const client = new OAuth2Client({
        server: server.vanityDomain,
        tokenEndpoint: '/api/v1/oauth2/token',
        clientId: server.clientId,
        clientSecret: server.clientSecret,
        authenticationMethod: 'client_secret_basic',
        ...(fetch === undefined ? {} : { fetch }),
      });
      const fetchWrapper = new OAuth2Fetch({ client, getNewToken: () => client.clientCredentials() });
      return { call: () => fetchWrapper.getToken(), token: (t) => t.accessToken, object: fetchWrapper };
    },
  },
  {
    name: '@azure/msal-node 7.2.1',
    short: 'msal-node',
    call: 'app.acquireTokenByClientCredential(request)',
    setup:
      'new ConfidentialClientApplication({ auth: { clientId, clientSecret, authority, knownAuthorities, authorityMetadata, cloudDiscoveryMetadata }, system: { networkClient } }): offline authority metadata, a network client forwarding its token POST to the local server',
    buffer:
      'fixed 300 s renewal offset (not configurable in msal-node 7); for a buffer of B s its forwarding network client adds 300 - B s to `expires_in`, so MSAL serves each token for lifetime - B s like the others',
    load: () => import('@azure/msal-node'),
    create({ ConfidentialClientApplication }, server, { bufferS } = {}) {
      const authorityHost = 'login.m2m-bench.example';
      const tenantUrl = `https://${authorityHost}/tenant`;
      const app = new ConfidentialClientApplication({
        auth: {
          clientId: server.clientId,
          clientSecret: server.clientSecret,
          authority: tenantUrl,
          knownAuthorities: [authorityHost],
          authorityMetadata: JSON.stringify({
            token_endpoint: `${tenantUrl}/oauth2/v2.0/token`,
            authorization_endpoint: `${tenantUrl}/oauth2/v2.0/authorize`,
            issuer: tenantUrl,
            end_session_endpoint: `${tenantUrl}/oauth2/v2.0/logout`,
            jwks_uri: `${tenantUrl}/discovery/v2.0/keys`,
          }),
          cloudDiscoveryMetadata: JSON.stringify({
            tenant_discovery_endpoint: `${tenantUrl}/v2.0/.well-known/openid-configuration`,
            'api-version': '1.1',
            metadata: [{ preferred_network: authorityHost, preferred_cache: authorityHost, aliases: [authorityHost] }],
          }),
        },
        system: {
          networkClient: forwardingNetworkClient(server, bufferS === undefined ? 0 : 300 - bufferS),
          loggerOptions: { logLevel: 0, piiLoggingEnabled: false },
        },
      });
      const request = { scopes: ['api://m2m-bench/.default'] };
      return { call: () => app.acquireTokenByClientCredential(request), token: (r) => r.accessToken };
    },
  },
];

/** MSAL's HTTPS calls, sent to the local token server (which accepts its client_secret_post) instead. */
function forwardingNetworkClient(server, addToExpiresIn) {
  return {
    async sendGetRequestAsync() {
      throw new Error('the benchmark gives MSAL offline metadata; it should not GET anything');
    },
    async sendPostRequestAsync(_url, options = {}) {
      const response = await fetch(server.tokenEndpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: options.body,
      });
      const body = await response.json();
      if (typeof body.expires_in === 'number') body.expires_in += addToExpiresIn;
      return { status: response.status, headers: Object.fromEntries(response.headers), body };
    },
  };
}
