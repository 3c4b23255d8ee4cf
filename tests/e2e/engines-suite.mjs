// The end-to-end cases that matter most, in Firefox (ESR, geckodriver) and WebKit
// (WebKitGTK MiniBrowser, WebKitWebDriver, Xvfb), against the real authorization server.
// The scenarios are the shared ones (scenarios/*.mjs) that Chromium runs through Playwright
// in the other .test.mjs files; here they run through the WebDriver adapter (engines.mjs).
//
// An engine that is not installed is reported as SKIPPED with the reason (never passed);
// with TOKENWARD_REQUIRE_ENGINES=1 a missing engine fails instead.
// Knobs: TOKENWARD_ENGINES=firefox,webkit (which engines), TOKENWARD_ENGINES_TABS_SECONDS
// (length of the several-tab load case, default 10 s per storage mode), TOKENWARD_ENGINES_FULL=0
// (only the cases an engine needs, not every other shared scenario of core.mjs and tabs.mjs).
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';

import { resultPath, startStack } from './harness.mjs';
import { engines, openApp as openWebDriverApp } from './engines.mjs';

const here = (file) => new URL(file, import.meta.url);
const load = async (file) => (existsSync(here(file)) ? import(here(file)) : null);
const smokeModule = await load('./scenarios/smoke.mjs');
const core = await load('./scenarios/core.mjs');
const leaks = await load('./scenarios/leaks.mjs');
const tabs = await load('./scenarios/tabs.mjs');

const TABS_SECONDS = Number(process.env.TOKENWARD_ENGINES_TABS_SECONDS || 10);
const selected = (process.env.TOKENWARD_ENGINES || 'firefox,webkit').split(',').map((s) => s.trim()).filter(Boolean);
const requireEngines = process.env.TOKENWARD_REQUIRE_ENGINES === '1';
const FULL = process.env.TOKENWARD_ENGINES_FULL !== '0';

// [title, module, run(env), access token lifetime the scenario expects (s) or null]
function cases() {
  const list = [];
  const add = (title, module, missing, run, ttl = null) => list.push({ title, module, missing, run, ttl });
  add('smoke: token attached, 3 s token refreshed ahead of expiry', smokeModule, 'smoke.mjs',
    (env) => smokeModule.smoke(env), 3);
  add('refresh ahead of expiry: 5 s token, calls every 250 ms for 30 s, one refresh per token', core, 'core.mjs',
    (env) => core.refreshCadence(env));
  add('single-flight: 50 concurrent fetches with an expired token, one token request', core, 'core.mjs',
    (env) => core.concurrentFetchesOneRefresh(env));
  add('storage corruption: corrupt record → signed out, one storage error, record removed', core, 'core.mjs',
    (env) => core.corruptStoredRecord(env));
  add('attach/leak rules: the token goes to attachTo URLs only (table of URLs, checked at the recorder)', leaks, 'leaks.mjs',
    (env) => leaks.tokenOnlyWhereAttached(env), 300);
  add('attach/leak rules: an Authorization header set by the caller is never overridden', leaks, 'leaks.mjs',
    (env) => leaks.callerAuthorizationKept(env), 300);
  add('attach/leak rules: prefixes as written, no token past encoded separators', leaks, 'leaks.mjs',
    (env) => leaks.prefixesAsWritten(env), 300);
  add('attach/leak rules: attached requests never follow redirects', leaks, 'leaks.mjs',
    (env) => leaks.attachedRequestsDoNotFollowRedirects(env), 300);
  add('options: https only outside loopback; wrong argument types are invalid_options', leaks, 'leaks.mjs',
    (env) => leaks.optionsAndArgumentsChecked(env), 300);
  for (const storage of ['memory', 'session', 'local']) {
    // 3 tabs, not 2: the scenario also checks `refreshes < one per tab / 2`, which needs 3+.
    add(`3 tabs (${storage}): calls every 200 ms for ${TABS_SECONDS} s with 3 s tokens, one refresh per token`, tabs, 'tabs.mjs',
      (env) => tabs.refreshOncePerTokenAcrossTabs({ ...env, storage, tabs: 3, seconds: TABS_SECONDS }), 3);
  }
  for (const storage of ['memory', 'session', 'local']) {
    add(`two tabs (${storage}): sign-out reaches the other tab within 500 ms`, tabs, 'tabs.mjs',
      (env) => tabs.signOutReachesEveryTab({ ...env, storage, tabs: 2 }), 3);
  }
  add('memory: a tab opened after sign-in gets the session from the other tab', tabs, 'tabs.mjs',
    (env) => tabs.memoryTabGetsSessionFromOthers(env), 3);
  if (FULL) {
    // Every other shared scenario (new ones in core.mjs are picked up by themselves).
    const named = new Set(['refreshCadence', 'concurrentFetchesOneRefresh', 'corruptStoredRecord',
      // Written for Django OAuth Toolkit (tests/e2e/dot.test.mjs); the first needs Playwright's routing.
      'closedMidRefreshKeepsSession', 'closedMidRefreshWithoutGraceEndsOnce', 'refusedRefreshWithoutCorsIsReported',
      'concurrent401sShareOneRefresh']);
    for (const [fname, fn] of Object.entries(core ?? {})) {
      if (typeof fn === 'function' && fn.length === 1 && !named.has(fname) && !['installHelpers', 'claimsOf'].includes(fname)) {
        add(`core: ${fname}`, core, 'core.mjs', (env) => fn(env));
      }
    }
    add('tabs: crossTab false, two local-storage tabs lose the rotation race (evidence)', tabs, 'tabs.mjs',
      (env) => tabs.withoutCrossTabTheTabsRace(env), 3);
  }
  return list;
}

