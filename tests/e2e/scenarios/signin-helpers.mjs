// Helpers of the sign-in scenarios (signin.mjs, signin-refused.mjs): the app page
// (APP_SCRIPT), the app server's extra routes, the client config, and the steps of a
// sign-in driven in the page as a person would. USER, APP_SCRIPT, signinRoutes and
// signinConfig are re-exported by signin.mjs.

export const USER = 'dana';
const STORAGE_KEY = 'tokenward';
export const PENDING_KEY = 'tokenward:signin';
export const TIMEOUT = 15_000;

/**
 * Module code for the app page (appHtml({ script })). With `e2e:config` in sessionStorage it
 * creates the client (which handles an authorization response in the URL by itself) and
 * records every event in window.events. With `e2e:hold` set it creates nothing and keeps
 * the URL it was loaded with in window.held: that is how a test gets hold of an
 * authorization response before the app uses it.
 */
export const APP_SCRIPT = `
window.events = [];
const config = JSON.parse(sessionStorage.getItem('e2e:config') ?? 'null');
if (sessionStorage.getItem('e2e:hold') === '1') {
  sessionStorage.removeItem('e2e:hold');
  window.held = location.href;
} else if (config) {
  const record = (e) => window.events.push({
    type: e.type, status: e.status, reason: e.reason ?? null,
    code: e.error?.code ?? null, message: e.error?.message ?? null,
  });
  const on = Object.fromEntries(['change', 'refresh', 'expired', 'signedOut', 'error'].map((t) => [t, record]));
  try {
    window.auth = await tokenward.createTokenClient({ ...config, on });
  } catch (e) {
    window.createError = { code: e.code, message: e.message };
  }
}
`;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

const b64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString());
const jsonb64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Routes for the app server (server-side, so they work in every browser):
 * - /broken/.well-known/openid-configuration: a discovery document without token_endpoint;
 * - /other/.well-known/openid-configuration: one naming another issuer;
 * - /tamper/token?claim=aud|iss|nonce|exp|drop: the real token endpoint, with the ID
 *   token's claim changed (or the ID token dropped) on the way back.
 * `getStack()` returns the started stack (the routes are created before it exists).
 */
export function signinRoutes(getStack) {
  const json = (res, status, body) => res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
    .end(JSON.stringify(body));
  return {
    '/broken/.well-known/openid-configuration': (req, res) => {
      const { app, auth } = getStack();
      json(res, 200, { issuer: `${app.url}/broken`, authorization_endpoint: auth.authorizationEndpoint });
    },
    '/other/.well-known/openid-configuration': (req, res) => {
      const { auth } = getStack();
      json(res, 200, { issuer: auth.issuer, authorization_endpoint: auth.authorizationEndpoint, token_endpoint: auth.tokenEndpoint });
    },
    '/tamper/token': async (req, res) => {
      const claim = new URL(req.url, 'http://x').searchParams.get('claim');
      const answer = await fetch(getStack().auth.tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: await readBody(req),
      });
      const body = await answer.json();
      if (answer.ok && body.id_token) {
        const [header, payload, signature] = body.id_token.split('.');
        const claims = b64json(payload);
        if (claim === 'aud') claims.aud = 'someone-else';
        if (claim === 'iss') claims.iss = 'https://evil.example';
        if (claim === 'nonce') claims.nonce = 'replayed-nonce';
        if (claim === 'exp') claims.exp = Math.floor(Date.now() / 1000) - 3600;
        body.id_token = [header, jsonb64(claims), signature].join('.');
        if (claim === 'drop') delete body.id_token;
      }
      json(res, answer.status, body);
    },
  };
}

/** The client options for a sign-in against the stack's authorization server. */
export function signinConfig(stack, extra = {}) {
  return {
    issuer: stack.auth.issuer,
    clientId: stack.auth.clientId,
    storage: 'local',
    redirectUri: `${stack.app.url}/`,
    scope: 'openid api:read',
    attachTo: [stack.api.url],
    // Fixed, so that the scenarios can look at storage (the default is derived).
    storageKey: STORAGE_KEY,
    ...extra,
  };
}

