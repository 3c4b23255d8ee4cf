// Cross-tab scenarios: several pages of ONE browser context share storage,
// Web Locks and BroadcastChannels, as the tabs of one browser profile do.
//
// Written against the Playwright subset every engine's adapter offers: context.newPage(),
// page.goto/evaluate/waitForFunction/close. Page functions are serialised: they use only
// their argument and what the page holds (window.tokenward, window.auth, window.tab).
// Each scenario takes ({ context, stack, openApp, assert, diagnostic, ... }).

/**
 * How long the load scenario runs, per storage mode: 20 s in `npm test` (about 14 refreshes
 * per mode, each of which must be the only one for its token); TOKENWARD_TABS_SECONDS=60 for
 * the minute the README quotes.
 */
export const TABS_SECONDS = Number(process.env.TOKENWARD_TABS_SECONDS || 20);

/** How often every tab calls the API in the load scenario. */
export const CALL_EVERY_MS = 200;

import { createServer } from 'node:http';

// ---- in the page ---------------------------------------------------------------------

/**
 * Instruments the page and creates the client as `window.auth`. Every event is counted
 * (and all but `change` listed with its time); `window.fetch` is wrapped so that each
 * token-endpoint and API exchange this tab makes is counted with the status that came
 * back (what the server answered, before any retry). Sets `tokens` when given.
 * Resolves to the client's status right after createTokenClient resolved.
 */
async function installTab({ options, tokens, tokenEndpoint, apiUrl }) {
  const tab = {
    counts: { change: 0, refresh: 0, expired: 0, signedOut: 0, error: 0 },
    events: [],
    net: { tokenStarted: 0, tokenDone: 0, tokenStatuses: {}, tokenStarts: [], apiSent: 0, apiStatuses: {}, apiWithoutToken: 0 },
    // Every API exchange (sent, answered, status, the token's last characters) and every
    // access token this tab received from the token endpoint, for the 401 analysis.
    api: [],
    issued: [],
  };
  window.tab = tab;
  const realFetch = window.fetch;
  window.fetch = function instrumentedFetch(input, init) {
    const url = input instanceof Request ? input.url : String(input);
    const kind = url === tokenEndpoint ? 'token' : url.startsWith(`${apiUrl}/`) ? 'api' : null;
    const promise = realFetch.call(this, input, init);
    if (kind === 'token') {
      promise.then((res) => res.clone().json()).then(
        (body) => { tab.issued.push({ t: Date.now(), tok: String(body.access_token).slice(-8) }); },
        () => {},
      );
      tab.net.tokenStarted += 1;
      tab.net.tokenStarts.push(Date.now());
      promise.then(
        (res) => { tab.net.tokenStatuses[res.status] = (tab.net.tokenStatuses[res.status] || 0) + 1; },
        () => { tab.net.tokenStatuses.failed = (tab.net.tokenStatuses.failed || 0) + 1; },
      ).finally(() => { tab.net.tokenDone += 1; });
    } else if (kind === 'api') {
      tab.net.apiSent += 1;
      const headers = input instanceof Request ? input.headers : new Headers(init && init.headers);
      if (!headers.has('authorization')) tab.net.apiWithoutToken += 1;
      const exchange = { t0: Date.now(), tok: String(headers.get('authorization')).slice(-8) };
      tab.api.push(exchange);
      promise.then((res) => { exchange.t1 = Date.now(); exchange.status = res.status; }, () => {});
      promise.then(
        (res) => { tab.net.apiStatuses[res.status] = (tab.net.apiStatuses[res.status] || 0) + 1; },
        () => { tab.net.apiStatuses.failed = (tab.net.apiStatuses.failed || 0) + 1; },
      );
    }
    return promise;
  };
  const on = {};
  for (const type of Object.keys(tab.counts)) {
    on[type] = (event) => {
      tab.counts[type] += 1;
      if (type !== 'change') {
        tab.events.push({
          type, t: Date.now(), status: event.status, expiresAt: event.expiresAt, reason: event.reason,
          code: event.error && event.error.code,
        });
      }
    };
  }
  const auth = await window.tokenward.createTokenClient({ ...options, on });
  window.auth = auth;
  const status = auth.status;
  if (tokens) auth.setTokens(tokens);
  return status;
}

