/**
 * The client: `createWristbandM2MClient()`, its errors, hooks and shared-store interface. Start with the guides.
 * @module @wristband/typescript-m2m-auth
 */
export { createAuthenticatedFetch } from './authenticated-fetch.js';
export type { TokenSource } from './authenticated-fetch.js';
export { createWristbandM2MClient } from './client.js';
export type { GetTokenOptions, WaitUntil, WristbandM2MClient, WristbandM2MClientState } from './client.js';
export type { FetchImplementation, WristbandM2MClientConfig } from './config.js';
export { WristbandM2MError } from './errors.js';
export type { WristbandM2MErrorCode, WristbandM2MErrorDetails } from './errors.js';
export type { RefreshReason, TokenRefreshedEvent, TokenRefreshFailedEvent, TokenStoreErrorEvent } from './hooks.js';
export type { ClientSecret } from './credentials/secrets.js';
export { createMemoryTokenStore } from './store/memory.js';
export type { SharedToken, TokenStore, TokenStoreOperation } from './store/types.js';
