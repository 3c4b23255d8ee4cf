// End-to-end token-leak scenarios: which requests may carry the access token.
// A table of URLs is fetched with auth.fetch from a real page; the header recorder (and,
// for URLs that resolve to the page's own origin, recording routes of the app server)
// show the Authorization header each request really carried.
//
// Shared by every engine: only the Playwright subset of the WebDriver adapter is used
// (context.newPage, page.goto, page.evaluate, page.waitForFunction, page.close), and the
// functions given to page.evaluate are serialised (everything comes in `arg`).
// attachTo is [recorder.origins[0] + '/api']; recorder ports 1 and 2 are other origins.
import { startStack } from '../harness.mjs';
import { startRecorder } from '../../servers/index.mjs';

// Relative URLs resolve against the page (http://127.0.0.1:<app>/): these are their paths
// there, recorded by routes of the app server. They depend on the recorder's first port.
const relativeCases = (r0) => [
  '/api/x',
  'api/x',
  './api/x',
  '../../api/x',
  `127.0.0.1:${r0}/api/x`, // no scheme (starts with a digit): a relative path
  `http:127.0.0.1:${r0}/api/x`, // same special scheme without slashes: relative too
];

/**
 * The leak table. `attach`: whether the token must be attached. `reaches`: where the
 * request must arrive ('recorder' or 'app'), or null when it may also fail without being
 * sent (other hosts, TLS to a plain HTTP port, URLs fetch refuses). `input` is how the
 * URL is handed to auth.fetch: a string (default), a URL or a Request object.
 */