/** Calls `url` through auth.fetch every `everyMs` until stopLoop(); counts what came back. */
function startLoop({ url, everyMs }) {
  const loop = {
    sent: 0, settled: 0, statuses: {}, failures: [], stopped: false,
    base: { refresh: window.tab.counts.refresh, token: window.tab.net.tokenStarted },
  };
  window.loop = loop;
  loop.timer = setInterval(() => {
    loop.sent += 1;
    window.auth.fetch(url).then(
      (res) => { loop.statuses[res.status] = (loop.statuses[res.status] || 0) + 1; },
      (err) => { loop.failures.push(`${err && err.code}: ${err && err.message}`); },
    ).finally(() => { loop.settled += 1; });
  }, everyMs);
}

function stopLoop() {
  clearInterval(window.loop.timer);
  window.loop.stopped = true;
}

/** What a tab saw, as plain data. */
function report({ storageKey }) {
  const { timer, ...loop } = window.loop || {};
  return {
    status: window.auth.status,
    counts: window.tab.counts,
    events: window.tab.events,
    net: window.tab.net,
    api: window.tab.api,
    issued: window.tab.issued,
    loop,
    visibility: document.visibilityState,
    local: localStorage.getItem(storageKey),
    session: sessionStorage.getItem(storageKey),
  };
}

// ---- in Node ---------------------------------------------------------------------------

/**
 * Opens a tab of the app and creates a client in it (`tokens` are set there when given).
 * Returns { page, logs, initialStatus }.
 */
export async function openTab({ context, stack, openApp }, options, tokens = null, { hangTokenRequestsAt = null } = {}) {
  const logs = [];
  const page = await openApp(context, `${stack.app.url}/`, { logs });
  const clientOptions = { ...stack.clientOptions, ...options };
  if (hangTokenRequestsAt) {
    // This tab's token requests go to a server that never answers. The client keeps the
    // same tokenEndpoint as the other tabs (the endpoint and client id name the app, and
    // tabs of different apps ignore each other), so the detour is made under it.
    await page.evaluate(({ tokenEndpoint, hole }) => {
      const original = window.fetch.bind(window);
      window.fetch = async (input, init) => {
        const request = new Request(input, init);
        if (request.url !== tokenEndpoint) return original(input, init);
        return original(hole, {
          method: request.method, headers: request.headers, body: await request.text(), signal: request.signal,
        });
      };
    }, { tokenEndpoint: clientOptions.tokenEndpoint, hole: hangTokenRequestsAt });
  }
  const initialStatus = await page.evaluate(installTab, {
    options: clientOptions,
    tokens,
    tokenEndpoint: clientOptions.tokenEndpoint,
    apiUrl: stack.api.url,
  });
  return { page, logs, initialStatus };
}

export const tabReport = (tab, storageKey) => tab.page.evaluate(report, { storageKey });

export const waitSignedIn = (tab) => tab.page.waitForFunction(() => window.auth.status === 'signedIn', null, { timeout: 5_000 });

export const startCalling = (tab, stack, everyMs = CALL_EVERY_MS) => tab.page.evaluate(startLoop, { url: `${stack.api.url}/api/me`, everyMs });

export const stopCalling = (tab) => tab.page.evaluate(stopLoop);

/** Waits until every call this tab started has an answer; says what is missing if not. */
export const waitCallsSettled = (tab, timeout = 20_000) => tab.page.waitForFunction(
  () => window.loop.settled === window.loop.sent, null, { timeout },
).catch(async (err) => {
  const state = await tab.page.evaluate(() => ({
    sent: window.loop.sent, settled: window.loop.settled, statuses: window.loop.statuses, net: window.tab.net,
    status: window.auth.status, events: window.tab.events.slice(-10),
  })).catch(() => null);
  throw new Error(`calls did not settle in ${timeout} ms: ${JSON.stringify(state)}`, { cause: err });
});

export async function closeTabs(tabs) {
  await Promise.allSettled(tabs.map((tab) => tab.page.close()));
}

/** Page errors and console errors of the tabs, for a failure message. */
export const pageProblems = (tabs) => tabs.flatMap((tab, i) => tab.logs
  .filter((line) => line.startsWith('[pageerror]') || line.startsWith('[error]'))
  .map((line) => `tab ${i}: ${line}`));

const sum = (object) => Object.values(object || {}).reduce((a, b) => a + b, 0);
const others = (statuses, ...keys) => sum(Object.fromEntries(Object.entries(statuses || {}).filter(([k]) => !keys.includes(k))));

/**
 * Why the API answered 401: for each 401, was the token it carried already replaced when
 * the call was sent (the tab used a stale token) or replaced while the call was under way
 * (rotated in flight)? And how long API exchanges took, from the page.
 */
