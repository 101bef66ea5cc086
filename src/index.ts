export { createAuthenticatedFetch } from './authenticated-fetch.js';
export type { TokenSource } from './authenticated-fetch.js';
export { createWristbandM2MClient } from './client.js';
export type { GetTokenOptions, WristbandM2MClient, WristbandM2MClientState } from './client.js';
export type { FetchImplementation, WristbandM2MClientConfig } from './config.js';
export { WristbandM2MError } from './errors.js';
export type { WristbandM2MErrorCode, WristbandM2MErrorDetails } from './errors.js';
export type { RefreshReason, TokenRefreshedEvent, TokenRefreshFailedEvent } from './hooks.js';
