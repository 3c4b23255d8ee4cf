// `npm run bench`: tokenward against the libraries apps use today, in one run, in headless
// Chromium on loopback servers (the real oidc-provider and the JWT-checking API of
// tests/servers). Prints a markdown report and writes it to bench/results/latest.md, with
// the raw numbers in bench/results/latest.json.
//
//   node bench/run.mjs [--only size,startup,token,requests,storm,memory] [--quick]
//   node bench/run.mjs --render      (latest.md again from latest.json)
//
// Installs bench/'s own dependencies (pinned in bench/package.json) when they are missing,
// so that `npm test` never needs them. A peer that fails to install or bundle is reported
// as such in the tables.
import { spawnSync, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, homedir, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';

import { PEERS, TOKENWARD } from './peers.mjs';
import { BENCH_HTML, openBench, quantiles, startAuth0Proxy, within } from './helpers.mjs';
import { render } from './report.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(benchDir, '..');
const cacheDir = join(benchDir, '.cache');
const wwwDir = join(cacheDir, 'www');
const bundleDir = join(wwwDir, 'bundles');
const resultsDir = join(benchDir, 'results');

const argv = process.argv.slice(2);
const flag = (name) => {
  const i = argv.indexOf(`--${name}`);
  return i === -1 ? undefined : (argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[i + 1] : true);
};
const SECTIONS = ['size', 'startup', 'token', 'requests', 'storm', 'memory'];
const only = typeof flag('only') === 'string' ? flag('only').split(',') : SECTIONS;
const quick = Boolean(flag('quick'));
const CONFIG = {
  startupPages: quick ? 5 : 25,
  tokenBatches: quick ? 5 : 30,
  tokenPerBatch: 100,
  requests: quick ? 200 : 2000,
  requestBlock: 100,
  stormTabs: 5,
  stormCalls: 100,
  stormRounds: quick ? 1 : 3,
  memoryRequests: quick ? 1000 : 10_000,
};

const log = (message) => process.stderr.write(`[bench] ${message}\n`);
const started = Date.now();

// ---------------------------------------------------------------------------- install

function npm(args, cwd) {
  const env = { ...process.env };
  delete env.npm_config_local_prefix; // set by the outer `npm run`: would point npm at the repo
  const result = spawnSync('npm', args, { cwd, env, stdio: ['ignore', 2, 2] });
  return result.status === 0;
}

const pkgDir = (pkg) => join(benchDir, 'node_modules', ...pkg.split('/'));
const installed = (pkg) => existsSync(join(pkgDir(pkg), 'package.json'));

function ensureInstalled() {
  if (!installed('playwright-core') && !existsSync(join(repoRoot, 'node_modules', 'playwright-core'))) {
    log('installing the repository dev dependencies (npm ci)');
    if (!npm(['ci', '--no-audit', '--no-fund'], repoRoot)) throw new Error('npm ci failed in the repository root');
  }
  const manifest = JSON.parse(readFileSync(join(benchDir, 'package.json'), 'utf8'));
  const wanted = Object.keys(manifest.dependencies);
  if (wanted.every(installed)) return {};
  log('installing bench dependencies (npm ci in bench/)');
  if (npm(['ci', '--no-audit', '--no-fund'], benchDir)) return {};
  // One package that cannot be installed must not hide the others: install them one by one.
  const failures = {};
  for (const pkg of wanted.filter((p) => !installed(p))) {
    log(`installing ${pkg} alone`);
    if (!npm(['install', '--no-save', '--no-audit', '--no-fund', `${pkg}@${manifest.dependencies[pkg]}`], benchDir)) {
      failures[pkg] = `npm could not install ${pkg}@${manifest.dependencies[pkg]}`;
    }
  }
  return failures;
}

// ------------------------------------------------------------------------------- size

const gzip = (bytes) => gzipSync(bytes, { level: 9 }).length;
const brotli = (bytes) => brotliCompressSync(bytes, {
  params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length },
}).length;
const sizes = (bytes) => ({ raw: bytes.length, gzip: gzip(bytes), brotli: brotli(bytes) });
const add = (...all) => ({
  raw: all.reduce((s, x) => s + x.raw, 0),
  gzip: all.reduce((s, x) => s + x.gzip, 0),
  brotli: all.reduce((s, x) => s + x.brotli, 0),
});