function unauthorizedAnalysis(reports) {
  const issued = reports.flatMap((r) => r.issued).sort((a, b) => a.t - b.t);
  const replacedAt = new Map(issued.slice(0, -1).map((x, i) => [x.tok, issued[i + 1].t]));
  let stale = 0;
  let inFlight = 0;
  const took = [];
  for (const r of reports) {
    for (const x of r.api) {
      if (x.t1) took.push(x.t1 - x.t0);
      if (x.status !== 401) continue;
      const at = replacedAt.get(x.tok);
      if (at !== undefined && at <= x.t0) stale += 1;
      else inFlight += 1;
    }
  }
  took.sort((a, b) => a - b);
  const q = (f) => took[Math.min(took.length - 1, Math.floor(took.length * f))];
  return `401s at the API: ${stale} sent with a token already replaced, ${inFlight} replaced while under way; `
    + `API exchanges took p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${q(1)} ms (tokens replaced every ≈ 1.5 s)`;
}

/**
 * `tabs` tabs, access tokens living `tokenSeconds` (3 s; the server's TTL must match),
 * every tab calling the API every 200 ms for `seconds`: no invalid_grant, no sign-out, no
 * 401 at the API, and one refresh per token issued for all tabs together (≈ one every half
 * lifetime, not one per tab).
 * `serverDeletesReplacedToken` (Django OAuth Toolkit): the server deletes the previous
 * access token when it rotates, so calls the other tabs have under way with it are 401 at
 * the API; those are allowed (and counted as `retried401`), and every call must still end
 * 200 for the app.
 */
