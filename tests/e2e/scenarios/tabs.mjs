// Cross-tab scenarios: several pages of ONE browser context share storage,
// Web Locks and BroadcastChannels, as the tabs of one browser profile do.
//
// Written against the Playwright subset every engine's adapter offers: context.newPage(),
// page.goto/evaluate/waitForFunction/close. Page functions are serialised: they use only
// their argument and what the page holds (window.tokenward, window.auth, window.tab).
// Each scenario takes ({ context, stack, openApp, assert, diagnostic, ... }).
//
// The tab helpers are in tabs-helpers.mjs, the hung-refresh scenario in tabs-hung.mjs;
// both are re-exported here.
import {
  CALL_EVERY_MS, TABS_SECONDS, closeTabs, openSignedInTabs, openTab, pageProblems, startCalling, stopCalling, tabReport,
  waitCallsSettled, waitSignedIn,
} from './tabs-helpers.mjs';

export * from './tabs-helpers.mjs';
export * from './tabs-hung.mjs';

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
    await openSignedInTabs(env, options, count, tabs);

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
    // Each tab had the session: signed in now, or already signed out by the race (a loaded
    // machine opens the second tab late, and its first poll may come after the race).
    await Promise.all(tabs.map((tab) => tab.page.waitForFunction(
      () => window.auth.status === 'signedIn' || window.tab.counts.signedOut > 0,
      null,
      { timeout: 5_000 },
    )));
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
