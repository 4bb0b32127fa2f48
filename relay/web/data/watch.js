/* gst-diode — the player page's script (issue 11)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Plays one diode stream in the browser: a WebSocket to the relay's
 * /ws/NAME carries, one binary message per frame, exactly the diode frames
 * a version-3 viewer gets after a live SUBSCRIBE (docs/protocol.md
 * sections 3, 6 and 16): SUBSCRIBE_OK, CAPS, MEDIA, EOS, ERROR. The caps
 * string says which WebCodecs decoder to configure (H.264 avc or Annex B,
 * Opus, AAC); video is drawn to a canvas as soon as it is decoded (live:
 * lowest delay), audio is played through WebAudio. The page reconnects by
 * itself with backoff and says why when it cannot play.
 *
 * Audio of a camera travels as a companion stream NAME.audio (one
 * diodesink carries one elementary stream; docs/decisions.md): it is
 * opened beside the video when /api/streams lists it, or, for a stream
 * the list does not show (protected, private), tried once per connection.
 *
 * Plain modern JavaScript, no build step, no external code; counters for
 * tests are on window.diodePlayer.
 */
'use strict';

(function () {
  /* ---- diode frames (docs/protocol.md section 3, 6) ---- */
  const T = { SUBSCRIBE_OK: 0x13, CAPS: 0x20, MEDIA: 0x21, EOS: 0x22, PING: 0x30, PONG: 0x31, ERROR: 0x7f };
  const TYPE_NAMES = { 0x13: 'SUBSCRIBE_OK', 0x20: 'CAPS', 0x21: 'MEDIA', 0x22: 'EOS', 0x30: 'PING',
    0x31: 'PONG', 0x7f: 'ERROR' };
  const F = { KEYFRAME: 1, HEADER: 2, DISCONT: 4, GAP: 8, DROPPABLE: 16, MARKER: 32, STREAMHEADER: 64 };
  const NONE = 0xffffffffffffffffn;
  const STREAM_STATES = ['live', 'live, recorded', 'recording'];
  const utf8 = new TextDecoder('utf-8', { fatal: false });

  class Reader {
    constructor (buf, off, end) { this.v = new DataView(buf); this.b = new Uint8Array(buf); this.o = off; this.end = end; }
    need (n) { if (this.o + n > this.end) throw new Error('field runs past the end of the frame'); }
    left () { return this.end - this.o; }
    u8 () { this.need(1); return this.v.getUint8(this.o++); }
    u16 () { this.need(2); const x = this.v.getUint16(this.o); this.o += 2; return x; }
    u32 () { this.need(4); const x = this.v.getUint32(this.o); this.o += 4; return x; }
    u64 () { this.need(8); const x = this.v.getBigUint64(this.o); this.o += 8; return x; }
    bytes (n) { this.need(n); const x = this.b.subarray(this.o, this.o + n); this.o += n; return x; }
    str () { return utf8.decode(this.bytes(this.u16())); }
  }

  /* One WebSocket message = one frame: 8-byte header, then the payload. */
  function parseFrame (buf) {
    if (buf.byteLength < 8) throw new Error('frame shorter than its header');
    const v = new DataView(buf);
    const type = v.getUint8(0);
    const len = v.getUint32(4);
    if (8 + len !== buf.byteLength) throw new Error('frame length ' + len + ' does not match the message');
    const r = new Reader(buf, 8, 8 + len);
    const f = { type, name: TYPE_NAMES[type] || ('0x' + type.toString(16)) };
    switch (type) {
      case T.SUBSCRIBE_OK: {
        f.stream = r.str();
        f.firstSeq = r.u64();
        const p = r.u8();
        f.publisher = p ? '0x' + hex(r.bytes(p)) : null;
        /* v3 block: absent means LIVE, start time unknown */
        f.streamState = r.left() >= 1 ? r.u8() : 0;
        f.startTime = r.left() >= 8 ? r.u64() : NONE;
        break;
      }
      case T.CAPS: f.caps = utf8.decode(r.bytes(r.u32())); break;
      case T.MEDIA:
        f.seq = r.u64(); f.pts = r.u64(); f.dts = r.u64(); f.duration = r.u64();
        r.u64(); r.u64(); /* offset, offset_end */
        f.flags = r.u32();
        f.data = r.bytes(r.left());
        break;
      case T.EOS: f.seq = r.u64(); break;
      case T.ERROR: f.code = r.u16(); f.text = r.left() >= 2 ? r.str() : ''; break;
      default: break; /* PING/PONG are not sent on the web side; others ignored */
    }
    return f;
  }

  function hex (bytes) { let s = ''; for (const x of bytes) s += x.toString(16).padStart(2, '0'); return s; }
  function unhex (s) {
    s = s.replace(/\s+/g, '');
    if (s.length % 2 || /[^0-9a-fA-F]/.test(s)) return null;
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
    return out;
  }
  const nsToUs = (t) => (t === NONE ? null : Number(t / 1000n));

  /* ---- GStreamer caps strings (gst_caps_to_string form) ----
   * "video/x-h264, stream-format=(string)avc, codec_data=(buffer)0164..., width=(int)320"
   * Only the first structure is read; values keep their text, unquoted. */
  function parseCaps (text) {
    const s = text.trim();
    let i = 0;
    const fields = {};
    const split = [];
    let depth = 0; let quote = false; let start = 0;
    for (; i < s.length; i++) {
      const c = s[i];
      if (quote) { if (c === '\\') i++; else if (c === '"') quote = false; continue; }
      if (c === '"') quote = true;
      else if (c === '{' || c === '[' || c === '<') depth++;
      else if (c === '}' || c === ']' || c === '>') depth--;
      else if (depth === 0 && (c === ',' || c === ';')) {
        split.push(s.slice(start, i));
        start = i + 1;
        if (c === ';') break;
      }
    }
    if (i >= s.length) split.push(s.slice(start));
    const media = (split.shift() || '').trim();
    for (const part of split) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      const key = part.slice(0, eq).trim();
      let val = part.slice(eq + 1).trim();
      const m = /^\(([^)]*)\)\s*(.*)$/s.exec(val);
      if (m) val = m[2];
      if (val.startsWith('"') && val.endsWith('"')) val = val.slice(1, -1).replace(/\\(.)/g, '$1');
      fields[key] = val;
    }
    return { media, fields };
  }
  const capsInt = (c, k, d) => { const n = parseInt(c.fields[k], 10); return Number.isFinite(n) ? n : d; };

  /* ---- H.264 helpers ---- */
  /* avc1.PPCCLL from profile_idc, constraint flags, level_idc */
  const avcCodec = (p, c, l) => 'avc1.' + hex([p, c, l]);

  /* NAL units of an Annex B access unit (start codes 00 00 01 / 00 00 00 01) */
  function annexBNals (d) {
    const nals = [];
    let i = 0; let start = -1;
    while (i + 2 < d.length) {
      if (d[i] === 0 && d[i + 1] === 0 && d[i + 2] === 1) {
        if (start >= 0) { let e = i; while (e > start && d[e - 1] === 0) e--; nals.push(d.subarray(start, e)); }
        i += 3; start = i;
      } else i++;
    }
    if (start >= 0 && start < d.length) nals.push(d.subarray(start));
    return nals;
  }

  /* ---- the page ---- */
  const $ = (id) => document.getElementById(id);
  const meta = document.querySelector('meta[name="diode-stream"]');
  const params = new URLSearchParams(location.search);
  let streamName = meta && meta.content ? meta.content : '';
  if (!streamName) {
    const m = /^\/watch\/([^/]+)/.exec(location.pathname);
    if (m) { try { streamName = decodeURIComponent(m[1]); } catch (e) { streamName = ''; } }
  }
  const token = params.get('t');
  /* what a share link's t looks like (docs/protocol.md 16.5): "d1."
   * base64url(payload) "." base64url(signature), at most 1024 characters.
   * Only used to explain a WebSocket the relay refused before opening (it
   * answers 400 to a malformed t): the relay alone judges a token. */
  const tokenLooksValid = token === null ||
    (token.length <= 1024 && /^d1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token));
  /* publisher timestamps this close to the browser's wall clock are taken
   * as Unix-epoch times (a camera stamping its frames with NTP time) */
  const EPOCH_WINDOW_MS = 24 * 3600 * 1000;

  const P = window.diodePlayer = {
    stream: streamName,
    state: 'connecting',        /* connecting, waiting, live, recording, ended, error */
    reason: null,               /* not-found, refused, bad-link, unsupported, ended, slow, lost, bad-frame */
    message: '',                /* what the overlay says */
    lastMessage: null,          /* last diode frame type received */
    lastError: null,            /* { code, text } of the last ERROR frame */
    streamState: null,          /* SUBSCRIBE_OK's stream_state as text */
    caps: null, codec: null, width: 0, height: 0, fps: 0, bitrateBps: 0,
    delayMs: null,              /* the figure shown under "behind camera" or "jitter" */
    delayKind: null,            /* 'camera': wall clock now − the frame's epoch timestamp
                                   (clocks assumed in sync, NTP); 'jitter': how much later
                                   than the fastest frame seen this one came; null: none */
    framesReceived: 0, framesDecoded: 0, framesDropped: 0, framesPainted: 0, errors: 0,
    bytesReceived: 0, connects: 0, reconnects: 0, closeCode: null, closeReason: '',
    firstPaintMs: null,         /* navigation start → first picture on the canvas (ms) */
    audio: { stream: null, state: 'none', codec: null, framesReceived: 0, framesDecoded: 0, bytesReceived: 0,
      framesDropped: 0, errors: 0, playing: false, message: '' }
  };
  const t0 = performance.now();

  const canvas = $('video');
  const g = canvas.getContext('2d', { alpha: false });
  $('name').textContent = streamName || '(no stream name)';
  document.title = (streamName || 'diode') + ' — diode';

  function setState (state, message, reason) {
    P.state = state;
    if (reason !== undefined) P.reason = reason;
    const badge = $('state');
    const label = state === 'live' && P.streamState === 'live, recorded' ? 'live · recorded' : state;
    badge.textContent = label;
    badge.className = 'badge state-' + (state === 'error' ? 'error' : state);
    if (message !== undefined) say(message);
  }
  function say (message) {
    P.message = message || '';
    const o = $('overlay');
    o.textContent = P.message;
    o.classList.toggle('quiet', !P.message);
  }

  /* ---- audio: WebAudio output, started on a click when autoplay is refused ---- */
  let actx = null; let nextAudioTime = 0;
  function audioContext () {
    if (!actx) {
      try { actx = new AudioContext({ latencyHint: 'interactive' }); } catch (e) { return null; }
      actx.onstatechange = updateSoundButton;
    }
    updateSoundButton();
    return actx;
  }
  function updateSoundButton () {
    const b = $('sound');
    P.audio.playing = !!actx && actx.state === 'running';
    b.hidden = !actx || actx.state === 'running' || P.audio.state === 'none';
  }
  $('sound').addEventListener('click', () => { if (actx) actx.resume().then(updateSoundButton, () => {}); });
  document.addEventListener('click', () => { if (actx && actx.state !== 'running') actx.resume().then(updateSoundButton, () => {}); });

  function playAudio (ad) {
    const ctx = audioContext();
    if (!ctx || ctx.state !== 'running') { ad.close(); return; } /* decoded, counted, not heard yet */
    const n = ad.numberOfFrames; const ch = ad.numberOfChannels;
    const buf = ctx.createBuffer(ch, n, ad.sampleRate);
    for (let c = 0; c < ch; c++) {
      const plane = new Float32Array(n);
      ad.copyTo(plane, { planeIndex: c, format: 'f32-planar' });
      buf.copyToChannel(plane, c);
    }
    ad.close();
    const now = ctx.currentTime;
    /* live: keep at most ~0.3 s queued; start again just ahead of now after a gap */
    if (nextAudioTime < now + 0.02 || nextAudioTime > now + 0.3) nextAudioTime = now + 0.05;
    const src = ctx.createBufferSource();
    src.buffer = buf; src.connect(ctx.destination); src.start(nextAudioTime);
    nextAudioTime += buf.duration;
  }

  /* ---- one WebSocket subscription (the video stream, or its audio companion) ---- */
  class Track {
    constructor (name, isCompanion) {
      this.name = name; this.companion = isCompanion;
      this.ws = null; this.backoff = 500; this.timer = 0; this.closedByUs = false;
      this.afterEos = false; this.lastSeq = -1n;
      this.reset();
    }

    reset () {
      this.kind = null; this.decoder = null; this.configured = false; this.needKey = true;
      /* after an EOS the relay replays the stream's last chunk then EOS
       * again (name grace): those are duplicates of what was shown. Else a
       * connection starts afresh (a restarted relay may number anew). */
      if (!this.afterEos) this.lastSeq = -1n;
      this.capsText = null; this.headers = []; this.unsupported = false;
      this.minOffset = Infinity; this.bytesWin = []; this.frameWin = []; this.epochTs = null;
      this.opened = false;
      this.pendingNoDesc = null; this.paced = false; this.queue = []; this.base = null;
      this.waiting = null; this.deferredClose = null; this.flushWhenReady = false; clearTimeout(this.pumpTimer);
    }

    url () {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      return proto + '//' + location.host + '/ws/' + encodeURIComponent(this.name) +
        (token ? '?t=' + encodeURIComponent(token) : '');
    }

    open () {
      clearTimeout(this.timer);
      this.closedByUs = false;
      this.closeDecoder();
      this.reset();
      if (!this.companion) { P.connects++; if (P.connects > 1) P.reconnects++; }
      let ws;
      try { ws = new WebSocket(this.url()); } catch (e) { this.fail('lost', 'Cannot open a WebSocket: ' + e.message); return; }
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      this.gotError = null;
      /* a reason shown (not found, refused...) stays until something better is known */
      ws.onopen = () => { this.opened = true; if (!this.companion && P.state === 'connecting') setState('waiting', 'Waiting for the stream…'); };
      ws.onmessage = (ev) => this.onMessage(ev.data);
      ws.onclose = (ev) => this.onClose(ev);
    }

    /* something this page cannot go on with: say it, drop the connection,
     * and let onClose reconnect */
    fail (reason, msg) {
      if (this.companion) { P.audio.state = 'error'; P.audio.message = msg; showAudio(); } else setState('error', msg, reason);
      if (this.ws) { try { this.ws.close(); } catch (e) { /* closing anyway */ } } else this.retry(this.backoff);
    }

    close () {
      this.closedByUs = true; clearTimeout(this.timer);
      if (this.ws) { try { this.ws.close(1000); } catch (e) { /* closing anyway */ } this.ws = null; }
      this.closeDecoder();
    }

    closeDecoder () {
      if (this.decoder && this.decoder.state !== 'closed') { try { this.decoder.close(); } catch (e) { /* closed */ } }
      this.decoder = null; this.configured = false;
    }

    onMessage (data) {
      if (!(data instanceof ArrayBuffer)) return;
      let f;
      try { f = parseFrame(data); } catch (e) {
        this.count('errors');
        this.fail('bad-frame', 'The relay sent a frame this page cannot read: ' + e.message);
        return;
      }
      if (!this.companion) P.lastMessage = f.name;
      switch (f.type) {
        case T.SUBSCRIBE_OK: this.onSubscribed(f); break;
        case T.CAPS: this.onCaps(f.caps); break;
        case T.MEDIA: this.onMedia(f, performance.now()); break;
        case T.EOS: this.onEos(f); break;
        case T.ERROR: this.onError(f); break;
        default: break;
      }
    }

    onSubscribed (f) {
      this.streamState = STREAM_STATES[f.streamState] || 'live';
      this.paced = f.streamState === 2; /* a finished recording arrives faster than real time */
      /* start_time (the publisher time of the keyframe this viewer lands
       * on) tells whether the publisher stamps its frames on the Unix
       * epoch; unknown (all ones): the first frame's timestamp decides */
      if (f.startTime !== NONE) this.epochTs = looksLikeEpoch(nsToUs(f.startTime));
      if (this.companion) { P.audio.state = 'subscribed'; return; }
      P.streamState = this.streamState;
      P.publisher = f.publisher;
      if (!this.afterEos) this.started();
      startCompanion();
    }

    started () {
      this.afterEos = false;
      setState(this.paced ? 'recording' : 'live', P.firstPaintMs ? '' : 'Starting…', null);
    }

    count (what, n) {
      if (this.companion) P.audio[what] += (n || 1); else P[what] += (n || 1);
    }

    /* ---- caps → decoder ---- */
    onCaps (text) {
      if (text === this.capsText) return;
      this.capsText = text;
      const caps = parseCaps(text);
      this.closeDecoder();
      this.needKey = true; this.unsupported = false; this.minOffset = Infinity;
      if (!this.companion) { P.caps = text; }
      const m = caps.media;
      if (m === 'video/x-h264') this.setupH264(caps);
      else if (m === 'audio/x-opus') this.setupAudio(caps, 'opus');
      else if (m === 'audio/mpeg' && capsInt(caps, 'mpegversion', 0) === 4) this.setupAudio(caps, 'aac');
      else this.setUnsupported(m, 'This page cannot play ' + (m || 'these') + ' streams (it plays H.264 video, Opus and AAC audio).');
    }

    setUnsupported (codec, msg) {
      this.unsupported = true;
      if (this.companion) { P.audio.state = 'unsupported'; P.audio.message = msg; showAudio(); return; }
      P.codec = codec;
      setState('error', msg, 'unsupported');
      $('codec').textContent = codec || '?';
    }

    setupH264 (caps) {
      this.kind = 'video';
      const fmt = caps.fields['stream-format'] || 'byte-stream';
      const desc = caps.fields.codec_data ? unhex(caps.fields.codec_data) : null;
      this.width = capsInt(caps, 'width', 0); this.height = capsInt(caps, 'height', 0);
      if (!this.companion) { P.width = this.width; P.height = this.height; }
      if ((fmt === 'avc' || fmt === 'avc3') && desc && desc.length >= 7 && desc[0] === 1) {
        this.annexB = false;
        this.configure({ codec: avcCodec(desc[1], desc[2], desc[3]), description: desc });
      } else if (fmt === 'byte-stream') {
        /* Annex B: configured without description from the first SPS seen
         * (in the stream headers or the first keyframe) */
        this.annexB = true;
        this.pendingNoDesc = true;
      } else {
        this.setUnsupported('h264 ' + fmt, 'This H.264 stream (stream-format ' + fmt + (desc ? '' : ' without codec_data') +
          ') cannot be decoded by this page.');
      }
    }

    setupAudio (caps, which) {
      this.kind = 'audio';
      const rate = capsInt(caps, 'rate', 48000); const ch = capsInt(caps, 'channels', which === 'opus' ? 2 : 2);
      const cfg = { sampleRate: rate, numberOfChannels: ch };
      if (which === 'opus') cfg.codec = 'opus';
      else {
        const desc = caps.fields.codec_data ? unhex(caps.fields.codec_data) : null;
        const aot = desc && desc.length ? desc[0] >> 3 : 2;
        cfg.codec = 'mp4a.40.' + aot;
        if (desc) cfg.description = desc; /* else ADTS in band */
      }
      this.configure(cfg);
    }

    configure (cfg) {
      const isVideo = this.kind === 'video';
      const Dec = isVideo ? window.VideoDecoder : window.AudioDecoder;
      if (!Dec) {
        this.setUnsupported(cfg.codec, window.isSecureContext
          ? 'This browser has no WebCodecs ' + (isVideo ? 'VideoDecoder' : 'AudioDecoder') + '.'
          : 'WebCodecs needs a secure page: open it over https (or on localhost).');
        return;
      }
      if (isVideo) { cfg.optimizeForLatency = true; if (this.width) { cfg.codedWidth = this.width; cfg.codedHeight = this.height; } }
      const capsText = this.capsText;
      this.waiting = [];
      this.configuring = Dec.isConfigSupported(cfg).then((res) => {
        if (capsText !== this.capsText) return; /* caps changed meanwhile */
        if (!res.supported) {
          this.setUnsupported(cfg.codec, 'This browser cannot decode ' + cfg.codec + '.');
          return;
        }
        const onError = (e) => {
          this.count('errors'); this.needKey = true; this.configured = false;
          if (!this.companion) say('Decoder error: ' + e.message);
          /* a new decoder at the next keyframe */
          const again = this.lastConfig;
          this.decoder = null;
          if (again) this.makeDecoder(again);
        };
        this.onDecoderError = onError;
        this.makeDecoder(cfg);
        /* caps this page could not play before, and now can */
        if (!this.companion && P.reason === 'unsupported') setState(this.paced ? 'recording' : 'live', '', null);
        const w = this.waiting || []; this.waiting = null;
        for (const [f, ts] of w) this.decode(f, ts);
        if (this.flushWhenReady) { this.flushWhenReady = false; this.ended(); }
      }, (e) => this.setUnsupported(cfg.codec, 'This browser refuses the decoder for ' + cfg.codec + ': ' + e.message));
      if (isVideo || !this.companion) { P.codec = cfg.codec; $('codec').textContent = cfg.codec; }
      if (!isVideo) { P.audio.codec = cfg.codec; showAudio(); }
    }

    makeDecoder (cfg) {
      this.lastConfig = cfg;
      const isVideo = this.kind === 'video';
      const dec = isVideo
        ? new VideoDecoder({ output: (fr) => this.onVideo(fr), error: this.onDecoderError })
        : new AudioDecoder({ output: (ad) => this.onAudio(ad), error: this.onDecoderError });
      try { dec.configure(cfg); } catch (e) { this.onDecoderError(e); return; }
      this.decoder = dec; this.configured = true; this.needKey = true;
      if (!isVideo) { P.audio.state = 'playing'; audioContext(); showAudio(); }
    }

    /* ---- media ---- */
    onMedia (f, now) {
      this.count('framesReceived');
      this.count('bytesReceived', f.data.length);
      this.bytesWin.push([now, f.data.length]);
      /* duplicates after a reconnect (same run) are dropped silently */
      if (f.seq <= this.lastSeq && !(f.flags & F.DISCONT) && !(f.flags & F.STREAMHEADER)) return;
      if (!(f.flags & F.STREAMHEADER)) {
        if (this.lastSeq >= 0n && f.seq > this.lastSeq + 1n) this.needKey = true; /* a gap */
        this.lastSeq = f.seq;
        if (this.afterEos && !this.companion) this.started(); /* a new run after the EOS */
      }
      if (f.flags & F.STREAMHEADER) { this.headers.push(f.data.slice()); return; }
      if (this.unsupported || !this.kind) { this.count('framesDropped'); return; }
      const ts = nsToUs(f.pts !== NONE ? f.pts : f.dts);
      if (ts !== null && this.epochTs === null) this.epochTs = looksLikeEpoch(ts);
      if (ts !== null && !this.companion) {
        const off = now - ts / 1000;
        if (off < this.minOffset) this.minOffset = off;
      }
      if (this.paced) { this.queue.push({ f, ts }); this.pump(); return; }
      this.decode(f, ts);
    }

    /* a finished recording: feed frames at the pace of their timestamps */
    pump () {
      clearTimeout(this.pumpTimer);
      while (this.queue.length) {
        const { f, ts } = this.queue[0];
        const now = performance.now();
        if (f.type === T.EOS) { this.queue.shift(); this.ended(); continue; }
        if (this.base === null || ts === null) this.base = { wall: now, ts: ts || 0 };
        let due = this.base.wall + (ts - this.base.ts) / 1000;
        /* a jump in the timestamps (a new run of the publisher): start the
         * clock again there instead of waiting for it */
        if (due > now + 5000 || due < now - 5000) { this.base = { wall: now, ts }; due = now; }
        if (due > now + 5) { this.pumpTimer = setTimeout(() => this.pump(), Math.min(due - now, 1000)); return; }
        this.queue.shift();
        this.decode(f, ts);
      }
      if (this.deferredClose) { const ev = this.deferredClose; this.deferredClose = null; this.onClose(ev); }
    }

    decode (f, ts) {
      const key = (f.flags & F.KEYFRAME) !== 0;
      let data = f.data;
      if (this.kind === 'video' && this.annexB && key) {
        if (this.headers.length) data = concat([...this.headers, data]);
        if (this.pendingNoDesc) {
          const sps = annexBNals(data).find((n) => (n[0] & 0x1f) === 7 && n.length >= 4);
          if (!sps) { this.count('framesDropped'); return; }
          this.pendingNoDesc = false;
          this.configure({ codec: avcCodec(sps[1], sps[2], sps[3]) });
        }
      }
      if (!this.configured || !this.decoder || this.decoder.state !== 'configured') {
        /* isConfigSupported still running: keep what comes meanwhile */
        if (this.waiting && this.waiting.length < 300) { this.waiting.push([f, ts]); return; }
        this.count('framesDropped'); return;
      }
      if (this.needKey && !key && this.kind === 'video') { this.count('framesDropped'); return; }
      /* live and the decoder far behind: drop up to the next keyframe */
      if (!this.paced && this.decoder.decodeQueueSize > 60 && this.kind === 'video') {
        this.needKey = true; this.count('framesDropped'); return;
      }
      const isVideo = this.kind === 'video';
      const init = { type: (key || !isVideo) ? 'key' : 'delta', timestamp: ts === null ? 0 : ts, data };
      const dur = nsToUs(f.duration); if (dur !== null) init.duration = dur;
      try {
        this.decoder.decode(isVideo ? new EncodedVideoChunk(init) : new EncodedAudioChunk(init));
        if (key) this.needKey = false;
      } catch (e) {
        this.count('errors'); this.count('framesDropped'); this.needKey = true;
      }
    }

    onVideo (frame) {
      const now = performance.now();
      P.framesDecoded++;
      this.frameWin.push(now);
      const w = frame.displayWidth; const h = frame.displayHeight;
      if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
      try { g.drawImage(frame, 0, 0, w, h); P.framesPainted++; } catch (e) { P.errors++; }
      P.width = w; P.height = h;
      if (this.paced || frame.timestamp === null) {
        P.delayMs = null; P.delayKind = null;
      } else if (this.epochTs) {
        /* the real delay behind the camera: its clock and ours must agree */
        P.delayMs = Math.round(Date.now() - frame.timestamp / 1000); P.delayKind = 'camera';
      } else if (Number.isFinite(this.minOffset)) {
        /* no wall clock in the timestamps: only how much later than the
         * fastest frame seen this one is shown (a steady delay shows 0) */
        P.delayMs = Math.max(0, Math.round(now - frame.timestamp / 1000 - this.minOffset)); P.delayKind = 'jitter';
      }
      frame.close();
      if (P.firstPaintMs === null) P.firstPaintMs = Math.round(now); /* since navigation start */
      if (P.message && (P.state === 'live' || P.state === 'recording')) say('');
      this.backoff = 500; /* a picture: the connection is good */
    }

    onAudio (ad) {
      P.audio.framesDecoded++;
      if (!this.companion) {
        /* a stream that is audio only */
        P.framesDecoded++;
        if (P.message && (P.state === 'live' || P.state === 'recording')) say('Audio only');
      }
      playAudio(ad);
      updateSoundButton();
    }

    onEos (f) {
      /* a paced recording ends when its last frame is due */
      if (this.paced && this.queue.length) { this.queue.push({ f, ts: null }); return; }
      this.ended();
    }

    ended () {
      /* flush what is queued so the last pictures show; a decoder takes
       * only a keyframe after a flush */
      if (this.decoder && this.decoder.state === 'configured') this.decoder.flush().catch(() => {});
      else if (this.waiting) this.flushWhenReady = true; /* still being configured: flush after */
      this.needKey = true;
      if (this.companion) { P.audio.state = 'ended'; showAudio(); return; }
      this.afterEos = true;
      setState('ended', this.paced ? 'The recording has ended.' : 'The stream has ended.', 'ended');
    }

    onError (f) {
      this.gotError = { code: f.code, text: f.text };
      if (this.companion) { P.audio.lastError = this.gotError; return; }
      P.lastError = this.gotError;
      this.explain(f.code, f.text);
    }

    explain (code, text) {
      const name = '“' + this.name + '”';
      if (code === 100) setState('error', 'No stream named ' + name + ' is on this relay (yet). Trying again…', 'not-found');
      else if (code === 102) setState('error', 'Refused: ' + (text || 'this stream needs a share link') + '.', 'refused');
      else if (code === 103) setState('error', 'The relay refuses the name ' + name + ': ' + text, 'refused');
      else if (code === 300) setState('error', 'This browser could not keep up with the stream; reconnecting…', 'slow');
      else if (code === 301) setState('error', 'The relay is shutting down; reconnecting…', 'lost');
      else setState('error', 'The relay closed the stream (' + code + (text ? ': ' + text : '') + '); reconnecting…', 'lost');
    }

    onClose (ev) {
      if (this.ws && ev.target !== this.ws) return;
      this.ws = null;
      /* refused before opening with a t that is no token: the relay
       * answered 400 (docs/protocol.md 16.2); retrying cannot help */
      if (!this.opened && !this.closedByUs && !tokenLooksValid) {
        P.closeCode = ev.code; P.closeReason = ev.reason;
        if (this.companion) { P.audio.state = 'refused'; P.audio.message = 'invalid share link'; showAudio(); return; }
        stopCompanion();
        setState('error', 'The share link is not valid (its t= part is damaged or cut short): ask its owner for a new one.',
          'bad-link');
        return;
      }
      /* a recording still being played out: its end (or the reconnect)
       * comes when the queue has drained */
      if (this.paced && this.queue.length && !this.closedByUs) { this.deferredClose = ev; return; }
      /* after an EOS the decoder finishes what it has (the next open()
       * closes it): a short stream's last frames are shown */
      if (!(this.afterEos && ev.code === 1000)) this.closeDecoder();
      if (this.closedByUs) return;
      if (this.companion) {
        /* no companion (4100), refused or gone: quietly without audio; the
         * video's next connection tries again */
        P.audio.state = ev.code === 4100 ? 'none' : (ev.code === 4102 ? 'refused' : 'lost');
        P.audio.message = ev.reason || '';
        showAudio();
        if (ev.code !== 4100 && ev.code !== 4102 && P.state !== 'ended') this.retry(2000);
        return;
      }
      P.closeCode = ev.code; P.closeReason = ev.reason;
      stopCompanion();
      let wait = this.backoff;
      if (ev.code >= 4000 && ev.code < 5000) {
        const code = ev.code - 4000;
        if (!this.gotError) { P.lastError = { code, text: ev.reason }; this.explain(code, ev.reason); }
        if (code === 102 || code === 103) wait = Math.max(wait, 15000); /* will not change soon */
      } else if (P.state === 'ended') {
        if (this.paced) return; /* a finished recording: played once, nothing more comes */
        wait = Math.max(wait, 5000); /* a new run of the live stream may come */
      } else if (ev.code === 1003 || ev.code === 1002 || ev.code === 1008) {
        setState('error', 'The relay closed the connection (' + ev.code + ' ' + ev.reason + '); reconnecting…', 'lost');
      } else if (P.state !== 'error') {
        setState('connecting', 'Connection lost; reconnecting…', 'lost');
      }
      this.retry(wait);
    }

    retry (wait) {
      const jitter = wait * (0.8 + 0.4 * Math.random());
      this.backoff = Math.min(this.backoff * 2, 30000);
      if (!this.companion && P.message && P.state !== 'connecting') {
        say(P.message.replace(/\s*(Trying again|reconnecting)[^]*$/i, '') + (jitter < 1500 ? ' Trying again…' : ' Trying again in ' + Math.round(jitter / 1000) + ' s.'));
      }
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.open(), jitter);
    }

    /* frame rate and bitrate over the last two seconds */
    stats (now) {
      while (this.bytesWin.length && this.bytesWin[0][0] < now - 2000) this.bytesWin.shift();
      while (this.frameWin.length && this.frameWin[0] < now - 2000) this.frameWin.shift();
      let bytes = 0; for (const [, n] of this.bytesWin) bytes += n;
      return { bps: Math.round(bytes * 8 / 2), fps: this.frameWin.length / 2 };
    }
  }

  function looksLikeEpoch (us) { return us !== null && Math.abs(us / 1000 - Date.now()) < EPOCH_WINDOW_MS; }

  function concat (parts) {
    let n = 0; for (const p of parts) n += p.length;
    const out = new Uint8Array(n); let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }

  /* ---- the companion audio stream NAME.audio ---- */
  const video = new Track(streamName, false);
  let companion = null;
  let listed = null; /* names /api/streams lists, null when the list is not available */

  function refreshList () {
    return fetch('/api/streams', { cache: 'no-store' }).then((r) => (r.ok ? r.json() : null)).then((j) => {
      listed = j && Array.isArray(j.streams) ? new Set(j.streams.map((s) => s.name)) : null;
    }, () => { listed = null; });
  }
  function startCompanion () {
    if (companion || /\.audio$/.test(streamName)) return;
    const name = streamName + '.audio';
    refreshList().then(() => {
      if (companion || video.ws === null) return;
      /* listed: open it; the list is unavailable or does not show the main
       * stream (not public): try once; listed without it: no audio */
      const tryIt = listed === null || !listed.has(streamName) || listed.has(name);
      if (!tryIt) return;
      companion = new Track(name, true);
      P.audio.stream = name; P.audio.state = 'connecting';
      showAudio();
      companion.open();
    });
  }
  function stopCompanion () { if (companion) { companion.close(); companion = null; } }
  function showAudio () {
    const a = P.audio;
    $('audio').textContent = a.state === 'none' ? 'none' : (a.codec ? a.codec + ' · ' : '') + a.state;
    updateSoundButton();
  }
  /* a companion that appears later in the list */
  setInterval(() => { if (!companion && video.ws && (P.state === 'live' || P.state === 'recording')) startCompanion(); }, 10000);

  /* ---- the numbers under the picture ---- */
  function fmtRate (bps) {
    if (bps >= 1e6) return (bps / 1e6).toFixed(2) + ' Mbit/s';
    if (bps >= 1e3) return (bps / 1e3).toFixed(0) + ' kbit/s';
    return bps + ' bit/s';
  }
  setInterval(() => {
    const s = video.stats(performance.now());
    const a = companion ? companion.stats(performance.now()) : { bps: 0 };
    P.fps = s.fps; P.bitrateBps = s.bps + a.bps;
    $('res').textContent = P.width ? P.width + '×' + P.height : '–';
    /* an audio-only stream has no frame rate to show */
    $('fps').textContent = P.framesDecoded && video.kind !== 'audio' ? s.fps.toFixed(1) + ' fps' : '–';
    $('bitrate').textContent = P.bytesReceived ? fmtRate(P.bitrateBps) : '–';
    $('delay').textContent = P.state === 'recording' ? 'recording' : (P.delayMs === null ? '–' : P.delayMs + ' ms');
    const dl = $('delay-label');
    dl.textContent = P.delayKind === 'jitter' ? 'jitter' : 'behind camera';
    dl.title = P.delayKind === 'jitter'
      ? 'How much later than the fastest frame seen this one arrived; the stream carries no wall-clock times, so a steady delay shows 0'
      : 'Wall-clock delay behind the camera; assumes the camera and this computer have synchronized clocks (NTP)';
  }, 500);

  if (!streamName) setState('error', 'This page has no stream name: open /watch/NAME.', 'not-found');
  else video.open();
})();
