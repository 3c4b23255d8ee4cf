// The shared scenarios against a second real authorization server, Django OAuth Toolkit
// (tests/servers/dot/, a Python venv made on first use), in headless Chromium. DOT issues
// opaque access tokens (the API introspects them), publishes its revocation endpoint only in
// its RFC 8414 metadata, rotates refresh tokens with reuse protection and deletes the
// previous access token when it rotates. Cases tokenward cannot pass yet against DOT are
// `todo`: they run and report, and do not fail the suite.
import { describe, test } from 'node:test';

import { appHtml, chromiumSuite, startDotStack } from './harness.mjs';
import * as signin from './scenarios/signin.mjs';
import * as core from './scenarios/core.mjs';
import { refreshOncePerTokenAcrossTabs, signOutReachesEveryTab } from './scenarios/tabs.mjs';

const TABS_SECONDS = Number(process.env.TOKENWARD_DOT_TABS_SECONDS || 15);

describe('Django OAuth Toolkit: sign-in (authorization code + PKCE, discovery with the RFC 8414 fallback)', () => {
  let started = null;
  const suite = chromiumSuite('dot-signin', async () => {
    started = await startDotStack({
      accessTokenTtl: 300,
      html: appHtml({ script: signin.APP_SCRIPT }),
      routes: signin.signinRoutes(() => started),
    });
    return started;
  });
  const { env } = suite;

  test('sign-in lands signed in; the API call works; a reload stays signed in', (t) => signin.signInLandsSignedIn(env(t)));
  test('a wrong or missing state or iss is invalid_state; the real response still works', (t) => signin.forgedResponsesAreRejected(env(t)));
  test('a replayed code is the server\'s invalid_grant; nothing stored', (t) => signin.replayedCodeIsRefused(env(t)));
  test('an ID token with the wrong aud, iss or nonce (or expired, or missing) is refused', (t) => signin.badIdTokensAreRejected(env(t)));
  test('a broken, foreign, missing or unreachable discovery document is refused', (t) => signin.discoveryFailures(env(t)));
  test('signOut() revokes at the endpoint found only in the RFC 8414 metadata', (t) => signin.signOutRevokesAtDiscoveredEndpoint(env(t)));
});

describe('Django OAuth Toolkit: refresh, rotation and revocation', () => {
  const suite = chromiumSuite('dot-core', () => startDotStack({ accessTokenTtl: 5 }));
  const { env } = suite;

  test('a 5 s token stays usable for 30 s of calls every 250 ms, one refresh per token', (t) => core.refreshCadence(env(t)));
  // Not here: concurrentFetchesOneRefresh and retryOn401ReplaysBody read the JWT's claims
  // (DOT's tokens are opaque); revokedGrantSignsOut and outageWhileValid need
  // oidc-provider's grant revocation and fault injection.
  test('signOut() revokes the refresh token at the server', (t) => core.signOutRevokes(env(t)));
  test('dispose() stops refreshing', (t) => core.disposeStopsRefreshing(env(t)));
  test('a page closed after the server rotated the refresh token, before the answer was stored: the next page stays signed in',
    { todo: 'the rotated refresh token is lost with the page: the next page refreshes with the old one, DOT (no grace period, reuse protection) answers invalid_grant and revokes the family' },
    (t) => core.closedMidRefreshKeepsSession({ ...env(t), context: suite.context }));
});

describe('Django OAuth Toolkit: tabs', () => {
  const { env } = chromiumSuite('dot-tabs', () => startDotStack({ accessTokenTtl: 3 }));
  // DOT deletes the previous access token when it rotates: calls the other tabs send with
  // it before they hear of the new one are 401 at the API. Measured (15 s, two runs):
  // memory 42 and 5 × 401 at the API, every call still ended 200 through the 401 retry;
  // local 422 and 16 × 401, and in the first run 39 of one tab's calls ended 401 for the
  // app. Refreshes stayed one per token, no invalid_grant, no sign-out.
  const TODO_TABS = {
    memory: 'DOT deletes the previous access token on rotation: the other tabs\' calls in flight get 401 at the API (the 401 retry saves them)',
    local: 'DOT deletes the previous access token on rotation: the other tabs\' calls get 401 at the API; under load some still ended 401 after the one retry',
  };
  for (const storage of ['memory', 'local']) {
    test(`${storage}: 5 tabs calling the API every 200 ms for ${TABS_SECONDS} s with 3 s tokens: one refresh per token, no 401, no sign-out`,
      { todo: TODO_TABS[storage] },
      (t) => refreshOncePerTokenAcrossTabs({ ...env(t), storage, seconds: TABS_SECONDS }));
  }
  for (const storage of ['memory', 'local']) {
    test(`${storage}: sign-out in one tab reaches every other tab within 500 ms; their next calls carry no token`,
      (t) => signOutReachesEveryTab({ ...env(t), storage }));
  }
});

describe('Django OAuth Toolkit with only its own CORS (Application.allowed_origins, no django-cors-headers)', () => {
  const { env } = chromiumSuite('dot-own-cors', () => startDotStack({ accessTokenTtl: 300, cors: 'dot' }));
  // The revocation goes out again `no-cors` when its answer cannot be read (src/browser/http.rs).
  test('signOut() against a revocation answer without CORS headers: no false revocation_failed',
    (t) => core.signOutRevokes({ ...env(t), maxRevocationRequests: 2 }));
  test('a refused refresh answered without CORS headers ends the session once, without endless retries',
    { todo: 'DOT answers token-endpoint errors (and refreshes) without CORS headers: the page sees a network error, tokenward retries with backoff forever and stays signedIn instead of signedOut(invalid_grant)' },
    (t) => core.refusedRefreshWithoutCorsEnds(env(t)));
});
