// signedOut { reason: 'storage' } (Chromium): the shared localStorage record cleared,
// removed or made unreadable from another page ends the session in this one; a tokenward
// sign-out in another tab still says `other_tab`, and with crossTab: false it ends nothing
// here. The page that cleared it itself (no storage event there) notices at its next
// refresh. A storage too full for a rotation's record keeps no spent refresh token.
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
  // Storage with room for small values only (a quota nearly used up): writing a record of
  // `key` fails as `QuotaExceededError`; a short value fits.
  const fillStorage = (page, key) => page.evaluate((key) => {
    const set = Storage.prototype.setItem;
    Storage.prototype.setItem = function setItem(k, v) {
      if (k === key && String(v).length > 200) throw new DOMException('the quota is used up', 'QuotaExceededError');
      return set.call(this, k, v);
    };
  }, key);

  for (const storage of ['session', 'local']) {
    test(`${storage} storage too full for a rotation's record keeps no spent refresh token`, async (t) => {
      const { stack } = suite;
      const key = `storage-events-full-${storage}`;
      const options = { ...stack.clientOptions, storage, storageKey: key };
      const area = storage === 'local' ? 'localStorage' : 'sessionStorage';
      const tokens = await stack.auth.login();
      await twoPages(t, async (a, b) => {
        const pages = storage === 'local' ? [a, b] : [a];
        for (const page of pages) {
          await page.evaluate(async ({ options }) => { window.auth = await window.makeClient(options); }, { options });
        }
        await a.evaluate(({ tokens }) => window.auth.setTokens(tokens), { tokens });
        for (const page of pages) await page.waitForFunction(() => window.auth.status === 'signedIn', null, { timeout: 10_000 });
        const spent = await a.evaluate(({ key, area }) => JSON.parse(window[area].getItem(key)).refresh_token, { key, area });
        assert.ok(spent, 'the record holds the refresh token');
        for (const page of pages) await fillStorage(page, key);
        stack.auth.resetStats();
        await a.evaluate(() => window.auth.refresh());
        if (pages.length > 1) await b.waitForFunction(() => window.events.some((e) => e.type === 'refresh'), null, { timeout: 10_000 });
        const seen = [];
        for (const page of pages) {
          seen.push(await page.evaluate(async ({ key, area, spent, apiUrl }) => {
            const stored = window[area].getItem(key);
            return {
              status: window.auth.status,
              errors: window.events.filter((e) => e.type === 'error').map((e) => e.code),
              signedOut: window.events.filter((e) => e.type === 'signedOut').length,
              stored,
              spentStored: String(stored).includes(spent),
              api: (await window.auth.fetch(`${apiUrl}/api/me`)).status,
            };
          }, { key, area, spent, apiUrl: stack.api.url }));
        }
        t.diagnostic(`after the rotation: ${JSON.stringify(seen)}; refresh requests ${stack.auth.stats.refreshRequests}`);
        assert.equal(stack.auth.stats.refreshRequests, 1, 'one rotation');
        for (const s of seen) {
          assert.deepEqual(
            { status: s.status, errors: s.errors, signedOut: s.signedOut, spentStored: s.spentStored, api: s.api },
            { status: 'signedIn', errors: ['storage'], signedOut: 0, spentStored: false, api: 200 },
          );
        }
        // A reload finds no session to restore: nothing spends the old refresh token again.
        if (pages.length > 1) await b.evaluate(() => window.auth.dispose());
        await a.reload();
        await a.waitForFunction(() => window.tokenward, null, { timeout: 10_000 });
        await installHelpers(a);
        stack.auth.resetStats();
        const restored = await a.evaluate(async ({ options }) => {
          window.auth = await window.makeClient(options);
          return {
            status: window.auth.status,
            events: window.events.map((e) => e.type),
          };
        }, { options });
        t.diagnostic(`after a reload: ${JSON.stringify(restored)}`);
        assert.deepEqual(restored, { status: 'signedOut', events: [] });
        assert.deepEqual(
          { refreshes: stack.auth.stats.refreshRequests, invalidGrant: stack.auth.stats.invalidGrant },
          { refreshes: 0, invalidGrant: 0 },
        );
      });
    });
  }
});
