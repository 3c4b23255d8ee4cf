// Firefox and WebKit for the shared e2e scenarios, through WebDriver (selenium-webdriver).
//
// Each engine's launch() returns a context-like object with the SUBSET of Playwright the
// scenarios use: context.newPage(), page.goto(url), page.evaluate(fn, arg),
// page.waitForFunction(fn, arg, { timeout }), page.close(), context.close().
// Several pages of one context are several tabs/windows of ONE WebDriver session, so they
// share storage, Web Locks and BroadcastChannels like the tabs of one browser profile.
//
// Nothing is downloaded: drivers and browsers come from explicit paths, and selenium-manager
// (which would download a driver) is pointed at a path that does not exist, so a missing
// path fails loudly instead of fetching anything.
//
// How a WebDriver session differs from Playwright, and what this adapter does about it:
// - A session runs one command at a time and has ONE current window. A page function that
//   waits (executeAsyncScript) would block every other page of the context, and scenarios
//   do wait in several tabs at once (Promise.all of waitForFunction). So evaluate() starts
//   the function in the page, keeps its promise in window.__tw.calls, and collects the
//   settled result with short executeAsyncScript polls; every command for a page switches
//   to its window first, under a per-session lock.
// - Console errors and uncaught errors are recorded by a hook installed after goto()
//   (classic WebDriver has no init scripts, so errors before `load` are not seen) and
//   drained into the page's `logs` array with every poll.
// - Pages are separate WINDOWS of the session by default, in both engines, because
//   Playwright's Chromium pages are all visible and the shared scenarios assume it:
//   * Firefox, `newWindow('tab')`: switching to a tab selects it, so only one tab is
//     visible and the others run their timers at most ~1/s (a 5-tab load case then fails
//     its "every tab kept calling" check). Override: TOKENWARD_FIREFOX_PAGES=tab.
//   * WebKit (MiniBrowser under Xvfb): MiniBrowser blocks window.open and has no headless
//     mode; WebDriver "New Window" works. With type 'tab' every page reports `hidden` and is
//     throttled; with 'window' each page is visible. Override: TOKENWARD_WEBKIT_PAGES=tab.
//   context.newPage({ type: 'tab' }) (an extension of Playwright's API) opens a real
//   background tab: engines-suite.mjs uses it for the background-tab case.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Builder, Capabilities } from 'selenium-webdriver';
import firefox from 'selenium-webdriver/firefox.js';
import remote from 'selenium-webdriver/remote/index.js';

import { repoRoot } from './harness.mjs';

// Never let selenium-manager run (it downloads drivers): explicit paths only.
process.env.SE_MANAGER_PATH = '/nonexistent/selenium-manager-is-disabled-in-tokenward-tests';

const TOOLS = process.env.TOKENWARD_TOOLS || '/opt/tokenward-tools';
const firstExisting = (...paths) => paths.find((p) => p && existsSync(p)) || null;

export const PATHS = {
  firefox: {
    browser: firstExisting(process.env.FIREFOX_PATH, '/usr/bin/firefox-esr', '/usr/bin/firefox'),
    driver: firstExisting(process.env.GECKODRIVER, join(TOOLS, 'bin', 'geckodriver')),
  },
  webkit: {
    browser: firstExisting(process.env.MINIBROWSER_PATH,
      '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser', '/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser'),
    driver: firstExisting(process.env.SAFARIDRIVER, '/usr/bin/WebKitWebDriver'),
    xvfb: firstExisting('/usr/bin/Xvfb'),
  },
};

/** Status file written by scripts/engines.sh: lines `<engine>: <ok|skipped>: <reason>`. */
export const STATUS_FILE = join(repoRoot, 'target', 'tokenward-engines.status');

/**
 * null when `engine` can run here, otherwise why not (for a test's `skip`): the missing
 * paths, plus what scripts/engines.sh said when it could not install them.
 */
export function unavailable(engine) {
  const missing = Object.entries(PATHS[engine]).filter(([, p]) => !p).map(([what]) => what);
  if (!missing.length) return null;
  let why = '';
  try {
    const line = readFileSync(STATUS_FILE, 'utf8').split('\n').find((l) => l.startsWith(`${engine}:`));
    if (line) why = ` (${line})`;
  } catch { /* no status file: engines.sh did not run */ }
  return `${engine} is not installed: no ${missing.join(', no ')}${why || ' (run scripts/engines.sh as root to install it)'}`;
}

