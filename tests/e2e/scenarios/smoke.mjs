// Smallest end-to-end check of an engine: the packed package loads, a real token
// from the authorization server is attached to an API call, and a 3 s token is refreshed
// ahead of expiry. Runs on the Playwright subset only (see tabs.mjs for the rules).

/**
 * Needs a stack whose access tokens live 3 s (startStack({ accessTokenTtl: 3 })).
 * Returns what it measured.
 */
export async function smoke({ context, stack, openApp, assert, diagnostic }) {
  const logs = [];
  const page = await openApp(context, `${stack.app.url}/`, { logs });
  try {
    stack.auth.resetStats();
    stack.api.resetStats();
    const tokens = await stack.auth.login();
    const first = await page.evaluate(async ({ options, tokens, url }) => {
      const refreshes = [];
      const auth = await window.tokenward.createTokenClient({
        ...options,
        storageKey: 'smoke',
        on: { refresh: () => refreshes.push(Date.now()) },
      });
      window.auth = auth;
      window.refreshes = refreshes;
      auth.setTokens(tokens);
      const res = await auth.fetch(url);
      return {
        status: res.status,
        body: await res.json(),
        lifetime: auth.expiresAt - Date.now(),
        userAgent: navigator.userAgent,
        locks: typeof navigator.locks,
        broadcast: typeof BroadcastChannel,
        subtle: typeof (crypto && crypto.subtle),
      };
    }, { options: stack.clientOptions, tokens, url: `${stack.api.url}/api/me` });
    diagnostic(`${first.userAgent}: navigator.locks ${first.locks}, BroadcastChannel ${first.broadcast}, `
      + `crypto.subtle ${first.subtle}; first call ${first.status} as ${first.body.sub}`);
    assert.equal(first.status, 200, `the API accepted the token: ${JSON.stringify(first.body)}`);
    assert.equal(first.body.sub, 'alice');
    const gets = stack.api.requests.filter((r) => r.method === 'GET');
    assert.equal(gets.length, 1, 'one call reached the API');
    assert.match(gets[0].authorization ?? '', /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    assert.ok(first.lifetime > 0 && first.lifetime <= 3_000, `a 3 s token (${first.lifetime} ms left)`);

    // The client refreshes by itself ahead of expiry (at about half of 3 s).
    await page.waitForFunction(() => window.refreshes.length >= 1, null, { timeout: 10_000 });
    const second = await page.evaluate(async (url) => {
      const res = await window.auth.fetch(url);
      return { status: res.status, statusNow: window.auth.status, refreshes: window.refreshes.length };
    }, `${stack.api.url}/api/me`);
    const { stats } = stack.auth;
    diagnostic(`refresh ahead of expiry: ${stats.refreshRequests} refresh request(s), ok ${stats.refreshOk}; `
      + `second call ${second.status}; API ok ${stack.api.stats.ok}, 401s ${stack.api.stats.unauthorized}`);
    assert.ok(stats.refreshOk >= 1, 'the server saw a successful refresh');
    assert.equal(stats.invalidGrant, 0);
    assert.equal(second.status, 200);
    assert.equal(second.statusNow, 'signedIn');
    assert.equal(stack.api.stats.unauthorized, 0, 'the API never answered 401');
    const problems = logs.filter((l) => l.startsWith('[pageerror]') || l.startsWith('[error]'));
    assert.deepEqual(problems, [], 'no page errors');
    return { first, second, stats: { ...stats } };
  } finally {
    await page.evaluate(() => window.auth && window.auth.dispose()).catch(() => {});
    await page.close();
  }
}
