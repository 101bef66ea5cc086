/**
 * The test kit: an in-memory Wristband token endpoint to plug into the client's `fetch` option, so your own
 * service's tests run through token expiry, outages, rate limits, a secret rotation and revoked tokens with no
 * network and no Wristband application. Web-standard only: it runs in Node, Deno, Bun and a Worker's tests. For a
 * real socket on 127.0.0.1, see `@wristband/typescript-m2m-auth/testing/server`.
 * @module @wristband/typescript-m2m-auth/testing
 */
export { createTestTokenEndpoint, RESOURCE_PATH, TOKEN_PATH } from './endpoint.js';
export type {
  OutageOptions,
  ScriptedAnswer,
  TestTokenEndpoint,
  TestTokenEndpointOptions,
  TestTokenRequest,
  TokenVerdict,
} from './endpoint.js';