export async function refreshOncePerTokenAcrossTabs({
  context, stack, openApp, assert, diagnostic, storage, seconds = TABS_SECONDS, tabs: count = 5,
  serverDeletesReplacedToken = false, tokenSeconds = 3,
}) {
  const env = { context, stack, openApp };
  const storageKey = `tabs-load-${storage}`;
  const options = { storage, storageKey };
  const tabs = [];
  try {
    stack.auth.resetStats();
    stack.api.resetStats();
    const tokens = await stack.auth.login();
    tabs.push(await openTab(env, options, tokens));
    for (let i = 1; i < count; i += 1) tabs.push(await openTab(env, options));
    // memory/session: the new tabs asked the first one; local: they read storage.
    await Promise.all(tabs.map(waitSignedIn));
    assert.equal(stack.auth.stats.codeExchanges, 1, 'one sign-in for all tabs');

    const base = { ...stack.auth.stats };
    stack.api.resetStats();
    const started = Date.now();
    for (const tab of tabs) await startCalling(tab, stack);
    // The load runs for `seconds`: wait for that in the page (a condition on its own clock).
    await tabs[0].page.waitForFunction(
      (until) => Date.now() >= until, started + seconds * 1000, { timeout: seconds * 1000 + 10_000 },
    );
    for (const tab of tabs) await stopCalling(tab);
    await Promise.all(tabs.map((tab) => waitCallsSettled(tab)));
    const elapsed = (Date.now() - started) / 1000;
    const reports = await Promise.all(tabs.map((tab) => tabReport(tab, storageKey)));

    const auth = { ...stack.auth.stats };
    const refreshes = auth.refreshRequests - base.refreshRequests;
    const refreshOk = auth.refreshOk - base.refreshOk;
    const expected = elapsed / (tokenSeconds / 2); // lead capped at half the lifetime
    const perTab = reports.map((r) => r.net.tokenStarted - r.loop.base.token);
    const heard = reports.map((r) => r.counts.refresh - r.loop.base.refresh);
    const apiCalls = reports.reduce((n, r) => n + r.loop.sent, 0);
    // 401s the API gave the tabs' own calls; every call ended 200 (asserted below), so the
    // 401 retry saved each of them.
    const retried401 = reports.reduce((n, r) => n + (r.net.apiStatuses['401'] || 0), 0);
    diagnostic(`${storage}: ${count} tabs, ${elapsed.toFixed(1)} s, ${apiCalls} API calls `
      + `(${stack.api.stats.ok} ok, ${stack.api.stats.unauthorized} × 401 at the API, ${retried401} retried); `
      + `refresh requests ${refreshes} (ok ${refreshOk}, invalid_grant ${auth.invalidGrant}, grants revoked ${auth.grantsRevoked}); `
      + `expected ≈ ${expected.toFixed(1)} (one per token), ${Math.round(expected * count)} if every tab refreshed; `
      + `sent by tab: [${perTab.join(', ')}]; refresh events by tab: [${heard.join(', ')}]; `
      + `visibility: ${[...new Set(reports.map((r) => r.visibility))].join('/')}`);
    if (serverDeletesReplacedToken) diagnostic(unauthorizedAnalysis(reports));
    const problems = pageProblems(tabs);
    if (problems.length) diagnostic(problems.slice(0, 20).join('\n'));

    assert.equal(auth.invalidGrant, 0, 'no refresh was refused');
    assert.equal(auth.grantsRevoked, 0, 'the grant was never revoked');
    assert.equal(refreshOk, refreshes, 'every refresh request succeeded');
    reports.forEach((r, i) => {
      assert.equal(r.counts.signedOut, 0, `tab ${i} never signed out: ${JSON.stringify(r.events)}`);
      assert.equal(r.counts.expired, 0, `tab ${i}: no token expired: ${JSON.stringify(r.events)}`);
      assert.equal(r.counts.error, 0, `tab ${i}: no error event: ${JSON.stringify(r.events)}`);
      assert.notEqual(r.status, 'signedOut', `tab ${i} is still signed in`);
      assert.deepEqual(r.loop.failures, [], `tab ${i}: no auth.fetch rejected`);
      assert.equal(others(r.loop.statuses, '200'), 0, `tab ${i}: every call answered 200: ${JSON.stringify(r.loop.statuses)}`);
      if (serverDeletesReplacedToken) {
        assert.equal(others(r.net.apiStatuses, '200', '401'), 0, `tab ${i}: the API answered only 200 or 401: ${JSON.stringify(r.net.apiStatuses)}`);
      } else {
        assert.equal(others(r.net.apiStatuses, '200'), 0, `tab ${i}: the API never answered 401: ${JSON.stringify(r.net.apiStatuses)}`);
      }
      assert.equal(r.net.apiWithoutToken, 0, `tab ${i}: every call carried a token`);
      assert.ok(r.loop.sent >= (seconds * 1000) / CALL_EVERY_MS / 2, `tab ${i} kept calling: ${r.loop.sent} calls`);
      // Every tab hears of every refresh (its own or another tab's) once; ±1 for a refresh
      // that fell between the server's count and this tab's start.
      assert.ok(Math.abs(heard[i] - refreshOk) <= 1, `tab ${i}: ${heard[i]} refresh events for ${refreshOk} refreshes`);
    });
    if (!serverDeletesReplacedToken) assert.equal(stack.api.stats.unauthorized, 0, 'the API answered no 401');
    // A 401 costs no refresh: the retries took the token another tab had just made.
    else assert.equal(stack.api.stats.unauthorized, retried401, 'every 401 at the API was one of the tabs\' calls');
    assert.equal(stack.api.stats.ok, apiCalls, 'every call reached the API and was accepted');
    // One refresh per token for all tabs together: about one every half lifetime.
    const low = Math.floor(expected * 0.75);
    const high = Math.ceil(expected * 1.2);
    assert.ok(refreshes >= low && refreshes <= high,
      `${refreshes} refreshes in ${elapsed.toFixed(1)} s: expected ${low}–${high} (one per token)`);
    assert.ok(refreshes < (expected * count) / 2, `far from one refresh per tab (${Math.round(expected * count)})`);

    // Storage holds the session only where the mode says.
    reports.forEach((r, i) => {
      assert.equal(r.local !== null, storage === 'local', `tab ${i}: localStorage ${storage === 'local' ? 'holds' : 'does not hold'} the session`);
      assert.equal(r.session !== null, storage === 'session', `tab ${i}: sessionStorage ${storage === 'session' ? 'holds' : 'does not hold'} the session`);
    });
    return { storage, elapsed, refreshes, refreshOk, expected, perTab, apiCalls, retried401, api: { ...stack.api.stats }, auth };
  } finally {
    await closeTabs(tabs);
  }
}

/**
 * Sign-out in one tab; every other tab reports signedOut (other_tab)
 * within 500 ms, and its next fetch reaches the API without an Authorization header.
 */
