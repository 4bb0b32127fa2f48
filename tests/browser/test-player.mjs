// gst-diode — the player page in a real browser (issue 11, item 7)
// Copyright (C) 2026 gst-diode developers
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Starts the real diode-relay with its web side (--http 127.0.0.1:0), real
// publishers (gst-launch-1.0: videotestsrc smpte ! x264enc ! diodesink,
// audiotestsrc ! opusenc ! diodesink) and Debian's Chromium, headless,
// driven by playwright-core (never a downloaded browser), then checks what
// the page at /watch/NAME does: frames decoded, the picture on the canvas,
// a late join, refusals, share links, the API and metrics, audio.
//
//   node test-player.mjs RELAY DIODE PLUGIN_DIR [SCREENSHOT.png]
//
// Run by `meson test -C build --suite browser` through run.sh
// (tests/browser/meson.build). Exit 77 (skipped) when playwright-core is not
// installed (scripts/setup.sh runs `npm ci` here) or /usr/bin/chromium is
// missing; with DIODE_REQUIRE_BROWSER=1 (scripts/test.sh) those are failures
// (exit 1). Every case passes or fails: none skips. Prints one line per case
// and "N passed, N failed".

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [relayBin, diodeBin, pluginDir, screenshotPath] = process.argv.slice(2);
const CHROMIUM = process.env.DIODE_CHROMIUM || '/usr/bin/chromium';
// missing pieces: skipped, or a failure when the caller requires the browser
const REQUIRED = process.env.DIODE_REQUIRE_BROWSER === '1';
function missing (why) {
  console.log((REQUIRED ? 'FAIL (DIODE_REQUIRE_BROWSER=1): ' : 'SKIP: ') + why);
  process.exit(REQUIRED ? 1 : 77);
}

if (!relayBin || !diodeBin || !pluginDir) {
  console.error('usage: test-player.mjs RELAY DIODE PLUGIN_DIR [SCREENSHOT.png]');
  process.exit(2);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  missing('playwright-core is not installed in tests/browser (run scripts/setup.sh, which runs npm ci): ' + e.message);
}
if (!existsSync(CHROMIUM)) {
  missing('no ' + CHROMIUM + ' (Debian package chromium, installed by scripts/setup.sh)');
}

const tmp = mkdtempSync(join(tmpdir(), 'diode-browser-'));
const env = {
  ...process.env,
  XDG_CONFIG_HOME: join(tmp, 'config'),
  GST_PLUGIN_PATH_1_0: pluginDir,
  GST_DEBUG: process.env.GST_DEBUG || '1'
};
const children = [];
const t0 = Date.now();
const log = (...a) => console.log('[' + ((Date.now() - t0) / 1000).toFixed(1) + ' s]', ...a);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A child process whose output lines are kept (and echoed) for waits.
function start (name, cmd, args) {
  const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  p.name = name; p.lines = []; p.times = []; p.exited = null;
  const feed = (stream) => {
    let rest = '';
    stream.on('data', (d) => {
      rest += d.toString();
      let i;
      while ((i = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, i); rest = rest.slice(i + 1);
        p.lines.push(line); p.times.push(Date.now());
        if (process.env.DIODE_TEST_VERBOSE || /warn|error|critical/i.test(line)) console.log('  ' + name + ': ' + line);
      }
    });
  };
  feed(p.stdout); feed(p.stderr);
  p.on('exit', (code, sig) => { p.exited = { code, sig }; });
  children.push(p);
  return p;
}
async function waitLine (p, re, ms) {
  const end = Date.now() + ms;
  for (;;) {
    for (const l of p.lines) { const m = re.exec(l); if (m) return m; }
    if (p.exited) throw new Error(p.name + ' exited (' + JSON.stringify(p.exited) + ') before printing ' + re);
    if (Date.now() > end) throw new Error(p.name + ' did not print ' + re + ' within ' + ms + ' ms');
    await sleep(50);
  }
}
async function stopChild (p, sig = 'SIGTERM', ms = 5000) {
  if (p.exited) return;
  p.kill(sig);
  const end = Date.now() + ms;
  while (!p.exited && Date.now() < end) await sleep(50);
  if (!p.exited) p.kill('SIGKILL');
}

