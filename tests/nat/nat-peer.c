/* gst-diode — one publisher or viewer of the NAT tests, as a process
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * tests/nat/nat.sh and bench/direct.sh run it inside a network namespace
 * (nsenter) and read what it prints, one fact a line, on stdout:
 *
 *   frame N SHA1              the N-th decoded frame (0-based), SHA-1 of its
 *                             visible pixels (tests/common/framesums.c)
 *   stamp KEY US BYTES        (--stamps) wall-clock µs at which an encoded
 *                             buffer entered diodesink (publisher) or left
 *                             diodesrc (viewer), and its size; KEY: the
 *                             first 16 hex digits of the SHA-1 of its bytes
 *   path US PATH pair=L-R from=SEQ reason=TEXT
 *                             a diode-path element message (PATH relay or
 *                             direct, the ICE pair's local and remote
 *                             candidate types), with the wall-clock µs at
 *                             which it was read
 *   stats STRUCTURE           a diode-stats element message
 *   final-stats STRUCTURE     the element's stats property at the end
 *   started US                wall-clock µs when the pipeline was set
 *                             PLAYING (the viewer subscribes then)
 *   eos frames=N              the stream ended (the viewer: EOS came from
 *                             the publisher; every frame was printed)
 *   error TEXT                a pipeline error; exit status 1
 *   missing-property P        the element has no property P (an older
 *                             plugin): exit status 77
 *
 *   nat-peer has-prop ELEMENT PROP   exit 0 when ELEMENT has property PROP
 *   nat-peer publish RELAY STREAM [options]
 *     videotestsrc is-live=true num-buffers=SECONDS*FPS ! video/x-raw,...
 *       ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=KEYINT
 *       ! h264parse ! tee ! queue ! diodesink
 *                       tee ! queue ! avdec_h264 ! ... ! appsink (--decode)
 *   nat-peer view RELAY STREAM [options]
 *     diodesrc ! h264parse ! avdec_h264 ! ... ! appsink   (or fakesink)
 *
 * Options: --prop NAME=VALUE (a property of diodesink/diodesrc, e.g.
 * direct=true, turn-server=...; repeatable), --seconds N, --fps N,
 * --size WxH, --bitrate KBIT (CBR), --keyint N, --pattern P, --no-decode,
 * --stamps, --linger S (publisher: stay that long after EOS so that direct
 * viewers drain), --timeout S (give up: exit 2).
 *
 * Both ends decode the same H.264 bytes with the same decoder, so a viewer
 * that got every frame prints exactly the publisher's checksums from the
 * frame it joined at (a keyframe) to the last.
 */
#include "framesums.h"
#include "testproc.h"

#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static GMutex out_lock;

static void G_GNUC_PRINTF (1, 2)
out (const gchar * fmt, ...)
{
  va_list ap;

  g_mutex_lock (&out_lock);
  va_start (ap, fmt);
  vfprintf (stdout, fmt, ap);
  va_end (ap);
  fputc ('\n', stdout);
  fflush (stdout);
  g_mutex_unlock (&out_lock);
}

static GstPadProbeReturn
stamp_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  gint64 now = g_get_real_time ();
  GstMapInfo map;
  gchar *sum;

  if (!buf || !gst_buffer_map (buf, &map, GST_MAP_READ))
    return GST_PAD_PROBE_OK;
  sum = g_compute_checksum_for_data (G_CHECKSUM_SHA1, map.data, map.size);
  sum[16] = '\0';
  out ("stamp %s %" G_GINT64_FORMAT " %" G_GSIZE_FORMAT, sum, now, map.size);
  gst_buffer_unmap (buf, &map);
  g_free (sum);
  return GST_PAD_PROBE_OK;
}

static void
add_stamps (GstElement * pipeline, const gchar * element, const gchar * pad)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), element);
  GstPad *p = gst_element_get_static_pad (e, pad);

  gst_pad_add_probe (p, GST_PAD_PROBE_TYPE_BUFFER, stamp_probe, NULL, NULL);
  gst_object_unref (p);
  gst_object_unref (e);
}

static void
print_stats (const gchar * what, GstElement * e)
{
  GstStructure *s = NULL;
  gchar *text;

  g_object_get (e, "stats", &s, NULL);
  if (!s)
    return;
  text = gst_structure_to_string (s);
  out ("%s %s", what, text);
  g_free (text);
  gst_structure_free (s);
}