export async function signOutReachesEveryTab({
  context, stack, openApp, assert, diagnostic, storage, tabs: count = 4,
}) {
  const env = { context, stack, openApp };
  const storageKey = `tabs-signout-${storage}`;
  const options = { storage, storageKey };
  const tabs = [];
  try {
    stack.auth.resetStats();
    const tokens = await stack.auth.login();
    tabs.push(await openTab(env, options, tokens));
    for (let i = 1; i < count; i += 1) tabs.push(await openTab(env, options));
    await Promise.all(tabs.map(waitSignedIn));

    const { start, resolved } = await tabs[0].page.evaluate(async () => {
      const t0 = Date.now();
      await window.auth.signOut();
      return { start: t0, resolved: Date.now() };
    });
    const rest = tabs.slice(1);
    await Promise.all(rest.map((tab) => tab.page.waitForFunction(() => window.tab.counts.signedOut > 0, null, { timeout: 5_000 })));
    const reports = await Promise.all(tabs.map((tab) => tabReport(tab, storageKey)));
    const delays = reports.slice(1).map((r) => r.events.find((e) => e.type === 'signedOut').t - resolved);
    diagnostic(`${storage}: signOut() took ${resolved - start} ms (revocation included); the other ${rest.length} tabs `
      + `reported signedOut ${delays.map((d) => `${d} ms`).join(', ')} after it resolved`);

    assert.equal(stack.auth.stats.revocations, 1, 'the refresh token was revoked once');
    const own = reports[0].events.filter((e) => e.type === 'signedOut');
    assert.deepEqual(own.map((e) => e.reason), ['user'], 'the tab that signed out: reason user');
    reports.slice(1).forEach((r, i) => {
      const outs = r.events.filter((e) => e.type === 'signedOut');
      assert.deepEqual(outs.map((e) => e.reason), ['other_tab'], `tab ${i + 1}: one signedOut, reason other_tab`);
      assert.ok(delays[i] <= 500, `tab ${i + 1} heard of the sign-out ${delays[i]} ms after signOut() resolved`);
      assert.equal(r.status, 'signedOut');
      assert.equal(r.local, null, `tab ${i + 1}: nothing left in localStorage`);
      assert.equal(r.session, null, `tab ${i + 1}: nothing left in sessionStorage`);
    });

    // The next fetch in every other tab goes out without a token.
    const mark = stack.api.requests.length;
    const statuses = [];
    for (const tab of rest) {
      statuses.push(await tab.page.evaluate(async (url) => (await window.auth.fetch(url)).status, `${stack.api.url}/api/me`));
    }
    const seen = stack.api.requests.slice(mark).filter((r) => r.method === 'GET' && r.path === '/api/me');
    assert.equal(seen.length, rest.length, 'each tab\'s call reached the API once (no retry)');
    assert.deepEqual(seen.map((r) => r.authorization), rest.map(() => undefined), 'no Authorization header after sign-out');
    assert.deepEqual(statuses, rest.map(() => 401), 'the API refuses the calls, as it should');
    return { storage, delays };
  } finally {
    await closeTabs(tabs);
  }
}

/**
 * Memory storage: a tab opened after sign-in has the session at once,
 * without signing in, and its fetch carries a token the API accepts.
 */
