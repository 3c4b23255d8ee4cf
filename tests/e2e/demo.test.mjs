// The demo (`npm start`) driven in headless Chromium as a person would: sign in through
// the authorization server's login form, watch the countdown, call the API, refresh,
// reload, sign out. Needs the built package (dist/); builds it when missing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';

import { startDemo } from '../../scripts/start.mjs';
import { ensureBuilt, launchBrowser, resultPath } from './harness.mjs';

const USER = 'carol';

describe('demo page', () => {
  let demo;
  let context;
  let page;
  const logs = [];
  const status = (value) => page.waitForSelector(`#status[data-status="${value}"]`);

  before(async () => {
    await ensureBuilt();
    demo = await startDemo({ port: 0, authPort: 0, apiPort: 0 });
    context = await launchBrowser();
    page = await context.newPage();
    page.on('console', (message) => logs.push(`[${message.type()}] ${message.text()}`));
    page.on('pageerror', (error) => logs.push(`[pageerror] ${error.message}`));
    page.on('response', (res) => { if (res.status() >= 400) logs.push(`[http ${res.status()}] ${res.url()}`); });
  });

  after(async () => {
    if (page) {
      await page.screenshot({ path: await resultPath('demo-last.png'), fullPage: true }).catch(() => {});
      const events = await page.locator('#log').innerText().catch(() => '');
      await writeFile(await resultPath('demo.log'), `${logs.join('\n')}\n--- event log ---\n${events}\n`);
    }
    await context?.close();
    await demo?.close();
  });

  test('sign in through the login form, see the countdown, call the API', async () => {
    await page.goto(demo.url);
    await status('signedOut');

    await page.click('#sign-in');
    await page.waitForURL((url) => url.href.startsWith(`${demo.auth.issuer}/interaction/`));
    await page.fill('input[name="login"]', USER);
    await page.fill('input[name="password"]', 'any password');
    await page.click('button[type="submit"]');
    await page.waitForSelector('input[name="prompt"][value="consent"], #status', { state: 'attached' });
    if (await page.locator('input[name="prompt"][value="consent"]').count()) {
      await page.click('button[type="submit"]');
    }

    await status('signedIn');
    assert.equal(new URL(page.url()).search, '', 'code and state are removed from the address bar');
    assert.equal(await page.locator('#sub').innerText(), USER);
    await page.waitForFunction(() => Number(document.querySelector('#countdown').dataset.seconds) > 0);
    const countdown = await page.locator('#countdown').innerText();
    assert.match(countdown, /^\d+\.\d s$/);
    assert.ok(Number.parseFloat(countdown) <= 30, countdown);
    assert.equal(demo.auth.stats.codeExchanges, 1);

    await page.click('#call-api');
    await page.waitForSelector('#api-result[data-status="200"]');
    const answer = await page.locator('#api-result').innerText();
    const body = JSON.parse(answer.slice(answer.indexOf('{')));
    assert.equal(body.sub, USER);
    assert.equal(body.scope, 'api:read');

    const seen = demo.api.requests.filter((r) => r.method === 'GET' && r.path === '/api/me');
    assert.equal(seen.length, 1);
    assert.match(seen[0].authorization, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const token = seen[0].authorization.split(' ')[1];
    assert.ok(!(await page.content()).includes(token), 'the page never shows the access token');
    await page.screenshot({ path: await resultPath('demo.png'), fullPage: true });
  });

  test('refresh now, reload, sign out', async () => {
    demo.auth.resetStats();
    await page.click('#refresh');
    await page.waitForFunction(() => [...document.querySelectorAll('#log b')].some((b) => b.textContent === 'refresh'));
    assert.equal(demo.auth.stats.refreshOk, 1);

    await page.reload();
    await status('signedIn');
    assert.equal(await page.locator('#sub').innerText(), USER, 'the session survives a reload (local storage)');

    await page.click('#sign-out');
    await status('signedOut');
    assert.equal(demo.auth.stats.revocations, 1, 'sign-out revokes the refresh token');
    assert.equal(await page.locator('#sub').innerText(), '—');
    await page.waitForFunction(() => [...document.querySelectorAll('#log b')].some((b) => b.textContent === 'signedOut'));
  });
});
