// report.mjs — opens natadv report's pages in Debian's headless Chromium
// through playwright-core and prints what they show, for tests/e2e/report.sh
// to hold against report --json and stats --json: every number cell
// ([data-json] path and text), the marks of every chart, the authors of the
// confusion examples and the set's name as the page shows them, and whether
// any outside text ran. Saves a screenshot of the first page, 1280 px wide.
// Usage: node report.mjs NODE_DIR SCREENSHOT PAGE...   (pages as file paths)
import { launch } from './chromium.mjs';
import { pathToFileURL } from 'node:url';

const [nodeDir, shot, ...pages] = process.argv.slice(2);

const browser = await launch(nodeDir, 900);
const out = [];
try {
  const { page } = browser;
  const requests = [];
  page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url()); });
  for (const [i, file] of pages.entries()) {
    await page.goto(pathToFileURL(file).href);
    await page.waitForLoadState('load');
    const seen = await page.evaluate(() => ({
      title: document.title,
      set: document.querySelector('header .set')?.textContent ?? null,
      xss: window.__xss ?? null,
      scripts: document.querySelectorAll('script').length,
      made: document.querySelectorAll('img[src="x"], b.x, main script').length,
      charts: [...document.querySelectorAll('figure.chart')].map((f) => ({
        id: f.dataset.chart,
        marks: f.querySelectorAll('svg .mark').length,
        drawn: [...f.querySelectorAll('svg .mark')].filter((m) => m.getBBox().width > 0 && m.getBBox().height > 0).length,
      })),
      numbers: [...document.querySelectorAll('[data-json]')].map((e) => [e.dataset.json, e.textContent]),
      authors: [...document.querySelectorAll('.example .author')].map((e) => e.textContent),
      thumbs: [...document.querySelectorAll('img.thumb')].filter((im) => im.complete && im.naturalWidth > 0).length,
      width: document.documentElement.scrollWidth,
    }));
    if (i === 0)
      await page.screenshot({ path: shot, fullPage: true });
    out.push(seen);
  }
  out.push({ requests });
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