export async function memoryTabGetsSessionFromOthers({ context, stack, openApp, assert, diagnostic }) {
  const env = { context, stack, openApp };
  const storageKey = 'tabs-late-memory';
  const options = { storage: 'memory', storageKey };
  const tabs = [];
  try {
    stack.auth.resetStats();
    const tokens = await stack.auth.login();
    tabs.push(await openTab(env, options, tokens));
    await waitSignedIn(tabs[0]);
    const late = await openTab(env, options);
    tabs.push(late);
    assert.equal(late.initialStatus, 'signedIn', 'signed in as soon as createTokenClient resolved');

    const mark = stack.api.requests.length;
    const answer = await late.page.evaluate(async (url) => {
      const res = await window.auth.fetch(url);
      return { status: res.status, body: await res.json() };
    }, `${stack.api.url}/api/me`);
    const seen = stack.api.requests.slice(mark).filter((req) => req.method === 'GET'); // not the CORS preflight
    const r = await tabReport(late, storageKey);
    diagnostic(`memory: late tab status ${late.initialStatus} at start, fetch ${answer.status} as ${answer.body.sub}; `
      + `code exchanges ${stack.auth.stats.codeExchanges}, token requests from the late tab ${r.net.tokenStarted}`);

    assert.equal(answer.status, 200, `the API accepted the late tab's token: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.sub, 'alice');
    assert.equal(seen.length, 1);
    assert.match(seen[0].authorization ?? '', /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(stack.auth.stats.codeExchanges, 1, 'the late tab did not sign in');
    assert.equal(r.local, null, 'memory storage writes nothing to localStorage');
    assert.equal(r.session, null, 'memory storage writes nothing to sessionStorage');
    assert.equal(r.counts.signedOut, 0);
  } finally {
    await closeTabs(tabs);
  }
}

/**
 * Evidence that the coordination is what prevents the race: with `crossTab: false`, two
 * tabs on one localStorage session refresh independently; the rotated refresh token is
 * used twice, the server refuses it and revokes the grant, and the tabs sign out.
 */
export async function withoutCrossTabTheTabsRace({ context, stack, openApp, assert, diagnostic }) {
  const env = { context, stack, openApp };
  const storageKey = 'tabs-nocross-local';
  const options = { storage: 'local', storageKey, crossTab: false };
  const tabs = [];
  try {
    stack.auth.resetStats();
    const tokens = await stack.auth.login();
    tabs.push(await openTab(env, options, tokens));
    tabs.push(await openTab(env, options));
    await Promise.all(tabs.map(waitSignedIn));
    await Promise.all(tabs.map((tab) => tab.page.waitForFunction(() => window.tab.counts.signedOut > 0, null, { timeout: 15_000 })));
    const reports = await Promise.all(tabs.map((tab) => tabReport(tab, storageKey)));
    const { stats } = stack.auth;
    diagnostic(`crossTab false, local, 2 tabs: refresh requests ${stats.refreshRequests} (ok ${stats.refreshOk}), `
      + `invalid_grant ${stats.invalidGrant}, grants revoked ${stats.grantsRevoked}; signedOut reasons `
      + `${reports.map((r) => r.events.filter((e) => e.type === 'signedOut').map((e) => e.reason).join('+')).join(', ')}`);
    assert.ok(stats.invalidGrant >= 1, 'a rotated refresh token was used twice');
    assert.ok(stats.grantsRevoked >= 1, 'and the server revoked the grant');
    for (const r of reports) {
      assert.deepEqual(r.events.filter((e) => e.type === 'signedOut').map((e) => e.reason), ['invalid_grant']);
    }
  } finally {
    await closeTabs(tabs);
  }
}

/**
 * A token endpoint that accepts requests and never answers (a stalled network for the
 * one tab that uses it). Closing it drops the connections. `requests` counts arrivals.
 */
export async function startBlackHole() {
  const hole = { requests: 0 };
  const server = createServer(() => { hole.requests += 1; });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  hole.url = `http://127.0.0.1:${server.address().port}/token`;
  hole.close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => { server.close(resolve); });
  };
  return hole;
}

/**
 * A slow network in front of the token endpoint: forwards each request to `target` after
 * `delayMs`, and answers with CORS for the page.
 */
