// Deno and Bun: the test kit in memory and on a loopback server (Deno.serve, Bun.serve), printed as one JSON line.
import { createTestTokenEndpoint } from '../../dist/testing.js';
import { startTestTokenServer } from '../../dist/testing-server.js';
import { runKitScenario } from './kit-scenario.mjs';

const inMemory = await runKitScenario(createTestTokenEndpoint(), { inMemory: true });
const server = await startTestTokenServer();
const loopback = await runKitScenario(server, { inMemory: false });
await server.close();
console.log(JSON.stringify({ inMemory, loopback }));
