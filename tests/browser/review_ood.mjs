// review_ood.mjs — drives the review page on ImageNet-O proposals in
// Debian's headless Chromium through playwright-core: every card shows its
// source synset and its predicted class (and no true class), then the first
// card is accepted with the keyboard. tests/e2e/review_browser_ood.sh builds
// the workspace and checks the stored review.
// Usage: node review_ood.mjs URL NODE_DIR EXPECT
// EXPECT: one line per proposal, by confidence: ID|SOURCE SYNSET|PREDICTED CLASS
// as the card must show them ('name (wnid)' and 'name (wnid) NN.N%').
import { checker, launch } from './chromium.mjs';
import { readFileSync } from 'node:fs';

const [url, nodeDir, expectFile] = process.argv.slice(2);
const want = readFileSync(expectFile, 'utf8').trim().split('\n').map((l) => {
  const [id, source, pred] = l.split('|');
  return { id: Number(id), source, pred };
});
const { check, end } = checker('review_ood.mjs');

const browser = await launch(nodeDir, 1000);
const errors = [];
try {
  const { page } = browser;
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  const idle = () => page.waitForFunction(() => document.body.dataset.pending === '0', null, { timeout: 15000 });
  const ids = () => page.$$eval('#grid .card', (cs) => cs.map((c) => Number(c.dataset.id)));
  // Each card's fields as shown: [label, value] pairs.
  const fields = () => page.$$eval('#grid .card', (cs) => cs.map((c) => [...c.querySelectorAll('.field')]
    .map((f) => [f.querySelector('.k').textContent, f.querySelector('.v').textContent])));

  await page.goto(url);
  await idle();
  check('the proposals by confidence', want.map((w) => w.id), await ids());
  const shown = await fields();
  want.forEach((w, i) => {
    const f = Object.fromEntries(shown[i] || []);
    check(`card ${w.id}: source synset`, w.source, f['source synset']);
    check(`card ${w.id}: predicted class`, w.pred, f['predicted class']);
    check(`card ${w.id}: no true class`, undefined, f['true class']);
  });
  check('the source synset comes before the predicted class', true,
    shown.every((fs) => fs.findIndex((f) => f[0] === 'source synset') + 1 === fs.findIndex((f) => f[0] === 'predicted class')));

  // Accept the first (most confident) one with the keyboard.
  await page.keyboard.press('a');
  await idle();
  check('the accepted card leaves the undecided list', want.slice(1).map((w) => w.id), await ids());
  await page.selectOption('#f-state', 'accepted');
  await idle();
  check('it is listed as accepted', [want[0].id], await ids());
  check('its badge', 'accepted by ood-tester', await page.$eval('#grid .card .badge', (b) => b.textContent));
  check('still showing its source synset', want[0].source, Object.fromEntries((await fields())[0] || [])['source synset']);
} finally {
  await browser.close();
}
check('no page errors', [], errors);
end();
