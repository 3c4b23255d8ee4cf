// Runs inside the benchmark page. The page is served with COOP/COEP headers
// (crossOriginIsolated), so performance.now() ticks in 5 µs steps instead of 100 µs and
// performance.measureUserAgentSpecificMemory() is available.
// Node drives it with page.evaluate((args) => window.bench.NAME(args), args).

// With ?hookWasm the page records the WebAssembly instances it creates, so that the
// memory of tokenward's module (reachable only inside its glue code) can be read.
const wasmInstances = [];
if (new URLSearchParams(location.search).has('hookWasm')) {
  const { instantiate, instantiateStreaming } = WebAssembly;
  const keep = (result) => {
    wasmInstances.push(result.instance ?? result);
    return result;
  };
  WebAssembly.instantiateStreaming = (...args) => instantiateStreaming.apply(WebAssembly, args).then(keep);
  WebAssembly.instantiate = (...args) => instantiate.apply(WebAssembly, args).then(keep);
}

const loaded = {};
async function load(name) {
  if (!loaded[name]) {
    await import(`/bundles/${name}.js`);
    loaded[name] = window.x;
  }
  return loaded[name];
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

function decodeJwt(token) {
  const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
}

function quantiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return { n: sorted.length, median: at(0.5), p10: at(0.1), p90: at(0.9), min: sorted[0], max: sorted[sorted.length - 1], mean };
}

// The clients under a clock that tests can move: `skew` ms are added to Date.now() for
// tokenward (its `now` option) and, for peers, the stored expiry is moved instead.
window.skew = 0;

function tokenwardOptions(c, extra = {}) {
  return { ...c.tokenward, now: () => Date.now() + window.skew, ...extra };
}

function auth0Client(x, c, extra = {}) {
  return new x.Auth0Client({
    domain: c.issuer, // its ID-token check wants iss === `${domain}/` (or an https:// issuer option)
    clientId: c.clientId,
    cacheLocation: 'localstorage',
    authorizationParams: { redirect_uri: c.redirectUri },
    ...extra,
  });
}

// The cache entry auth0-spa-js writes after a login (CacheManager.set / wrapCacheEntry).
function auth0CacheEntry(c, tokens, scope, expiresAt) {
  const claims = decodeJwt(tokens.id_token);
  return {
    body: {
      client_id: c.clientId,
      access_token: tokens.access_token,
      id_token: tokens.id_token,
      refresh_token: tokens.refresh_token,
      token_type: tokens.token_type,
      expires_in: tokens.expires_in,
      scope,
      oauthTokenScope: tokens.scope,
      audience: 'default',
      decodedToken: { encoded: {}, header: {}, claims: { ...claims, __raw: tokens.id_token }, user: { sub: claims.sub } },
    },
    expiresAt,
  };
}

function userManager(x, c, extra = {}) {
  return new x.UserManager({
    authority: c.issuer,
    client_id: c.clientId,
    redirect_uri: c.redirectUri,
    automaticSilentRenew: false,
    ...extra,
  });
}

function oidcUser(x, tokens, expiresAt) {
  return new x.User({
    access_token: tokens.access_token,
    token_type: tokens.token_type,
    refresh_token: tokens.refresh_token,
    id_token: tokens.id_token,
    scope: tokens.scope,
    profile: decodeJwt(tokens.id_token),
    expires_at: expiresAt,
  });
}

function supabaseSession(tokens) {
  const claims = decodeJwt(tokens.access_token);
  return {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    token_type: 'bearer',
    expires_in: tokens.expires_in,
    expires_at: nowSeconds() + tokens.expires_in,
    user: { id: claims.sub, aud: 'authenticated', role: 'authenticated', app_metadata: {}, user_metadata: {}, created_at: new Date().toISOString() },
  };
}

function supabaseClient(x, c, storageKey) {
  return new x.GoTrueClient({
    url: c.issuer, storageKey, autoRefreshToken: false, persistSession: true, detectSessionInUrl: false,
  });
}

function oktaClient(x, c) {
  return new x.OktaAuth({
    issuer: c.issuer,
    clientId: c.clientId,
    redirectUri: c.redirectUri,
    tokenManager: { autoRenew: false, autoRemove: false, storage: 'localStorage' },
    services: { autoRenew: false, autoRemove: false, syncStorage: false },
    testing: { disableHttpsCheck: true },
  });
}

function keycloakClient(x, c) {
  return new x.Keycloak({
    clientId: c.clientId,
    oidcProvider: {
      issuer: c.issuer,
      authorization_endpoint: c.authorizationEndpoint,
      token_endpoint: c.tokenEndpoint,
      end_session_endpoint: c.endSessionEndpoint,
    },
  });
}

