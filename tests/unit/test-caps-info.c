/* gst-diode — unit tests: reading width, height, frame rate and codec from
 * caps text without GStreamer (diode-caps-info)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The relay's stream list and /api/streams show what these return. Every
 * case is checked against GStreamer's own parser too (gst_caps_from_string
 * on the same text), so the small parser never disagrees with the real
 * one on what it claims to know.
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "diode-caps-info.h"

/* What GStreamer reads from @text, for comparison. */
static void
gst_reads (const gchar * text, gint * w, gint * h, gint * n, gint * d)
{
  GstCaps *caps = gst_caps_from_string (text);
  GstStructure *st;

  *w = *h = *n = *d = 0;
  if (!caps || gst_caps_get_size (caps) == 0) {
    if (caps)
      gst_caps_unref (caps);
    return;
  }
  st = gst_caps_get_structure (caps, 0);
  if (!gst_structure_get_int (st, "width", w))
    *w = 0;
  if (!gst_structure_get_int (st, "height", h))
    *h = 0;
  if (!gst_structure_get_fraction (st, "framerate", n, d) || *n == 0)
    *n = *d = 0;
  gst_caps_unref (caps);
}

static void
check (const gchar * text, const gchar * codec, gint w, gint h, gint n,
    gint d)
{
  DiodeCapsInfo info;
  gint gw, gh, gn, gd;

  fail_unless (diode_caps_info_parse (text, strlen (text), &info), "%s", text);
  fail_unless_equals_string (diode_caps_info_codec (&info), codec);
  fail_unless_equals_int (info.width, w);
  fail_unless_equals_int (info.height, h);
  fail_unless_equals_int (info.fps_n, n);
  fail_unless_equals_int (info.fps_d, d);
  gst_reads (text, &gw, &gh, &gn, &gd);
  fail_unless_equals_int (gw, w);
  fail_unless_equals_int (gh, h);
  fail_unless (gn == n && gd == d, "%s: GStreamer says %d/%d", text, gn, gd);
}

GST_START_TEST (test_real_caps)
{
  GstCaps *caps;
  gchar *text;

  /* what h264parse ! diodesink sends (codec_data before width) */
  check ("video/x-h264, stream-format=(string)avc, alignment=(string)au, "
      "codec_data=(buffer)0164001fffe100196764001facd9405005bb011000000300"
      "100000030320f183196001000568ebecb22c, level=(string)3.1, "
      "profile=(string)high, width=(int)1280, height=(int)720, "
      "pixel-aspect-ratio=(fraction)1/1, framerate=(fraction)30/1, "
      "interlace-mode=(string)progressive, chroma-format=(string)4:2:0, "
      "bit-depth-luma=(uint)8, bit-depth-chroma=(uint)8, parsed=(boolean)true",
      "h264", 1280, 720, 30, 1);
  check ("video/x-h265, width=(int)3840, height=(int)2160, "
      "framerate=(fraction)30000/1001", "h265", 3840, 2160, 30000, 1001);
  check ("video/x-vp8,width=320,height=240,framerate=25/1", "vp8", 320, 240,
      25, 1);
  check ("audio/x-opus, rate=(int)48000, channels=(int)2, "
      "channel-mapping-family=(int)0", "opus", 0, 0, 0, 0);
  check ("audio/mpeg, mpegversion=(int)4, stream-format=(string)raw, "
      "rate=(int)44100, channels=(int)2", "aac", 0, 0, 0, 0);
  check ("audio/mpeg, mpegversion=(int)1, layer=(int)3", "mp3", 0, 0, 0, 0);
  check ("application/x-rtp, media=(string)video", "application/x-rtp", 0, 0,
      0, 0);

  /* a round trip through GStreamer's own writer */
  caps = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "I420",
      "width", G_TYPE_INT, 640, "height", G_TYPE_INT, 480, "framerate",
      GST_TYPE_FRACTION, 15, 2, NULL);
  text = gst_caps_to_string (caps);
  check (text, "raw", 640, 480, 15, 2);
  g_free (text);
  gst_caps_unref (caps);
}

GST_END_TEST;

