// Core scenarios of bad input: a corrupt stored record, setTokens with malformed or
// non-finite values, createTokenClient with options that cannot work. Each is refused
// with its TokenwardError code and changes nothing. Re-exported by core.mjs.

import { withPage } from './core-helpers.mjs';

// 8. A corrupt stored record: signed out, exactly one `error` event with code storage
//    (seen by listeners given in `on`), and the record is removed.
export async function corruptStoredRecord(env) {
  const { stack, assert, diagnostic } = env;
  const records = {
    garbage: '\u0000not json at all\uFFFF',
    truncated: '{"v":1,"access_token":"eyJhbGciOi',
    'unknown version': '{"v":99}',
    'wrong types': '{"v":1,"access_token":42,"token_type":"Bearer","received_at":"yesterday"}',
    'empty string': '',
  };
  const results = {};
  await withPage(env, async (page) => {
    for (const [name, record] of Object.entries(records)) {
      results[name] = await page.evaluate(async ({ options, record }) => {
        window.events = [];
        localStorage.setItem('tokenward', record);
        const auth = await window.makeClient(options);
        const out = {
          status: auth.status,
          expiresAt: auth.expiresAt,
          events: window.events.slice(),
          stored: localStorage.getItem('tokenward'),
        };
        auth.dispose();
        return out;
      }, { options: { ...stack.clientOptions, storage: 'local', storageKey: 'tokenward' }, record });
    }
    await page.evaluate(() => localStorage.removeItem('tokenward'));
  });
  diagnostic(`corrupt records: ${Object.entries(results).map(([name, r]) => `${name} → ${r.status}, `
    + `${r.events.map((e) => `${e.type}${e.code ? `:${e.code}` : ''}`).join('+') || 'no event'}, stored ${JSON.stringify(r.stored)}`).join('; ')}`);
  for (const [name, r] of Object.entries(results)) {
    assert.equal(r.status, 'signedOut', `${name}: starts signed out`);
    assert.equal(r.expiresAt, null, name);
    assert.equal(r.stored, null, `${name}: the bad record is removed`);
    if (name === 'empty string') continue; // nothing to report is also fine for an empty value
    assert.deepEqual(r.events.map((e) => [e.type, e.code, e.isTokenwardError]), [['error', 'storage', true]],
      `${name}: exactly one error event with code storage`);
  }
}

// setTokens with bad input throws TokenwardError('invalid_token_response') and changes
// nothing. Values JSON cannot carry (NaN, Infinity) are named here and built in the page.
async function setTokensRejects(env, label, bad) {
  const { stack, assert, diagnostic } = env;
  const storageKey = 'core-badtokens';
  stack.auth.setAccessTokenTtl(300);
  await withPage(env, async (page) => {
    const tokens = await stack.auth.login();
    const result = await page.evaluate(async ({ options, tokens, bad, storageKey }) => {
      const special = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY };
      const build = (v) => (v && typeof v === 'object' && v.expires_in in special ? { ...v, expires_in: special[v.expires_in] } : v);
      localStorage.removeItem(storageKey);
      window.auth = await window.makeClient(options);
      window.auth.setTokens(tokens);
      const snapshot = async () => ({
        status: window.auth.status,
        expiresAt: window.auth.expiresAt,
        stored: localStorage.getItem(storageKey),
        token: await window.auth.accessToken(),
        events: window.events.length,
      });
      const before = await snapshot();
      const outcomes = {};
      for (const [name, value] of Object.entries(bad)) {
        try {
          window.auth.setTokens(build(value));
          outcomes[name] = { threw: false, expiresAt: window.auth.expiresAt };
        } catch (e) {
          outcomes[name] = { threw: true, ...window.describeError(e) };
        }
      }
      const after = await snapshot();
      localStorage.removeItem(storageKey);
      return { before, after, outcomes };
    }, { options: { ...stack.clientOptions, storage: 'local', storageKey }, tokens, bad, storageKey });
    const wrong = Object.entries(result.outcomes)
      .filter(([, o]) => !(o.threw && o.code === 'invalid_token_response' && o.isTokenwardError));
    const total = Object.keys(bad).length;
    diagnostic(`setTokens (${label}): ${total} bad inputs, ${total - wrong.length} rejected with invalid_token_response`
      + `${wrong.length ? `; accepted or wrong error: ${wrong.map(([n, o]) => `${n} (${JSON.stringify(o)})`).join(', ')}` : ''}`);
    assert.deepEqual(wrong, [], 'every bad input throws TokenwardError invalid_token_response');
    assert.deepEqual(result.after, result.before, 'nothing changed: status, expiry, storage, token, no events');
  });
}

