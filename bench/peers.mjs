// The libraries the benchmark compares, as an app would use them: each one is bundled
// by esbuild (--bundle --minify --format=esm) from an entry that imports its
// token-keeping class and hands it to the page as window.x. The version is read from
// bench/node_modules, where bench/package.json pins it exactly.
export const TOKENWARD = 'tokenward';

export const PEERS = [
  {
    name: TOKENWARD,
    entry: "import { createTokenClient } from 'tokenward'; window.x = { createTokenClient };",
    startup: 'import + `await createTokenClient()` (loads and instantiates the .wasm, restores the stored session from localStorage)',
    token: '`auth.accessToken()`',
  },
  {
    name: 'auth0',
    pkg: '@auth0/auth0-spa-js',
    entry: "import { Auth0Client } from '@auth0/auth0-spa-js'; window.x = { Auth0Client };",
    startup: 'import + `new Auth0Client({ cacheLocation: "localstorage" })` (reads nothing until the first call)',
    token: '`getTokenSilently()` from a pre-filled localStorage cache entry',
  },
  {
    name: 'oidc-client-ts',
    pkg: 'oidc-client-ts',
    // User and WebStorageStateStore are used by UserManager itself: exposing them adds no bytes.
    entry: "import { UserManager, User, WebStorageStateStore } from 'oidc-client-ts'; window.x = { UserManager, User, WebStorageStateStore };",
    startup: 'import + `new UserManager()` (reads nothing until the first call)',
    token: '`(await userManager.getUser()).access_token`, user stored with `storeUser()`',
  },
  {
    name: 'supabase',
    pkg: '@supabase/auth-js',
    entry: "import { GoTrueClient } from '@supabase/auth-js'; window.x = { GoTrueClient };",
    startup: 'import + `new GoTrueClient()` + `await initialize()` (restores the stored session)',
    token: '`(await getSession()).data.session.access_token`, session pre-filled in localStorage',
  },
  {
    name: 'okta',
    pkg: '@okta/okta-auth-js',
    entry: "import { OktaAuth } from '@okta/okta-auth-js'; window.x = { OktaAuth };",
    startup: 'import + `new OktaAuth()` (services not started)',
    token: '`getOrRenewAccessToken()`, token added with `tokenManager.add()`',
  },
  {
    name: 'msal',
    pkg: '@azure/msal-browser',
    entry: "import { PublicClientApplication } from '@azure/msal-browser'; window.x = { PublicClientApplication };",
    startup: 'import + `new PublicClientApplication()` + `await initialize()` (required before any other call)',
    token: null,
    tokenWhy: 'not measured: `acquireTokenSilent` needs an Entra-shaped account and tokens in msal\'s own cache schema; no public call fills it from a plain token response',
  },
  {
    name: 'keycloak',
    pkg: 'keycloak-js',
    entry: "import Keycloak from 'keycloak-js'; window.x = { Keycloak };",
    startup: 'import + `new Keycloak()` (`init()` is not run: with tokens it always refreshes first, a network round trip)',
    token: '`await updateToken(5)` then `keycloak.token`, after `init({ token, refreshToken })`',
  },
];
