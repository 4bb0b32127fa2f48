/* gst-diode — session state machine: what its two files share
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * diode-session.c holds the session object, its receive buffer and the
 * rules for what arrives; diode-session-send.c the rules for what each
 * end may send and what sending changes. Both read and write the same
 * state, defined here. Not installed, not for callers outside
 * gst/protocol.
 */
#pragma once

#include "diode-session.h"

G_BEGIN_DECLS

struct _DiodeSession
{
  DiodeSessionEnd end;
  DiodeSessionState state;
  DiodeRole role;               /* relay end: the peer's, from HELLO;
                                   client end: its own, from sent_hello() */
  guint16 version;              /* negotiated, 0 before */
  guint16 offer_min, offer_max; /* versions in the HELLO (either end) */

  gboolean hello_done;          /* relay end: HELLO received; client: sent */
  gboolean welcome_sent;        /* relay end */
  /* A PUBLISH, SUBSCRIBE or LINK awaiting its answer (0: none). The
   * client end shows a pending SUBSCRIBE or LINK as its own state
   * (SUBSCRIBING, LINKING), a pending PUBLISH only here; the relay end
   * only here. */
  DiodeMsgType pending;

  guint64 last_seq;             /* highest MEDIA/EOS seq seen, 0 before */
  gboolean path_resume;         /* client end, version 4: a PATH was sent,
                                   so the relay may resume the stream once
                                   at a lower seq (docs/protocol.md 17.4) */
  gboolean publish_ended;       /* relay end: the publisher sent EOS */

  /* Client end, FETCHING (version 3): the CHUNK being received. Its frames
   * are counted so that CAPS/MEDIA/EOS are admitted only while some are
   * outstanding and CHUNK/FETCH_END only between chunks, and their sizes
   * are bounded by the CHUNK's bytes from each header (a receiver keeps a
   * chunk's frames until it has checked the CRC). */
  guint32 chunk_left;           /* frames still to come, 0 between chunks */
  guint32 chunk_prelude_left;   /* of which prelude frames */
  guint64 chunk_bytes_left;     /* bytes the remaining frames may take */
  guint64 chunk_first, chunk_last;  /* the CHUNK's seq range */
  guint64 fetch_last_seq;       /* highest chunk-proper MEDIA seq of this
                                   FETCH, 0 before */

  /* Receive buffer: valid bytes are buf[head..tail). Consuming a frame only
   * moves head; bytes are moved down only when room is needed, so a feed of
   * many small frames costs no memmove per frame. */
  guint8 *buf;
  gsize alloc;
  gsize head;
  gsize tail;
  gboolean have_header;         /* header at head checked; frame_len valid */
  gsize frame_len;              /* payload length of the frame at head */

  GError *error;                /* sticky; set whenever state is CLOSED */
};

/* Closes the session for good, keeping @err (taken) as its sticky error. */
G_GNUC_INTERNAL void     session_close_with (DiodeSession *s, GError *err);
/* g_set_error() with a printf format; returns FALSE */
G_GNUC_INTERNAL gboolean session_set_error  (GError **error, guint code,
                                             const gchar *format, ...)
    G_GNUC_PRINTF (3, 4);

G_END_DECLS