export function setTokensRejectsBadInput(env) {
  return setTokensRejects(env, 'malformed', {
    'no object': 'access_token=abc',
    null: null,
    'empty object': {},
    'empty access_token': { access_token: '' },
    'access_token with a space': { access_token: 'a b' },
    'access_token with a newline': { access_token: 'a\r\nX-Injected: 1' },
    'non-ASCII access_token': { access_token: 'tökén' },
    'numeric access_token': { access_token: 12345 },
    'negative expires_in': { access_token: 'abc', expires_in: -1 },
    'text expires_in': { access_token: 'abc', expires_in: 'soon' },
    'object expires_in': { access_token: 'abc', expires_in: { s: 1 } },
    'unsupported token_type': { access_token: 'abc', token_type: 'MAC' },
    'numeric refresh_token': { access_token: 'abc', refresh_token: 7 },
  });
}

// NaN and ±Infinity are typeof 'number' but not a number of seconds (API.md: "a
// non-numeric or negative expires_in" throws).
export function setTokensRejectsNonFiniteExpiry(env) {
  return setTokensRejects(env, 'non-finite expires_in', {
    'NaN expires_in': { access_token: 'abc', expires_in: 'NaN' },
    'Infinity expires_in': { access_token: 'abc', expires_in: 'Infinity' },
    '-Infinity expires_in': { access_token: 'abc', expires_in: '-Infinity' },
  });
}

// createTokenClient rejects options that cannot work with TokenwardError('invalid_options').
export async function createRejectsBadOptions(env) {
  const { stack, assert, diagnostic } = env;
  const bad = {
    'attachTo host without scheme': { attachTo: ['api.example.com'] },
    'attachTo relative path': { attachTo: ['/api'] },
    'attachTo ftp': { attachTo: ['ftp://api.example.com'] },
    'attachTo javascript:': { attachTo: ['javascript:alert(1)'] },
    'attachTo data:': { attachTo: ['data:text/plain,x'] },
    'attachTo with userinfo': { attachTo: ['https://user:pw@api.example.com'] },
    'attachTo with query': { attachTo: ['https://api.example.com/api?x=1'] },
    'attachTo with fragment': { attachTo: ['https://api.example.com/#f'] },
    'attachTo empty string': { attachTo: [''] },
    'attachTo non-string': { attachTo: [42] },
    'attachTo not an array': { attachTo: 'https://api.example.com' },
    'one bad entry among good ones': { attachTo: ['https://api.example.com', 'nope'] },
    'unknown storage': { storage: 'cookie' },
    'storage wrong case': { storage: 'Local' },
    'tokenEndpoint and refresh': { tokenEndpoint: stack.auth.tokenEndpoint, refresh: true },
    // Values JSON cannot carry, named here and made in the page, where data belongs.
    'storageKey a function': { storageKey: '$fn' },
    'crossTab a function': { crossTab: '$fn' },
    'attachTo a function': { attachTo: '$fn' },
    'an attachTo entry a function': { attachTo: ['$fn'] },
    'dpop a function': { dpop: '$fn' },
    'allowBearer a function': { dpop: { allowBearer: '$fn' } },
    'issuer a symbol': { issuer: '$sym' },
    'refreshLeadSeconds NaN': { refreshLeadSeconds: '$nan' },
    'sessionEndingLeadSeconds Infinity': { sessionEndingLeadSeconds: '$inf' },
    'maxSessionAgeSeconds a BigInt': { maxSessionAgeSeconds: '$big' },
    'crossTab a string': { crossTab: 'yes' },
    'refreshLeadSeconds a string': { refreshLeadSeconds: '60' },
    'refresh not a function': { refresh: 'x' },
    'now not a function': { now: 5 },
  };
  const outcomes = await withPage(env, (page) => page.evaluate(async (bad) => {
    const made = { $fn: () => 'x', $sym: Symbol('x'), $nan: Number.NaN, $inf: Number.POSITIVE_INFINITY, $big: 10n };
    const make = (v) => (typeof v === 'string' && v in made ? made[v]
      : Array.isArray(v) ? v.map(make)
        : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, make(x)])) : v);
    const out = {};
    for (const [name, options] of Object.entries(bad)) {
      const opts = make(options);
      if (opts.refresh === true) opts.refresh = async () => ({ access_token: 'x' });
      try {
        const client = await window.tokenward.createTokenClient(opts);
        client.dispose();
        out[name] = { threw: false };
      } catch (e) {
        out[name] = { threw: true, ...window.describeError(e) };
      }
    }
    return out;
  }, bad));
  const wrong = Object.entries(outcomes).filter(([, o]) => !(o.threw && o.code === 'invalid_options' && o.isTokenwardError));
  diagnostic(`createTokenClient: ${Object.keys(bad).length} bad option sets, ${Object.keys(bad).length - wrong.length} `
    + `rejected with invalid_options${wrong.length ? `; not: ${wrong.map(([n, o]) => `${n} (${JSON.stringify(o)})`).join(', ')}` : ''}`);
  assert.deepEqual(wrong, [], 'every bad option set rejects with TokenwardError invalid_options');
}