/* "path US PATH pair=LOCAL-REMOTE from=SEQ reason=TEXT": the message's
 * fields in a form the scripts grep without a GstStructure parser. */
static void
print_path (const GstStructure * s)
{
  const gchar *path = gst_structure_get_string (s, "path");
  const gchar *reason = gst_structure_get_string (s, "reason");
  gchar *pair = g_strdup (gst_structure_get_string (s, "pair"));
  guint64 from = 0;

  gst_structure_get_uint64 (s, "from-seq", &from);
  if (pair)
    g_strdelimit (pair, " ", '-');
  out ("path %" G_GINT64_FORMAT " %s pair=%s from=%" G_GUINT64_FORMAT
      " reason=%s", g_get_real_time (), path ? path : "?",
      pair && *pair ? pair : "none", from, reason ? reason : "");
  g_free (pair);
}

/* Print the frames the collector got since the last call. */
static void
flush_frames (Collector * col, guint * printed)
{
  g_mutex_lock (&col->lock);
  for (; *printed < col->sums->len; (*printed)++)
    out ("frame %u %s", *printed,
        (const gchar *) g_ptr_array_index (col->sums, *printed));
  g_mutex_unlock (&col->lock);
}

static void
usage (void)
{
  g_printerr ("usage: nat-peer publish|view RELAY STREAM [--prop NAME=VALUE]... "
      "[--seconds N] [--fps N] [--size WxH] [--bitrate KBIT] [--keyint N] "
      "[--pattern P] [--no-decode] [--stamps] [--linger S] [--timeout S]\n");
  exit (64);
}