/**
 * The suite of one engine ('firefox' or 'webkit'): its own authorization server, API and
 * browser; for Firefox also the private-browsing cases. engines-<name>.test.mjs calls it, so
 * that the two engines can run at the same time (scripts/e2e.mjs).
 */
export function engineSuite(name) {
  const engine = engines[name];
  const notSelected = selected.includes(name) ? null : `not in TOKENWARD_ENGINES=${selected.join(',')}`;
  const missing = notSelected || engine.unavailable();
  const skip = missing && !(requireEngines && !notSelected) ? `${engine.title} skipped: ${missing}` : false;

  describe(`${engine.title} (WebDriver)`, { skip }, () => {
    let stack;
    let context;
    const logs = [];

    before(async () => {
      if (missing) throw new Error(`${engine.title} is required (TOKENWARD_REQUIRE_ENGINES=1): ${missing}`);
      // The leak stack is startStack's plus a header recorder on 3 ports.
      stack = leaks ? await leaks.startLeakStack({ accessTokenTtl: 5 }) : await startStack({ accessTokenTtl: 5 });
      context = await engine.launch();
    });

    after(async () => {
      await writeFile(await resultPath(`engines-${name}.log`), `${logs.join('\n')}\n`).catch(() => {});
      await context?.close();
      await stack?.close();
    });

    test(`${engine.title}: browser and driver versions`, (t) => {
      t.diagnostic(`${engine.title}: ${context.info.browserName} ${context.info.browserVersion}`);
      assert.ok(context.info.browserVersion, 'the session reports a browser version');
    });

    for (const c of cases()) {
      const skipCase = c.module ? false : `scenarios/${c.missing} does not exist yet`;
      test(`${engine.title}: ${c.title}`, { skip: skipCase }, async (t) => {
        stack.auth.setFault(null);
        stack.auth.setAccessTokenTtl(c.ttl ?? 5);
        const env = {
          context,
          stack,
          openApp: (ctx, url, options = {}) => openWebDriverApp(ctx, url, { ...options, logs: options.logs ?? logs }),
          assert,
          diagnostic: (message) => t.diagnostic(`[${name}] ${message}`),
        };
        try {
          await c.run(env);
        } finally {
          // A failed scenario may leave pages open: close them so the next one starts clean.
          for (const page of context.pagesList()) await page.close().catch(() => {});
        }
      });
    }

    // ---- WebDriver engines only: a background tab (uses newPage({ type: 'tab' }), an
    // extension of engines.mjs). Firefox throttles timers of a tab that is not selected
    // to about 1/s; WebKit's MiniBrowser reports every tab as hidden and throttles them too.
    // The session must survive on throttled timers: every call still carries a valid token.
    test(`${engine.title}: a background tab (throttled timers) keeps its session with 3 s tokens`, { skip: tabs ? false : 'scenarios/tabs.mjs does not exist yet' }, async (t) => {
      const storageKey = 'engines-background';
      const seconds = 12;
      stack.auth.setFault(null);
      stack.auth.setAccessTokenTtl(3);
      const env = {
        context,
        stack,
        openApp: (ctx, url, options = {}) => openWebDriverApp(ctx, url, { ...options, logs: options.logs ?? logs, type: 'tab' }),
      };
      try {
        stack.auth.resetStats();
        stack.api.resetStats();
        const tokens = await stack.auth.login();
        const bg = await tabs.openTab(env, { storage: 'memory', storageKey }, tokens);
        await bg.page.evaluate(() => {
          window.visibilityLog = [document.visibilityState];
          document.addEventListener('visibilitychange', () => window.visibilityLog.push(document.visibilityState));
        });
        await tabs.startCalling(bg, stack);
        // A second tab comes to the front; only it is polled while the first one works.
        const front = await env.openApp(context, `${stack.app.url}/`);
        const started = Date.now();
        await front.waitForFunction((until) => Date.now() >= until, started + seconds * 1000, { timeout: seconds * 1000 + 10_000 });
        const visibility = await bg.page.evaluate(() => window.visibilityLog.slice());
        await tabs.stopCalling(bg);
        await tabs.waitCallsSettled(bg);
        const r = await tabs.tabReport(bg, storageKey);
        const { stats } = stack.auth;
        t.diagnostic(`[${name}] background tab, ${seconds} s, calls every 200 ms: ${r.loop.sent} calls made `
          + `(${(seconds * 1000) / tabs.CALL_EVERY_MS} without throttling), statuses ${JSON.stringify(r.loop.statuses)}; `
          + `refresh requests ${stats.refreshRequests} (ok ${stats.refreshOk}); events ${r.events.map((e) => e.type).join(' ') || 'none'}; `
          + `visibility while in the background: ${visibility.join(' → ')}; API 401s ${stack.api.stats.unauthorized}`);
        assert.ok(visibility.includes('hidden'), `the tab really was in the background: ${visibility.join(' → ')}`);
        assert.deepEqual(r.loop.failures, [], 'no auth.fetch rejected');
        assert.ok(r.loop.sent >= seconds / 2, `the tab kept calling (${r.loop.sent} calls)`);
        assert.deepEqual(Object.keys(r.loop.statuses), ['200'], 'every call answered 200');
        assert.equal(r.net.apiWithoutToken, 0, 'every call carried a token');
        assert.equal(stack.api.stats.unauthorized, 0, 'the API never saw an expired token');
        assert.equal(r.counts.signedOut + r.counts.expired + r.counts.error, 0, `no sign-out, expiry or error: ${JSON.stringify(r.events)}`);
        assert.ok(stats.refreshOk >= seconds / 3, `the session was refreshed along (${stats.refreshOk} refreshes in ${seconds} s of 3 s tokens)`);
        assert.equal(stats.invalidGrant, 0);
      } finally {
        for (const page of context.pagesList()) await page.close().catch(() => {});
      }
    });
  });

  if (name === 'firefox') privateBrowsingSuite();
}

