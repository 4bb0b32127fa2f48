/* gst-diode — diode-load: plain TCP readers (tcpserversink, the anchor)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each viewer reads the raw H.264 byte-stream tcpserversink writes, counts
 * bytes and scans the stream for NAL units: its "first decodable frame" is
 * the first IDR after an SPS and a PPS, and every access unit (a slice NAL,
 * type 1 or 5, whose first_mb_in_slice is 0) is one picture.
 *
 * The byte-stream carries no timestamps, so lateness is inferred from the
 * clip's known frame rate (--fps): the k-th picture a reader receives stands
 * for pts = k / fps after its first one, and lateness = arrival - that. A
 * reader fed at the publisher's pace keeps it constant; one that falls
 * behind, stalls or misses pictures sees it grow (each missing picture adds
 * one frame interval). Its smallest lateness over the run stands for
 * "delivered at once" (typically the newest picture of the keyframe burst
 * tcpserversink sends on connect), so lag behind live = lateness minus that.
 * What it cannot see: a reader held a constant distance behind live from its
 * very first picture on (tcp has no pts to tell).
 */
#define _GNU_SOURCE
#include "diode-load.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>

static void
on_picture (Viewer * v, guint type, gint64 t)
{
  gint64 late = t - (gint64) (v->pictures * (1e9 / opt.fps));

  v->pictures++;
  if (v->pictures == 1 || late < v->own_late_min)
    v->own_late_min = late;
  if (in_window) {
    v->media_win++;
    if (!v->late_seen || late > v->late_max_win) {
      v->late_max_win = late;
      v->late_seen = TRUE;
    }
  }
  if (type == 5 && v->sps && v->pps && v->t_key_ns == 0) {
    v->t_key_ns = t;
    v->key_late_ns = late;
    v->key_late_ok = TRUE;
  }
}

/* The byte after a start code (the NAL header), and for a slice the byte
 * after that: first_mb_in_slice is ue(v), 0 codes as a leading 1 bit. */
static void
nal_byte (Viewer * v, guint8 b, gint64 t)
{
  if (v->want_nal_header) {
    guint type = b & 0x1f;

    v->want_nal_header = FALSE;
    if (type == 7)
      v->sps = TRUE;
    else if (type == 8)
      v->pps = TRUE;
    else if (type == 1 || type == 5) {
      v->want_slice = TRUE;
      v->slice_type = type;
    }
  } else {
    v->want_slice = FALSE;
    if (b & 0x80)
      on_picture (v, v->slice_type, t);
  }
}

/* Annex B scan. memchr for the 0x01 of each start code: the readers of a
 * 2000-viewer run scan 1 GB/s in this one thread. */
static void
scan_h264 (Viewer * v, const guint8 * p, gsize n, gint64 t)
{
  gsize i = 0;

  while (i < n) {
    const guint8 *q;
    gsize j, k, run;

    if (v->want_nal_header || v->want_slice) {
      nal_byte (v, p[i], t);
      v->zeros = p[i] == 0;
      i++;
      continue;
    }
    q = memchr (p + i, 1, n - i);
    if (!q) {
      /* remember the zeros at the end for a start code across reads */
      for (k = n; k > i && p[k - 1] == 0; k--);
      v->zeros = k == i ? v->zeros + (guint) (n - i) : (guint) (n - k);
      return;
    }
    j = q - p;
    run = 0;
    for (k = j; k > i && p[k - 1] == 0 && run < 2; k--)
      run++;
    if (run < 2 && k == i)
      run += v->zeros;
    if (run >= 2)
      v->want_nal_header = TRUE;
    v->zeros = 0;
    i = j + 1;
  }
}

static void
tcp_read (Viewer * v)
{
  for (;;) {
    ssize_t r = read (v->fd, rbuf, RBUF_SIZE);
    if (r > 0) {
      v->bytes += r;
      scan_h264 (v, rbuf, r, now_ns ());
      continue;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    viewer_fail (v, r == 0 ? "closed by server" : "read failed");
    return;
  }
}

void
tcp_connected (Viewer * v)
{
  viewer_ready (v);
  set_events (v, EPOLLIN);
}

void
tcp_event (Viewer * v, guint32 ev)
{
  (void) ev;
  if (v->st == V_STREAMING)
    tcp_read (v);
}
