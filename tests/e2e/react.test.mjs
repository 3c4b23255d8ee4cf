// tokenward/react in a fresh Vite + React app (the Vite dev server, so React runs in
// development mode and <StrictMode> mounts, unmounts and mounts every effect), with the
// packed package installed, against the real authorization server and API. What is
// asserted is what a user (or the server) sees: one client per provider, sign-in through
// the real login form, a protected component showing the user's `sub`, a background
// refresh re-rendering only the components that read the session, and a sign-out in one
// tab showing in the other.
//
// Vite, React and the React plugin are installed once into
// ~/.cache/tokenward/react/<versions> (a warm run does not reinstall them) and
// copied into a throw-away app; the freshly packed tarball is installed on every run.
// Chromium-only (playwright-core's own API: click, fill, addInitScript).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import {
  cacheDir, ensureBuilt, launchBrowser, repoRoot, resultPath, startStack,
} from './harness.mjs';

// Exact versions: the Vite the Vite test uses (plugin-react 6 needs Vite 8), and the
// newest React and plugin when this was written. Bump deliberately.
const VERSIONS = {
  vite: '8.3.8', react: '19.3.1', 'react-dom': '19.3.1', '@vitejs/plugin-react': '6.3.0',
};
const FIXTURE = fileURLToPath(new URL('./fixtures/react-app/', import.meta.url));
const CACHE = join(cacheDir, 'react');
const TIMEOUT = 60_000;
const USER = 'erin';

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

