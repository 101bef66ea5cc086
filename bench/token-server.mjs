// The benchmark's token endpoint: a Wristband-compatible POST /api/v1/oauth2/token on 127.0.0.1, run by
// bench/run.mjs (Node) in its own process, so the runtime under test (Node, Deno or Bun, in a child process) shares
// neither its event loop nor its heap with the server. The runtime scripts it over HTTP:
//   POST /_bench/config {latencyMs, lifetimeS, outage}  sets the scenario and resets the request count
//   GET  /_bench/count                                  -> {requests, tokens, failed}
// `outage` is one of
//   { mode: 'always' }                            every token request is answered 503;
//   { mode: 'at-refresh', durationMs }            the first token request after the first token issued (that is,
//                                                 the client's first refresh) starts an outage at its arrival:
//                                                 every request that arrives within durationMs is answered 503.
// Client authentication is accepted as HTTP Basic (Wristband's method) or in the body (client_secret_post, what
// MSAL sends); the credentials are checked either way.
import http from 'node:http';

const TOKEN_PATH = '/api/v1/oauth2/token';

/** @param {{ clientId: string, clientSecret: string }} credentials */
export async function startBenchTokenServer({ clientId, clientSecret }) {
  let latencyMs = 0;
  let lifetimeS = 3600;
  /** @type {{ mode: 'always' } | { mode: 'at-refresh', durationMs: number } | null} */
  let outage = null;
  let outageStartedAt = -1;
  let requests = 0;
  let tokens = 0;
  let failed = 0;
  let serial = 0;

  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      if (req.url === '/_bench/config') {
        const input = JSON.parse(body || '{}');
        latencyMs = input.latencyMs ?? 0;
        lifetimeS = input.lifetimeS ?? 3600;
        outage = input.outage ?? null;
        outageStartedAt = -1;
        requests = tokens = failed = 0;
        return json(res, 200, { ok: true });
      }
      if (req.url === '/_bench/count') return json(res, 200, { requests, tokens, failed });
      if (req.method !== 'POST' || req.url !== TOKEN_PATH) return json(res, 404, { error: 'not_found' });
      requests++;
      const arrivedAt = Date.now();
      const down = isDown(arrivedAt);
      setTimeout(() => answer(req, res, body, down), latencyMs);
    });
  });

  function isDown(at) {
    if (outage === null) return false;
    if (outage.mode === 'always') return true;
    if (outageStartedAt < 0 && tokens >= 1) outageStartedAt = at;
    return outageStartedAt >= 0 && at < outageStartedAt + outage.durationMs;
  }

  function answer(req, res, body, down) {
    if (down) {
      failed++;
      return json(res, 503, { error: 'temporarily_unavailable' });
    }
    const form = new URLSearchParams(body);
    const basic = basicCredentials(req.headers.authorization);
    const id = basic?.id ?? form.get('client_id');
    const secret = basic?.secret ?? form.get('client_secret');
    if (id !== clientId || secret !== clientSecret) return json(res, 401, { error: 'invalid_client' });
    if (form.get('grant_type') !== 'client_credentials') return json(res, 400, { error: 'unsupported_grant_type' });
    tokens++;
    // Unique per token, so rotations can be counted, and carrying its true expiry (ms since the epoch, field 3), so
    // a benchmark can count tokens served after they expired.
    const token = `m2m.${++serial}.${Date.now() + lifetimeS * 1000}.${Math.random().toString(36).slice(2)}`;
    json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: lifetimeS });
  }

  // Idle keep-alive sockets stay open longer than any client keeps them (undici: 4 s), so a client never reuses a
  // socket the server is closing: with Node's default 5 s, a control request after a long mitata run could fail.
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  const origin = `http://127.0.0.1:${port}`;
  return {
    info: { clientId, clientSecret, vanityDomain: origin, tokenEndpoint: `${origin}${TOKEN_PATH}`, origin },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve(undefined)));
    },
  };
}

function json(res, status, payload) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(payload));
}

function basicCredentials(header) {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const formDecode = (part) => decodeURIComponent(part.replaceAll('+', ' '));
  return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
}
