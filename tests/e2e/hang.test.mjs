// Every promise settles (Chromium): a refused Web Lock, `window.fetch = auth.fetch`, and a
// fetch wrapper that throws. The scenarios live in scenarios/hang.mjs.
// Run: node --test --test-concurrency=1 tests/e2e/hang.test.mjs
import { describe, test } from 'node:test';

import { chromiumSuite, startStack } from './harness.mjs';
import * as scenarios from './scenarios/hang.mjs';

describe('never hang (Chromium)', () => {
  const suite = chromiumSuite('hang', () => startStack({ accessTokenTtl: 60 }));
  const { env } = suite;

  test('a storageKey Web Locks refuse (-app): createTokenClient settles, one unsupported, works in its tab', (t) => scenarios.refusedLockDoesNotHang(env(t)));
  test('window.fetch = auth.fetch, and a wrapper around it: one API request per call, with the token', (t) => scenarios.globalFetchIsAuthFetch(env(t)));
  test('hostile options, token responses and sign-in options (throwing Proxy traps, getters, length): typed errors, module keeps working', (t) => scenarios.hostileInputsAreTypedErrors(env(t)));
  test('a fetch that throws synchronously: every call settles, nothing left refreshing', (t) => scenarios.throwingFetchSettles(env(t)));
});