export function leakTable(ports) {
  const [r0, r1, r2] = ports;
  const local = (port) => `http://127.0.0.1:${port}`;
  const never = [
    // other origins: ports, hosts, schemes
    [`${local(r1)}/api/x`, 'recorder'],
    [`${local(r2)}/api`, 'recorder'],
    [`HTTP://127.0.0.1:${r1}/api/x`, 'recorder'],
    [`http://localhost:${r0}/api/x`, null],
    [`http://LOCALHOST:${r0}/api/x`, null],
    [`http://[::1]:${r0}/api/x`, null],
    [`http://127.0.0.2:${r0}/api/x`, null],
    [`http://0.0.0.0:${r0}/api/x`, null],
    [`http://127.0.0.1.localhost:${r0}/api/x`, null],
    [`https://127.0.0.1:${r0}/api/x`, null],
    [`blob:http://127.0.0.1:${r0}/api/x`, null],
    [`http://127.0.0.1:${r0}.example/api/x`, null],
    // same origin, path outside the /api prefix
    [`${local(r0)}/`, 'recorder'],
    [`${local(r0)}/api-v2/x`, 'recorder'],
    [`${local(r0)}/apix`, 'recorder'],
    [`${local(r0)}/ap`, 'recorder'],
    [`${local(r0)}/API/x`, 'recorder'],
    [`${local(r0)}/Api`, 'recorder'],
    [`${local(r0)}/v1/api/x`, 'recorder'],
    [`${local(r0)}/api/../other`, 'recorder'],
    [`${local(r0)}/api/%2e%2e/other`, 'recorder'],
    [`${local(r0)}/api/.%2E/other`, 'recorder'],
    [`${local(r0)}/api%2Fx`, 'recorder'],
    [`${local(r0)}/api%2fme`, 'recorder'],
    [`${local(r0)}/api%5Cx`, 'recorder'],
    [`${local(r0)}/%61pi/x`, 'recorder'],
    // encoded separators after the prefix (the server may decode them out of /api)
    [`${local(r0)}/api/%2fx`, 'recorder'],
    [`${local(r0)}/api/a%2Fb`, 'recorder'],
    [`${local(r0)}/api/%5cx`, 'recorder'],
    [`${local(r0)}/api/a%5Cb`, 'recorder'],
    [`${local(r0)}/api/x%2E%2E`, 'recorder'],
    [`${local(r0)}/api/x.%2e`, 'recorder'],
    [`${local(r0)}/api/%252fx`, 'recorder'],
    [`${local(r0)}/api/%252F%252e%252E`, 'recorder'],
    [`${local(r0)}/api/%25%32%66x`, 'recorder'],
    [`${local(r0)}/api/a/%2e%2e/%2e%2e/admin`, 'recorder'],
    [`${local(r0)}/api@127.0.0.1:${r1}/api/x`, 'recorder'],
    [`${local(r0)}#@127.0.0.1:${r1}/api`, 'recorder'],
    // userinfo tricks (fetch refuses credentials in URLs; never with the token either)
    [`http://127.0.0.1:${r0}@127.0.0.1:${r1}/api/x`, null],
    [`http://127.0.0.1:${r1}@127.0.0.1:${r0}/api/x`, null],
    [`http://user:pass@127.0.0.1:${r0}/api/x`, null],
    // backslashes and protocol-relative URLs that end up on another origin
    [`http://127.0.0.1:${r1}\\@127.0.0.1:${r0}/api/x`, 'recorder'],
    [`//127.0.0.1:${r1}/api/x`, 'recorder'],
    [`//localhost:${r0}/api/x`, null],
    [`http:\\\\127.0.0.1:${r1}\\api\\x`, 'recorder'],
    [`\\\\127.0.0.1:${r1}\\api\\x`, 'recorder'],
    [`http:/\\127.0.0.1:${r1}/api/x`, 'recorder'],
    [`${local(r1)}/?next=${local(r0)}/api/x`, 'recorder'],
    [`${local(r1)}/#${local(r0)}/api/x`, 'recorder'],
    // relative URLs: they resolve to the page's origin, which is not in attachTo
    ...relativeCases(r0).map((url) => [url, 'app']),
  ].map(([url, reaches]) => ({ url, attach: false, reaches }));
  const always = [
    [`${local(r0)}/api`],
    [`${local(r0)}/api/`],
    [`${local(r0)}/api/me`],
    [`${local(r0)}/api/me?x=1#frag`],
    [`${local(r0)}/api//x`],
    [`HTTP://127.0.0.1:${r0}/api/x`],
    [`${local(r0)}/api/a/../b`],
    [`${local(r0)}/other/../api/x`],
    [`${local(r0)}/./api/x`],
    [`//127.0.0.1:${r0}/api/x`],
    [`http:\\\\127.0.0.1:${r0}\\api\\x`],
    [`http://127.1:${r0}/api/x`],
    [`http://2130706433:${r0}/api/x`],
    [`http://0x7f.0.0.1:${r0}/api/x`],
    [`http://127.0.0.1:0${r0}/api/x`],
    [`${local(r0)}/api/x`, 'URL'],
    [`${local(r0)}/api/x`, 'Request'],
  ].map(([url, input]) => ({ url, attach: true, reaches: 'recorder', input }));
  return [...never, ...always].map((c, i) => ({ ...c, id: i + 1, tagged: tag(c.url, i + 1) }));
}

// Adds t=<id> to the query (before any fragment) so that each request can be told apart.
function tag(url, id) {
  const hash = url.indexOf('#');
  const [base, fragment] = hash < 0 ? [url, ''] : [url.slice(0, hash), url.slice(hash)];
  return `${base}${base.includes('?') ? '&' : '?'}t=${id}${fragment}`;
}

const tagOf = (path) => new URLSearchParams(path.split('?')[1] ?? '').get('t');

/**
 * The authorization server, API and app (startStack) plus a 3-port header recorder. The
 * app server also records the requests to the paths the relative cases resolve to.
 */
export async function startLeakStack(options = {}) {
  const recorder = await startRecorder({ count: 3 });
  const appRequests = [];
  const record = (req, res) => {
    appRequests.push({ method: req.method, path: req.url, authorization: req.headers.authorization });
    req.resume();
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' }).end('ok');
  };
  const routes = Object.fromEntries(relativeCases(recorder.ports[0])
    .map((rel) => [new URL(rel, 'http://127.0.0.1:1/').pathname, record]));
  let stack;
  try {
    stack = await startStack({ ...options, routes });
  } catch (err) {
    await recorder.close();
    throw err;
  }
  return {
    ...stack,
    recorder,
    appRequests,
    async close() {
      await Promise.allSettled([stack.close(), recorder.close()]);
    },
  };
}

