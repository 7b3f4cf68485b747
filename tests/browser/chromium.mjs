// chromium.mjs — what the browser tests (review.mjs, review_ood.mjs,
// report.mjs) share: Debian's headless Chromium ($CHROMIUM, else
// /usr/bin/chromium) driven by playwright-core from NODE_DIR, in a fresh
// profile, and the checks that count failures.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// launch(NODE_DIR, HEIGHT): a browser 1280 px wide and HEIGHT high in a
// temporary profile; returns { page, close }, close() ending the browser and
// removing the profile.
export async function launch(nodeDir, height) {
  const require = createRequire(path.join(nodeDir, 'package.json'));
  const { chromium } = require('playwright-core');
  const profile = mkdtempSync(path.join(tmpdir(), 'natadv-chromium-'));
  const close = async (ctx) => {
    if (ctx)
      await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  };
  let ctx = null;
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height },
    });
    const page = ctx.pages()[0] || await ctx.newPage();
    return { page, close: () => close(ctx) };
  } catch (e) {
    await close(ctx);
    throw e;
  }
}

// checker(NAME): { check(what, want, got), end() }: check compares as JSON
// and prints "FAIL NAME: what: expected ..., got ..." on a difference; end()
// prints NAME's verdict and exits 1 if any check failed, else 0.
export function checker(name) {
  let failures = 0;
  return {
    check(what, want, got) {
      const a = JSON.stringify(want), b = JSON.stringify(got);
      if (a !== b) {
        failures++;
        console.error(`FAIL ${name}: ${what}: expected ${a}, got ${b}`);
      }
    },
    end() {
      console.log(`${name}: ${failures ? 'FAIL' : 'ok'} (${failures} failed checks)`);
      process.exit(failures ? 1 : 0);
    },
  };
}
