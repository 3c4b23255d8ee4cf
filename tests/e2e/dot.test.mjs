// The shared scenarios against a second real authorization server, Django OAuth Toolkit
// (tests/servers/dot/, a Python venv made on first use), in headless Chromium. DOT issues
// opaque access tokens (the API introspects them), publishes its revocation endpoint only in
// its RFC 8414 metadata, rotates refresh tokens with reuse protection and deletes the
// previous access token when it rotates.
import { describe, test } from 'node:test';

import { appHtml, chromiumSuite, startDotStack } from './harness.mjs';
import * as signin from './scenarios/signin.mjs';
import * as core from './scenarios/core.mjs';
import { refreshOncePerTokenAcrossTabs, signOutReachesEveryTab } from './scenarios/tabs.mjs';

const TABS_SECONDS = Number(process.env.TOKENWARD_DOT_TABS_SECONDS || 20);
// 6 s tokens: DOT rotates every 3 s, so a call under way (an API round trip is ~50 ms, over
// a second on a loaded machine) meets at most one rotation, which its one retry covers.
const DOT_TOKEN_SECONDS = 6;

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
  test('5 calls under way with an access token the server no longer accepts: one refresh, every call retried to 200',
    (t) => core.concurrent401sShareOneRefresh(env(t)));
  // No grace period (DOT's default): the rotated refresh token is lost with the page.
  test('a page closed after the server rotated the refresh token, before the answer was stored: without a grace period the next page is signed out once (invalid_grant), cleanly',
    (t) => core.closedMidRefreshWithoutGraceEndsOnce(env(t)));
});

describe('Django OAuth Toolkit with a refresh-token grace period (REFRESH_TOKEN_GRACE_PERIOD_SECONDS)', () => {
  const { env } = chromiumSuite('dot-grace', () => startDotStack({ accessTokenTtl: 300, refreshTokenGracePeriodSeconds: 120 }));
  test('a page closed after the server rotated the refresh token, before the answer was stored: the next page stays signed in',
    (t) => core.closedMidRefreshKeepsSession(env(t)));
});

describe('Django OAuth Toolkit: tabs', () => {
  const { env } = chromiumSuite('dot-tabs', () => startDotStack({ accessTokenTtl: DOT_TOKEN_SECONDS }));
  // DOT deletes the previous access token when it rotates: calls the other tabs have under
  // way with it are 401 at the API. What the app sees is asserted: every call ends 200
  // (the 401 retry takes the new token), one refresh per token, no invalid_grant, no
  // sign-out; the 401s at the API are counted and reported, not failed.
  for (const storage of ['memory', 'local']) {
    test(`${storage}: 5 tabs calling the API every 200 ms for ${TABS_SECONDS} s with ${DOT_TOKEN_SECONDS} s tokens: one refresh per token, every call 200, no sign-out`,
      (t) => refreshOncePerTokenAcrossTabs({ ...env(t), storage, seconds: TABS_SECONDS, serverDeletesReplacedToken: true, tokenSeconds: DOT_TOKEN_SECONDS }));
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
  // The page cannot tell this refusal from an outage: the session is kept (an outage must
  // recover), and after expiry the app hears once why it is not refreshed.
  test('a refused refresh answered without CORS headers: after expiry one expired event and one error naming the likely cause, bounded retries, no sign-out',
    (t) => core.refusedRefreshWithoutCorsIsReported(env(t)));
});
