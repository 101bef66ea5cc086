// The documentation site `npm run docs` builds (README as the landing page, the guides in docs/, the API reference),
// checked in a real headless Chromium: every page renders, every internal link (the navigation JavaScript builds
// included) resolves to a page and, with a fragment, to an element on it, and the search finds an option by name.
// The global setup (test/support/setup/chromium.ts) installs Chromium when it may and builds the site.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const site = fileURLToPath(new URL('../docs/api/', import.meta.url));
const pages = (readdirSync(site, { recursive: true }) as string[]).filter((f) => f.endsWith('.html')).sort();
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
};

interface PageReport {
  title: string;
  textLength: number;
  navigation: number;
  links: string[];
  errors: string[];
}
interface Report {
  pages: Record<string, PageReport>;
  broken: string[];
  checked: number;
  search: string[];
}

// Runs in the browser: loads each page in an iframe of the site's own origin, then checks the links and the search.
const HARNESS = `<!doctype html><meta charset="utf-8"><body><script type="module">
const pages = PAGES;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function load(path) {
  const frame = document.createElement('iframe');
  frame.style.width = '1200px';
  frame.style.height = '800px';
  const errors = [];
  const loaded = new Promise((resolve) => (frame.onload = resolve));
  frame.src = '/' + path;
  document.body.append(frame);
  frame.contentWindow.addEventListener('error', (e) => errors.push(String(e.message)));
  await loaded;
  frame.contentWindow.addEventListener('error', (e) => errors.push(String(e.message)));
  // navigation.js fills the sidebar asynchronously: wait for it (or give up after 5 s and report what is there).
  for (let i = 0; i < 100 && !frame.contentDocument.querySelector('#tsd-nav-container a'); i++) await sleep(50);
  return { frame, errors };
}
const report = { pages: {}, broken: [], search: [], checked: 0 };
try {
  for (const path of pages) {
    const { frame, errors } = await load(path);
    const doc = frame.contentDocument;
    const content = doc.querySelector('.col-content');
    report.pages[path] = {
      title: (doc.querySelector('.tsd-page-title h1, .col-content h1')?.textContent ?? '').trim(),
      textLength: (content?.textContent ?? '').trim().length,
      navigation: doc.querySelectorAll('#tsd-nav-container a').length,
      links: [...doc.querySelectorAll('a[href]')].map((a) => a.href).filter((h) => h.startsWith(location.origin)),
      errors,
    };
    if (path !== 'index.html') frame.remove();
  }
  const targets = new Set(Object.values(report.pages).flatMap((p) => p.links));
  report.checked = targets.size;
  const fetched = new Map();
  for (const href of targets) {
    const url = new URL(href);
    const page = url.origin + url.pathname;
    if (!fetched.has(page)) {
      const response = await fetch(page);
      fetched.set(page, response.ok ? new DOMParser().parseFromString(await response.text(), 'text/html') : null);
    }
    const doc = fetched.get(page);
    const id = decodeURIComponent(url.hash.slice(1));
    if (!doc) report.broken.push(href + ' (no such page)');
    else if (id && !doc.getElementById(id) && !doc.getElementsByName(id).length) report.broken.push(href + ' (no such anchor)');
  }
  const index = document.querySelector('iframe').contentDocument;
  index.querySelector('#tsd-search-trigger')?.click();
  const input = index.querySelector('#tsd-search-input');
  input.value = 'tokenExpirationBuffer';
  input.dispatchEvent(new Event('input', { bubbles: true }));
  for (let i = 0; i < 100 && !index.querySelector('#tsd-search-results li a'); i++) await sleep(50);
  report.search = [...index.querySelectorAll('#tsd-search-results li')].map((li) => li.textContent.trim());
} catch (error) {
  report.broken.push('harness: ' + error);
}
await fetch('/__report', { method: 'POST', body: JSON.stringify(report) });
</script>`;

let server: Server;
let browser: ChildProcess | undefined;
/** Chromium's own TMPDIR. */
let chromiumTmp: string | undefined;
let report: Report;

