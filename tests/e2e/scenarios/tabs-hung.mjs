// Cross-tab scenario of a tab whose refresh hangs: the other tabs take the refresh lock
// over, and closing the hung tab releases its locks. With the two token endpoints it
// uses (one that never answers, one that answers late); and a holder that is only slow,
// whose tokens the tabs that took its lock over wait for. Re-exported by tabs.mjs.

import { createServer } from 'node:http';

import {
  closeTabs, openSignedInTabs, openTab, startCalling, stopCalling, tabReport, waitCallsSettled, waitSignedIn,
} from './tabs-helpers.mjs';

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

/**
 * A slow token endpoint (1 s) with 3 s tokens: the tab that refreshes holds the lock for
 * longer than the others wait for it, so they take the lock over. The holder, alive and
 * busy, tells them so at their barrier and they wait for its tokens: one refresh per
 * token, no refresh token spent twice (which the server answers with invalid_grant and by
 * revoking the grant: every tab signed out).
 */
export async function slowRefreshIsWaitedFor({
  context, stack, openApp, assert, diagnostic, storage, count = 3, latencyMs = 1_000, refreshes = 4,
}) {
  const env = { context, stack, openApp };
  const storageKey = `tabs-slow-${storage}`;
  const slow = await startSlowTokenEndpoint(stack.auth.tokenEndpoint, latencyMs);
  const options = { storage, storageKey, tokenEndpoint: slow.url };
  const tabs = [];
  stack.auth.setAccessTokenTtl(3);
  try {
    stack.auth.resetStats();
    await openSignedInTabs(env, options, count, tabs);
    await tabs[0].page.waitForFunction(
      (n) => window.tab.counts.refresh >= n || window.tab.counts.signedOut > 0, refreshes, { timeout: 30_000 },
    );
    const reports = await Promise.all(tabs.map((tab) => tabReport(tab, storageKey)));
    const { stats } = stack.auth;
    diagnostic(`${storage}, ${count} tabs, token endpoint ${latencyMs} ms, 3 s tokens: refresh requests ${stats.refreshRequests} `
      + `(ok ${stats.refreshOk}), invalid_grant ${stats.invalidGrant}, grants revoked ${stats.grantsRevoked}; `
      + `refresh events ${reports.map((r) => r.counts.refresh).join(', ')}; status ${reports.map((r) => r.status).join(', ')}`);
    assert.equal(stats.invalidGrant, 0, 'no refresh token was spent twice');
    assert.equal(stats.grantsRevoked, 0);
    // Signed in (or refreshing, with its valid token, at the moment of the report).
    assert.deepEqual(reports.map((r) => r.status !== 'signedOut'), tabs.map(() => true));
    assert.deepEqual(reports.map((r) => r.counts.signedOut), tabs.map(() => 0));
    // One request per token: the in-flight one at most beyond the refreshes tab 0 saw.
    assert.ok(stats.refreshRequests <= reports[0].counts.refresh + 1,
      `${stats.refreshRequests} refresh requests for ${reports[0].counts.refresh} refreshes`);
  } finally {
    await closeTabs(tabs);
    await slow.close();
  }
}
