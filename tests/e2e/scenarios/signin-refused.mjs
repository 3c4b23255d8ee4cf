// Sign-in scenarios of what is refused: forged, replayed or denied authorization
// responses, tampered ID tokens, broken discovery documents and bad options, each with
// its error code and nothing stored. Re-exported by signin.mjs.
import { createServer } from 'node:net';

import {
  PENDING_KEY, openSignedOutApp, reconfigure, signInAsUser, signinConfig, snapshot, waitReady,
} from './signin-helpers.mjs';

async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address();
  await new Promise((resolve) => { server.close(resolve); });
  return port;
}

/**
 * Forged responses: a wrong or missing `state` is invalid_state and leaves the pending
 * sign-in, so the real response still works after it; a response with the right state but
 * a wrong or missing `iss` (RFC 9207: the provider advertises it) is invalid_state too and
 * uses the pending sign-in up, and so does a malformed one (an empty code, an `error` that
 * is no server code). No forged code is ever exchanged, nothing is stored.
 */
export async function forgedResponsesAreRejected({ context, stack, openApp, assert, diagnostic }) {
  const page = await openSignedOutApp({ context, stack, openApp }, signinConfig(stack));
  // Signs in with the response held back: resolves to the callback URL and the pending record.
  const holdResponse = async () => {
    await page.evaluate(() => sessionStorage.setItem('e2e:hold', '1'));
    const { where } = await signInAsUser(page, stack);
    assert.equal(where, 'app');
    const held = await page.evaluate(() => window.held);
    assert.ok(new URL(held).searchParams.get('code'), held);
    await page.goto(`${stack.app.url}/`);
    await waitReady(page);
    return { held, pending: (await snapshot(page)).pending };
  };
  const handleExplicitly = (url) => page.evaluate(async (u) => {
    history.replaceState(null, '', u);
    try {
      return `resolved ${await window.auth.handleRedirect()}`;
    } catch (e) {
      return e.code;
    }
  }, url);
  const variant = (url, change) => {
    const u = new URL(url);
    change(u.searchParams);
    return u.href;
  };
  try {
    const { held, pending } = await holdResponse();
    assert.ok(pending, 'the pending sign-in is in sessionStorage');
    assert.ok(!pending.includes(new URL(held).searchParams.get('code')));
    stack.auth.resetStats();

    await page.goto(variant(held, (p) => p.set('state', 'forged-state')));
    await waitReady(page);
    const forged = await snapshot(page);
    assert.deepEqual(forged.errors, ['invalid_state'], 'createTokenClient reports a wrong state as an error event');
    assert.equal(forged.createError, null, 'createTokenClient still resolves');
    assert.equal(forged.status, 'signedOut');
    assert.equal(forged.stored, null);
    assert.equal(forged.search, '', 'the forged response is removed from the address bar');
    assert.equal(forged.pending, pending, 'a wrong state does not use up the pending sign-in');

    const missingState = await handleExplicitly(variant(held, (p) => p.delete('state')));
    assert.equal(missingState, 'invalid_state', 'handleRedirect() rejects a response without state');
    const afterMissing = await snapshot(page);
    assert.equal(afterMissing.pending, pending);
    assert.equal(afterMissing.stored, null);
    assert.equal(afterMissing.search, '');
    assert.equal(stack.auth.stats.codeExchanges, 0, 'no forged code was exchanged');
    // The app's own parameters stay as they were written.
    const withOwn = `${variant(held, (p) => p.set('state', 'forged-again'))}&keep=a%20b&flag`;
    assert.equal(await handleExplicitly(withOwn), 'invalid_state');
    assert.equal((await snapshot(page)).search, '?keep=a%20b&flag', 'only the response is removed, the rest as written');

    // The real response, held back meanwhile, is still accepted.
    await page.goto(held);
    await waitReady(page);
    const real = await snapshot(page);
    assert.deepEqual(real.errors, []);
    assert.equal(real.status, 'signedIn');
    assert.equal(real.pending, null);
    assert.equal(stack.auth.stats.codeExchanges, 1);
    await page.evaluate(() => window.auth.signOut({ revoke: false }));

    const results = { 'wrong state': forged.errors[0], 'missing state': missingState };
    for (const [name, change] of [
      ['wrong iss', (p) => p.set('iss', 'https://evil.example')],
      ['missing iss', (p) => p.delete('iss')],
      // Malformed responses with the right state: an empty code, an `error` that names no
      // code, or one that spells tokenward's own `network` (a transient failure).
      ['empty code', (p) => p.set('code', '')],
      ['empty error', (p) => { p.delete('code'); p.set('error', ''); }],
      ['error spelling an own code', (p) => { p.delete('code'); p.set('error', 'network'); }],
    ]) {
      const next = await holdResponse();
      stack.auth.resetStats();
      results[name] = await handleExplicitly(variant(next.held, change));
      const after = await snapshot(page);
      assert.equal(results[name], 'invalid_state', name);
      assert.equal(after.stored, null, name);
      assert.equal(after.status, 'signedOut', name);
      assert.equal(after.pending, null, `${name}: the right state uses up the pending sign-in`);
      assert.equal(stack.auth.stats.codeExchanges, 0, `${name}: the code was not exchanged`);
    }
    diagnostic(Object.entries(results).map(([k, v]) => `${k} → ${v}`).join(', '));
  } finally {
    await page.close();
  }
}

