/* gst-diode — fault-peer: one publisher or viewer pipeline in its own process
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   fault-peer pub  --relay H:P --stream S [--relay-id 0x..] [--identity F]
 *                   [--set PROP=VALUE ...] [--num-buffers N]
 *   fault-peer view --relay H:P --stream S [...] [--exit-on-eos]
 *
 * The fault tests (test-faults.c) run every publisher and viewer as one of
 * these, so that they can kill -9 a publisher, run one in another network
 * namespace (ip netns exec) or under valgrind, and still see what happens
 * inside: the process runs ONE pipeline for its whole life (a viewer that
 * recovers here recovered without a pipeline restart) and reports on stdout,
 * one line each:
 *
 *   pid N
 *   ready                          set_state(PLAYING) did not fail
 *   tick frames=N discont=D        every --tick-ms: buffers that reached the
 *                                  sink (viewer: decoded frames; publisher:
 *                                  encoded frames given to diodesink) and
 *                                  buffers diodesrc flagged DISCONT
 *   conn STATE attempt=N relay=H:P reason=R
 *                                  a "diode-connection" element message
 *   state OLD NEW                  the pipeline's own state changes
 *   error DOMAIN CODE ELEMENT: MESSAGE
 *   warning ELEMENT: MESSAGE
 *   eos
 *   stats STRUCTURE                the diode element's stats, at exit
 *   exit STATUS
 *
 * Commands on stdin, one a line: "block MS" (the viewer's sink holds the
 * streaming thread that long: diodesrc stops reading), "eos" (send EOS),
 * "stats", "quit". End of stdin (the test died) also quits, unless
 * --no-stdin (scripts), as do SIGTERM and SIGINT. Exit status: 0, 3 after an error message, 4 when the pipeline
 * did not even start.
 */
#include <gst/gst.h>
#include <glib-unix.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static GMutex out_lock;
static GMainLoop *loop;
static GstElement *pipeline, *diode;
static gint exit_status;
static gboolean exit_on_eos, no_stdin;
static gint64 block_until;      /* monotonic µs, under out_lock */
static gsize frames, disconts;  /* g_atomic_pointer_*: pointer-sized (32-bit on armel) */

static void out (const gchar * fmt, ...) G_GNUC_PRINTF (1, 2);
static void
out (const gchar * fmt, ...)
{
  va_list ap;
  gchar *s;

  va_start (ap, fmt);
  s = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  /* One line each, whatever the message holds. */
  g_strdelimit (s, "\r\n", ' ');
  g_mutex_lock (&out_lock);
  fprintf (stdout, "%s\n", s);
  fflush (stdout);
  g_mutex_unlock (&out_lock);
  g_free (s);
}

static GstPadProbeReturn
on_sink_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  gint64 until;

  g_atomic_pointer_add (&frames, 1);
  g_mutex_lock (&out_lock);
  until = block_until;
  g_mutex_unlock (&out_lock);
  /* "block MS": hold the streaming thread; nothing upstream reads. */
  while (g_get_monotonic_time () < until) {
    g_usleep (10 * 1000);
    g_mutex_lock (&out_lock);
    until = block_until;
    g_mutex_unlock (&out_lock);
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_src_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  if (buf && GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT))
    g_atomic_pointer_add (&disconts, 1);
  return GST_PAD_PROBE_OK;
}

static gboolean
on_tick (gpointer user_data)
{
  out ("tick frames=%" G_GUINT64_FORMAT " discont=%" G_GUINT64_FORMAT,
      (guint64) g_atomic_pointer_get (&frames),
      (guint64) g_atomic_pointer_get (&disconts));
  return G_SOURCE_CONTINUE;
}

static void
print_stats (void)
{
  GstStructure *s = NULL;
  gchar *str;

  g_object_get (diode, "stats", &s, NULL);
  if (!s)
    return;
  str = gst_structure_to_string (s);
  out ("stats %s", str);
  g_free (str);
  gst_structure_free (s);
}

