// signedOut { reason: 'storage' } (Chromium): the shared localStorage record cleared or
// made unreadable from another page ends the session in this one; a tokenward sign-out in
// another tab still says `other_tab`.
// Run: node --test --test-concurrency=1 tests/e2e/storage-events.test.mjs
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { chromiumSuite, startStack } from './harness.mjs';
import { installHelpers } from './scenarios/core.mjs';

describe('storage events (Chromium)', () => {
  const suite = chromiumSuite('storage-events', () => startStack({ accessTokenTtl: 300 }));

  for (const [what, change] of [
    ['localStorage.clear()', 'clear'],
    ['the record overwritten with junk', 'junk'],
    ['a tokenward sign-out in the other tab', 'signOut'],
  ]) {
    test(`${what} in another page`, async (t) => {
      const { stack, context } = suite;
      const env = suite.env(t);
      const key = `storage-events-${change}`;
      const options = { ...stack.clientOptions, storage: 'local', storageKey: key };
      const tokens = await stack.auth.login();
      const a = await env.openApp(context, `${stack.app.url}/`);
      const b = await env.openApp(context, `${stack.app.url}/`);
      try {
        for (const page of [a, b]) await installHelpers(page);
        await a.evaluate(async ({ options, tokens }) => {
          window.auth = await window.makeClient(options);
          window.auth.setTokens(tokens);
        }, { options, tokens });
        await b.evaluate(async ({ options, change, key }) => {
          if (change === 'signOut') {
            window.auth = await window.makeClient(options);
            await window.auth.signOut({ revoke: false });
          } else if (change === 'clear') {
            localStorage.clear();
          } else {
            localStorage.setItem(key, 'not a record');
          }
        }, { options, change, key });
        await a.waitForFunction(() => window.events.some((e) => e.type === 'signedOut'), null, { timeout: 10_000 });
        const seen = await a.evaluate((key) => ({
          reasons: window.events.filter((e) => e.type === 'signedOut').map((e) => e.reason),
          status: window.auth.status,
          stored: localStorage.getItem(key),
        }), key);
        t.diagnostic(`${what}: ${JSON.stringify(seen)}`);
        assert.deepEqual(seen.reasons, [change === 'signOut' ? 'other_tab' : 'storage']);
        assert.equal(seen.status, 'signedOut');
        assert.equal(seen.stored, null, 'nothing unreadable left behind');
      } finally {
        for (const page of [a, b]) {
          await page.evaluate(() => window.auth?.dispose()).catch(() => {});
          await page.close().catch(() => {});
        }
      }
    });
  }
});
