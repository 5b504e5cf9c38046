// End-to-end tests of the web UI at /ui: a real Berth (target/debug/berth) with access control,
// filled over HTTP, driven in Debian's chromium (or firefox-esr, E2E_BROWSER=firefox) through
// playwright-core.
//
// Run: scripts/e2e.sh (installs what is missing, builds berth, runs both browsers), or
// `npm test` here once berth is built and the browser installed. Screenshots go to
// target/e2e/screenshots/ (Firefox's to its firefox/ folder).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, Registry, USERS, startBerth } from './berth.js';
import { BROWSER, launchBrowser } from './browser.js';
import { SIGNATURE_VALUE, seed } from './fixtures.js';

// Chromium's screenshots at the top, another browser's in a folder named after it.
const SHOTS_ROOT = process.env.E2E_SCREENSHOTS || path.join(ROOT, 'target', 'e2e', 'screenshots');
const SHOTS = BROWSER === 'chromium' ? SHOTS_ROOT : path.join(SHOTS_ROOT, BROWSER);

let server;
let browser;
let admin;
let pushed;

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  server = await startBerth();
  admin = new Registry(server.base, 'root', USERS.root);
  pushed = await seed(admin);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

const USERS_ROOT_PASSWORD = USERS.root;
const short = (digest) => `${digest.slice(0, 7)}${digest.slice(7, 19)}`;
const LONG_TAG = 'release-candidate-2026-11-03-build-0123456789abcdef0123456789abcdef-linux-amd64-debug-symbols';

/**
 * A fresh tab (its own sessionStorage: nobody signed in) that records page errors and CSP
 * violations; `check()` fails the test on any.
 */
async function openPage({ width = 1280, height = 860 } = {}) {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width, height });
  page.setDefaultTimeout(15000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() === 'error' && !/Failed to load resource: the server responded with a status of (401|403|404)/.test(text)) {
      problems.push(`console error: ${text}`);
    }
    if (/Content Security Policy/i.test(text)) problems.push(`CSP: ${text}`);
  });
  page.check = () => assert.deepEqual(problems, [], 'no page errors or CSP violations');
  return page;
}

/**
 * The address the page shows. Asked of the page itself: over BiDi, playwright-core's
 * `page.url()` misses the UI's `history.pushState` navigations.
 */
async function here(page) {
  return new URL(await page.evaluate(() => window.location.href));
}

async function signIn(page, user, { from = '/ui/login' } = {}) {
  if (from) await page.goto(`${server.base}${from}`);
  await page.locator('#login-user').fill(user);
  await page.locator('#login-password').fill(USERS[user]);
  await page.locator('form.login-form button[type="submit"]').click();
  await page.locator('.user-name', { hasText: user }).waitFor();
}

async function shot(page, name, options = {}) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true, ...options });
}

function rowTexts(page, selector) {
  return page.locator(selector).evaluateAll((rows) => rows.map((row) => row.textContent.replace(/\s+/g, ' ').trim()));
}

