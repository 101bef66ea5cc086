// `npm run token-server`: the local Wristband-compatible token server and the protected API the demo and the
// examples use, on their own, until Ctrl-C. Prints their URLs and the demo credentials, ready to paste into a
// shell, a .env file or a Worker's .dev.vars.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startProtectedApi } from './protected-api.mjs';
import { startTokenServer } from './token-server.mjs';

/** The fixed ports `npm run token-server` uses, so examples/cloudflare-worker/wrangler.toml can point at them. */
export const DEFAULT_TOKEN_SERVER_PORT = 8790;
export const DEFAULT_PROTECTED_API_PORT = 8791;

/**
 * Starts both servers; ports default to ephemeral ones.
 * @param {{ tokenServerPort?: number, apiPort?: number }} [options]
 */
export async function startLocalServers(options = {}) {
  const tokenServer = await startTokenServer({ port: options.tokenServerPort });
  const api = await startProtectedApi((token) => tokenServer.verify(token), { port: options.apiPort });
  /** The variables an example reads, pointing at these servers. */
  const env = {
    CLIENT_ID: tokenServer.clientId,
    CLIENT_SECRET: tokenServer.clientSecret,
    APPLICATION_VANITY_DOMAIN: tokenServer.vanityDomain,
    DOWNSTREAM_URL: api.url,
  };
  return {
    tokenServer,
    api,
    env,
    async close() {
      await api.close();
      await tokenServer.close();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { port: { type: 'string' }, 'api-port': { type: 'string' } },
  });
  const tokenServerPort = Number(values.port ?? DEFAULT_TOKEN_SERVER_PORT);
  const apiPort = Number(values['api-port'] ?? DEFAULT_PROTECTED_API_PORT);
  let servers;
  try {
    servers = await startLocalServers({ tokenServerPort, apiPort });
  } catch (error) {
    console.error(
      `Could not start the local servers: ${error.code ?? error.message} (ports ${tokenServerPort} and ` +
        `${apiPort}; choose others with --port <n> --api-port <n>)`,
    );
    process.exit(1);
  }
  const { tokenServer, api, env } = servers;
  console.log(`Token server:  ${tokenServer.tokenEndpoint} (client-credentials grant, HTTP Basic client auth)`);
  console.log(`Protected API: ${api.url}/reports (answers 200 to a token the server issued, 401 otherwise)`);
  console.log("\nDemo credentials, for a shell, a .env file or a Worker's .dev.vars:\n");
  for (const [name, value] of Object.entries(env)) console.log(`${name}=${value}`);
  console.log('\nFor example, with those lines in a file: node bin/wristband-m2m.mjs token --env-file <file>');
  console.log('Ctrl-C stops both servers.');
  const stop = async () => {
    await servers.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
