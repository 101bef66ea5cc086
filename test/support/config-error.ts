import { expect } from 'vitest';
import { createWristbandM2MClient, type WristbandM2MClientConfig, WristbandM2MError } from '../../src/index.js';

/** The error `createWristbandM2MClient(config)` throws, checked to be a WristbandM2MError; fails if none is thrown. */
export function creationError(config: Record<string, unknown>): WristbandM2MError {
  try {
    createWristbandM2MClient(config as unknown as WristbandM2MClientConfig);
  } catch (error) {
    expect(error).toBeInstanceOf(WristbandM2MError);
    return error as WristbandM2MError;
  }
  throw new Error(`expected ${JSON.stringify(Object.keys(config))} to be rejected`);
}
