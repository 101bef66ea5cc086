// Where the bytes of `createWristbandM2MClient` are (issue 14's size ceiling): `node bench/size-breakdown.mjs`.
// Each row is the factory built from src/ (esbuild bundle + minify, ESM, then gzip -9, as test/package.test.ts does)
// with one part taken out: a module replaced by a stub exporting what the client imports from it, or every string
// literal emptied (found with the TypeScript parser, so a regular expression or a template's code is left intact).
// A share is the whole minus the build without that part: gzip sizes of separate bundles do not add up.
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import ts from 'typescript';

const root = new URL('../', import.meta.url).pathname;

const STUBS = {
  'the shared store (store/fleet.ts and what only it reaches)': {
    filter: /\/store\/fleet\.js$/,
    contents: 'export const createFleet = () => undefined; export const longestFleetMs = () => 0;',
  },
  'client.fetch (authenticated-fetch.ts)': {
    filter: /\/authenticated-fetch\.js$/,
    contents: 'export const createAuthenticatedFetch = () => undefined;',
  },
  'redaction (redact.ts)': {
    filter: /\/redact\.js$/,
    contents:
      'export const credentialForms = () => [], redact = (t) => t, sanitizeError = (e) => e, ' +
      'basicAuthorization = (a, b) => "Basic " + btoa(a + ":" + b), formUrlEncode = (x) => x, ' +
      'createRedactor = () => ({ learn() {}, redact: (t) => t, sanitize: (e) => e, size: 0 });',
  },
  'secret lists and providers (secrets.ts)': {
    filter: /\/secrets\.js$/,
    contents:
      'export const secretListProblem = () => undefined, asSecretList = (v) => [v], ' +
      'secretOrder = (s) => s.map((_, i) => i), callSecretProvider = async () => [];',
  },
};

async function minified(stubs = []) {
  const result = await build({
    stdin: { contents: 'export { createWristbandM2MClient } from "./src/index.ts";', resolveDir: root, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
    plugins: stubs.map(({ filter, contents }, index) => ({
      name: `stub-${index}`,
      setup(b) {
        b.onResolve({ filter }, () => ({ path: String(index), namespace: `stub-${index}` }));
        b.onLoad({ filter: /.*/, namespace: `stub-${index}` }, () => ({ contents, loader: 'js' }));
      },
    })),
  });
  return result.outputFiles[0].text;
}

/** `code` with the text of every string literal and template part removed. */
function withoutStrings(code) {
  const file = ts.createSourceFile('bundle.js', code, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const spans = [];
  const visit = (node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) {
      spans.push([node.getStart(file) + 1, node.end - 1]);
    } else if (ts.isTemplateExpression(node)) {
      spans.push([node.head.getStart(file) + 1, node.head.end - 2]);
      for (const span of node.templateSpans) {
        const tail = ts.isTemplateTail(span.literal);
        spans.push([span.literal.getStart(file) + 1, span.literal.end - (tail ? 1 : 2)]);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  let out = '';
  let at = 0;
  for (const [start, end] of spans.sort((a, b) => a[0] - b[0])) {
    out += code.slice(at, start);
    at = end;
  }
  return out + code.slice(at);
}

const gz = (code) => gzipSync(code, { level: 9 }).byteLength;
const whole = await minified();
const store = STUBS['the shared store (store/fleet.ts and what only it reaches)'];
const noStore = await minified([store]);
console.log('| build of createWristbandM2MClient from src/ | bytes min+gz |\n| --- | ---: |');
console.log(`| whole | ${gz(whole)} |`);
console.log(`| every string literal emptied (all messages gone) | ${gz(withoutStrings(whole))} |`);
console.log(`| the shared store stubbed out | ${gz(noStore)} |`);
console.log(`| the shared store stubbed out and every string emptied | ${gz(withoutStrings(noStore))} |`);
for (const [name, stub] of Object.entries(STUBS)) {
  console.log(`| share of ${name} | ${gz(whole) - gz(await minified([stub]))} |`);
}
