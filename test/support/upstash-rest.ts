// Upstash's REST API in front of a real redis-server, for the Upstash store's tests: no local Upstash server is
// published on npm. It speaks what @upstash/redis sends: POST / with one command as a JSON array, POST /pipeline with
// a list of them, `Authorization: Bearer <token>`, and `Upstash-Encoding: base64` (every bulk string of a result in
// base64, a top-level "OK" excepted). Errors are `{ error }`: HTTP 400 for one command, per entry in a pipeline.
// See https://upstash.com/docs/redis/features/restapi.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';

export interface UpstashRest {
  url: string;
  token: string;
  /** The commands received, in order: a pipeline adds each of its commands. */
  commands: string[][];
  /** Answers the next `count` HTTP requests (0: none) with `status` and `{ error }`, as Upstash does when it throttles. */
  failNext(count: number, status: number, error: string): void;
  close(): Promise<void>;
}

export async function startUpstashRest(redisUrl: string, token = 'upstash-test-token'): Promise<UpstashRest> {
  const redis = new Redis(redisUrl);
  const commands: string[][] = [];
  const failures: { status: number; error: string }[] = [];

  const run = async ([name, ...args]: string[], base64: boolean): Promise<{ result?: unknown; error?: string }> => {
    commands.push([String(name), ...args.map(String)]);
    try {
      return { result: encode(await redis.callBuffer(String(name), ...args.map(String)), base64) };
    } catch (error) {
      return { error: (error as Error).message };
    }
  };

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', async () => {
      const reply = (status: number, payload: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
      if (req.headers.authorization !== `Bearer ${token}`) return reply(401, { error: 'Unauthorized' });
      const failure = failures.shift();
      if (failure) return reply(failure.status, { error: failure.error });
      const base64 = req.headers['upstash-encoding'] === 'base64';
      const parsed = JSON.parse(body) as string[] | string[][];
      if (req.url === '/pipeline') {
        const results = [];
        for (const command of parsed as string[][]) results.push(await run(command, base64));
        return reply(200, results);
      }
      if (req.url !== '/') return reply(404, { error: `${req.url} is not emulated` });
      const answer = await run(parsed as string[], base64);
      reply(answer.error === undefined ? 200 : 400, answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token,
    commands,
    failNext: (count, status, error) =>
      void failures.splice(0, failures.length, ...Array.from({ length: count }, () => ({ status, error }))),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      redis.disconnect();
    },
  };
}

/** A redis reply as Upstash's JSON: bulk strings as text, or base64 when asked (a top-level OK stays as it is). */
function encode(reply: unknown, base64: boolean, top = true): unknown {
  if (Buffer.isBuffer(reply)) {
    const text = reply.toString('utf8');
    return base64 && !(top && text === 'OK') ? reply.toString('base64') : text;
  }
  if (Array.isArray(reply)) return reply.map((item) => encode(item, base64, false));
  return reply;
}