const version = (peer) => (peer.pkg
  ? JSON.parse(readFileSync(join(pkgDir(peer.pkg), 'package.json'), 'utf8')).version
  : JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version);

async function bundleAll(installFailures) {
  const esbuild = await import(pathToFileURL(join(pkgDir('esbuild'), 'lib', 'main.js')).href);
  rmSync(wwwDir, { recursive: true, force: true });
  mkdirSync(bundleDir, { recursive: true });
  copyFileSync(join(benchDir, 'page.js'), join(wwwDir, 'page.js'));
  const wasmFile = join(repoRoot, 'dist', 'tokenward_bg.wasm');
  copyFileSync(wasmFile, join(bundleDir, 'tokenward_bg.wasm'));

  const rows = [];
  for (const peer of PEERS) {
    const row = { name: peer.name, pkg: peer.pkg ?? 'tokenward', entry: peer.entry };
    rows.push(row);
    if (peer.pkg && (installFailures[peer.pkg] || !installed(peer.pkg))) {
      row.error = installFailures[peer.pkg] ?? 'not installed';
      continue;
    }
    row.version = version(peer);
    try {
      const result = await esbuild.build({
        stdin: { contents: peer.entry, resolveDir: benchDir, loader: 'js' },
        alias: { tokenward: join(repoRoot, 'dist', 'index.js') },
        bundle: true,
        minify: true,
        format: 'esm',
        platform: 'browser',
        write: false,
        logLevel: 'silent',
      });
      const js = result.outputFiles[0].contents;
      writeFileSync(join(bundleDir, `${peer.name}.js`), js);
      row.js = sizes(js);
      if (peer.name === TOKENWARD) row.wasm = sizes(readFileSync(wasmFile));
      row.total = row.wasm ? add(row.js, row.wasm) : row.js;
    } catch (err) {
      row.error = `esbuild failed: ${String(err.message).split('\n').slice(0, 3).join(' ')}`;
    }
  }
  // The files as published, unbundled: the ones `bench/size-budget.mjs` checks, the
  // snippets the glue imports included.
  const snippets = readdirSync(join(repoRoot, 'dist', 'snippets'), { recursive: true })
    .map(String).filter((f) => f.endsWith('.js')).sort();
  const published = ['index.js', 'client.js', 'tokenward.js', 'tokenward_bg.wasm']
    .map((f) => ({ file: f, ...sizes(readFileSync(join(repoRoot, 'dist', f))) }))
    .concat(snippets.map((f) => ({ file: f.split('/').pop(), ...sizes(readFileSync(join(repoRoot, 'dist', 'snippets', f))) })));
  return { bundles: rows, published, publishedTotal: add(...published) };
}

// The core alone (`bench/core-floor.mjs`), about what the `.wasm` would weigh with the
// shell in JavaScript; null when it cannot be built here (the line is then left out).
function coreFloor() {
  log('size: the core alone (bench/core-floor.mjs)');
  const cache = process.env.TOKENWARD_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tokenward');
  const run = spawnSync(process.execPath, [join(benchDir, 'core-floor.mjs')], {
    cwd: repoRoot,
    env: { ...process.env, CARGO_TARGET_DIR: join(cache, 'core-floor-target') },
    encoding: 'utf8',
  });
  const m = /core alone: (\d+) B raw, (\d+) B gzip/.exec(run.stdout ?? '');
  if (!m) {
    log(`size: the core alone could not be built (${String(run.stderr ?? '').trim().split('\n').slice(-1)[0] ?? run.status})`);
    return null;
  }
  return { raw: Number(m[1]), gzip: Number(m[2]) };
}

// ------------------------------------------------------------------------------- main

