// The test kit's loopback server (src/testing/server.ts) on Node: the same endpoint on a real socket, so a client in
// another process (or a real HTTP stack) can be tested; Deno and Bun run the same checks in server-runtimes.test.ts.
import { connect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createWristbandM2MClient, type WristbandM2MClient } from '../../src/index.js';
import { startTestTokenServer, type TestTokenServer } from '../../src/testing/server.js';

const servers: TestTokenServer[] = [];
const clients: WristbandM2MClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  for (const server of servers.splice(0)) await server.close();
});

// The first fetch of a process can take hundreds of ms on a loaded machine: only the hang test times out on purpose.
async function start(options: Parameters<typeof startTestTokenServer>[0] = {}, tokenRequestTimeout = 10) {
  const server = await startTestTokenServer(options);
  servers.push(server);
  const client = createWristbandM2MClient({
    clientId: server.clientId,
    clientSecret: server.clientSecret,
    wristbandApplicationVanityDomain: server.vanityDomain,
    tokenRequestTimeout,
  });
  clients.push(client);
  return { server, client };
}

describe('startTestTokenServer on Node', () => {
  it('serves the endpoint on 127.0.0.1 with an ephemeral port; the global fetch gets a token through it', async () => {
    const { server, client } = await start({ clientSecret: 'loop sécret' });
    expect(server.vanityDomain).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
    const token = await client.getToken();
    expect(server.verify(token)).toBe('valid');
    expect(server.requests[0]).toMatchObject({
      method: 'POST',
      url: `${server.vanityDomain}/api/v1/oauth2/token`,
      body: 'grant_type=client_credentials',
      credentials: 'primary',
      status: 200,
    });
  });

  it('keeps its scripts live through the server: a 5xx storm, then a revocation seen by client.fetch', async () => {
    const { server, client } = await start();
    server.failNext(502);
    await client.getToken();
    expect(server.requests.map((r) => r.status)).toEqual([502, 200]);
    server.revokeAll();
    expect((await client.fetch(server.resourceUrl)).status).toBe(200);
    expect(server.resourceCalls).toEqual({ total: 2, rejected: 1 });
  });

  it('a hang outlasts the client timeout, and the dropped request leaves nothing hanging', async () => {
    const { server, client } = await start({}, 0.5);
    server.hangNext();
    await expect(client.getToken()).rejects.toMatchObject({ code: 'TOKEN_REQUEST_TIMEOUT' });
    await vi.waitFor(() => expect(server.hangingCount).toBe(0));
  });

  it('close() ends a hang and frees the port at once', async () => {
    const { server } = await start();
    server.hangNext();
    const hung = fetch(server.tokenEndpoint, { method: 'POST' }).catch((error: unknown) => error);
    await vi.waitFor(() => expect(server.hangingCount).toBe(1));
    await server.close();
    servers.length = 0;
    expect(await hung).toBeInstanceOf(TypeError);
  });

  it('answers 400 to a Host header no URL can be made of, and keeps serving', async () => {
    const { server, client } = await start();
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1', () => {
        socket.end(
          'POST /api/v1/oauth2/token HTTP/1.1\r\nHost: [::1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
        );
      });
      let data = '';
      socket.on('data', (chunk) => (data += chunk));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect(server.verify(await client.getToken())).toBe('valid');
  });

  it('rejects a port out of range', async () => {
    await expect(startTestTokenServer({ port: 70_000 })).rejects.toThrow(/port must be an integer/);
  });
});
