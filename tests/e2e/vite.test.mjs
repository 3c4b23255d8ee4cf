// The npm package as a user gets it, in fresh Vite 7 and Vite 8 apps with no Vite
// configuration: `vite` dev server and `vite build` served as static files, in headless
// Chromium, against the real authorization server and API (API.md, "Package").
//
// Each Vite version is installed once into ~/.cache/tokenward/vite/<version>
// (a warm run does not reinstall it) and copied into a throw-away app under the OS temp
// folder; the freshly packed tokenward tarball is installed there on every run.
// If a Vite version cannot be installed the test fails with npm's output: it never skips.
//
// Chromium-only: the page's responses are recorded with page.on('response') to check
// the .wasm content type; everything else uses the shared Playwright subset.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import {
  cacheDir, ensureBuilt, launchBrowser, repoRoot, startStack,
} from './harness.mjs';
import { startStatic } from '../servers/index.mjs';

// Exact versions (the newest 7.x and 8.x when this was written): bump deliberately.
const VITE_VERSIONS = ['7.3.8', '8.3.8'];
const FIXTURE = fileURLToPath(new URL('./fixtures/vite-app/', import.meta.url));
const CACHE = join(cacheDir, 'vite');
const PAGE_TIMEOUT = 60_000;
const BIG_JS = 150 * 1024;
const WASM_BASE64_MAGIC = 'AGFzbQ'; // "\0asm" in base64: a wasm module inlined as base64

// Runs a command and resolves with its stdout; rejects with its output when it fails.
function run(command, args, { cwd }) {
  const env = { ...process.env };
  delete env.npm_config_local_prefix; // set by an outer `npm run`: would point nested npm at the repo
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', fail);
    child.on('close', (code) => {
      if (code === 0) done(stdout);
      else fail(new Error(`${command} ${args.join(' ')} (in ${cwd}) exited with ${code}:\n${stderr}${stdout}`));
    });
  });
}

// `npm pack` of the repo into `folder`; returns the tarball's path.
async function packTarball(folder) {
  const packed = await run('npm', ['pack', '--json', '--pack-destination', folder], { cwd: repoRoot });
  const [{ filename }] = JSON.parse(packed.slice(packed.indexOf('[')));
  return join(folder, filename);
}

