// review.mjs — drives the review page in Debian's headless Chromium through
// playwright-core: checks that outside text stays text, then accepts two
// proposals and rejects one with the keyboard, undoes the rejection, and
// saves a screenshot. tests/e2e/review_browser.sh checks the review log.
// Usage: node review.mjs URL SCREENSHOT NODE_DIR
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const [url, shot, nodeDir] = process.argv.slice(2);
const require = createRequire(path.join(nodeDir, 'package.json'));
const { chromium } = require('playwright-core');

const XSS_AUTHOR = '<img src=x onerror="window.__xss=1">Ann <b>Author</b>';
const XSS_TITLE = '<script>window.__xss=2</script>cat on a sofa';
let failures = 0;

function check(what, want, got) {
  const a = JSON.stringify(want), b = JSON.stringify(got);
  if (a !== b) {
    failures++;
    console.error(`FAIL review.mjs: ${what}: expected ${a}, got ${b}`);
  }
}

const profile = mkdtempSync(path.join(tmpdir(), 'natadv-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 1000 },
});
const errors = [];
let dialogs = 0;
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('dialog', (d) => { dialogs++; d.dismiss(); });
  const idle = () => page.waitForFunction(() => document.body.dataset.pending === '0', null, { timeout: 15000 });
  const ids = () => page.$$eval('#grid .card', (cs) => cs.map((c) => Number(c.dataset.id)));
  const focused = () => page.evaluate(() => Number(document.activeElement.dataset.id || 0));
  const press = async (key) => { await page.keyboard.press(key); await idle(); };

  await page.goto(url);
  await idle();
  check('undecided proposals by confidence', [11, 12, 13, 14, 15, 16], await ids());
  check('focus starts on the first card', 11, await focused());
  await page.waitForFunction(() => [...document.querySelectorAll('.thumb')].every((i) => i.complete && i.naturalWidth > 0),
    null, { timeout: 15000 });
  check('thumbnails are 256 px high', true,
    await page.$$eval('.thumb', (is) => is.every((i) => i.naturalHeight === 256 || i.naturalWidth === 256)));

  // Outside text is text: the author and title show literally, run nothing.
  const xss = await page.$eval('.card[data-id="12"]', (c) => c.textContent);
  check('author shown as text', true, xss.includes(XSS_AUTHOR));
  check('title shown as text', true, xss.includes(XSS_TITLE));
  check('no element made from outside text', 0,
    await page.evaluate(() => document.querySelectorAll('#grid img[src="x"], #grid script, #grid b').length));
  check('a javascript: page url is not a link', 0, await page.$$eval('.card[data-id="13"] a', (as) => as.length));
  check('an https page url is a link', 'https://example.org/hubble',
    await page.$eval('.card[data-id="11"] a.page', (a) => a.href));

  // Keyboard: accept, move, accept, reject with reason 2, undo.
  await press('a');
  check('accepted card leaves the undecided list', [12, 13, 14, 15, 16], await ids());
  check('focus moves to the next card', 12, await focused());
  await press('ArrowRight');
  check('arrow moves the focus', 13, await focused());
  await press('a');
  check('second accept', [12, 14, 15, 16], await ids());
  check('focus after the second accept', 14, await focused());
  await page.keyboard.press('r');
  check('r shows the reasons', false, await page.$eval('#reasons', (r) => r.hidden));
  await press('2');
  check('reasons hidden again', true, await page.$eval('#reasons', (r) => r.hidden));
  check('rejected card leaves the list', [12, 15, 16], await ids());
  await press('u');
  check('undo brings it back', [12, 14, 15, 16], await ids());
  check('focus on the undone card', 14, await focused());
  check('status says undone', true, (await page.textContent('#status')).startsWith('undone'));
  check('counter of accepted against the target', '2/12 accepted in 6 classes', await page.textContent('#counter'));

  await press('?');
  check('? shows the keys', true, await page.$eval('#help', (d) => d.open));
  await press('Escape');
  check('Escape closes them', false, await page.$eval('#help', (d) => d.open));

  // Filters: the accepted ones, then everything for the screenshot.
  await page.selectOption('#f-state', 'accepted');
  await idle();
  check('accepted filter', [11, 13], await ids());
  check('accepted badge', 'accepted by browser-tester', await page.$eval('.card[data-id="11"] .badge', (b) => b.textContent));
  await page.selectOption('#f-class', 'n02119022');
  await idle();
  check('class filter', [13], await ids());
  check('class counter', 'red fox: 1/2 accepted', await page.textContent('#counter'));
  await page.selectOption('#f-class', '');
  await page.selectOption('#f-state', 'all');
  await page.fill('#f-min', '0.6');
  await page.press('#f-min', 'Tab');
  await idle();
  check('confidence filter', [11, 12, 13, 14, 15], await ids());
  await page.focus('#grid .card');
  await press('Enter');
  await page.waitForFunction(() => document.getElementById('full').complete
    && document.getElementById('full').naturalWidth > 0, null, { timeout: 15000 });
  check('Enter opens the full image', 1000, await page.$eval('#full', (i) => i.naturalWidth));
  await press('Escape');
  await page.waitForFunction(() => [...document.querySelectorAll('.thumb')].every((i) => i.complete), null,
    { timeout: 15000 });
  await page.screenshot({ path: shot, fullPage: true });

  check('no script from the data ran', null, await page.evaluate(() => window.__xss ?? null));
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
check('no dialogs opened', 0, dialogs);
check('no page errors', [], errors);
console.log(`review.mjs: ${failures ? 'FAIL' : 'ok'} (${failures} failed checks)`);
process.exit(failures ? 1 : 0);