async function signedInPage({ context, stack, openApp }, storageKey, attachTo = [`${stack.recorder.origins[0]}/api`]) {
  const page = await openApp(context, `${stack.app.url}/`);
  const tokens = await stack.auth.login();
  await page.evaluate(async ({ options, tokens }) => {
    window.auth = await window.tokenward.createTokenClient(options);
    window.auth.setTokens(tokens);
  }, {
    options: { ...stack.clientOptions, storageKey, attachTo },
    tokens,
  });
  return { page, tokens };
}

async function closePage(page) {
  await page.evaluate(() => window.auth?.dispose()).catch(() => {});
  await page.close().catch(() => {});
}

// At least 30 URLs that must never receive the token and 10 that must: per URL, the
// request either failed / was never sent, or arrived with no Authorization (must not);
// or arrived exactly once with `Bearer <token>` (must).
export async function tokenOnlyWhereAttached(env) {
  const table = leakTable(env.stack.recorder.ports);
  await runTable(env, table, 'leaks-table', undefined, (mustNot, must) => mustNot >= 30 && must >= 10);
}

/**
 * Prefixes are matched as written, and encoded separators after a prefix get no token.
 * attachTo: [r0 + '/api/', r1 + '/v1', r2 (origin only)].
 */
export function prefixTable(ports) {
  const [r0, r1, r2] = ports.map((p) => `http://127.0.0.1:${p}`);
  const cases = [
    [`${r0}/api`, false], [`${r0}/api/`, true], [`${r0}/api/x`, true], [`${r0}/api//x`, true],
    [`${r0}/apix`, false], [`${r0}/ap`, false], [`${r0}/api/%2fx`, false], [`${r0}/api/%5C`, false],
    [`${r0}/api/%252f`, false], [`${r0}/api/x%2E`, false], [`${r0}/api/%25%35%63`, false],
    [`${r1}/v1`, true], [`${r1}/v1/`, true], [`${r1}/v1/users`, true], [`${r1}/v1x`, false],
    [`${r1}/v10`, false], [`${r1}/v1%2fx`, false], [`${r1}/v1/a%2Fb`, false], [`${r1}/v1/%2e%2e%2fadmin`, false],
    [`${r2}/`, true], [`${r2}/anything/deep`, true], [`${r2}/api`, true], [`${r2}/a%2fb`, false],
    [`${r2}/a/%5cb`, false], [`${r2}/a/%252Fb`, false], [`${r2}/a/b%41`, true],
  ];
  return cases.map(([url, attach], i) => ({ url, attach, reaches: 'recorder', id: i + 1, tagged: tag(url, i + 1) }));
}

export async function prefixesAsWritten(env) {
  const { origins, ports } = env.stack.recorder;
  const attachTo = [`${origins[0]}/api/`, `${origins[1]}/v1`, origins[2]];
  await runTable(env, prefixTable(ports), 'leaks-prefix', attachTo, (mustNot, must) => mustNot >= 10 && must >= 10);
}