static void
print_message (GstMessage * msg)
{
  GError *err = NULL;
  gchar *dbg = NULL;
  const GstStructure *s;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &err, &dbg);
      out ("error %s %d %s: %s | %s", g_quark_to_string (err->domain),
          err->code, GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message,
          dbg ? dbg : "");
      break;
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (msg, &err, &dbg);
      out ("warning %s: %s | %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
          err->message, dbg ? dbg : "");
      break;
    case GST_MESSAGE_EOS:
      out ("eos");
      break;
    case GST_MESSAGE_STATE_CHANGED:
      if (GST_MESSAGE_SRC (msg) == GST_OBJECT (pipeline)) {
        GstState o, n;

        gst_message_parse_state_changed (msg, &o, &n, NULL);
        out ("state %s %s", gst_element_state_get_name (o),
            gst_element_state_get_name (n));
      }
      break;
    case GST_MESSAGE_ELEMENT:
      s = gst_message_get_structure (msg);
      if (s && gst_structure_has_name (s, "diode-connection")) {
        guint attempt = 0;

        gst_structure_get_uint (s, "attempt", &attempt);
        out ("conn %s attempt=%u relay=%s reason=%s",
            gst_structure_get_string (s, "state"), attempt,
            gst_structure_get_string (s, "relay"),
            gst_structure_get_string (s, "reason"));
      }
      break;
    default:
      break;
  }
  g_clear_error (&err);
  g_free (dbg);
}

