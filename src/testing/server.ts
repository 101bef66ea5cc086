/**
 * The test kit's token endpoint on a real socket on 127.0.0.1, for integration tests that start your service as a
 * process of its own, or exercise a real HTTP stack. Served with `Deno.serve` on Deno, `Bun.serve` on Bun and
 * `node:http` on Node (loaded only when called, so importing this module stays web-standard). Not for Workers,
 * which cannot listen: there, pass `createTestTokenEndpoint().fetch` as the client's `fetch`.
 * @module @wristband/typescript-m2m-auth/testing/server
 */
import {
  createTestTokenEndpoint,
  dropPending,
  type TestTokenEndpoint,
  type TestTokenEndpointOptions,
} from './endpoint.js';

/** How {@link startTestTokenServer} listens, beside the endpoint's own options (its `vanityDomain` is the server's). */
export interface TestTokenServerOptions extends Omit<TestTokenEndpointOptions, 'vanityDomain' | 'upstream'> {
  /** The port on 127.0.0.1. @default 0 (an ephemeral port) */
  port?: number;
}

/** A {@link TestTokenEndpoint} served on 127.0.0.1; `vanityDomain` is its `http://127.0.0.1:<port>` origin. */
export interface TestTokenServer extends TestTokenEndpoint {
  /** The port it listens on. */
  readonly port: number;
  /** Stops listening, ends hanging requests and closes open connections. */
  close(): Promise<void>;
}

type Handler = (request: Request) => Promise<Response>;
interface Listening {
  port: number;
  close(): Promise<void>;
}

/**
 * Starts a test token endpoint on 127.0.0.1. Every option of `createTestTokenEndpoint` applies, bar `vanityDomain`
 * (the server's own origin) and `upstream` (a server answers only what is sent to it).
 *
 * ```ts
 * import { startTestTokenServer } from '@wristband/typescript-m2m-auth/testing/server';
 *
 * const server = await startTestTokenServer();
 * // Start your service with CLIENT_ID=server.clientId, APPLICATION_VANITY_DOMAIN=server.vanityDomain, ...
 * server.startOutage();
 * await server.close();
 * ```
 */
export async function startTestTokenServer(options: TestTokenServerOptions = {}): Promise<TestTokenServer> {
  const { port: requested = 0, ...endpointOptions } = options;
  if (!Number.isInteger(requested) || requested < 0 || requested > 65_535) {
    throw new TypeError('startTestTokenServer: port must be an integer from 0 to 65535.');
  }
  let endpoint: TestTokenEndpoint | undefined;
  // No request can arrive before listen() returns the port the endpoint is named after.
  const handler: Handler = (request) => (endpoint as TestTokenEndpoint).handle(request);
  const listening = await listen(requested, handler);
  endpoint = createTestTokenEndpoint({ ...endpointOptions, vanityDomain: `http://127.0.0.1:${listening.port}` });
  const served = endpoint;
  // The endpoint's getters must stay live: the server is the endpoint itself, with two more members.
  return Object.defineProperties(served, {
    port: { value: listening.port, enumerable: true },
    close: {
      value: async () => {
        // Requests in their latency too: Deno's shutdown() would wait for them, and for a hang scripted behind one.
        dropPending.get(served)?.();
        await listening.close();
      },
    },
  }) as TestTokenServer;
}

interface DenoServer {
  addr: { port: number };
  shutdown(): Promise<void>;
}
interface BunServer {
  port: number;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}
interface Runtimes {
  Deno?: {
    serve(options: { hostname: string; port: number; onListen?: () => void }, handler: Handler): DenoServer;
  };
  Bun?: {
    serve(options: { hostname: string; port: number; idleTimeout?: number; fetch: Handler }): BunServer;
  };
}

/**
 * Deno and Bun give a handler no socket to destroy, and log a handler that throws. A hang ended by reset() or
 * close() answers instead with a body that fails at once: the client sees the connection lost mid-answer.
 */
function dropping(handler: Handler): Handler {
  return (request) =>
    handler(request).catch(
      (): Response =>
        // A client already gone (its timeout) reads nothing: an erroring body there is only a stack trace on Deno's stderr.
        request.signal.aborted
          ? new Response(null, { status: 499 })
          : new Response(
              new ReadableStream({
                pull(controller) {
                  controller.error(new TypeError('The test token endpoint dropped the connection.'));
                },
              }),
              { status: 502 },
            ),
    );
}

function listen(port: number, served: Handler): Promise<Listening> {
  const runtimes = globalThis as Runtimes;
  const handler = dropping(served);
  if (runtimes.Deno?.serve) {
    const server = runtimes.Deno.serve({ hostname: '127.0.0.1', port, onListen: () => undefined }, handler);
    return Promise.resolve({ port: server.addr.port, close: () => server.shutdown() });
  }
  if (runtimes.Bun?.serve) {
    // idleTimeout 0: a scripted hang must outlast Bun's 10 s default, as it would against a real stalled server.
    const server = runtimes.Bun.serve({ hostname: '127.0.0.1', port, idleTimeout: 0, fetch: handler });
    return Promise.resolve({ port: server.port, close: async () => void (await server.stop(true)) });
  }
  return listenWithNode(port, served);
}

/** The parts of `node:http` used here, typed locally: `src/` compiles without Node's typings. */
interface NodeRequest {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
  on(event: 'data', listener: (chunk: Uint8Array) => void): void;
  on(event: 'end' | 'error', listener: (error?: Error) => void): void;
}
interface NodeResponse {
  writableFinished: boolean;
  writeHead(status: number, headers: [string, string][]): void;
  end(body?: Uint8Array): void;
  on(event: 'close', listener: () => void): void;
  destroy(): void;
}
interface NodeServer {
  listen(port: number, host: string, callback: () => void): void;
  once(event: 'error', listener: (error: Error) => void): void;
  address(): { port: number };
  close(callback: () => void): void;
  closeAllConnections(): void;
}
interface NodeHttp {
  createServer(listener: (req: NodeRequest, res: NodeResponse) => void): NodeServer;
}

async function listenWithNode(port: number, handler: Handler): Promise<Listening> {
  // A specifier in a variable: bundlers for other runtimes leave it alone, and nothing loads it until Node runs this.
  const specifier = 'node:http';
  const http = (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as NodeHttp;
  const server = http.createServer((req, res) => {
    const chunks: Uint8Array[] = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('error', () => undefined);
    req.on('end', () => {
      // The client going away (its timeout, a reset) aborts the request, which ends a scripted hang.
      const gone = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) gone.abort();
      });
      let request: Request;
      try {
        request = toRequest(req, concat(chunks), gone.signal);
      } catch {
        // A request line or Host header no URL can be made of: answer as a strict server would.
        res.writeHead(400, [['Content-Type', 'text/plain']]);
        res.end(new TextEncoder().encode('bad request'));
        return;
      }
      handler(request)
        .then(async (response) => {
          const bytes = new Uint8Array(await response.arrayBuffer());
          res.writeHead(response.status, [...response.headers]);
          res.end(bytes);
        })
        // A hang released, a handler that threw, a client gone mid-answer: drop the connection, as a server would.
        .catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port: server.address().port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function toRequest(req: NodeRequest, body: Uint8Array<ArrayBuffer>, signal: AbortSignal): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const method = req.method ?? 'GET';
  const host = typeof req.headers.host === 'string' ? req.headers.host : '127.0.0.1';
  return new Request(new URL(req.url ?? '/', `http://${host}`), {
    method,
    headers,
    ...(method === 'GET' || method === 'HEAD' ? {} : { body }),
    signal,
  });
}

function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