async function cachedInstall() {
  const key = Object.entries(VERSIONS).map(([n, v]) => `${n.replace('/', '+')}@${v}`).join('_');
  const dir = join(CACHE, key);
  const marker = join(dir, '.complete');
  if (existsSync(marker)) return { dir, hit: true };
  await mkdir(CACHE, { recursive: true });
  const partial = await mkdtemp(join(CACHE, 'partial-'));
  try {
    const { vite, '@vitejs/plugin-react': plugin, ...deps } = VERSIONS;
    await writeFile(join(partial, 'package.json'), `${JSON.stringify({
      name: 'tokenward-react-app', private: true, type: 'module',
      dependencies: deps, devDependencies: { vite, '@vitejs/plugin-react': plugin },
    }, null, 2)}\n`);
    try {
      await run('npm', ['install', '--no-audit', '--no-fund'], { cwd: partial });
    } catch (err) {
      throw new Error(`could not install ${key} (needs the npm registry): ${err.message}`, { cause: err });
    }
    await writeFile(join(partial, '.complete'), `${new Date().toISOString()}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return { dir, hit: false };
}

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

// Runs in every page before its scripts: counts BroadcastChannels opened and closed (each
// client opens one for its tabs protocol and closes it on dispose).
function countChannels() {
  const Original = window.BroadcastChannel;
  const counts = { opened: 0, closed: 0, names: [] };
  window.e2eChannels = counts;
  window.BroadcastChannel = class extends Original {
    constructor(name) {
      super(name);
      counts.opened += 1;
      counts.names.push(String(name));
    }

    close() {
      if (!this.e2eClosed) {
        this.e2eClosed = true;
        counts.closed += 1;
      }
      return super.close();
    }
  };
}

const state = (page) => page.evaluate(async () => {
  const locks = navigator.locks ? await navigator.locks.query() : { held: [], pending: [] };
  return {
    client: document.getElementById('client')?.textContent ?? null,
    status: document.getElementById('protected')?.dataset.status ?? null,
    sub: document.getElementById('sub')?.textContent ?? null,
    expires: document.getElementById('expires')?.textContent ?? null,
    renders: { ...window.renders },
    channels: { ...window.e2eChannels, names: [...window.e2eChannels.names] },
    locks: { held: locks.held.map((l) => l.name), pending: locks.pending.map((l) => l.name) },
    signInError: window.signInError ?? null,
  };
});

let work;
let appDirectory;
let stack;
let context;
let vite;
let server;
let url;
const logs = [];

async function openPage(path = '/') {
  const page = await context.newPage();
  page.on('console', (message) => logs.push(`[${message.type()}] ${message.text()}`));
  page.on('pageerror', (error) => logs.push(`[pageerror] ${error.message}`));
  await page.goto(`${url}${path}`);
  await waitFor(page, () => document.getElementById('client')?.textContent === 'ready', 'the provider created its client');
  return page;
}

async function waitFor(page, fn, what, arg) {
  try {
    await page.waitForFunction(fn, arg, { timeout: TIMEOUT });
  } catch (err) {
    throw new Error(`${what}: did not happen\n${JSON.stringify(await state(page).catch(() => null))}\n${logs.slice(-30).join('\n')}`, { cause: err });
  }
}

// On the authorization server's pages, acts as the user until the page is back on the app.
async function logInOnServer(page) {
  const seen = [];
  for (let step = 0; step < 8; step += 1) {
    await page.waitForFunction(({ appOrigin }) => {
      if (location.origin === appOrigin) return document.getElementById('sub') !== null || window.signInError;
      return document.querySelector('input[name="login"]') || document.querySelector('button[type="submit"]');
    }, { appOrigin: url }, { timeout: TIMEOUT });
    if (new URL(page.url()).origin === url) return seen;
    if (await page.$('input[name="login"]')) {
      seen.push('login');
      await page.fill('input[name="login"]', USER);
      await page.fill('input[name="password"]', 'correct horse');
    } else {
      seen.push('consent');
    }
    await Promise.all([page.waitForNavigation({ timeout: TIMEOUT }), page.click('button[type="submit"]')]);
  }
  throw new Error(`sign-in did not come back to the app: ${seen.join(' → ')}`);
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tokenward-react-'));
  await ensureBuilt();
  const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: repoRoot });
  const [{ filename }] = JSON.parse(packed.slice(packed.indexOf('[')));
  const app = join(work, 'app');
  appDirectory = app;
  const cache = await cachedInstall();
  await cp(cache.dir, app, { recursive: true, filter: (src) => !src.endsWith('.complete') });
  await cp(FIXTURE, app, { recursive: true });
  await run('npm', ['install', '--no-audit', '--no-fund', join(work, filename)], { cwd: app });
  const pkg = JSON.parse(await readFile(join(app, 'node_modules', 'vite', 'package.json'), 'utf8'));
  assert.equal(pkg.version, VERSIONS.vite);
  const entry = pkg.exports['.'];
  const file = typeof entry === 'string' ? entry : entry.import?.default ?? entry.import ?? entry.default;
  vite = await import(pathToFileURL(join(app, 'node_modules', 'vite', file)).href);

  stack = await startStack({ app: false, accessTokenTtl: 300 });
  const saved = process.env.NODE_ENV;
  delete process.env.NODE_ENV; // a fresh shell: Vite's dev server runs React in development mode
  try {
    server = await vite.createServer({
      root: app,
      clearScreen: false,
      logLevel: 'warn',
      server: { host: '127.0.0.1', port: await freePort(), strictPort: false },
    });
    await server.listen();
  } finally {
    if (saved !== undefined) process.env.NODE_ENV = saved;
  }
  url = server.resolvedUrls.local[0].replace(/\/$/, '');
  stack.auth.addRedirectUri(`${url}/`);
  context = await launchBrowser();
  await context.addInitScript(countChannels);
}, { timeout: 600_000 });

after(async () => {
  await writeFile(await resultPath('react.log'), `${logs.join('\n')}\n`).catch(() => {});
  const results = await Promise.allSettled([context?.close(), server?.close(), stack?.close()]);
  if (work) await rm(work, { recursive: true, force: true, maxRetries: 3 });
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
});

describe('tokenward/react in a Vite + React app under <StrictMode>', { timeout: 600_000 }, () => {
  let tab1;

  test('the main entry does not import React; the react entry does', async () => {
    const dist = join(appDirectory, 'node_modules', 'tokenward', 'dist');
    for (const file of ['index.js', 'index.dev.js', 'client.js', 'tokenward.js']) {
      const text = await readFile(join(dist, file), 'utf8');
      assert.doesNotMatch(text, /from\s*['"]react(-dom)?(\/[^'"]*)?['"]/, `dist/${file} imports React`);
    }
    assert.match(await readFile(join(dist, 'react.js'), 'utf8'), /from 'react'/);
  });

  test('one client per provider: one channel, one presence lock, no token request', async (t) => {
    const options = {
      issuer: stack.auth.issuer,
      clientId: stack.auth.clientId,
      storage: 'local',
      redirectUri: `${url}/`,
      scope: 'openid api:read',
      attachTo: [stack.api.url],
    };
    stack.auth.resetStats();
    tab1 = await openPage(`/?c=${encodeURIComponent(JSON.stringify({ options }))}`);
    const s = await state(tab1);
    t.diagnostic(`after mount: ${JSON.stringify(s)}`);
    assert.equal(s.status, 'signedOut');
    assert.equal(s.channels.opened, 1, `one client (one BroadcastChannel) although StrictMode mounted twice: ${s.channels.names}`);
    assert.equal(s.channels.closed, 0, 'the StrictMode fake unmount did not dispose the client');
    // Each client holds one presence lock (`<storageKey>:tab:<id>`) for its lifetime: two
    // clients, or one orphaned by the fake unmount, would show as two.
    assert.equal(s.locks.held.length, 1, `one presence lock: ${s.locks.held}`);
    assert.match(s.locks.held[0], /:tab:/);
    assert.deepEqual(s.locks.pending, [], 'no Web Lock is waited for');
    assert.equal(stack.auth.stats.tokenRequests, 0, 'no token request');
  });

  test('sign-in through the login form: the protected component shows the user', async (t) => {
    stack.auth.setAccessTokenTtl(8); // short-lived tokens: the next test waits for a background refresh
    stack.auth.resetStats();
    await tab1.click('#signin');
    const seen = await logInOnServer(tab1);
    await waitFor(tab1, () => document.getElementById('sub') !== null, 'the protected component shows the user');
    const s = await state(tab1);
    t.diagnostic(`sign-in steps: ${seen.join(' → ')}; ${JSON.stringify(s)}`);
    assert.ok(seen.includes('login'), 'the login form was shown');
    assert.equal(s.signInError, null);
    assert.equal(s.sub, USER);
    assert.equal(stack.auth.stats.codeExchanges, 1, 'the code was exchanged once (one client handled the redirect)');
    assert.equal(s.channels.opened, 1, 'one client after the redirect');
    assert.equal(s.channels.closed, 0);
    assert.equal(s.locks.held.length, 1, `one presence lock: ${s.locks.held}`);
  });

  test('a background refresh re-renders the session consumer, not the rest', async (t) => {
    const before = await state(tab1);
    const refreshes = stack.auth.stats.refreshOk;
    await waitFor(tab1, (old) => {
      const now = document.getElementById('expires')?.textContent;
      return now && now !== old;
    }, 'the session consumer showed the refreshed expiry', before.expires);
    const after = await state(tab1);
    t.diagnostic(`renders before ${JSON.stringify(before.renders)}, after ${JSON.stringify(after.renders)}; refreshes ${stack.auth.stats.refreshOk}`);
    assert.ok(stack.auth.stats.refreshOk > refreshes, 'the authorization server saw a refresh');
    assert.equal(stack.auth.stats.refreshRequests, stack.auth.stats.refreshOk, 'every refresh request succeeded');
    assert.equal(stack.auth.stats.invalidGrant, 0);
    assert.ok(after.renders.session > before.renders.session, 'the session consumer re-rendered');
    assert.equal(after.renders.static, before.renders.static, 'the component that does not read the session did not re-render');
    assert.equal(after.sub, USER);
    assert.equal(after.channels.opened, 1);
  });

  test('sign-out in one tab shows in the other', async (t) => {
    const tab2 = await openPage('/');
    try {
      await waitFor(tab2, () => document.getElementById('sub') !== null, 'the second tab restored the session');
      assert.equal((await state(tab2)).sub, USER);
      await tab1.click('#signout');
      await waitFor(tab1, () => document.getElementById('protected')?.dataset.status === 'signedOut', 'tab 1 signed out');
      await waitFor(tab2, () => document.getElementById('protected')?.dataset.status === 'signedOut', 'tab 2 shows the sign-out');
      const s2 = await state(tab2);
      t.diagnostic(`tab 2: ${JSON.stringify(s2)}`);
      assert.equal(s2.sub, null);
      assert.equal(s2.channels.opened, 1, 'one client in the second tab too');
      assert.equal(s2.locks.held.length, 2, `one presence lock per tab: ${s2.locks.held}`);
    } finally {
      await tab2.close();
    }
  });

  test('removing the provider disposes its client', async () => {
    await tab1.click('#unmount');
    await waitFor(tab1, () => window.e2eChannels.closed === 1, 'the client was disposed (its channel closed)');
    // The lock manager is the origin's: the second tab's presence lock goes when the
    // browser has finished closing that tab, so wait for the condition.
    await waitFor(tab1, async () => (await navigator.locks.query()).held.length === 0, 'no presence lock left');
    const s = await state(tab1);
    assert.equal(s.channels.opened, 1);
    assert.deepEqual(s.locks, { held: [], pending: [] }, 'the disposed client released its presence lock');
    const errors = logs.filter((line) => line.startsWith('[pageerror]') || line.startsWith('[error]'));
    assert.deepEqual(errors, [], 'no page errors or console errors');
    await tab1.close();
  });

  test('a provider whose options cannot work throws the TokenwardError to the error boundary', async () => {
    const page = await context.newPage();
    const seen = [];
    page.on('pageerror', (error) => seen.push(error.message));
    try {
      await page.goto(`${url}/?bad=1`);
      await waitFor(page, () => document.getElementById('boundary') !== null, 'the error boundary caught the error');
      const shown = JSON.parse(await page.evaluate(() => document.getElementById('boundary').textContent));
      assert.deepEqual(shown, { isTokenwardError: true, code: 'invalid_options', name: 'TokenwardError' },
        'the same TokenwardError class as the app imports from tokenward');
      assert.deepEqual(await page.evaluate(() => ({ ...window.e2eChannels, names: undefined })),
        { opened: 0, closed: 0, names: undefined }, 'no client was created');
    } finally {
      await page.close();
    }
  });
});