async function runTable(env, table, storageKey, attachTo, bigEnough) {
  const { stack, assert, diagnostic } = env;
  const { recorder, appRequests } = stack;
  const { page, tokens } = await signedInPage(env, storageKey, attachTo);
  try {
    recorder.reset();
    appRequests.length = 0;
    const outcomes = await page.evaluate(async (cases) => {
      const out = {};
      for (const c of cases) {
        let input = c.tagged;
        try {
          if (c.input === 'URL') input = new URL(c.tagged);
          if (c.input === 'Request') input = new Request(c.tagged);
          const res = await window.auth.fetch(input);
          await res.text();
          out[c.id] = { sent: true, status: res.status };
        } catch (e) {
          out[c.id] = { sent: false, error: `${e?.name}: ${e?.message}` };
        }
      }
      return out;
    }, table);

    const bearer = `Bearer ${tokens.access_token}`;
    const arrivals = (c) => {
      const id = String(c.id);
      const fromRecorder = recorder.requests.filter((r) => tagOf(r.path) === id).map((r) => ({ ...r, where: 'recorder' }));
      const fromApp = appRequests.filter((r) => tagOf(r.path) === id).map((r) => ({ ...r, where: 'app' }));
      return [...fromRecorder, ...fromApp];
    };
    const problems = [];
    let reached = 0;
    let failed = 0;
    for (const c of table) {
      const seen = arrivals(c);
      const outcome = outcomes[c.id];
      if (seen.length) reached += 1;
      if (!outcome.sent) failed += 1;
      const describe = `#${c.id} ${c.input ?? 'string'} ${JSON.stringify(c.url)} → ${JSON.stringify(outcome)}, `
        + `seen ${JSON.stringify(seen.map((r) => `${r.where}:${r.host ?? ''}${r.path} auth=${r.authorization === bearer ? 'TOKEN' : r.authorization}`))}`;
      if (seen.some((r) => r.authorization !== undefined && !c.attach)) problems.push(`LEAK ${describe}`);
      if (c.attach && !(seen.length === 1 && seen[0].authorization === bearer)) problems.push(`NOT ATTACHED ${describe}`);
      if (c.reaches && !seen.some((r) => r.where === c.reaches)) problems.push(`DID NOT ARRIVE at ${c.reaches} ${describe}`);
      if (c.reaches && seen.length > 0 && !outcome.sent) problems.push(`ARRIVED BUT FETCH FAILED ${describe}`);
    }
    const mustNot = table.filter((c) => !c.attach).length;
    const must = table.filter((c) => c.attach).length;
    diagnostic(`leak table: ${table.length} URLs (${mustNot} must not get the token, ${must} must); `
      + `${reached} arrived at a server, ${failed} failed in fetch (never sent); problems: ${problems.length}`);
    const notSent = table.filter((c) => !outcomes[c.id].sent).map((c) => `${c.url} (${outcomes[c.id].error})`);
    diagnostic(`never sent: ${notSent.join('; ')}`);
    for (const p of problems) diagnostic(p);
    assert.ok(bigEnough(mustNot, must), 'the table is big enough');
    assert.deepEqual(problems, [], 'the token goes exactly where attachTo says');
  } finally {
    await closePage(page);
  }
}

// An Authorization header the caller set is never overridden, whether the URL is an
// attached one or not, and whatever form the headers take.
export async function callerAuthorizationKept(env) {
  const { stack, assert, diagnostic } = env;
  const { recorder } = stack;
  const [r0, r1] = recorder.origins;
  const cases = [
    { id: 'c1', url: `${r0}/api/x?t=c1`, headers: { Authorization: 'Bearer caller-1' }, expect: 'Bearer caller-1' },
    { id: 'c2', url: `${r0}/api/x?t=c2`, headers: { authorization: 'Basic Zm9vOmJhcg==' }, expect: 'Basic Zm9vOmJhcg==' },
    { id: 'c3', url: `${r0}/api/x?t=c3`, headers: [['AUTHORIZATION', 'Bearer caller-3']], expect: 'Bearer caller-3' },
    { id: 'c4', url: `${r0}/api/x?t=c4`, headersInstance: { Authorization: 'Bearer caller-4' }, expect: 'Bearer caller-4' },
    { id: 'c5', url: `${r0}/api/x?t=c5`, request: { Authorization: 'Bearer caller-5' }, expect: 'Bearer caller-5' },
    { id: 'c6', url: `${r1}/api/x?t=c6`, headers: { Authorization: 'Bearer caller-6' }, expect: 'Bearer caller-6' },
    { id: 'c7', url: `${r0}/api/x?t=c7`, method: 'POST', body: '{"a":1}', headers: { Authorization: 'Bearer caller-7', 'Content-Type': 'application/json' }, expect: 'Bearer caller-7' },
  ];
  const { page, tokens } = await signedInPage(env, 'leaks-caller');
  try {
    recorder.reset();
    const outcomes = await page.evaluate(async (cases) => {
      const out = {};
      for (const c of cases) {
        try {
          let res;
          if (c.request) {
            res = await window.auth.fetch(new Request(c.url, { headers: c.request }));
          } else {
            const headers = c.headersInstance ? new Headers(c.headersInstance) : c.headers;
            res = await window.auth.fetch(c.url, { method: c.method ?? 'GET', body: c.body, headers });
          }
          out[c.id] = res.status;
        } catch (e) {
          out[c.id] = `${e?.name}: ${e?.message}`;
        }
      }
      return out;
    }, cases);
    const seen = Object.fromEntries(cases.map((c) => [c.id,
      recorder.requests.filter((r) => tagOf(r.path) === c.id).map((r) => r.authorization)]));
    diagnostic(`caller Authorization: ${cases.length} cases, recorder saw ${JSON.stringify(seen)}`);
    for (const c of cases) {
      assert.equal(outcomes[c.id], 200, `${c.id} succeeded`);
      assert.deepEqual(seen[c.id], [c.expect], `${c.id}: the caller's header arrived unchanged`);
    }
    assert.ok(!JSON.stringify(recorder.requests).includes(tokens.access_token), 'the token was sent nowhere');
  } finally {
    await closePage(page);
  }
}

