// Runs the OpenTelemetry check on Node, Deno or Bun (bundled with the SDK by the matrix); prints one JSON line.
import { runOtelCheck } from './otel-check.mjs';

const server = JSON.parse(globalThis.Deno ? globalThis.Deno.args[0] : process.argv[2]);
console.log(JSON.stringify(await runOtelCheck(server)));