export async function startSlowTokenEndpoint(target, delayMs) {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      setTimeout(async () => {
        try {
          const answer = await fetch(target, {
            method: req.method,
            headers: { 'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded', accept: 'application/json' },
            body: req.method === 'POST' ? Buffer.concat(chunks) : undefined,
          });
          res.writeHead(answer.status, {
            'Content-Type': answer.headers.get('content-type') ?? 'application/json',
            'Cache-Control': 'no-store',
            'Access-Control-Allow-Origin': req.headers.origin ?? '*',
            Vary: 'Origin',
          }).end(Buffer.from(await answer.arrayBuffer()));
        } catch {
          res.destroy();
        }
      }, delayMs);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}/token`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => { server.close(resolve); });
    },
  };
}

/** Whether the page's client `clientId` holds the lock `name` (run in a page). */
function holdsLock({ name, clientId }) {
  return navigator.locks.query().then(({ held }) => held.some((lock) => lock.name === name && lock.clientId === clientId));
}

/**
 * One tab's refresh requests hang (its token endpoint never answers).
 * That tab refreshes first — default lead, capped at half of a 10 s lifetime: 5 s before
 * expiry; the others 4 s — and holds the refresh lock; the other tabs must take the lock
 * over and refresh before the token expires (no 401 at the API, no invalid_grant).
 * Later the hung tab holds the lock again (its first request timed out, it refreshes
 * first again); closing it then must release its locks, so the next refresh is not
 * held up.
 *
 * The hang is a server that never answers, not a route that is never fulfilled: Chromium
 * releases a request paused by page.route to the network when the page closes, so the
 * server would rotate the refresh token for a tab that no longer exists.
 */
export async function hungRefreshDoesNotStopOthers({
  context, stack, openApp, assert, diagnostic, others: count = 4, tokenLatencyMs = 0,
}) {
  const env = { context, stack, openApp };
  const storageKey = `tabs-hung-memory-${tokenLatencyMs}`;
  const lockName = `${storageKey}:refresh`;
  const lead = 4;
  const tabs = [];
  const hole = await startBlackHole();
  const slow = tokenLatencyMs ? await startSlowTokenEndpoint(stack.auth.tokenEndpoint, tokenLatencyMs) : null;
  const healthyOptions = { storageKey, refreshLeadSeconds: lead, ...(slow ? { tokenEndpoint: slow.url } : {}) };
  stack.auth.setAccessTokenTtl(10);
  try {
    stack.auth.resetStats();
    stack.api.resetStats();
    const tokens = await stack.auth.login();
    const first = await openTab(env, healthyOptions, tokens);
    first.label = 'tab 0';
    tabs.push(first);
    const hung = await openTab(env, { storageKey, ...(slow ? { tokenEndpoint: slow.url } : {}) }, null, { hangTokenRequestsAt: hole.url });
    hung.label = 'hung tab';
    tabs.push(hung);
    for (let i = 1; i < count; i += 1) {
      tabs.push(Object.assign(await openTab(env, healthyOptions), { label: `tab ${i}` }));
    }
    await Promise.all(tabs.map(waitSignedIn));
    const healthy = tabs.filter((tab) => tab !== hung);
    const expiry0 = await first.page.evaluate(() => window.auth.expiresAt);

    // The hung tab's client id, to recognise its locks in navigator.locks.query().
    const hungClient = await hung.page.evaluate(async (name) => {
      await new Promise((granted) => {
        navigator.locks.request(name, () => { granted(); return new Promise(() => {}); });
      });
      const { held } = await navigator.locks.query();
      return held.find((lock) => lock.name === name).clientId;
    }, `${storageKey}:probe`);

    for (const tab of tabs) await startCalling(tab, stack);

    // 1. The hung tab refreshes first and holds the lock; the others take over in time.
    await hung.page.waitForFunction(() => window.tab.net.tokenStarted >= 1, null, { timeout: 15_000 });
    const hungHeldLock = await hung.page.evaluate(holdsLock, { name: lockName, clientId: hungClient });
    await first.page.waitForFunction(() => window.tab.counts.refresh >= 1, null, { timeout: 15_000 });
    // Every token request of this round has its answer (each tab that took the lock over).
    await Promise.all(healthy.map((tab) => tab.page.waitForFunction(
      () => window.tab.net.tokenDone === window.tab.net.tokenStarted, null, { timeout: 15_000 },
    )));
    const stolenStats = { ...stack.auth.stats };
    const healthyStarts = (await Promise.all(healthy.map((tab) => tabReport(tab, storageKey))))
      .flatMap((r) => r.net.tokenStarts).sort((a, b) => a - b);
    const hungStart = (await tabReport(hung, storageKey)).net.tokenStarts[0];
    diagnostic(`token endpoint latency ${tokenLatencyMs} ms for the healthy tabs; hung tab: took the lock ${hungHeldLock}, its refresh went out ${((expiry0 - hungStart) / 1000).toFixed(2)} s before expiry; `
      + `the others' first refresh went out ${((expiry0 - healthyStarts[0]) / 1000).toFixed(2)} s before expiry `
      + `(${healthyStarts.filter((x) => x - healthyStarts[0] < 1000).length} request(s) within 1 s); server then: refresh ok ${stolenStats.refreshOk}, `
      + `invalid_grant ${stolenStats.invalidGrant}, grants revoked ${stolenStats.grantsRevoked}`);
    assert.ok(hungHeldLock, 'the hung tab took the refresh lock');
    assert.ok(hungStart < healthyStarts[0], 'the hung tab was the first to refresh');
    assert.ok(healthyStarts[0] < expiry0, 'the others refreshed before the token expired');
    assert.equal(stolenStats.invalidGrant, 0, 'taking the lock over did not make two tabs use one refresh token');
    assert.equal(stolenStats.refreshOk, 1, 'one refresh replaced the first token');

    // 2. The hung tab's request times out; it refreshes first again and hangs holding
    //    the lock. Close it then.
    const heldAgain = await hung.page.evaluate(async ({ name, clientId, deadline }) => {
      while (Date.now() < deadline) {
        const { net } = window.tab;
        const { held } = await navigator.locks.query();
        if (net.tokenStarted >= 2 && net.tokenStarted > net.tokenDone
          && held.some((lock) => lock.name === name && lock.clientId === clientId)) return true;
        await new Promise((resolve) => { setTimeout(resolve, 20); });
      }
      return false;
    }, { name: lockName, clientId: hungClient, deadline: Date.now() + 30_000 });
    const hungReport = await tabReport(hung, storageKey);
    assert.ok(heldAgain, 'the hung tab held the refresh lock again');
    const closedAt = Date.now();
    await hung.page.close();
    tabs.splice(tabs.indexOf(hung), 1);
    const locksAfterClose = await first.page.evaluate(async ({ prefix, clientId, deadline }) => {
      let snapshot = await navigator.locks.query();
      const mine = (s) => [...s.held, ...s.pending].filter((lock) => lock.clientId === clientId);
      while (mine(snapshot).length && Date.now() < deadline) {
        await new Promise((resolve) => { setTimeout(resolve, 20); });
        snapshot = await navigator.locks.query();
      }
      return {
        ofClosedTab: mine(snapshot).map((lock) => lock.name),
        presence: snapshot.held.filter((lock) => lock.name.startsWith(`${prefix}:tab:`)).length,
      };
    }, { prefix: storageKey, clientId: hungClient, deadline: Date.now() + 2_000 });

    // 3. The next refresh is not held up by the closed tab.
    const heardBefore = (await tabReport(first, storageKey)).counts.refresh;
    await first.page.waitForFunction((n) => window.tab.counts.refresh > n, heardBefore, { timeout: 15_000 });
    for (const tab of healthy) await stopCalling(tab);
    await Promise.all(healthy.map((tab) => waitCallsSettled(tab)));
    const reports = await Promise.all(healthy.map((tab) => tabReport(tab, storageKey)));
    const nextStart = reports.flatMap((r) => r.net.tokenStarts).filter((x) => x > closedAt).sort((a, b) => a - b)[0];
    const replaced = reports[0].events.filter((ev) => ev.type === 'refresh' && ev.t < nextStart).at(-1);
    const leftAtNext = replaced.expiresAt - nextStart;

    const { stats } = stack.auth;
    diagnostic(`hung tab closed holding the lock (its requests: ${hungReport.net.tokenStarted} sent, ${hole.requests} reached the black hole, `
      + `${JSON.stringify(hungReport.net.tokenStatuses)}); locks of the closed tab left: [${locksAfterClose.ofClosedTab}], `
      + `presence locks ${locksAfterClose.presence}; next refresh went out ${(leftAtNext / 1000).toFixed(2)} s before expiry (lead ${lead} s)`);
    diagnostic(`server: refresh requests ${stats.refreshRequests} (ok ${stats.refreshOk}), invalid_grant ${stats.invalidGrant}, `
      + `grants revoked ${stats.grantsRevoked}; API ${stack.api.stats.ok} ok, ${stack.api.stats.unauthorized} × 401`);
    assert.deepEqual(locksAfterClose.ofClosedTab, [], 'closing the tab released its locks');
    assert.equal(locksAfterClose.presence, healthy.length, 'only the open tabs count as present');
    // Not held up: sent about `lead` before expiry, not after waiting for half of that.
    assert.ok(leftAtNext > lead * 750, `the next refresh did not wait for the closed tab's lock (${leftAtNext} ms before expiry)`);
    assert.equal(stats.invalidGrant, 0, 'no refresh was refused');
    assert.equal(stats.grantsRevoked, 0, 'the grant was never revoked');
    assert.equal(stack.api.stats.unauthorized, 0, 'the API answered no 401');
    reports.forEach((r, i) => {
      assert.deepEqual(r.events.filter((ev) => ev.type !== 'refresh'), [], `tab ${i}: no sign-out, expiry or error`);
      assert.equal(r.status, 'signedIn');
      assert.deepEqual(r.loop.failures, [], `tab ${i}: no auth.fetch rejected`);
      assert.deepEqual(Object.keys(r.net.apiStatuses), ['200'], `tab ${i}: the API only answered 200`);
      assert.deepEqual(Object.keys(r.loop.statuses), ['200'], `tab ${i}: every call answered 200`);
    });
  } catch (err) {
    // What each tab and the server saw, to describe the failure.
    const seen = await Promise.allSettled(tabs.map((tab) => tabReport(tab, storageKey)));
    for (const [i, r] of seen.entries()) {
      if (r.status !== 'fulfilled') continue;
      const { local, session, ...rest } = r.value;
      diagnostic(`${tabs[i].label}: ${JSON.stringify(rest)}`);
    }
    diagnostic(`auth stats ${JSON.stringify(stack.auth.stats)}; auth events ${JSON.stringify(stack.auth.events)}; `
      + `api ${JSON.stringify(stack.api.stats)}; black hole requests ${hole.requests}`);
    throw err;
  } finally {
    stack.auth.setAccessTokenTtl(3);
    await closeTabs(tabs);
    await hole.close();
    await slow?.close();
  }
}
