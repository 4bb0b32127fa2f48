// gst-diode — join-to-first-picture in Chromium (issue 11, item 8)
// Copyright (C) 2026 gst-diode developers
// SPDX-License-Identifier: LGPL-2.1-or-later
//
//   node bench/web-join.mjs URL [JOINS]      e.g. http://127.0.0.1:8080/watch/bench 20
//
// Opens URL (the player page of a live stream) JOINS times (default 20), one
// after the other, each in a fresh browser context (empty cache, as a person
// opening a share link for the first time), in Debian's Chromium driven
// headless by tests/browser's playwright-core (never a downloaded browser;
// scripts/setup.sh runs `npm ci` there). Per join it waits until the page
// reports the first decoded frame drawn on its canvas:
// window.diodePlayer.firstPaintMs, measured by the page from its navigation
// start (performance.now(): the page open, as the browser sees it). It also
// records the wall time from the navigation request to the moment the script
// saw it (adds Playwright's polling, an upper bound).
//
// Output: one JSON line on stdout: {"joins", "ok", "failed", "first_paint_ms":
// {p50, p90, max, all}, "wall_ms": {...}, "failures": [...]}. Exit 0 if
// every join drew a picture, 1 otherwise, 2 on bad use, 77 when Chromium or
// playwright-core is missing. Every wait is bounded (JOIN_TIMEOUT_MS, 15 s
// per join).

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.DIODE_CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = Number(process.env.JOIN_TIMEOUT_MS || 15000);
const [url, joinsArg] = process.argv.slice(2);
const joins = Number(joinsArg || 20);

if (!url || !/^https?:\/\//.test(url) || !(joins >= 1 && joins <= 1000)) {
  console.error('usage: web-join.mjs URL [JOINS 1..1000]');
  process.exit(2);
}
let chromium;
try {
  const require = createRequire(join(here, '..', 'tests', 'browser', 'package.json'));
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.error('web-join: playwright-core is not installed in tests/browser (scripts/setup.sh runs npm ci there): ' + e.message);
  process.exit(77);
}
if (!existsSync(CHROMIUM)) {
  console.error('web-join: no ' + CHROMIUM + ' (Debian package chromium)');
  process.exit(77);
}

// nearest-rank percentile of a sorted array
const pct = (a, p) => a.length ? a[Math.max(1, Math.ceil(p / 100 * a.length)) - 1] : null;
const summary = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const r = (x) => x === null ? null : Math.round(x * 10) / 10;
  return { p50: r(pct(s, 50)), p90: r(pct(s, 90)), max: r(s.length ? s[s.length - 1] : null), all: a.map(r) };
};

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [...(process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : []), '--mute-audio']
});
const version = browser.version();
const paint = []; const wall = []; const failures = [];
try {
  for (let i = 0; i < joins; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const t = Date.now();
    try {
      await page.goto(url, { waitUntil: 'commit', timeout: TIMEOUT });
      await page.waitForFunction(() => window.diodePlayer && window.diodePlayer.firstPaintMs != null,
        null, { timeout: TIMEOUT, polling: 5 });
      const w = Date.now() - t;
      const p = await page.evaluate(() => window.diodePlayer.firstPaintMs);
      paint.push(p); wall.push(w);
      console.error('web-join: join ' + (i + 1) + '/' + joins + ': first picture ' + p.toFixed(0) + ' ms after page open (wall ' + w + ' ms)');
    } catch (e) {
      let state = '';
      try { state = JSON.stringify(await page.evaluate(() => window.diodePlayer && { state: window.diodePlayer.state, message: window.diodePlayer.message })); } catch (e2) { }
      failures.push('join ' + (i + 1) + ': ' + String(e.message || e).split('\n')[0] + ' ' + state);
      console.error('web-join: ' + failures[failures.length - 1]);
    }
    await ctx.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({
  url, joins, ok: paint.length, failed: failures.length,
  chromium: version,
  first_paint_ms: summary(paint), wall_ms: summary(wall), failures
}));
process.exit(failures.length ? 1 : 0);