static gboolean
on_bus (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  print_message (msg);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    exit_status = 3;
    g_main_loop_quit (loop);
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS && exit_on_eos) {
    g_main_loop_quit (loop);
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_stdin (GIOChannel * ch, GIOCondition cond, gpointer user_data)
{
  gchar *line = NULL;
  GIOStatus st = g_io_channel_read_line (ch, &line, NULL, NULL, NULL);
  guint64 ms;

  if (st == G_IO_STATUS_AGAIN)
    return G_SOURCE_CONTINUE;
  if (st != G_IO_STATUS_NORMAL || !line) {
    g_main_loop_quit (loop);
    return G_SOURCE_REMOVE;
  }
  g_strstrip (line);
  if (g_str_has_prefix (line, "block ")
      && g_ascii_string_to_unsigned (line + 6, 10, 0, 600000, &ms, NULL)) {
    g_mutex_lock (&out_lock);
    block_until = g_get_monotonic_time () + (gint64) ms *1000;
    g_mutex_unlock (&out_lock);
    out ("blocking %" G_GUINT64_FORMAT " ms", ms);
  } else if (!strcmp (line, "eos")) {
    gst_element_send_event (pipeline, gst_event_new_eos ());
  } else if (!strcmp (line, "stats")) {
    print_stats ();
  } else if (!strcmp (line, "quit")) {
    g_main_loop_quit (loop);
  } else if (*line) {
    out ("unknown command '%s'", line);
  }
  g_free (line);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  gchar *relay = NULL, *relay_id = NULL, *stream = NULL, *identity = NULL;
  gchar **sets = NULL;
  gint num_buffers = -1, tick_ms = 100, i;
  GOptionEntry entries[] = {
    {"relay", 0, 0, G_OPTION_ARG_STRING, &relay, "Relay HOST:PORT", "H:P"},
    {"relay-id", 0, 0, G_OPTION_ARG_STRING, &relay_id, "Pinned relay", "0x"},
    {"stream", 0, 0, G_OPTION_ARG_STRING, &stream, "Stream name", "NAME"},
    {"identity", 0, 0, G_OPTION_ARG_FILENAME, &identity, "Key file", "FILE"},
    {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets,
        "Property of diodesink/diodesrc (repeatable)", "PROP=VALUE"},
    {"num-buffers", 0, 0, G_OPTION_ARG_INT, &num_buffers,
        "Publisher: frames to send, then EOS (default: forever)", "N"},
    {"exit-on-eos", 0, 0, G_OPTION_ARG_NONE, &exit_on_eos, "Quit at EOS",
        NULL},
    {"tick-ms", 0, 0, G_OPTION_ARG_INT, &tick_ms, "Report period", "MS"},
    {"no-stdin", 0, 0, G_OPTION_ARG_NONE, &no_stdin,
        "Take no commands: ignore stdin and its end", NULL},
    {NULL}
  };
  GOptionContext *ctx;
  GError *err = NULL;
  gboolean pub;
  gchar *desc;
  GstElement *counted;
  GstPad *pad;
  GstBus *bus;
  GIOChannel *in;
  guint tick_id;

  ctx = g_option_context_new ("pub|view - one diode pipeline for the fault "
      "tests");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err) || argc != 2
      || (strcmp (argv[1], "pub") && strcmp (argv[1], "view"))) {
    fprintf (stderr, "fault-peer: %s\n", err ? err->message :
        "say pub or view");
    return 2;
  }
  g_option_context_free (ctx);
  pub = !strcmp (argv[1], "pub");

  if (pub) {
    gchar *nb = num_buffers > 0 ? g_strdup_printf (" num-buffers=%d",
        num_buffers) : g_strdup ("");
    desc = g_strdup_printf ("videotestsrc is-live=true pattern=ball%s ! "
        "video/x-raw,width=320,height=240,framerate=30/1 ! "
        "x264enc tune=zerolatency key-int-max=30 speed-preset=ultrafast ! "
        "h264parse ! identity name=counted silent=true ! diodesink "
        "name=diode", nb);
    g_free (nb);
  } else {
    desc = g_strdup ("diodesrc name=diode ! h264parse ! avdec_h264 ! "
        "fakesink name=counted sync=false");
  }
  pipeline = gst_parse_launch (desc, &err);
  g_free (desc);
  if (!pipeline) {
    fprintf (stderr, "fault-peer: %s\n", err->message);
    return 2;
  }
  diode = gst_bin_get_by_name (GST_BIN (pipeline), "diode");
  if (relay)
    g_object_set (diode, "relay", relay, NULL);
  if (relay_id)
    g_object_set (diode, "relay-id", relay_id, NULL);
  if (stream)
    g_object_set (diode, "stream", stream, NULL);
  if (identity)
    g_object_set (diode, "identity", identity, NULL);
  for (i = 0; sets && sets[i]; i++) {
    gchar **kv = g_strsplit (sets[i], "=", 2);

    if (!kv[1]) {
      fprintf (stderr, "fault-peer: --set %s: want PROP=VALUE\n", sets[i]);
      return 2;
    }
    gst_util_set_object_arg (G_OBJECT (diode), kv[0], kv[1]);
    g_strfreev (kv);
  }

  counted = gst_bin_get_by_name (GST_BIN (pipeline), "counted");
  pad = gst_element_get_static_pad (counted, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_sink_buffer, NULL,
      NULL);
  gst_object_unref (pad);
  gst_object_unref (counted);
  pad = gst_element_get_static_pad (diode, pub ? "sink" : "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_src_buffer, NULL,
      NULL);
  gst_object_unref (pad);

  loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (pipeline);
  gst_bus_add_watch (bus, on_bus, NULL);
  in = g_io_channel_unix_new (0);
  if (!no_stdin)
    g_io_add_watch (in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, NULL);
  g_unix_signal_add (SIGTERM, on_signal, NULL);
  g_unix_signal_add (SIGINT, on_signal, NULL);
  tick_id = g_timeout_add (tick_ms, on_tick, NULL);

  out ("pid %d", (int) getpid ());
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    GstMessage *msg;

    /* Say why: the error is on the bus already. */
    while ((msg = gst_bus_pop (bus))) {
      print_message (msg);
      gst_message_unref (msg);
    }
    out ("start failed");
    exit_status = 4;
  } else {
    out ("ready");
    g_main_loop_run (loop);
  }

  on_tick (NULL);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  print_stats ();
  g_source_remove (tick_id);
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  g_io_channel_unref (in);
  gst_object_unref (diode);
  gst_object_unref (pipeline);
  g_main_loop_unref (loop);
  g_free (relay);
  g_free (relay_id);
  g_free (stream);
  g_free (identity);
  g_strfreev (sets);
  out ("exit %d", exit_status);
  gst_deinit ();
  return exit_status;
}
