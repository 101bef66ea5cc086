// workerd: the kit with `upstream: globalThis.fetch`, as docs/testing.md suggests, forwarding a request for another origin.
import { createTestTokenEndpoint } from '../../dist/testing.js';

export default {
  async fetch() {
    const endpoint = createTestTokenEndpoint({ upstream: globalThis.fetch });
    try {
      // Nothing listens on port 1: a forwarded request fails with a network error, never with Illegal invocation.
      await endpoint.fetch('http://127.0.0.1:1/reports');
      return Response.json({ error: null });
    } catch (error) {
      return Response.json({ error: `${error.name}: ${error.message}` });
    }
  },
};
