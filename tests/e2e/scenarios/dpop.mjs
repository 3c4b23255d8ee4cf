// DPoP scenarios shared by Chromium (dpop.test.mjs, Playwright) and Firefox/WebKit
// (dpop-engines.test.mjs, the WebDriver adapter of engines.mjs): written against the
// Playwright subset the adapter offers (newPage, goto, evaluate, waitForFunction, close).
// The stack is startStack({ dpop: true }): nonces required at the token endpoint and API.

export const STORAGE_KEY = 'tw-dpop';
const TIMEOUT = 15_000;

// The app page: creates its client from `e2e:config` (localStorage, so that every tab and
// the sign-in's return find it), records events, and offers a look at the DPoP key store.
export const APP_SCRIPT = `
window.events = [];
const record = (e) => window.events.push({ type: e.type, reason: e.reason ?? null, code: e.error?.code ?? null });
const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
// The thumbprint (RFC 7638) of the key tokenward keeps in IndexedDB, and whether its
// private half can be exported (it must not); null when there is none.
window.storedKey = (name) => new Promise((resolve, reject) => {
  const open = indexedDB.open('tokenward-dpop');
  open.onupgradeneeded = () => open.result.createObjectStore('keys');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains('keys')) { db.close(); resolve(null); return; }
    const get = db.transaction('keys').objectStore('keys').get(name);
    get.onerror = () => reject(get.error);
    get.onsuccess = async () => {
      db.close();
      const pair = get.result;
      if (!pair) { resolve(null); return; }
      const { crv, kty, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey);
      const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify({ crv, kty, x, y })));
      const exportable = await crypto.subtle.exportKey('jwk', pair.privateKey).then(() => true, () => false);
      resolve({ jkt: b64(digest), extractable: pair.privateKey.extractable, exportable });
    };
  };
});
const config = JSON.parse(localStorage.getItem('e2e:config') ?? 'null');
if (config) {
  const on = Object.fromEntries(['change', 'refresh', 'expired', 'signedOut', 'error'].map((t) => [t, record]));
  try {
    window.auth = await tokenward.createTokenClient({ ...config, on });
  } catch (e) {
    window.createError = { code: e.code, message: e.message };
  }
}
`;

export const waitReady = (page) => page.waitForFunction(() => window.tokenwardReady === true, null, { timeout: TIMEOUT });

/** The client options for a DPoP sign-in against the stack. */
export const dpopConfig = (stack, extra = {}) => ({
  issuer: stack.auth.issuer,
  clientId: stack.auth.clientId,
  redirectUri: `${stack.app.url}/`,
  scope: 'openid api:read',
  attachTo: [stack.api.url],
  storageKey: STORAGE_KEY,
  dpop: true,
  ...extra,
});

/** A fresh app page whose client uses `cfg` (tokenward's storage and key store cleared). */
export async function freshApp({ context, stack, openApp }, cfg) {
  const page = await openApp(context, `${stack.app.url}/`);
  await page.evaluate(async (c) => {
    localStorage.clear();
    sessionStorage.clear();
    await new Promise((resolve) => { const r = indexedDB.deleteDatabase('tokenward-dpop'); r.onsuccess = resolve; r.onerror = resolve; r.onblocked = resolve; });
    localStorage.setItem('e2e:config', JSON.stringify(c));
  }, cfg);
  await page.goto(`${stack.app.url}/`);
  await waitReady(page);
  return page;
}