// Options that send tokens over plain http to a non-loopback host are invalid_options
// (with a message naming the option); loopback hosts are fine. A wrong argument type to
// a method (auth.on(42, …)) is a TokenwardError too, never a trap: the module keeps
// working afterwards, and an unsubscribe function may be called twice.
export async function optionsAndArgumentsChecked(env) {
  const { context, stack, openApp, assert, diagnostic } = env;
  const page = await openApp(context, `${stack.app.url}/`);
  try {
    const tokens = await stack.auth.login();
    const out = await page.evaluate(async ({ clientOptions, tokens }) => {
      const { createTokenClient } = window.tokenward;
      const bad = {
        tokenEndpoint: { tokenEndpoint: 'http://auth.example.com/token' },
        revocationEndpoint: { revocationEndpoint: 'http://auth.example.com/revoke' },
        issuer: { issuer: 'http://op.example.com' },
        authorizationEndpoint: { authorizationEndpoint: 'http://op.example.com/auth', clientId: 'c' },
        endSessionEndpoint: { endSessionEndpoint: 'http://op.example.com/end' },
        attachTo: { attachTo: ['http://api.example.com/api'] },
        attachToPrivateIp: { attachTo: ['https://ok.example', 'http://10.0.0.1'] },
      };
      const rejected = {};
      for (const [name, options] of Object.entries(bad)) {
        try {
          const c = await createTokenClient({ crossTab: false, ...options });
          c.dispose();
          rejected[name] = 'accepted';
        } catch (e) {
          rejected[name] = { name: e?.name, code: e?.code, namesOption: String(e?.message).includes(name.replace('PrivateIp', '')) };
        }
      }
      let loopback;
      try {
        const c = await createTokenClient({
          crossTab: false,
          tokenEndpoint: 'http://127.0.0.1:9/token',
          attachTo: ['http://localhost:1', 'http://127.0.0.5:2/api', 'http://[::1]:3', 'https://api.example.com'],
        });
        c.dispose();
        loopback = 'accepted';
      } catch (e) {
        loopback = `${e?.code}: ${e?.message}`;
      }
      const auth = await createTokenClient({ ...clientOptions, storageKey: 'leaks-args' });
      const onErrors = [];
      for (const [event, listener] of [[42, () => {}], [{}, () => {}], [null, () => {}], [undefined, () => {}], ['change', 42], ['nope', () => {}]]) {
        try {
          auth.on(event, listener);
          onErrors.push('accepted');
        } catch (e) {
          onErrors.push(`${e?.name}:${e?.code}`);
        }
      }
      let changes = 0;
      const off = auth.on('change', () => { changes += 1; });
      auth.setTokens(tokens);
      const token = await auth.accessToken();
      let offTwice = 'ok';
      try { off(); off(); } catch (e) { offTwice = `${e?.name}: ${e?.message}`; }
      auth.setTokens(tokens);
      // A listener removed by an earlier one during a dispatch is not called; one added
      // during it hears the next event only.
      const heard = [];
      let offB = () => {};
      const offA = auth.on('change', () => {
        heard.push('a');
        offB();
        auth.on('change', () => heard.push('c'));
        offA();
      });
      offB = auth.on('change', () => heard.push('b'));
      auth.setTokens(tokens);
      auth.setTokens(tokens);
      auth.dispose();
      const again = await createTokenClient({ ...clientOptions, storageKey: 'leaks-args-2' });
      again.dispose();
      return { rejected, loopback, onErrors, changes, gotToken: token === tokens.access_token, offTwice, heard };
    }, { clientOptions: stack.clientOptions, tokens });
    diagnostic(`options and arguments: ${JSON.stringify(out)}`);
    for (const [name, r] of Object.entries(out.rejected)) {
      assert.deepEqual(r, { name: 'TokenwardError', code: 'invalid_options', namesOption: true }, name);
    }
    assert.equal(out.loopback, 'accepted', 'loopback hosts may use http');
    assert.deepEqual(out.onErrors, Array(6).fill('TokenwardError:invalid_options'));
    assert.equal(out.gotToken, true, 'the module still works after the bad calls');
    assert.equal(out.changes, 1, 'the listener ran until it was removed');
    assert.equal(out.offTwice, 'ok', 'unsubscribing twice is a no-op');
    assert.deepEqual(out.heard, ['a', 'c'], 'removed during a dispatch: not called; added during it: the next event');
  } finally {
    await page.close().catch(() => {});
  }
}