async function main() {
  if (flag('render')) { // re-render latest.md from latest.json, e.g. after editing the wording
    const saved = JSON.parse(readFileSync(join(resultsDir, 'latest.json'), 'utf8'));
    writeFileSync(join(resultsDir, 'latest.md'), render(saved));
    process.stdout.write(render(saved));
    return;
  }
  const installFailures = ensureInstalled();
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadAverage: loadavg().map((x) => Number(x.toFixed(2))) },
    config: CONFIG,
    quick,
    peers: PEERS.map(({ name, pkg, startup, token, tokenWhy }) => ({ name, pkg: pkg ?? 'tokenward', startup, token: token ?? tokenWhy })),
  };
  try {
    results.machine.chromium = execFileSync(process.env.CHROMIUM_PATH || '/usr/bin/chromium', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch { /* reported as unknown */ }
  try {
    results.tokenwardCommit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot }).toString().trim();
  } catch { /* not a checkout */ }

  const { ensureBuilt, launchBrowser, startStack } = await import('../tests/e2e/harness.mjs');
  const { startAuthServer, startStatic } = await import('../tests/servers/index.mjs');
  await ensureBuilt();

  log('size: bundling with esbuild');
  results.size = await bundleAll(installFailures);
  results.size.coreFloor = coreFloor();
  const bundled = new Set(results.size.bundles.filter((r) => !r.error).map((r) => r.name));
  results.versions = Object.fromEntries(results.size.bundles.map((r) => [r.pkg, r.version ?? null]));
  results.versions.esbuild = installed('esbuild') ? version({ pkg: 'esbuild' }) : null;

  const needBrowser = only.some((s) => s !== 'size');
  if (needBrowser) {
    const stack = await startStack({ accessTokenTtl: 3600, app: false });
    const index = (req, res) => {
      res.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Cache-Control': 'no-store',
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
      }).end(BENCH_HTML);
    };
    const app = await startStatic({ root: wwwDir, routes: { '/': index } });
    stack.auth.addRedirectUri(`${app.url}/`);
    const context = await launchBrowser({
      args: [
        // Only loopback: a library that tries a remote host fails here instead of going out.
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
        '--enable-blink-features=ForceEagerMeasureMemory',
      ],
    });
    const logs = [];
    const c = {
      issuer: stack.auth.issuer,
      clientId: stack.auth.clientId,
      tokenEndpoint: stack.auth.tokenEndpoint,
      authorizationEndpoint: stack.auth.authorizationEndpoint,
      endSessionEndpoint: stack.auth.endSessionEndpoint,
      api: stack.api.url,
      redirectUri: `${app.url}/`,
      msalAuthority: 'https://127.0.0.1:9/bench',
      auth0Scope: 'openid api:read',
      tokenward: stack.clientOptions,
    };
    const url = `${app.url}/`;
    try {
      if (only.includes('startup')) results.startup = await startupSection({ context, url, logs, c, stack, bundled });
      if (only.includes('token')) results.token = await tokenSection({ context, url, logs, c, stack, bundled });
      if (only.includes('requests')) results.requests = await requestSection({ context, url, logs, c, stack });
      if (only.includes('storm')) results.storm = await stormSection({ context, url, logs, c, stack, bundled, startAuthServer });
      if (only.includes('memory')) results.memory = await memorySection({ context, url, logs, c, stack });
    } finally {
      results.pageLog = [...new Set(logs)].slice(0, 40);
      await context.close().catch(() => {});
      await app.close().catch(() => {});
      await stack.close().catch(() => {});
    }
  }
  results.seconds = Math.round((Date.now() - started) / 1000);

  const markdown = render(results);
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(resultsDir, 'latest.md'), markdown);
  process.stdout.write(markdown);
  log(`done in ${results.seconds} s; written to bench/results/latest.md and latest.json`);
}

// ------------------------------------------------------------------------- start-up

async function startupSection({ context, url, logs, c, stack, bundled }) {
  log(`start-up: ${CONFIG.startupPages} fresh pages per library`);
  const tokens = await stack.auth.login();
  const seed = await openBench(context, url, logs);
  await seed.evaluate((a) => window.bench.seedStartup(a), { c, tokens });
  await seed.close();
  const names = PEERS.map((p) => p.name);
  const times = Object.fromEntries(names.map((n) => [n, []]));
  const errors = Object.fromEntries(names.filter((n) => !bundled.has(n)).map((n) => [n, 'not installed or not bundled (see the size table)']));
  for (let i = 0; i < CONFIG.startupPages; i += 1) {
    for (const name of names) { // round-robin, so that machine noise spreads over all libraries
      if (errors[name]) continue;
      const page = await openBench(context, url, logs);
      try {
        times[name].push(await within(30, `${name} start-up`, page.evaluate((a) => window.bench.startup(a), { name, c })));
      } catch (err) {
        errors[name] = String(err.message).split('\n')[0];
      }
      await page.close();
    }
  }
  return names.map((name) => (errors[name] ? { name, error: errors[name] } : { name, ms: quantiles(times[name]) }));
}