let relay; let browser; let http; let diodePort; let relayId;
function publish (name, stream, chain, extra = '', port = diodePort, id = relayId) {
  const desc = chain + ' ! diodesink relay=127.0.0.1:' + port + ' relay-id=' + id +
    ' stream=' + stream + ' ' + extra;
  return start(name, 'gst-launch-1.0', ['-q', '-e', ...desc.split(/\s+/).filter(Boolean)]);
}
// The same, saying (line-buffered) when it sets its pipeline to PLAYING
function publishTold (name, stream, chain) {
  const desc = chain + ' ! diodesink relay=127.0.0.1:' + diodePort + ' relay-id=' + relayId + ' stream=' + stream;
  return start(name, 'stdbuf', ['-oL', 'gst-launch-1.0', '-e', ...desc.split(/\s+/).filter(Boolean)]);
}
// format=I420: left to itself x264enc picks High 4:4:4 10-bit from videotestsrc
const VIDEO = 'videotestsrc pattern=smpte is-live=true ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! ' +
  'x264enc tune=zerolatency key-int-max=30 speed-preset=ultrafast ! h264parse';
// The same picture stamped with Unix-epoch times, as a camera stamping its
// frames with NTP time would: a non-live source offset to the wall clock at
// launch, paced to real time by clocksync (gst-launch-1.0 cannot put a
// live source's running time on the epoch). Its first frame is stamped with
// the launch time but made when the pipeline goes to PLAYING: the page's
// "behind camera" figure includes that start-up, which the test measures.
let epochLaunchMs = 0;
function videoEpoch () {
  epochLaunchMs = Date.now();
  const x = (BigInt(epochLaunchMs) * 1000000n).toString();
  return 'videotestsrc pattern=smpte timestamp-offset=' + x + ' ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! ' +
    'clocksync ts-offset=-' + x + ' ! x264enc tune=zerolatency key-int-max=30 speed-preset=ultrafast ! h264parse';
}
// Annex B H.264 (SPS/PPS in band before every keyframe) and AAC (raw, with
// codec_data) for the page's other decoding paths
const VIDEO_ANNEXB = 'videotestsrc is-live=true ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! ' +
  'x264enc tune=zerolatency key-int-max=30 speed-preset=ultrafast ! h264parse config-interval=-1 ! ' +
  'video/x-h264,stream-format=byte-stream,alignment=au';
const AAC = 'audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=48000,channels=2 ! audioconvert ! avenc_aac ! aacparse';
const AUDIO = 'audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=48000,channels=2 ! opusenc ! opusparse';

// ---- cases ----
const results = [];
async function check (name, fn) {
  const t = Date.now();
  try {
    const r = await fn();
    results.push(['PASS', name]); log('PASS ' + name + ' (' + (Date.now() - t) + ' ms)' + (r && r.note ? ': ' + r.note : ''));
  } catch (e) {
    results.push(['FAIL', name]); log('FAIL ' + name + ': ' + (e && e.stack ? e.stack : e));
  }
}
function assert (cond, msg) { if (!cond) throw new Error(msg); }

async function openPage (path) {
  const page = await browser.newPage({ viewport: { width: 800, height: 640 } });
  page.on('pageerror', (e) => log('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error' || process.env.DIODE_TEST_VERBOSE) log('console: ' + m.text()); });
  await page.goto(http + path);
  return page;
}
// window.diodePlayer as plain data (null while the page has not set it up)
const player = (page) => page.evaluate(() => (window.diodePlayer ? JSON.parse(JSON.stringify(window.diodePlayer)) : null));
async function waitPlayer (page, pred, ms, what) {
  const end = Date.now() + ms;
  let p;
  for (;;) {
    p = await player(page);
    if (p && pred(p)) return p;
    if (Date.now() > end) throw new Error(what + ' not reached within ' + ms + ' ms; player: ' + JSON.stringify(p));
    await sleep(100);
  }
}
async function httpGet (path) {
  const r = await fetch(http + path);
  return { status: r.status, type: r.headers.get('content-type') || '', text: await r.text() };
}

// SMPTE bars (videotestsrc pattern=smpte): the top two thirds hold seven
// full-intensity bars; x264 and the YUV→RGB conversion move them a little.
const BARS = [['white', [255, 255, 255]], ['yellow', [255, 255, 0]], ['cyan', [0, 255, 255]],
  ['green', [0, 255, 0]], ['magenta', [255, 0, 255]], ['red', [255, 0, 0]], ['blue', [0, 0, 255]]];