/** Starts Xvfb on a free display; resolves { display, close }. */
function startXvfb(path) {
  return new Promise((resolve, reject) => {
    const child = spawn(path, ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    });
    const timer = setTimeout(() => { child.kill(); reject(new Error('Xvfb did not start in 10 s')); }, 10_000);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`Xvfb exited with ${code}`)); });
    let out = '';
    child.stdio[3].on('data', (chunk) => {
      out += chunk;
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({
        display: `:${out.trim()}`,
        close: () => new Promise((done) => {
          if (child.exitCode !== null) return done();
          child.once('exit', () => done());
          child.kill();
        }),
      });
    });
  });
}

/** A mutex: run(fn) runs fn alone; `waiting` tells a long holder that others wait. */
class Lock {
  #tail = Promise.resolve();
  waiting = 0;
  run(fn) {
    this.waiting += 1;
    const result = this.#tail.then(() => { this.waiting -= 1; return fn(); });
    this.#tail = result.catch(() => {});
    return result;
  }
}

// ---- in the page (sent as source: these functions must not use anything from Node) ----
//
// Firefox runs WebDriver scripts in a sandbox with its own Object, Array and JSON: objects
// made there are not `instanceof Object` in the page. So the WebDriver scripts below only
// hand their arguments to code that `window.eval` compiles in the page's own realm, where
// the scenario's function, its argument and its result all live, as with Playwright.

// Installed once per document (page realm): the call table, the log hook, collect().
const PAGE_SETUP = `(() => {
if (window.__tw) return window.__tw;
const tw = window.__tw = { calls: {}, logs: [] };
const text = (v) => { try { return typeof v === 'string' ? v : v instanceof Error ? String(v) : JSON.stringify(v); } catch (e) { return String(v); } };
for (const level of ['error', 'warn']) {
  const original = console[level];
  console[level] = function (...args) { tw.logs.push('[' + (level === 'warn' ? 'warning' : level) + '] ' + args.map(text).join(' ')); return original.apply(this, args); };
}
window.addEventListener('error', (e) => tw.logs.push('[pageerror] ' + (e.error ? e.error.message : e.message)));
window.addEventListener('unhandledrejection', (e) => tw.logs.push('[pageerror] ' + ((e.reason && e.reason.message) || text(e.reason))));
// Hands the outcome of call \`id\` to \`done\` once it settles, or after \`hold\` ms.
tw.collect = (id, hold, done) => {
  const entry = tw.calls[id];
  if (!entry) { done({ state: 'lost', logs: [] }); return; }
  const finish = () => {
    entry.wake = null;
    const logs = tw.logs.splice(0);
    if (!entry.settled) { done({ state: 'pending', logs }); return; }
    delete tw.calls[id];
    done({ state: entry.error ? 'error' : 'ok', value: entry.value, error: entry.error, logs });
  };
  if (entry.settled || hold <= 0) finish();
  else { const t = setTimeout(finish, hold); entry.wake = () => { clearTimeout(t); finish(); }; }
};
tw.cancel = (id) => { const c = tw.calls[id]; if (c) { c.cancelled = true; delete tw.calls[id]; } };
return tw;
})()`;

// Starts a call in the page realm: `body` is an expression giving the function (or value).
// mode 'once': call it; mode 'wait': call it every pollMs until the result is truthy.
function startCode(body, mode) {
  return `(function (id, argJson, pollMs) {
const tw = ${PAGE_SETUP};
const call = tw.calls[id] = { settled: false };
const settle = (error, value) => {
  if (call.settled) return;
  call.settled = true;
  if (error) {
    call.error = { name: (error && error.name) || 'Error', message: error && error.message !== undefined ? String(error.message) : String(error), stack: error && error.stack ? String(error.stack) : '' };
  } else {
    try { call.value = JSON.stringify(value === undefined ? { undefined: true } : { value }); }
    catch (e) { if (${JSON.stringify(mode)} === 'wait') call.value = '{"value":true}'; else call.error = { name: 'Error', message: 'result is not serialisable: ' + e.message }; }
  }
  if (call.wake) call.wake();
};
const arg = JSON.parse(argJson);
const run = () => { const f = (${body}\n); return typeof f === 'function' ? f(arg) : f; };
${mode === 'wait' ? `const poll = () => {
  if (call.cancelled) return;
  let out;
  try { out = run(); } catch (e) { settle(e); return; }
  Promise.resolve(out).then((v) => { if (v) settle(null, v); else setTimeout(poll, pollMs); }, (e) => settle(e));
};
poll();` : 'try { Promise.resolve(run()).then((v) => settle(null, v), (e) => settle(e)); } catch (e) { settle(e); }'}
return tw;
})`;
}

