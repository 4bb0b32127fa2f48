/* gst-diode example — watch a stream with diodesrc and look at every frame
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The pipeline is
 *
 *     diodesrc relay=HOST:PORT stream=NAME ! appsink
 *
 * and the program prints one line per frame the relay sends (still
 * encoded: no decoder is needed to look at timestamps, sizes and flags):
 *
 *     frame 1 pts 0:00:00.125000000 dts 0:00:00.125000000 dur 0:00:00.033333333 size 4513 key
 *
 * It stops after --count frames, at the publisher's EOS, or at an error
 * (exit status 1). Build it on its own with
 *
 *     cc viewer-appsink.c -o viewer-appsink \
 *        $(pkg-config --cflags --libs gstreamer-1.0 gstreamer-app-1.0)
 *
 * and run it with GST_PLUGIN_PATH pointing at the directory that holds
 * libgstdiode.so (build/gst/elements in a build tree).
 */

#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <stdio.h>

typedef struct
{
  GMainLoop *loop;
  GstElement *pipeline;
  gint count;                   /* frames wanted; 0: until EOS */
  gint frames;                  /* frames seen so far (streaming thread) */
  gint exit_status;
} Viewer;

/* appsink's "new-sample" callback. It runs on the streaming thread, once per
 * buffer, so it only prints and counts; anything that changes the pipeline's
 * state is left to the main loop. */
static GstFlowReturn
on_new_sample (GstAppSink * sink, gpointer user_data)
{
  Viewer *v = user_data;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buf;
  gint n;

  if (sample == NULL)           /* flushing or EOS */
    return GST_FLOW_FLUSHING;

  buf = gst_sample_get_buffer (sample);
  n = g_atomic_int_add (&v->frames, 1) + 1;
  if (n == 1) {
    /* diodesrc outputs exactly the caps the publisher sent. */
    gchar *caps = gst_caps_to_string (gst_sample_get_caps (sample));
    g_print ("caps %s\n", caps);
    g_free (caps);
  }
  /* PTS and DTS are on this pipeline's running time (diodesrc maps the
   * publisher's clock onto ours), the duration is the publisher's. A buffer
   * without DELTA_UNIT is a keyframe: a decoder can start there. DISCONT
   * marks the first buffer and any gap (the relay skipped frames for a slow
   * viewer, or the connection was resumed elsewhere). */
  g_print ("frame %d pts %" GST_TIME_FORMAT " dts %" GST_TIME_FORMAT
      " dur %" GST_TIME_FORMAT " size %" G_GSIZE_FORMAT " %s%s%s\n", n,
      GST_TIME_ARGS (GST_BUFFER_PTS (buf)), GST_TIME_ARGS (GST_BUFFER_DTS (buf)),
      GST_TIME_ARGS (GST_BUFFER_DURATION (buf)), gst_buffer_get_size (buf),
      GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT) ? "delta" : "key",
      GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT) ? " discont" : "",
      GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_HEADER) ? " header" : "");
  gst_sample_unref (sample);

  if (v->count > 0 && n >= v->count) {
    /* Enough: g_main_loop_quit() may be called from any thread. Returning
     * EOS stops this streaming thread from pushing more meanwhile. */
    g_main_loop_quit (v->loop);
    return GST_FLOW_EOS;
  }
  return GST_FLOW_OK;
}

