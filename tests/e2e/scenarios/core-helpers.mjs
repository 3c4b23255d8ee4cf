// Helpers of the core scenarios (core.mjs, core-input.mjs, core-sessions.mjs): the page
// helpers (window.events, window.makeClient, window.describeError), withPage, and small
// Node-side helpers. claimsOf, installHelpers and withPage are re-exported by core.mjs.

const EVENT_NAMES = ['change', 'refresh', 'expired', 'signedOut', 'error'];

/** The payload of a JWT (Node side). */
export function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

/**
 * Page helpers: window.events (every event the client fired, as plain data),
 * window.makeClient(options, { controlledClock }) creating a client whose listeners are
 * attached through `options.on` (so they see what happens during creation), and
 * window.describeError(e). With controlledClock the client's `now` is
 * `window.clockMs ?? Date.now()`: a number freezes the client's clock there.
 */
export async function installHelpers(page) {
  await page.evaluate((names) => {
    window.events = [];
    window.clockMs = null;
    window.describeError = (e) => ({
      name: e?.name ?? null,
      code: e?.code ?? null,
      message: String(e?.message ?? e),
      isTokenwardError: e instanceof window.tokenward.TokenwardError,
    });
    window.recordEvent = (e) => {
      window.events.push({
        type: e.type,
        status: e.status,
        expiresAt: e.expiresAt,
        reason: e.reason ?? null,
        code: e.error?.code ?? null,
        isTokenwardError: e.error ? e.error instanceof window.tokenward.TokenwardError : null,
        message: e.error ? String(e.error.message) : null,
        at: Date.now(),
      });
    };
    window.makeClient = (options, { controlledClock = false } = {}) => {
      const on = Object.fromEntries(names.map((n) => [n, window.recordEvent]));
      const full = { ...options, on };
      if (controlledClock) full.now = () => window.clockMs ?? Date.now();
      return window.tokenward.createTokenClient(full);
    };
  }, EVENT_NAMES);
}

export const eventsOf = (page) => page.evaluate(() => window.events);
export const count = (events, type) => events.filter((e) => e.type === type).length;

/** Opens an app page with the helpers installed, runs `run(page)`, disposes and closes. */
export async function withPage({ context, stack, openApp }, run) {
  const page = await openApp(context, `${stack.app.url}/`);
  try {
    await installHelpers(page);
    return await run(page);
  } finally {
    await page.evaluate(() => window.auth?.dispose()).catch(() => {});
    await page.close().catch(() => {});
  }
}

export function resetServers(stack) {
  stack.auth.setFault(null);
  stack.auth.resetStats();
  stack.api.resetStats();
}

/** Waits until the page's clock (Date.now) is past `ms`. */
export function pageTimePast(page, ms, timeout = 30_000) {
  return page.waitForFunction((t) => Date.now() > t, ms, { timeout });
}