int
main (int argc, char **argv)
{
  gboolean publish, decode = TRUE, stamps = FALSE, eos = FALSE;
  const gchar *relay, *stream, *size = "320x240", *pattern = "ball";
  guint seconds = 20, fps = 30, bitrate = 0, keyint = 15, linger = 3;
  guint timeout = 120, printed = 0, w = 320, h = 240;
  GPtrArray *props = g_ptr_array_new ();
  GString *desc = g_string_new (NULL);
  GstElement *elem;
  Pipe *p;
  gint64 deadline, linger_end = 0;
  gint i;

  setvbuf (stdout, NULL, _IOLBF, 0);
  gst_init (&argc, &argv);
  /* nat-peer has-prop ELEMENT PROP: exit 0 when the installed plugin's
   * ELEMENT has PROP (the scripts skip what an older plugin cannot do). */
  if (argc == 4 && !strcmp (argv[1], "has-prop")) {
    GstElement *e = gst_element_factory_make (argv[2], NULL);
    gboolean has = e && g_object_class_find_property (G_OBJECT_GET_CLASS (e),
        argv[3]);

    if (e)
      gst_object_unref (e);
    return has ? 0 : 1;
  }
  if (argc < 4)
    usage ();
  publish = !strcmp (argv[1], "publish");
  if (!publish && strcmp (argv[1], "view"))
    usage ();
  relay = argv[2];
  stream = argv[3];
  for (i = 4; i < argc; i++) {
    const gchar *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

    if (!strcmp (a, "--no-decode")) {
      decode = FALSE;
      continue;
    }
    if (!strcmp (a, "--stamps")) {
      stamps = TRUE;
      continue;
    }
    if (!v)
      usage ();
    i++;
    if (!strcmp (a, "--prop"))
      g_ptr_array_add (props, (gpointer) v);
    else if (!strcmp (a, "--seconds"))
      seconds = atoi (v);
    else if (!strcmp (a, "--fps"))
      fps = atoi (v);
    else if (!strcmp (a, "--size"))
      size = v;
    else if (!strcmp (a, "--bitrate"))
      bitrate = atoi (v);
    else if (!strcmp (a, "--keyint"))
      keyint = atoi (v);
    else if (!strcmp (a, "--pattern"))
      pattern = v;
    else if (!strcmp (a, "--linger"))
      linger = atoi (v);
    else if (!strcmp (a, "--timeout"))
      timeout = atoi (v);
    else
      usage ();
  }
  if (sscanf (size, "%ux%u", &w, &h) != 2 || !fps || !seconds || !keyint)
    usage ();

  if (publish) {
    g_string_append_printf (desc, "videotestsrc is-live=true pattern=%s "
        "num-buffers=%u ! video/x-raw,width=%u,height=%u,framerate=%u/1 ! "
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%u",
        pattern, seconds * fps, w, h, fps, keyint);
    /* CBR: with a picture that needs every bit (pattern=snow) the stream
     * really is BITRATE (the benchmark's 4 Mbit/s). */
    if (bitrate)
      g_string_append_printf (desc, " bitrate=%u pass=cbr", bitrate);
    g_string_append_printf (desc, " ! h264parse ! tee name=t ! queue ! "
        "diodesink name=diode relay=%s stream=%s", relay, stream);
    if (decode)
      g_string_append (desc, " t. ! queue ! avdec_h264 ! videoconvert ! "
          "video/x-raw,format=I420 ! appsink name=out sync=false");
  } else {
    g_string_append_printf (desc, "diodesrc name=diode relay=%s stream=%s "
        "timeout=20000", relay, stream);
    if (decode)
      g_string_append (desc, " ! h264parse ! avdec_h264 ! videoconvert ! "
          "video/x-raw,format=I420 ! appsink name=out sync=false");
    else
      g_string_append (desc, " ! fakesink sync=false");
  }

  tp_test_name = publish ? "nat-peer publish" : "nat-peer view";
  p = pipe_new (argv[1], desc->str, decode ? "out" : NULL);
  elem = gst_bin_get_by_name (GST_BIN (p->pipeline), "diode");
  for (i = 0; i < (gint) props->len; i++) {
    gchar **kv = g_strsplit (props->pdata[i], "=", 2);

    if (!kv[1])
      usage ();
    if (!g_object_class_find_property (G_OBJECT_GET_CLASS (elem), kv[0])) {
      out ("missing-property %s", kv[0]);
      return 77;
    }
    gst_util_set_object_arg (G_OBJECT (elem), kv[0], kv[1]);
    g_strfreev (kv);
  }
  if (stamps)
    add_stamps (p->pipeline, "diode", publish ? "sink" : "src");

  out ("started %" G_GINT64_FORMAT, g_get_real_time ());
  pipe_play (p);
  deadline = g_get_monotonic_time () + (gint64) timeout * G_USEC_PER_SEC;
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop (p->bus, 50 * GST_MSECOND);
    gint64 now = g_get_monotonic_time ();

    if (msg) {
      const GstStructure *s = gst_message_get_structure (msg);
      GError *err = NULL;
      gchar *dbg = NULL, *text;

      switch (GST_MESSAGE_TYPE (msg)) {
        case GST_MESSAGE_ERROR:
          gst_message_parse_error (msg, &err, &dbg);
          flush_frames (&p->col, &printed);
          out ("error %s: %s (%s)", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
              err->message, dbg ? dbg : "");
          return 1;
        case GST_MESSAGE_EOS:
          eos = TRUE;
          break;
        case GST_MESSAGE_ELEMENT:
          if (gst_structure_has_name (s, "diode-path"))
            print_path (s); else if (gst_structure_has_name (s, "diode-stats")) {
            const GstStructure *st = NULL;
            const GValue *v = gst_structure_get_value (s, "stats");

            if (v && GST_VALUE_HOLDS_STRUCTURE (v))
              st = gst_value_get_structure (v);
            text = gst_structure_to_string (st ? st : s);
            out ("stats %s", text);
            g_free (text);
          }
          break;
        default:
          break;
      }
      g_clear_error (&err);
      g_free (dbg);
      gst_message_unref (msg);
    }
    flush_frames (&p->col, &printed);
    if (eos && !linger_end) {
      out ("eos frames=%u", printed);
      /* A viewer is done at EOS; a publisher stays up while direct
       * viewers drain what it still has to send them. */
      linger_end = now + (gint64) (publish ? linger : 0) * G_USEC_PER_SEC;
    }
    if (linger_end && now >= linger_end)
      break;
    if (now > deadline) {
      print_stats ("final-stats", elem);
      out ("error timeout: no EOS within %u s (%u frames)", timeout, printed);
      return 2;
    }
  }
  print_stats ("final-stats", elem);
  gst_object_unref (elem);
  pipe_free (p);
  g_string_free (desc, TRUE);
  g_ptr_array_unref (props);
  return 0;
}