/** The same code a second time (the pending sign-in put back) is the server's invalid_grant; nothing is stored. */
export async function replayedCodeIsRefused({ context, stack, openApp, assert, diagnostic }) {
  const config = signinConfig(stack);
  const page = await openSignedOutApp({ context, stack, openApp }, config);
  try {
    await page.evaluate(() => sessionStorage.setItem('e2e:hold', '1'));
    const { where } = await signInAsUser(page, stack);
    assert.equal(where, 'app');
    const held = await page.evaluate(() => window.held);
    const pending = await page.evaluate((k) => sessionStorage.getItem(k), PENDING_KEY);
    await page.goto(held);
    await waitReady(page);
    assert.equal((await snapshot(page)).status, 'signedIn');
    await page.evaluate(() => window.auth.signOut({ revoke: false }));
    assert.equal((await snapshot(page)).stored, null);

    stack.auth.resetStats();
    await page.evaluate(({ k, v }) => sessionStorage.setItem(k, v), { k: PENDING_KEY, v: pending });
    await page.goto(held);
    await waitReady(page);
    const after = await snapshot(page);
    diagnostic(`replay: errors ${after.errors.join(', ')}; server invalid_grant ${stack.auth.stats.invalidGrant}, exchanges ${stack.auth.stats.codeExchanges}`);
    assert.deepEqual(after.errors, ['invalid_grant']);
    assert.equal(stack.auth.stats.codeExchanges, 1);
    assert.equal(stack.auth.stats.invalidGrant, 1);
    assert.equal(after.status, 'signedOut');
    assert.equal(after.stored, null);
    assert.equal(after.pending, null);
    assert.equal(after.search, '');
  } finally {
    await page.close();
  }
}

/** The user cancels on the login page: access_denied, nothing stored. */
export async function deniedSignInIsAccessDenied({ context, stack, openApp, assert, diagnostic }) {
  const page = await openSignedOutApp({ context, stack, openApp }, signinConfig(stack));
  try {
    // prompt=login shows the login form even when the provider has a session.
    const { where, seen } = await signInAsUser(page, stack, { cancel: true, options: { prompt: 'login' } });
    assert.equal(where, 'app', seen.join(' → '));
    const after = await snapshot(page);
    diagnostic(`cancel: ${seen.join(' → ')} → errors ${after.errors.join(', ')}`);
    assert.deepEqual(after.errors, ['access_denied']);
    assert.equal(after.status, 'signedOut');
    assert.equal(after.stored, null);
    assert.equal(after.pending, null, 'the pending sign-in is used up by the error response');
    assert.equal(after.search, '', 'error and error_description are removed from the address bar');
  } finally {
    await page.close();
  }
}

/** ID tokens with the wrong aud, iss or nonce, an expired one, or none: invalid_token_response, nothing stored. */
export async function badIdTokensAreRejected({ context, stack, openApp, assert, diagnostic }) {
  const page = await openSignedOutApp({ context, stack, openApp }, signinConfig(stack));
  const results = {};
  try {
    for (const claim of ['aud', 'iss', 'nonce', 'exp', 'drop']) {
      await reconfigure(page, stack, signinConfig(stack, { tokenEndpoint: `${stack.app.url}/tamper/token?claim=${claim}` }));
      const { where, seen } = await signInAsUser(page, stack);
      assert.equal(where, 'app', seen.join(' → '));
      const after = await snapshot(page);
      results[claim] = after.errors.join(',');
      assert.deepEqual(after.errors, ['invalid_token_response'], claim);
      assert.equal(after.status, 'signedOut', claim);
      assert.equal(after.stored, null, claim);
      assert.equal(after.idClaims, null, claim);
      assert.equal(after.search, '', claim);
    }
    // The same path without tampering signs in: the proxy itself is not what failed.
    await reconfigure(page, stack, signinConfig(stack, { tokenEndpoint: `${stack.app.url}/tamper/token?claim=none` }));
    await signInAsUser(page, stack);
    const ok = await snapshot(page);
    results.none = ok.status;
    assert.equal(ok.status, 'signedIn');
    diagnostic(`ID token checks: ${Object.entries(results).map(([k, v]) => `${k} → ${v}`).join(', ')}`);
  } finally {
    await page.close();
  }
}

/** Discovery documents that lack an endpoint, name another issuer, or cannot be reached. */
export async function discoveryFailures({ context, stack, openApp, assert, diagnostic }) {
  const port = await closedPort();
  const cases = [
    ['missing token_endpoint', `${stack.app.url}/broken`, 'invalid_discovery'],
    ['another issuer', `${stack.app.url}/other`, 'invalid_discovery'],
    ['no document (404)', `${stack.app.url}/nowhere`, 'invalid_discovery'],
    ['unreachable', `http://127.0.0.1:${port}`, 'network'],
  ];
  const page = await openSignedOutApp({ context, stack, openApp }, signinConfig(stack));
  const seen = [];
  try {
    for (const [name, issuer, code] of cases) {
      await reconfigure(page, stack, signinConfig(stack, { issuer }));
      const { where } = await signInAsUser(page, stack);
      const after = await snapshot(page);
      seen.push(`${name} → ${where}`);
      assert.equal(where, `error:${code}`, name);
      assert.equal(after.stored, null, name);
      assert.equal(after.pending, null, `${name}: no pending sign-in is stored`);
      assert.equal(after.status, 'signedOut', name);
    }
    const bad = await page.evaluate(async () => {
      const out = [];
      for (const options of [{ issuer: 'not a url' }, { issuer: 'ftp://op.example' }, { redirectUri: 'javascript:alert(1)' }]) {
        try {
          await window.tokenward.createTokenClient(options);
          out.push('created');
        } catch (e) {
          out.push(e.code);
        }
      }
      return out;
    });
    seen.push(`bad options → ${bad.join(', ')}`);
    assert.deepEqual(bad, ['invalid_options', 'invalid_options', 'invalid_options']);
    diagnostic(seen.join('; '));
  } finally {
    await page.close();
  }
}
