// The demo (`npm start`) driven in headless Chromium as a person would: sign in through
// the authorization server's login form, watch the countdown, call the API, refresh,
// open a second tab and watch the shared timeline (one refresh per token across tabs),
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
    assert.match(seen[0].authorization, /^DPoP [\w-]+\.[\w-]+\.[\w-]+$/);
    assert.ok(seen[0].jkt, 'the API verified a DPoP proof');
    assert.equal(await page.locator('#jkt').innerText(), seen[0].jkt, 'the page shows the key the token is bound to');
    const token = seen[0].authorization.split(' ')[1];
    assert.ok(!(await page.content()).includes(token), 'the page never shows the access token');

    // The timeline shows the token received at sign-in, obtained by this tab (A).
    await page.waitForSelector('#timeline .token-bar[data-tab="A"]');
    assert.equal(await page.locator('#tab-label').innerText(), 'Tab A');
  });

  test('a second tab joins the timeline; one refresh per token across tabs', async () => {
    const [second] = await Promise.all([
      context.waitForEvent('page'),
      page.click('#open-tab'),
    ]);
    second.on('console', (message) => logs.push(`[tab B ${message.type()}] ${message.text()}`));
    second.on('pageerror', (error) => logs.push(`[tab B pageerror] ${error.message}`));
    await second.waitForSelector('#status[data-status="signedIn"]');
    assert.equal(await second.locator('#sub').innerText(), USER, 'the second tab shares the session');
    await second.waitForFunction(() => document.querySelector('#tab-label').dataset.tab === 'B');

    // Both tabs list both tabs, and tab B learnt the history from before it opened.
    for (const tab of [page, second]) {
      await tab.waitForFunction(() => ['A', 'B'].every(
        (label) => document.querySelector(`#timeline .tab-label[data-tab="${label}"]`),
      ));
    }
    await second.waitForSelector('#timeline .token-bar[data-tab="A"]');

    // At least two refreshes (30 s tokens refresh 15 s before expiry), every one of them
    // known to both tabs: made by one (filled mark) and adopted by the other (hollow).
    const settled = () => {
      const marks = [...document.querySelectorAll('#timeline .refresh-mark')];
      const adopted = document.querySelectorAll('#timeline .adopt-mark').length;
      return marks.length >= 2 && marks.every((m) => m.dataset.tab !== '?') && adopted >= marks.length ? marks.length : 0;
    };
    await page.waitForFunction(settled, null, { timeout: 60_000, polling: 250 });
    await second.waitForFunction(settled, null, { timeout: 10_000, polling: 250 });

    const seen = (tab) => tab.evaluate(() => ({
      marks: [...document.querySelectorAll('#timeline .refresh-mark')].map((m) => m.dataset.tab),
      adopted: [...document.querySelectorAll('#timeline .adopt-mark')].map((m) => `${m.dataset.tab}<${m.dataset.from}`),
      bars: [...document.querySelectorAll('#timeline .token-bar')].map((b) => b.dataset.tab),
      here: [...document.querySelectorAll('#timeline .refresh-mark')].map((m) => m.dataset.here),
      labels: [...document.querySelectorAll('#timeline .tab-label')].map((l) => l.textContent),
      legend: document.querySelector('#timeline .legend').textContent,
      ticks: [...document.querySelectorAll('#timeline .axis text')].map((t) => t.textContent),
      text: document.querySelector('#timeline').textContent,
    }));
    const [a, b] = [await seen(page), await seen(second)];
    const requests = demo.auth.stats.tokenRequests - demo.auth.stats.codeExchanges;
    assert.equal(requests, demo.auth.stats.refreshRequests);
    assert.ok(requests >= 2, `refreshes counted by the authorization server: ${requests}`);
    assert.equal(a.marks.length, requests, 'one refresh mark per token request, in tab A');
    assert.equal(b.marks.length, requests, 'one refresh mark per token request, in tab B');
    assert.deepEqual(a.marks, b.marks, 'both tabs draw the same refreshes');
    assert.equal(a.bars.length, requests + 1, 'one bar per access token: the sign-in and each refresh');
    assert.deepEqual(a.bars, b.bars);
    for (const label of ['A', 'B']) {
      assert.ok(a.labels.some((l) => l.startsWith(`Tab ${label}`)), `tab ${label} has a row: ${a.labels}`);
      // each refresh is made by one tab and adopted by the other: both tabs are on the marks
      assert.ok([...a.marks, ...a.adopted.map((x) => x[0])].includes(label), `tab ${label} on the marks`);
    }
    for (const pair of a.adopted) assert.notEqual(pair[0], pair[2], `a tab never adopts its own refresh: ${pair}`);
    // Made here vs adopted: a mark is "here" in exactly the tab that made it.
    a.marks.forEach((tab, i) => {
      assert.equal(a.here[i], String(tab === 'A'));
      assert.equal(b.here[i], String(tab === 'B'));
    });
    assert.ok(a.labels.includes('Tab A (this tab)') && b.labels.includes('Tab B (this tab)'), `${a.labels} / ${b.labels}`);
    assert.match(a.legend, /access token.*refresh.*adopted.*now/);
    assert.ok(a.ticks.includes('0 s') && a.ticks.some((t) => /^[1-9]\d* s$/.test(t)), `axis ticks: ${a.ticks}`);
    assert.match(await page.locator('#tab-count').innerText(), /^2 tabs open/);

    // The now line moves.
    const nowX = () => page.locator('#timeline .now line').getAttribute('x1').then(Number);
    const before = await nowX();
    await page.waitForFunction((x) => Number(document.querySelector('#timeline .now line').getAttribute('x1')) > x, before);

    // The event log says which refreshes this tab made and which it adopted.
    const logText = await page.locator('#log').innerText();
    if (a.marks.includes('A')) assert.match(logText, /refresh made by this tab/);
    if (a.marks.includes('B')) assert.match(logText, /refresh adopted from another tab/);

    // No token strings anywhere in either tab.
    const tokens = demo.api.requests.map((r) => r.authorization?.split(' ')[1]).filter(Boolean);
    for (const tab of [page, second]) {
      const html = await tab.content();
      for (const token of tokens) assert.ok(!html.includes(token), 'the page never shows an access token');
    }

    await page.bringToFront();
    await page.screenshot({ path: await resultPath('demo.png'), fullPage: true });
    await second.close();
    await page.waitForFunction(() => document.querySelector('#timeline .tab-label[data-tab="B"]')?.textContent === 'Tab B (closed)');
  });

  test('refresh now, reload, sign out', async () => {
    const refreshes = () => [...document.querySelectorAll('#log b')].filter((b) => b.textContent === 'refresh').length;
    const before = await page.evaluate(refreshes);
    demo.auth.resetStats();
    await page.click('#refresh');
    await page.waitForFunction(`(${refreshes})() > ${before}`);
    assert.equal(demo.auth.stats.refreshOk, 1);
    const latest = await page.evaluate(() => [...document.querySelectorAll('#log li')]
      .find((li) => li.querySelector('b').textContent === 'refresh').textContent);
    assert.match(latest, /refresh made by this tab$/, 'the tab whose button was clicked made the refresh');

    await page.reload();
    await status('signedIn');
    assert.equal(await page.locator('#sub').innerText(), USER, 'the session survives a reload (local storage)');

    await page.click('#sign-out');
    await status('signedOut');
    assert.equal(demo.auth.stats.revocations, 1, 'sign-out revokes the refresh token');
    assert.equal(await page.locator('#sub').innerText(), '—');
    await page.waitForFunction(() => [...document.querySelectorAll('#log b')].some((b) => b.textContent === 'signedOut'));
    // The timeline cuts the last token's bar at the sign-out: the page forgot it there.
    await page.waitForSelector('#timeline .token-bar[data-ended="true"]', { state: 'attached' });
  });
});
