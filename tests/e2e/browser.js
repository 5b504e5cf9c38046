// The browser the tests drive: Debian's chromium (the default) or Debian's firefox-esr
// (E2E_BROWSER=firefox), headless, never a browser Playwright downloads.
//
// Chromium is driven by playwright-core over CDP. Firefox is driven over WebDriver BiDi, the
// protocol Firefox ships with: Debian's ESR (140) lacks the BiDi commands playwright-core 1.56
// and later send at launch, so Firefox is driven by the 1.55 line, installed beside the
// current one under the name `playwright-core-firefox`, through its BiDi browser type.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import firefoxPlaywright from 'playwright-core-firefox';

/** Which browser this run drives: `chromium` or `firefox`. */
export const BROWSER = process.env.E2E_BROWSER || 'chromium';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Firefox preferences that keep a headless run off the network and free of first-run pages. */
const FIREFOX_PREFS = {
  'app.update.enabled': false,
  'browser.shell.checkDefaultBrowser': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'toolkit.telemetry.enabled': false,
};

const VIEWPORT = { width: 1280, height: 860 };

/**
 * A browser context with a fresh profile: `{ name, context, close() }`. Fails loudly when the
 * browser is not installed or cannot start.
 */
export async function launchBrowser() {
  if (BROWSER === 'firefox') return launchFirefox();
  if (BROWSER !== 'chromium') throw new Error(`E2E_BROWSER=${BROWSER}: expected chromium or firefox`);
  return launchChromium();
}

async function launchChromium() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`chromium is not installed at ${CHROMIUM}: run scripts/e2e.sh (it installs Debian's chromium) or set CHROMIUM`);
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-e2e-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: VIEWPORT,
      timeout: 60000,
    });
  } catch (e) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw new Error(`chromium (${CHROMIUM}) could not start: ${e.message}`);
  }
  return {
    name: 'chromium',
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

async function launchFirefox() {
  if (!fs.existsSync(FIREFOX)) {
    throw new Error(`firefox is not installed at ${FIREFOX}: run scripts/e2e.sh (it installs Debian's firefox-esr) or set FIREFOX`);
  }
  let browser;
  try {
    browser = await firefoxPlaywright._bidiFirefox.launch({
      executablePath: FIREFOX,
      headless: true,
      firefoxUserPrefs: FIREFOX_PREFS,
      timeout: 60000,
    });
  } catch (e) {
    throw new Error(`firefox (${FIREFOX}) could not start: ${e.message}`);
  }
  const context = await browser.newContext({ viewport: VIEWPORT });
  // Over BiDi, playwright-core evaluates the tests' scripts with the page's own `eval`, which
  // the UI's CSP (no `unsafe-eval`) refuses, and Firefox has no switch to let them through.
  // So here the CSP header is taken off the answers; the CSP itself is tested in Chromium,
  // whose protocol evaluates outside the page's rules.
  await context.route('**/*', async (route) => {
    // Pages are GETs; other requests go through untouched (their bodies included).
    if (route.request().method() !== 'GET') {
      await route.continue();
      return;
    }
    const response = await route.fetch();
    const headers = response.headers();
    delete headers['content-security-policy'];
    await route.fulfill({ response, headers });
  });
  return {
    name: 'firefox',
    context,
    async close() {
      await context.close();
      await browser.close();
    },
  };
}
