// The markdown report of the benchmark runner (bench/run.mjs): render(results) makes
// bench/results/latest.md from the numbers saved in latest.json.
import { TOKENWARD } from './peers.mjs';

const why = (error) => String(error).replace(/^page\.evaluate: (Error: )?/, '');
const kb = (bytes) => (bytes === undefined ? '–' : `${(bytes / 1024).toFixed(1)}`);
const f = (x, digits = 1) => (x === undefined || x === null ? '–' : x.toFixed(digits));

export function render(r) {
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
  const floor = r.size.coreFloor;
  if (floor) {
    line(`The core alone (\`node bench/core-floor.mjs\`: \`src/core/\` compiled and optimized as the npm build is, without the shell or wasm-bindgen, every public decision kept reachable by a C-ABI harness that is counted too): ${kb(floor.raw)} KB raw, **${kb(floor.gzip)} KB gzip**, about what the \`.wasm\` would weigh with the shell in JavaScript.`);
    line();
  }

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