// What differs between the authorization servers' pages (stack.auth.ui): oidc-provider's
// devInteractions form names the user field `login`, Django's login form `username`.
const DEFAULT_UI = { loginField: 'login' };
const uiOf = (stack) => ({ ...DEFAULT_UI, ...stack.auth.ui });

export const waitReady = (page) => page.waitForFunction(() => window.tokenwardReady === true, null, { timeout: TIMEOUT });

/** A fresh app page (storage cleared) whose client uses `config`. */
export async function openSignedOutApp({ context, stack, openApp }, config) {
  const page = await openApp(context, `${stack.app.url}/`);
  await page.evaluate((c) => {
    localStorage.clear();
    sessionStorage.clear();
    sessionStorage.setItem('e2e:config', JSON.stringify(c));
  }, config);
  await page.goto(`${stack.app.url}/`);
  await waitReady(page);
  return page;
}

/** Sets a new config and reloads the page with it. */
export async function reconfigure(page, stack, config) {
  await page.evaluate((c) => sessionStorage.setItem('e2e:config', JSON.stringify(c)), config);
  await page.goto(`${stack.app.url}/`);
  await waitReady(page);
}

/** What the page shows about the session and storage. */
export function snapshot(page) {
  return page.evaluate(({ storageKey, pendingKey }) => ({
    status: window.auth?.status ?? null,
    stored: localStorage.getItem(storageKey),
    pending: sessionStorage.getItem(pendingKey),
    errors: window.events.filter((e) => e.type === 'error').map((e) => e.code),
    events: window.events.map((e) => e.type),
    search: location.search,
    idClaims: window.auth?.idClaims ?? null,
    createError: window.createError ?? null,
  }), { storageKey: STORAGE_KEY, pendingKey: PENDING_KEY });
}

/** Runs in the page: which step of the sign-in it shows, or false while it is on its way. */
function whereIsThePage({ issuer, appOrigin, loginField = 'login' }) {
  if (window.e2eSignInError) return `error:${window.e2eSignInError}`;
  if (window.e2eSubmitted) return false;
  if (location.origin === appOrigin) return window.tokenwardReady === true && !window.e2eSignInStarted ? 'app' : false;
  if (location.origin !== new URL(issuer).origin) return false;
  if (document.querySelector(`input[name="${loginField}"]`)) return 'login';
  if (document.querySelector('input[name="prompt"][value="consent"]')) return 'consent';
  if (document.querySelector('button[name="logout"]')) return 'logout';
  return false;
}

/**
 * Calls auth.signIn() in the page, then acts as the user on the authorization server's
 * pages (login form, consent, or `cancel` on the first one) until the page is back on
 * the app. Resolves to 'app', or to the signIn() error code when it did not navigate.
 */
export async function signInAsUser(page, stack, { user = USER, cancel = false, options } = {}) {
  await page.evaluate((o) => {
    window.e2eSignInStarted = true;
    window.auth.signIn(o).catch((e) => { window.e2eSignInError = e.code ?? String(e); });
  }, options ?? null);
  const seen = [];
  for (let step = 0; step < 8; step += 1) {
    const arg = { issuer: stack.auth.issuer, appOrigin: stack.app.url, loginField: uiOf(stack).loginField };
    await page.waitForFunction(whereIsThePage, arg, { timeout: TIMEOUT });
    const where = await page.evaluate(whereIsThePage, arg); // the subset has no handles
    if (!where) continue; // it moved on between the two calls: look again
    seen.push(where);
    if (where === 'app' || where.startsWith('error:')) return { where, seen };
    await page.evaluate(({ where: w, user: u, cancel: c, loginField }) => {
      window.e2eSubmitted = true;
      // Clicked after this evaluation returns, so the navigation cannot interrupt it.
      setTimeout(() => {
        if (c) {
          document.querySelector('a[href*="/abort"]').click();
          return;
        }
        if (w === 'login') {
          document.querySelector(`input[name="${loginField}"]`).value = u;
          document.querySelector('input[name="password"]').value = 'correct horse';
        }
        document.querySelector('button[type="submit"]').click();
      }, 0);
    }, { where, user, cancel, loginField: uiOf(stack).loginField });
  }
  throw new Error(`sign-in did not come back to the app: ${seen.join(' → ')}`);
}