/* Bus messages arrive here on the main loop (gst_bus_add_watch). */
static gboolean
on_bus_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Viewer *v = user_data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      GError *err = NULL;
      gchar *debug = NULL;

      /* diodesrc's errors say what went wrong in words ("Could not connect
       * to relay 127.0.0.1:7878: Connection refused", "Relay ...: not
       * authorized"); the debug string says where. */
      gst_message_parse_error (msg, &err, &debug);
      g_printerr ("error from %s: %s\n", GST_OBJECT_NAME (msg->src),
          err->message);
      if (debug)
        g_printerr ("  (%s)\n", debug);
      g_clear_error (&err);
      g_free (debug);
      v->exit_status = 1;
      g_main_loop_quit (v->loop);
      break;
    }
    case GST_MESSAGE_EOS:
      /* The publisher ended its stream: diodesrc turns its EOS into ours. */
      g_print ("eos after %d frames\n", g_atomic_int_get (&v->frames));
      g_main_loop_quit (v->loop);
      break;
    case GST_MESSAGE_ELEMENT:{
      /* diodesrc's connection steps: connected, reconnecting, resumed,
       * gave-up (README, "Outages"). */
      const GstStructure *s = gst_message_get_structure (msg);

      if (gst_structure_has_name (s, "diode-connection"))
        g_printerr ("connection %s relay %s\n",
            gst_structure_get_string (s, "state"),
            gst_structure_get_string (s, "relay"));
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  gchar *relay = NULL, *stream = NULL, *relay_id = NULL;
  gint count = 0;
  GOptionEntry entries[] = {
    {"relay", 'r', 0, G_OPTION_ARG_STRING, &relay,
        "Relay, HOST[:PORT] (default 127.0.0.1:7878)", "HOST:PORT"},
    {"stream", 's', 0, G_OPTION_ARG_STRING, &stream,
        "Stream to watch (default: test)", "NAME"},
    {"relay-id", 'i', 0, G_OPTION_ARG_STRING, &relay_id,
          "Address (0x...) the relay must have; without it the first one "
          "seen is trusted and remembered", "0xADDRESS"},
    {"count", 'n', 0, G_OPTION_ARG_INT, &count,
        "Stop after this many frames (default 0: at the end of the stream)",
        "N"},
    {NULL}
  };
  GOptionContext *ctx;
  GError *err = NULL;
  Viewer v = { 0 };
  GstElement *src, *sink;
  GstBus *bus;
  GstAppSinkCallbacks callbacks = { 0 };

  ctx = g_option_context_new ("- print every frame of a diode stream");
  g_option_context_add_main_entries (ctx, entries, NULL);
  /* GStreamer's own options too (--gst-debug=diodesrc:5, ...). */
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("%s\n", err->message);
    g_clear_error (&err);
    g_option_context_free (ctx);
    return 2;
  }
  g_option_context_free (ctx);

  /* Built element by element rather than with gst_parse_launch(), so a
   * missing plugin is reported by name. */
  v.pipeline = gst_pipeline_new ("viewer");
  src = gst_element_factory_make ("diodesrc", NULL);
  sink = gst_element_factory_make ("appsink", NULL);
  if (src == NULL || sink == NULL) {
    g_printerr ("missing element: %s (is GST_PLUGIN_PATH set to the "
        "directory of libgstdiode.so?)\n", src == NULL ? "diodesrc" :
        "appsink");
    return 1;
  }
  g_object_set (src, "relay", relay ? relay : "127.0.0.1:7878",
      "stream", stream ? stream : "test", NULL);
  if (relay_id)
    g_object_set (src, "relay-id", relay_id, NULL);
  /* join=keyframe: start with the relay's latest keyframe, shown at once.
   * The default (join=live) sends the frames from that keyframe up to the
   * live one before the segment's start, for a decoder to decode and drop;
   * a sink without a decoder drops them unseen, keyframe included, and the
   * application would get delta frames it cannot decode. */
  gst_util_set_object_arg (G_OBJECT (src), "join", "keyframe");
  /* sync=false: hand each frame over as it arrives instead of waiting for
   * its time on the clock; nothing is displayed, so nothing needs pacing. */
  g_object_set (sink, "sync", FALSE, NULL);
  gst_bin_add_many (GST_BIN (v.pipeline), src, sink, NULL);
  if (!gst_element_link (src, sink)) {
    g_printerr ("cannot link diodesrc to appsink\n");
    return 1;
  }

  v.loop = g_main_loop_new (NULL, FALSE);
  v.count = count;
  callbacks.new_sample = on_new_sample;
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, &v, NULL);
  bus = gst_element_get_bus (v.pipeline);
  gst_bus_add_watch (bus, on_bus_message, &v);

  /* diodesrc connects when it starts: an unreachable relay fails here, and
   * the ERROR message saying why is already on the bus. */
  if (gst_element_set_state (v.pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

    if (msg) {
      on_bus_message (bus, msg, &v);
      gst_message_unref (msg);
    } else {
      g_printerr ("the pipeline did not start\n");
    }
    v.exit_status = 1;
  } else {
    g_main_loop_run (v.loop);
  }

  /* Going to NULL closes the connection to the relay. */
  gst_element_set_state (v.pipeline, GST_STATE_NULL);
  if (v.exit_status == 0)
    g_print ("done: %d frames\n", g_atomic_int_get (&v.frames));
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  gst_object_unref (v.pipeline);
  g_main_loop_unref (v.loop);
  g_free (relay);
  g_free (stream);
  g_free (relay_id);
  return v.exit_status;
}
