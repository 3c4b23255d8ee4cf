// signedOut { reason: 'storage' } (Chromium): the shared localStorage record cleared,
// removed or made unreadable from another page ends the session in this one; a tokenward
// sign-out in another tab still says `other_tab`, and with crossTab: false it ends nothing
// here. The page that cleared it itself (no storage event there) notices at its next
// refresh.
// Run: node --test --test-concurrency=1 tests/e2e/storage-events.test.mjs
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { chromiumSuite, startStack } from './harness.mjs';
import { installHelpers } from './scenarios/core.mjs';

describe('storage events (Chromium)', () => {
  const suite = chromiumSuite('storage-events', () => startStack({ accessTokenTtl: 300 }));

  // Two pages of the app with the helpers installed: `body(a, b)` runs, then both close.
  async function twoPages(t, body) {
    const env = suite.env(t);
    const a = await env.openApp(suite.context, `${suite.stack.app.url}/`);
    const b = await env.openApp(suite.context, `${suite.stack.app.url}/`);
    try {
      for (const page of [a, b]) await installHelpers(page);
      await body(a, b);
    } finally {
      for (const page of [a, b]) {
        await page.evaluate(() => window.auth?.dispose()).catch(() => {});
        await page.close().catch(() => {});
      }
    }
  }

  for (const [what, change] of [
    ['localStorage.clear()', 'clear'],
    ['localStorage.removeItem(record)', 'remove'],
    ['the record overwritten with junk', 'junk'],
    ['a tokenward sign-out in the other tab', 'signOut'],
    ['a tokenward sign-out whose channel message comes after its storage events', 'signOutLate'],
  ]) {
    test(`${what} in another page`, async (t) => {
      const { stack } = suite;
      const key = `storage-events-${change}`;
      const options = { ...stack.clientOptions, storage: 'local', storageKey: key };
      const tokens = await stack.auth.login();
      await twoPages(t, async (a, b) => {
        await a.evaluate(async ({ options, tokens, change }) => {
          if (change === 'signOutLate') {
            // The other tab's sign-out message is held until the test lets it through:
            // only the storage events can tell this page why the record went.
            window.held = [];
            const Channel = BroadcastChannel;
            window.BroadcastChannel = class extends Channel {
              set onmessage(f) {
                super.onmessage = (e) => (String(e.data).includes('"t":"out"') ? window.held.push(() => f(e)) : f(e));
              }
            };
          }
          window.auth = await window.makeClient(options);
          window.auth.setTokens(tokens);
        }, { options, tokens, change });
        await b.evaluate(async ({ options, change, key }) => {
          if (change.startsWith('signOut')) {
            window.auth = await window.makeClient(options);
            await window.auth.signOut({ revoke: false });
          } else if (change === 'clear') {
            localStorage.clear();
          } else if (change === 'remove') {
            localStorage.removeItem(key);
          } else {
            localStorage.setItem(key, 'not a record');
          }
        }, { options, change, key });
        await a.waitForFunction(() => window.events.some((e) => e.type === 'signedOut'), null, { timeout: 10_000 });
        if (change === 'signOutLate') {
          const held = await a.evaluate(() => {
            const n = window.held.length;
            window.held.splice(0).forEach((deliver) => deliver());
            return n;
          });
          assert.equal(held, 1, 'the sign-out message was held until now');
        }
        const seen = await a.evaluate((key) => ({
          reasons: window.events.filter((e) => e.type === 'signedOut').map((e) => e.reason),
          status: window.auth.status,
          stored: localStorage.getItem(key),
        }), key);
        t.diagnostic(`${what}: ${JSON.stringify(seen)}`);
        assert.deepEqual(seen.reasons, [change.startsWith('signOut') ? 'other_tab' : 'storage']);
        assert.equal(seen.status, 'signedOut');
        assert.equal(seen.stored, null, 'nothing unreadable left behind');
      });
    });
  }

  test('crossTab: false: a sign-out in another tab ends nothing here, a script\'s removal does', async (t) => {
    const { stack } = suite;
    const key = 'storage-events-alone';
    const options = { ...stack.clientOptions, storage: 'local', storageKey: key, crossTab: false };
    const tokens = await stack.auth.login();
    // Storage events reach a page in order: once `a` saw the sentinel, tokenward there has
    // seen every change before it.
    const sentinel = (page, n) => page.evaluate((n) => new Promise((resolve) => {
      const seen = (e) => {
        if (e.key === 'sentinel' && e.newValue === String(n)) {
          removeEventListener('storage', seen);
          resolve();
        }
      };
      addEventListener('storage', seen);
    }), n);
    await twoPages(t, async (a, b) => {
      await a.evaluate(async ({ options, tokens }) => {
        window.auth = await window.makeClient(options);
        window.auth.setTokens(tokens);
      }, { options, tokens });
      const first = sentinel(a, 1);
      await b.evaluate(async ({ options }) => {
        window.auth = await window.makeClient(options);
        await window.auth.signOut({ revoke: false });
        localStorage.setItem('sentinel', '1');
        localStorage.removeItem('sentinel');
      }, { options });
      await first;
      const after = await a.evaluate((key) => ({
        signedOut: window.events.filter((e) => e.type === 'signedOut').length,
        status: window.auth.status,
        stored: localStorage.getItem(key),
      }), key);
      t.diagnostic(`after the other tab's sign-out: ${JSON.stringify(after)}`);
      assert.deepEqual(after, { signedOut: 0, status: 'signedIn', stored: null });
      // The record back (as this tab's next refresh would write it), then a script removes it.
      await a.evaluate(({ tokens }) => window.auth.setTokens(tokens), { tokens });
      await b.evaluate((key) => localStorage.removeItem(key), key);
      await a.waitForFunction(() => window.events.some((e) => e.type === 'signedOut'), null, { timeout: 10_000 });
      const reasons = await a.evaluate(() => window.events.filter((e) => e.type === 'signedOut').map((e) => e.reason));
      assert.deepEqual(reasons, ['storage']);
    });
  });

  test('this page\'s own localStorage.clear() (no storage event here) ends the session at its next refresh', async (t) => {
    const { stack } = suite;
    const key = 'storage-events-own';
    const options = { ...stack.clientOptions, storage: 'local', storageKey: key };
    const tokens = await stack.auth.login();
    await twoPages(t, async (a, b) => {
      for (const page of [a, b]) {
        await page.evaluate(async ({ options }) => { window.auth = await window.makeClient(options); }, { options });
      }
      await a.evaluate(({ tokens }) => window.auth.setTokens(tokens), { tokens });
      await b.waitForFunction(() => window.auth.status === 'signedIn', null, { timeout: 10_000 });
      stack.auth.resetStats();
      const seen = await a.evaluate(async (key) => {
        localStorage.clear();
        const noEventYet = window.events.filter((e) => e.type === 'signedOut').length;
        let rejection = null;
        try {
          await window.auth.refresh();
        } catch (e) {
          rejection = window.describeError(e).code;
        }
        return {
          noEventYet,
          rejection,
          reasons: window.events.filter((e) => e.type === 'signedOut').map((e) => e.reason),
          status: window.auth.status,
          stored: localStorage.getItem(key),
        };
      }, key);
      await b.waitForFunction(() => window.events.some((e) => e.type === 'signedOut'), null, { timeout: 10_000 });
      const other = await b.evaluate(() => window.events.filter((e) => e.type === 'signedOut').map((e) => e.reason));
      t.diagnostic(`own clear(): ${JSON.stringify(seen)}; the other tab: ${JSON.stringify(other)}; refresh requests ${stack.auth.stats.refreshRequests}`);
      assert.deepEqual(seen, { noEventYet: 0, rejection: 'signed_out', reasons: ['storage'], status: 'signedOut', stored: null });
      assert.equal(stack.auth.stats.refreshRequests, 0, 'no refresh sent for a session that is gone');
      // The other tab heard the clear() as a storage event.
      assert.deepEqual(other, ['storage']);
    });
  });
});
