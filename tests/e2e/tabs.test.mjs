// One refresh for all tabs, end to end: the packed package in several pages of ONE Chromium context (the
// tabs of one profile: shared storage, Web Locks and BroadcastChannels), against the real
// authorization server (rotating refresh tokens; a reused one revokes the grant) and the API.
// The scenarios live in scenarios/tabs.mjs and use only what every engine's adapter offers
// (no Chromium-only case: the hung refresh uses a server that never answers, not page.route).
// The load case runs TOKENWARD_TABS_SECONDS (default 20; 60 for the README's minute) per storage mode.
import { describe, test } from 'node:test';

import { chromiumSuite, startStack } from './harness.mjs';
import {
  TABS_SECONDS, hungRefreshDoesNotStopOthers, memoryTabGetsSessionFromOthers, refreshOncePerTokenAcrossTabs,
  signOutReachesEveryTab, slowRefreshIsWaitedFor, withoutCrossTabTheTabsRace,
} from './scenarios/tabs.mjs';

const MODES = ['memory', 'session', 'local'];

describe('tabs', () => {
  const { env } = chromiumSuite('tabs', () => startStack({ accessTokenTtl: 3 }));

  for (const storage of MODES) {
    test(`${storage}: 5 tabs calling the API every 200 ms for ${TABS_SECONDS} s with 3 s tokens: one refresh per token, no 401, no sign-out`,
      (t) => refreshOncePerTokenAcrossTabs({ ...env(t), storage }));
  }

  for (const storage of MODES) {
    test(`${storage}: sign-out in one tab reaches every other tab within 500 ms; their next calls carry no token`,
      (t) => signOutReachesEveryTab({ ...env(t), storage }));
  }

  test('memory: a tab opened after sign-in has the session without signing in',
    (t) => memoryTabGetsSessionFromOthers(env(t)));

  test('crossTab: false (evidence): two local-storage tabs refresh independently and lose the rotation race',
    (t) => withoutCrossTabTheTabsRace(env(t)));

  test('one tab\'s refresh hangs: the others take the lock over in time; closing the hung tab releases its locks', (t) => hungRefreshDoesNotStopOthers(env(t)));

  test('one tab\'s refresh hangs, the others\' token requests take 300 ms: still one refresh per token', (t) => hungRefreshDoesNotStopOthers({ ...env(t), tokenLatencyMs: 300 }));

  for (const storage of ['memory', 'local']) {
    test(`${storage}: a token endpoint taking 1 s with 3 s tokens: the tabs that take the lock over wait for the busy holder's tokens, no refresh token spent twice`,
      (t) => slowRefreshIsWaitedFor({ ...env(t), storage }));
  }
});