// The WebDriver scripts (these run in the driver's script scope, Firefox: a sandbox).
const SETUP_SCRIPT = `window.eval(arguments[0]);`;
const START_SCRIPT = `const [code, id, argJson, pollMs, hold, done] = arguments;
let tw;
try { tw = window.eval(code)(id, argJson, pollMs); } catch (e) { done({ state: 'error', error: { name: e.name, message: String(e.message) }, logs: [] }); return; }
tw.collect(id, hold, done);`;
const COLLECT_SCRIPT = `const [id, hold, done] = arguments;
if (!window.__tw) { done({ state: 'lost', logs: [] }); return; }
window.__tw.collect(id, hold, done);`;
const CANCEL_SCRIPT = 'if (window.__tw) window.__tw.cancel(arguments[0]);';

// ---- in Node -------------------------------------------------------------------------

let nextCall = 1;

class Page {
  constructor(context, handle) {
    this.context = context;
    this.handle = handle;
    this.logs = [];
    this.closed = false;
  }

  #run(fn) {
    if (this.closed) return Promise.reject(new Error('page is closed'));
    return this.context.lock.run(async () => {
      if (this.context.current !== this.handle) {
        await this.context.driver.switchTo().window(this.handle);
        this.context.current = this.handle;
      }
      return fn(this.context.driver);
    });
  }

  async goto(url) {
    await this.#run(async (driver) => {
      await driver.get(url);
      await driver.executeScript(SETUP_SCRIPT, PAGE_SETUP);
    });
    return null;
  }

  /** Runs fn(arg) in the page and resolves with its (JSON) result, as Playwright does. */
  evaluate(fn, arg) {
    return this.#call(fn, arg, 'once', Infinity, 'page.evaluate');
  }

  /** Resolves when fn(arg) is truthy in the page (polled there every 20 ms). */
  async waitForFunction(fn, arg, { timeout = 30_000, polling } = {}) {
    const pollMs = typeof polling === 'number' ? polling : 20;
    const value = await this.#call(fn, arg, 'wait', timeout, 'page.waitForFunction', pollMs);
    return { jsonValue: async () => value, dispose: async () => {} };
  }

  async #call(fn, arg, mode, timeout, what, pollMs = 20) {
    const body = typeof fn === 'function' ? fn.toString() : String(fn);
    const id = nextCall++;
    const argJson = JSON.stringify(arg === undefined ? null : arg);
    const deadline = Date.now() + timeout;
    // The first round trip starts the call and waits up to 40 ms for it: most calls end there.
    let result = await this.#run((driver) => driver.executeAsyncScript(START_SCRIPT, startCode(body, mode), id, argJson, pollMs, 40));
    for (;;) {
      // A navigation during the script can end it without an answer (Firefox then gives
      // null): the page's context is gone, as with 'lost'.
      if (!result || typeof result !== 'object') result = { state: 'lost', logs: [] };
      this.logs.push(...(result.logs || []));
      if (result.state === 'ok') {
        const parsed = JSON.parse(result.value);
        return 'undefined' in parsed ? undefined : parsed.value;
      }
      if (result.state === 'error') {
        const err = new Error(`${what}: ${result.error.name}: ${result.error.message}`);
        err.pageStack = result.error.stack;
        throw err;
      }
      if (result.state === 'lost') {
        throw new Error(`${what}: Execution context was destroyed, most likely because of a navigation`);
      }
      if (Date.now() >= deadline) {
        await this.#run((driver) => driver.executeScript(CANCEL_SCRIPT, id)).catch(() => {});
        const err = new Error(`${what}: Timeout ${timeout}ms exceeded.`);
        err.name = 'TimeoutError';
        throw err;
      }
      // Hold the session longer only when no other page is waiting for it.
      const hold = Math.max(0, Math.min(this.context.lock.waiting ? 20 : 250, deadline - Date.now()));
      result = await this.#run((driver) => driver.executeAsyncScript(COLLECT_SCRIPT, id, hold));
    }
  }

  async close() {
    if (this.closed) return;
    await this.context.closePage(this);
  }

  isClosed() { return this.closed; }
}

class Context {
  constructor({ engine, driver, pageType, cleanup }) {
    this.engine = engine;
    this.driver = driver;
    this.pageType = pageType;
    this.cleanup = cleanup;
    this.lock = new Lock();
    this.pages = new Set();
    this.current = null;
    this.spare = null; // a window no page uses (the session's first one, or the last page closed)
    this.info = {};
  }

