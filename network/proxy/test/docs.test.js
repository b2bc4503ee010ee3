'use strict';
/**
 * GET /docs in a real headless browser: Debian's chromium driven by playwright-core (which downloads no
 * browser of its own). The page needs no Fabric: the proxy runs over the scripted stand-in.
 */
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { chromium } = require('playwright-core');
const { startApp, call } = require('./helpers');

const CHROMIUM = process.env.VMLEDGER_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

describe('/docs', () => {
  let s;
  before(async () => { s = await startApp(); });
  after(() => s.close());

  it('serves the page and only the assets it uses, without a key', async () => {
    const page = await call(s.url, '/docs', { as: 'none' });
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(page.headers.get('content-security-policy'), /default-src 'self'/);
    assert.match(await page.text(), /<script src="\/docs\/swagger-ui-bundle.js"><\/script>/);
    for (const asset of ['swagger-ui.css', 'swagger-ui-bundle.js', 'init.js']) {
      const res = await call(s.url, `/docs/${asset}`, { as: 'none' });
      assert.equal(res.status, 200, asset);
      assert.ok((await res.text()).length > 100, asset);
    }
    for (const other of ['index.html', 'package.json', '..%2Fpackage.json', 'swagger-ui-bundle.js.map']) {
      assert.equal((await call(s.url, `/docs/${other}`, { as: 'none' })).status, 404, other);
    }
  });

  it('renders every typed operation in a headless browser', async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/install installs Debian's chromium`);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage();
      const errors = [];
      page.on('pageerror', (err) => errors.push(err.message));
      page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
      const outside = [];
      page.on('request', (req) => { if (!req.url().startsWith(s.url)) outside.push(req.url()); });
      page.on('response', (res) => { if (res.status() >= 400) errors.push(`${res.status()} ${res.url()}`); });
      await page.goto(`${s.url}/docs`);
      const rendered = (p) => page.locator(`.opblock-summary-path[data-path="${p}"]`);
      await rendered('/v1/transactions/Migrate').first().waitFor({ timeout: 30000 });
      for (const p of ['/v1/transactions/Migrate', '/v1/queries/Usage', '/v1/clouds/{id}/usage', '/v1/vms/{id}/history',
        '/v1/migrations', '/channels/{channel}/chaincodes/{chaincode}/transactions/{fn}']) {
        assert.equal(await rendered(p).count(), 1, `${p} is rendered`);
      }
      assert.match(await page.locator('.opblock-summary-description').allInnerTexts().then((t) => t.join('\n')),
        /The Indication/);
      assert.deepEqual(errors, []);
      assert.deepEqual(outside, [], 'the page loads nothing from elsewhere');
    } finally {
      await browser.close();
    }
  });
});
