// Token leaks end to end in headless Chromium: a table of URLs fetched with
// auth.fetch from a real page, and what Authorization header each request really carried
// at the header recorder. The scenarios live in scenarios/leaks.mjs (shared with the other
// engines). Run: node --test --test-concurrency=1 tests/e2e/leaks.test.mjs
import { describe, test } from 'node:test';

import { chromiumSuite } from './harness.mjs';
import * as scenarios from './scenarios/leaks.mjs';

describe('token leaks (Chromium)', () => {
  const { env } = chromiumSuite('leaks', () => scenarios.startLeakStack({ accessTokenTtl: 300 }));

  test('the token goes to attachTo URLs only (table of URLs, checked at the recorder)', (t) => scenarios.tokenOnlyWhereAttached(env(t)));
  test('an Authorization header set by the caller is never overridden', (t) => scenarios.callerAuthorizationKept(env(t)));
  test('prefixes are matched as written; encoded separators after a prefix get no token', (t) => scenarios.prefixesAsWritten(env(t)));
  test('attached requests never follow redirects; the redirect target never gets the token', (t) => scenarios.attachedRequestsDoNotFollowRedirects(env(t)));
  test('http endpoints outside loopback and wrong argument types are invalid_options', (t) => scenarios.optionsAndArgumentsChecked(env(t)));
});
