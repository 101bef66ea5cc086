export { createWristbandM2MClient } from './client.js';
export type { GetTokenOptions, WristbandM2MClient } from './client.js';
export type { FetchImplementation, WristbandM2MClientConfig } from './config.js';
export { WristbandM2MError } from './errors.js';
export type { WristbandM2MErrorCode, WristbandM2MErrorDetails } from './errors.js';
