// Sign-in in headless Chromium against the real authorization server: a thin
// runner for the scenarios in scenarios/signin.mjs (which run unchanged in other
// browsers through the WebDriver adapter). Needs the built package (dist/).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';

import { appHtml, launchBrowser, openApp, resultPath, startStack } from './harness.mjs';
import * as scenarios from './scenarios/signin.mjs';

describe('sign-in (authorization code + PKCE)', () => {
  let stack;
  let context;
  const logs = [];
  const open = (ctx, url) => openApp(ctx, url, { logs });
  const run = (scenario) => (t) => scenario({
    context, stack, openApp: open, assert, diagnostic: (message) => t.diagnostic(message),
  });

  before(async () => {
    let started = null;
    stack = await startStack({
      accessTokenTtl: 300,
      html: appHtml({ script: scenarios.APP_SCRIPT }),
      routes: scenarios.signinRoutes(() => started),
    });
    started = stack;
    context = await launchBrowser();
  });

  after(async () => {
    await writeFile(await resultPath('signin.log'), `${logs.join('\n')}\n--- auth server events ---\n${
      JSON.stringify(stack?.auth.events ?? [], null, 1)}\n`).catch(() => {});
    await context?.close();
    await stack?.close();
  });

  test('sign-in lands signed in; the API call works; a reload stays signed in', run(scenarios.signInLandsSignedIn));
  test('a wrong or missing state or iss is invalid_state; the real response still works', run(scenarios.forgedResponsesAreRejected));
  test('default redirect URI: ?code=…&state=… without a pending sign-in is left alone', run(scenarios.strayCodeAndStateAreLeftAlone));
  test('a replayed code is the server\'s invalid_grant; nothing stored', run(scenarios.replayedCodeIsRefused));
  test('cancelling on the login page is access_denied; nothing stored', run(scenarios.deniedSignInIsAccessDenied));
  test('an ID token with the wrong aud, iss or nonce (or expired, or missing) is refused', run(scenarios.badIdTokensAreRejected));
  test('a broken, foreign, missing or unreachable discovery document is refused', run(scenarios.discoveryFailures));
  test('signOut({ endSession: true }) revokes, forgets and ends the provider\'s session', run(scenarios.signOutEndsProviderSession));
  test('signOut() revokes at the discovered revocation endpoint, no error event', run(scenarios.signOutRevokesAtDiscoveredEndpoint));
});
