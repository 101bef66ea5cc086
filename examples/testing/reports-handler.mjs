// Your own code under test: a web-standard handler (Hono, a Worker, Bun.serve, Deno.serve all take this shape) that
// calls a protected downstream API with the M2M token. client.fetch adds the token and, on a 401, retires it and
// retries once with a fresh one. A token failure is answered 503 with its code: the problem is ours, not the caller's.
import { WristbandM2MError } from '@wristband/typescript-m2m-auth';

/**
 * @param {{ m2m: import('@wristband/typescript-m2m-auth').WristbandM2MClient, downstreamUrl: string }} deps
 * @returns {(request: Request) => Promise<Response>}
 */
export function createReportsHandler({ m2m, downstreamUrl }) {
  return async function handleReports() {
    try {
      const downstream = await m2m.fetch(downstreamUrl);
      if (!downstream.ok) return Response.json({ error: `downstream answered ${downstream.status}` }, { status: 502 });
      return Response.json({ report: await downstream.json() });
    } catch (error) {
      if (error instanceof WristbandM2MError) return Response.json({ error: error.code }, { status: 503 });
      throw error;
    }
  };
}
