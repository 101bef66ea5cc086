// Runs the scenario on Node (ESM), Deno or Bun against the built package; prints the results as one JSON line.
import * as lib from '../../dist/index.js';
import { runScenario } from './scenario.mjs';

const server = JSON.parse(globalThis.Deno ? globalThis.Deno.args[0] : process.argv[2]);
console.log(JSON.stringify(await runScenario(lib, server)));