  /** A new page; `type` ('window' or 'tab', default per engine) is an extension to Playwright's API. */
  async newPage({ type } = {}) {
    type ??= this.pageType;
    const handle = await this.lock.run(async () => {
      if (this.spare && type === this.pageType) {
        const h = this.spare;
        this.spare = null;
        return h;
      }
      await this.driver.switchTo().newWindow(type);
      this.current = await this.driver.getWindowHandle();
      return this.current;
    });
    const page = new Page(this, handle);
    this.pages.add(page);
    return page;
  }

  pagesList() { return [...this.pages]; }

  async closePage(page) {
    await this.lock.run(async () => {
      page.closed = true;
      this.pages.delete(page);
      const handles = await this.driver.getAllWindowHandles();
      if (handles.length <= 1) {
        // Closing the last window ends the session: leave it blank for the next page instead.
        await this.driver.switchTo().window(page.handle);
        this.current = page.handle;
        await this.driver.get('about:blank');
        this.spare = page.handle;
        return;
      }
      await this.driver.switchTo().window(page.handle);
      await this.driver.close();
      this.current = null;
    });
  }

  async close() {
    try {
      await this.driver.quit();
    } finally {
      await this.cleanup?.();
    }
  }
}

async function withSession(engine, driver, { pageType, cleanup }) {
  const context = new Context({ engine, driver, pageType, cleanup });
  try {
    await driver.manage().setTimeouts({ script: 60_000, pageLoad: 30_000 });
    const caps = await driver.getCapabilities();
    context.info = { browserName: caps.get('browserName'), browserVersion: caps.get('browserVersion') };
    context.spare = await driver.getWindowHandle();
    context.current = context.spare;
  } catch (err) {
    await context.close().catch(() => {});
    throw err;
  }
  return context;
}

export const engines = {
  firefox: {
    name: 'firefox',
    title: 'Firefox',
    unavailable: () => unavailable('firefox'),
    /**
     * Headless Firefox (fresh temporary profile, deleted by geckodriver on quit).
     * `privateBrowsing: true`: every window is a private browsing window.
     */
    async launch({ privateBrowsing = false } = {}) {
      const { browser, driver: geckodriver } = PATHS.firefox;
      if (!browser || !geckodriver) throw new Error(unavailable('firefox'));
      const options = new firefox.Options().setBinary(browser).addArguments('-headless');
      if (privateBrowsing) options.setPreference('browser.privatebrowsing.autostart', true);
      const service = new firefox.ServiceBuilder(geckodriver).setLoopback(true);
      const driver = await new Builder().forBrowser('firefox').setFirefoxOptions(options).setFirefoxService(service).build();
      return withSession('firefox', driver, { pageType: process.env.TOKENWARD_FIREFOX_PAGES || 'window' });
    },
  },
  webkit: {
    name: 'webkit',
    title: 'WebKit',
    unavailable: () => unavailable('webkit'),
    /** MiniBrowser (WebKitGTK) in automation mode on its own Xvfb display. */
    async launch() {
      const { browser, driver: webkitDriver, xvfb } = PATHS.webkit;
      if (!browser || !webkitDriver || !xvfb) throw new Error(unavailable('webkit'));
      const display = await startXvfb(xvfb);
      let service;
      try {
        service = new remote.DriverService.Builder(webkitDriver)
          .setLoopback(true)
          .setEnvironment({ ...process.env, DISPLAY: display.display })
          .build();
        const url = await service.start();
        const caps = new Capabilities({
          browserName: 'MiniBrowser',
          'webkitgtk:browserOptions': { binary: browser, args: ['--automation'] },
        });
        const driver = await new Builder().usingServer(url).withCapabilities(caps).build();
        return await withSession('webkit', driver, {
          pageType: process.env.TOKENWARD_WEBKIT_PAGES || 'window',
          cleanup: async () => { await service.kill(); await display.close(); },
        });
      } catch (err) {
        await service?.kill().catch(() => {});
        await display.close();
        throw err;
      }
    },
  },
};

/**
 * openApp for WebDriver pages, like harness.mjs's: opens `url` in a new page, waits for
 * window.tokenwardReady; what the page logs (after load) is appended to `logs`.
 */
export async function openApp(context, url, { logs = [], type } = {}) {
  const page = await context.newPage({ type });
  page.logs = logs;
  await page.goto(url);
  try {
    await page.waitForFunction(() => window.tokenwardReady === true, null, { timeout: 15_000 });
  } catch (err) {
    throw new Error(`tokenward did not load in ${url} (${context.engine}):\n${logs.join('\n')}`, { cause: err });
  }
  return page;
}
