// A local stand-in for a Wristband application's token endpoint (POST /api/v1/oauth2/token, client-credentials
// grant, HTTP Basic client authentication), for the demo and the integration tests. It issues opaque tokens,
// remembers when each expires so a protected API can check them, and lets a caller script what it answers next.
// Like a Wristband M2M OAuth2 client, it accepts up to two secrets at once (primary and secondary), so a test or the
// demo can run a secret rotation: add a secondary secret, then revoke the old one.
import http from 'node:http';
import { randomBytes } from 'node:crypto';

const TOKEN_PATH = '/api/v1/oauth2/token';
const CONTROL_PATH = '/_control/';
// A Bearer-protected resource beside the token endpoint, so tests in any runtime can exercise client.fetch.
const PROTECTED_PATH = '/_protected';
/** Wristband lets an OAuth2 client hold a primary and a secondary secret, no more: rotation needs exactly two. */
const MAX_SECRETS = 2;

/**
 * @typedef {(req: http.IncomingMessage, res: http.ServerResponse) => void} ScriptedAnswer
 *   Takes over one request entirely: write a status, a body, stall, or destroy the socket.
 * @typedef {{ authorization: string | undefined, contentType: string | undefined, accept: string | undefined,
 *   method: string | undefined, url: string | undefined, body: string }} RecordedRequest
 */

/**
 * Starts the server on 127.0.0.1, on `port` (default: an ephemeral one).
 * @param {{ clientId?: string, clientSecret?: string, tokenLifetimeSeconds?: number, latencyMs?: number,
 *   port?: number }} [options]
 */