// Firefox with every window in private browsing (browser.privatebrowsing.autostart): storage,
// Web Locks and BroadcastChannel still work there, per private session.
function privateBrowsingSuite() {
  const engine = engines.firefox;
  const missing = selected.includes('firefox') ? engine.unavailable() : `not in TOKENWARD_ENGINES=${selected.join(',')}`;
  const skip = missing && !(requireEngines && selected.includes('firefox')) ? `Firefox skipped: ${missing}` : false;
  describe('Firefox private browsing (WebDriver)', { skip }, () => {
    let stack;
    let context;
    before(async () => {
      if (missing) throw new Error(`Firefox is required (TOKENWARD_REQUIRE_ENGINES=1): ${missing}`);
      stack = await startStack({ accessTokenTtl: 3 });
      context = await engine.launch({ privateBrowsing: true });
    });
    after(async () => {
      await context?.close();
      await stack?.close();
    });
    const env = (t) => ({
      context, stack, openApp: openWebDriverApp, assert, diagnostic: (message) => t.diagnostic(`[firefox private] ${message}`),
    });
    test('Firefox private: smoke (token attached, 3 s token refreshed)', { skip: smokeModule ? false : 'no smoke.mjs' },
      (t) => smokeModule.smoke(env(t)));
    test('Firefox private: local storage, sign-out reaches the other tab within 500 ms', { skip: tabs ? false : 'no tabs.mjs' },
      (t) => tabs.signOutReachesEveryTab({ ...env(t), storage: 'local', tabs: 2 }));
  });
}
