// Runs the OpenTelemetry check in workerd (bundled with the SDK by the matrix, `nodejs_als` on).
import { env } from 'cloudflare:workers';
import { runOtelCheck } from './otel-check.mjs';

export default {
  async fetch() {
    return Response.json(
      await runOtelCheck({ clientId: env.CLIENT_ID, clientSecret: env.CLIENT_SECRET, vanityDomain: env.VANITY_DOMAIN }),
    );
  },
};
