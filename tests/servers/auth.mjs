// A real OAuth 2.0 / OpenID Connect authorization server for tests and the demo:
// oidc-provider with a public PKCE client, rotating refresh tokens and JWT access
// tokens for one API resource, plus counters, fault injection and a Node-side login.
// `dpop: true` turns on RFC 9449 (features.dPoP), with nonces required at the token endpoint
// unless `dpopNonces: false`.
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';

import { authorize } from './auth-login.mjs';
import { memoryStore } from './auth-store.mjs';

const RESOURCE = 'urn:tokenward:api';
const RESOURCE_SCOPE = 'api:read';
const LOOPBACK_ORIGIN = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/;
const ROUTES = {
  authorization: '/auth',
  token: '/token',
  revocation: '/token/revocation',
  end_session: '/session/end',
  jwks: '/jwks',
  userinfo: '/me',
};

let signingKey; // one RSA key per process: generating one per server slows tests down

function signingJwk() {
  signingKey ??= generateKeyPair('RS256', { extractable: true })
    .then(({ privateKey }) => exportJWK(privateKey))
    .then((jwk) => ({ ...jwk, kid: 'tokenward-test', alg: 'RS256', use: 'sig' }));
  return signingKey;
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

// devInteractions and error pages import a web font; tests run offline, so drop external imports.
const stripExternalImports = (html) => html.replace(/@import url\(https?:[^)]*\);?/g, '');