const TOLERANCE = 40;

async function main () {
  relay = start('relay', relayBin, ['--listen', '127.0.0.1:0', '--identity', join(tmp, 'relay.pem'),
    '--print-id', '-v', '--http', '127.0.0.1:0', '--http-domain', 'diode.test']);
  const id = await waitLine(relay, /^(0x[0-9a-f]{40}) (\d+)$/, 15000);
  relayId = id[1]; diodePort = id[2];
  const web = await waitLine(relay, /web side listening on (http:\/\/[^\s]+)/, 15000);
  http = web[1].replace(/\/$/, '');
  log('relay ' + relayId + ' diode port ' + diodePort + ', web ' + http);

  const cam = publishTold('pub-cam', 'cam', videoEpoch());
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...(process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : []),
      '--autoplay-policy=no-user-gesture-required', '--mute-audio',
      // NAME.diode.test is this relay (--http-domain); WebCodecs needs a
      // secure context, which plain http on a name other than localhost is not
      '--host-resolver-rules=MAP *.diode.test 127.0.0.1',
      '--unsafely-treat-insecure-origin-as-secure=' + http.replace('127.0.0.1', 'cam.diode.test')]
  });

  let page;
  await check('decode-90-percent', async () => {
    page = await openPage('/watch/cam');
    await waitPlayer(page, (p) => p.framesDecoded > 0, 20000, 'a first decoded frame');
    const a = await player(page);
    await sleep(10000);
    const b = await player(page);
    const rx = b.framesReceived - a.framesReceived; const dec = b.framesDecoded - a.framesDecoded;
    // 30 fps for 10 s: 300 frames published; 90 % of them decoded
    assert(dec >= 270, 'decoded ' + dec + ' frames in 10 s (received ' + rx + '), fewer than 270 (90 % of 300)');
    assert(dec >= 0.9 * rx, 'decoded ' + dec + ' of ' + rx + ' received frames');
    assert(b.state === 'live', 'state ' + b.state);
    assert(b.width === 320 && b.height === 240, 'resolution ' + b.width + 'x' + b.height);
    return { note: dec + ' decoded of ' + rx + ' received in 10 s, dropped ' + (b.framesDropped - a.framesDropped) +
      ', errors ' + b.errors + ', codec ' + b.codec + ', ' + b.fps + ' fps, ' + b.bitrateBps + ' bit/s, delay ' + b.delayMs + ' ms' };
  });

  await check('canvas-smpte-pixels', async () => {
    assert(page, 'no page');
    const px = await page.evaluate(() => {
      const c = document.getElementById('video');
      const g = c.getContext('2d');
      const y = Math.floor(c.height * 0.3);
      const out = [];
      for (let i = 0; i < 7; i++) {
        const x = Math.floor((i + 0.5) * c.width / 7);
        out.push(Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3)));
      }
      return { w: c.width, h: c.height, out };
    });
    assert(px.w === 320 && px.h === 240, 'canvas ' + px.w + 'x' + px.h);
    const bad = [];
    BARS.forEach(([name, want], i) => {
      const got = px.out[i];
      if (want.some((v, k) => Math.abs(v - got[k]) > TOLERANCE)) bad.push(name + ' ' + JSON.stringify(got) + ' vs ' + JSON.stringify(want));
    });
    assert(bad.length === 0, 'bars off: ' + bad.join('; '));
    return { note: px.out.map((c) => c.join(',')).join(' | ') };
  });

  await check('stats-shown', async () => {
    const t = await page.evaluate(() => ['res', 'fps', 'bitrate', 'delay', 'state', 'delay-label']
      .map((i) => { const e = document.getElementById(i); return e ? e.textContent : '(no #' + i + ')'; }));
    assert(t[0] === '320×240', 'resolution shown as ' + t[0]);
    assert(/fps$/.test(t[1]) && parseFloat(t[1]) > 10, 'frame rate shown as ' + t[1]);
    assert(/bit\/s$/.test(t[2]), 'bitrate shown as ' + t[2]);
    assert(/ms$/.test(t[3]), 'delay shown as ' + t[3]);
    assert(/live/.test(t[4]), 'state shown as ' + t[4]);
    // cam's frames carry epoch times: the wall-clock delay behind the
    // camera, labelled so; on loopback, less the publisher's start-up
    // (launch to PLAYING, when its clock starts), within 0–2000 ms
    const s = await player(page);
    assert(t[5] === 'behind camera' && s.delayKind === 'camera', 'delay labelled ' + t[5] + ' (' + s.delayKind + ')');
    const i = cam.lines.findIndex((l) => /Setting pipeline to PLAYING/.test(l));
    assert(i >= 0, 'the publisher never said it set PLAYING');
    const startup = cam.times[i] - epochLaunchMs;
    const net = s.delayMs - startup;
    assert(s.delayMs >= 0 && net >= -200 && net <= 2000, 'behind camera ' + s.delayMs + ' ms, ' + net +
      ' ms without the publisher\'s start-up of ' + startup + ' ms: not within 0–2000 ms');
    return { note: t.join(' / ') + '; ' + net + ' ms behind camera without the publisher\'s start-up of ' + startup + ' ms' };
  });

  await check('late-join-within-1s', async () => {
    // the stream has been live for > 10 s: a new page joins mid-GOP
    const joins = [];
    for (let i = 0; i < 3; i++) {
      const p2 = await openPage('/watch/cam');
      const s = await waitPlayer(p2, (p) => p.firstPaintMs !== null, 5000, 'a first picture');
      joins.push(s.firstPaintMs);
      await p2.close();
    }
    joins.sort((x, y) => x - y);
    const median = joins[1];
    assert(median <= 1000, 'first picture ' + joins.join(', ') + ' ms after navigation start (median over 1 s)');
    return { note: 'first picture at ' + joins.join(', ') + ' ms after navigation start' };
  });

  await check('domain-host-plays', async () => {
    // Host cam.diode.test (--http-domain diode.test): the player at /
    const p = await browser.newPage();
    await p.goto(http.replace('127.0.0.1', 'cam.diode.test') + '/');
    const s = await waitPlayer(p, (x) => x.framesDecoded >= 10, 10000, '10 decoded frames at cam.diode.test/');
    await p.close();
    assert(s.stream === 'cam', 'stream ' + s.stream);
    return { note: s.framesDecoded + ' frames decoded at ' + http.replace('127.0.0.1', 'cam.diode.test') + '/' };
  });

  await check('not-found-said', async () => {
    const p = await openPage('/watch/nosuch');
    const s = await waitPlayer(p, (x) => x.reason === 'not-found', 15000, 'reason not-found');
    const text = await p.textContent('#overlay');
    assert(/No stream named/.test(text), 'overlay says ' + text);
    await p.close();
    return { note: 'overlay: ' + text + ' (close ' + s.closeCode + ')' };
  });

  const priv = publish('pub-private', 'secret', VIDEO, 'access=private');
  await check('refused-says-why', async () => {
    const p = await openPage('/watch/secret');
    const s = await waitPlayer(p, (x) => x.reason === 'refused', 15000, 'reason refused');
    const text = await p.textContent('#overlay');
    assert(/share link/.test(text), 'overlay says ' + text);
    assert(s.framesReceived === 0, 'a refused page received ' + s.framesReceived + ' frames');
    await p.close();
    return { note: 'overlay: ' + text + ' (close ' + s.closeCode + ')' };
  });

  await check('malformed-link-said', async () => {
    // a t no relay would take (over 1024 characters): the relay refuses the
    // WebSocket before it opens (400). The page is served here as the relay
    // serves it without t, so that the page's side is what is tested whatever
    // the relay answers on /watch for such a t.
    const html = await httpGet('/watch/secret');
    assert(html.status === 200, '/watch/secret answered ' + html.status);
    const bad = 'd1.' + 'A'.repeat(1100) + '.' + 'B'.repeat(86);
    const p = await browser.newPage();
    p.on('pageerror', (e) => log('page error: ' + e.message));
    await p.route('**/watch/secret?t=*', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: html.text }));
    await p.goto(http + '/watch/secret?t=' + bad);
    const s = await waitPlayer(p, (x) => x.reason === 'bad-link', 15000, 'reason bad-link');
    const text = await p.textContent('#overlay');
    assert(/share link is not valid/.test(text), 'overlay says ' + text);
    await sleep(3000); // no reconnect loop: the link will not get better
    const later = await player(p);
    assert(later.connects === 1 && later.reason === 'bad-link', 'the page went on: ' + JSON.stringify(later));
    assert(later.framesReceived === 0, 'received ' + later.framesReceived + ' frames');
    await p.close();
    return { note: 'overlay: ' + text + ' (close ' + s.closeCode + ')' };
  });

  await check('share-link-and-expired-twin', async () => {
    const help = spawnSync(diodeBin, ['link', '--help'], { env, encoding: 'utf8' });
    assert(help.status === 0, '`diode link --help` failed: ' + (help.stderr || '').trim().split('\n')[0]);
    const mk = (expires) => {
      const r = spawnSync(diodeBin, ['link', 'secret', '--expires', expires, '--relay', http.replace(/^http:\/\//, '')],
        { env, encoding: 'utf8' });
      assert(r.status === 0, 'diode link --expires ' + expires + ' failed: ' + r.stderr);
      const m = /https?:\/\/\S+/.exec(r.stdout);
      assert(m, 'diode link printed no URL: ' + r.stdout);
      return m[0];
    };
    const good = mk('1h');
    const short = mk('1s');
    const p = await openPage(good.replace(/^https?:\/\/[^/]+/, ''));
    await waitPlayer(p, (x) => x.framesDecoded >= 10, 15000, '10 decoded frames with a share link');
    await sleep(2500); // the 1 s link has expired
    const q = await openPage(short.replace(/^https?:\/\/[^/]+/, ''));
    const s = await waitPlayer(q, (x) => x.reason === 'refused', 15000, 'the expired link refused');
    const text = await q.textContent('#overlay');
    assert(/expired/i.test(text), 'overlay says ' + text);
    assert(s.framesReceived === 0, 'an expired link received ' + s.framesReceived + ' frames');
    await q.close();
    // the owner revokes the good link: its page, still playing, is cut off
    const playing = await player(p);
    assert(playing.state === 'live' && playing.reason === null, 'the share link page is not playing: ' + JSON.stringify(playing));
    const rv = spawnSync(diodeBin, ['link', '--revoke', good, '--relay', http], { env, encoding: 'utf8' });
    assert(rv.status === 0, 'diode link --revoke failed: ' + rv.stderr + rv.stdout);
    const cut = await waitPlayer(p, (x) => x.reason === 'refused', 15000, 'the revoked link cut off');
    const said = await p.textContent('#overlay');
    assert(/revoked/i.test(said), 'overlay says ' + said);
    await p.close();
    return { note: 'expired: ' + text + ' revoked: ' + said + ' (close ' + cut.closeCode + ')' };
  });

  await check('api-streams-json', async () => {
    const r = await httpGet('/api/streams');
    assert(r.status === 200, 'status ' + r.status);
    const j = JSON.parse(r.text);
    assert(Array.isArray(j.streams), 'no streams array: ' + r.text.slice(0, 200));
    const c = j.streams.find((s) => s.name === 'cam');
    assert(c, 'cam not listed: ' + r.text.slice(0, 300));
    assert(!j.streams.find((s) => s.name === 'secret'), 'the private stream is listed');
    return { note: JSON.stringify(c) };
  });

  await check('metrics-prometheus', async () => {
    const r = await httpGet('/metrics');
    assert(r.status === 200, 'status ' + r.status);
    const lines = r.text.split('\n').filter((l) => l && !l.startsWith('#'));
    const re = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? [-+]?([0-9.eE+-]+|NaN|\+Inf|-Inf)( -?\d+)?$/;
    const bad = lines.filter((l) => !re.test(l));
    assert(lines.length > 0, 'no samples');
    assert(bad.length === 0, 'lines not in the text format: ' + bad.slice(0, 3).join(' | '));
    assert(lines.some((l) => l.startsWith('diode_join_seconds_bucket')), 'no diode_join_seconds histogram');
    return { note: lines.length + ' samples' };
  });

  const vp8 = publish('pub-vp8', 'vp8cam', 'videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=15/1 ! vp8enc deadline=1');
  await check('unsupported-codec-said', async () => {
    const p = await openPage('/watch/vp8cam');
    const s = await waitPlayer(p, (x) => x.reason === 'unsupported', 15000, 'reason unsupported');
    const text = await p.textContent('#overlay');
    assert(/cannot play video\/x-vp8/.test(text), 'overlay says ' + text);
    assert(s.framesDecoded === 0, 'decoded ' + s.framesDecoded);
    await p.close();
    return { note: 'overlay: ' + text };
  });
  await stopChild(vp8, 'SIGINT');

  // H.264 whose codec_data names profile 255: WebCodecs' isConfigSupported
  // says no, and the page says so
  const odd = publish('pub-odd', 'oddcam', VIDEO + ' ! capssetter caps=video/x-h264,codec_data=(buffer)01ff00ffffe100');
  await check('unsupported-profile-said', async () => {
    const p = await openPage('/watch/oddcam');
    const s = await waitPlayer(p, (x) => x.reason === 'unsupported', 15000, 'reason unsupported');
    const text = await p.textContent('#overlay');
    assert(/cannot decode avc1\.ff00ff/.test(text), 'overlay says ' + text);
    assert(s.framesDecoded === 0, 'decoded ' + s.framesDecoded);
    await p.close();
    return { note: 'overlay: ' + text };
  });
  await stopChild(odd, 'SIGINT');

  const aud = publish('pub-audio', 'cam.audio', AUDIO);
  await check('audio-opus-decoded', async () => {
    const p = await openPage('/watch/cam');
    const s = await waitPlayer(p, (x) => x.audio.framesDecoded >= 20 && x.framesDecoded >= 30, 30000, '20 decoded Opus frames');
    await sleep(1000); // the numbers under the picture are updated twice a second
    if (screenshotPath) await p.screenshot({ path: screenshotPath });
    await p.close();
    return { note: s.audio.framesDecoded + ' audio frames decoded (' + s.audio.codec + ', ' + s.audio.stream + ')' +
      (screenshotPath ? '; screenshot ' + screenshotPath : '') };
  });

  const annexb = publish('pub-annexb', 'bcam', VIDEO_ANNEXB);
  const aac = publish('pub-aac', 'bcam.audio', AAC);
  await check('annexb-h264-aac-decoded', async () => {
    const p = await openPage('/watch/bcam');
    await waitPlayer(p, (x) => x.framesDecoded > 0 && x.audio.framesDecoded > 0, 20000, 'a first Annex B picture and AAC frame');
    const a = await player(p);
    await sleep(5000);
    const b = await player(p);
    const rx = b.framesReceived - a.framesReceived; const dec = b.framesDecoded - a.framesDecoded;
    const arx = b.audio.framesReceived - a.audio.framesReceived; const adec = b.audio.framesDecoded - a.audio.framesDecoded;
    // 30 fps for 5 s: 150 frames; AAC at 48 kHz: 1024 samples a frame, ~234
    assert(dec >= 135, 'decoded ' + dec + ' Annex B frames in 5 s (received ' + rx + '), fewer than 135 (90 % of 150)');
    assert(dec >= 0.9 * rx, 'decoded ' + dec + ' of ' + rx + ' received Annex B frames');
    assert(/^avc1\./.test(b.codec), 'video codec ' + b.codec);
    assert(b.audio.codec === 'mp4a.40.2', 'audio codec ' + b.audio.codec);
    assert(adec >= 180 && adec >= 0.9 * arx, 'decoded ' + adec + ' of ' + arx + ' AAC frames in 5 s (at least 180 wanted)');
    assert(b.errors === 0 && b.audio.errors === 0, 'decoder errors ' + b.errors + ' / ' + b.audio.errors);
    // no wall clock in these timestamps: the fallback figure, labelled so
    const label = await p.textContent('#delay-label');
    assert(b.delayKind === 'jitter' && label === 'jitter', 'delay labelled ' + label + ' (' + b.delayKind + ')');
    await p.close();
    return { note: dec + ' of ' + rx + ' Annex B frames, ' + adec + ' of ' + arx + ' AAC frames decoded in 5 s; ' + b.codec + ' + ' + b.audio.codec };
  });

  await check('audio-only-no-fps', async () => {
    const p = await openPage('/watch/bcam.audio');
    const s = await waitPlayer(p, (x) => x.audio.framesDecoded >= 20, 15000, '20 decoded AAC frames');
    await sleep(1200); // the numbers under the picture are updated twice a second
    const fps = await p.textContent('#fps');
    assert(s.state === 'live', 'state ' + s.state);
    assert(fps === '–', 'an audio-only stream shows frame rate ' + fps);
    await p.close();
    return { note: s.audio.framesDecoded + ' AAC frames, frame rate shown as ' + fps };
  });
  await stopChild(annexb, 'SIGINT'); await stopChild(aac, 'SIGINT');

  await check('ended-said', async () => {
    // gst-launch -e: SIGINT sends EOS down the pipeline, diodesink sends EOS
    cam.kill('SIGINT');
    const s = await waitPlayer(page, (x) => x.state === 'ended', 15000, 'state ended');
    const text = await page.textContent('#overlay');
    assert(/ended/.test(text), 'overlay says ' + text);
    return { note: 'overlay: ' + text + ' (close ' + s.closeCode + ')' };
  });

  await check('https-wss-plays', async () => {
    // --http-cert/--http-key (an openssl certificate made here): the page
    // over https, its WebSocket over wss
    const cert = join(tmp, 'cert.pem'); const key = join(tmp, 'key.pem');
    const o = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost'], { encoding: 'utf8' });
    assert(o.status === 0, 'openssl req failed: ' + o.stderr);
    const r2 = start('relay-https', relayBin, ['--listen', '127.0.0.1:0', '--identity', join(tmp, 'relay2.pem'),
      '--print-id', '-v', '--http', '127.0.0.1:0', '--http-cert', cert, '--http-key', key]);
    const id2 = await waitLine(r2, /^(0x[0-9a-f]{40}) (\d+)$/, 15000);
    const web2 = (await waitLine(r2, /web side listening on (https:\/\/[^\s]+)/, 15000))[1].replace(/\/$/, '');
    const pub = publish('pub-tls', 'tlscam', VIDEO, '', id2[2], id2[1]);
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const p = await ctx.newPage();
    await p.goto(web2 + '/watch/tlscam');
    const s = await waitPlayer(p, (x) => x.framesDecoded >= 10, 15000, '10 decoded frames over https');
    const proto = await p.evaluate(() => location.protocol);
    await ctx.close();
    await stopChild(pub, 'SIGINT'); await stopChild(r2, 'SIGTERM');
    assert(proto === 'https:', 'page protocol ' + proto);
    return { note: s.framesDecoded + ' frames decoded at ' + web2 + '/watch/tlscam' };
  });

  await check('plays-again-after-restart', async () => {
    // the camera comes back (a new run of the same stream): the page, left
    // "ended", reconnects by itself and plays the new run
    const before = await player(page);
    const cam2 = publish('pub-cam-again', 'cam', VIDEO);
    const s = await waitPlayer(page, (x) => x.state === 'live' && x.framesDecoded >= before.framesDecoded + 30, 30000,
      'the new run playing');
    assert(s.reconnects > before.reconnects, 'no reconnect counted');
    await stopChild(cam2, 'SIGINT');
    return { note: 'reconnects ' + before.reconnects + ' -> ' + s.reconnects + ', ' + (s.framesDecoded - before.framesDecoded) + ' frames of the new run' };
  });
  await stopChild(priv, 'SIGINT'); await stopChild(aud, 'SIGINT');
}

const deadline = setTimeout(() => { log('FAIL: the whole test took over 320 s'); cleanup(1); }, 320000);
let exiting = false;
async function cleanup (code) {
  if (exiting) return; exiting = true;
  clearTimeout(deadline);
  try { if (browser) await browser.close(); } catch (e) { /* closing anyway */ }
  for (const p of children.reverse()) if (p !== relay) await stopChild(p, 'SIGINT', 3000);
  if (relay) {
    await stopChild(relay, 'SIGTERM', 5000);
    if (relay.exited && relay.exited.code !== 0) { log('FAIL relay exited with ' + JSON.stringify(relay.exited)); code = 1; }
  }
  rmSync(tmp, { recursive: true, force: true });
  process.exit(code);
}
try {
  await main();
} catch (e) {
  results.push(['FAIL', 'setup']); log('FAIL setup: ' + (e && e.stack ? e.stack : e));
}
const n = (k) => results.filter((r) => r[0] === k).length;
console.log(n('PASS') + ' passed, ' + n('FAIL') + ' failed');
await cleanup(n('FAIL') ? 1 : 0);
