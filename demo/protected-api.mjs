// A downstream API that only answers callers holding a token the local token server issued and still honours.
import http from 'node:http';

/**
 * Starts the API on 127.0.0.1, on `port` (default: an ephemeral one).
 * @param {(token: string | undefined) => 'valid' | 'expired' | 'unknown'} verify
 * @param {{ port?: number }} [options]
 */
export async function startProtectedApi(verify, options = {}) {
  let calls = 0;
  const server = http.createServer((req, res) => {
    calls++;
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const verdict = verify(token);
    if (verdict !== 'valid') {
      res.writeHead(401, { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${verdict} token"` });
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ report: 'quarterly-usage', rows: 3 }));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve(undefined));
  });
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${port}`,
    get calls() {
      return calls;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve(undefined)));
    },
  };
}