describe('Berth UI', () => {
  test('the server serves the UI under its CSP, and / leads to it', async () => {
    const response = await fetch(`${server.base}/ui/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /text\/html/);
    const csp = response.headers.get('content-security-policy') || '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'/);
    const deep = await fetch(`${server.base}/ui/r/demo/app`);
    assert.equal(deep.status, 200, 'unknown paths under /ui/ answer index.html');
    assert.match(await deep.text(), /<main id="main"/);
    const js = await fetch(`${server.base}/ui/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type'), /javascript/);
    const home = await fetch(`${server.base}/`, { redirect: 'manual' });
    assert.ok([301, 302, 303, 307, 308].includes(home.status), `/ redirects (got ${home.status})`);
    assert.match(home.headers.get('location'), /\/ui\/?$/);
  });

  test('an anonymous visitor gets the login form, and signing in shows the page asked for', async () => {
    const page = await openPage();
    await page.goto(`${server.base}/ui/r/demo/app`);
    await page.locator('h1', { hasText: 'Sign in' }).waitFor();
    assert.equal(await page.title(), 'Sign in · Berth');
    await shot(page, 'login');
    await signIn(page, 'root', { from: null });
    await page.locator('h1', { hasText: 'demo/app' }).waitFor();
    assert.equal(await page.title(), 'demo/app · Berth');
    assert.equal((await here(page)).pathname, '/ui/r/demo/app');
    // The tab keeps a bearer token (and its refresh token) from the token service, never the password.
    const stored = await page.evaluate(() => JSON.stringify(sessionStorage));
    assert.ok(!stored.includes(USERS_ROOT_PASSWORD), 'the password is not stored');
    const auth = JSON.parse(await page.evaluate(() => sessionStorage.getItem('berth.auth')));
    assert.equal(auth.mode, 'bearer');
    assert.equal(auth.user, 'root');
    assert.match(auth.token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
    page.check();
    await page.close();
  });

  test('a wrong password is refused with a message', async () => {
    const page = await openPage();
    await page.goto(`${server.base}/ui/login`);
    await page.locator('#login-user').fill('alice');
    await page.locator('#login-password').fill('not-the-password');
    await page.locator('form.login-form button[type="submit"]').click();
    await page.locator('#login-error', { hasText: /wrong user name or password/i }).waitFor();
    assert.equal(await page.locator('.user-name').count(), 0);
    page.check();
    await page.close();
  });

  test('the repository list shows every repository with counts, sizes and last push', async () => {
    const page = await openPage();
    await signIn(page, 'root');
    await page.goto(`${server.base}/ui/`);
    await page.locator('table.repos tbody tr').first().waitFor();
    assert.equal(await page.title(), 'Repositories · Berth');
    const names = await page.locator('table.repos tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.repository));
    assert.deepEqual(names, ['demo/app', 'demo/multi', 'tools/cli']);
    const cells = async (name) => page.locator(`tr[data-repository="${name}"] > *`).allTextContents();
    // name, tags, manifests, size, last push
    const app = await cells('demo/app');
    assert.equal(app[1], '2', 'demo/app has v1 and latest');
    assert.equal(app[2], '4', 'demo/app: the image, the SBOM, its signature, the attestation');
    assert.match(app[3], /^\d+(\.\d)? KiB$/, 'human-readable size');
    assert.notEqual(app[4], 'never');
    const multi = await cells('demo/multi');
    assert.equal(multi[1], '1');
    assert.equal(multi[2], '3', 'the index and its two platform images');
    const cli = await cells('tools/cli');
    assert.equal(cli[1], '1');
    assert.equal(cli[2], '2', 'the image and its signature');
    await shot(page, 'repositories');
    page.check();
    await page.close();
  });

  test('search filters the repository list', async () => {
    const page = await openPage();
    await signIn(page, 'root');
    await page.locator('table.repos tbody tr').first().waitFor();
    await page.locator('#repo-search').fill('MULTI');
    await page.waitForFunction(() => document.querySelectorAll('table.repos tbody tr').length === 1);
    assert.deepEqual(await page.locator('table.repos tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.repository)), ['demo/multi']);
    assert.equal((await here(page)).searchParams.get('q'), 'MULTI');
    await page.locator('#repo-search').fill('demo');
    await page.waitForFunction(() => document.querySelectorAll('table.repos tbody tr').length === 2);
    await page.locator('#repo-search').fill('nothing-like-this');
    await page.locator('#repo-count', { hasText: 'No repository matches' }).waitFor();
    // The filter is part of the address: a reload keeps it.
    await page.goto(`${server.base}/ui/?q=tools`);
    await page.waitForFunction(() => document.querySelectorAll('table.repos tbody tr').length === 1);
    assert.equal(await page.locator('#repo-search').inputValue(), 'tools');
    page.check();
    await page.close();
  });

  test('the lists are paged', async () => {
    const page = await openPage();
    await signIn(page, 'root');
    const listed = () => page.locator('table.repos tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.repository));
    await page.goto(`${server.base}/ui/?n=2`);
    await page.locator('table.repos tbody tr').first().waitFor();
    assert.deepEqual(await listed(), ['demo/app', 'demo/multi']);
    await page.locator('nav.pager a[rel="next"]').click();
    await page.waitForFunction(() => document.querySelector('table.repos tbody tr')?.dataset.repository === 'tools/cli');
    assert.deepEqual(await listed(), ['tools/cli']);
    assert.equal(await page.locator('nav.pager a[rel="next"]').count(), 0);
    await page.locator('nav.pager a[rel="first"]').click();
    await page.waitForFunction(() => document.querySelector('table.repos tbody tr')?.dataset.repository === 'demo/app');

    const tags = () => page.locator('table.tags tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.tag));
    await page.goto(`${server.base}/ui/r/demo/app?n=1`);
    await page.locator('table.tags tbody tr').first().waitFor();
    assert.deepEqual(await tags(), ['latest']);
    assert.match(await page.locator('#tag-count').textContent(), /^2 tags, 1 on this page/, 'the exact count, not "1+ tags"');
    await page.locator('nav.pager a[rel="next"]').click();
    await page.waitForFunction(() => document.querySelector('table.tags tbody tr')?.dataset.tag === 'v1');
    assert.deepEqual(await tags(), ['v1']);
    assert.match(await page.locator('#tag-count').textContent(), /^2 tags, 1 on this page/);
    page.check();
    await page.close();
  });

  test('keyboard: the search box and the links are reached with Tab, with a visible focus', async () => {
    const page = await openPage();
    await signIn(page, 'root');
    await page.goto(`${server.base}/ui/`);
    await page.locator('table.repos tbody tr').first().waitFor();
    const reached = [];
    let linkOutline = null;
    for (let i = 0; i < 30; i += 1) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const el = document.activeElement;
        const style = getComputedStyle(el);
        return { id: el.id, tag: el.tagName, cls: el.className, text: el.textContent.trim(), outline: style.outlineStyle, width: style.outlineWidth };
      });
      reached.push(focused);
      if (focused.cls === 'repo-link' && !linkOutline) linkOutline = focused;
    }
    assert.ok(reached.some((f) => f.id === 'repo-search'), `the search box is reached by Tab: ${JSON.stringify(reached.map((f) => f.id || f.text))}`);
    assert.ok(linkOutline, 'a repository link is reached by Tab');
    assert.notEqual(linkOutline.outline, 'none', 'the focused link shows an outline');
    // Enter on a focused link follows it.
    await page.locator('a.repo-link', { hasText: 'tools/cli' }).focus();
    await page.keyboard.press('Enter');
    await page.locator('h1', { hasText: 'tools/cli' }).waitFor();
    assert.equal((await here(page)).pathname, '/ui/r/tools/cli');
    page.check();
    await page.close();
  });

  test('the repository page shows the tags with digests, platforms and badges, sortable', async () => {
    const page = await openPage();
    await signIn(page, 'root');
    await page.goto(`${server.base}/ui/r/demo/app`);
    await page.locator('table.tags tbody tr').first().waitFor();
    const tags = () => page.locator('table.tags tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.tag));
    assert.deepEqual(await tags(), ['latest', 'v1']);
    const v1 = page.locator('tr[data-tag="v1"]');
    assert.equal(await v1.locator('code.digest').textContent(), short(pushed.app));
    assert.equal(await v1.locator('code.digest').getAttribute('title'), pushed.app);
    assert.deepEqual(await v1.locator('.badge').allTextContents(), ['SBOM', 'Attestation'], 'direct referrers: an SBOM and an attestation (the signature is on the SBOM)');
    assert.match(await v1.locator('td[data-label="Platforms"]').textContent(), /linux\/amd64/);
    assert.match(await v1.locator('td[data-label="Size"]').textContent(), /\d+ B|KiB/);
    assert.ok(await page.locator('button[aria-label="Delete tag v1"]').count(), 'the admin may delete');
    await shot(page, 'repository');

    await page.locator('nav.sort a', { hasText: 'Name Z–A' }).click();
    await page.waitForFunction(() => document.querySelector('table.tags tbody tr')?.dataset.tag === 'v1');
    assert.deepEqual(await tags(), ['v1', 'latest']);
    assert.equal((await here(page)).searchParams.get('sort'), '-name');
    await page.locator('nav.sort a', { hasText: 'Newest first' }).click();
    await page.waitForFunction(() => document.querySelector('table.tags tbody tr')?.dataset.tag === 'latest');
    await page.locator('nav.sort a', { hasText: 'Oldest first' }).click();
    await page.waitForFunction(() => document.querySelector('table.tags tbody tr')?.dataset.tag === 'v1');

    await page.goto(`${server.base}/ui/r/tools/cli`);
    await page.locator('tr[data-tag="2.1"]').waitFor();
    assert.deepEqual(await page.locator('tr[data-tag="2.1"] .badge').allTextContents(), ['Signed']);

    await page.goto(`${server.base}/ui/r/demo/multi`);
    const index = page.locator('tr[data-tag="1.0"]');
    await index.waitFor();
    assert.match(await index.locator('.kind').textContent(), /index/i);
    assert.deepEqual(await index.locator('.platforms li').allTextContents(), ['linux/amd64', 'linux/arm64/v8']);
    page.check();
    await page.close();
  });

  test('the manifest page shows config, layers, pull commands, the SBOM and the referrers graph', async () => {
    const page = await openPage();
    // Reading the clipboard back needs a permission only Chromium grants to a page; Firefox
    // asks the user, so there the test sees the copy confirmed and no more.
    const readsClipboard = browser.name === 'chromium';
    if (readsClipboard) {
      await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
    }
    await signIn(page, 'root');
    await page.goto(`${server.base}/ui/r/demo/app`);
    await page.locator('tr[data-tag="v1"] a.tag-link').click();
    await page.locator('h1.manifest-title').waitFor();
    assert.equal((await here(page)).pathname, `/ui/m/demo/app@${pushed.app}`);
    assert.equal(await page.title(), `demo/app@${short(pushed.app)} · Berth`);
    assert.equal(await page.locator('#overview code.digest-full').textContent(), pushed.app);

    // layers and config
    const layers = await page.locator('#layers tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.digest));
    assert.deepEqual(layers, pushed.appLayers.map((l) => l.digest));
    assert.match(await page.locator('#layers tbody tr').first().textContent(), /layer-0\.tar\.gz/);
    assert.match(await page.locator('#config').textContent(), /OCI image config/);
    assert.match(await page.locator('#annotations').textContent(), /https:\/\/example\.com\/demo\/app/);

    // pull commands, copyable
    const docker = page.locator('#pull li[data-client="docker"]');
    const command = (await docker.locator('code').textContent()).trim();
    assert.match(command, new RegExp(`^docker pull \\S+/demo/app@${pushed.app}$`));
    for (const client of ['oras', 'podman', 'skopeo', 'crane']) {
      assert.match(await page.locator(`#pull li[data-client="${client}"] code`).textContent(), new RegExp(`demo/app@${pushed.app}`));
    }

    // the SBOM's format and package count
    assert.match(await page.locator('#sboms').textContent(), /SPDX[^·]*· 3 packages/);

    // the graph: signature under the SBOM under the image; the attestation beside the SBOM
    const root = page.locator('#graph li.tree-root');
    await root.waitFor();
    const sbomNode = root.locator(`li.tree-node[data-digest="${pushed.sbom}"]`);
    const sigNode = sbomNode.locator(`li.tree-node[data-digest="${pushed.signature}"]`);
    const attNode = root.locator(`li.tree-node[data-digest="${pushed.attestation}"]`);
    await sigNode.waitFor();
    assert.equal(await attNode.count(), 1);
    assert.equal(await sbomNode.locator(`li.tree-node[data-digest="${pushed.attestation}"]`).count(), 0, 'the attestation is not under the SBOM');
    const groupNames = await page.locator('#graph .group-name').allTextContents();
    assert.deepEqual(groupNames.sort(), ['Cosign signature', 'In-toto attestation', 'SPDX SBOM (JSON)']);
    assert.match(await sbomNode.locator('> .node .sbom-info').textContent(), /3 packages/);
    // what only the embedded manifest bytes say: the signature layer's annotation
    const sigBox = sigNode.locator('> .node');
    assert.match(await sigBox.locator('dl').first().textContent(), /Created/);
    assert.match(await sigBox.textContent(), new RegExp(`Signature${SIGNATURE_VALUE}`));
    assert.match(await attNode.locator('> .node').textContent(), /Predicate typehttps:\/\/slsa\.dev\/provenance\/v1/);
    await shot(page, 'manifest-graph');

    // the copy button puts the command on the clipboard
    await docker.locator('button.copy').click();
    await page.locator('.toast', { hasText: 'Copied' }).waitFor();
    if (readsClipboard) assert.equal(await page.evaluate(() => navigator.clipboard.readText()), command);

    // the manifests embedded page by page (`dataNext`, `Link`) when they exceed max_bytes
    const paged = await page.evaluate(async (digest) => {
      const { api } = await import('/ui/api.js');
      const tree = await api.graph('demo/app', digest, { maxBytes: 1 });
      const nodes = [];
      const walk = (list) => (list || []).forEach((n) => { nodes.push(n); walk(n.referrers); });
      walk(tree.referrers);
      return { pages: tree.pages, complete: tree.complete, nodes: nodes.length, withData: nodes.filter((n) => n.data).length };
    }, pushed.app);
    assert.deepEqual(paged, { pages: 3, complete: true, nodes: 3, withData: 3 }, 'one manifest per page at max_bytes=1');

    // a node links to its own manifest page, whose subject links back
    await sigNode.locator('a.node-link').click();
    await page.locator('#overview').waitFor();
    assert.equal((await here(page)).pathname, `/ui/m/demo/app@${pushed.signature}`);
    assert.match(await page.locator('#overview').textContent(), /Cosign signature/);
    await page.locator('#overview a', { hasText: short(pushed.sbom) }).click();
    await page.waitForFunction((d) => location.pathname.endsWith(d), pushed.sbom);
    page.check();
    await page.close();
  });

  test("an index's page lists its platforms and links to each child manifest", async () => {
    const page = await openPage();
    await signIn(page, 'root');
    await page.goto(`${server.base}/ui/m/demo/multi:1.0`);
    await page.locator('#platforms tbody tr').first().waitFor();
    const platforms = await page.locator('#platforms tbody th').allTextContents();
    assert.deepEqual(platforms, ['linux/amd64', 'linux/arm64/v8']);
    // nothing refers to the index: its header shows no badges, and no dash in their place
    assert.equal(await page.locator('.page-head .badges').count(), 0);
    assert.ok(!(await page.locator('.page-head').textContent()).includes('—'), 'no stray dash in the header');
    assert.equal(await page.title(), `demo/multi@${short(pushed.index)} · Berth`);
    await page.locator(`#platforms tr[data-digest="${pushed.arm64}"] a`).click();
    await page.locator('#layers tbody tr').first().waitFor();
    assert.equal((await here(page)).pathname, `/ui/m/demo/multi@${pushed.arm64}`);
    assert.equal(await page.locator('#layers tbody tr').count(), 1);
    assert.match(await page.locator('#overview').textContent(), /linux\/arm64\/v8/);
    assert.ok(!(await page.locator('.page-head').textContent()).includes('—'), 'no tags, no referrers, no dash');
    page.check();
    await page.close();
  });

  test('a user who may pull one repository sees only it, and a denied page for another', async () => {
    const page = await openPage();
    await signIn(page, 'bob');
    await page.goto(`${server.base}/ui/`);
    await page.locator('table.repos tbody tr').first().waitFor();
    assert.deepEqual(await page.locator('table.repos tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.repository)), ['tools/cli']);
    assert.equal(await page.locator('nav#nav a', { hasText: 'Garbage collection' }).count(), 0, 'no admin link');

    await page.goto(`${server.base}/ui/r/tools/cli`);
    await page.locator('tr[data-tag="2.1"]').waitFor();
    assert.equal(await page.locator('button', { hasText: 'Delete' }).count(), 0, 'bob may not delete');

    for (const where of ['/ui/r/demo/app', `/ui/m/demo/app@${pushed.app}`, '/ui/gc']) {
      await page.goto(`${server.base}${where}`);
      await page.locator('h1', { hasText: 'Not allowed' }).waitFor();
      assert.equal(await page.title(), 'Not allowed · Berth');
      assert.equal(await page.locator('main').getByText(pushed.app.slice(7, 19)).count(), 0, 'nothing of the repository is shown');
    }
    await shot(page, 'denied');

    await page.locator('#logout').click();
    await page.locator('#login-link').waitFor();
    page.check();
    await page.close();
  });

  test('without a token service the UI falls back to Basic credentials on each request', async () => {
    const page = await openPage();
    // The token endpoint answers as a server without a token service does (404 UNSUPPORTED).
    await page.route('**/berth/v1/token**', (route) => route.fulfill({
      status: 404,
      contentType: 'application/json',
      body: JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'the token endpoint is not configured on this server' }] }),
    }));
    await signIn(page, 'alice');
    const auth = JSON.parse(await page.evaluate(() => sessionStorage.getItem('berth.auth')));
    assert.equal(auth.mode, 'basic');
    await page.goto(`${server.base}/ui/`);
    await page.locator('table.repos tbody tr').first().waitFor();
    assert.deepEqual(await page.locator('table.repos tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.repository)), ['demo/app', 'demo/multi']);
    await page.goto(`${server.base}/ui/r/demo/multi`);
    await page.locator('tr[data-tag="1.0"]').waitFor();
    assert.equal(await page.locator('button[aria-label="Delete tag 1.0"]').count(), 1, 'alice may delete in demo/*');
    await page.goto(`${server.base}/ui/r/tools/cli`);
    await page.locator('h1', { hasText: 'Not allowed' }).waitFor();
    page.check();
    await page.close();
  });

  test('admins see the collection status and can run a dry run', async () => {
    const page = await openPage();
    await signIn(page, 'root');
    await page.locator('nav#nav a', { hasText: 'Garbage collection' }).click();
    await page.locator('h1', { hasText: 'Garbage collection' }).waitFor();
    await page.locator('#gc-report').waitFor();
    // GET /berth/v1/gc answers 404 until a collection ran: a state, not an error
    await page.locator('#gc-none', { hasText: 'No collection has run' }).waitFor();
    await page.locator('#gc-dry-run').click();
    await page.locator('#gc-report h2', { hasText: 'dry run' }).waitFor();
    assert.match(await page.locator('#gc-report').textContent(), /Blobs to delete/);
    await shot(page, 'gc-dry-run');
    // a real collection asks first; Escape cancels it
    await page.locator('#gc-run').click();
    await page.locator('dialog[open]').waitFor();
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('dialog[open]'));
    assert.equal(await page.locator('#gc-report h2').textContent(), 'Dry run: nothing was deleted');
    await page.locator('#gc-run').click();
    await page.locator('dialog[open] button', { hasText: /^Collect$/ }).click();
    await page.waitForFunction(() => /^Collection$/.test(document.querySelector('#gc-report h2')?.textContent || ''));
    // the page shows the last collection when opened again
    await page.reload();
    await page.locator('#gc-report h2', { hasText: 'Last collection' }).waitFor();
    page.check();
    await page.close();
  });

  test('a very long tag name breaks, while sizes and times stay on one line', async () => {
    // tools/cli:2.1 tagged once more, with a long name
    const got = await admin.request('GET', '/v2/tools/cli/manifests/2.1', { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(got.status, 200);
    const put = await admin.request('PUT', `/v2/tools/cli/manifests/${LONG_TAG}`, {
      body: Buffer.from(await got.arrayBuffer()),
      headers: { 'Content-Type': got.headers.get('content-type') },
    });
    assert.equal(put.status, 201);
    const page = await openPage();
    await signIn(page, 'root');
    await page.goto(`${server.base}/ui/r/tools/cli`);
    await page.locator(`tr[data-tag="${LONG_TAG}"]`).waitFor();
    const lines = await page.evaluate((tag) => {
      const row = document.querySelector(`tr[data-tag="${tag}"]`);
      const count = (el) => {
        const range = document.createRange();
        range.selectNodeContents(el);
        return new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.bottom))).size;
      };
      return {
        tag: count(row.querySelector('a.tag-link')),
        size: count(row.querySelector('td[data-label="Size"]')),
        pushed: count(row.querySelector('td[data-label="Pushed"]')),
        overflow: document.documentElement.scrollWidth - window.innerWidth,
      };
    }, LONG_TAG);
    assert.ok(lines.tag > 1, `the tag name breaks (${lines.tag} line)`);
    assert.equal(lines.size, 1, 'the size is on one line');
    assert.equal(lines.pushed, 1, 'the push time is on one line');
    assert.ok(lines.overflow <= 0, `the page does not scroll sideways (overflow ${lines.overflow}px)`);
    await shot(page, 'repository-long-tag');
    page.check();
    await page.close();
  });

  test('on a phone the tables collapse and nothing overflows', async () => {
    const page = await openPage({ width: 390, height: 844 });
    await signIn(page, 'root');
    await page.goto(`${server.base}/ui/r/demo/app`);
    await page.locator('tr[data-tag="v1"]').waitFor();
    const layout = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: window.innerWidth,
      row: getComputedStyle(document.querySelector('table.tags tbody tr')).display,
      label: getComputedStyle(document.querySelector('table.tags td[data-label]'), '::before').content,
    }));
    assert.ok(layout.scroll <= layout.width, `no horizontal scrolling (${layout.scroll} > ${layout.width})`);
    assert.equal(layout.row, 'block', 'rows become cards');
    assert.notEqual(layout.label, 'none', 'cells carry their column name');
    await shot(page, 'phone-repository');
    for (const where of ['/ui/r/tools/cli', `/ui/m/tools/cli:${LONG_TAG}`]) {
      await page.goto(`${server.base}${where}`);
      await page.locator(where.includes('/m/') ? '#overview' : `tr[data-tag="${LONG_TAG}"]`).waitFor();
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(wide <= 0, `${where} fits the phone with a long tag (overflow ${wide}px)`);
    }
    await shot(page, 'phone-manifest-long-tag');
    await page.goto(`${server.base}/ui/m/demo/app@${pushed.app}`);
    await page.locator('#graph li.tree-root').waitFor();
    await page.locator(`#graph li.tree-node[data-digest="${pushed.signature}"]`).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the manifest page fits the phone (overflow ${overflow}px)`);
    await shot(page, 'phone-manifest');
    page.check();
    await page.close();
  });

  test('deleting a tag asks first, shows what goes with it, and removes the tag', async () => {
    const page = await openPage();
    await signIn(page, 'root');
    await page.goto(`${server.base}/ui/r/demo/app`);
    const opener = page.locator('button[aria-label="Delete tag latest"]');
    await opener.click();
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    assert.match(await dialog.locator('h2').textContent(), /Delete tag latest\?/);
    await dialog.locator('#delete-summary', { hasText: 'latest' }).waitFor();
    await page.waitForFunction(() => !document.querySelector('#confirm-delete').disabled);
    assert.match(await dialog.locator('#delete-summary').textContent(), new RegExp(`${short(pushed.app)} stays, reachable by its digest and its other tag v1`));
    await shot(page, 'delete-dialog', { fullPage: false });

    // focus stays inside the dialog; Escape closes it and gives focus back
    for (let i = 0; i < 6; i += 1) {
      await page.keyboard.press('Tab');
      assert.ok(await page.evaluate(() => Boolean(document.activeElement.closest('dialog'))), 'Tab keeps focus in the dialog');
    }
    await page.keyboard.press('Shift+Tab');
    assert.ok(await page.evaluate(() => Boolean(document.activeElement.closest('dialog'))));
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('dialog[open]'));
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Delete tag latest');
    assert.equal(await page.locator('tr[data-tag="latest"]').count(), 1, 'nothing deleted on Escape');

    await opener.click();
    await page.waitForFunction(() => document.querySelector('#confirm-delete') && !document.querySelector('#confirm-delete').disabled);
    await page.locator('#confirm-delete').click();
    await page.waitForFunction(() => !document.querySelector('dialog[open]'));
    await page.waitForFunction(() => !document.querySelector('tr[data-tag="latest"]') && document.querySelector('tr[data-tag="v1"]'));
    const listed = await admin.json('/v2/demo/app/tags/list');
    assert.deepEqual(listed.tags, ['v1']);

    // deleting the manifest would take its tag and, at the next collection, its referrers
    await page.goto(`${server.base}/ui/m/demo/app@${pushed.app}`);
    await page.locator('#delete-manifest').click();
    await page.waitForFunction(() => document.querySelector('#confirm-delete') && !document.querySelector('#confirm-delete').disabled);
    const preview = page.locator('dialog[open] #delete-summary');
    assert.match(await preview.textContent(), /with its tag v1/);
    const names = await preview.locator('.preview-referrers .type').allTextContents();
    assert.deepEqual([...names].sort(), ['Cosign signature', 'In-toto attestation', 'SPDX SBOM (JSON)']);
    assert.equal(names[2], 'Cosign signature', 'the signature (depth 2) comes after the direct referrers');
    await page.locator('dialog[open] button', { hasText: 'Cancel' }).click();
    await page.waitForFunction(() => !document.querySelector('dialog[open]'));

    // deleting a manifest by digest: the signature of tools/cli:2.1
    await page.goto(`${server.base}/ui/m/tools/cli@${pushed.notation}`);
    await page.locator('#delete-manifest').click();
    await page.waitForFunction(() => document.querySelector('#confirm-delete') && !document.querySelector('#confirm-delete').disabled);
    assert.match(await page.locator('dialog[open] #delete-summary').textContent(), /it has no tags.*Nothing refers to it/s);
    await page.locator('#confirm-delete').click();
    await page.waitForFunction(() => location.pathname === '/ui/r/tools/cli');
    await page.locator('tr[data-tag="2.1"]').waitFor();
    assert.equal(await page.locator('tr[data-tag="2.1"] .badge').count(), 0, 'no longer signed');
    const gone = await admin.request('GET', `/v2/tools/cli/manifests/${pushed.notation}`);
    assert.equal(gone.status, 404);
    page.check();
    await page.close();
  });
});