async function keycloakInit(kc, tokens) {
  try {
    await kc.init({ token: tokens.access_token, refreshToken: tokens.refresh_token, idToken: tokens.id_token, checkLoginIframe: false });
  } catch (err) {
    throw new Error(`keycloak-js init() failed ("${err.message}"): it decodes the refresh token as a JWT, and a standard provider's refresh tokens (oidc-provider's here) are opaque`);
  }
}

// Start-up: what "ready" means for each library (see peers.mjs for the wording in the report).
const STARTUP = {
  async tokenward(x, c) {
    const auth = await x.createTokenClient(tokenwardOptions(c, { storage: 'local', storageKey: 'bench-startup' }));
    if (auth.status !== 'signedIn') throw new Error(`tokenward did not restore the session (status ${auth.status})`);
    auth.dispose();
  },
  async auth0(x, c) { auth0Client(x, c); },
  async 'oidc-client-ts'(x, c) { userManager(x, c); },
  async supabase(x, c) {
    const client = supabaseClient(x, c, 'bench-sb-startup');
    await client.initialize();
    // checked after the clock stops: the seeded session was restored
    return async () => {
      if (!(await client.getSession()).data.session) throw new Error('supabase did not restore the session');
    };
  },
  async okta(x, c) { oktaClient(x, c); },
  async msal(x, c) {
    const pca = new x.PublicClientApplication({
      // A loopback authority that is never contacted: initialize() does no network I/O.
      auth: { clientId: c.clientId, authority: c.msalAuthority, knownAuthorities: [new URL(c.msalAuthority).host], protocolMode: 'OIDC' },
      cache: { cacheLocation: 'localStorage' },
      system: { allowPlatformBroker: false },
    });
    await pca.initialize();
  },
  async keycloak(x, c) { keycloakClient(x, c); },
};

// Warm token read: returns a function that yields the current access token.
const WARM = {
  async tokenward(x, c, tokens) {
    const auth = await x.createTokenClient(tokenwardOptions(c, { storageKey: 'bench-warm' }));
    auth.setTokens(tokens);
    return () => auth.accessToken();
  },
  async auth0(x, c, tokens) {
    const client = auth0Client(x, c);
    const scope = client.scope.default; // the scopes it asks for, as it keys its cache
    localStorage.setItem(`@@auth0spajs@@::${c.clientId}::default::${scope}`,
      JSON.stringify(auth0CacheEntry(c, tokens, scope, nowSeconds() + tokens.expires_in)));
    return () => client.getTokenSilently();
  },
  async 'oidc-client-ts'(x, c, tokens) {
    const um = userManager(x, c);
    await um.storeUser(oidcUser(x, tokens, nowSeconds() + tokens.expires_in));
    return async () => (await um.getUser()).access_token;
  },
  async supabase(x, c, tokens) {
    localStorage.setItem('bench-sb-warm', JSON.stringify(supabaseSession(tokens)));
    const client = supabaseClient(x, c, 'bench-sb-warm');
    await client.initialize();
    return async () => (await client.getSession()).data.session.access_token;
  },
  async okta(x, c, tokens) {
    const client = oktaClient(x, c);
    client.tokenManager.add('accessToken', {
      accessToken: tokens.access_token,
      claims: decodeJwt(tokens.access_token),
      expiresAt: nowSeconds() + tokens.expires_in,
      tokenType: 'Bearer',
      scopes: tokens.scope.split(' '),
      authorizeUrl: c.authorizationEndpoint,
      userinfoUrl: `${c.issuer}/me`,
    });
    return () => client.getOrRenewAccessToken();
  },
  async keycloak(x, c, tokens) {
    const kc = keycloakClient(x, c);
    // init() with tokens refreshes once (updateToken(-1)): these tokens are keycloak's own grant.
    await keycloakInit(kc, tokens);
    return async () => { await kc.updateToken(5); return kc.token; };
  },
};

// The session is set in the first tab only; the other tabs restore it from localStorage
// ('local') or ask the open tabs for it over the BroadcastChannel ('memory', the default).
async function tokenwardStorm(x, c, tokens, { first, round }, storage) {
  const auth = await x.createTokenClient(tokenwardOptions(c, { storage, storageKey: `bench-storm-${storage}-${round}` }));
  if (first) auth.setTokens(tokens);
  return {
    ready: () => auth.status === 'signedIn',
    expire: () => { window.skew = auth.expiresAt - Date.now() + 1000; },
    call: () => auth.accessToken(),
  };
}