/** auth.signIn(), then the login and consent forms as a user fills them, back to the app. */
export async function signIn(page, stack) {
  await page.evaluate(() => {
    window.e2eSigningIn = true;
    window.auth.signIn().catch((e) => { window.signInError = e.code; });
  });
  // Where the page is: 'app' once back and signed in, 'form' on a login or consent page.
  const where = (app) => {
    if (window.e2eSubmitted || window.e2eSigningIn) return false;
    if (location.origin === app) return window.auth?.status === 'signedIn' ? 'app' : false;
    return document.querySelector('button[type="submit"]') ? 'form' : false;
  };
  // WebDriver cannot wait across a navigation: a wait the navigation ended is started again.
  const lost = (err) => /context was destroyed|unload|navigat|frame/i.test(`${err.name} ${err.message}`);
  const whereNow = async () => {
    const deadline = Date.now() + TIMEOUT;
    for (;;) {
      try {
        return await (await page.waitForFunction(where, stack.app.url, { timeout: deadline - Date.now() })).jsonValue();
      } catch (err) {
        if (!lost(err) || Date.now() >= deadline) throw err;
      }
    }
  };
  for (let step = 0; step < 6; step += 1) {
    const at = await whereNow();
    if (at === 'app') return;
    await page.evaluate(() => {
      window.e2eSubmitted = true;
      setTimeout(() => {
        const login = document.querySelector('input[name="login"]');
        if (login) {
          login.value = 'dana';
          document.querySelector('input[name="password"]').value = 'any';
        }
        document.querySelector('button[type="submit"]').click();
      }, 0);
    });
  }
  throw new Error('the sign-in did not come back to the app');
}

/**
 * The key follows the session, in any engine: sign-in (one nonce demand at the token
 * endpoint), an API call (one at the API), the stored key non-exportable and the one the
 * token is bound to, a refresh and a reload keep it, sign-out deletes it.
 */
export async function keyFollowsTheSession(env) {
  const { stack, assert, diagnostic } = env;
  const page = await freshApp(env, dpopConfig(stack, { storage: 'local' }));
  try {
    stack.auth.resetStats();
    stack.api.resetStats();
    await signIn(page, stack);
    assert.equal(stack.auth.stats.dpopNonceDemanded, 1, 'the token endpoint demanded a nonce once');
    assert.equal(stack.auth.stats.dpopTokens, 1);
    const call = () => page.evaluate(async (url) => (await window.auth.fetch(url)).status, `${stack.api.url}/api/me`);
    assert.equal(await call(), 200);
    assert.equal(stack.api.stats.nonceDemanded, 1, 'the API demanded a nonce once');
    assert.equal(stack.api.requests.filter((r) => r.method === 'GET').length, 2, 'one retry');
    const claims = await page.evaluate(() => window.auth.claims);
    const stored = await page.evaluate((k) => window.storedKey(k), STORAGE_KEY);
    assert.equal(stored.jkt, claims.cnf.jkt, 'the token is bound to the stored key');
    assert.equal(stored.exportable, false, 'the private key cannot be exported');
    await page.evaluate(() => window.auth.refresh());
    assert.equal(stack.auth.stats.refreshOk, 1);
    assert.equal(stack.auth.stats.dpopNonceDemanded, 1, 'the known nonce went with the refresh');
    await page.goto(`${stack.app.url}/`);
    await waitReady(page);
    await page.waitForFunction(() => window.auth?.status === 'signedIn', null, { timeout: TIMEOUT });
    assert.equal((await page.evaluate((k) => window.storedKey(k), STORAGE_KEY)).jkt, claims.cnf.jkt, 'the same key after a reload');
    assert.equal(await call(), 200);
    assert.equal(stack.api.requests.at(-1).jkt, claims.cnf.jkt);
    await page.evaluate(() => window.auth.signOut());
    assert.equal(stack.auth.stats.revocationProofs, 1);
    assert.equal(await page.evaluate((k) => window.storedKey(k), STORAGE_KEY), null, 'sign-out deletes the key');
    assert.deepEqual(await page.evaluate(() => window.events.filter((e) => e.type === 'error').map((e) => e.code)), []);
    diagnostic(`jkt ${claims.cnf.jkt}; token requests ${stack.auth.stats.tokenRequests}, API requests ${stack.api.requests.length}`);
  } finally {
    await page.close();
  }
}