const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head>`
  + `<body style="font-family:sans-serif;max-width:30em;margin:2em auto">${body}</body></html>`;

const escapeHtml = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

// Answers a token request with the configured fault instead of the provider.
async function answerWithFault(ctx, fault) {
  if (fault === 'hang') {
    ctx.respond = false; // the socket stays open until close() destroys it
    return;
  }
  if (fault === 'reset') {
    ctx.req.socket.destroy();
    ctx.respond = false;
    return;
  }
  const { status, body, headers = {} } = fault === 503
    ? { status: 503, body: { error: 'temporarily_unavailable', error_description: 'injected fault' } }
    : fault;
  const origin = ctx.get('Origin');
  if (LOOPBACK_ORIGIN.test(origin)) {
    ctx.set('Access-Control-Allow-Origin', origin);
    ctx.set('Access-Control-Expose-Headers', ['Retry-After', ...Object.keys(headers)].join(', '));
  }
  ctx.set(headers);
  ctx.status = status;
  ctx.body = body ?? '';
}

function quietly(build) {
  const { warn } = console;
  console.warn = (message, ...rest) => {
    if (!String(message).includes('devInteractions')) warn(message, ...rest);
  };
  try {
    return build();
  } finally {
    console.warn = warn;
  }
}

// oidc-provider configured as TOOLCHAIN.md describes: public PKCE client, rotating refresh
// tokens issued without offline_access, JWT access tokens for RESOURCE, CORS for loopback pages.
async function createProvider({
  issuer, store, ttl, dpop, dpopNonces,
}) {
  const jwk = await signingJwk();
  // The devInteractions notice is printed while the provider is built: the one warning left to silence.
  return quietly(() => new Provider(issuer, {
    adapter: store.Adapter,
    jwks: { keys: [jwk] },
    cookies: {
      keys: [randomBytes(32).toString('hex')],
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    routes: ROUTES,
    findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    pkce: { required: () => true },
    clientBasedCORS: (ctx, origin) => LOOPBACK_ORIGIN.test(origin),
    // Browser apps get refresh tokens without asking for offline_access (which needs prompt=consent).
    issueRefreshToken: (ctx, tokenClient) => tokenClient.grantTypeAllowed('refresh_token'),
    expiresWithSession: () => false,
    rotateRefreshToken: true,
    ttl: {
      AccessToken: () => ttl(),
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 24 * 3600,
      Interaction: 3600,
      Session: 24 * 3600,
      Grant: 24 * 3600,
    },
    features: {
      devInteractions: { enabled: true },
      // Nonces required (RFC 9449 §8): every client gets one `use_dpop_nonce` first.
      dPoP: dpop
        ? { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => dpopNonces }
        : { enabled: false },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator) => {
          if (indicator !== RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: RESOURCE_SCOPE,
            audience: RESOURCE,
            accessTokenTTL: ttl(),
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
      rpInitiatedLogout: {
        logoutSource: (ctx, form) => {
          ctx.body = page('Sign out', `${form}<button form="op.logoutForm" name="logout" value="yes">Sign out</button>`);
        },
        postLogoutSuccessSource: (ctx) => { ctx.body = page('Signed out', '<p>Signed out.</p>'); },
      },
    },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Error', Object.entries(out)
        .map(([key, value]) => `<p><b>${escapeHtml(key)}</b>: ${escapeHtml(value)}</p>`).join(''));
    },
  }));
}

export async function startAuthServer({
  port = 0, accessTokenTtl = 300, clientId = 'tokenward-demo', redirectUris = [], extraClients = [],
  issuer: issuerOption, // the `iss` to announce instead of the server's own URL (e.g. a proxy's, for the bench)
  dpop = false, dpopNonces = true,
} = {}) {
  let app = null; // the provider's handler, once it is built for the issuer (which needs the port)
  const server = createServer((req, res) => (app ? app(req, res) : res.writeHead(503).end()));
  const origin = `http://127.0.0.1:${await listen(server, port)}`;
  const issuer = issuerOption ?? origin;
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => { server.close(resolve); });
  };
  const endpoint = (name) => `${origin}${ROUTES[name]}`;
  const loginRedirectUri = `${origin}/callback`; // never visited: login() stops at the redirect

  let ttl = accessTokenTtl;
  let fault = null;
  const stats = {};
  const events = [];
  const resetStats = () => {
    Object.assign(stats, {
      tokenRequests: 0, refreshRequests: 0, refreshOk: 0, invalidGrant: 0,
      codeExchanges: 0, revocations: 0, grantsRevoked: 0,
    }, dpop ? {
      // DPoP: token requests with a proof, `use_dpop_nonce` answers, DPoP-bound tokens issued
      dpopProofs: 0, dpopNonceDemanded: 0, dpopTokens: 0, revocationProofs: 0,
    } : {});
    events.length = 0;
  };
  resetStats();

  const store = memoryStore();
  const client = {
    client_id: clientId,
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [loginRedirectUri, ...redirectUris],
    post_logout_redirect_uris: [...redirectUris],
  };
  for (const metadata of [client, ...extraClients]) store.set(`Client:${metadata.client_id}`, metadata);

  let provider;
  try {
    provider = await createProvider({ issuer, store, ttl: () => ttl, dpop, dpopNonces });
  } catch (err) {
    await close();
    throw err;
  }

  const record = (type, details) => events.push({ type, time: Date.now(), ...details });
  provider.on('grant.error', (ctx, err) => record('grant.error', {
    grantType: ctx.oidc?.params?.grant_type, error: err.error, detail: err.error_detail ?? err.error_description,
  }));
  provider.on('grant.revoked', (ctx, grantId) => {
    stats.grantsRevoked += 1;
    record('grant.revoked', { grantId });
  });
  provider.on('server_error', (ctx, err) => record('server_error', { path: ctx.path, message: err.message }));
  for (const type of ['authorization.error', 'revocation.error', 'end_session.error']) {
    provider.on(type, (ctx, err) => record(type, { error: err.error, detail: err.error_detail ?? err.error_description }));
  }

  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === ROUTES.token) {
      stats.tokenRequests += 1;
      if (fault !== null) {
        const grantType = new URLSearchParams(await readBody(ctx.req)).get('grant_type');
        if (grantType === 'refresh_token') stats.refreshRequests += 1;
        if (grantType === 'authorization_code') stats.codeExchanges += 1;
        await answerWithFault(ctx, fault);
        return;
      }
      if (dpop && ctx.get('DPoP')) stats.dpopProofs += 1;
      await next();
      if (dpop && ctx.body?.error === 'use_dpop_nonce') stats.dpopNonceDemanded += 1;
      if (dpop && ctx.status === 200 && ctx.body?.token_type === 'DPoP') stats.dpopTokens += 1;
      const grantType = ctx.oidc?.body?.grant_type;
      if (grantType === 'refresh_token') stats.refreshRequests += 1;
      if (grantType === 'authorization_code') stats.codeExchanges += 1;
      if (grantType === 'refresh_token' && ctx.status === 200) stats.refreshOk += 1;
      if (ctx.body?.error === 'invalid_grant') stats.invalidGrant += 1;
      return;
    }
    if (ctx.path === '/favicon.ico') {
      ctx.status = 204; // browsers ask on every login page; a 404 there is console noise in tests
      return;
    }
    if (ctx.method === 'POST' && ctx.path === ROUTES.revocation) {
      stats.revocations += 1;
      if (dpop && ctx.get('DPoP')) stats.revocationProofs += 1;
    }
    await next();
    if (ctx.response.is('html') && typeof ctx.body === 'string') ctx.body = stripExternalImports(ctx.body);
  });

  app = provider.callback();

  const tokenRequest = async (params, headers = {}) => {
    const res = await fetch(endpoint('token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ client_id: clientId, ...params }),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`token endpoint answered ${res.status} ${body.error}: ${body.error_description}`);
    return body;
  };

  return {
    issuer,
    tokenEndpoint: endpoint('token'),
    revocationEndpoint: endpoint('revocation'),
    authorizationEndpoint: endpoint('authorization'),
    endSessionEndpoint: endpoint('end_session'),
    jwksUri: endpoint('jwks'),
    clientId,
    dpop,
    resource: RESOURCE,
    stats,
    events,
    provider,
    resetStats,
    setAccessTokenTtl(seconds) { ttl = seconds; },
    setFault(value) { fault = value; },
    addRedirectUri(uri) {
      const metadata = store.get(`Client:${clientId}`);
      store.set(`Client:${clientId}`, {
        ...metadata,
        redirect_uris: [...new Set([...metadata.redirect_uris, uri])],
        post_logout_redirect_uris: [...new Set([...metadata.post_logout_redirect_uris, uri])],
      });
    },
    async login({ scope = `openid ${RESOURCE_SCOPE}`, user = 'alice', redirectUri = loginRedirectUri } = {}) {
      const code = await authorize({
        authorizationEndpoint: endpoint('authorization'), clientId, scope, user, redirectUri,
      });
      return tokenRequest({
        grant_type: 'authorization_code', code: code.code, code_verifier: code.verifier, redirect_uri: redirectUri,
      });
    },
    /** A raw token request from Node (e.g. a stolen refresh token): `{ status, body, headers }`, never throws on an error answer. */
    async rawTokenRequest(params, headers = {}) {
      const res = await fetch(endpoint('token'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ client_id: clientId, ...params }),
      });
      return { status: res.status, body: await res.json(), headers: res.headers };
    },
    async revokeGrantOf(refreshToken) {
      const token = await provider.RefreshToken.find(refreshToken, { ignoreExpiration: true });
      if (!token) throw new Error('revokeGrantOf: unknown refresh token');
      store.revokeGrant(token.grantId);
      stats.grantsRevoked += 1;
      record('grant.revoked', { grantId: token.grantId, by: 'revokeGrantOf' });
    },
    close,
  };
}
