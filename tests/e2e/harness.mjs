// E2E harness: the packed tokenward package installed in a throw-away app, served to
// headless Chromium next to a real authorization server and a protected API.
// Every start* function returns something with close(), so a test file can do all its
// setup in before() and all its teardown in after().
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { after, before } from 'node:test';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { startApi, startAuthServer, startDotServer, startStatic } from '../servers/index.mjs';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const resultsDir = join(repoRoot, 'test-results');
/**
 * Where installs that outlive a clone are kept (the Vite and React apps' packages):
 * $TOKENWARD_CACHE, else ~/.cache/tokenward. Each entry is keyed by exact versions.
 */
export const cacheDir = process.env.TOKENWARD_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tokenward');

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// Runs a command; its output goes to stderr (stdout belongs to the test reporter) unless captured.
function run(command, args, { cwd, capture = false } = {}) {
  const env = { ...process.env };
  delete env.npm_config_local_prefix; // set by an outer `npm run`: would point nested npm at the repo
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', capture ? 'pipe' : 2, 2] });
    let stdout = '';
    child.stdout?.on('data', (chunk) => { stdout += chunk; });
    child.on('error', fail);
    child.on('close', (code) => {
      if (code === 0) done(stdout);
      else fail(new Error(`${command} ${args.join(' ')} (in ${cwd}) exited with ${code}`));
    });
  });
}

/** Builds the package if dist/ has no .wasm yet (`npm run build`). */
export async function ensureBuilt() {
  if (!existsSync(join(repoRoot, 'dist', 'tokenward_bg.wasm'))) {
    await run('npm', ['run', 'build'], { cwd: repoRoot });
  }
}

/** Packs the package (`npm pack`) and installs the tarball into `folder`, as a user's app would. */
export async function prepareApp(folder) {
  const dir = resolve(folder);
  await ensureBuilt();
  await mkdir(dir, { recursive: true });
  const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: repoRoot, capture: true });
  const [{ filename }] = JSON.parse(packed.slice(packed.indexOf('[')));
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({ name: 'tokenward-e2e-app', private: true, type: 'module' }, null, 2)}\n`);
  await run('npm', ['install', join(dir, filename), '--no-audit', '--no-fund'], { cwd: dir });
  return dir;
}

let preparedApp;

/** The app folder with the packed package installed: $TOKENWARD_APP_DIR, or one made once per process. */
export function appDir() {
  if (process.env.TOKENWARD_APP_DIR) return Promise.resolve(process.env.TOKENWARD_APP_DIR);
  preparedApp ??= mkdtemp(join(tmpdir(), 'tokenward-app-')).then((tmp) => {
    process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
    return prepareApp(join(tmp, 'app'));
  });
  return preparedApp;
}

export const IMPORT_MAP = { imports: { tokenward: '/node_modules/tokenward/dist/index.js' } };

/**
 * An app page that loads the installed package through an import map, exposes it as
 * window.tokenward, runs `script` (module code, may use `tokenward`), then sets window.tokenwardReady.
 */
export function appHtml({ body = '', script = '' } = {}) {
  return `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>tokenward e2e</title>