// Refresh storm, per tab: set up a client over the shared session (setup), then at the
// same wall-clock instant in every tab move the clock past expiry and fire `calls`
// concurrent token reads (fire). Clients: see STORM_NOTES in report.mjs.
const STORM = {
  tokenward: (x, c, tokens, opts) => tokenwardStorm(x, c, tokens, opts, 'local'),
  'tokenward-memory': (x, c, tokens, opts) => tokenwardStorm(x, c, tokens, opts, 'memory'),
  async 'oidc-client-ts'(x, c, tokens, { first }) {
    const um = userManager(x, c, { userStore: new x.WebStorageStateStore({ store: localStorage }) });
    await um.metadataService.getMetadata(); // discovery done before the storm, as after a sign-in
    if (first) await um.storeUser(oidcUser(x, tokens, nowSeconds() + tokens.expires_in));
    return {
      ready: async () => Boolean(await um.getUser()),
      // the first tab rewrites the shared stored user as expired; the others see it in localStorage
      expire: first ? async () => {
        const user = await um.getUser();
        user.expires_at = nowSeconds() - 1;
        await um.storeUser(user);
      } : () => {},
      call: async () => {
        let user = await um.getUser();
        if (!user || user.expired) user = await um.signinSilent();
        return user.access_token;
      },
    };
  },
  async auth0(x, c, tokens, { first }) {
    const client = auth0Client(x, c, { useRefreshTokens: true, authorizationParams: { redirect_uri: c.redirectUri, scope: c.auth0Scope } });
    const scope = client.scope.default; // c.auth0Scope plus the offline_access it adds
    const key = `@@auth0spajs@@::${c.clientId}::default::${scope}`;
    if (first) localStorage.setItem(key, JSON.stringify(auth0CacheEntry(c, tokens, scope, nowSeconds() + tokens.expires_in)));
    return {
      ready: () => Boolean(localStorage.getItem(key)),
      expire: first ? () => {
        const entry = JSON.parse(localStorage.getItem(key));
        entry.expiresAt = nowSeconds() - 1;
        localStorage.setItem(key, JSON.stringify(entry));
      } : () => {},
      call: () => client.getTokenSilently(),
    };
  },
  async keycloak(x, c, tokens) {
    // keycloak-js keeps tokens in memory per tab: each tab has its own sign-in (own grant).
    const kc = keycloakClient(x, c);
    await keycloakInit(kc, tokens);
    return {
      ready: () => Boolean(kc.token),
      expire: () => { kc.timeSkew = -(kc.tokenParsed.exp - nowSeconds()) - 1; },
      call: async () => { await kc.updateToken(5); return kc.token; },
    };
  },
};

let storm = null;

