/* gst-diode example — publish frames an application makes itself
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The pipeline is
 *
 *     appsrc ! x264enc ! h264parse ! diodesink relay=HOST:PORT stream=NAME
 *
 * The program draws raw I420 frames in memory (a bar sweeping over a
 * gradient; in a real application they come from a sensor, a renderer or a
 * capture API), pushes one every 1/fps seconds as a live source does, and
 * after --count frames ends the stream with EOS and waits until diodesink
 * has sent everything to the relay. Exit status 0 once the EOS went
 * through, 1 on an error (e.g. no relay at that address).
 *
 *     cc publish-appsrc.c -o publish-appsrc \
 *        $(pkg-config --cflags --libs gstreamer-1.0 gstreamer-app-1.0)
 */

#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <string.h>

#define WIDTH 320
#define HEIGHT 240

typedef struct
{
  GMainLoop *loop;
  GstElement *pipeline;
  GstAppSrc *src;
  gint fps;
  gint count;                   /* frames to publish */
  gint pushed;
  guint timer;                  /* the frame timer's source id, 0 once gone */
  gint exit_status;
} Publisher;

/* One I420 frame: a luma gradient with a bright bar at a place that moves
 * with @n, so consecutive frames differ and the encoder has work to do. */
static GstBuffer *
draw_frame (gint n)
{
  gsize y_size = WIDTH * HEIGHT, c_size = (WIDTH / 2) * (HEIGHT / 2);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, y_size + 2 * c_size, NULL);
  GstMapInfo map;
  gint x, y, bar = (n * 4) % WIDTH;

  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (y = 0; y < HEIGHT; y++)
    for (x = 0; x < WIDTH; x++)
      map.data[y * WIDTH + x] = (x >= bar && x < bar + 16) ? 235 :
          (guint8) (16 + (x + y) * 200 / (WIDTH + HEIGHT));
  memset (map.data + y_size, 128, 2 * c_size);  /* no colour */
  gst_buffer_unmap (buf, &map);
  return buf;
}

/* Called every 1/fps seconds by the main loop: one new frame, as a camera
 * would deliver it. */