<link rel="icon" href="data:,">
<script type="importmap">${JSON.stringify(IMPORT_MAP)}</script>
</head>
<body>
${body}
<script type="module">
import * as tokenward from 'tokenward';
window.tokenward = tokenward;
${script}
window.tokenwardReady = true;
</script>
</body>
</html>
`;
}

/** Serves the app folder at http://127.0.0.1:<port>, with `html` (default appHtml()) as / and /index.html. */
export async function startApp({ html = appHtml(), routes = {}, port = 0 } = {}) {
  const root = await appDir();
  const index = (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(html);
  };
  const server = await startStatic({ root, port, routes: { '/': index, '/index.html': index, ...routes } });
  return { ...server, dir: root };
}

async function closeAll(closables) {
  const results = await Promise.allSettled(closables.filter(Boolean).reverse().map((c) => c.close()));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Authorization server + API (+ app unless app: false). The app's URL is a registered
 * redirect URI. `clientOptions` is what createTokenClient needs to refresh and attach to the API.
 * `dpop: true`: both servers in their DPoP mode (nonces required at both).
 */
export async function startStack({
  accessTokenTtl, clientId, extraClients, app = true, html, routes, dpop = false,
} = {}) {
  const started = [];
  try {
    const auth = await startAuthServer({ accessTokenTtl, clientId, extraClients, dpop });
    started.push(auth);
    const api = await startApi({ issuer: auth.issuer, jwksUri: auth.jwksUri, audience: auth.resource, dpop });
    started.push(api);
    const appServer = app ? await startApp({ html, routes }) : null;
    started.push(appServer);
    if (appServer) auth.addRedirectUri(`${appServer.url}/`);
    return {
      auth,
      api,
      app: appServer,
      clientOptions: {
        tokenEndpoint: auth.tokenEndpoint,
        revocationEndpoint: auth.revocationEndpoint,
        clientId: auth.clientId,
        attachTo: [api.url],
      },
      close: () => closeAll(started),
    };
  } catch (err) {
    await closeAll(started).catch(() => {});
    throw err;
  }
}

/**
 * startStack() with Django OAuth Toolkit as the authorization server (tests/servers/dot.mjs):
 * opaque access tokens, so the API introspects them. `cors`: 'django-cors-headers' (default)
 * or 'dot' (DOT's own allowed_origins only). `refreshTokenGracePeriodSeconds`: DOT's
 * REFRESH_TOKEN_GRACE_PERIOD_SECONDS (default 0).
 */
export async function startDotStack({
  accessTokenTtl, cors, refreshTokenGracePeriodSeconds, html, routes, app = true,
} = {}) {
  const started = [];
  try {
    const auth = await startDotServer({ accessTokenTtl, cors, refreshTokenGracePeriodSeconds });
    started.push(auth);
    const api = await startApi({ introspection: auth.introspection });
    started.push(api);
    const appServer = app ? await startApp({ html, routes }) : null;
    started.push(appServer);
    if (appServer) await auth.addRedirectUri(`${appServer.url}/`);
    return {
      auth,
      api,
      app: appServer,
      clientOptions: {
        tokenEndpoint: auth.tokenEndpoint,
        revocationEndpoint: auth.revocationEndpoint,
        clientId: auth.clientId,
        attachTo: [api.url],
      },
      close: () => closeAll(started),
    };
  } catch (err) {
    await closeAll(started).catch(() => {});
    throw err;
  }
}

/** Headless Chromium with a fresh profile; closing the returned context deletes the profile. */
export async function launchBrowser({ args = [] } = {}) {
  const profile = await mkdtemp(join(tmpdir(), 'tokenward-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      headless: true,
      args: [...CHROMIUM_ARGS, ...args],
    });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
  const close = context.close.bind(context);
  context.close = async (options) => {
    try {
      await close(options);
    } finally {
      await rm(profile, { recursive: true, force: true, maxRetries: 3 });
    }
  };
  return context;
}

/**
 * Opens `url` in a new page of `context` and waits for window.tokenwardReady.
 * Console messages and page errors are appended to `logs` (strings).
 */
export async function openApp(context, url, { logs = [] } = {}) {
  const page = await context.newPage();
  page.on('console', (message) => logs.push(`[${message.type()}] ${message.text()}`));
  page.on('pageerror', (error) => logs.push(`[pageerror] ${error.message}`));
  await page.goto(url);
  try {
    await page.waitForFunction(() => window.tokenwardReady === true, null, { timeout: 15_000 });
  } catch (err) {
    throw new Error(`tokenward did not load in ${url}:\n${logs.join('\n')}`, { cause: err });
  }
  return page;
}

/** A path under test-results/ (created if missing) for screenshots and logs. */
export async function resultPath(name) {
  await mkdir(resultsDir, { recursive: true });
  return join(resultsDir, name);
}

const AUTH_COUNTERS = ['refreshRequests', 'refreshOk', 'invalidGrant', 'revocations', 'grantsRevoked'];
const API_COUNTERS = ['ok', 'unauthorized'];

/**
 * Counts what a stack's servers saw over a whole suite, across the scenarios' resetStats():
 * each reset first adds the counters to the totals. `totals()` gives them so far.
 */
export function countAcrossResets(stack) {
  const totals = Object.fromEntries([...AUTH_COUNTERS, ...API_COUNTERS.map((k) => `api.${k}`)].map((k) => [k, 0]));
  const keep = (server, keys, prefix) => {
    const reset = server.resetStats.bind(server);
    const add = () => { for (const k of keys) totals[`${prefix}${k}`] += server.stats[k] ?? 0; };
    server.resetStats = (...args) => { add(); return reset(...args); };
  };
  keep(stack.auth, AUTH_COUNTERS, '');
  keep(stack.api, API_COUNTERS, 'api.');
  return {
    totals() {
      const now = { ...totals };
      for (const k of AUTH_COUNTERS) now[k] += stack.auth.stats[k] ?? 0;
      for (const k of API_COUNTERS) now[`api.${k}`] += stack.api.stats[k] ?? 0;
      return now;
    },
  };
}

/**
 * The Chromium side of a shared-scenario suite, for use inside a `describe`: starts
 * `start()` (a stack) and a browser in before(), closes both in after() (also on failure),
 * keeps the pages' console in test-results/<name>.log, and gives each test the `env` the
 * scenarios take. `suite.stack` and `suite.context` are there for Chromium-only cases.
 * At the end it prints what the servers counted over the suite (refreshes, rotations,
 * invalid_grant, revocations, API 200s and 401s) to stderr and test-results/<name>.counts.json.
 */
export function chromiumSuite(name, start) {
  const logs = [];
  const suite = {
    stack: null,
    context: null,
    env: (t) => ({
      context: suite.context,
      stack: suite.stack,
      openApp: (ctx, url) => openApp(ctx, url, { logs }),
      assert,
      diagnostic: (message) => t.diagnostic(message),
    }),
  };
  let counted = null;
  before(async () => {
    suite.stack = await start();
    counted = countAcrossResets(suite.stack);
    suite.context = await launchBrowser();
  });
  after(async () => {
    await writeFile(await resultPath(`${name}.log`), `${logs.join('\n')}\n`).catch(() => {});
    if (counted) {
      const t = counted.totals();
      const server = suite.stack.auth.kind === 'dot' ? 'Django OAuth Toolkit' : 'oidc-provider';
      process.stderr.write(`${name} (${server}) counted at the servers: refresh requests ${t.refreshRequests}, `
        + `rotations ${t.refreshOk}, invalid_grant ${t.invalidGrant}, revocations ${t.revocations}, `
        + `grants revoked ${t.grantsRevoked}; API 200 ${t['api.ok']}, 401 ${t['api.unauthorized']}\n`);
      await writeFile(await resultPath(`${name}.counts.json`), `${JSON.stringify({ server, ...t }, null, 2)}\n`).catch(() => {});
    }
    await suite.context?.close();
    await suite.stack?.close();
  });
  return suite;
}