// The cached install of `vite@version` (package.json, lockfile, node_modules), made once.
async function cachedVite(version) {
  const dir = join(CACHE, version);
  const marker = join(dir, '.complete');
  if (existsSync(marker)) return { dir, hit: true };
  await mkdir(CACHE, { recursive: true });
  const partial = await mkdtemp(join(CACHE, `${version}.partial-`));
  try {
    await writeFile(join(partial, 'package.json'), `${JSON.stringify({
      name: 'tokenward-vite-app', private: true, type: 'module', devDependencies: { vite: version },
    }, null, 2)}\n`);
    try {
      await run('npm', ['install', '--no-audit', '--no-fund'], { cwd: partial });
    } catch (err) {
      throw new Error(`could not install vite@${version} (needs the npm registry): ${err.message}`, { cause: err });
    }
    await writeFile(join(partial, '.complete'), `${new Date().toISOString()}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return { dir, hit: false };
}

// A fresh app folder: the cached Vite install, the fixture's index.html + main.js, and the
// packed tokenward installed with npm as a user would.
async function makeApp(folder, version, tarball) {
  const cache = await cachedVite(version);
  await cp(cache.dir, folder, { recursive: true, filter: (src) => !src.endsWith('.complete') });
  await cp(FIXTURE, folder, { recursive: true });
  await run('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: folder });
  const installed = JSON.parse(await readFile(join(folder, 'node_modules', 'vite', 'package.json'), 'utf8'));
  assert.equal(installed.version, version, 'the app has the pinned Vite version');
  return { cacheHit: cache.hit };
}

// The app's own Vite (its "import" entry), as `vite` the CLI would load it.
async function importVite(app) {
  const pkgDir = join(app, 'node_modules', 'vite');
  const pkg = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8'));
  const entry = pkg.exports['.'];
  const file = typeof entry === 'string' ? entry : entry.import?.default ?? entry.import ?? entry.default;
  return import(pathToFileURL(join(pkgDir, file)).href);
}

// A Vite logger that keeps warnings and errors (shown as diagnostics) instead of printing them.
function recordingLogger(vite, messages) {
  const logger = vite.createLogger('warn', { allowClearScreen: false });
  logger.warn = (msg) => { messages.push(`[warn] ${msg}`); };
  logger.warnOnce = (msg) => { messages.push(`[warn] ${msg}`); };
  logger.error = (msg) => { messages.push(`[error] ${msg}`); };
  return logger;
}

// Vite decides development/production from NODE_ENV and sets it when unset (`vite build`
// sets "production"): give each run the environment of a fresh shell, then restore it.
async function withCleanNodeEnv(fn) {
  const saved = process.env.NODE_ENV;
  delete process.env.NODE_ENV;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = saved;
  }
}

// A TCP port that was free when asked.
function freePort() {
  return new Promise((done, fail) => {
    const server = createNetServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

// `fn` run at most once (servers are closed by the test and, if it failed early, by after()).
function once(fn) {
  let done = null;
  return () => { done ??= fn(); return done; };
}

async function listFiles(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
}

// Shared-subset scenario: opens the app with this run's options and tokens in the query
// string and returns what the page wrote into #result.
async function scenarioApiCall({ context, stack, url, logs }) {
  const tokens = await stack.auth.login();
  const config = {
    options: { tokenEndpoint: stack.auth.tokenEndpoint, clientId: stack.auth.clientId, attachTo: [stack.api.url] },
    tokens,
    api: stack.api.url,
  };
  const page = await context.newPage();
  page.on('console', (message) => logs.push(`[${message.type()}] ${message.text()}`));
  page.on('pageerror', (error) => logs.push(`[pageerror] ${error.message}`));
  const responses = [];
  // Chromium-only: response headers (content type of the .wasm).
  page.on('response', (response) => {
    responses.push({ url: response.url(), status: response.status(), type: response.headers()['content-type'] });
  });
  try {
    await page.goto(`${url}/?c=${encodeURIComponent(JSON.stringify(config))}`);
    try {
      await page.waitForFunction(() => document.getElementById('result')?.dataset.done === '1', null,
        { timeout: PAGE_TIMEOUT });
    } catch (err) {
      throw new Error(`the app at ${url} did not finish:\n${logs.join('\n')}`, { cause: err });
    }
    const text = await page.evaluate(() => document.getElementById('result').textContent);
    return { result: JSON.parse(text), responses };
  } finally {
    await page.close();
  }
}

function assertPageWorked({ result, responses }, logs, apiOkBefore, stack) {
  const where = `\npage result: ${JSON.stringify(result)}\npage log:\n${logs.join('\n')}`;
  assert.equal(result.error, undefined, `the app failed${where}`);
  assert.equal(result.status, 200, `GET /api/me through auth.fetch${where}`);
  assert.equal(result.sub, 'alice', where);
  assert.equal(result.clientStatus, 'signedIn', where);
  assert.deepEqual(result.invalid, { thrown: true, isTokenwardError: true, code: 'invalid_options', name: 'TokenwardError' },
    `bad options reject with the exported TokenwardError${where}`);
  assert.equal(stack.api.stats.ok, apiOkBefore + 1, 'the API served exactly one authorised request');
  const last = stack.api.requests.at(-1);
  assert.equal(last.path, '/api/me');
  assert.match(last.authorization ?? '', /^Bearer \S+$/i, 'the API saw the access token');
  const errors = logs.filter((line) => line.startsWith('[pageerror]') || line.startsWith('[error]'));
  assert.deepEqual(errors, [], `no page errors or console errors${where}`);
  const wasm = responses.filter((r) => new URL(r.url).pathname.endsWith('.wasm'));
  for (const r of wasm) {
    assert.equal(r.status, 200, `${r.url}${where}`);
    assert.equal(r.type, 'application/wasm', `${r.url} is served as application/wasm${where}`);
  }
  return wasm;
}

let work;
let stack;
let context;
let tarball;
let packageWasm;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tokenward-vite-'));
  await ensureBuilt();
  tarball = await packTarball(work);
  packageWasm = await readFile(join(repoRoot, 'dist', 'tokenward_bg.wasm'));
  stack = await startStack({ app: false });
  context = await launchBrowser();
}, { timeout: 300_000 });

after(async () => {
  const results = await Promise.allSettled([context?.close(), stack?.close()]);
  if (work) await rm(work, { recursive: true, force: true, maxRetries: 3 });
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
});

for (const version of VITE_VERSIONS) {
  describe(`Vite ${version}, no configuration`, { timeout: 900_000 }, () => {
    let app;
    let vite;
    let prepared = '';
    const closers = [];

    before(async () => {
      app = join(work, `vite-${version}`);
      const started = Date.now();
      const { cacheHit } = await makeApp(app, version, tarball);
      vite = await importVite(app);
      assert.equal(vite.version, version);
      prepared = `vite@${version}: app ready in ${Date.now() - started} ms`
        + ` (Vite install cache ${cacheHit ? 'hit' : 'miss'}, tokenward tarball installed fresh)`;
    }, { timeout: 300_000 });

    after(async () => {
      const results = await Promise.allSettled(closers.splice(0).reverse().map((close) => close()));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    });

    test('dev server (`vite`): the documented import works and calls the API', { timeout: 180_000 }, async (t) => {
      t.diagnostic(prepared);
      const messages = [];
      const logs = [];
      await withCleanNodeEnv(async () => {
        const started = Date.now();
        const server = await vite.createServer({
          root: app,
          clearScreen: false,
          logLevel: 'warn',
          customLogger: recordingLogger(vite, messages),
          // Vite 7 reads port 0 as "default" (5173), shared with anything else on the machine:
          // start from a port that was free a moment ago; strictPort: false moves on if taken.
          server: { host: '127.0.0.1', port: await freePort(), strictPort: false },
        });
        const close = once(() => server.close());
        closers.push(close);
        try {
          await server.listen();
          const url = server.resolvedUrls.local[0].replace(/\/$/, '');
          const apiOk = stack.api.stats.ok;
          const outcome = await scenarioApiCall({ context, stack, url, logs });
          const wasm = assertPageWorked(outcome, logs, apiOk, stack);
          t.diagnostic(`dev server ${url}: /api/me ${outcome.result.status} sub=${outcome.result.sub} in ${Date.now() - started} ms`
            + ` (incl. dependency pre-bundling); .wasm requests: ${wasm.length}`);
        } finally {
          await close();
        }
      });
      for (const m of messages) t.diagnostic(`vite: ${m.split('\n')[0]}`);
    });

    test('`vite build` + static server: .wasm is a separate asset, the app calls the API', { timeout: 180_000 }, async (t) => {
      const messages = [];
      const logs = [];
      const started = Date.now();
      await withCleanNodeEnv(() => vite.build({
        root: app,
        clearScreen: false,
        logLevel: 'warn',
        customLogger: recordingLogger(vite, messages),
      }));
      const buildMs = Date.now() - started;
      for (const m of messages) t.diagnostic(`vite build: ${m.split('\n')[0]}`);

      const dist = join(app, 'dist');
      const files = await listFiles(dist);
      const sizes = await Promise.all(files.map(async (f) => [relative(dist, f), (await stat(f)).size]));
      t.diagnostic(`vite build in ${buildMs} ms: ${sizes.map(([f, s]) => `${f} ${s} B`).join(', ')}`);

      const wasmFiles = files.filter((f) => f.endsWith('.wasm'));
      assert.equal(wasmFiles.length, 1, `exactly one .wasm asset in dist/: ${sizes.map(([f]) => f).join(', ')}`);
      assert.ok((await readFile(wasmFiles[0])).equals(packageWasm), 'the .wasm asset is the package\'s tokenward_bg.wasm');
      const jsFiles = files.filter((f) => /\.[cm]?js$/.test(f));
      assert.ok(jsFiles.length > 0, 'the build has JS');
      for (const f of jsFiles) {
        const text = await readFile(f, 'utf8');
        const rel = relative(dist, f);
        assert.ok(!text.includes(WASM_BASE64_MAGIC), `${rel} (${text.length} B) contains a base64 wasm module`);
        assert.ok(text.length < BIG_JS, `${rel} is ${text.length} B: the dev build (inlined wasm) leaked into production?`);
      }

      const server = await startStatic({ root: dist });
      const close = once(() => server.close());
      closers.push(close);
      try {
        const apiOk = stack.api.stats.ok;
        const outcome = await scenarioApiCall({ context, stack, url: server.url, logs });
        const wasm = assertPageWorked(outcome, logs, apiOk, stack);
        const wasmPath = `/${relative(dist, wasmFiles[0]).split('\\').join('/')}`;
        assert.ok(wasm.some((r) => new URL(r.url).pathname === wasmPath),
          `the page fetched ${wasmPath}; .wasm responses: ${JSON.stringify(wasm)}`);
        t.diagnostic(`built app ${server.url}: /api/me ${outcome.result.status} sub=${outcome.result.sub};`
          + ` fetched ${wasmPath} as ${wasm[0].type}`);
      } finally {
        await close();
      }
    });
  });
}