/* Field names inside strings, arrays and buffers are not fields; values
 * that are not one plain number (ranges, lists, other types) are unknown;
 * only the first structure counts. */
GST_START_TEST (test_tricky_caps)
{
  check ("video/x-h264, note=(string)\"x, width=(int)99, \\\"y\", "
      "width=(int)64, height=(int)48", "h264", 64, 48, 0, 0);
  check ("video/x-h264, streamheader=(buffer)< 0000, 1111 >, "
      "list={ \"width=(int)5\", \"b\" }, height=(int)2", "h264", 0, 2, 0, 0);
  check ("video/x-h264, width=(int)[ 16, 4096 ], height=(int){ 480, 720 }, "
      "framerate=(fraction)[ 0/1, 2147483647/1 ]", "h264", 0, 0, 0, 0);
  check ("video/x-raw, width=(int)320, height=(int)240; video/x-raw, "
      "width=(int)640", "raw", 320, 240, 0, 0);
  check ("video/x-raw(memory:GLMemory), width=(int)8, height=(int)9, "
      "framerate=(fraction)0/1", "raw", 8, 9, 0, 0);
  check ("video/x-raw, width=(double)320.5, height=(string)240", "raw", 0, 0,
      0, 0);
}

GST_END_TEST;

/* Garbage: no media type -> FALSE; broken text after the type -> TRUE
 * with what came before, and never a read past @len. */
GST_START_TEST (test_bad_caps)
{
  DiodeCapsInfo info;
  const gchar *trunc = "video/x-h264, width=(int)640, height=(int)480";
  static const gchar *const bad[] = {
    "", "   ", ",width=(int)3", "ANY", "EMPTY", "(memory:x)", "\"video/x\"",
  };
  gchar big[200];
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    fail_if (diode_caps_info_parse (bad[i], strlen (bad[i]), &info), "%s",
        bad[i]);
  fail_if (diode_caps_info_parse (NULL, 5, &info));
  fail_unless_equals_string (diode_caps_info_codec (&info), "");

  /* @len cuts the text: "height=(int)4" is all it may read */
  fail_unless (diode_caps_info_parse (trunc, strlen (trunc) - 2, &info));
  fail_unless_equals_int (info.width, 640);
  fail_unless_equals_int (info.height, 4);
  /* unterminated string, bracket, features */
  fail_unless (diode_caps_info_parse ("video/x-h264, a=\"x, width=(int)5", 31,
          &info));
  fail_unless_equals_int (info.width, 0);
  fail_unless (diode_caps_info_parse ("video/x-h264, width=(int)5, a=< 1, "
          "height=(int)6", 47, &info));
  fail_unless (info.width == 5 && info.height == 0);
  fail_unless (diode_caps_info_parse ("video/x-raw(memory", 18, &info));
  /* numbers: too big, negative, overflowing, empty */
  fail_unless (diode_caps_info_parse ("video/x-raw, width=(int)65536, "
          "height=(int)-1, framerate=(fraction)99999999999/1", 76, &info));
  fail_unless (info.width == 0 && info.height == 0 && info.fps_d == 0);
  fail_unless (diode_caps_info_parse ("video/x-raw, width=, height=(int)",
          33, &info));
  fail_unless (info.width == 0 && info.height == 0);
  fail_unless (diode_caps_info_parse ("video/x-raw, framerate=(fraction)30/0",
          37, &info));
  fail_unless_equals_int (info.fps_d, 0);
  /* a media type longer than what is kept */
  memset (big, 'a', sizeof (big));
  big[3] = '/';
  fail_if (diode_caps_info_parse (big, sizeof (big), &info));
  /* a NUL inside @len ends the text */
  fail_unless (diode_caps_info_parse ("video/x-raw, width=(int)7\0, "
          "height=(int)8", 40, &info));
  fail_unless (info.width == 7 && info.height == 0);
  fail_unless (diode_caps_info_framerate (&info) == 0.0);
}

GST_END_TEST;

static Suite *
caps_info_suite (void)
{
  Suite *s = suite_create ("caps-info");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_real_caps);
  tcase_add_test (tc, test_tricky_caps);
  tcase_add_test (tc, test_bad_caps);
  return s;
}

GST_CHECK_MAIN (caps_info);
