// workerd: the test kit in memory inside a Worker's request, as a Worker's own tests would use it.
import { createTestTokenEndpoint } from '../../dist/testing.js';
import { runKitScenario } from './kit-scenario.mjs';

export default {
  async fetch() {
    return Response.json({ inMemory: await runKitScenario(createTestTokenEndpoint(), { inMemory: true }) });
  },
};