window.bench = {
  ready: true,
  crossOriginIsolated: window.crossOriginIsolated,

  // A stored session for the start-up runs that restore one (tokenward, supabase).
  async seedStartup({ c, tokens }) {
    const x = await load('tokenward');
    const auth = await x.createTokenClient(tokenwardOptions(c, { storage: 'local', storageKey: 'bench-startup' }));
    auth.setTokens(tokens);
    auth.dispose();
    localStorage.setItem('bench-sb-startup', JSON.stringify(supabaseSession(tokens)));
  },

  async startup({ name, c }) {
    const t0 = performance.now();
    const x = await load(name);
    const check = await STARTUP[name](x, c);
    const ms = performance.now() - t0;
    await check?.();
    return ms;
  },

  // `batches` timings of `perBatch` sequential awaited calls; the per-call time of each batch.
  async warmToken({ name, c, tokens, batches, perBatch }) {
    const x = await load(name);
    const get = await WARM[name](x, c, tokens);
    const first = await get();
    if (first !== tokens.access_token && name !== 'keycloak') {
      throw new Error(`${name} did not return the cached token`);
    }
    for (let i = 0; i < perBatch; i += 1) await get(); // warm-up
    const perCall = [];
    for (let b = 0; b < batches; b += 1) {
      const t0 = performance.now();
      for (let i = 0; i < perBatch; i += 1) await get();
      perCall.push(((performance.now() - t0) * 1000) / perBatch); // µs
    }
    return quantiles(perCall);
  },

  // Sequential GET /api/me through auth.fetch and through fetch with the header set by
  // hand, interleaved in blocks so that both see the same machine load; each timed
  // from the call to the parsed JSON body.
  async requestCost({ c, tokens, requests, block, stubBatches }) {
    const x = await load('tokenward');
    const auth = await x.createTokenClient(tokenwardOptions(c, { storageKey: 'bench-requests' }));
    auth.setTokens(tokens);
    const url = `${c.api}/api/me`;
    const header = { Authorization: `Bearer ${tokens.access_token}` };
    const plain = () => fetch(url, { headers: header });
    const ward = () => auth.fetch(url);
    const times = { plain: [], tokenward: [] };
    const run = async (fn, into, n) => {
      for (let i = 0; i < n; i += 1) {
        const t0 = performance.now();
        const res = await fn();
        await res.json();
        if (res.status !== 200) throw new Error(`GET /api/me answered ${res.status}`);
        into?.push(performance.now() - t0);
      }
    };
    await run(plain, null, 100); // warm-up: connections, JIT
    await run(ward, null, 100);
    for (let done = 0; done < requests; done += block) {
      await run(plain, times.plain, block);
      await run(ward, times.tokenward, block);
    }
    // The same two calls with the network taken away: window.fetch (which tokenward looks
    // up at each call) replaced by a stub that builds the Request, as fetch does, and
    // answers at once. What is left is the library's own cost per request, in µs.
    const realFetch = window.fetch;
    window.fetch = async (input, init) => {
      const request = new Request(input, init);
      if (!request.headers.get('authorization')) throw new Error('no Authorization header');
      return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const stub = { plain: [], tokenward: [] };
    try {
      const batch = async (fn, into) => {
        const t0 = performance.now();
        for (let i = 0; i < 100; i += 1) await (await fn()).json();
        into?.push(((performance.now() - t0) * 1000) / 100);
      };
      await batch(plain);
      await batch(ward);
      for (let b = 0; b < stubBatches; b += 1) {
        await batch(plain, stub.plain);
        await batch(ward, stub.tokenward);
      }
    } finally {
      window.fetch = realFetch;
    }
    auth.dispose();
    return {
      plain: quantiles(times.plain),
      tokenward: quantiles(times.tokenward),
      stubUs: { plain: quantiles(stub.plain), tokenward: quantiles(stub.tokenward) },
    };
  },

  async stormSetup({ name, c, tokens, first, round }) {
    const x = await load(name.startsWith('tokenward') ? 'tokenward' : name);
    window.skew = 0;
    storm = { name, ...(await STORM[name](x, c, tokens, { first, round })) };
    return true;
  },
  async stormReady() { return Boolean(await storm.ready()); },
  // Waits until wall-clock `at`, expires the token, then fires `calls` concurrent token reads.
  async stormFire({ at, calls }) {
    await new Promise((done) => { setTimeout(done, Math.max(0, at - Date.now())); });
    await storm.expire();
    const outcomes = await Promise.allSettled(Array.from({ length: calls }, () => storm.call()));
    const errors = outcomes.filter((o) => o.status === 'rejected').map((o) => String(o.reason?.code ?? o.reason?.error ?? o.reason?.message ?? o.reason));
    const tokensSeen = new Set(outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value));
    return {
      ok: outcomes.length - errors.length, failed: errors.length, errors: [...new Set(errors)].slice(0, 3),
      distinctTokens: tokensSeen.size, visibility: document.visibilityState,
    };
  },

  // Memory around `requests` sequential auth.fetch calls (plain fetch first, as a baseline).
  async memoryPrepare({ c, tokens }) {
    const x = await load('tokenward');
    window.memAuth = await x.createTokenClient(tokenwardOptions(c, { storageKey: 'bench-memory' }));
    window.memAuth.setTokens(tokens);
    window.memUrl = `${c.api}/api/me`;
    window.memHeader = { Authorization: `Bearer ${tokens.access_token}` };
    for (let i = 0; i < 100; i += 1) await (await window.memAuth.fetch(window.memUrl)).json();
    for (let i = 0; i < 100; i += 1) await (await fetch(window.memUrl, { headers: window.memHeader })).json();
    return wasmInstances.length;
  },
  async memoryRun({ requests, through }) {
    const call = through === 'tokenward'
      ? () => window.memAuth.fetch(window.memUrl)
      : () => fetch(window.memUrl, { headers: window.memHeader });
    for (let i = 0; i < requests; i += 1) {
      const res = await call();
      await res.json();
      if (res.status !== 200) throw new Error(`GET /api/me answered ${res.status}`);
    }
  },
  async memorySample() {
    const memories = wasmInstances.map((i) => Object.values(i.exports).find((v) => v instanceof WebAssembly.Memory)).filter(Boolean);
    let uaMemory = null;
    if (window.crossOriginIsolated && performance.measureUserAgentSpecificMemory) {
      uaMemory = (await performance.measureUserAgentSpecificMemory()).bytes;
    }
    return { wasmBytes: memories.reduce((s, m) => s + m.buffer.byteLength, 0), uaMemory };
  },
};
