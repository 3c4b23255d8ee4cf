// Helpers of the cross-tab scenarios (tabs.mjs, tabs-hung.mjs): what runs in each tab
// (the instrumented client, the API call loop, the tab's report) and, in Node, opening
// tabs and driving them. All of it is re-exported by tabs.mjs.

/**
 * How long the load scenario runs, per storage mode: 20 s in `npm test` (about 14 refreshes
 * per mode, each of which must be the only one for its token); TOKENWARD_TABS_SECONDS=60 for
 * the minute the README quotes.
 */
export const TABS_SECONDS = Number(process.env.TOKENWARD_TABS_SECONDS || 20);

/** How often every tab calls the API in the load scenario. */
export const CALL_EVERY_MS = 200;

// ---- in the page ---------------------------------------------------------------------

/**
 * Instruments the page and creates the client as `window.auth`. Every event is counted
 * (and all but `change` listed with its time); `window.fetch` is wrapped so that each
 * token-endpoint and API exchange this tab makes is counted with the status that came
 * back (what the server answered, before any retry). Sets `tokens` when given.
 * Resolves to the client's status right after createTokenClient resolved.
 */
async function installTab({ options, tokens, tokenEndpoint, apiUrl }) {
  const tab = {
    counts: { change: 0, refresh: 0, expired: 0, signedOut: 0, error: 0 },
    events: [],
    net: { tokenStarted: 0, tokenDone: 0, tokenStatuses: {}, tokenStarts: [], apiSent: 0, apiStatuses: {}, apiWithoutToken: 0 },
    // Every API exchange (sent, answered, status, the token's last characters) and every
    // access token this tab received from the token endpoint, for the 401 analysis.
    api: [],
    issued: [],
  };
  window.tab = tab;
  const realFetch = window.fetch;
  window.fetch = function instrumentedFetch(input, init) {
    const url = input instanceof Request ? input.url : String(input);
    const kind = url === tokenEndpoint ? 'token' : url.startsWith(`${apiUrl}/`) ? 'api' : null;
    const promise = realFetch.call(this, input, init);
    if (kind === 'token') {
      promise.then((res) => res.clone().json()).then(
        (body) => { tab.issued.push({ t: Date.now(), tok: String(body.access_token).slice(-8) }); },
        () => {},
      );
      tab.net.tokenStarted += 1;
      tab.net.tokenStarts.push(Date.now());
      promise.then(
        (res) => { tab.net.tokenStatuses[res.status] = (tab.net.tokenStatuses[res.status] || 0) + 1; },
        () => { tab.net.tokenStatuses.failed = (tab.net.tokenStatuses.failed || 0) + 1; },
      ).finally(() => { tab.net.tokenDone += 1; });
    } else if (kind === 'api') {
      tab.net.apiSent += 1;
      const headers = input instanceof Request ? input.headers : new Headers(init && init.headers);
      if (!headers.has('authorization')) tab.net.apiWithoutToken += 1;
      const exchange = { t0: Date.now(), tok: String(headers.get('authorization')).slice(-8) };
      tab.api.push(exchange);
      promise.then((res) => { exchange.t1 = Date.now(); exchange.status = res.status; }, () => {});
      promise.then(
        (res) => { tab.net.apiStatuses[res.status] = (tab.net.apiStatuses[res.status] || 0) + 1; },
        () => { tab.net.apiStatuses.failed = (tab.net.apiStatuses.failed || 0) + 1; },
      );
    }
    return promise;
  };
  const on = {};
  for (const type of Object.keys(tab.counts)) {
    on[type] = (event) => {
      tab.counts[type] += 1;
      if (type !== 'change') {
        tab.events.push({
          type, t: Date.now(), status: event.status, expiresAt: event.expiresAt, reason: event.reason,
          code: event.error && event.error.code,
        });
      }
    };
  }
  const auth = await window.tokenward.createTokenClient({ ...options, on });
  window.auth = auth;
  const status = auth.status;
  if (tokens) auth.setTokens(tokens);
  return status;
}

/** Calls `url` through auth.fetch every `everyMs` until stopLoop(); counts what came back. */
function startLoop({ url, everyMs }) {
  const loop = {
    sent: 0, settled: 0, statuses: {}, failures: [], stopped: false,
    base: { refresh: window.tab.counts.refresh, token: window.tab.net.tokenStarted },
  };
  window.loop = loop;
  loop.timer = setInterval(() => {
    loop.sent += 1;
    window.auth.fetch(url).then(
      (res) => { loop.statuses[res.status] = (loop.statuses[res.status] || 0) + 1; },
      (err) => { loop.failures.push(`${err && err.code}: ${err && err.message}`); },
    ).finally(() => { loop.settled += 1; });
  }, everyMs);
}

