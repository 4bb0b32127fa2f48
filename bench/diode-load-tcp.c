/* gst-diode — diode-load: plain TCP readers (tcpserversink, the anchor)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each viewer reads the raw H.264 byte-stream tcpserversink writes, counts
 * bytes and scans it for the first IDR NAL after an SPS and a PPS (its
 * "first decodable frame"). No frames, hence no seq accounting.
 */
#define _GNU_SOURCE
#include "diode-load.h"

#include <errno.h>
#include <unistd.h>
#include <sys/epoll.h>

/* Annex B scan: first IDR (type 5) after SPS (7) and PPS (8). */
static void
scan_h264 (Viewer * v, const guint8 * p, gsize n)
{
  gsize i;
  for (i = 0; i < n && v->t_key_ns == 0; i++) {
    guint8 b = p[i];
    if (v->want_nal_header) {
      guint t = b & 0x1f;
      v->want_nal_header = FALSE;
      if (t == 7)
        v->sps = TRUE;
      else if (t == 8)
        v->pps = TRUE;
      else if (t == 5 && v->sps && v->pps)
        v->t_key_ns = now_ns ();
    }
    if (b == 0) {
      v->zeros++;
    } else {
      if (b == 1 && v->zeros >= 2)
        v->want_nal_header = TRUE;
      v->zeros = 0;
    }
  }
}

static void
tcp_read (Viewer * v)
{
  for (;;) {
    ssize_t r = read (v->fd, rbuf, RBUF_SIZE);
    if (r > 0) {
      v->bytes += r;
      if (v->t_key_ns == 0)
        scan_h264 (v, rbuf, r);
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