static gboolean
push_frame (gpointer user_data)
{
  Publisher *p = user_data;
  GstClock *clock = gst_element_get_clock (p->pipeline);
  GstBuffer *buf;
  GstFlowReturn ret;

  if (clock == NULL)            /* not PLAYING yet: no clock to stamp with */
    return G_SOURCE_CONTINUE;

  buf = draw_frame (p->pushed);
  /* A live source stamps each frame with the pipeline's running time at the
   * moment it was captured (clock time minus the pipeline's base time), so
   * the timestamps follow the real capture times; the duration is the
   * nominal frame time. diodesink sends both to the relay, and diodesrc
   * maps them onto each viewer's own clock. */
  GST_BUFFER_PTS (buf) = gst_clock_get_time (clock) -
      gst_element_get_base_time (p->pipeline);
  GST_BUFFER_DURATION (buf) = gst_util_uint64_scale_int (GST_SECOND, 1,
      p->fps);
  gst_object_unref (clock);

  /* appsrc takes ownership of the buffer. A non-OK return means the
   * pipeline is shutting down (FLUSHING) or failed: the bus says why. */
  ret = gst_app_src_push_buffer (p->src, buf);
  if (ret != GST_FLOW_OK) {
    p->timer = 0;
    return G_SOURCE_REMOVE;
  }

  if (++p->pushed == p->count) {
    /* No more frames: EOS travels through the encoder (which sends what it
     * still holds) to diodesink, which sends it to the relay; the EOS
     * message on the bus comes once the sink has done that. */
    gst_app_src_end_of_stream (p->src);
    p->timer = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_bus_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Publisher *p = user_data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      GError *err = NULL;
      gchar *debug = NULL;

      gst_message_parse_error (msg, &err, &debug);
      g_printerr ("error from %s: %s\n", GST_OBJECT_NAME (msg->src),
          err->message);
      if (debug)
        g_printerr ("  (%s)\n", debug);
      g_clear_error (&err);
      g_free (debug);
      p->exit_status = 1;
      g_main_loop_quit (p->loop);
      break;
    }
    case GST_MESSAGE_WARNING:{
      GError *err = NULL;

      /* Warnings do not stop publishing (e.g. record=true on a relay
       * without a store). */
      gst_message_parse_warning (msg, &err, NULL);
      g_printerr ("warning from %s: %s\n", GST_OBJECT_NAME (msg->src),
          err->message);
      g_clear_error (&err);
      break;
    }
    case GST_MESSAGE_EOS:
      g_print ("eos: %d frames published\n", p->pushed);
      g_main_loop_quit (p->loop);
      break;
    case GST_MESSAGE_ELEMENT:{
      const GstStructure *s = gst_message_get_structure (msg);
      guint64 bytes = 0, buffers = 0;

      /* diodesink's periodic statistics (docs/stats.md). */
      if (gst_structure_has_name (s, "diode-stats")) {
        const GstStructure *st = NULL;

        if (gst_structure_get (s, "stats", GST_TYPE_STRUCTURE, &st, NULL)) {
          gst_structure_get_uint64 (st, "bytes-sent", &bytes);
          gst_structure_get_uint64 (st, "buffers-sent", &buffers);
          g_print ("stats buffers-sent %" G_GUINT64_FORMAT " bytes-sent %"
              G_GUINT64_FORMAT "\n", buffers, bytes);
          gst_structure_free ((GstStructure *) st);
        }
      } else if (gst_structure_has_name (s, "diode-connection")) {
        g_print ("connection %s relay %s\n",
            gst_structure_get_string (s, "state"),
            gst_structure_get_string (s, "relay"));
      }
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
  gint count = 90, fps = 30;
  GOptionEntry entries[] = {
    {"relay", 'r', 0, G_OPTION_ARG_STRING, &relay,
        "Relay, HOST[:PORT] (default 127.0.0.1:7878)", "HOST:PORT"},
    {"stream", 's', 0, G_OPTION_ARG_STRING, &stream,
        "Name to publish under (default: test)", "NAME"},
    {"relay-id", 'i', 0, G_OPTION_ARG_STRING, &relay_id,
        "Address (0x...) the relay must have", "0xADDRESS"},
    {"count", 'n', 0, G_OPTION_ARG_INT, &count,
        "Frames to publish before EOS (default 90)", "N"},
    {"fps", 'f', 0, G_OPTION_ARG_INT, &fps,
        "Frames per second (default 30)", "FPS"},
    {NULL}
  };
  GOptionContext *ctx;
  GError *err = NULL;
  Publisher p = { 0 };
  GstElement *src, *enc, *parse, *sink;
  GstCaps *caps;
  GstBus *bus;

  ctx = g_option_context_new ("- publish frames drawn in memory");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("%s\n", err->message);
    g_clear_error (&err);
    g_option_context_free (ctx);
    return 2;
  }
  g_option_context_free (ctx);
  if (count < 1 || fps < 1 || fps > 120) {
    g_printerr ("--count must be at least 1, --fps within 1..120\n");
    return 2;
  }

  p.pipeline = gst_pipeline_new ("publisher");
  src = gst_element_factory_make ("appsrc", NULL);
  enc = gst_element_factory_make ("x264enc", NULL);
  parse = gst_element_factory_make ("h264parse", NULL);
  sink = gst_element_factory_make ("diodesink", NULL);
  if (!src || !enc || !parse || !sink) {
    g_printerr ("missing element: %s\n", !src ? "appsrc" : !enc ?
        "x264enc (gstreamer1.0-plugins-ugly)" : !parse ?
        "h264parse (gstreamer1.0-plugins-bad)" :
        "diodesink (is GST_PLUGIN_PATH set?)");
    return 1;
  }

  /* What the frames are: appsrc announces these caps downstream. */
  caps = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "I420",
      "width", G_TYPE_INT, WIDTH, "height", G_TYPE_INT, HEIGHT,
      "framerate", GST_TYPE_FRACTION, fps, 1, NULL);
  /* is-live: frames come at their own pace (not as fast as downstream can
   * take them), format TIME: buffers carry timestamps. */
  g_object_set (src, "caps", caps, "is-live", TRUE, "format", GST_FORMAT_TIME,
      NULL);
  gst_caps_unref (caps);
  p.src = GST_APP_SRC (src);

  /* zerolatency: no frame reordering or lookahead, each frame leaves the
   * encoder at once. A keyframe every second: a viewer that joins starts
   * decoding within a second (the relay starts it at the latest keyframe). */
  gst_util_set_object_arg (G_OBJECT (enc), "tune", "zerolatency");
  gst_util_set_object_arg (G_OBJECT (enc), "speed-preset", "ultrafast");
  g_object_set (enc, "key-int-max", (guint) fps, "bitrate", 500, NULL);

  g_object_set (sink, "relay", relay ? relay : "127.0.0.1:7878",
      "stream", stream ? stream : "test", NULL);
  if (relay_id)
    g_object_set (sink, "relay-id", relay_id, NULL);

  gst_bin_add_many (GST_BIN (p.pipeline), src, enc, parse, sink, NULL);
  if (!gst_element_link_many (src, enc, parse, sink, NULL)) {
    g_printerr ("cannot link the pipeline\n");
    return 1;
  }

  p.loop = g_main_loop_new (NULL, FALSE);
  p.fps = fps;
  p.count = count;
  bus = gst_element_get_bus (p.pipeline);
  gst_bus_add_watch (bus, on_bus_message, &p);

  /* diodesink connects to the relay as it starts: a wrong address fails the
   * state change, with the reason on the bus. */
  if (gst_element_set_state (p.pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

    if (msg) {
      on_bus_message (bus, msg, &p);
      gst_message_unref (msg);
    } else {
      g_printerr ("the pipeline did not start\n");
    }
    p.exit_status = 1;
  } else {
    /* A camera would call push_frame() from its capture callback; here a
     * timer stands in for it. */
    p.timer = g_timeout_add (1000 / fps, push_frame, &p);
    g_main_loop_run (p.loop);
    /* Still there after an error: remove it before the pipeline goes. */
    if (p.timer)
      g_source_remove (p.timer);
  }

  gst_element_set_state (p.pipeline, GST_STATE_NULL);
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  gst_object_unref (p.pipeline);
  g_main_loop_unref (p.loop);
  g_free (relay);
  g_free (stream);
  g_free (relay_id);
  return p.exit_status;
}
