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
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';

import { PEERS, TOKENWARD } from './peers.mjs';

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
  // The files as published, unbundled (what `bench/size-budget.mjs` checks).
  const published = ['index.js', 'client.js', 'tokenward.js', 'tokenward_bg.wasm']
    .map((f) => ({ file: f, ...sizes(readFileSync(join(repoRoot, 'dist', f))) }));
  return { bundles: rows, published, publishedTotal: add(...published) };
}

// ---------------------------------------------------------------------------- helpers

function quantiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
  return {
    n: sorted.length, median: at(0.5), p10: at(0.1), p90: at(0.9), min: sorted[0], max: sorted.at(-1),
    mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
  };
}

// page.evaluate has no timeout of its own: a library that never settles must not hang the run.
function within(seconds, label, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: no answer within ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const BENCH_HTML = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>tokenward bench</title><link rel="icon" href="data:,"></head>
<body><script type="module" src="/page.js"></script></body></html>
`;

async function openBench(context, url, logs) {
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') logs.push(`[${m.type()}] ${m.text()}`); });
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.bench?.ready === true, null, { timeout: 15_000 });
  return page;
}

// A stand-in for an Auth0 tenant in front of an oidc-provider configured as the others,
// except that its `iss` is the proxy's URL with a trailing slash (auth0-spa-js requires
// `iss` to be `https://…` or exactly `${domain}/`). auth0-spa-js posts to
// `${domain}/oauth/token` and always asks for `offline_access`, which the provider did not
// grant: the proxy maps the path and drops that one scope. Nothing else changes.
async function startAuth0Proxy() {
  let target = null;
  const { createServer } = await import('node:http');
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    let body = Buffer.concat(chunks);
    const url = new URL(req.url, target);
    if (url.pathname === '/oauth/token') {
      url.pathname = '/token';
      const form = new URLSearchParams(body.toString());
      if (form.has('scope')) form.set('scope', form.get('scope').split(' ').filter((s) => s !== 'offline_access').join(' '));
      body = Buffer.from(form.toString());
    }
    const headers = { ...req.headers };
    delete headers.host;
    delete headers['content-length'];
    try {
      const answer = await fetch(url, { method: req.method, headers, body: ['GET', 'HEAD'].includes(req.method) ? undefined : body });
      const out = Buffer.from(await answer.arrayBuffer());
      const outHeaders = Object.fromEntries([...answer.headers].filter(([k]) => !['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(k)));
      res.writeHead(answer.status, outHeaders).end(out);
    } catch {
      res.writeHead(502).end();
    }
  });
  await new Promise((done) => { server.listen(0, '127.0.0.1', done); });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    setTarget(origin) { target = origin; },
    close: () => new Promise((done) => { server.closeAllConnections(); server.close(done); }),
  };
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

// ------------------------------------------------------------------------------ report

const why = (error) => String(error).replace(/^page\.evaluate: (Error: )?/, '');
const kb = (bytes) => (bytes === undefined ? '–' : `${(bytes / 1024).toFixed(1)}`);
const f = (x, digits = 1) => (x === undefined || x === null ? '–' : x.toFixed(digits));

function render(r) {
  const out = [];
  const line = (s = '') => out.push(s);
  line('## Performance');
  line();
  line(`Measured by \`npm run bench\` on ${r.date.slice(0, 10)}: ${r.machine.cpus} × ${r.machine.cpu ?? 'CPU'}, Node ${r.machine.node}, ${r.machine.chromium ?? 'Chromium'} headless, all servers on loopback; load average ${r.machine.loadAverage?.[0] ?? '?'} at the start (the machine is shared: timings move by tens of percent between runs, sizes and counts do not)${r.quick ? ' (**--quick run: fewer samples**)' : ''}. tokenward ${r.size.bundles[0]?.version ?? ''}${r.tokenwardCommit ? ` (${r.tokenwardCommit} + working tree)` : ''}.`);
  line();

  const tw = r.size.bundles.find((b) => b.name === TOKENWARD);
  line('### Size: bytes downloaded to keep and refresh tokens');
  line();
  line('Each library bundled by esbuild (`--bundle --minify --format=esm`) from an entry that imports its client class; tokenward\'s `.wasm` is a separate file and is counted in the total. KB = 1024 bytes; gzip -9 and brotli -q 11 (node:zlib).');
  line();
  line('| library | version | JS raw | JS gzip | JS brotli | wasm raw | wasm gzip | wasm brotli | **total gzip** | total brotli | gzip vs tokenward |');
  line('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const b of r.size.bundles) {
    const name = b.pkg === 'tokenward' ? '**tokenward**' : `${b.pkg}`;
    if (b.error) {
      line(`| ${name} | ${b.version ?? '–'} | ${b.error} | | | | | | | | |`);
      continue;
    }
    const ratio = tw?.total ? `${(b.total.gzip / tw.total.gzip).toFixed(1)}×` : '–';
    line(`| ${name} | ${b.version} | ${kb(b.js.raw)} | ${kb(b.js.gzip)} | ${kb(b.js.brotli)} | ${kb(b.wasm?.raw)} | ${kb(b.wasm?.gzip)} | ${kb(b.wasm?.brotli)} | **${kb(b.total.gzip)}** | ${kb(b.total.brotli)} | ${ratio} |`);
  }
  const p = r.size.publishedTotal;
  line();
  line(`tokenward's published files unbundled (${r.size.published.map((x) => `${x.file} ${kb(x.gzip)}`).join(', ')} KB gzip): ${kb(p.raw)} KB raw, **${kb(p.gzip)} KB gzip**, ${kb(p.brotli)} KB brotli — the number \`bench/size-budget.mjs\` guards.`);
  line();

  if (r.startup) {
    line(`### Start-up: from \`import()\` to a ready client (${r.config.startupPages} fresh pages each, no HTTP cache)`);
    line();
    line('| library | median ms | p10 | p90 | what is measured |');
    line('|---|--:|--:|--:|---|');
    for (const s of r.startup) {
      const peer = r.peers.find((x) => x.name === s.name);
      if (s.error) line(`| ${peer.pkg} | failed: ${why(s.error)} | | | ${peer.startup} |`);
      else line(`| ${peer.pkg} | ${f(s.ms.median)} | ${f(s.ms.p10)} | ${f(s.ms.p90)} | ${peer.startup} |`);
    }
    line();
  }

  if (r.requests) {
    const { plain, tokenward } = r.requests.ms;
    line(`### Per-request cost: ${r.config.requests} sequential GET requests to the local API, same page`);
    line();
    line('Each timed from the call to the parsed JSON body; the two kinds interleaved in blocks of 100. The API verifies every JWT (RS256).');
    line();
    line('| through | median ms | p10 | p90 | mean | vs plain fetch (median) |');
    line('|---|--:|--:|--:|--:|--:|');
    line(`| \`fetch\` with the header set by hand | ${f(plain.median, 3)} | ${f(plain.p10, 3)} | ${f(plain.p90, 3)} | ${f(plain.mean, 3)} | 1.00× |`);
    line(`| tokenward \`auth.fetch\` | ${f(tokenward.median, 3)} | ${f(tokenward.p10, 3)} | ${f(tokenward.p90, 3)} | ${f(tokenward.mean, 3)} | ${(tokenward.median / plain.median).toFixed(2)}× (${tokenward.median >= plain.median ? "+" : "−"}${f(Math.abs(tokenward.median - plain.median) * 1000, 0)} µs) |`);
    line();
    const stub = r.requests.ms.stubUs;
    line(`The API answered ${r.requests.apiOk} requests with 200 and ${r.requests.apiUnauthorized} with 401.`);
    line();
    line(`Without the network (\`window.fetch\` replaced by a stub that builds the \`Request\` and answers at once; ${r.config.tokenBatches} batches × 100 calls): plain ${f(stub.plain.median)} µs, \`auth.fetch\` ${f(stub.tokenward.median)} µs per call (median; p90 ${f(stub.plain.p90)} / ${f(stub.tokenward.p90)} µs), so tokenward itself adds **${f(stub.tokenward.median - stub.plain.median)} µs** per request.`);
    line();
  }

  if (r.token) {
    const base = r.token.find((t) => t.name === TOKENWARD)?.us;
    line(`### Getting the token on a warm session (${r.config.tokenBatches} batches × ${r.config.tokenPerBatch} sequential awaited calls; µs per call)`);
    line();
    line('| library | call | median µs | p10 | p90 | vs tokenward |');
    line('|---|---|--:|--:|--:|--:|');
    for (const t of r.token) {
      const peer = r.peers.find((x) => x.name === t.name);
      if (t.error) line(`| ${peer.pkg} | ${why(t.error)} | | | | |`);
      else line(`| ${peer.pkg} | ${peer.token} | ${f(t.us.median)} | ${f(t.us.p10)} | ${f(t.us.p90)} | ${base ? `${(t.us.median / base.median).toFixed(1)}×` : '–'} |`);
    }
    line();
  }

  if (r.storm) {
    line(`### Refresh storm: ${r.config.stormTabs} tabs × ${r.config.stormCalls} concurrent token calls at expiry, refresh-token rotation on`);
    line();
    line(`Counted at the token endpoint (oidc-provider: reusing a rotated refresh token answers \`invalid_grant\` and revokes the whole grant, i.e. signs the user out). ${r.config.stormRounds} rounds per library, one number per round.`);
    line();
    line('| library | refresh requests | `invalid_grant` answers | grants revoked | failed calls (of ' + (r.config.stormTabs * r.config.stormCalls) + ') | how it was set up |');
    line('|---|--:|--:|--:|--:|---|');
    for (const s of r.storm) {
      const peer = r.peers.find((x) => x.name === s.name) ?? { pkg: s.name === 'tokenward-memory' ? 'tokenward' : s.name };
      const label = s.name === TOKENWARD ? 'tokenward (`storage: "local"`)' : s.name === 'tokenward-memory' ? 'tokenward (`storage: "memory"`, the default)' : peer.pkg;
      const list = (xs) => xs.join(' / ');
      if (s.error) line(`| ${label} | ${why(s.error)} | | | | |`);
      else line(`| ${label} | ${list(s.refreshRequests)} | ${list(s.invalidGrant)} | ${list(s.grantsRevoked)} | ${list(s.callsFailed)} | ${STORM_NOTES[s.name] ?? ''}${s.errors.length ? ` Errors: ${s.errors.map((e) => `\`${e.slice(0, 80)}\``).join(', ')}.` : ''} |`);
    }
    line();
  }

  if (r.memory) {
    line(`### Memory: one page, ${r.config.memoryRequests} requests through \`fetch\`, then ${r.config.memoryRequests} through \`auth.fetch\``);
    line();
    line('JS heap: CDP `Runtime.getHeapUsage` after two forced GCs (`HeapProfiler.collectGarbage`). wasm: the byte length of tokenward\'s `WebAssembly.Memory` (captured when the page instantiates the module). Last column: `performance.measureUserAgentSpecificMemory()` (the page is cross-origin isolated), Chromium\'s own accounting, which leaves the wasm memory out.');
    line();
    line('| after | JS heap used KB | wasm memory KB | measureUserAgentSpecificMemory KB |');
    line('|---|--:|--:|--:|');
    for (const s of r.memory.samples) line(`| ${s.label} | ${kb(s.jsHeapUsed)} | ${kb(s.wasmBytes)} | ${s.uaMemory === null ? '–' : kb(s.uaMemory)} |`);
    line();
  }
  line('### How these numbers were made');
  line();
  line('- `npm run bench` (about 4 minutes here) installs the peers at the exact versions pinned in `bench/package.json` on first use, bundles everything with esbuild, starts the test authorization server (oidc-provider, rotating refresh tokens) and API on loopback, and drives headless Chromium (`/usr/bin/chromium`, the e2e harness flags, plus host-resolver rules that leave only 127.0.0.1 reachable). `node bench/run.mjs --quick` is a smoke pass; `--only size,storm` runs some sections.');
  line('- The bench page is served cross-origin isolated (COOP/COEP), so `performance.now()` ticks in 5 µs steps. Every library runs from its own esbuild bundle, the same file whose size is reported.');
  line('- Start-up and token reads measure what each library does at that point, listed next to it: a constructor that does nothing until its first call is cheap at start-up and pays later. The peers\' caches were filled the way each library fills them itself (its storage key and format, or its own `storeUser` / `tokenManager.add`), so that the warm read never touches the network; the code is in `bench/page.js`.');
  line('- Raw numbers: `bench/results/latest.json`. The refresh-storm counts are the authorization server\'s own (`auth.stats`).');
  return `${out.join('\n')}\n`;
}

const STORM_NOTES = {
  tokenward: 'One client per tab, session set in the first, restored from localStorage by the others; the clock (`now` option) moved 1 s past expiry in every tab at once; calls are `accessToken()`.',
  'tokenward-memory': 'As above, but the other tabs get the session from the first over BroadcastChannel.',
  'oidc-client-ts': '`UserManager` per tab, `automaticSilentRenew: false`, user in localStorage (shared), its `expires_at` moved into the past; each call is `getUser()` then `signinSilent()` (refresh-token grant) when expired.',
  auth0: '`useRefreshTokens: true`, `cacheLocation: "localstorage"` (shared), cache entry moved past expiry; calls are `getTokenSilently()`. Against a second oidc-provider whose `iss` is the URL of a proxy (auth0-spa-js checks `iss` = `${domain}/`) that maps `/oauth/token` to the token endpoint and drops the `offline_access` it always asks for.',
  keycloak: 'keycloak-js keeps tokens in memory per tab, so each tab has its own sign-in (its own grant); `timeSkew` moved past expiry; calls are `updateToken(5)`.',
};

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