// Redirects: an attached request never follows one (the browser would keep Authorization
// on a same-origin redirect to a path outside attachTo). The call rejects like a network
// error, and the redirect target is never asked with the token; a request outside
// attachTo follows redirects as fetch does; a caller's `redirect: 'manual'` is kept.
export async function attachedRequestsDoNotFollowRedirects(env) {
  const { stack, assert, diagnostic } = env;
  const { recorder } = stack;
  const [r0, r1] = recorder.origins;
  const to = (target) => encodeURIComponent(target);
  const cases = [
    { id: 'r1', url: `${r0}/api/redirect?to=${to(`${r0}/admin/x?t=r1t`)}&t=r1`, expect: 'rejected' },
    { id: 'r2', url: `${r0}/api/redirect?to=${to(`${r1}/api/x?t=r2t`)}&t=r2`, expect: 'rejected' },
    { id: 'r3', url: `${r0}/api/redirect?to=${to(`${r0}/api/y?t=r3t`)}&t=r3`, expect: 'rejected' },
    { id: 'r4', url: `${r0}/other/redirect?to=${to(`${r0}/admin/x?t=r4t`)}&t=r4`, expect: 200 },
    { id: 'r5', url: `${r0}/api/redirect?to=${to(`${r0}/admin/x?t=r5t`)}&t=r5`, redirect: 'manual', expect: 0 },
  ];
  const { page, tokens } = await signedInPage(env, 'leaks-redirects');
  try {
    recorder.reset();
    const outcomes = await page.evaluate(async (cases) => {
      const out = {};
      for (const c of cases) {
        try {
          const res = await window.auth.fetch(c.url, c.redirect ? { redirect: c.redirect } : undefined);
          out[c.id] = res.status;
        } catch (e) {
          out[c.id] = e instanceof TypeError ? 'rejected' : `${e?.name}: ${e?.message}`;
        }
      }
      return out;
    }, cases);
    const bearer = `Bearer ${tokens.access_token}`;
    const hits = (t) => recorder.requests.filter((r) => tagOf(r.path) === t);
    diagnostic(`redirects: ${JSON.stringify(outcomes)}; recorder: ${recorder.requests.map((r) => `${r.port}${r.path.split('?')[0]}:${r.authorization === bearer ? 'token' : 'none'}`).join(', ')}`);
    for (const c of cases) {
      assert.equal(outcomes[c.id], c.expect, `${c.id}: ${c.expect}`);
      assert.ok(hits(`${c.id}t`).every((r) => r.authorization !== bearer), `${c.id}: the redirect target never got the token`);
    }
    assert.equal(hits('r1')[0]?.authorization, bearer, 'the attached request itself carried the token');
    assert.equal(hits('r4t').length, 1, 'an unattached request follows its redirect');
  } finally {
    await closePage(page);
  }
}