export async function startTokenServer(options = {}) {
  const clientId = options.clientId ?? 'demo-client-id';
  const clientSecret = options.clientSecret ?? 'demo-client-secret';
  /** @type {string[]} The secrets the server accepts now, oldest first; starts with `clientSecret` alone. */
  const accepted = [clientSecret];
  let tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3600;
  let latencyMs = options.latencyMs ?? 0;
  /** @type {(number | ScriptedAnswer)[]} */
  const script = [];
  /** @type {RecordedRequest[]} */
  const requests = [];
  /** @type {Map<string, number>} token -> expiry in ms since the epoch */
  const issued = new Map();
  /** Bumped by reset(): a request received before it must not take an answer scripted after it. */
  let resets = 0;

  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      if (req.url?.startsWith(CONTROL_PATH)) return control(req, res, body);
      if (req.url === PROTECTED_PATH) return protectedResource(req, res);
      requests.push({
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        accept: req.headers.accept,
        method: req.method,
        url: req.url,
        body,
      });
      // A request still waiting out its latency when reset() runs (its client may be long gone, even a process that
      // has exited) is answered as unscripted: otherwise it would take what the next test scripts after the reset,
      // and that test's request would get the answer meant for it.
      const receivedAt = resets;
      setTimeout(() => answer(req, res, body, receivedAt === resets), latencyMs);
    });
  });

  /**
   * @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {string} body
   * @param {boolean} scripted whether the script applies: false for a request received before the latest reset()
   */
  function answer(req, res, body, scripted) {
    const next = scripted ? script.shift() : undefined;
    if (typeof next === 'function') return next(req, res);
    if (typeof next === 'number')
      return json(res, next, { error: 'server_error', error_description: `scripted ${next}` });
    if (req.method !== 'POST' || req.url !== TOKEN_PATH) return json(res, 404, { error: 'not_found' });
    const credentials = basicCredentials(req.headers.authorization);
    if (credentials?.id !== clientId || credentials.secret === undefined || !accepted.includes(credentials.secret)) {
      res.setHeader('WWW-Authenticate', 'Basic realm="wristband"');
      return json(res, 401, { error: 'invalid_client', error_description: 'Client authentication failed.' });
    }
    if (new URLSearchParams(body).get('grant_type') !== 'client_credentials') {
      return json(res, 400, { error: 'unsupported_grant_type' });
    }
    const token = `m2m.${requests.length}.${randomBytes(12).toString('base64url')}`;
    issued.set(token, Date.now() + tokenLifetimeSeconds * 1000);
    json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: tokenLifetimeSeconds });
  }

  // Lets a test running in another runtime (Deno, Bun, workerd) script this server over HTTP. Control requests are
  // neither recorded nor delayed.
  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {string} body */
  function control(req, res, body) {
    const action = req.url?.slice(CONTROL_PATH.length);
    const input = body === '' ? undefined : JSON.parse(body);
    if (action === 'fail-next') script.push(...input);
    else if (action === 'latency') latencyMs = input;
    else if (action === 'revoke-all') issued.clear();
    else if (action === 'reset') reset();
    else if (action === 'add-secret' || action === 'revoke-secret') {
      // A bad request (a third secret) answers 400 rather than crash the server in its request handler.
      const problem = attempt(() => secrets[action === 'add-secret' ? 'add' : 'revoke'](input));
      if (problem !== undefined) return json(res, 400, { error: problem });
    } else if (action !== 'requests') return json(res, 404, { error: 'unknown control action' });
    json(res, 200, {
      requests: requests.map(({ authorization, ...rest }) => ({ ...rest, hasAuthorization: !!authorization })),
    });
  }

  // The dashboard's "add secondary secret" and "delete secret". Loopback only, as the whole server is.
  const secrets = {
    /** @param {string} secret accepted from now on, beside the current one; at most two are held at once */
    add(secret) {
      if (typeof secret !== 'string' || secret === '') throw new TypeError('a secret is a non-empty string');
      if (accepted.includes(secret)) return;
      if (accepted.length >= MAX_SECRETS)
        throw new Error(`the client already holds ${MAX_SECRETS} secrets; revoke one first`);
      accepted.push(secret);
    },
    /** @param {string} secret no longer accepted: requests with it get 401 invalid_client */
    revoke(secret) {
      const index = accepted.indexOf(secret);
      if (index >= 0) accepted.splice(index, 1);
    },
    /** @returns {string[]} the secrets accepted now, oldest first */
    list() {
      return [...accepted];
    },
  };

  function reset() {
    resets++;
    accepted.splice(0, accepted.length, clientSecret);
    script.length = 0;
    requests.length = 0;
    latencyMs = 0;
  }

  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
  function protectedResource(req, res) {
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const expiry = token === undefined ? undefined : issued.get(token);
    if (expiry === undefined || Date.now() >= expiry) return json(res, 401, { error: 'invalid_token' });
    json(res, 200, { ok: true });
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve(undefined));
  });
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  const origin = `http://127.0.0.1:${address.port}`;

  return {
    clientId,
    /** The secret the server started with (it stays this value even after `secrets.revoke` of it). */
    clientSecret,
    /**
     * The secrets the server accepts (at most two, as in Wristband): `add` a secondary one, `revoke` the old one.
     * Over HTTP: POST `/_control/add-secret` and `/_control/revoke-secret` with the secret as a JSON string.
     */
    secrets,
    /** Pass as `wristbandApplicationVanityDomain`. */
    vanityDomain: origin,
    tokenEndpoint: `${origin}${TOKEN_PATH}`,
    /** Every request received, in order. */
    requests,
    get requestCount() {
      return requests.length;
    },
    /** @param {...number} statuses answered (with an OAuth error body) to the next requests, in order */
    failNext(...statuses) {
      script.push(...statuses);
    },
    /** @param {...ScriptedAnswer} answers take over the next requests, in order */
    answerNext(...answers) {
      script.push(...answers);
    },
    /**
     * Forgets the script, the request log and the latency, and accepts `clientSecret` alone again. Requests received
     * before it and still waiting out their latency get unscripted answers: they never take the next script's.
     */
    reset,
    /** @param {number} ms delay before every answer */
    setLatency(ms) {
      latencyMs = ms;
    },
    /** @param {number} seconds `expires_in` of the tokens issued from now on */
    setTokenLifetime(seconds) {
      tokenLifetimeSeconds = seconds;
    },
    /** @param {string | undefined} token @returns {'valid' | 'expired' | 'unknown'} */
    verify(token) {
      const expiry = token === undefined ? undefined : issued.get(token);
      if (expiry === undefined) return 'unknown';
      return Date.now() < expiry ? 'valid' : 'expired';
    },
    /** @param {string} token forgets a token, as a key rotation or revocation would */
    revoke(token) {
      issued.delete(token);
    },
    /** Forgets every token issued so far. */
    revokeAll() {
      issued.clear();
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve(undefined)));
    },
  };
}

/** @param {() => void} run @returns {string | undefined} the message of what `run` threw */
function attempt(run) {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** @param {http.ServerResponse} res @param {number} status @param {unknown} payload */
function json(res, status, payload) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(payload));
}

/**
 * Decodes `Authorization: Basic` as an authorization server does (RFC 6749 §2.3.1): base64, split at the first
 * colon, then form-decode each part, so any correct encoding of the credentials is accepted.
 * @param {string | undefined} header
 */
function basicCredentials(header) {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const formDecode = (/** @type {string} */ part) => {
    try {
      return decodeURIComponent(part.replaceAll('+', ' '));
    } catch {
      return undefined;
    }
  };
  return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
}