// ------------------------------------------------------------------------ token read

async function tokenSection({ context, url, logs, c, stack, bundled }) {
  log('warm token read: tokenward and peers');
  const rows = [];
  for (const peer of PEERS) {
    if (!bundled.has(peer.name)) {
      rows.push({ name: peer.name, error: 'not installed or not bundled (see the size table)' });
      continue;
    }
    if (!peer.token) {
      rows.push({ name: peer.name, error: peer.tokenWhy });
      continue;
    }
    const tokens = await stack.auth.login(); // its own grant: keycloak's init() rotates the refresh token
    const page = await openBench(context, url, logs);
    try {
      const us = await within(120, `${peer.name} token read`, page.evaluate((a) => window.bench.warmToken(a), {
        name: peer.name, c, tokens, batches: CONFIG.tokenBatches, perBatch: CONFIG.tokenPerBatch,
      }));
      rows.push({ name: peer.name, us });
    } catch (err) {
      rows.push({ name: peer.name, error: String(err.message).split('\n')[0] });
    }
    await page.close();
  }
  return rows;
}

// ------------------------------------------------------------------ per-request cost

async function requestSection({ context, url, logs, c, stack }) {
  log(`per-request cost: ${CONFIG.requests} requests through auth.fetch and through fetch`);
  const tokens = await stack.auth.login();
  const page = await openBench(context, url, logs);
  const isolated = await page.evaluate(() => window.crossOriginIsolated);
  stack.api.resetStats();
  const ms = await within(300, 'per-request cost', page.evaluate((a) => window.bench.requestCost(a), {
    c, tokens, requests: CONFIG.requests, block: CONFIG.requestBlock, stubBatches: CONFIG.tokenBatches,
  }));
  const apiOk = stack.api.stats.ok;
  const apiUnauthorized = stack.api.stats.unauthorized;
  await page.close();
  return { ms, crossOriginIsolated: isolated, apiOk, apiUnauthorized };
}

// ----------------------------------------------------------------------- refresh storm

const STORM_LIBS = ['tokenward', 'tokenward-memory', 'oidc-client-ts', 'auth0', 'keycloak'];

async function stormSection({ context, url, logs, c, stack, bundled, startAuthServer }) {
  log(`refresh storm: ${CONFIG.stormTabs} tabs × ${CONFIG.stormCalls} concurrent calls, ${CONFIG.stormRounds} rounds per library`);
  const rows = [];
  for (const name of STORM_LIBS) {
    const bundle = name.startsWith(TOKENWARD) ? TOKENWARD : name;
    if (!bundled.has(bundle)) {
      rows.push({ name, error: 'not bundled' });
      continue;
    }
    let server = stack.auth;
    let lc = c;
    const extra = [];
    const rounds = [];
    try {
      if (name === 'auth0') {
        const proxy = await startAuth0Proxy();
        extra.push(proxy);
        server = await startAuthServer({ accessTokenTtl: 3600, issuer: `${proxy.url}/` });
        extra.push(server);
        proxy.setTarget(new URL(server.tokenEndpoint).origin);
        lc = { ...c, issuer: proxy.url, clientId: server.clientId };
      }
      for (let round = 0; round < CONFIG.stormRounds; round += 1) {
        rounds.push(await stormRound({ context, url, logs, name, server, c: lc, round }));
      }
      const sum = (key) => rounds.map((r) => r[key]);
      rows.push({
        name,
        rounds,
        refreshRequests: sum('refreshRequests'),
        invalidGrant: sum('invalidGrant'),
        grantsRevoked: sum('grantsRevoked'),
        callsFailed: sum('callsFailed'),
        calls: CONFIG.stormTabs * CONFIG.stormCalls,
        errors: [...new Set(rounds.flatMap((r) => r.errors))].slice(0, 3),
      });
    } catch (err) {
      rows.push({ name, error: String(err.message).split('\n')[0] });
    } finally {
      for (const closable of extra.reverse()) await closable.close().catch(() => {});
    }
  }
  for (const name of PEERS.map((p) => p.name)) {
    if (!STORM_LIBS.includes(name)) rows.push({ name, error: STORM_NOT_MEASURED[name] });
  }
  return rows;
}

