// review.mjs — drives the review page in Debian's headless Chromium through
// playwright-core: checks that outside text stays text, then accepts two
// proposals and rejects one with the keyboard, undoes the rejection, and
// saves a screenshot. tests/e2e/review_browser.sh checks the review log.
// Usage: node review.mjs URL SCREENSHOT NODE_DIR IDS
// IDS: the six proposal ids of tests/e2e/review/setup.sh's workspace by
// confidence (space-separated): chelsea.png (451 px wide, an https page url),
// chelsea_q90 (outside text), hubble (red fox, a javascript: page url),
// coffee_q90, coffee.png (confidence above 0.3), rocket (below).
import { checker, launch } from './chromium.mjs';

const [url, shot, nodeDir, idList] = process.argv.slice(2);
const P = idList.trim().split(/\s+/).map(Number);

const XSS_AUTHOR = '<img src=x onerror="window.__xss=1">Ann <b>Author</b>';
const XSS_TITLE = '<script>window.__xss=2</script>cat on a sofa';
const { check, end } = checker('review.mjs');

const browser = await launch(nodeDir, 1000);
const errors = [];
let dialogs = 0;
try {
  const { page } = browser;
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('dialog', (d) => { dialogs++; d.dismiss(); });
  const idle = () => page.waitForFunction(() => document.body.dataset.pending === '0', null, { timeout: 15000 });
  const ids = () => page.$$eval('#grid .card', (cs) => cs.map((c) => Number(c.dataset.id)));
  const focused = () => page.evaluate(() => Number(document.activeElement.dataset.id || 0));
  const press = async (key) => { await page.keyboard.press(key); await idle(); };

  await page.goto(url);
  await idle();
  check('undecided proposals by confidence', P, await ids());
  check('focus starts on the first card', P[0], await focused());
  await page.waitForFunction(() => [...document.querySelectorAll('.thumb')].every((i) => i.complete && i.naturalWidth > 0),
    null, { timeout: 15000 });
  check('thumbnails are 256 px high', true,
    await page.$$eval('.thumb', (is) => is.every((i) => i.naturalHeight === 256 || i.naturalWidth === 256)));

  // Outside text is text: the author and title show literally, run nothing.
  const xss = await page.$eval(`.card[data-id="${P[1]}"]`, (c) => c.textContent);
  check('author shown as text', true, xss.includes(XSS_AUTHOR));
  check('title shown as text', true, xss.includes(XSS_TITLE));
  check('no element made from outside text', 0,
    await page.evaluate(() => document.querySelectorAll('#grid img[src="x"], #grid script, #grid b').length));
  check('a javascript: page url is not a link', 0, await page.$$eval(`.card[data-id="${P[2]}"] a`, (as) => as.length));
  check('an https page url is a link', 'https://example.org/chelsea',
    await page.$eval(`.card[data-id="${P[0]}"] a.page`, (a) => a.href));

  // Keyboard: accept, move, accept, reject with reason 2, undo.
  await press('a');
  check('accepted card leaves the undecided list', P.slice(1), await ids());
  check('focus moves to the next card', P[1], await focused());
  await press('ArrowRight');
  check('arrow moves the focus', P[2], await focused());
  await press('a');
  check('second accept', [P[1], P[3], P[4], P[5]], await ids());
  check('focus after the second accept', P[3], await focused());
  await page.keyboard.press('r');
  check('r shows the reasons', false, await page.$eval('#reasons', (r) => r.hidden));
  await press('2');
  check('reasons hidden again', true, await page.$eval('#reasons', (r) => r.hidden));
  check('rejected card leaves the list', [P[1], P[4], P[5]], await ids());
  await press('u');
  check('undo brings it back', [P[1], P[3], P[4], P[5]], await ids());
  check('focus on the undone card', P[3], await focused());
  check('status says undone', true, (await page.textContent('#status')).startsWith('undone'));
  check('counter of accepted against the target', '2/12 accepted in 6 classes', await page.textContent('#counter'));

  await press('?');
  check('? shows the keys', true, await page.$eval('#help', (d) => d.open));
  await press('Escape');
  check('Escape closes them', false, await page.$eval('#help', (d) => d.open));

  // Filters: the accepted ones, then everything for the screenshot.
  await page.selectOption('#f-state', 'accepted');
  await idle();
  check('accepted filter', [P[0], P[2]], await ids());
  check('accepted badge', 'accepted by browser-tester', await page.$eval(`.card[data-id="${P[0]}"] .badge`, (b) => b.textContent));
  await page.selectOption('#f-class', 'n02119022');
  await idle();
  check('class filter', [P[2]], await ids());
  check('class counter', 'red fox: 1/2 accepted', await page.textContent('#counter'));
  await page.selectOption('#f-class', '');
  await page.selectOption('#f-state', 'all');
  await page.fill('#f-min', '0.3');
  await page.press('#f-min', 'Tab');
  await idle();
  check('confidence filter', P.slice(0, 5), await ids());
  await page.focus('#grid .card');
  await press('Enter');
  await page.waitForFunction(() => document.getElementById('full').complete
    && document.getElementById('full').naturalWidth > 0, null, { timeout: 15000 });
  check('Enter opens the full image', 451, await page.$eval('#full', (i) => i.naturalWidth));
  await press('Escape');
  await page.waitForFunction(() => [...document.querySelectorAll('.thumb')].every((i) => i.complete), null,
    { timeout: 15000 });
  await page.screenshot({ path: shot, fullPage: true });

  check('no script from the data ran', null, await page.evaluate(() => window.__xss ?? null));
} finally {
  await browser.close();
}
check('no dialogs opened', 0, dialogs);
check('no page errors', [], errors);
end();
