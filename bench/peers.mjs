// Each library the benchmark compares, set up against the local token server and reduced to one async function
// that returns an access token, the way a user calls it before each downstream request.
import { createRequire } from 'node:module';
import { createWristbandM2MClient } from '@wristband/typescript-m2m-auth';

const require = createRequire(import.meta.url);

/**
 * @typedef {{ clientId: string, clientSecret: string, vanityDomain: string, tokenEndpoint: string }} Server
 * @typedef {{ getToken: () => Promise<string>, dispose?: () => void }} Peer
 * @type {{ name: string, note: string, create: (server: Server) => Peer }[]}
 */
export const PEERS = [
  {
    name: '@wristband/typescript-m2m-auth (this package)',
    note: 'client.getToken()',
    create(server) {
      const client = createWristbandM2MClient({
        clientId: server.clientId,
        clientSecret: server.clientSecret,
        wristbandApplicationVanityDomain: server.vanityDomain,
      });
      return { getToken: () => client.getToken(), dispose: () => client.destroy() };
    },
  },
  {
    name: '@wristband/node-m2m-auth 1.0.5',
    note: 'the predecessor; CJS build, its axios baseURL pointed at the local server',
    create(server) {
      // Its ESM build does not load (extensionless imports); the CJS build does.
      const { WristbandM2MClient } = require('@wristband/node-m2m-auth');
      const client = new WristbandM2MClient({
        appDomain: 'unused.example',
        clientId: server.clientId,
        clientSecret: server.clientSecret,
      });
      client.tokenAPI.wristbandApiClient.axiosInstance.defaults.baseURL = `${server.vanityDomain}/api`;
      return { getToken: () => client.getToken() };
    },
  },
  {
    name: '@badgateway/oauth2-client 3.3.1',
    note: 'OAuth2Fetch.getToken() with getNewToken: client.clientCredentials()',
    create(server) {
      const { OAuth2Client, OAuth2Fetch } = require('@badgateway/oauth2-client');
      const client = new OAuth2Client({
        server: server.vanityDomain,
        tokenEndpoint: '/api/v1/oauth2/token',
        clientId: server.clientId,
        clientSecret: server.clientSecret,
        authenticationMethod: 'client_secret_basic',
      });
      const wrapper = new OAuth2Fetch({ client, getNewToken: () => client.clientCredentials() });
      return { getToken: async () => (await wrapper.getToken()).accessToken };
    },
  },
  {
    name: '@azure/msal-node 7.2.1',
    note: 'acquireTokenByClientCredential(); offline authority metadata, a network client forwarding to the local server',
    create(server) {
      const { ConfidentialClientApplication } = require('@azure/msal-node');
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
        system: { networkClient: forwardingNetworkClient(server), loggerOptions: { logLevel: 0, piiLoggingEnabled: false } },
      });
      const request = { scopes: ['api://m2m-bench/.default'] };
      return { getToken: async () => (await app.acquireTokenByClientCredential(request)).accessToken };
    },
  },
];

/**
 * MSAL's HTTPS calls, sent to the local token server instead. MSAL posts the credentials in the body
 * (client_secret_post); the local server, like Wristband, takes them as HTTP Basic, so they are moved there.
 */
function forwardingNetworkClient(server) {
  const respond = async (response) => ({
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.json(),
  });
  return {
    async sendGetRequestAsync() {
      throw new Error('the benchmark gives MSAL offline metadata; it should not GET anything');
    },
    async sendPostRequestAsync(_url, options = {}) {
      const form = new URLSearchParams(options.body);
      const basic = Buffer.from(
        `${encodeURIComponent(form.get('client_id') ?? '')}:${encodeURIComponent(form.get('client_secret') ?? '')}`,
      ).toString('base64');
      form.delete('client_secret');
      const response = await fetch(server.tokenEndpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${basic}` },
        body: form.toString(),
      });
      return respond(response);
    },
  };
}
