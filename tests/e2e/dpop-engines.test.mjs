// DPoP in Firefox (ESR, geckodriver) and WebKit (WebKitGTK MiniBrowser, WebKitWebDriver,
// Xvfb) through the WebDriver adapter of engines.mjs: the shared scenario of
// scenarios/dpop.mjs (sign-in with nonces, API call, refresh, reload, sign-out) against
// the DPoP stack. An engine that is not installed is reported as skipped with the reason.
// Knob: TOKENWARD_ENGINES=firefox,webkit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';

import { appHtml, resultPath, startStack } from './harness.mjs';
import { engines, openApp as openWebDriverApp } from './engines.mjs';
import { APP_SCRIPT, keyFollowsTheSession } from './scenarios/dpop.mjs';

const selected = (process.env.TOKENWARD_ENGINES || 'firefox,webkit').split(',').map((s) => s.trim()).filter(Boolean);

for (const name of ['firefox', 'webkit']) {
  const engine = engines[name];
  const missing = selected.includes(name) ? engine.unavailable() : `not in TOKENWARD_ENGINES=${selected.join(',')}`;

  describe(`DPoP in ${engine.title} (WebDriver)`, { skip: missing ? `${engine.title} skipped: ${missing}` : false }, () => {
    let stack;
    let context;
    const logs = [];

    before(async () => {
      stack = await startStack({ accessTokenTtl: 300, dpop: true, html: appHtml({ script: APP_SCRIPT }) });
      context = await engine.launch();
    });

    after(async () => {
      await writeFile(await resultPath(`dpop-engines-${name}.log`), `${logs.join('\n')}\n--- auth server events ---\n${
        JSON.stringify(stack?.auth.events ?? [], null, 1)}\n`).catch(() => {});
      await context?.close();
      await stack?.close();
    });

    test(`${engine.title}: the key follows the session (sign-in, call, refresh, reload, sign-out)`, async (t) => {
      try {
        await keyFollowsTheSession({
          context,
          stack,
          openApp: (ctx, url) => openWebDriverApp(ctx, url, { logs }),
          assert,
          diagnostic: (message) => t.diagnostic(`[${name}] ${context.info.browserName} ${context.info.browserVersion}: ${message}`),
        });
      } finally {
        for (const page of context.pagesList()) await page.close().catch(() => {});
      }
    });
  });
}