// One storm: a fresh sign-in, fresh tabs, then every tab fires at the same instant.
async function stormRound({ context, url, logs, name, server, c, round }) {
  const shared = await server.login();
  // keycloak-js keeps tokens per tab, so each tab signs in on its own; the others share one session.
  const perTab = [];
  for (let i = 0; i < CONFIG.stormTabs; i += 1) perTab.push(name === 'keycloak' ? await server.login() : shared);
  const pages = [];
  try {
    for (let i = 0; i < CONFIG.stormTabs; i += 1) {
      const page = await openBench(context, url, logs);
      pages.push(page);
      await within(30, `${name} storm setup`, page.evaluate((a) => window.bench.stormSetup(a), { name, c, tokens: perTab[i], first: i === 0, round }));
    }
    for (const page of pages) {
      await page.waitForFunction(() => window.bench.stormReady(), null, { timeout: 10_000 });
    }
    server.resetStats();
    const at = Date.now() + 300;
    const tabs = await within(60, `${name} storm`, Promise.all(pages.map((page) => page.evaluate((a) => window.bench.stormFire(a), { at, calls: CONFIG.stormCalls }))));
    await new Promise((done) => { setTimeout(done, 500); }); // let stragglers reach the server
    const { refreshRequests, refreshOk, invalidGrant, grantsRevoked } = server.stats;
    return {
      refreshRequests, refreshOk, invalidGrant, grantsRevoked,
      callsOk: tabs.reduce((s, t) => s + t.ok, 0),
      callsFailed: tabs.reduce((s, t) => s + t.failed, 0),
      distinctTokens: Math.max(...tabs.map((t) => t.distinctTokens)),
      errors: [...new Set(tabs.flatMap((t) => t.errors))],
      visibility: [...new Set(tabs.map((t) => t.visibility))],
    };
  } finally {
    for (const page of pages) await page.close().catch(() => {});
  }
}

const STORM_NOT_MEASURED = {
  supabase: 'not measured: refreshes through its own GoTrue endpoint (`/token?grant_type=refresh_token`, JSON body), not an OAuth 2.0 token endpoint',
  okta: 'not measured: renews through Okta-specific endpoints and validates tokens against Okta\'s key and claim layout',
  msal: 'not measured: needs an Entra ID–shaped authority and cache; cannot be pointed at a standard provider\'s refresh grant here',
};

// ------------------------------------------------------------------------------ memory

async function memorySection({ context, url, logs, c, stack }) {
  log(`memory: ${CONFIG.memoryRequests} requests through fetch, then through auth.fetch`);
  const tokens = await stack.auth.login();
  const page = await openBench(context, `${url}?hookWasm`, logs);
  const cdp = await context.newCDPSession(page);
  const sample = async (label) => {
    await cdp.send('HeapProfiler.collectGarbage');
    await cdp.send('HeapProfiler.collectGarbage');
    const heap = await cdp.send('Runtime.getHeapUsage');
    const { wasmBytes, uaMemory } = await page.evaluate(() => window.bench.memorySample());
    return { label, jsHeapUsed: heap.usedSize, jsHeapTotal: heap.totalSize, wasmBytes, uaMemory };
  };
  try {
    const instances = await within(60, 'memory set-up', page.evaluate((a) => window.bench.memoryPrepare(a), { c, tokens }));
    const samples = [await sample('after 100 warm-up requests')];
    await within(600, 'memory run', page.evaluate((a) => window.bench.memoryRun(a), { requests: CONFIG.memoryRequests, through: 'fetch' }));
    samples.push(await sample(`after ${CONFIG.memoryRequests} more through fetch`));
    const first = CONFIG.memoryRequests / 10;
    await within(600, 'memory run', page.evaluate((a) => window.bench.memoryRun(a), { requests: first, through: 'tokenward' }));
    samples.push(await sample(`after ${first} more through auth.fetch`));
    await within(600, 'memory run', page.evaluate((a) => window.bench.memoryRun(a), { requests: CONFIG.memoryRequests - first, through: 'tokenward' }));
    samples.push(await sample(`after ${CONFIG.memoryRequests} through auth.fetch in all`));
    return { wasmInstances: instances, samples };
  } finally {
    await cdp.detach().catch(() => {});
    await page.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
