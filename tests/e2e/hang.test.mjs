// Every promise settles (Chromium): a refused Web Lock, `window.fetch = auth.fetch`, and a
// fetch wrapper that throws. The scenarios live in scenarios/hang.mjs.
// Run: node --test --test-concurrency=1 tests/e2e/hang.test.mjs
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { chromiumSuite, startStack } from './harness.mjs';
import * as scenarios from './scenarios/hang.mjs';

describe('never hang (Chromium)', () => {
  const suite = chromiumSuite('hang', () => startStack({ accessTokenTtl: 60 }));
  const { env } = suite;

  test('a storageKey Web Locks refuse (-app): createTokenClient settles, one unsupported, works in its tab', (t) => scenarios.refusedLockDoesNotHang(env(t)));
  test('window.fetch = auth.fetch, and a wrapper around it: one API request per call, with the token', (t) => scenarios.globalFetchIsAuthFetch(env(t)));
  test('hostile options, token responses and sign-in options (throwing Proxy traps, getters, length): typed errors, module keeps working', (t) => scenarios.hostileInputsAreTypedErrors(env(t)));
  test('a fetch that throws synchronously: every call settles, nothing left refreshing', (t) => scenarios.throwingFetchSettles(env(t)));

  // Sizes are bounded: an oversized stored record, token-endpoint answer or tab message is
  // refused before it is copied into the module (Chromium: the answer comes from page.route).
  test('[chromium only] oversized stored record, token answer and tab message: refused with typed errors, nothing lost', async (t) => {
    const { stack, context } = suite;
    const e = env(t);
    const tokens = await stack.auth.login();
    const page = await e.openApp(context, `${stack.app.url}/`);
    try {
      await scenarios.installHelpersForHang(page);
      await page.route(stack.auth.tokenEndpoint, (route) => route.fulfill({
        status: 200, contentType: 'application/json', headers: { 'access-control-allow-origin': '*' },
        body: JSON.stringify({ access_token: 'x'.repeat(400 * 1024), token_type: 'Bearer', expires_in: 60 }),
      }));
      const result = await page.evaluate(async ({ options, tokens }) => {
        const key = 'hang-sizes';
        localStorage.setItem(key, JSON.stringify({ v: 1, access_token: 'a'.repeat(100 * 1024), token_type: 'Bearer', received_at: Date.now() }));
        window.events = [];
        window.auth = await window.makeClient({ ...options, storage: 'local', storageKey: key });
        const start = { status: window.auth.status, record: localStorage.getItem(key), events: window.events.map((x) => [x.type, x.code]) };
        window.auth.setTokens(tokens);
        const refreshed = await window.auth.refresh().then(() => ({ ok: true }), (err) => ({ ok: false, code: err.code }));
        const afterRefresh = { status: window.auth.status, token: (await window.auth.accessToken()) === tokens.access_token };
        new BroadcastChannel(key).postMessage('{'.repeat(200 * 1024));
        await new Promise((r) => setTimeout(r, 200));
        const afterMessage = { status: window.auth.status, token: (await window.auth.accessToken()) === tokens.access_token };
        return { start, refreshed, afterRefresh, afterMessage };
      }, { options: stack.clientOptions, tokens });
      t.diagnostic(`sizes: ${JSON.stringify(result)}`);
      assert.equal(result.start.status, 'signedOut', 'an oversized record is not restored');
      assert.equal(result.start.record, null, 'and it is removed');
      assert.deepEqual(result.start.events.filter(([type]) => type === 'error'), [['error', 'storage']]);
      assert.deepEqual(result.refreshed, { ok: false, code: 'network' }, 'a 400 KiB token answer is refused as a transient failure');
      assert.deepEqual(result.afterRefresh, { status: 'signedIn', token: true }, 'the valid session is kept');
      assert.deepEqual(result.afterMessage, { status: 'signedIn', token: true }, 'an oversized tab message is ignored');
    } finally {
      await page.unrouteAll({ behavior: 'ignoreErrors' }).catch(() => {});
      await page.evaluate(() => window.auth?.dispose()).catch(() => {});
      await page.close().catch(() => {});
    }
  });
});