function stopLoop() {
  clearInterval(window.loop.timer);
  window.loop.stopped = true;
}

/** What a tab saw, as plain data. */
function report({ storageKey }) {
  const { timer, ...loop } = window.loop || {};
  return {
    status: window.auth.status,
    counts: window.tab.counts,
    events: window.tab.events,
    net: window.tab.net,
    api: window.tab.api,
    issued: window.tab.issued,
    loop,
    visibility: document.visibilityState,
    local: localStorage.getItem(storageKey),
    session: sessionStorage.getItem(storageKey),
  };
}

// ---- in Node ---------------------------------------------------------------------------

/**
 * Opens a tab of the app and creates a client in it (`tokens` are set there when given).
 * Returns { page, logs, initialStatus }.
 */
export async function openTab({ context, stack, openApp }, options, tokens = null, { hangTokenRequestsAt = null } = {}) {
  const logs = [];
  const page = await openApp(context, `${stack.app.url}/`, { logs });
  const clientOptions = { ...stack.clientOptions, ...options };
  if (hangTokenRequestsAt) {
    // This tab's token requests go to a server that never answers. The client keeps the
    // same tokenEndpoint as the other tabs (the endpoint and client id name the app, and
    // tabs of different apps ignore each other), so the detour is made under it.
    await page.evaluate(({ tokenEndpoint, hole }) => {
      const original = window.fetch.bind(window);
      window.fetch = async (input, init) => {
        const request = new Request(input, init);
        if (request.url !== tokenEndpoint) return original(input, init);
        return original(hole, {
          method: request.method, headers: request.headers, body: await request.text(), signal: request.signal,
        });
      };
    }, { tokenEndpoint: clientOptions.tokenEndpoint, hole: hangTokenRequestsAt });
  }
  const initialStatus = await page.evaluate(installTab, {
    options: clientOptions,
    tokens,
    tokenEndpoint: clientOptions.tokenEndpoint,
    apiUrl: stack.api.url,
  });
  return { page, logs, initialStatus };
}

/**
 * Opens `count` tabs of the app into `tabs` (so that a caller's `closeTabs` closes them all,
 * also after a failure), the first with the tokens of a new login, and waits until every
 * one is signed in.
 */
export async function openSignedInTabs(env, options, count, tabs) {
  const tokens = await env.stack.auth.login();
  tabs.push(await openTab(env, options, tokens));
  for (let i = 1; i < count; i += 1) tabs.push(await openTab(env, options));
  await Promise.all(tabs.map(waitSignedIn));
}

export const tabReport = (tab, storageKey) => tab.page.evaluate(report, { storageKey });

export const waitSignedIn = (tab) => tab.page.waitForFunction(() => window.auth.status === 'signedIn', null, { timeout: 5_000 });

export const startCalling = (tab, stack, everyMs = CALL_EVERY_MS) => tab.page.evaluate(startLoop, { url: `${stack.api.url}/api/me`, everyMs });

export const stopCalling = (tab) => tab.page.evaluate(stopLoop);

/** Waits until every call this tab started has an answer; says what is missing if not. */
export const waitCallsSettled = (tab, timeout = 20_000) => tab.page.waitForFunction(
  () => window.loop.settled === window.loop.sent, null, { timeout },
).catch(async (err) => {
  const state = await tab.page.evaluate(() => ({
    sent: window.loop.sent, settled: window.loop.settled, statuses: window.loop.statuses, net: window.tab.net,
    status: window.auth.status, events: window.tab.events.slice(-10),
  })).catch(() => null);
  throw new Error(`calls did not settle in ${timeout} ms: ${JSON.stringify(state)}`, { cause: err });
});

export async function closeTabs(tabs) {
  await Promise.allSettled(tabs.map((tab) => tab.page.close()));
}

/** Page errors and console errors of the tabs, for a failure message. */
export const pageProblems = (tabs) => tabs.flatMap((tab, i) => tab.logs
  .filter((line) => line.startsWith('[pageerror]') || line.startsWith('[error]'))
  .map((line) => `tab ${i}: ${line}`));