beforeAll(async () => {
  let deliver: (report: Report) => void = () => undefined;
  const delivered = new Promise<Report>((resolve) => (deliver = resolve));
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/__check.html') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      return void res.end(HARNESS.replace('PAGES', JSON.stringify(pages)));
    }
    if (path === '/__report') {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        res.end();
        deliver(JSON.parse(body));
      });
      return;
    }
    const file = normalize(join(site, path.endsWith('/') ? `${path}index.html` : path));
    try {
      if (!file.startsWith(site)) throw new Error('outside the site');
      const bytes = readFileSync(file);
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(bytes);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  // With --disable-dev-shm-usage Chromium keeps its shared memory in files under TMPDIR, which a SIGKILL leaves
  // behind: it gets a folder of its own, removed once it has exited.
  chromiumTmp = mkdtempSync(join(tmpdir(), 'm2m-docs-site-'));
  browser = spawn(
    'chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--user-data-dir=' +
        fileURLToPath(new URL(`../node_modules/.cache/docs-site-chromium-${process.pid}`, import.meta.url)),
      `http://127.0.0.1:${port}/__check.html`,
    ],
    { stdio: 'ignore', env: { ...process.env, TMPDIR: chromiumTmp } },
  );
  report = await delivered;
}, 120_000);

afterAll(async () => {
  const exited =
    browser && browser.exitCode === null ? new Promise((resolve) => browser?.once('exit', resolve)) : undefined;
  browser?.kill('SIGKILL');
  await exited;
  if (chromiumTmp !== undefined) rmSync(chromiumTmp, { recursive: true, force: true, maxRetries: 5 });
  await new Promise((resolve) => server?.close(resolve));
});

describe('the documentation site in headless Chromium', () => {
  it('has the landing page, every guide and a module per import path', () => {
    expect(pages).toContain('index.html');
    const documents = Object.entries(report.pages).filter(([path]) => path.startsWith('documents/'));
    for (const guide of readdirSync(new URL('../docs', import.meta.url)).filter((f) => f.endsWith('.md'))) {
      const title = /^title: (.+)$/m.exec(readFileSync(new URL(`../docs/${guide}`, import.meta.url), 'utf8'))?.[1];
      expect(title, guide).toBeDefined();
      expect(
        documents.some(([, page]) => page.title === title),
        `${guide}: ${title}`,
      ).toBe(true);
    }
    const modules = Object.entries(report.pages)
      .filter(([path]) => path.startsWith('modules/'))
      .map(([, page]) => page.title);
    // Every entry point of package.json, named by the path users import.
    const entries = Object.keys(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).exports)
      .filter((entry) => entry !== './package.json')
      .map((entry) => entry.slice(1));
    expect(entries.length).toBeGreaterThanOrEqual(10);
    for (const name of entries) {
      expect(
        modules.some((title) => title.endsWith(`@wristband/typescript-m2m-auth${name}`)),
        name,
      ).toBe(true);
    }
  });

  it('renders every page: a title, content, its navigation, no script error', () => {
    expect(Object.keys(report.pages).sort()).toEqual(pages);
    for (const [path, page] of Object.entries(report.pages)) {
      expect(page.errors, path).toEqual([]);
      expect(page.textLength, path).toBeGreaterThan(20);
      // The sidebar navigation.js builds: every module and every guide.
      expect(page.navigation, path).toBeGreaterThanOrEqual(22);
    }
    // The landing page is the README, not an empty index.
    expect(report.pages['index.html']?.textLength).toBeGreaterThan(5000);
  });

  it('resolves every internal link, fragments included', () => {
    expect(report.broken).toEqual([]);
    expect(report.checked).toBeGreaterThan(100);
  });

  it('finds an option by name with the search', () => {
    expect(
      report.search.some((result) => result.includes('tokenExpirationBuffer')),
      report.search.join(' | '),
    ).toBe(true);
  });
});
